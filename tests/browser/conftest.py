"""A real browser against the live server, and the neighbourhood its stories happen in.

- Playwright's sync API drives Debian's /usr/bin/chromium; no browser is ever downloaded.
  Without Chromium the tests skip, unless LINLI_REQUIRE_BROWSER=1 (CI), where they fail.
- `story` gives each test the `world` personas (conftest.py at the root) plus a few more
  neighbours for fuller pages, served by pytest-django's `live_server` on a transactional
  database, and opens browser contexts logged in through the real log-in form.
- Screenshots go to docs/screenshots/ only when LINLI_SCREENSHOTS=1 (so CI never dirties
  the tree) and to test-artifacts/ when LINLI_ARTIFACTS is set; a failing story also leaves
  a picture of each of its pages in test-artifacts/.
"""

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django would otherwise refuse
# the ORM calls the tests make to build data and check the audit log.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
ARTIFACTS = ROOT / "test-artifacts"

DESKTOP = {"width": 1280, "height": 800}
MOBILE = {"width": 390, "height": 844}

# Staff as residents meet them: the personas' user names stay the log-in names.
DISPLAY_NAMES = {
    "grid_a": "刘伟",
    "lead_a": "陈静",
    "steward_a": "孙敏",
    "volunteer_a": "马超",
    "grid_b": "吴洋",
    "street": "赵国庆",
}


def _artifacts_enabled() -> bool:
    return bool(os.environ.get("LINLI_ARTIFACTS"))


def _screenshots_enabled() -> bool:
    return os.environ.get("LINLI_SCREENSHOTS") == "1"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the item so fixtures can tell a failed story."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the browser stories; stopped when they are done, so the event loop
    of Playwright's sync API does not outlive them."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)"
        if os.environ.get("LINLI_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Story:
    """The stage of one browser story: people, a live server, and browser contexts."""

    world: object
    base_url: str
    browser: object
    neighbours: dict = field(default_factory=dict)  # name → Person, besides world's residents
    residents: dict = field(default_factory=dict)  # community name → number of residents
    contexts: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # script errors, failed static files

    def url(self, path: str) -> str:
        return self.base_url + path

    def new_page(self, *, mobile: bool = False):
        """Opens a fresh browser (its own cookies) set to Chinese, as staff in China use."""
        options = {"locale": "zh-CN", "timezone_id": "Asia/Shanghai", "base_url": self.base_url}
        if mobile:
            options |= {
                "viewport": MOBILE,
                "device_scale_factor": 2,
                "is_mobile": True,
                "has_touch": True,
            }
        else:
            options |= {"viewport": DESKTOP}
        context = self.browser.new_context(**options)
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("console", self._console)
        page.on("response", self._response)
        return page

    def log_in(self, user, *, mobile: bool = False, screenshot=None):
        """Logs in through the real form and returns the page on the home page."""
        from playwright.sync_api import expect

        from linli.demo.factories import PASSWORD

        page = self.new_page(mobile=mobile)
        page.goto("/accounts/login/")
        if screenshot:
            screenshot(page, "login.png")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.locator("form[action='/accounts/login/'] button[type=submit]").click()
        expect(page).to_have_url(self.url("/"))
        expect(page.locator("header .who")).to_contain_text(str(user))
        return page

    def assert_no_problems(self) -> None:
        """No page of the story threw a script error, broke the CSP or missed a static file."""
        assert self.problems == []

    def _console(self, message) -> None:
        # A 403/404 page logs "Failed to load resource" for itself; static files are checked
        # through their responses instead.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.problems.append(f"console: {message.text}")

    def _response(self, response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.problems.append(f"{response.status} {response.url}")


def _add_neighbours(world) -> dict:
    """A few more residents, so lists, tags and charts look like a street, not a test."""
    from linli.demo.factories import make_resident
    from linli.registry.models import Relation, Residency, VulnerableTag

    a, b = world.a.dwellings, world.b.dwellings
    people = {}
    people["王建国"] = make_resident(
        dwelling=a[1],
        name="王建国",
        birth=date(1938, 3, 12),
        sequence=311,
        phone="13700001234",
        tags=[VulnerableTag.ELDERLY_ALONE],
    )
    people["刘芳"] = make_resident(
        dwelling=a[2],
        name="刘芳",
        birth=date(1992, 8, 9),
        sequence=402,
        phone="15112340987",
        residency=Residency.FLOATING,
        tags=[VulnerableTag.PREGNANT],
    )
    household = people["刘芳"].household
    people["陈志强"] = make_resident(
        dwelling=a[2],
        name="陈志强",
        household=household,
        relation=Relation.SPOUSE,
        birth=date(1990, 1, 20),
        sequence=215,
        phone="18687654321",
        residency=Residency.FLOATING,
    )
    people["陈梓涵"] = make_resident(
        dwelling=a[2],
        name="陈梓涵",
        household=household,
        relation=Relation.CHILD,
        birth=date(2025, 6, 1),
        sequence=120,
        phone="",
        residency=Residency.FLOATING,
        tags=[VulnerableTag.INFANT],
    )
    people["周淑珍"] = make_resident(
        dwelling=a[3],
        name="周淑珍",
        birth=date(1951, 11, 2),
        sequence=88,
        phone="13992345678",
        residency=Residency.RESIDENT,
        tags=[VulnerableTag.DISABLED],
    )
    people["赵海燕"] = make_resident(
        dwelling=b[1], name="赵海燕", birth=date(1985, 4, 4), sequence=226, phone="13609871234"
    )
    return people


@pytest.fixture
def story(request, transactional_db, live_server, world, browser) -> Iterator[Story]:
    """The personas and their neighbours, served live, with a browser to tell the story.

    `transactional_db` comes before `world` so the data is committed and the live server's
    thread sees it.
    """
    from linli.accounts.models import User

    for username, display_name in DISPLAY_NAMES.items():
        User.objects.filter(username=username).update(display_name=display_name)
    for persona in ("grid_a", "lead_a", "steward_a", "volunteer_a", "grid_b", "street_officer"):
        getattr(world, persona).refresh_from_db()
    neighbours = _add_neighbours(world)
    stage = Story(world=world, base_url=live_server.url, browser=browser, neighbours=neighbours)
    stage.residents = {"长延堡社区": 2 + 5, "大雁塔社区": 1 + 1}
    yield stage
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed and _artifacts_enabled():
        ARTIFACTS.mkdir(exist_ok=True)
        stem = re.sub(r"[^\w.-]+", "_", request.node.name)
        for i, context in enumerate(stage.contexts):
            for j, page in enumerate(context.pages):
                page.screenshot(path=ARTIFACTS / f"FAILED-{stem}-{i}-{j}.png", full_page=True)
    for context in stage.contexts:
        context.close()


@pytest.fixture
def screenshot():
    """Returns `shoot(page, name, readme=True)`: saves a full-page picture of the page.

    Writes docs/screenshots/<name> (README pictures, readme=True) only when
    LINLI_SCREENSHOTS=1, and test-artifacts/<name> when LINLI_ARTIFACTS is set; otherwise
    does nothing, and the story only asserts.
    """

    def shoot(page, name: str, *, readme: bool = True) -> None:
        targets = []
        if readme and _screenshots_enabled():
            targets.append(SCREENSHOTS)
        if _artifacts_enabled():
            targets.append(ARTIFACTS)
        if not targets:
            return
        # Fonts and the ECharts SVG are in place before the picture is taken.
        page.wait_for_load_state("load")
        page.evaluate("document.fonts.ready.then(() => true)")
        image = page.screenshot(full_page=True, animations="disabled", caret="hide")
        for target in targets:
            target.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(image)

    return shoot

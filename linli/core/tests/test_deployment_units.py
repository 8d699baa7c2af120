"""docs/deployment.md's systemd units: one copy of each, all under linli.target, supervised the
same way, running what `make serve` runs."""

import re
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SERVICES = (
    "linli-web.service",
    "linli-worker.service",
    "linli-escalate-screening.service",
    "linli-escalate.service",
    "linli-dialer.service",
)


def units() -> dict[str, list[ConfigParser]]:
    found: dict[str, list[ConfigParser]] = {}
    text = (ROOT / "docs" / "deployment.md").read_text()
    for block in re.findall(r"```ini\n(.*?)```", text, re.S):
        name = re.match(r"# /etc/systemd/system/(\S+)", block)
        if name:
            parser = ConfigParser(strict=False, interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(block.replace("\\\n", " "))
            found.setdefault(name.group(1), []).append(parser)
    return found


def test_each_service_is_given_once_and_supervised_alike():
    found = units()
    assert sorted(found) == sorted([*SERVICES, "linli.target"])
    assert all(len(copies) == 1 for copies in found.values())
    # systemd adds up repeated Wants= lines (a parser keeps only the last): read them all.
    text = (ROOT / "docs" / "deployment.md").read_text()
    target = re.search(r"# /etc/systemd/system/linli.target\n(.*?)```", text, re.S)
    assert target
    wanted = " ".join(re.findall(r"^Wants=(.*)$", target.group(1), re.M))
    for name in SERVICES:
        unit = found[name][0]
        assert name in wanted
        assert unit["Unit"]["PartOf"] == "linli.target"
        assert unit["Install"]["WantedBy"] == "linli.target"
        assert unit["Service"]["Restart"] == "always"
        assert unit["Service"]["User"] == "linli"
        assert unit["Service"]["EnvironmentFile"] == "/etc/linli/env"
        assert unit["Service"]["StandardOutput"] == "journal"


def test_the_units_run_what_make_serve_runs():
    commands = {
        name: " ".join(units()[name][0]["Service"]["ExecStart"].split()) for name in SERVICES
    }
    serve = (ROOT / "Makefile").read_text()
    assert "manage.py db_worker --no-startup-delay" in commands["linli-worker.service"]
    assert "manage.py escalate_screening --every 60" in commands["linli-escalate-screening.service"]
    assert "manage.py escalate --every 30" in commands["linli-escalate.service"]
    assert "manage.py dialer" in commands["linli-dialer.service"]
    # The web server keeps the serve target's short queue and time-out.
    for flag in ("--worker-connections 8", "--backlog 64", "--timeout 120", "--access-logfile -"):
        assert flag in serve
        assert flag in commands["linli-web.service"]

"""The screening pages read in Chinese (the default language): the catalogue has no fuzzy guess
and no empty entry, and no English msgid that has a translation shows through on the key pages.

The .po is read with a small parser of its own (polib is not a dependency). A page is checked on
what a user reads: text nodes, the labels in title/placeholder/aria-label/data-label
attributes and the JSON the scripts take their words from. Codes (shown in monospace, or JSON
values like "yes_no") and the English half of the bilingual "中文 / English" errors are not
user-facing English and are skipped.
"""

import ast
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from linli.screening import channels, h5
from linli.screening.models import CampaignTarget
from linli.screening.services import campaigns as campaign_services
from linli.screening.tests.builders import arrivals_for, draft

PO_PATH = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"


@dataclass(frozen=True)
class Entry:
    context: str | None
    msgid: str
    plural: str | None
    translations: tuple[str, ...]
    flags: frozenset[str]


def _unquote(text: str) -> str:
    # A PO string is a C string literal; Python reads the escapes it uses the same way.
    return ast.literal_eval(text.strip())


def read_catalogue(path: Path = PO_PATH) -> list[Entry]:
    """Returns the entries of a .po file, the header left out."""
    entries = []
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        fields: dict[str, str] = {}
        flags: set[str] = set()
        current = None
        for line in block.splitlines():
            if line.startswith("#,"):
                flags |= {flag.strip() for flag in line[2:].split(",")}
            elif line.startswith("#") or not line.strip():
                continue
            elif line.startswith('"'):
                fields[current] += _unquote(line)
            else:
                current, _space, rest = line.partition(" ")
                fields[current] = _unquote(rest)
        if not fields.get("msgid"):
            continue
        translations = tuple(v for k, v in sorted(fields.items()) if k.startswith("msgstr"))
        entries.append(
            Entry(
                context=fields.get("msgctxt"),
                msgid=fields["msgid"],
                plural=fields.get("msgid_plural"),
                translations=translations,
                flags=frozenset(flags),
            )
        )
    return entries


@pytest.fixture(scope="module")
def catalogue() -> list[Entry]:
    return read_catalogue()


def test_the_catalogue_has_no_fuzzy_and_no_empty_entry(catalogue):
    assert len(catalogue) > 100  # the parser read the file
    fuzzy = [e.msgid for e in catalogue if "fuzzy" in e.flags]
    empty = [e.msgid for e in catalogue if not e.translations or not all(e.translations)]
    assert fuzzy == []
    assert empty == []


def test_the_parser_reads_contexts_plurals_and_flags(tmp_path):
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Language: zh_Hans\\n"\n\n'
        '#, fuzzy, python-format\nmsgctxt "campaign status"\nmsgid "Run"\n"ning"\n'
        'msgstr "进行中"\n\n'
        'msgid "%(counter)s row"\nmsgid_plural "%(counter)s rows"\nmsgstr[0] ""\n',
        encoding="utf-8",
    )
    first, second = read_catalogue(po)
    assert (first.context, first.msgid, first.translations) == (
        "campaign status",
        "Running",
        ("进行中",),
    )
    assert first.flags == {"fuzzy", "python-format"}
    assert (second.plural, second.translations) == ("%(counter)s rows", ("",))


# --- What a page shows ------------------------------------------------------------------------

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}
LABEL_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "data-label"}
# The words h5.js shows from the page (partials/h5_status.html).
STATUS_ATTRIBUTES = {"data-saving", "data-saved", "data-retrying", "data-failed"}
CJK = re.compile(r"[\u4e00-\u9fff]")
CODE = re.compile(r"[a-z0-9_]+")


class _Reader(HTMLParser):
    """Collects what a reader sees: text nodes (not scripts, styles, textareas or codes shown
    in monospace), label attributes, and the string values of json_script blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.json_values: list[str] = []
        self._stack: list[tuple[str, bool]] = []
        self._json: list[str] | None = None

    def _skipping(self) -> bool:
        return any(skip for _tag, skip in self._stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if value and (name in LABEL_ATTRIBUTES or name in STATUS_ATTRIBUTES):
                self.texts.append(value)
        if tag in VOID:
            return
        classes = (attrs.get("class") or "").split()
        skip = tag in ("style", "textarea") or "mono" in classes
        if tag == "script":
            skip = True
            if attrs.get("type") == "application/json":
                self._json = []
        self._stack.append((tag, skip))

    def handle_startendtag(self, tag, attrs):
        for name, value in attrs:
            if value and (name in LABEL_ATTRIBUTES or name in STATUS_ATTRIBUTES):
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag == "script" and self._json is not None:
            self.json_values.extend(_strings(json.loads("".join(self._json))))
            self._json = None
        while self._stack:
            if self._stack.pop()[0] == tag:
                break

    def handle_data(self, data):
        if self._json is not None:
            self._json.append(data)
        elif not self._skipping() and data.strip():
            self.texts.append(data)


def _strings(value) -> list[str]:
    """The string values (not keys) of a JSON value, codes like "yes_no" left out."""
    if isinstance(value, str):
        return [] if CODE.fullmatch(value) else [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _without_english_half(text: str) -> str:
    # Errors raised in Python are "中文 / English" by design: only the Chinese half is a label.
    before, sep, _after = text.partition(" / ")
    return before if sep and CJK.search(before) else text


def _patterns(catalogue: list[Entry]) -> list[tuple[str, re.Pattern]]:
    """A pattern per translated English msgid: placeholders match anything; a single word
    must be a whole fragment of the text, longer phrases may sit inside it."""
    patterns = []
    for entry in catalogue:
        for msgid in filter(None, (entry.msgid, entry.plural)):
            english = msgid.replace("%%", "%")
            if not re.search(r"[A-Za-z]{2,}", re.sub(r"%\(\w+\)[sd]", "", english)):
                continue
            if any(english == t for t in entry.translations):
                continue
            body = re.sub(r"%\\\(\w+\\\)[sd]", ".+?", re.escape(english))
            if " " in english.strip() or "%(" in english:
                regex = rf"(?<![A-Za-z]){body}(?![A-Za-z])"
            else:
                regex = rf"^{body}$"
            patterns.append((msgid, re.compile(regex)))
    return patterns


# The header shows the brand in both scripts on purpose (邻里 Linli).
SHOWN_IN_ENGLISH_ON_PURPOSE = {"Linli"}
FRAGMENT_SEPARATORS = re.compile(r"[·›‹✓:：()（）,，;；/|…\n]+")


def untranslated(html: str, catalogue: list[Entry]) -> list[tuple[str, str]]:
    """Returns (msgid, text) for each translated msgid that shows in English on the page."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    texts = [_without_english_half(t) for t in reader.texts + reader.json_values]
    found = []
    for msgid, pattern in _patterns(catalogue):
        if msgid in SHOWN_IN_ENGLISH_ON_PURPOSE:
            continue
        for text in texts:
            pieces = [text.strip()] + [p.strip() for p in FRAGMENT_SEPARATORS.split(text)]
            if any(pattern.search(piece) for piece in pieces if piece):
                found.append((msgid, text.strip()))
                break
    return found


def zh(msgid: str) -> str:
    with translation.override("zh-hans"):
        return gettext(msgid)


def test_the_checker_finds_english_left_in_a_page(catalogue):
    html = (
        '<h1>Door knock · 长延堡社区</h1><th data-label="Reached">已联系上</th>'
        '<p>第 1 题</p><p class="mono">none</p><p>Question 3</p>'
        "<p>本次排查未在进行中 / the campaign is not running</p>"
        '<script type="application/json" id="x">'
        '{"text": {"sent": "Sent"}, "kind": "yes_no"}</script>'
    )
    found = {msgid for msgid, _text in untranslated(html, catalogue)}
    assert found == {"Door knock", "Reached", "Question %(n)s", "Sent"}


# --- The key pages ----------------------------------------------------------------------------


def assert_reads_in_chinese(response, catalogue) -> str:
    assert response.status_code == 200
    html = response.content.decode()
    assert untranslated(html, catalogue) == []
    return html


@pytest.fixture
def running(world, town):
    """A running arrivals campaign over community A by H5, phone and door knock, with answers:
    张三丰 high risk by H5, 王小红 not answering the phone."""
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, arrivals_for(world), channels=["h5", "phone", "door_knock"]),
        by=world.lead_a,
    )
    channels.get_channel("h5").collect(
        target=CampaignTarget.objects.get(campaign=campaign, person=world.resident_a),
        outcome="answered",
        answers={"arrived_recently": False, "temperature": "38.2"},
    )
    channels.get_channel("phone").collect(
        target=CampaignTarget.objects.get(campaign=campaign, person=town.floating_child),
        outcome="no_answer",
    )
    return campaign


def test_a_draft_campaign_page_reads_in_chinese(world, town, client_for, catalogue):
    campaign = draft(world, channels=["h5", "door_knock"])
    client = client_for(world.lead_a)
    html = assert_reads_in_chinese(
        client.get(reverse("screening:campaign", args=[campaign.pk])), catalogue
    )
    assert zh("Who will be reached") in html


def test_a_running_campaign_page_reads_in_chinese(world, running, client_for, catalogue):
    client = client_for(world.lead_a)
    html = assert_reads_in_chinese(
        client.get(reverse("screening:campaign", args=[running.pk])), catalogue
    )
    running_label = zh("Running")
    with translation.override("zh-hans"):
        campaign_running = str(running.get_status_display())
    # The campaign's "Running" is not the import batch's.
    assert campaign_running != running_label and campaign_running in html


def test_the_campaign_list_reads_in_chinese(world, running, client_for, catalogue):
    assert_reads_in_chinese(client_for(world.lead_a).get(reverse("screening:campaigns")), catalogue)


def test_the_h5_question_page_reads_in_chinese(town, running, client, catalogue):
    target = CampaignTarget.objects.get(campaign=running, person=town.floating_head)
    path = urlsplit(h5.link_for(target)).path + "?as=self"
    html = assert_reads_in_chinese(client.get(path), catalogue)
    assert zh("Save and continue") != "Save and continue"
    assert zh("Save and continue") in html and "Save and continue" not in html


def test_the_door_knock_page_reads_in_chinese(world, town, client_for, catalogue):
    campaign = campaign_services.launch_campaign(
        campaign=draft(world, channels=["door_knock"]), by=world.lead_a
    )
    client = client_for(world.grid_a)
    html = assert_reads_in_chinese(
        client.get(reverse("screening:door_knock", args=[campaign.pk])), catalogue
    )
    assert zh("Save visit") in html and "Save visit" not in html


def test_the_coverage_page_reads_in_chinese(world, running, client_for, catalogue):
    client = client_for(world.lead_a)
    html = assert_reads_in_chinese(
        client.get(reverse("screening:coverage", args=[running.pk])), catalogue
    )
    assert zh("Medium and high risk") in html


def test_the_questionnaire_builder_reads_in_chinese(world, client_for, catalogue):
    questionnaire = arrivals_for(world)
    client = client_for(world.lead_a)
    assert_reads_in_chinese(
        client.get(reverse("screening:questionnaire", args=[questionnaire.pk])), catalogue
    )

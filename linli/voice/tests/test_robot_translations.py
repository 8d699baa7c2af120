"""The robot page reads in Chinese (the default language): no English msgid that has a
translation shows through, in any state the page can be in (never started, calling with calls
finished, paused, settings refused, no phone channel) nor in the live figures htmx swaps in.

The checker is the screening pages' one (linli.screening.tests.test_translations): it reads
the .po and looks at what a user reads on the page.
"""

import re

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.translation import pgettext

from linli.screening import channels
from linli.screening.models import AttemptOutcome, CampaignTarget
from linli.screening.tests.test_translations import read_catalogue, untranslated, zh
from linli.voice.models import CallJob, CarrierKind, JobState, Line, RobotStatus
from linli.voice.tests.test_robot_pages import campaign_over

pytestmark = pytest.mark.django_db

# Product names: the same in both languages.
SAME_IN_CHINESE = {"FreeSWITCH"}


@pytest.fixture(scope="module")
def catalogue():
    return read_catalogue()


@pytest.fixture
def campaign(world):
    Line.objects.create(name="中继一", carrier="simulated", max_concurrent=30, calls_per_second=5)
    return campaign_over(world, world.a.community, world.lead_a)


def page(client, campaign, catalogue, *, status: int = 200, response=None) -> str:
    """The robot page (or the given response) as HTML, checked for English left in it."""
    response = response or client.get(reverse("voice:campaign", args=[campaign.pk]))
    assert response.status_code == status
    html = response.content.decode()
    assert untranslated(html, catalogue) == []
    return html


def test_every_robot_label_has_a_chinese_translation():
    labels = [
        label for _v, label in [*JobState.choices, *RobotStatus.choices, *CarrierKind.choices]
    ]
    english = [_in("en", label) for label in labels]
    chinese = [_in("zh-hans", label) for label in labels]
    missing = [
        e for e, c in zip(english, chinese, strict=True) if e == c and e not in SAME_IN_CHINESE
    ]
    assert missing == []


def _in(language: str, label) -> str:
    with translation.override(language):
        return str(label)


def test_the_robot_page_before_the_first_start_reads_in_chinese(
    world, campaign, client_for, catalogue
):
    html = page(client_for(world.lead_a), campaign, catalogue)
    assert zh("Start the robot") != "Start the robot" and zh("Start the robot") in html
    assert zh("Calling hours, retries and line") in html
    assert zh("No call yet.") in html
    with translation.override("zh-hans"):
        assert str(CarrierKind.SIMULATED.label) in html  # the line's carrier, in Chinese


def test_a_calling_robot_with_finished_calls_reads_in_chinese(
    world, campaign, client_for, catalogue
):
    client = client_for(world.lead_a)
    started = client.post(reverse("voice:start", args=[campaign.pk]), follow=True)
    html = page(client, campaign, catalogue, response=started)
    # Calling, or started and waiting for its hours when the test runs outside them.
    assert zh("The robot is calling.") in html or "机器人已启动。" in html
    assert zh("Pause the robot") in html

    first, second = CallJob.objects.filter(campaign=campaign).order_by("pk")
    CallJob.objects.filter(pk=first.pk).update(
        state=JobState.IN_CALL, line=Line.objects.get(), call_id="r1-1", last_outcome="busy"
    )
    CallJob.objects.filter(pk=second.pk).update(
        state=JobState.WAITING_RETRY, last_outcome="no_answer"
    )
    phone = channels.get_channel("phone")
    for target, outcome in zip(
        CampaignTarget.objects.filter(campaign=campaign).order_by("pk"),
        (AttemptOutcome.BUSY, AttemptOutcome.NO_ANSWER),
        strict=True,
    ):
        phone.collect(target=target, outcome=outcome, detail={"attempt": 1})

    html = page(client, campaign, catalogue)
    with translation.override("zh-hans"):
        for _state, label in JobState.choices:  # every state is listed, with its count
            assert str(label) in html
        assert str(AttemptOutcome.BUSY.label) in html
        # Calling, or waiting for its calling hours when the test runs outside them.
        waiting = pgettext("robot status", "Waiting for calling hours")
        assert str(RobotStatus.RUNNING.label) in html or waiting in html

    live = client.get(reverse("voice:live", args=[campaign.pk]))
    html = page(client, campaign, catalogue, response=live)
    assert zh("calls in progress") in html and zh("Last outcomes") in html


def test_a_paused_robot_reads_in_chinese(world, campaign, client_for, catalogue):
    client = client_for(world.lead_a)
    client.post(reverse("voice:start", args=[campaign.pk]))
    paused = client.post(reverse("voice:pause", args=[campaign.pk]), follow=True)
    html = page(client, campaign, catalogue, response=paused)
    assert zh("Resume the robot") != "Resume the robot" and zh("Resume the robot") in html
    with translation.override("zh-hans"):
        assert str(RobotStatus.PAUSED.label) in html


def test_refused_and_saved_settings_read_in_chinese(world, campaign, client_for, catalogue):
    client = client_for(world.lead_a)
    data = {
        "calling_start": "22:00",
        "calling_end": "07:00",
        "line": "",
        **{f"{o}_max": 2 for o in ("no_answer", "busy", "failed", "hung_up")},
        **{f"{o}_after": 30 for o in ("no_answer", "busy", "failed", "hung_up")},
    }
    url = reverse("voice:settings", args=[campaign.pk])
    refused = client.post(url, data)
    html = page(client, campaign, catalogue, status=400, response=refused)
    assert zh("The end must be after the start (no night calls).") in html

    saved = client.post(
        url, {**data, "calling_start": "09:00", "calling_end": "20:00"}, follow=True
    )
    html = page(client, campaign, catalogue, response=saved)
    assert zh("Robot settings saved.") in html


def test_a_campaign_without_the_phone_channel_says_so_in_chinese(world, client_for, catalogue):
    campaign = campaign_over(world, world.a.community, world.lead_a, channels=("h5",))
    html = page(client_for(world.lead_a), campaign, catalogue)
    sentence = (
        "This campaign does not use the phone robot: add the phone channel to a draft campaign "
        "to use it."
    )
    assert zh(sentence) != sentence and zh(sentence) in html


@pytest.mark.parametrize("outcome", ["do_not_call", "closed", "skipped"])
def test_the_sweeps_outcomes_read_in_chinese(world, campaign, client_for, outcome):
    client = client_for(world.lead_a)
    client.post(reverse("voice:start", args=[campaign.pk]))
    CallJob.objects.filter(campaign=campaign).update(state=JobState.GIVEN_UP, last_outcome=outcome)
    html = client.get(reverse("voice:live", args=[campaign.pk])).content.decode()
    shown = re.search(r'data-testid="robot-outcomes">(.*?)</p>', html, re.S).group(1)
    shown = re.sub(r"<[^>]+>", "", shown)
    assert shown.strip() and not re.search(r"[A-Za-z]", shown)  # a label, not a code nor English

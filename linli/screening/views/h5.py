"""The H5 link channel's pages: sending the links (staff), and the resident's mobile page.

The resident's page and its answer endpoint need no log-in: the signed token in the URL is
the credential (linli.screening.h5). They render without the request's context processors, so
an anonymous request never loads a session or a user, and a staff member who opens a link on
their own phone sees exactly what the resident sees.
"""

import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from linli.adapters import sms
from linli.core.actors import AuditContext
from linli.core.errors import errors_by_field
from linli.core.links import ExpiredLink, InvalidLink, LinkError
from linli.core.permissions import require
from linli.screening import h5
from linli.screening.channels import get_channel
from linli.screening.models import AttemptOutcome, CampaignStatus, CampaignTarget, ChannelCode
from linli.screening.questionnaires.answers import InvalidAnswers
from linli.screening.questionnaires.schema import QuestionKind
from linli.screening.roles import CAMPAIGN_MANAGERS
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import h5 as h5_selectors
from linli.screening.selectors import links as link_selectors
from linli.screening.services.attempts import KEY_REUSED, KeyReusedWithOtherAnswers
from linli.screening.tasks import SendJob, enqueue_send_links, running_send, send_progress

ENDED = gettext_lazy("This screening has ended; thank you")
_NONCE = re.compile(r"^[0-9a-f]{32}$")
_OUTCOMES = {AttemptOutcome.ANSWERED.value, AttemptOutcome.REFUSED.value}


def _see_other(url: str) -> HttpResponseRedirect:
    """A redirect after a POST that the browser follows with a GET (303)."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


# ---------------------------------------------------------------------------------------------
# Sending the links (community leads and officials)


def _job_from(request: HttpRequest) -> SendJob | None:
    """Returns the send run named in the query (after the redirect that queued it)."""
    try:
        since = datetime.fromtimestamp(float(request.GET["since"]), tz=UTC)
        return SendJob(
            result_id=request.GET.get("task", "")[:64],
            since=since,
            planned=max(0, int(request.GET["planned"])),
        )
    except (KeyError, ValueError, OverflowError, OSError):
        return None


# The shape and length of a real token (never a real one: it would open someone's page), so
# the sample shows the real size of the message.
SAMPLE_TOKEN = f"{'X' * 6}.{'X' * 6}.{'X' * 22}"


def _request_base(request: HttpRequest) -> str:
    """Returns the scheme and host the page was asked on: where links point when
    LINLI_PUBLIC_URL is not set."""
    return f"{request.scheme}://{request.get_host()}"


@login_required
@require_http_methods(["GET", "POST"])
def send_links(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Shows where the campaign's links stand and the SMS as it will go out; a first POST asks
    to confirm (text, recipients, segments), a POST with `confirm` queues the run, and the
    page then follows it (a progress card polled by htmx)."""
    campaign = campaign_selectors.campaign_for(request.user, campaign_id)
    require(request.user, roles=CAMPAIGN_MANAGERS, paths=[campaign.area_path])
    error = ""
    confirming = False
    if request.method == "POST" and request.POST.get("confirm") == "1":
        try:
            job = enqueue_send_links(
                campaign=campaign,
                by=request.user,
                public_url=_request_base(request),
                context=AuditContext.from_request(request),
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            query = urlencode(
                {"task": job.result_id, "since": job.since.timestamp(), "planned": job.planned}
            )
            url = reverse("screening:send_links", args=[campaign.pk])
            return _see_other(f"{url}?{query}")
    elif request.method == "POST":
        confirming = True
    job = _job_from(request) or running_send(campaign)
    progress = None
    if job is not None:
        progress = send_progress(
            campaign, result_id=job.result_id, since=job.since, planned=job.planned
        )
    context = {
        "campaign": campaign,
        "job": job,
        "progress": progress,
        "progress_query": urlencode(
            {"task": job.result_id, "since": job.since.timestamp(), "planned": job.planned}
        )
        if job
        else "",
        "error": error,
    }
    if request.htmx and progress is not None:
        return render(request, "screening/partials/h5_send_progress.html", context)
    sample = h5.sms_text(
        sender=h5.community_name(campaign.area_path) or campaign.area.name,
        campaign_name=campaign.name,
        url=h5.link_for_token(SAMPLE_TOKEN, base=_request_base(request)),
    )
    summary = link_selectors.link_summary(campaign)
    segments = sms.count_segments(sample)
    in_progress = progress is not None and progress.running
    context |= {
        "summary": summary,
        "sample": sample,
        "sample_length": len(sample),
        "segments": segments,
        "total_segments": segments * summary.sendable,
        "max_links": h5.MAX_LINKS,
        "resend_hours": int(h5.RESEND_AFTER.total_seconds() // 3600),
        "confirming": confirming and not in_progress and summary.sendable > 0,
        "can_send": not in_progress and summary.sendable > 0,
        "in_progress": in_progress,
    }
    return render(request, "screening/h5_send.html", context, status=400 if error else 200)


# ---------------------------------------------------------------------------------------------
# The resident's page


def _page(template: str, context: dict, *, status: int = 200) -> HttpResponse:
    # No request: context processors would load the session and the user for nothing.
    return HttpResponse(render_to_string(template, context), status=status)


def _link_error_page(error: LinkError) -> HttpResponse:
    status = 410 if isinstance(error, ExpiredLink) else 404
    return _page("screening/h5_error.html", {"message": error.text}, status=status)


def _ended_page() -> HttpResponse:
    return _page("screening/h5_error.html", {"message": ENDED}, status=410)


def _page_url(token: str, by_proxy: bool | None, **extra: str) -> str:
    params = {}
    if by_proxy is not None:
        params["as"] = "proxy" if by_proxy else "self"
    params.update(extra)
    url = reverse("screening:h5", args=[token])
    return f"{url}?{urlencode(params)}" if params else url


def _screen_page(
    token: str,
    target: CampaignTarget,
    *,
    who: str = "",
    asked: str = "",
    saved: bool = False,
    stopped: bool = False,
    value: object = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    screen = h5_selectors.resident_screen(target, who=who, asked=asked, stopped=stopped)
    screen_value = value if error else screen.value
    context = {
        "screen": screen,
        "token": token,
        "answer_url": reverse("screening:h5_answer", args=[token]),
        "next_url": _page_url(token, screen.by_proxy, saved="1"),
        "stopped_url": _page_url(token, screen.by_proxy, stopped="1"),
        "self_url": _page_url(token, False),
        "proxy_url": _page_url(token, True),
        "previous_url": (
            _page_url(token, screen.by_proxy, q=screen.previous) if screen.previous else ""
        ),
        "first_url": _page_url(token, screen.by_proxy, q=screen.first or ""),
        "nonce": uuid.uuid4().hex,
        "saved": saved,
        "error": error,
        "input": _input_context(screen.question, screen_value),
    }
    return _page(f"screening/h5_{screen.stage}.html", context, status=status)


def _input_context(question: dict | None, value: object) -> dict:
    """Returns what the question's input needs: its kind, options with the saved answer
    ticked, and the text of a typed answer."""
    if not question:
        return {}
    kind = question.get("kind")
    picked: set[str] = set()
    if kind == QuestionKind.YES_NO and isinstance(value, bool):
        picked = {"yes" if value else "no"}
    elif kind == QuestionKind.YES_NO and value in ("yes", "no"):
        picked = {value}  # an answer the server refused, shown back as it was sent
    elif kind == QuestionKind.SINGLE_CHOICE and isinstance(value, str):
        picked = {value}
    elif kind == QuestionKind.MULTIPLE_CHOICE and isinstance(value, list):
        picked = {str(v) for v in value}
    if kind == QuestionKind.YES_NO:
        options = [{"code": "yes", "label": _("Yes")}, {"code": "no", "label": _("No")}]
    else:
        options = question.get("options") or []
    return {
        "kind": kind,
        "options": [
            {
                "code": o.get("code"),
                "label": o.get("label"),
                "exclusive": bool(o.get("exclusive")),
                "checked": o.get("code") in picked,
            }
            for o in options
        ],
        "text": "" if value is None or isinstance(value, list | bool) else str(value),
        "min": question.get("min"),
        "max": question.get("max"),
    }


@require_safe
def h5_page(request: HttpRequest, token: str) -> HttpResponse:
    """The resident's page (no log-in: the token is the credential)."""
    try:
        target = h5.target_from_token(token)
    except (InvalidLink, ExpiredLink) as error:
        return _link_error_page(error)
    if not target.campaign.accepts_answers:
        return _ended_page()
    return _screen_page(
        token,
        target,
        who=request.GET.get("as", ""),
        asked=request.GET.get("q", ""),
        saved=request.GET.get("saved") == "1",
        stopped=request.GET.get("stopped") == "1",
    )


# The signed token in the URL, not a cookie, authenticates these posts: a forged request
# cannot know the token, and the page posts without any session. Hence no CSRF token.
@csrf_exempt
@require_POST
def h5_answer(request: HttpRequest, token: str) -> HttpResponse:
    """Saves answers from the resident's page: JSON from h5.js (one question per request, or
    any batch of them), or a plain form post per question when JavaScript is off."""
    is_json = request.content_type == "application/json"
    try:
        target_id = h5.target_id_from_token(token)
    except (InvalidLink, ExpiredLink) as error:
        if is_json:
            status = 410 if isinstance(error, ExpiredLink) else 404
            return JsonResponse({"error": str(error)}, status=status)
        return _link_error_page(error)
    if is_json:
        return _answer_json(request, token, target_id)
    return _answer_form(request, token, target_id)


def _parse_json(request: HttpRequest) -> tuple[dict, dict[str, str]]:
    """Returns (submission, errors by field) for the JSON contract."""
    try:
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return {}, {"body": _("The body must be a JSON object")}
    errors = {}
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not key.strip() or len(key) > 100:
        errors["idempotency_key"] = _("Idempotency_key must be a text of at most 100 characters")
    answers = body.get("answers", {})
    if not isinstance(answers, dict):
        errors["answers"] = _("Answers must be an object")
    by_proxy = body.get("by_proxy", False)
    if not isinstance(by_proxy, bool):
        errors["by_proxy"] = _("By_proxy must be true or false")
    outcome = body.get("outcome", AttemptOutcome.ANSWERED.value)
    if outcome not in _OUTCOMES:
        errors["outcome"] = _('Outcome is "answered" or "refused"')
    if outcome == AttemptOutcome.ANSWERED and isinstance(answers, dict) and not answers:
        errors["answers"] = _("Answer at least one question")
    return {"key": key, "answers": answers, "by_proxy": by_proxy, "outcome": outcome}, errors


def _save(target_id: int, submission: dict):
    """Records one submission through the H5 channel (services.record_attempt)."""
    return get_channel(ChannelCode.H5).collect(
        # The channel needs only the target's key for a resident's own save (no worker to
        # check): the row itself is read once, locked, inside record_attempt.
        target=CampaignTarget(pk=target_id),
        outcome=submission["outcome"],
        answers=submission["answers"],
        by=None,
        idempotency_key=submission["key"],
        by_proxy=submission["by_proxy"],
        # The page made the key: the same key with other answers is a mistake to report.
        refuse_changed_retry=True,
    )


def _campaign_ended(target_id: int) -> bool | None:
    """Returns whether the target's campaign no longer takes answers (None: no target)."""
    row = CampaignTarget.objects.filter(pk=target_id).values_list("campaign__status").first()
    if row is None:
        return None
    return row[0] not in (CampaignStatus.RUNNING, CampaignStatus.PAUSED)


def _answer_json(request: HttpRequest, token: str, target_id: int) -> JsonResponse:
    submission, errors = _parse_json(request)
    if errors:
        return JsonResponse({"errors": errors}, status=400)
    try:
        recorded = _save(target_id, submission)
    except CampaignTarget.DoesNotExist:
        return JsonResponse({"error": str(InvalidLink())}, status=404)
    except KeyReusedWithOtherAnswers:
        # The key's first save stands; the page shows this and keeps the answer on screen.
        return JsonResponse({"error": str(KEY_REUSED), "code": "key_reused"}, status=409)
    except InvalidAnswers as exc:
        return JsonResponse(
            {"errors": {k: str(e) for k, e in exc.answer_errors.items()}}, status=400
        )
    except ValidationError as exc:
        ended = _campaign_ended(target_id)
        if ended is None:
            return JsonResponse({"error": str(InvalidLink())}, status=404)
        if ended:
            return JsonResponse({"error": str(ENDED)}, status=410)
        return JsonResponse({"errors": errors_by_field(exc, general="body")}, status=400)
    return JsonResponse(
        {
            "saved": True,
            "created": recorded.created,
            "next_question": recorded.next_question,
            "complete": recorded.complete,
        }
    )


def _form_submission(request: HttpRequest) -> tuple[dict, str]:
    """Returns (submission, question key) from a plain form post of one question.

    The key of a form post is derived from the page's nonce and what was sent, so the
    browser re-sending the same form counts once, while a changed answer on the same page
    (after an error) is a new save."""
    post = request.POST
    action = post.get("action", "save")
    question = post.get("question", "")[:40]
    answers: dict[str, object] = {}
    outcome = AttemptOutcome.ANSWERED.value
    if action == "refuse":
        outcome = AttemptOutcome.REFUSED.value
    elif action == "skip":
        answers[question] = None
    else:
        values = post.getlist("answer")
        several = post.get("kind") == QuestionKind.MULTIPLE_CHOICE or len(values) > 1
        answers[question] = values if several else (values[0] if values else "")
    by_proxy = post.get("by_proxy") == "1"
    nonce = post.get("nonce", "")
    if not _NONCE.match(nonce):
        nonce = uuid.uuid4().hex
    digest = hashlib.sha256(
        json.dumps([answers, outcome, by_proxy], sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()[:32]
    submission = {
        "key": f"h5-form:{nonce}:{digest}",
        "answers": answers,
        "by_proxy": by_proxy,
        "outcome": outcome,
    }
    return submission, question


def _answer_form(request: HttpRequest, token: str, target_id: int) -> HttpResponse:
    submission, question = _form_submission(request)
    who = "proxy" if submission["by_proxy"] else "self"
    try:
        _save(target_id, submission)
    except CampaignTarget.DoesNotExist:
        return _link_error_page(InvalidLink())
    except ValidationError as exc:
        ended = _campaign_ended(target_id)
        if ended is None:
            return _link_error_page(InvalidLink())
        if ended:
            return _ended_page()
        if isinstance(exc, InvalidAnswers) and question in exc.answer_errors:
            message = str(exc.answer_errors[question])
        else:
            message = " ".join(errors_by_field(exc, general="body").values())
        target = h5.target_from_token(token)
        return _screen_page(
            token,
            target,
            who=who,
            asked=question,
            value=submission["answers"].get(question),
            error=message,
            status=400,
        )
    if submission["outcome"] == AttemptOutcome.REFUSED:
        return _see_other(_page_url(token, None, stopped="1"))
    return _see_other(_page_url(token, submission["by_proxy"], saved="1"))

"""Follow-up tasks raised by risky answers: the grid worker's list, closing a task, and the
screening section of a person's file (the risk flag)."""

from urllib.parse import urlencode, urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from linli.core.actors import AuditContext
from linli.core.pagination import CappedPaginator
from linli.registry.models import Person
from linli.screening.models import TaskStatus
from linli.screening.questionnaires.schema import FollowUp
from linli.screening.roles import may_close_tasks
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import followups as followup_selectors
from linli.screening.services import followups as followup_services

ALL = "all"
# Filters kept when the list links to its own next page or comes back after closing a task.
LIST_PARAMS = ("status", "kind", "campaign", "page")


class TaskFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        choices=[*TaskStatus.choices, (ALL, gettext_lazy("All"))],
        required=False,
    )
    kind = forms.ChoiceField(
        label=gettext_lazy("Follow-up"),
        choices=[("", gettext_lazy("All")), *FollowUp.choices],
        required=False,
    )
    campaign = forms.ModelChoiceField(
        label=gettext_lazy("Campaign"),
        queryset=None,
        required=False,
        empty_label=gettext_lazy("All"),
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campaign"].queryset = followup_selectors.task_campaigns(user)

    def clean_status(self) -> str:
        # No status given (a first visit, a bare ?page=2) means the open ones: the work to do.
        status = self.cleaned_data["status"] or TaskStatus.OPEN
        return "" if status == ALL else status


class TaskCloseForm(forms.Form):
    status = forms.ChoiceField(
        choices=[(TaskStatus.DONE, TaskStatus.DONE), (TaskStatus.DISMISSED, TaskStatus.DISMISSED)],
        error_messages={"invalid_choice": _("Choose done or dismiss")},
    )
    note = forms.CharField(
        label=gettext_lazy("Note"),
        max_length=followup_services.TASK_NOTE_MAX_LENGTH,
        required=False,
        error_messages={
            # MaxLengthValidator fills in limit_value when the message is shown.
            "max_length": gettext_lazy("At most %(limit_value)s characters")
        },
    )
    next = forms.CharField(required=False)


def _list_query(params) -> str:
    return urlencode([(k, params.get(k)) for k in LIST_PARAMS if k != "page" and params.get(k)])


def _filtered_tasks(user, form: TaskFilterForm):
    data = form.cleaned_data
    return followup_selectors.tasks_for(
        user, status=data["status"], kind=data["kind"], campaign=data["campaign"]
    )


@login_required
def task_list(request: HttpRequest) -> HttpResponse:
    """The follow-up tasks of the user's areas, open ones by default, highest risk first."""
    form = TaskFilterForm(request.GET, user=request.user)
    status = 400
    rows, page = [], CappedPaginator([], settings.LINLI_PAGE_SIZE).get_page(1)
    if form.is_valid():
        status = 200
        tasks = _filtered_tasks(request.user, form)
        page = CappedPaginator(tasks, settings.LINLI_PAGE_SIZE).get_page(request.GET.get("page"))
        rows = followup_selectors.present_tasks(request.user, page.object_list)
    context = {
        "form": form,
        "page": page,
        "cards": followup_selectors.cards_by_person(rows),
        "query": _list_query(request.GET),
        "may_close": may_close_tasks(request.user),
        "next": request.get_full_path(),
        "showing_open": form.is_valid() and form.cleaned_data["status"] == TaskStatus.OPEN,
    }
    return render(request, "screening/tasks.html", context, status=status)


def _back(request: HttpRequest, wanted: str) -> str:
    """Returns where to go after closing a task: the page the form came from when it is one
    of ours (the list with its filters, the person's file), else the list."""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("screening:tasks")


def _list_count(request: HttpRequest, back: str) -> str:
    """Returns the list's count, re-counted with the filters of the list the card was closed
    on, to replace the old one in place (an htmx out-of-band swap); empty when the card was
    not closed on the list (a person's file)."""
    url = urlsplit(back)
    if url.path != reverse("screening:tasks"):
        return ""
    form = TaskFilterForm(QueryDict(url.query), user=request.user)
    if not form.is_valid():
        return ""
    context = {
        "page": CappedPaginator(_filtered_tasks(request.user, form), 1).get_page(1),
        "showing_open": form.cleaned_data["status"] == TaskStatus.OPEN,
        "oob": True,
    }
    return render_to_string("screening/partials/task_count.html", context, request=request)


def _card_task_ids(request: HttpRequest, task_id: int) -> list[int] | None:
    """Returns the ids of the tasks a close form asks to close: the ticked actions of a
    person's card (the URL's task is only the card's anchor and may be unticked), or just
    the URL's task for a one-task form (the person's file). None when a card was sent with
    no action ticked."""
    if not request.POST.get("card"):
        return [task_id]
    ticked = [int(value) for value in request.POST.getlist("task") if value.isdigit()]
    return list(dict.fromkeys(ticked)) or None


@require_POST
@login_required
def task_done(request: HttpRequest, task_id: int) -> HttpResponse:
    """Marks the ticked follow-ups of a person's card (or one follow-up) done or dismissed,
    with the worker's note. With htmx, returns the card alone, its error or confirmation
    inside it, so a phone keeps its place in the list; without, goes back to the page the
    form came from, at the card's anchor."""
    task = followup_selectors.task_for(request.user, task_id)
    if not may_close_tasks(request.user):
        raise PermissionDenied(_("Your role may not close follow-ups"))
    ids = _card_task_ids(request, task_id)
    # Only the card's own person's tasks, inside the user's areas: anything else is not found.
    tasks = list(
        followup_selectors.tasks_for(request.user, status="").filter(
            person_id=task.person_id, pk__in=ids or []
        )
    )
    if ids is not None and len(tasks) != len(ids):
        raise Http404("task not found")
    errors: list[str] = []
    confirmation = ""
    form = TaskCloseForm(request.POST)
    if ids is None:
        errors.append(_("Tick at least one follow-up"))
    elif not form.is_valid():
        errors = [error for field_errors in form.errors.values() for error in field_errors]
    else:
        try:
            for each in tasks:
                followup_services.close_follow_up_task(
                    task=each,
                    status=form.cleaned_data["status"],
                    note=form.cleaned_data["note"],
                    by=request.user,
                    context=AuditContext.from_request(request),
                )
        except ValidationError as error:
            errors = list(error.messages)
        else:
            if form.cleaned_data["status"] == TaskStatus.DONE:
                confirmation = _("The follow-up was marked done.")
            else:
                confirmation = _("The follow-up was dismissed.")
    if request.htmx:
        back = request.POST.get("next", "").split("#", 1)[0]
        context = {
            "c": followup_selectors.card_for(request.user, task, ids or []),
            "may_close": True,
            # The card adds its own anchor to the page it came from.
            "next": back,
            "card_errors": errors,
            "card_confirmation": confirmation,
        }
        card = render_to_string("screening/partials/task_card.html", context, request=request)
        count = _list_count(request, back) if confirmation else ""
        return HttpResponse(card + count)
    for error in errors:
        messages.error(request, error)
    if confirmation:
        messages.success(request, confirmation)
    return redirect(_back(request, request.POST.get("next", "")))


def person_screening_section(user, person: Person) -> tuple[str, dict] | None:
    """The screening section of a person's file (linli.registry.sections): the open risk
    flags with a way to close them, and the person's status in every campaign. None when
    screening never reached this person."""
    flags = followup_selectors.open_flags_for(user, person)
    screenings = list(campaign_selectors.person_screenings(user, person)[:20])
    if not flags and not screenings:
        return None
    context = {
        "flags": flags,
        "screenings": screenings,
        "may_close": may_close_tasks(user),
        "next": reverse("registry:person", args=[person.pk]),
    }
    return "screening/partials/person_screening.html", context

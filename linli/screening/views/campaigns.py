"""Campaign pages: the list, the set-up form with its live preview of whom it reaches, the
detail page with the launch / pause / resume / close steps.

Everyone who browses people sees the campaigns over their areas or above them; only campaign
managers (CAMPAIGN_MANAGERS) set them up and change their state, inside their own
jurisdiction.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from linli.core.actors import AuditContext
from linli.core.errors import add_errors_to_form
from linli.core.jurisdiction import path_within
from linli.core.pagination import CappedPaginator
from linli.core.permissions import require
from linli.registry.models import Residency, VulnerableTag
from linli.screening.forms import (
    STATUS_FILTER_CHOICES,
    CampaignForm,
    CampaignRunningForm,
    TargetForm,
)
from linli.screening.models import (
    Campaign,
    CampaignStatus,
    ChannelCode,
    TargetStatus,
    TargetUnit,
)
from linli.screening.roles import CAMPAIGN_MANAGERS, SCREENERS
from linli.screening.selectors import campaigns as campaign_selectors
from linli.screening.selectors import questionnaires as questionnaire_selectors
from linli.screening.services import campaigns as campaign_services
from linli.screening.targeting import TargetFilters


def _is_manager(user) -> bool:
    return getattr(user, "is_superuser", False) or getattr(user, "role", "") in CAMPAIGN_MANAGERS


def _may_manage(user, campaign: Campaign) -> bool:
    """Managers change the campaigns of their own areas; one over an area above them (a
    street-wide campaign seen by a community lead) they follow but do not run."""
    return _is_manager(user) and (
        getattr(user, "is_superuser", False) or path_within(campaign.area_path, user)
    )


def _campaign_form(request: HttpRequest, data=None, **kwargs) -> CampaignForm:
    return CampaignForm(
        data,
        areas=campaign_selectors.campaign_areas(request.user),
        questionnaires=questionnaire_selectors.questionnaires_for(request.user),
        **kwargs,
    )


# ---------------------------------------------------------------------------------------------
# List and set-up


@login_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in CampaignStatus.values:
        status = ""
    campaigns = campaign_selectors.campaigns_for(request.user, status=status)
    page = CappedPaginator(campaigns, settings.LINLI_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "status_choices": STATUS_FILTER_CHOICES,
        "may_create": _is_manager(request.user),
        "channel_labels": dict(ChannelCode.choices),
        "query": f"status={status}" if status else "",
    }
    return render(request, "screening/campaigns.html", context)


@login_required
def campaign_create(request: HttpRequest) -> HttpResponse:
    require(request.user, roles=CAMPAIGN_MANAGERS)
    initial = {}
    if request.GET.get("questionnaire", "").isdigit():
        initial["questionnaire"] = int(request.GET["questionnaire"])
    form = _campaign_form(request, request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            campaign = campaign_services.create_campaign(
                name=data["name"],
                questionnaire_version=questionnaire_selectors.latest_version(data["questionnaire"]),
                area=data["area"],
                by=request.user,
                channels=data["channels"],
                filters=form.filters(),
                deadline=data["deadline"],
                emergency=data["emergency"],
                context=AuditContext.from_request(request),
            )
        except ValidationError as error:
            add_errors_to_form(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, _("Draft saved. Check whom it reaches, then launch it when ready.")
            )
            return redirect("screening:campaign", campaign_id=campaign.pk)
    context = {"form": form, "preview": _form_preview(request, form)}
    status = 400 if form.errors else 200
    return render(request, "screening/campaign_form.html", context, status=status)


def _form_preview(request: HttpRequest, form: TargetForm) -> dict:
    """The preview shown with the form when the page loads (later ones come by htmx)."""
    if form.is_bound:
        if not form.is_valid() and any(
            name in form.errors for name in ("area", "residency", "tags", "unit")
        ):
            return {"reach": None}
        data = form.cleaned_data
        area, filters, channels = data.get("area"), form.filters(), data.get("channels") or []
    else:
        area = form.fields["area"].queryset.first()
        filters, channels = {}, form.fields["channels"].initial
    if area is None:
        return {"reach": None}
    try:
        reach = campaign_selectors.preview_reach(
            request.user, area=area, filters=filters, channels=list(channels)
        )
    except (ValidationError, PermissionDenied, LookupError):
        return {"reach": None}
    return {"reach": reach, "area": area}


@login_required
def campaign_preview(request: HttpRequest) -> HttpResponse:
    """How many people and households the form's target reaches, and how many of them only a
    door knock will (htmx partial, refreshed on every change of the form)."""
    require(request.user, roles=CAMPAIGN_MANAGERS)
    form = TargetForm(request.GET, areas=campaign_selectors.campaign_areas(request.user))
    # The counts do not need a channel; the door-knock figure does.
    form.fields["channels"].required = False
    template = "screening/partials/campaign_preview.html"
    if not form.is_valid():
        return render(request, template, {"form": form, "reach": None}, status=400)
    try:
        reach = campaign_selectors.preview_reach(
            request.user,
            area=form.cleaned_data["area"],
            filters=form.filters(),
            channels=form.cleaned_data["channels"],
        )
    except ValidationError as error:
        add_errors_to_form(form, error)
        return render(request, template, {"form": form, "reach": None}, status=400)
    context = {"form": form, "reach": reach, "area": form.cleaned_data["area"]}
    return render(request, template, context)


# ---------------------------------------------------------------------------------------------
# Detail and editing


@login_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = campaign_selectors.campaign_for(request.user, campaign_id)
    may_manage = _may_manage(request.user, campaign)
    form = None
    if may_manage and campaign.status != CampaignStatus.CLOSED:
        form = _edit_form(request, campaign)
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("Your role may not do this"))
        if form.is_valid():
            try:
                _update(request, campaign, form)
            except ValidationError as error:
                add_errors_to_form(form, error)
            except PermissionDenied as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, _("Campaign updated."))
                return redirect("screening:campaign", campaign_id=campaign.pk)
    reach = None
    if may_manage and campaign.status == CampaignStatus.DRAFT:
        try:
            reach = campaign_selectors.preview_reach(
                request.user,
                area=campaign.area,
                filters=campaign.target_filters,
                channels=campaign.channels,
            )
        except (ValidationError, PermissionDenied, LookupError):
            reach = None
    version = campaign.questionnaire_version
    latest = questionnaire_selectors.latest_version(version.questionnaire)
    context = {
        "campaign": campaign,
        "version": version,
        "newer_version": latest if latest and latest.number != version.number else None,
        "filters": _describe_filters(campaign.target_filters),
        "channels": [dict(ChannelCode.choices).get(c, c) for c in campaign.channels],
        "uses_h5": ChannelCode.H5 in campaign.channels,
        "may_manage": may_manage,
        "may_door_knock": getattr(request.user, "role", "") in SCREENERS,
        "form": form,
        "edit_open": bool(form is not None and form.errors),
        "reach": reach,
        "door_knock_count": _door_knock_count(request, campaign),
    }
    status = 400 if form is not None and form.errors else 200
    return render(request, "screening/campaign.html", context, status=status)


def _edit_form(request: HttpRequest, campaign: Campaign):
    data = request.POST if request.method == "POST" else None
    if campaign.status == CampaignStatus.DRAFT:
        filters = TargetFilters.from_json(campaign.target_filters)
        initial = {
            "name": campaign.name,
            "questionnaire": campaign.questionnaire_version.questionnaire_id,
            "area": campaign.area_id,
            "residency": list(filters.residency),
            "tags": list(filters.tags),
            "no_smartphone": filters.no_smartphone,
            "unit": filters.unit,
            "channels": campaign.channels,
            "deadline": campaign.deadline,
            "emergency": campaign.emergency,
        }
        return _campaign_form(request, data, initial=initial)
    return CampaignRunningForm(data, initial={"name": campaign.name, "deadline": campaign.deadline})


def _update(request: HttpRequest, campaign: Campaign, form) -> Campaign:
    data = form.cleaned_data
    if isinstance(form, CampaignForm):
        return campaign_services.update_campaign(
            campaign=campaign,
            by=request.user,
            name=data["name"],
            # A draft follows its questionnaire: the newest version is the one it will freeze.
            questionnaire_version=questionnaire_selectors.latest_version(data["questionnaire"]),
            area=data["area"],
            channels=data["channels"],
            filters=form.filters(),
            deadline=data["deadline"],
            emergency=data["emergency"],
            context=AuditContext.from_request(request),
        )
    kwargs = {"name": data["name"]}
    # The form shows minutes: an untouched deadline (perhaps already past) is left alone.
    shown = campaign.deadline.replace(second=0, microsecond=0) if campaign.deadline else None
    if data["deadline"] != shown:
        kwargs["deadline"] = data["deadline"]
    return campaign_services.update_campaign(
        campaign=campaign, by=request.user, context=AuditContext.from_request(request), **kwargs
    )


def _describe_filters(raw: dict) -> list[str]:
    try:
        filters = TargetFilters.from_json(raw)
    except ValidationError:
        return [str(raw)]
    residency, tags = dict(Residency.choices), dict(VulnerableTag.choices)
    parts = [str(dict(TargetUnit.choices)[filters.unit])]
    if filters.residency:
        parts.append("、".join(str(residency.get(r, r)) for r in filters.residency))
    if filters.tags:
        parts.append(
            _("vulnerable: %(tags)s")
            % {"tags": "、".join(str(tags.get(t, t)) for t in filters.tags)}
        )
    if filters.no_smartphone:
        parts.append(_("only people without a smartphone"))
    if len(parts) == 1:
        parts.append(_("all residents of the area"))
    return parts


def _door_knock_count(request: HttpRequest, campaign: Campaign) -> int | None:
    if campaign.status == CampaignStatus.DRAFT:
        return None
    return campaign_selectors.targets_for(
        request.user, campaign, statuses=(TargetStatus.NEEDS_DOOR_KNOCK,)
    ).count()


# ---------------------------------------------------------------------------------------------
# State changes


def _change_state(
    request: HttpRequest,
    campaign_id: int,
    action: Callable[..., Campaign],
    done: Callable[[Campaign], str],
) -> HttpResponse:
    """Runs a state change for a manager: 404 outside the user's sight, 403 for a role that
    does not run campaigns, and the service's refusal (wrong state, an area above the user's)
    as a message on the detail page."""
    campaign = campaign_selectors.campaign_for(request.user, campaign_id)
    require(request.user, roles=CAMPAIGN_MANAGERS)
    try:
        campaign = action(
            campaign=campaign, by=request.user, context=AuditContext.from_request(request)
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    except PermissionDenied as error:
        messages.error(request, str(error))
    else:
        messages.success(request, done(campaign))
    return redirect("screening:campaign", campaign_id=campaign_id)


@require_POST
@login_required
def campaign_launch(request: HttpRequest, campaign_id: int) -> HttpResponse:
    def done(campaign: Campaign) -> str:
        return _(
            "Launched: %(people)s people in %(households)s households. "
            "%(door)s of them are on the door-knock lists already."
        ) % {
            "people": campaign.target_count,
            "households": campaign.household_count,
            "door": _door_knock_count(request, campaign),
        }

    return _change_state(request, campaign_id, campaign_services.launch_campaign, done)


@require_POST
@login_required
def campaign_pause(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _change_state(
        request,
        campaign_id,
        campaign_services.pause_campaign,
        lambda _c: _("Paused: nothing new is sent; answers to links already out are still taken."),
    )


@require_POST
@login_required
def campaign_resume(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _change_state(
        request, campaign_id, campaign_services.resume_campaign, lambda _c: _("Resumed.")
    )


@require_POST
@login_required
def campaign_close(request: HttpRequest, campaign_id: int) -> HttpResponse:
    return _change_state(
        request,
        campaign_id,
        campaign_services.close_campaign,
        lambda _c: _("Closed: no more answers are taken. The results stay available."),
    )

"""The lead's passes pages: the list by status with the area's policies, a policy form,
one pass (change holder, reissue, revoke). Thin: parse, call one service or selector."""

from urllib.parse import urlencode

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
from linli.core.pagination import CappedPaginator
from linli.passes import h5
from linli.passes.forms import PolicyForm, RevokeForm
from linli.passes.selectors import passes as selectors
from linli.passes.selectors.h5 import card_of, rules_of
from linli.passes.services import issuing


@login_required
def pass_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in selectors.STATUS_FILTERS:
        status = ""
    passes = selectors.passes_for(request.user, status=status)
    page = CappedPaginator(passes, settings.LINLI_PAGE_SIZE).get_page(request.GET.get("page"))
    policies = list(selectors.policies_for(request.user)[:20])
    return render(
        request,
        "passes/list.html",
        {
            "page": page,
            "rows": selectors.pass_rows(request.user, list(page.object_list)),
            "status": status,
            "status_choices": selectors.STATUS_FILTERS.items(),
            "counts": selectors.status_counts(request.user),
            "policies": [(policy, rules_of(policy)) for policy in policies],
            "may_issue": selectors.may_issue(request.user),
            "query": urlencode({"status": status} if status else {}),
        },
    )


@login_required
def policy_create(request: HttpRequest) -> HttpResponse:
    areas = selectors.issuing_areas(request.user)
    if not selectors.may_issue(request.user):
        raise PermissionDenied
    form = PolicyForm(request.POST or None, areas=areas)
    if request.method == "POST" and form.is_valid():
        try:
            issuing.create_policy(
                **form.service_arguments(),  # type: ignore[arg-type]
                by=request.user,
                context=AuditContext.from_request(request),
            )
        except ValidationError as error:
            add_errors_to_form(form, error)
        else:
            messages.success(request, _("Policy created."))
            return redirect("passes:passes")
    return render(request, "passes/policy_form.html", {"form": form})


@login_required
@require_POST
def policy_issue(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = selectors.pass_policy_for(request.user, policy_id)
    try:
        issued = issuing.issue_to_area(
            policy=policy, by=request.user, context=AuditContext.from_request(request)
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("%(count)s passes issued.") % {"count": len(issued)})
    return redirect("passes:passes")


@login_required
def pass_detail(request: HttpRequest, pass_id: int) -> HttpResponse:
    pass_ = selectors.pass_for(request.user, pass_id)
    row = selectors.pass_rows(request.user, [pass_])[0]
    return render(
        request,
        "passes/pass.html",
        {
            "row": row,
            "card": card_of(pass_),
            "link": h5.link_for(pass_) if row.status == "valid" else None,
            "members": selectors.holder_choices(request.user, pass_)
            if selectors.may_change_holder(request.user)
            else [],
            "may_issue": selectors.may_issue(request.user),
            "revoke_form": RevokeForm(),
        },
    )


@login_required
@require_POST
def pass_revoke(request: HttpRequest, pass_id: int) -> HttpResponse:
    pass_ = selectors.pass_for(request.user, pass_id)
    form = RevokeForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        issuing.revoke_pass(
            pass_=pass_, note=note, by=request.user, context=AuditContext.from_request(request)
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Pass revoked."))
    return redirect("passes:pass", pass_id=pass_.pk)


@login_required
@require_POST
def pass_reissue(request: HttpRequest, pass_id: int) -> HttpResponse:
    pass_ = selectors.pass_for(request.user, pass_id)
    try:
        new = issuing.reissue_pass(
            pass_=pass_, by=request.user, context=AuditContext.from_request(request)
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("passes:pass", pass_id=pass_.pk)
    messages.success(request, _("A new pass replaces the old one."))
    return redirect("passes:pass", pass_id=new.pk)


@login_required
@require_POST
def pass_holder(request: HttpRequest, pass_id: int) -> HttpResponse:
    pass_ = selectors.pass_for(request.user, pass_id)
    try:
        person_id = int(request.POST.get("holder", ""))
    except ValueError:
        messages.error(request, _("Choose a member of the pass's household"))
        return redirect("passes:pass", pass_id=pass_.pk)
    holder = selectors.household_member_for(request.user, pass_, person_id)
    try:
        new = issuing.change_holder(
            pass_=pass_, holder=holder, by=request.user, context=AuditContext.from_request(request)
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("passes:pass", pass_id=pass_.pk)
    messages.success(request, _("A new pass replaces the old one."))
    return redirect("passes:pass", pass_id=new.pk)

"""The area import page: upload, preview (nothing written), confirm (one transaction)."""

import csv
import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from linli.areas import services
from linli.areas.importing.plan import Plan, plan_import
from linli.areas.importing.template import area_template
from linli.core import stash
from linli.core.actors import AuditContext
from linli.core.downloads import file_download
from linli.core.errors import BilingualError, both_languages
from linli.core.sheets import read_sheets
from linli.core.spreadsheets import safe_cell

STASH = "area_import"
PREVIEW_LIMIT = 200  # areas listed by name in the preview; the counts cover them all
MAX_UPLOAD = 50 * 1024 * 1024


class AreaFileForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Areas file"),
        help_text=gettext_lazy("The template filled in: Excel (.xlsx) or CSV (UTF-8 or GBK)."),
    )


def _may_import(request: HttpRequest) -> None:
    user = request.user
    if not (
        getattr(user, "is_superuser", False) or getattr(user, "role", "") in services.TREE_IMPORTERS
    ):
        raise PermissionDenied(_("Your role may not do this."))


def _plan(request: HttpRequest, data: bytes, name: str) -> Plan:
    return plan_import(read_sheets(data, name), by=request.user)  # type: ignore[arg-type]


def _preview(request: HttpRequest, plan: Plan, file_name: str, status: int = 200) -> HttpResponse:
    request.session[f"{STASH}:digest"] = plan.digest
    listed = [n for n in plan.creates if n.level != "dwelling"][:PREVIEW_LIMIT]
    context = {
        "plan": plan,
        "file_name": file_name,
        "listed": listed,
        "more": len([n for n in plan.creates if n.level != "dwelling"]) - len(listed),
        "errors": plan.errors[:PREVIEW_LIMIT],
    }
    return render(request, "areas/import_preview.html", context, status=status)


@login_required
def import_tree(request: HttpRequest) -> HttpResponse:
    _may_import(request)
    form = AreaFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            form.add_error("file", _("The file is larger than 50 MB."))
        else:
            data = upload.read()
            try:
                plan = _plan(request, data, upload.name)
            except BilingualError as error:
                form.add_error("file", error.text)
            else:
                stash.keep(request.session, STASH, data=data, file_name=upload.name)
                return _preview(request, plan, upload.name)
    return render(request, "areas/import.html", {"form": form}, status=400 if form.errors else 200)


@require_POST
@login_required
def confirm_import(request: HttpRequest) -> HttpResponse:
    _may_import(request)
    kept = stash.load(request.session, STASH)
    if kept is None:
        messages.error(request, _("Upload the file again: its preview has expired."))
        return redirect("areas:import")
    data, name = kept
    plan = _plan(request, data, name)
    if plan.digest != request.session.get(f"{STASH}:digest") or plan.errors:
        messages.warning(request, _("The tree changed since the preview; check it again."))
        return _preview(request, plan, name, status=409)
    try:
        counts = services.import_area_tree(
            plan=plan,
            file_name=name,
            by=request.user,
            context=AuditContext.from_request(request),  # type: ignore[arg-type]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _preview(request, plan, name, status=400)
    stash.drop(request.session, STASH)
    messages.success(
        request,
        _("Imported: %(created)s created, %(renamed)s renamed, %(moved)s moved.") % counts,
    )
    return redirect("areas:import")


@login_required
def template(request: HttpRequest) -> HttpResponseBase:
    _may_import(request)
    return file_download(
        area_template(),
        filename="areas-template.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@login_required
def refused_rows(request: HttpRequest) -> HttpResponseBase:
    """The refused rows of the file being previewed, in Chinese and English (a file has no
    reader's language)."""
    _may_import(request)
    kept = stash.load(request.session, STASH)
    if kept is None:
        return redirect("areas:import")
    plan = _plan(request, *kept)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            both_languages(gettext_lazy("Sheet")),
            both_languages(gettext_lazy("Row")),
            both_languages(gettext_lazy("Reason")),
        ]
    )
    for error in plan.errors:
        writer.writerow([safe_cell(error.sheet), error.row, safe_cell(error.both)])
    return file_download(
        "\ufeff" + out.getvalue(),
        filename="areas-refused.csv",
        content_type="text/csv; charset=utf-8",
    )

"""Staff pages of a go-live: import a staff sheet (preview, confirm), end a deployment's
accounts in bulk, and the first sign-in with the code the SMS brought."""

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from linli.accounts import services
from linli.accounts.models import StaffImportBatch
from linli.accounts.staff_sheet import STAFF_COLUMNS, STAFF_EXAMPLES, StaffRow, read_staff
from linli.areas import selectors as area_selectors
from linli.areas.models import AreaLevel
from linli.core import stash
from linli.core.actors import AuditContext
from linli.core.downloads import file_download
from linli.core.errors import BilingualError
from linli.core.masking import mask_phone
from linli.core.sheets import read_sheets, workbook

STASH = "staff_import"
MAX_UPLOAD = 5 * 1024 * 1024


class StaffFileForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Staff file"),
        help_text=gettext_lazy("The template filled in: Excel (.xlsx) or CSV (UTF-8 or GBK)."),
    )


class FirstSignInForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("User name"), max_length=150)
    code = forms.CharField(label=gettext_lazy("Code from the SMS"), max_length=12)
    password = forms.CharField(
        label=gettext_lazy("Your new password"), widget=forms.PasswordInput, strip=False
    )
    password_again = forms.CharField(
        label=gettext_lazy("The password again"), widget=forms.PasswordInput, strip=False
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password") != data.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return data


def _may_import(request: HttpRequest) -> None:
    user = request.user
    if not (
        getattr(user, "is_superuser", False)
        or getattr(user, "role", "") in services.STAFF_IMPORTERS
    ):
        raise PermissionDenied(_("Your role may not do this."))


def _rows(request: HttpRequest, data: bytes, name: str) -> list[StaffRow]:
    return read_staff(read_sheets(data, name), by=request.user)  # type: ignore[arg-type]


def _page(request: HttpRequest, form: StaffFileForm, status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "batches": StaffImportBatch.objects.visible_to(request.user)[:30],
        "areas": area_selectors.visible_areas(request.user).filter(  # type: ignore[arg-type]
            level__in=[AreaLevel.STREET, AreaLevel.COMMUNITY, AreaLevel.GRID]
        )[:200],
    }
    return render(request, "accounts/staff.html", context, status=status)


@login_required
def staff(request: HttpRequest) -> HttpResponse:
    _may_import(request)
    form = StaffFileForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            form.add_error("file", _("The file is too large."))
        else:
            data = upload.read()
            try:
                rows = _rows(request, data, upload.name)
            except BilingualError as error:
                form.add_error("file", error.text)
            else:
                stash.keep(request.session, STASH, data=data, file_name=upload.name)
                return _preview(request, rows, upload.name)
    return _page(request, form, status=400 if form.errors else 200)


def _preview(request: HttpRequest, rows: list[StaffRow], name: str) -> HttpResponse:
    context = {
        "rows": [(r, mask_phone(r.phone) if r.phone else "") for r in rows],
        "file_name": name,
        "refused": sum(1 for r in rows if r.error),
        "new": sum(1 for r in rows if not r.error and not r.exists),
    }
    return render(request, "accounts/staff_preview.html", context)


@require_POST
@login_required
def confirm_staff(request: HttpRequest) -> HttpResponse:
    _may_import(request)
    kept = stash.load(request.session, STASH)
    if kept is None:
        messages.error(request, _("Upload the file again: its preview has expired."))
        return redirect("accounts:staff")
    data, name = kept
    rows = _rows(request, data, name)
    try:
        batch = services.import_staff(
            rows=rows,
            file_name=name,
            by=request.user,  # type: ignore[arg-type]
            context=AuditContext.from_request(request),
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return _preview(request, rows, name)
    stash.drop(request.session, STASH)
    messages.success(
        request,
        _("%(n)s accounts created; each was sent a sign-in code by SMS.")
        % {"n": batch.created_count},
    )
    return redirect("accounts:staff")


@require_POST
@login_required
def deactivate(request: HttpRequest) -> HttpResponse:
    """Ends the accounts of one staff import, or of everyone working only inside an area."""
    _may_import(request)
    batch = area = None
    try:
        batch_id, area_id = int(request.POST.get("batch") or 0), int(request.POST.get("area") or 0)
    except ValueError as error:
        raise PermissionDenied(_("Outside your jurisdiction.")) from error
    if batch_id:
        batch = StaffImportBatch.objects.visible_to(request.user).filter(pk=batch_id).first()
        if batch is None:
            raise PermissionDenied(_("Outside your jurisdiction."))
    else:
        area = area_selectors.area_for(request.user, area_id)  # type: ignore[arg-type]
    count = services.deactivate_staff(
        batch=batch,
        area=area,
        by=request.user,  # type: ignore[arg-type]
        context=AuditContext.from_request(request),
    )
    messages.success(request, _("%(n)s accounts deactivated.") % {"n": count})
    return redirect("accounts:staff")


@login_required
def staff_template(request: HttpRequest) -> HttpResponseBase:
    _may_import(request)
    return file_download(
        workbook([("人员", STAFF_COLUMNS, STAFF_EXAMPLES)]),
        filename="staff-template.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


def first_sign_in(request: HttpRequest) -> HttpResponse:
    """The page the SMS links to: user name, the one-time code, and a password of one's own."""
    form = FirstSignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.redeem_sign_in_code(
                username=form.cleaned_data["username"],
                code=form.cleaned_data["code"],
                password=form.cleaned_data["password"],
                context=AuditContext.from_request(request),
            )
        except ValidationError as error:
            if isinstance(error, services.SignInRefused):
                form.add_error(None, error.messages)
            else:
                form.add_error("password", error.messages)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            return redirect("reports:home")
    return render(
        request, "accounts/first_sign_in.html", {"form": form}, status=400 if form.errors else 200
    )

"""Pages of the registry: the area tree, residents (一人一档) and households (一户一档)."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from linli.accounts.selectors import staff_in_charge
from linli.areas import selectors as area_selectors
from linli.core.actors import AuditContext
from linli.core.downloads import file_download
from linli.core.errors import both_languages
from linli.core.pagination import CappedPaginator
from linli.core.roles import HOUSEHOLD_EDITORS, REGISTRY_STEWARDS, policy_for
from linli.registry import selectors
from linli.registry.forms import (
    FIELD_LABELS,
    ChooseValueForm,
    DecisionForm,
    HouseholdChangeForm,
    HouseholdSearchForm,
    PersonSearchForm,
    RevealForm,
    UploadForm,
    mapping_form,
    mapping_from,
    placements_from,
)
from linli.registry.importing import pipeline
from linli.registry.models import BatchStatus, ImportBatch
from linli.registry.sections import person_sections
from linli.registry.services import imports as import_services
from linli.registry.services import merges
from linli.registry.services import people as people_services


def _page(request: HttpRequest, queryset):
    return CappedPaginator(queryset, settings.LINLI_PAGE_SIZE).get_page(request.GET.get("page"))


def _query_without_page(request: HttpRequest) -> str:
    return urlencode([(k, v) for k, v in request.GET.items() if k != "page" and v])


@login_required
def area_roots(request: HttpRequest) -> HttpResponse:
    roots = area_selectors.root_areas(request.user)
    if len(roots) == 1:
        return redirect("registry:area", area_id=roots[0].pk)
    return render(request, "registry/area_roots.html", {"roots": roots})


@login_required
def area_detail(request: HttpRequest, area_id: int) -> HttpResponse:
    area = area_selectors.area_for(request.user, area_id)
    children = list(area_selectors.children_of(request.user, area))
    counts = selectors.counts_by_child(request.user, area)
    resident_counts, household_counts = counts.residents, counts.households
    staff = staff_in_charge([area, *children])
    rows = [
        {
            "area": child,
            "residents": resident_counts.get(child.path, 0),
            "households": household_counts.get(child.path, 0),
            "staff": staff.get(child.pk, []),
        }
        for child in children
    ]
    context = {
        "area": area,
        "ancestors": area_selectors.ancestors_of(area),
        "rows": rows,
        "staff": staff.get(area.pk, []),
        "residents": sum(resident_counts.values()),
        "households": sum(household_counts.values()),
        "tag_counts": selectors.tag_counts(request.user, area),
    }
    return render(request, "registry/area_detail.html", context)


@login_required
def people(request: HttpRequest) -> HttpResponse:
    """The resident list, with one search box that reads what is typed (a name, an address or
    its tail, the last four digits of a phone, a full ID number or phone).

    The box is posted and redirected to a GET whose URL holds keyed hashes instead of full ID
    numbers or phones (URLs end up in access logs and browser histories). A full identifier
    that still arrives in a URL (an old link) is redirected the same way."""
    source = request.POST if request.method == "POST" else request.GET
    id_number, phone = source.get("id_number", ""), source.get("phone", "")
    q = source.get("q", "")
    if (
        request.method == "POST"
        or selectors.has_full_identifier(id_number=id_number, phone=phone)
        or selectors.is_identifier_text(q)
    ):
        # A number searched before stays (as its hash) while only the filters change; typing
        # something new in the box replaces it.
        kept = (
            ("tag", "residency", "area")
            if q.strip()
            else ("tag", "residency", "area", "id_key", "phone_key")
        )
        params = {k: v for k, v in source.items() if k in kept and v}
        params.update(selectors.box_search_keys(q))
        params.update(selectors.search_keys(id_number=id_number, phone=phone))
        return redirect(f"{request.path}?{urlencode(params)}" if params else request.path)
    form = PersonSearchForm(request.GET or None)
    filters = selectors.PersonFilters()
    area = None
    if form.is_bound and not form.is_valid():
        # Show the error at the field instead of silently listing everybody.
        context = {"form": form, "area": None, "page": _page(request, []), "rows": [], "query": ""}
        return render(request, "registry/people.html", context, status=400)
    if form.is_valid():
        data = form.cleaned_data
        if data["area"]:
            area = area_selectors.area_for(request.user, data["area"])
        filters = selectors.PersonFilters(
            q=data["q"],
            id_number=data["id_number"],
            phone=data["phone"],
            tag=data["tag"],
            residency=data["residency"],
            area=area,
            id_key=data["id_key"],
            phone_key=data["phone_key"],
        )
    page = _page(request, selectors.people_for(request.user, filters))
    # Who looked up whose number: a search by a full ID number or phone is audited.
    people_services.record_identifier_search(
        keys=selectors.identifier_search_keys(filters),
        matches=page.paginator.count,
        by=request.user,
        area=area,
        context=AuditContext.from_request(request),
    )
    context = {
        "form": form,
        "area": area,
        "page": page,
        "rows": selectors.present_people(request.user, page.object_list),
        "query": _query_without_page(request),
    }
    return render(request, "registry/people.html", context)


@login_required
def person_detail(request: HttpRequest, person_id: int) -> HttpResponse:
    person = selectors.person_for(request.user, person_id)
    if person.merged_into_id:
        messages.info(request, _("This file was merged into another one."))
        return redirect("registry:person", person_id=person.merged_into_id)
    people_services.record_person_viewed(
        person=person, by=request.user, context=AuditContext.from_request(request)
    )
    context = {
        "person": person,
        "file": selectors.person_file(request.user, person),
        "reveal_form": RevealForm(),
        "sources": selectors.person_provenance(request.user, person),
        "merges": selectors.merges_into(request.user, person),
        "may_resolve": request.user.role in REGISTRY_STEWARDS,
        "field_labels": FIELD_LABELS,
        # What apps above the registry know about the person (screening flags, …).
        "sections": person_sections(request.user, person),
    }
    return render(request, "registry/person_detail.html", context)


@require_POST
@login_required
def reveal(request: HttpRequest, person_id: int) -> HttpResponse:
    """Returns the full value as an htmx fragment once a purpose is stated."""
    person = selectors.person_for(request.user, person_id)
    form = RevealForm(request.POST)
    context: dict = {"person": person, "field": request.POST.get("field", ""), "form": form}
    if form.is_valid():
        try:
            context["value"] = people_services.reveal_person_field(
                person=person,
                field=form.cleaned_data["field"],
                purpose=form.cleaned_data["purpose"],
                by=request.user,
                context=AuditContext.from_request(request),
            )
        except ValidationError as error:
            context["error"] = " ".join(error.messages)
        except PermissionDenied as error:
            return render(
                request,
                "registry/partials/reveal.html",
                {**context, "error": str(error)},
                status=403,
            )
    status = 200 if "value" in context else 400
    return render(request, "registry/partials/reveal.html", context, status=status)


@login_required
def households(request: HttpRequest) -> HttpResponse:
    """The household list. Its box is posted like the residents' one: an address or a head's
    name goes back into the URL, a full ID number or phone typed here is taken to the
    residents' list as its keyed hash (a household has no number of its own)."""
    if request.method == "POST":
        q = request.POST.get("q", "")
        area_param = {"area": request.POST["area"]} if request.POST.get("area") else {}
        if selectors.is_identifier_text(q):
            params = {**area_param, **selectors.box_search_keys(q)}
            return redirect(f"{reverse('registry:people')}?{urlencode(params)}")
        params = {**area_param, **({"q": q.strip()} if q.strip() else {})}
        return redirect(f"{request.path}?{urlencode(params)}" if params else request.path)
    if selectors.is_identifier_text(request.GET.get("q", "")):  # an old link
        params = selectors.box_search_keys(request.GET["q"])
        return redirect(f"{reverse('registry:people')}?{urlencode(params)}")
    form = HouseholdSearchForm(request.GET or None)
    area, q = None, ""
    if form.is_bound and not form.is_valid():
        context = {"form": form, "area": None, "page": _page(request, []), "rows": [], "query": ""}
        return render(request, "registry/households.html", context, status=400)
    if form.is_valid():
        q = form.cleaned_data["q"]
        if form.cleaned_data["area"]:
            area = area_selectors.area_for(request.user, form.cleaned_data["area"])
    page = _page(request, selectors.households_for(request.user, area=area, q=q))
    context = {
        "form": form,
        "area": area,
        "page": page,
        "rows": selectors.present_households(request.user, page.object_list),
        "query": _query_without_page(request),
    }
    return render(request, "registry/households.html", context)


@login_required
def household_detail(request: HttpRequest, household_id: int) -> HttpResponse:
    household = selectors.household_for(request.user, household_id)
    people_services.record_household_viewed(
        household=household, by=request.user, context=AuditContext.from_request(request)
    )
    context = {
        "household": household,
        "row": selectors.present_household(request.user, household),
        "may_edit": request.user.role in HOUSEHOLD_EDITORS,
    }
    return render(request, "registry/household_detail.html", context)


# ---------------------------------------------------------------------------------------------
# Imports (data stewards and community leads)


@login_required
def imports(request: HttpRequest) -> HttpResponse:
    areas = selectors.import_areas(request.user)
    form = UploadForm(request.POST or None, request.FILES or None, areas=areas)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            batch = import_services.stage_upload(
                area=form.cleaned_data["area"],
                source_name=form.cleaned_data["source_name"],
                source_kind=form.cleaned_data["source_kind"],
                file_name=upload.name,
                data=upload.read(),
                by=request.user,
                context=AuditContext.from_request(request),
            )
        except pipeline.ImportRefused as error:
            form.add_error("file", " ".join(error.messages))
        else:
            return redirect("registry:import", batch_id=batch.pk)
    context = {
        "form": form,
        "batches": selectors.batches_for(request.user)[:30],
        "pending_reviews": selectors.reviews_for(request.user).count(),
    }
    return render(request, "registry/imports.html", context, status=400 if form.errors else 200)


def _progress_context(batch: ImportBatch) -> dict[str, object]:
    """Returns the progress card's context: the batch and, for a failed import, the reason in
    the reader's language where Linli wrote it (the stored text is in both languages, for
    the file and the CLI); any other stored error is a technical detail, folded away."""
    failure = None
    if batch.status == BatchStatus.FAILED and batch.error == both_languages(
        import_services.NEVER_CONFIRMED
    ):
        failure = str(import_services.NEVER_CONFIRMED)
    return {"batch": batch, "failure": failure}


@login_required
def import_detail(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = selectors.batch_for(request.user, batch_id)
    if batch.status != BatchStatus.UPLOADED:
        return render(request, "registry/import_detail.html", _progress_context(batch))
    form = mapping_form(batch.headers, batch.mapping, request.POST or None)
    mapping = mapping_from(form, batch.headers) if form.is_valid() else batch.mapping
    placements = placements_from(request.POST) if request.method == "POST" else None
    if request.method == "POST" and form.is_valid() and "confirm" in request.POST:
        try:
            import_services.confirm_batch(
                batch=batch,
                mapping=mapping,
                placements=placements,
                by=request.user,
                context=AuditContext.from_request(request),
            )
        except pipeline.ImportRefused as error:
            form.add_error(None, " ".join(error.messages))
        else:
            return redirect("registry:import", batch_id=batch.pk)
    mapped = set(mapping.values())
    preview = pipeline.preview_batch(
        batch, mapping=mapping, placements=placements, viewer=request.user
    )
    context = {
        "batch": batch,
        "form": form,
        "preview": preview,
        # Each column's select with what Linli read in it and why.
        "columns": list(zip(form, preview.columns, strict=False)),
        # Only the fields some column is mapped to: the preview must fit a laptop's width.
        "field_labels": {k: v for k, v in FIELD_LABELS.items() if k and k in mapped},
    }
    partial = request.htmx and "confirm" not in request.POST
    template = "registry/partials/import_preview.html" if partial else "registry/import_detail.html"
    return render(request, template, context)


@login_required
def import_progress(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The progress bar, polled by htmx until the import finishes."""
    batch = selectors.batch_for(request.user, batch_id)
    return render(request, "registry/partials/import_progress.html", _progress_context(batch))


@login_required
def import_rejected(request: HttpRequest, batch_id: int) -> HttpResponse:
    """The rejected rows with the reason per row, as CSV for Excel (UTF-8 with BOM)."""
    batch = selectors.batch_for(request.user, batch_id)
    records = selectors.rejected_records(request.user, batch)
    body = import_services.export_rejected_rows(
        batch=batch, records=records, by=request.user, context=AuditContext.from_request(request)
    )
    return file_download(
        body, filename=f"rejected-{batch.pk}.csv", content_type="text/csv; charset=utf-8"
    )


# ---------------------------------------------------------------------------------------------
# The review queue, merges and chosen values


@login_required
def reviews(request: HttpRequest) -> HttpResponse:
    page = _page(request, selectors.reviews_for(request.user))
    policy = policy_for(request.user)
    labels = selectors.ChoiceLabels.current()
    pairs = [
        (
            review,
            selectors.present_person(review.left, policy, labels=labels),
            selectors.present_person(review.right, policy, labels=labels),
        )
        for review in page.object_list
    ]
    return render(request, "registry/reviews.html", {"page": page, "pairs": pairs, "query": ""})


@login_required
def review_detail(request: HttpRequest, review_id: int) -> HttpResponse:
    review = selectors.review_for(request.user, review_id)
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            merges.decide_review(
                review=review,
                same_person=form.cleaned_data["same_person"],
                by=request.user,
                context=AuditContext.from_request(request),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        return redirect("registry:reviews")
    context = {
        "review": review,
        "explanation": selectors.explain_review(review),
        "left": selectors.person_file(request.user, review.left),
        "right": selectors.person_file(request.user, review.right),
        "left_sources": selectors.person_provenance(request.user, review.left),
        "right_sources": selectors.person_provenance(request.user, review.right),
        "form": form,
    }
    return render(request, "registry/review_detail.html", context)


@require_POST
@login_required
def undo_merge(request: HttpRequest, merge_id: int) -> HttpResponse:
    merge = selectors.merge_for(request.user, merge_id)
    try:
        merges.unmerge(merge=merge, by=request.user, context=AuditContext.from_request(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The merge was undone: both files are back."))
    return redirect("registry:person", person_id=merge.survivor_id)


@require_POST
@login_required
def choose_value(request: HttpRequest, person_id: int) -> HttpResponse:
    person = selectors.person_for(request.user, person_id)
    form = ChooseValueForm(request.POST)
    if form.is_valid():
        record = person.records.filter(pk=form.cleaned_data["record"]).first()
        try:
            if record is None:
                raise ValidationError(merges.NOT_A_SOURCE_VALUE)
            merges.choose_field_value(
                person=person,
                field=form.cleaned_data["field"],
                record=record,
                by=request.user,
                context=AuditContext.from_request(request),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
    return redirect("registry:person", person_id=person.pk)


@require_POST
@login_required
def change_household(request: HttpRequest, household_id: int) -> HttpResponse:
    """Moves a member out into a household of their own, or makes a member the head."""
    household = selectors.household_for(request.user, household_id)
    form = HouseholdChangeForm(request.POST)
    if form.is_valid():
        person = selectors.person_for(request.user, form.cleaned_data["person"])
        if person.household_id != household.pk or person.merged_into_id:
            raise Http404("not a member of this household")
        try:
            if form.cleaned_data["action"] == "make_head":
                people_services.set_household_head(
                    household=household,
                    person=person,
                    by=request.user,
                    context=AuditContext.from_request(request),
                )
            else:
                people_services.move_to_household(
                    person=person,
                    household=None,
                    relation="",
                    by=request.user,
                    context=AuditContext.from_request(request),
                )
        except (ValidationError, PermissionDenied) as error:
            messages.error(request, " ".join(getattr(error, "messages", [str(error)])))
        else:
            messages.success(request, _("The household was corrected."))
    return redirect("registry:household", household_id=household.pk)

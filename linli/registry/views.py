"""Pages of the registry: the area tree, residents (一人一档) and households (一户一档)."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from linli.accounts.selectors import staff_in_charge
from linli.areas import selectors as area_selectors
from linli.core.pagination import CappedPaginator
from linli.registry import selectors, services
from linli.registry.forms import HouseholdSearchForm, PersonSearchForm, RevealForm


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
    people = selectors.people_for(request.user)
    resident_counts = area_selectors.count_by_child(people, path_field="area_path", area=area)
    household_counts = area_selectors.count_by_child(
        selectors.households_for(request.user), path_field="area_path", area=area
    )
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
        )
    page = _page(request, selectors.people_for(request.user, filters))
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
    services.record_person_viewed(person=person, by=request.user, request=request)
    context = {
        "person": person,
        "file": selectors.person_file(request.user, person),
        "reveal_form": RevealForm(),
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
            context["value"] = services.reveal_person_field(
                person=person,
                field=form.cleaned_data["field"],
                purpose=form.cleaned_data["purpose"],
                by=request.user,
                request=request,
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
    services.record_household_viewed(household=household, by=request.user, request=request)
    context = {
        "household": household,
        "row": selectors.present_household(request.user, household),
    }
    return render(request, "registry/household_detail.html", context)

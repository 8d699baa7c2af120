"""JSON API for areas, people and households (mounted under /api/ by config.api).

Views are thin: they parse the query, call the same selectors and services as the pages, and
shape the result. Jurisdiction and masking are decided in linli.registry.selectors, never here.
PermissionDenied and Http404 become bilingual JSON 403/404 responses in config.api.
"""

from dataclasses import asdict
from typing import Annotated, Any, Literal

from django.conf import settings
from django.core.paginator import EmptyPage
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import BeforeValidator, field_validator

from linli.accounts.selectors import staff_in_charge
from linli.areas import selectors as area_selectors
from linli.areas.models import Area
from linli.core.actors import AuditContext
from linli.core.errors import both_languages
from linli.core.pagination import CappedPaginator
from linli.registry import selectors
from linli.registry.models import Residency, VulnerableTag
from linli.registry.services import people as people_services

router = Router()

PAGE_OUT_OF_RANGE = _("Page out of range")
FULL_IDENTIFIER_IN_URL = _(
    "Send a full ID number or phone to POST /api/people/search, not in the URL (URLs are "
    "written to logs)"
)

# Display labels come from Django choices as lazy translation proxies; pydantic only accepts
# real strings, so they are rendered (in the request's language) on the way out.
Label = Annotated[str, BeforeValidator(str)]


# --- Schemas ------------------------------------------------------------------------------


class ErrorOut(Schema):
    code: str
    detail: Any = Field(description="Message in Chinese and English / 中英文说明")


class AreaOut(Schema):
    id: int
    name: str
    level: str = Field(description="city, district, street, community, grid, compound, …")
    level_label: Label
    code: str = Field(description="12-digit statistical division code (city to community)")


class StaffOut(Schema):
    display_name: str
    role: str
    role_label: Label
    work_phone: str


class AreaChildOut(AreaOut):
    residents: int = Field(description="people registered anywhere below this child")
    households: int
    staff: list[StaffOut]


class AreaDetailOut(AreaOut):
    ancestors: list[str] = Field(description="names from the top of the tree down")
    children: list[AreaChildOut]
    staff: list[StaffOut] = Field(description="staff assigned to this area")


class PersonRowOut(Schema):
    """A person as the caller may see them: identifiers always masked, names masked above the
    community level."""

    id: int
    name: str
    sex: Label
    age: int | None
    id_number: str = Field(description="masked, e.g. 6101**********1234")
    phone: str = Field(description="masked, e.g. 138****5678")
    address: str
    residency: Label
    tags: list[Label] = Field(description="vulnerable-group labels; empty for roles not cleared")
    household_id: int | None
    relation: Label
    residency_code: str = Field(description="registered | resident | floating")
    relation_code: str = Field(description="relation to the head of household, e.g. spouse")
    tag_codes: list[str] = Field(description="vulnerable-group codes, e.g. dialysis")


class PersonFileOut(PersonRowOut):
    birth_date: str
    has_smartphone: bool
    dwelling_id: int | None
    members: list[PersonRowOut] = Field(description="the other members of the household")
    revealable: list[str] = Field(description="fields the caller may reveal with a purpose")


class PageInfo(Schema):
    count: int = Field(description="rows matching the filters, counted up to 10,000")
    count_is_capped: bool = Field(description="true when more rows match than were counted")
    page: int
    pages: int
    page_size: int
    next: int | None = Field(description="next page number, null on the last page")
    previous: int | None


class PersonPageOut(PageInfo):
    results: list[PersonRowOut]


class HouseholdOut(Schema):
    id: int
    address: str
    head: str
    size: int


class HouseholdDetailOut(HouseholdOut):
    members: list[PersonRowOut]


class HouseholdPageOut(PageInfo):
    results: list[HouseholdOut]


def _blank_is_none(value: object) -> object:
    # Search forms send every field, empty ones as "": treat those as "not filtered".
    return None if value == "" else value


class PageQuery(Schema):
    page: int = Field(1, ge=1)
    area: int | None = Field(None, description="an area id: only rows below it")

    @field_validator("page", mode="before")
    @classmethod
    def blank_page_is_first(cls, value: object) -> object:
        return 1 if value in ("", None) else value

    @field_validator("area", mode="before")
    @classmethod
    def blank_area_is_none(cls, value: object) -> object:
        return _blank_is_none(value)


class PeopleQuery(PageQuery):
    q: str = Field("", description="part of a name or of a compound/building")
    id_number: str = Field("", description="a full ID number (searched by keyed hash)")
    phone: str = Field("", description="a full phone number, or its last four digits")
    tag: VulnerableTag | None = None
    residency: Residency | None = None

    @field_validator("tag", "residency", mode="before")
    @classmethod
    def blank_choice_is_none(cls, value: object) -> object:
        return _blank_is_none(value)


class HouseholdQuery(PageQuery):
    q: str = Field("", description="part of a compound/building name")


REVEAL_PURPOSES = tuple(key for key, _ in settings.LINLI_REVEAL_PURPOSES)


class RevealIn(Schema):
    field: Literal[people_services.REVEALABLE_FIELDS]  # type: ignore[valid-type]
    # An enum in the document, built from the setting: a purpose not listed is a 422 naming
    # the field, like any other invalid value (the service checks it again for the pages).
    purpose: Literal[REVEAL_PURPOSES] = Field(  # type: ignore[valid-type]
        description="why the full value is needed (audited)",
        examples=REVEAL_PURPOSES[:1],
    )


class RevealOut(Schema):
    value: str


ERRORS = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


# --- Helpers (API-specific shaping only) ---------------------------------------------------


def _area_out(area: Area) -> dict:
    return {
        "id": area.pk,
        "name": area.name,
        "level": area.level,
        "level_label": area.get_level_display(),
        "code": area.code,
    }


def _staff_out(assignments) -> list[dict]:
    return [
        {
            "display_name": str(a.user),
            "role": a.user.role,
            "role_label": a.user.get_role_display(),
            "work_phone": a.user.work_phone,
        }
        for a in assignments
    ]


def _area_filter(request: HttpRequest, area_id: int | None) -> Area | None:
    """Returns the area to filter by; Http404 when it is outside the caller's jurisdiction."""
    return None if area_id is None else area_selectors.area_for(request.user, area_id)


def _paginate(queryset: QuerySet, page: int) -> tuple[list, dict]:
    """Returns (rows of the page, page info). A page past the end is a 404, as in most APIs,
    so a client walking `next` never loops on a clamped last page."""
    size = settings.LINLI_PAGE_SIZE
    paginator = CappedPaginator(queryset, size)
    try:
        current = paginator.page(page)
    except EmptyPage:
        raise HttpError(404, both_languages(PAGE_OUT_OF_RANGE)) from None
    info = {
        "count": min(paginator.count, paginator.cap),
        "count_is_capped": paginator.is_capped,
        "page": current.number,
        "pages": paginator.num_pages,
        "page_size": size,
        "next": current.next_page_number() if current.has_next() else None,
        "previous": current.previous_page_number() if current.has_previous() else None,
    }
    return list(current.object_list), info


def _person_file_out(file: selectors.PersonFile) -> dict:
    # Flattened: the row's fields at the top, as integrators expect of a "person" object.
    return {
        **asdict(file.row),
        "birth_date": file.birth_date,
        "has_smartphone": file.has_smartphone,
        "dwelling_id": file.dwelling_id,
        "members": [asdict(m) for m in file.members],
        "revealable": list(file.revealable),
    }


# --- Areas ---------------------------------------------------------------------------------


@router.get("/areas", response={200: list[AreaOut], **ERRORS}, tags=["areas"])
def list_root_areas(request: HttpRequest):
    """The caller's top areas (the nodes they are assigned to) / 本人负责的区域."""
    return [_area_out(area) for area in area_selectors.root_areas(request.user)]


@router.get("/areas/{area_id}", response={200: AreaDetailOut, **ERRORS}, tags=["areas"])
def get_area(request: HttpRequest, area_id: int):
    """An area with its ancestors, its children (resident and household counts, staff) and the
    staff in charge / 区域详情. 404 outside the caller's jurisdiction; 403 for a role that
    does not browse residents (as the area page)."""
    user = request.user
    area = area_selectors.area_for(user, area_id)
    children = list(area_selectors.children_of(user, area))
    counts = selectors.counts_by_child(user, area)
    residents, households = counts.residents, counts.households
    staff = staff_in_charge([area, *children])
    return {
        **_area_out(area),
        "ancestors": [a.name for a in area_selectors.ancestors_of(area)],
        "children": [
            {
                **_area_out(child),
                "residents": residents.get(child.path, 0),
                "households": households.get(child.path, 0),
                "staff": _staff_out(staff.get(child.pk, [])),
            }
            for child in children
        ],
        "staff": _staff_out(staff.get(area.pk, [])),
    }


# --- People --------------------------------------------------------------------------------


def _people_page(request: HttpRequest, filters: PeopleQuery) -> dict:
    user = request.user
    person_filters = selectors.PersonFilters(
        q=filters.q,
        id_number=filters.id_number,
        phone=filters.phone,
        tag=filters.tag or "",
        residency=filters.residency or "",
        area=_area_filter(request, filters.area),
    )
    rows, info = _paginate(selectors.people_for(user, person_filters), filters.page)
    people_services.record_identifier_search(
        keys=selectors.identifier_search_keys(person_filters),
        matches=info["count"],
        by=user,
        area=person_filters.area,
        context=AuditContext.from_request(request),
    )
    return {**info, "results": [asdict(r) for r in selectors.present_people(user, rows)]}


@router.get("/people", response={200: PersonPageOut, **ERRORS, 422: ErrorOut}, tags=["people"])
def list_people(request: HttpRequest, filters: Query[PeopleQuery]):
    """Residents in the caller's jurisdiction, masked for their role, 50 a page / 居民列表.

    In the query string an ID number may be given masked (6101**********1237) or as its last
    four characters, a phone as its last four digits. A full ID number or phone is refused
    here (URLs are logged): send it to POST /api/people/search.
    """
    if selectors.has_full_identifier(id_number=filters.id_number, phone=filters.phone):
        raise HttpError(422, both_languages(FULL_IDENTIFIER_IN_URL))
    return _people_page(request, filters)


@router.post(
    "/people/search", response={200: PersonPageOut, **ERRORS, 422: ErrorOut}, tags=["people"]
)
def search_people(request: HttpRequest, filters: PeopleQuery):
    """The resident list searched with a full ID number or phone in the body (matched whole
    through a keyed hash: a partial ID finds nobody)."""
    return _people_page(request, filters)


@router.get("/people/{person_id}", response={200: PersonFileOut, **ERRORS}, tags=["people"])
def get_person(request: HttpRequest, person_id: int):
    """A person's file (一人一档) with household members; the view is written to the audit
    log."""
    person = selectors.person_for(request.user, person_id)
    file = selectors.person_file(request.user, person)
    people_services.record_person_viewed(
        person=person, by=request.user, context=AuditContext.from_request(request)
    )
    return _person_file_out(file)


@router.post(
    "/people/{person_id}/reveal",
    response={200: RevealOut, **ERRORS, 400: ErrorOut, 422: ErrorOut},
    tags=["people"],
)
def reveal_person_field(request: HttpRequest, person_id: int, body: RevealIn):
    """The full ID number or phone, for a stated purpose; audited / 查看完整信息（留痕）.

    403 when the role may not reveal, 422 when the purpose is not a listed one; nothing is
    logged then. Needs the CSRF token (X-CSRFToken header).
    """
    person = selectors.person_for(request.user, person_id)
    value = people_services.reveal_person_field(
        person=person,
        field=body.field,
        purpose=body.purpose,
        by=request.user,
        context=AuditContext.from_request(request),
    )
    return {"value": value}


# --- Households ----------------------------------------------------------------------------


@router.get(
    "/households", response={200: HouseholdPageOut, **ERRORS, 422: ErrorOut}, tags=["households"]
)
def list_households(request: HttpRequest, filters: Query[HouseholdQuery]):
    """Households in the caller's jurisdiction, 50 a page / 家庭户列表."""
    user = request.user
    households = selectors.households_for(
        user, area=_area_filter(request, filters.area), q=filters.q
    )
    rows, info = _paginate(households, filters.page)
    results = [asdict(h) for h in selectors.present_households(user, rows)]
    for row in results:
        del row["members"]  # not loaded for lists; see /households/{id}
    return {**info, "results": results}


@router.get(
    "/households/{household_id}", response={200: HouseholdDetailOut, **ERRORS}, tags=["households"]
)
def get_household(request: HttpRequest, household_id: int):
    """A household's file (一户一档) with its members; the view is written to the audit log."""
    household = selectors.household_for(request.user, household_id)
    row = selectors.present_household(request.user, household)
    people_services.record_household_viewed(
        household=household, by=request.user, context=AuditContext.from_request(request)
    )
    return asdict(row)

"""Reads of the registry. Every function takes the acting user and returns masked views."""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from django.core.exceptions import PermissionDenied
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from linli.areas import selectors as area_selectors
from linli.areas.models import Area
from linli.core import identifiers
from linli.core.actors import Actor
from linli.core.clock import local_today
from linli.core.idnumbers import InvalidIdNumber, parse_id_number
from linli.core.masking import HIDDEN_TEXT, mask_address, present
from linli.core.permissions import require
from linli.core.phones import InvalidPhone, normalise_phone
from linli.core.roles import REGISTRY_STEWARDS, RolePolicy, policy_for
from linli.core.sensitivity import Sensitivity
from linli.registry.importing.addresses import parse_address
from linli.registry.matching.engine import MatchSettings
from linli.registry.models import (
    Household,
    ImportBatch,
    MatchReview,
    Person,
    PersonMerge,
    PersonTag,
    Relation,
    Residency,
    ReviewStatus,
    Sex,
    SourceRecord,
    VulnerableTag,
)
from linli.registry.provenance import (
    CHOSEN_FIELDS,
    FieldProvenance,
    SourceValue,
    priority_of,
    record_value,
)
from linli.registry.services.people import ID_KIND, PHONE_KIND


@dataclass(frozen=True)
class PersonFilters:
    q: str = ""  # name or address fragment
    id_number: str = ""  # a full ID number, looked up through the keyed hash
    phone: str = ""  # a full phone (keyed hash) or its last four digits
    tag: str = ""
    residency: str = ""
    area: Area | None = None
    # Keyed hashes of a full ID number / phone: what a search URL carries instead of the value.
    id_key: str = ""
    phone_key: str = ""


@dataclass(frozen=True)
class PersonRow:
    """A person as the acting user may see them."""

    id: int
    name: str
    sex: str
    age: int | None
    id_number: str
    phone: str
    address: str
    residency: str
    tags: list[str]
    household_id: int | None
    relation: str
    # Codes beside the labels: integrations filter by code whatever the display language.
    residency_code: str = ""
    relation_code: str = ""
    tag_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PersonFile:
    row: PersonRow
    birth_date: str
    has_smartphone: bool
    dwelling_id: int | None
    members: list[PersonRow] = field(default_factory=list)
    revealable: tuple[str, ...] = ()


@dataclass(frozen=True)
class HouseholdRow:
    id: int
    address: str
    head: str
    size: int
    members: list[PersonRow]


def _require_browse(user: Actor) -> RolePolicy:
    policy = policy_for(user)
    if not policy.may_browse_people:
        raise PermissionDenied(_("This role does not browse residents."))
    return policy


def age_on(birth: date | None, today: date) -> int | None:
    if birth is None:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@dataclass(frozen=True)
class ChoiceLabels:
    """Choice labels translated once per request, not once per row and field."""

    sex: dict[str, str]
    residency: dict[str, str]
    relation: dict[str, str]
    tag: dict[str, str]

    @classmethod
    def current(cls) -> "ChoiceLabels":
        def strings(choices: Iterable[tuple[str, object]]) -> dict[str, str]:
            return {value: str(label) for value, label in choices}

        return cls(
            sex=strings(Sex.choices),
            residency=strings(Residency.choices),
            relation=strings(Relation.choices),
            tag=strings(VulnerableTag.choices),
        )


def present_person(
    person: Person,
    policy: RolePolicy,
    *,
    today: date | None = None,
    labels: ChoiceLabels | None = None,
) -> PersonRow:
    """Returns the person's fields masked for the role (tags must be prefetched)."""
    today = today or local_today()
    labels = labels or ChoiceLabels.current()
    age = age_on(person.birth_date, today)
    personal = policy.visibility(Sensitivity.PERSONAL)
    sensitive_clear = policy.visibility(Sensitivity.SENSITIVE) == "clear"
    tag_codes = tuple(t.tag for t in person.tags.all()) if sensitive_clear else ()
    return PersonRow(
        id=person.pk,
        name=present(person.name, sensitivity=Sensitivity.PERSONAL, policy=policy),
        sex=labels.sex.get(person.sex, "") if personal != "hidden" else HIDDEN_TEXT,
        age=age if personal != "hidden" else None,
        id_number=person.id_number_masked or "",
        phone=person.phone_masked or "",
        address=present(
            person.address,
            sensitivity=Sensitivity.PERSONAL,
            policy=policy,
            mask=lambda _: mask_address(person.address_building, person.address_dwelling),
        ),
        residency=labels.residency.get(person.residency, ""),
        tags=[labels.tag[code] for code in tag_codes],
        household_id=person.household_id,
        relation=labels.relation.get(person.relation_to_head, ""),
        residency_code=person.residency,
        relation_code=person.relation_to_head,
        tag_codes=tag_codes,
    )


def _filter_by_id_number(people: QuerySet[Person], text: str) -> QuerySet[Person]:
    """A full number is looked up by keyed hash; the masked form as shown on screens
    (6101**********123X) or its last four characters match the stored masked value. Any
    other fragment matches nobody: the full number is never searched with LIKE."""
    text = text.strip().upper()
    if "*" in text:
        return people.filter(id_number_masked=text)
    if len(text) == 4:
        return people.filter(id_number_masked__endswith=text)
    try:
        value = parse_id_number(text).value
    except InvalidIdNumber:
        return people.none()
    return people.filter(id_number_hash=identifiers.keyed_hash(ID_KIND, value))


def search_keys(*, id_number: str = "", phone: str = "") -> dict[str, str]:
    """Returns URL-safe search parameters for identifiers: a full ID number or phone becomes
    its keyed hash (id_key / phone_key) so it never sits in a URL, a log or browser history;
    masked forms and last-four searches stay as typed."""
    params: dict[str, str] = {}
    id_text = id_number.strip()
    if id_text:
        try:
            params["id_key"] = identifiers.keyed_hash(ID_KIND, parse_id_number(id_text).value)
        except InvalidIdNumber:
            params["id_number"] = id_text
    phone_text = phone.strip()
    if phone_text:
        if len(phone_text) == 4 and phone_text.isdigit():
            params["phone"] = phone_text
        else:
            try:
                params["phone_key"] = identifiers.keyed_hash(
                    PHONE_KIND, normalise_phone(phone_text)
                )
            except InvalidPhone:
                params["phone"] = phone_text
    return params


def has_full_identifier(*, id_number: str = "", phone: str = "") -> bool:
    """Returns whether a search carries a full ID number or phone (which belongs in a POST)."""
    keys = search_keys(id_number=id_number, phone=phone)
    return "id_key" in keys or "phone_key" in keys


def identifier_search_keys(filters: PersonFilters) -> dict[str, str]:
    """Returns the keyed hashes of the full identifiers a search filters by, by field
    ("id_number", "phone"): what services.people.record_identifier_search audits. Masked IDs
    and last-four searches are not full identifiers and are left out."""
    typed = search_keys(id_number=filters.id_number, phone=filters.phone)
    if filters.q:  # a full identifier typed into the box (the API's q, an old link)
        typed = box_search_keys(filters.q) | typed
    keys = {
        "id_number": filters.id_key or typed.get("id_key", ""),
        "phone": filters.phone_key or typed.get("phone_key", ""),
    }
    return {field: key for field, key in keys.items() if key}


# ---------------------------------------------------------------------------------------------
# The one search box: a name, an address or its tail, the last four digits of a phone or an ID
# number, a masked ID, or a full ID number or phone. The full identifiers never travel in a URL:
# the page posts the box and redirects to a URL holding their keyed hash instead.

# Digits (and X) with the separators people type inside numbers. Ten or more of them, or seven
# or more with no separator, are taken for an identifier even when not a valid one (a mistyped
# ID number is still somebody's number and must not land in a URL or a log); fewer, with
# dashes, are an address ("12-3-1203").
_NUMBER_SEPARATORS = re.compile(r"[\s\-()+]")
_DIGITS = re.compile(r"[0-9]+X?")
_TAIL = re.compile(r"[0-9]{3}[0-9X]")
# A number inside other words: digits with the separators people type, ending in a digit or X.
_EMBEDDED_NUMBER = re.compile(r"\+?[0-9][0-9\s\-()]*[0-9X]")
_SPACES = re.compile(r"\s+")


def fold_search_text(text: str) -> str:
    """Returns typed search text folded: full-width to half-width, spaces removed, trimmed."""
    return _SPACES.sub("", unicodedata.normalize("NFKC", text or ""))


def box_search_keys(text: str) -> dict[str, str]:
    """Returns the URL parameters for what was typed in the search box.

    A full ID number (any case of X, spaces, full-width digits) becomes {"id_key": hash}, a
    full phone {"phone_key": hash}; any other long number is hashed as an ID number too, so
    that it never reaches a URL (it matches nobody). A number typed beside words ("张三
    13812345678") is hashed the same way and the words stay the text to search, {"q": "张三"}.
    Everything else is {"q": text}.
    """
    folded = fold_search_text(text).upper()
    if not folded:
        return {}
    whole = _number_keys(folded)
    if whole:
        return whole
    keys: dict[str, str] = {}
    rest = unicodedata.normalize("NFKC", text).upper()
    for match in _EMBEDDED_NUMBER.finditer(rest):
        found = _number_keys(match[0])
        if found:
            keys |= found
            rest = rest.replace(match[0], " ", 1)
    if not keys:
        return {"q": text.strip()}
    rest = _SPACES.sub(" ", rest).strip()
    return keys | ({"q": rest} if rest else {})


def _number_keys(text: str) -> dict[str, str]:
    """Returns the keyed hash of a number long enough to be an identifier, or {}."""
    folded = fold_search_text(text).upper()
    core = _NUMBER_SEPARATORS.sub("", folded)
    number_like = bool(_DIGITS.fullmatch(core)) and (
        len(core) >= 10 or (core == folded and len(core) >= 7)
    )
    if not number_like:
        return {}
    try:
        return {"id_key": identifiers.keyed_hash(ID_KIND, parse_id_number(folded).value)}
    except InvalidIdNumber:
        pass
    try:
        return {"phone_key": identifiers.keyed_hash(PHONE_KIND, normalise_phone(folded))}
    except InvalidPhone:
        return {"id_key": identifiers.keyed_hash(ID_KIND, core)}


def is_identifier_text(text: str) -> bool:
    """Returns whether typed text holds a full (or full-looking) ID number or phone."""
    return bool(box_search_keys(text).keys() & {"id_key", "phone_key"})


_BUILDING_SUFFIXES = "(号楼|号栋|号幢|栋|幢|座|号|#楼|#|楼)"
_UNIT_SUFFIXES = "(单元|单|门)"
_ROOM_SUFFIXES = "(室|号|户)?"


def _number_of(name: str) -> str:
    """Returns the number or letters of a canonical part name: "3号楼" → "3", "A座" → "A"."""
    match = re.match(r"[0-9]*[A-Z]?", name)
    return match[0] if match and match[0] else ""


def address_q(text: str, *, prefix: str = "") -> Q | None:
    """Returns a filter for the dwellings an address or its tail names, or None when the text
    names no building or room.

    Stored addresses are two halves, "春晓公寓1号楼" (address_building) and "1单元101室"
    (address_dwelling), shown as one. The text is read like an imported address
    (importing.addresses.parse_address), so "春晓公寓1号楼1单元101室", "1号楼1单元101室",
    "1-1-101", "1栋1门101号" and "１幢 １单元 １０１" name the same dwelling; building and
    room numbers match whole ("1号楼" is not "11号楼", "101室" not "1101室"). `prefix`
    reaches the halves through a relation.
    """
    parts = parse_address(text)
    if not (parts.building or parts.room):
        return None
    condition = Q()
    if parts.building:
        number = _number_of(parts.building)
        if not number:
            return None
        compound = re.escape(parts.compound) + "[^0-9A-Z]*" if parts.compound else "(^|[^0-9A-Z])"
        condition &= Q(
            **{f"{prefix}address_building__regex": f"{compound}{number}{_BUILDING_SUFFIXES}$"}
        )
    elif parts.compound:
        condition &= Q(**{f"{prefix}address_building__contains": parts.compound})
    unit = _number_of(parts.unit) if parts.unit else ""
    room = _number_of(parts.room) if parts.room else ""
    if unit and room:
        dwelling = f"^{unit}{_UNIT_SUFFIXES}-?{room}{_ROOM_SUFFIXES}$"
    elif room:
        dwelling = f"(^|[^0-9]){room}{_ROOM_SUFFIXES}$"
    elif unit:
        dwelling = f"^{unit}{_UNIT_SUFFIXES}"
    else:
        dwelling = ""
    if dwelling:
        condition &= Q(**{f"{prefix}address_dwelling__regex": dwelling})
    return condition


def _box_q(text: str) -> Q:
    """Returns what the search box's text (not a full identifier) matches among people."""
    folded = fold_search_text(text)
    upper = folded.upper()
    if "*" in folded:  # a masked ID or phone, as shown on screens
        return Q(id_number_masked=upper) | Q(phone_masked=folded)
    condition = Q(name__contains=folded) | Q(address_building__contains=folded)
    if _TAIL.fullmatch(upper):  # last four of a phone or an ID number (or a room number)
        condition |= Q(id_number_masked__endswith=upper)
        if upper.isdigit():
            condition |= Q(phone_tail=upper)
    address = address_q(text)  # parse_address folds spaces between numbers to dashes itself
    if address is not None:
        condition |= address
    return condition


def filter_people(people: QuerySet[Person], filters: PersonFilters) -> QuerySet[Person]:
    """Applies search filters. A malformed full ID or phone matches nobody, never by LIKE."""
    if filters.area is not None:
        people = people.filter(area_path__startswith=filters.area.path)
    if filters.q and fold_search_text(filters.q):
        keys = box_search_keys(filters.q)
        if keys.get("id_key") or keys.get("phone_key"):
            # A full identifier typed into the box of the API or an old link, maybe with words
            people = filter_people(
                people,
                PersonFilters(
                    q=keys.get("q", ""),
                    id_key=keys.get("id_key", ""),
                    phone_key=keys.get("phone_key", ""),
                ),
            )
        else:
            people = people.filter(_box_q(filters.q))
    if filters.id_number:
        people = _filter_by_id_number(people, filters.id_number)
    if filters.phone:
        digits = filters.phone.strip()
        if len(digits) == 4 and digits.isdigit():
            people = people.filter(phone_tail=digits)
        else:
            try:
                phone = normalise_phone(digits)
            except InvalidPhone:
                return people.none()
            people = people.filter(phone_hash=identifiers.keyed_hash(PHONE_KIND, phone))
    if filters.id_key:
        people = people.filter(id_number_hash=filters.id_key)
    if filters.phone_key:
        people = people.filter(phone_hash=filters.phone_key)
    if filters.tag:
        people = people.filter(tags__tag=filters.tag)
    if filters.residency:
        people = people.filter(residency=filters.residency)
    return people


def current_people(user: Actor) -> QuerySet[Person]:
    """Returns the user's people without the files merged into others."""
    return Person.objects.visible_to(user).filter(merged_into__isnull=True)


def people_for(user: Actor, filters: PersonFilters | None = None) -> QuerySet[Person]:
    """Returns the people in the user's jurisdiction matching the filters, in address order.

    Raises PermissionDenied for roles that do not browse residents.
    """
    _require_browse(user)
    people = filter_people(current_people(user), filters or PersonFilters())
    return people.order_by("id").prefetch_related(
        Prefetch("tags", queryset=PersonTag.objects.order_by("tag"))
    )


def present_people(user: Actor, people: Iterable[Person]) -> list[PersonRow]:
    policy = policy_for(user)
    today = local_today()
    labels = ChoiceLabels.current()
    return [present_person(p, policy, today=today, labels=labels) for p in people]


def person_for(user: Actor, person_id: int) -> Person:
    """Returns the person if visible to the user. Raises Http404 or PermissionDenied."""
    _require_browse(user)
    person = (
        Person.objects.visible_to(user)
        .filter(pk=person_id)
        .prefetch_related("tags")
        .select_related("household")
        .first()
    )
    if person is None:
        raise Http404("person not found")
    return person


def person_file(user: Actor, person: Person) -> PersonFile:
    """Returns the person's file (一人一档) with household members, masked for the user."""
    policy = _require_browse(user)
    members: list[PersonRow] = []
    if person.household_id:
        others = (
            current_people(user)
            .filter(household_id=person.household_id)
            .exclude(pk=person.pk)
            .prefetch_related("tags")
            .order_by("id")
        )
        members = present_people(user, others)
    personal_clear = policy.visibility(Sensitivity.PERSONAL) == "clear"
    revealable = tuple(
        name
        for name in ("id_number", "phone")
        if policy.may_reveal and getattr(person, f"{name}_encrypted")
    )
    return PersonFile(
        row=present_person(person, policy),
        birth_date=(
            person.birth_date.isoformat() if person.birth_date and personal_clear else HIDDEN_TEXT
        ),
        has_smartphone=person.has_smartphone,
        dwelling_id=person.dwelling_id,
        members=members,
        revealable=revealable,
    )


def households_for(user: Actor, *, area: Area | None = None, q: str = "") -> QuerySet[Household]:
    _require_browse(user)
    households = Household.objects.visible_to(user)
    if area is not None:
        households = households.filter(area_path__startswith=area.path)
    folded = fold_search_text(q)
    if folded:
        condition = Q(address_building__contains=folded) | Q(head__name__contains=folded)
        address = address_q(q)
        if address is not None:
            condition |= address
        households = households.filter(condition)
    return households.select_related("head").order_by("id")


def household_for(user: Actor, household_id: int) -> Household:
    """Returns the household if visible to the user. Raises Http404 or PermissionDenied."""
    _require_browse(user)
    household = Household.objects.visible_to(user).filter(pk=household_id).first()
    if household is None:
        raise Http404("household not found")
    return household


def _household_row(
    household: Household, policy: RolePolicy, *, size: int, members: list[PersonRow]
) -> HouseholdRow:
    return HouseholdRow(
        id=household.pk,
        address=present(
            str(household),
            sensitivity=Sensitivity.PERSONAL,
            policy=policy,
            mask=lambda _: mask_address(household.address_building, household.address_dwelling),
        ),
        head=(
            present(household.head.name, sensitivity=Sensitivity.PERSONAL, policy=policy)
            if household.head
            else ""
        ),
        size=size,
        members=members,
    )


def present_household(user: Actor, household: Household) -> HouseholdRow:
    """Returns the household with its visible members, masked for the user."""
    members = present_people(
        user,
        current_people(user).filter(household=household).prefetch_related("tags").order_by("id"),
    )
    return _household_row(household, policy_for(user), size=len(members), members=members)


def present_households(user: Actor, households: Iterable[Household]) -> list[HouseholdRow]:
    """Returns household rows with member counts from one query (members not loaded)."""
    policy = policy_for(user)
    sizes = dict(
        Person.objects.filter(household_id__in=[h.pk for h in households], merged_into__isnull=True)
        .values("household_id")
        .annotate(n=Count("id"))
        .values_list("household_id", "n")
    )
    return [_household_row(h, policy, size=sizes.get(h.pk, 0), members=[]) for h in households]


@dataclass(frozen=True)
class ChildCounts:
    """Residents and households below each child of an area, keyed by the child's path."""

    residents: dict[str, int]
    households: dict[str, int]


def counts_by_child(user: Actor, area: Area) -> ChildCounts:
    """Returns how many current residents and households of the user's jurisdiction live below
    each child of `area` (the area page and GET /api/areas/{id} both read this).

    Raises PermissionDenied for roles that do not browse residents: a count per dwelling
    points at the people who live alone.
    """
    _require_browse(user)
    return ChildCounts(
        residents=area_selectors.count_by_child(
            current_people(user), path_field="area_path", area=area
        ),
        households=area_selectors.count_by_child(
            Household.objects.visible_to(user), path_field="area_path", area=area
        ),
    )


def tag_counts(user: Actor, area: Area | None = None) -> dict[str, int]:
    """Returns {tag: people count} within the user's jurisdiction (or an area in it)."""
    _require_browse(user)
    tags = PersonTag.objects.visible_to(user).filter(person__merged_into__isnull=True)
    if area is not None:
        tags = tags.filter(area_path__startswith=area.path)
    counts = dict(tags.values("tag").annotate(n=Count("id")).values_list("tag", "n"))
    return {tag: counts.get(tag, 0) for tag in VulnerableTag.values}


# ---------------------------------------------------------------------------------------------
# Imports, provenance and the review queue (data stewards and community leads)


def _require_steward(user: Actor) -> None:
    require(user, roles=REGISTRY_STEWARDS)


def import_areas(user: Actor) -> QuerySet[Area]:
    """Returns the communities and grids a user may import into."""
    _require_steward(user)
    return (
        Area.objects.visible_to(user)
        .filter(level__in=["community", "grid"])
        .select_related("parent")  # a grid is named with its community
        .order_by("path")
    )


def batches_for(user: Actor) -> QuerySet[ImportBatch]:
    _require_steward(user)
    return ImportBatch.objects.visible_to(user).select_related(
        "source", "area__parent", "created_by"
    )


def batch_for(user: Actor, batch_id: int) -> ImportBatch:
    """Returns the batch if visible to the user. Raises Http404 or PermissionDenied."""
    batch = batches_for(user).filter(pk=batch_id).first()
    if batch is None:
        raise Http404("import not found")
    return batch


def rejected_records(user: Actor, batch: ImportBatch) -> QuerySet[SourceRecord]:
    _require_steward(user)
    return SourceRecord.objects.filter(batch=batch, accepted=False).order_by("row_number")


def reviews_for(user: Actor, *, status: str = ReviewStatus.PENDING) -> QuerySet[MatchReview]:
    _require_steward(user)
    return (
        MatchReview.objects.visible_to(user)
        .filter(status=status)
        .select_related("left", "right", "batch")
        .prefetch_related("left__tags", "right__tags")
        .order_by("-probability", "id")
    )


def review_for(user: Actor, review_id: int) -> MatchReview:
    _require_steward(user)
    review = (
        MatchReview.objects.visible_to(user)
        .filter(pk=review_id)
        .select_related("left", "right", "batch")
        .first()
    )
    if review is None:
        raise Http404("review not found")
    return review


def merge_for(user: Actor, merge_id: int) -> PersonMerge:
    _require_steward(user)
    merge = PersonMerge.objects.visible_to(user).filter(pk=merge_id).first()
    if merge is None:
        raise Http404("merge not found")
    return merge


def merges_into(user: Actor, person: Person) -> list[PersonMerge]:
    """Returns the merges into this person that can still be undone, newest first."""
    if getattr(user, "role", "") not in REGISTRY_STEWARDS:
        return []
    return list(
        PersonMerge.objects.filter(survivor=person, undone_at__isnull=True)
        .select_related("merged", "merged_by")
        .order_by("-merged_at")
    )


def _shown_value(record: SourceRecord, name: str, policy: RolePolicy, labels: ChoiceLabels) -> str:
    if name == "id_number":
        return record.id_number_masked
    if name == "phone":
        return record.phone_masked
    if name == "name":
        return present(record.name, sensitivity=Sensitivity.PERSONAL, policy=policy)
    if name == "sex":
        return labels.sex.get(record.sex, "")
    if name == "residency":
        return labels.residency.get(record.residency, "")
    # Birth date and full address are shown as the person file shows them to this role.
    personal_clear = policy.visibility(Sensitivity.PERSONAL) == "clear"
    if name == "birth_date":
        return (
            record.birth_date.isoformat() if record.birth_date and personal_clear else HIDDEN_TEXT
        )
    if name == "dwelling":
        return record.address_text if personal_clear else HIDDEN_TEXT
    return ""


def person_provenance(user: Actor, person: Person) -> list[FieldProvenance]:
    """Returns, per field, the shown value and the value each source gave (masked for the
    user), newest source first; empty for a person no file brought."""
    policy = _require_browse(user)
    records = list(
        SourceRecord.objects.filter(person=person, accepted=True)
        .select_related("batch__source")
        .order_by("-batch__created_at", "row_number")
    )
    if not records:
        return []
    labels = ChoiceLabels.current()
    rows = []
    for name in CHOSEN_FIELDS:
        source = person.field_sources.get(name) or {}
        chosen = (source.get("batch"), source.get("row"))
        values = [
            SourceValue(
                record_id=r.pk,
                source=r.batch.source.name,
                kind_priority=priority_of(r),
                batch_file=r.batch.file_name,
                row_number=r.row_number,
                imported_at=timezone.localtime(r.batch.created_at).strftime("%Y-%m-%d %H:%M"),
                value=_shown_value(r, name, policy, labels),
                chosen=(r.batch_id, r.row_number) == chosen,
            )
            for r in records
            if record_value(r, name) is not None
        ]
        if values:
            shown = next((v.value for v in values if v.chosen), values[0].value)
            rows.append(FieldProvenance(field=name, shown=shown, values=values))
    return rows


# ---- why a pair waits for review -------------------------------------------------------------

# The matcher's own rules (registry/matching/engine.py), said in words on the review page.
_NAME_ALIKE_LEVELS = frozenset({"exact", "same_pinyin"})
_HELD_BY_PROBABILITY = _(
    "the probability is below the %(threshold)s%% Linli needs to merge by itself"
)
_HELD_NO_ID = _("no ID number on one side, so the ID number cannot prove it")
_HELD_DIFFERENT_IDS = _("their ID numbers differ: two ID numbers are always two people")
_HELD_NAMES = _("the names are neither the same nor sound the same")
_HELD_BIRTH = _("the birth dates are in different years")
_HELD_SEX = _("the sexes differ")
_HELD_BOTH_REGISTERED = _(
    "both were already in the register: Linli never merges two of them by itself"
)
_HELD_RIVAL = _(
    "another person is almost as likely a match, or one file lists both at one dwelling "
    "(a father and son of one name): Linli does not guess"
)


@dataclass(frozen=True)
class ReviewExplanation:
    """What a review pair's score means and why it waits for a person.

    `percent` is the match probability in whole per cent; `held_back` the rules that kept the
    pair from merging automatically, in the reader's language; `evidence` the matcher's
    comparison per field as (field code, level code), for the page to label.
    """

    percent: int
    held_back: list[str]
    evidence: list[tuple[str, str]]


def explain_review(review: MatchReview) -> ReviewExplanation:
    """Returns why `review`'s pair was put in the queue rather than merged.

    Re-derives the auto-merge rule of registry.matching.engine from what the review stores
    (probability, the comparison levels) and the two people (ID numbers, when each was
    registered), since the matcher keeps no verdict of its own.
    """
    settings = MatchSettings()
    levels: dict[str, str] = dict(review.reasons or {})
    left, right = review.left, review.right
    # Only a matching ID number proves a pair; say first whether the ID numbers could.
    if left.id_number_hash and right.id_number_hash and left.id_number_hash != right.id_number_hash:
        id_note = str(_HELD_DIFFERENT_IDS)
    else:
        id_note = str(_HELD_NO_ID)
    blocking: list[str] = []
    if review.probability < settings.auto_merge:
        threshold = round(settings.auto_merge * 100)
        blocking.append(str(_HELD_BY_PROBABILITY) % {"threshold": threshold})
    if levels.get("name", "missing") not in _NAME_ALIKE_LEVELS:
        blocking.append(str(_HELD_NAMES))
    if levels.get("birth_date") == "different":
        blocking.append(str(_HELD_BIRTH))
    if levels.get("sex") == "different":
        blocking.append(str(_HELD_SEX))
    if not blocking:
        # Probable enough and nothing against it: the clustering guards held it back.
        batch = review.batch if review.batch_id else None
        both_registered = batch is None or (
            left.created_at < batch.created_at and right.created_at < batch.created_at
        )
        blocking.append(str(_HELD_BOTH_REGISTERED if both_registered else _HELD_RIVAL))
    held = [id_note, *blocking]
    return ReviewExplanation(
        percent=round(review.probability * 100),
        held_back=held,
        evidence=list(levels.items()),
    )

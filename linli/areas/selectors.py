"""Reads of the area tree, always through the acting user's jurisdiction."""

from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import Substr
from django.http import Http404

from linli.areas.models import PATH_SEGMENT_WIDTH, Area
from linli.core.actors import Actor
from linli.core.jurisdiction import paths_of


def visible_areas(user: Actor) -> QuerySet[Area]:
    """Returns the areas inside the user's jurisdiction."""
    return Area.objects.visible_to(user)


def area_for(user: Actor, area_id: int) -> Area:
    """Returns the area if it lies inside the user's jurisdiction. Raises Http404."""
    area = visible_areas(user).filter(pk=area_id).select_related("parent").first()
    if area is None:
        raise Http404("area not found")
    return area


def root_areas(user: Actor) -> list[Area]:
    """Returns the top areas of a user's jurisdiction (their assigned nodes)."""
    prefixes = paths_of(user)
    areas = Area.objects.filter(path__in=prefixes).order_by("path")
    # A user assigned to a node and one of its ancestors sees the ancestor only once.
    return [a for a in areas if not any(a.path != p and a.path.startswith(p) for p in prefixes)]


def ancestors_of(area: Area) -> list[Area]:
    """Returns the ancestors of an area from the top of the tree down (not the area itself)."""
    step = PATH_SEGMENT_WIDTH + 1
    prefixes = [area.path[: step * i] for i in range(1, area.depth)]
    return list(Area.objects.filter(path__in=prefixes).order_by("path"))


def children_of(user: Actor, area: Area) -> QuerySet[Area]:
    """Returns the area's children the user may see, in tree order."""
    return visible_areas(user).filter(parent=area).order_by("path")


def count_by_child(queryset: QuerySet[Any], *, path_field: str, area: Area) -> dict[str, int]:
    """Returns {child path: row count} for rows of `queryset` below `area`, in one query.

    Child paths all have the same length, so grouping on the path prefix counts every subtree
    at once instead of one query per child.
    """
    child_path_length = len(area.path) + PATH_SEGMENT_WIDTH + 1
    rows = (
        queryset.filter(**{f"{path_field}__startswith": area.path})
        .annotate(child_path=Substr(path_field, 1, child_path_length))
        .values("child_path")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["child_path"]: row["n"] for row in rows}


def areas_by_level(user: Actor, level: str) -> QuerySet[Area]:
    """Returns the areas of one level the user may see, in tree order."""
    return visible_areas(user).filter(level=level).order_by("path")

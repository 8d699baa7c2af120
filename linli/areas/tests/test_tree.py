import pytest
from django.core.exceptions import ValidationError

from linli.areas.models import AreaLevel
from linli.areas.selectors import ancestors_of, area_for, count_by_child
from linli.areas.services import create_area
from linli.registry.models import Person


def test_children_get_consecutive_paths_under_their_parent(world):
    """A new area's path extends its parent's path with the next free segment."""
    extra = create_area(parent=world.a.community, level=AreaLevel.GRID, name="第二网格")
    assert extra.path.startswith(world.a.community.path)
    assert extra.path > world.a.grid.path
    assert [a.name for a in ancestors_of(extra)] == ["西安市", "雁塔区", "小寨路街道", "长延堡社区"]


def test_levels_and_codes_are_validated(world):
    """A child must sit below its parent's level; division codes have 12 digits."""
    with pytest.raises(ValidationError):
        create_area(parent=world.a.grid, level=AreaLevel.COMMUNITY, name="错")
    with pytest.raises(ValidationError):
        create_area(parent=world.street, level=AreaLevel.COMMUNITY, name="错", code="12345")


def test_area_outside_jurisdiction_is_not_found(world):
    """A grid worker cannot open an area of another community, nor its own street."""
    from django.http import Http404

    assert area_for(world.grid_a, world.a.compound.pk) == world.a.compound
    for outside in (world.b.grid, world.street):
        with pytest.raises(Http404):
            area_for(world.grid_a, outside.pk)


def test_count_by_child_counts_each_subtree_in_one_query(world, django_assert_num_queries):
    """Residents are counted per community in a single grouped query."""
    with django_assert_num_queries(1):
        counts = count_by_child(Person.objects.all(), path_field="area_path", area=world.street)
    assert counts == {world.a.community.path: 2, world.b.community.path: 1}

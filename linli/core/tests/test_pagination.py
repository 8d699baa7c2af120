from linli.core.pagination import CappedPaginator
from linli.registry.models import Person


class TinyCap(CappedPaginator):
    cap = 2


def test_count_stops_at_the_cap(world):
    """Past the cap the paginator reports cap + 1 and says it is capped; below it, exact."""
    three = TinyCap(Person.objects.order_by("id"), 1)
    assert three.count == 3 and three.is_capped
    assert [p.pk for p in three.page(3).object_list] == [world.resident_b.pk]
    two = TinyCap(Person.objects.exclude(pk=world.resident_b.pk).order_by("id"), 1)
    assert two.count == 2 and not two.is_capped

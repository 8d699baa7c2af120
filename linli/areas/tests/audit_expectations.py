"""Which area services record which audit action (tests/test_audit_coverage.py)."""

from linli.areas import services
from linli.areas.models import AreaAction, AreaLevel


def _update(world):
    area = world.a.grid
    services.update_area(
        area=area, name="第一网格（东）", aliases=[], code="", floor=None, by=world.lead_a
    )


AUDITED = {
    "create_area": (
        AreaAction.CREATE_AREA,
        lambda w: services.create_area(
            parent=w.a.community, level=AreaLevel.GRID, name="第二网格", by=w.lead_a
        ),
    ),
    "update_area": (AreaAction.UPDATE_AREA, _update),
}

NOT_AUDITED = {
    "segment": "pure helper: the path segment of the n-th child",
    "validate_placement": "validates only (raises ValidationError), writes nothing",
}

"""Which area services record which audit action (tests/test_audit_coverage.py)."""

from linli.areas import services
from linli.areas.models import AreaAction, AreaLevel


def _update(world):
    area = world.a.grid
    services.update_area(
        area=area, name="第一网格（东）", aliases=[], code="", floor=None, by=world.lead_a
    )


def _move(world):
    grid = services.create_area(parent=world.a.community, level=AreaLevel.GRID, name="第二网格")
    services.move_area(area=world.a.compound, parent=grid, by=world.street_officer)


def _import(world):
    from linli.areas.importing.plan import LOWER_COLUMNS, plan_import
    from linli.core.sheets import Sheet

    row = dict(zip(LOWER_COLUMNS, ["610113001001", "第三网格"], strict=False))
    plan = plan_import([Sheet("网格小区楼栋", LOWER_COLUMNS, [(2, row)])], by=world.street_officer)
    services.import_area_tree(plan=plan, file_name="网格.xlsx", by=world.street_officer)


AUDITED = {
    "move_area": (AreaAction.MOVE_AREA, _move),
    "import_area_tree": (AreaAction.IMPORT_AREAS, _import),
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

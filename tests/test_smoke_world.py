def test_world_builds(world):
    """The personas' world builds through the real services."""
    assert world.resident_a.household_id == world.resident_a2.household_id
    assert world.grid_a.jurisdiction_paths == (world.a.grid.path,)

"""The link engine setting is checked at start-up, not when an import first links."""

from linli.registry.checks import check_link_engine


def test_an_unknown_engine_is_refused_at_start_up(settings):
    settings.LINLI_LINK_ENGINE = "spark2"
    [error] = check_link_engine()
    assert error.id == "linli.E080" and "spark2" in error.msg


def test_the_engines_linli_knows_pass(settings):
    settings.LINLI_LINK_ENGINE = "duckdb"
    assert check_link_engine() == []

"""Production must say where residents' phones open the H5 links (linli.E014); elsewhere the
links follow the address a send was started on."""

from linli.core.checks import production_settings


def _ids(settings) -> set[str]:
    return {error.id for error in production_settings(None)}


def test_production_requires_a_public_url(settings):
    settings.LINLI_ENV = "production"
    settings.LINLI_PUBLIC_URL = ""
    assert "linli.E014" in _ids(settings)
    settings.LINLI_PUBLIC_URL = "https://linli.gov.cn"
    assert "linli.E014" not in _ids(settings)


def test_embedded_use_needs_no_public_url(settings):
    settings.LINLI_ENV = "embedded"
    settings.LINLI_PUBLIC_URL = ""
    assert production_settings(None) == []

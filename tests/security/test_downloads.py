"""Every file download is uncacheable (finding 8 of issue 11).

Walks every URL of the project as the lead who owns the objects, so a download added later
is checked the day it is added: any response that is a file (Content-Disposition: attachment,
or streamed) must carry `Cache-Control: no-store` and `Pragma: no-cache`
(linli.core.downloads.file_download builds such responses).
"""

import pytest
from django.http import FileResponse, StreamingHttpResponse

from tests.test_jurisdiction_urls import all_routes

# The downloads the walk must find: if it finds none of them, it no longer reaches them.
KNOWN_DOWNLOADS = {
    "registry/imports/<int:batch_id>/rejected.csv",
    "screening/campaigns/<int:campaign_id>/export.xlsx",
}


def is_file(response) -> bool:
    disposition = response.get("Content-Disposition", "")
    return "attachment" in disposition or isinstance(response, FileResponse | StreamingHttpResponse)


@pytest.mark.django_db
def test_every_download_forbids_caching(world_b, client):
    """Every route answering with a file says no-store (and Pragma: no-cache)."""
    world = world_b
    client.force_login(world.lead_b)
    downloads = {}
    for route, path, _has_params in all_routes(world):
        if route.startswith("admin/") or "<str:token>" in route:
            continue
        response = client.get(path)
        if is_file(response):
            downloads[route] = response
    missing = KNOWN_DOWNLOADS - set(downloads)
    assert not missing, f"the walk no longer reaches {missing}: fix KNOWN_DOWNLOADS or the walk"
    for route, response in downloads.items():
        cache_control = response.get("Cache-Control", "")
        assert "no-store" in cache_control, (route, cache_control)
        assert response.get("Pragma") == "no-cache", route

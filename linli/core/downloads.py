"""File downloads of personal data: never kept by a browser's or a proxy's cache.

Every view that answers with a file (an Excel export, the rejected rows as CSV) builds its
response here, so each one says `Cache-Control: no-store` (and `Pragma: no-cache` for old
HTTP/1.0 proxies): a shared office computer's disk cache or a caching gateway must not keep a
copy of residents' records after the download. tests/security/test_downloads.py walks every
URL of the project and fails for a file response without these headers.
"""

from typing import IO, TypeVar

from django.http import FileResponse, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.cache import add_never_cache_headers

R = TypeVar("R", bound=HttpResponseBase)


def forbid_caching(response: R) -> R:
    """Returns the response, marked so that no cache stores it (no-store, private, Pragma)."""
    # Django's never_cache headers (no-cache, no-store, must-revalidate, private, Expires)...
    add_never_cache_headers(response)
    # ...and Pragma for HTTP/1.0 caches, which ignore Cache-Control.
    response["Pragma"] = "no-cache"
    return response


def file_download(
    content: bytes | str | IO[bytes], *, filename: str, content_type: str
) -> HttpResponseBase:
    """Returns an attachment response named `filename` that no cache may store.

    `content` is the whole file (bytes or text) or an open binary file, streamed.
    """
    if isinstance(content, bytes | str):
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return forbid_caching(response)
    return forbid_caching(
        FileResponse(content, as_attachment=True, filename=filename, content_type=content_type)
    )

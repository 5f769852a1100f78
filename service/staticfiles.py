"""The viewer and the vendored libraries under /static, with cache headers.

Vendored libraries change only with a Quartier update: browsers keep them for a week.
The viewer's own files change with every deploy: browsers revalidate them each time (ETag,
304 when unchanged). Compression is the app's (``GZipMiddleware`` in ``service.main``).
"""

from __future__ import annotations

import os

from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

VENDOR_CACHE = "public, max-age=604800"
"""Vendored libraries (their folders carry no version, so not ``immutable``)."""
VIEWER_CACHE = "no-cache"
"""The viewer's own files: always revalidated."""


class StaticAssets(StaticFiles):
    """``StaticFiles`` with ``Cache-Control`` by folder."""

    def file_response(self, full_path: PathLike, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        """The file (or 304) with the cache policy of its folder."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        vendor = os.path.realpath(os.path.join(str(self.directory), "vendor"))
        vendored = os.path.realpath(full_path).startswith(vendor + os.sep)
        response.headers["Cache-Control"] = VENDOR_CACHE if vendored else VIEWER_CACHE
        return response

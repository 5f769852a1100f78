"""The API documentation: Swagger UI (/docs) and ReDoc (/redoc) from the vendored copies.

No CDN, no Google Fonts, no validator badge: the pages work offline and send nothing to a
third party. ReDoc 2.5.4 hard-codes one image from cdn.redoc.ly (the "API docs by Redocly"
logo); the copy served at /docs/redoc.standalone.js has that URL emptied, so the footer
shows its text only and the browser never asks that host. Each page's CSP allows exactly
its own inline script (by hash).
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from service.headers import page_policy, script_hashes
from service.settings import Settings
from service.staticfiles import VENDOR_CACHE
from service.store import BuildStore

VENDOR = "/static/vendor"
TITLE = "Quartier – API"
OPENAPI_URL = "/openapi.json"
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def _page(page: HTMLResponse) -> tuple[bytes, dict[str, str]]:
    body = bytes(page.body)
    policy = page_policy(scripts=script_hashes(body.decode("utf-8")), workers=True,
                         frame_ancestors="'self'")
    return body, {"Content-Security-Policy": policy, "Cache-Control": "no-cache"}


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the documentation routes (not part of the OpenAPI document)."""
    r = APIRouter(include_in_schema=False)
    favicon = f"{VENDOR}/swagger-ui/favicon-32x32.png"
    swagger = _page(get_swagger_ui_html(
        openapi_url=OPENAPI_URL, title=TITLE,
        swagger_js_url=f"{VENDOR}/swagger-ui/swagger-ui-bundle.js",
        swagger_css_url=f"{VENDOR}/swagger-ui/swagger-ui.css",
        swagger_favicon_url=favicon,
        # no validator badge: it would send the document's URL to validator.swagger.io
        swagger_ui_parameters={"validatorUrl": None},
    ))
    redoc = _page(get_redoc_html(
        openapi_url=OPENAPI_URL, title=TITLE, redoc_js_url="/docs/redoc.standalone.js",
        redoc_favicon_url=favicon, with_google_fonts=False,
    ))
    redoc_js = (settings.static / "vendor" / "redoc" / "redoc.standalone.js")
    script = redoc_js.read_bytes().replace(REDOC_LOGO, b"") if redoc_js.is_file() else b""
    script_etag = f'"{hashlib.sha256(script).hexdigest()[:20]}"'

    # a new response per request: middleware edits a response's header list in place
    @r.get("/docs", operation_id="swagger_ui")
    def docs() -> Response:
        """Swagger UI."""
        return HTMLResponse(swagger[0], headers=swagger[1])

    @r.get("/redoc", operation_id="redoc")
    def redoc_page() -> Response:
        """ReDoc."""
        return HTMLResponse(redoc[0], headers=redoc[1])

    @r.get("/docs/redoc.standalone.js", operation_id="redoc_script")
    def redoc_script(request: Request) -> Response:
        """The vendored ReDoc bundle, without its one third-party image."""
        headers = {"ETag": script_etag, "Cache-Control": VENDOR_CACHE}
        if request.headers.get("if-none-match") == script_etag:
            return Response(status_code=304, headers=headers)
        return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)

    return r

"""HTML pages: the list of builds with their indicators and downloads."""

from __future__ import annotations

from html import escape
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from service.headers import csp
from service.settings import Settings
from service.store import BuildStore

BUILDS_CSP = csp({"default-src": "'none'", "style-src": "'unsafe-inline'", "img-src": "data:",
                  "base-uri": "'none'", "form-action": "'none'", "frame-ancestors": "'self'"})
"""The build list is static HTML: no script at all, only its own inline stylesheet."""


def _builds_page(store: BuildStore) -> str:
    parts = []
    for build in store.builds():
        geo = build.geography
        levels = ", ".join(f"{escape(lv.name)} ({lv.count})" for lv in geo.levels)
        themes = []
        for theme, indicators in build.catalogue.themes().items():
            items = "".join(
                f"<li>{escape(i.name)} <small>({escape(i.unit)}, {escape(i.id)})</small></li>"
                for i in indicators
            )
            themes.append(f"<h4>{escape(theme)}</h4><ul>{items}</ul>")
        files = "".join(
            f'<li><a href="/downloads/{escape(quote(geo.id, safe=""))}/'
            f'{escape(quote(name, safe=""))}">{escape(name)}</a></li>'
            for name in build.downloads
        )
        notice = f'<p class="notice">{escape(geo.notice)}</p>' if geo.notice else ""
        years = ", ".join(str(y) for y in build.years)
        parts.append(
            f'<section id="{escape(geo.id)}"><h2>{escape(geo.name)}</h2>{notice}'
            f"<p>Ebenen: {levels}; Jahre: {years}; "
            f"Release <code>{escape(build.release_id)}</code></p>"
            f"<h3>Indikatoren</h3>{''.join(themes)}<h3>Downloads</h3><ul>{files}</ul>"
            f'<p class="attribution">Quelle: {escape(geo.attribution)}</p></section>'
        )
    body = "".join(parts) or "<p>Keine Builds gefunden. <code>make run</code> baut sie.</p>"
    return (
        '<!doctype html><html lang="de"><head><meta charset="utf-8">'
        '<title>Quartier – Builds</title><link rel="icon" href="data:,">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;"
        "padding:0 1rem;line-height:1.4}.notice{background:#fff3cd;padding:.3rem .6rem;"
        "display:inline-block}.attribution{color:#555;font-size:.9em}</style></head><body>"
        '<h1>Quartier – veröffentlichte Builds</h1><p><a href="/">Karte</a> · '
        '<a href="/docs">API-Dokumentation</a> · <a href="/ogc">OGC API Features</a></p>'
        f"{body}</body></html>"
    )


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the page routes."""
    r = APIRouter(include_in_schema=False)

    @r.get("/builds", response_class=HTMLResponse, operation_id="builds_page")
    def builds() -> HTMLResponse:
        """List every build with levels, indicators and downloads."""
        return HTMLResponse(_builds_page(store), headers={
            "Cache-Control": "no-cache", "Content-Security-Policy": BUILDS_CSP})

    @r.get("/", operation_id="viewer")
    def index() -> Response:
        """Serve the viewer, or the build list until the viewer exists."""
        viewer = settings.static / "index.html"
        if viewer.exists():
            # its CSP is the app's default for HTML (service.main)
            return FileResponse(viewer, headers={"Cache-Control": "no-cache"})
        return RedirectResponse("/builds")

    return r

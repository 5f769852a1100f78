"""Map pages for reports: an embeddable Leaflet page (Folium) and a PNG, one URL each."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from geo.render import folium_page, maps, png, years
from service.cache import LRUCache, Rendered
from service.headers import cache_control, header_text, page_policy, script_hashes, url_source
from service.params import (
    ClassesParam,
    CompareParam,
    GeographyPath,
    IndicatorPath,
    LevelParam,
    ReleaseParam,
    YearParam,
)
from service.settings import Settings
from service.store import BuildStore

SchemeParam = Annotated[
    Literal["fisher_jenks", "quantiles", "equal_interval"],
    Query(description="Klassenbildung (mapclassify): natürliche Brüche, Quantile oder gleiche "
                      "Abstände"),
]


def _frame_ancestors(settings: Settings) -> str:
    """Who may embed map pages; '*' (the default) sends no ``frame-ancestors`` at all.

    A report opened from disk (``file:``) or a sandboxed preview has an opaque origin that
    no ``frame-ancestors`` source matches, not even ``*``: only leaving the directive out
    lets every report embed the map. The page is public, read-only and sets no cookie, so
    there is nothing to click-jack.
    """
    value = settings.frame_ancestors.strip()
    return "" if value in ("", "*") else value


def _respond(request: Request, body: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """The body, or 304 Not Modified when the client already has this ETag."""
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the map routes."""
    r = APIRouter(tags=["Karten"])
    # keyed by release and parameters: a release never changes
    cache: LRUCache[tuple[object, ...], Rendered] = LRUCache(settings.cache_entries)
    basemap = url_source(settings.basemap_url)
    frame_ancestors = _frame_ancestors(settings)
    no_data_csp = page_policy(scripts=[], frame_ancestors=frame_ancestors)  # no script at all

    def _headers(key: tuple[object, ...], attribution: str, pinned: bool) -> dict[str, str]:
        etag = hashlib.sha1(repr(key).encode()).hexdigest()[:20]
        return {
            "ETag": f'"{etag}"',
            "Cache-Control": cache_control(settings.cache_seconds, pinned),
            "X-Attribution": header_text(attribution),
        }

    @r.get(
        "/maps/{geography}/{indicator}.png",
        summary="Karte als PNG (für Druck und Berichte)",
        operation_id="get_map_png",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}},
    )
    def map_png(
        request: Request,
        geography: GeographyPath,
        indicator: IndicatorPath,
        year: YearParam = None,
        level: LevelParam = None,
        scheme: SchemeParam = "fisher_jenks",
        release: ReleaseParam = None,
        compare: CompareParam = None,
        classes: ClassesParam = "year",
    ) -> Response:
        """Render the choropleth server-side: legend, title, attribution, withheld hatched grey.

        With ``compare=`` the change since that year, in diverging classes around 0."""
        build = store.get(geography, release)
        key = (build.geography.id, build.release_id, "png", indicator, year, level, scheme,
               compare, classes)

        def render() -> Rendered:
            data = maps.map_data(build, indicator, year=year, level=level, method=scheme,
                                 scope=classes, compare=compare)
            return png.png_map(data), {}

        body, extra = cache.get_or_make(key, render)
        headers = {**_headers(key, build.geography.attribution, release is not None), **extra}
        return _respond(request, body, "image/png", headers)

    @r.get(
        "/maps/{geography}/{indicator}",
        summary="Karte als eigenständige Seite (Permalink, in iframe einbettbar)",
        operation_id="get_map_page",
        response_class=HTMLResponse,
    )
    def map_page(
        request: Request,
        geography: GeographyPath,
        indicator: IndicatorPath,
        year: YearParam = None,
        level: LevelParam = None,
        scheme: SchemeParam = "fisher_jenks",
        release: ReleaseParam = None,
        compare: CompareParam = None,
        classes: ClassesParam = "year",
    ) -> Response:
        """Render a Leaflet page with legend, tooltips, attribution and release id; no CDN.

        ``compare=`` maps the change since that year: diverging colours around 0, areas
        without a significant change in one neutral fill, changes involving a withheld value
        withheld. ``classes=all-years`` keeps the same classes for every year.

        The permalink (canonical link and small print) names the release, so a report's link
        keeps its numbers after a rebuild. A year without any value of the indicator gives 404
        with a page that says so and links the years that have values.
        """
        build = store.get(geography, release)
        if year is not None and not years.has_data(build, indicator, year):
            ind = build.catalogue.indicator(indicator)
            shown_level = level or build.geography.level_ids[-1]
            pinned = {"release": release} if release else {}
            links = [(str(y), request.url.path + "?" + urlencode(
                {"year": y, "level": shown_level, "scheme": scheme, **pinned}))
                for y in years.indicator_years(build, ind.id)]
            page = folium_page.no_data_page(f"{ind.name} – {build.geography.name}",
                                            years.no_data_message(build, ind.id, year), links)
            return HTMLResponse(page, status_code=404, headers={
                "Content-Security-Policy": no_data_csp, "Cache-Control": "no-cache",
                "X-Attribution": header_text(build.geography.attribution)})
        key = (build.geography.id, build.release_id, "html", request.url.path, year, level, scheme,
               compare, classes)

        def render() -> Rendered:
            data = maps.map_data(build, indicator, year=year, level=level, method=scheme,
                                 scope=classes, compare=compare)
            extra = {"compare": data.compare} if data.compare is not None else (
                {"classes": classes} if classes != "year" else {})
            query = urlencode({"year": data.year, **extra, "level": data.level.id,
                               "scheme": scheme, "release": build.release_id})
            permalink = f"{request.url.path}?{query}"
            page = folium_page.folium_map(
                data,
                permalink=permalink,
                basemap_url=settings.basemap_url,
                basemap_attribution=settings.basemap_attribution,
            )
            # only the page's own inline scripts may run: an injected handler never does
            policy = page_policy(scripts=script_hashes(page), basemap=basemap,
                                 frame_ancestors=frame_ancestors)
            return page.encode("utf-8"), {"Link": f'<{permalink}>; rel="canonical"',
                                          "Content-Security-Policy": policy}

        body, extra = cache.get_or_make(key, render)
        headers = {**_headers(key, build.geography.attribution, release is not None), **extra}
        return _respond(request, body, "text/html; charset=utf-8", headers)

    return r


"""Area profiles: one area with every indicator as an HTML page, an A4 PDF and JSON."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path
from fastapi.responses import HTMLResponse, Response

from geo.release import PublishedBuild
from geo.render.profiles import data, locator, page, pdf
from geo.render.profiles.document import profile_document
from service.cache import LRUCache, Rendered
from service.headers import cache_control, header_text
from service.params import GeographyPath, ReleaseParam
from service.settings import Settings
from service.store import BuildStore

LevelPath = Annotated[str, Path(description="Ebene, z. B. quartier oder stadtbezirk")]
AreaPath = Annotated[str, Path(description="Gebietsschlüssel (area_id), z. B. 062")]
CSS_PATH = "/profiles/profile.css"


def profile_url(geography: str, ref: data.AreaRef) -> str:
    """The profile page of an area."""
    return f"/profiles/{quote(geography, safe='')}/{quote(ref.level, safe='')}/" \
           f"{quote(ref.area_id, safe='')}"


def _links(build: PublishedBuild, ref: data.AreaRef, pinned: bool = False) -> page.ProfileLinks:
    gid = build.geography.id
    here = profile_url(gid, ref)
    pin = {"release": build.release_id} if pinned else {}  # a pinned page links pinned pages
    tail = f"?{urlencode(pin)}" if pinned else ""

    def map_url(indicator: str, level: str, year: Any) -> str:
        query = urlencode({"level": level, "year": year, **pin})
        return f"/maps/{quote(gid, safe='')}/{quote(indicator, safe='')}?{query}"

    return page.ProfileLinks(
        css=CSS_PATH, pdf=f"{here}.pdf{tail}",
        data=f"/api/geographies/{quote(gid, safe='')}/areas/{quote(ref.level, safe='')}/"
             f"{quote(ref.area_id, safe='')}{tail}",
        home=f"/#g={quote(gid, safe='')}&l={quote(ref.level, safe='')}",
        profile=lambda other: profile_url(gid, other) + tail, map=map_url,
    )


def _filename(build: PublishedBuild, ref: data.AreaRef) -> str:
    raw = f"profil-{build.geography.id}-{ref.level}-{ref.area_id}.pdf"
    return re.sub(r"[^A-Za-z0-9._-]", "_", raw)


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the profile routes."""
    r = APIRouter(tags=["Gebietsprofile"])
    # keyed by release: a release never changes
    cache: LRUCache[tuple[object, ...], Rendered] = LRUCache(settings.cache_entries)

    def _headers(build: PublishedBuild, release: str | None = None) -> dict[str, str]:
        return {
            "Cache-Control": cache_control(settings.cache_seconds, release is not None),
            "X-Attribution": header_text(build.geography.attribution),
            "X-Release-Id": build.release_id,
        }

    @r.get(CSS_PATH, include_in_schema=False, operation_id="profile_css")
    def css() -> Response:
        """The profile page's stylesheet (no inline styles: a strict CSP holds)."""
        return Response(page.PROFILE_CSS, media_type="text/css; charset=utf-8",
                        headers={"Cache-Control": f"public, max-age={settings.cache_seconds}"})

    @r.get("/profiles/{geography}/{level}/{area_id}.pdf",
           summary="Gebietsprofil als PDF (A4, Text auswählbar)", operation_id="get_profile_pdf",
           response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
    def profile_pdf(geography: GeographyPath, level: LevelPath, area_id: AreaPath,
                    release: ReleaseParam = None) -> Response:
        """Every indicator of one area as an A4 PDF for council papers; withheld: no number."""
        build = store.get(geography, release)

        def render() -> Rendered:
            profile = data.area_profile(build, level, area_id)
            body = pdf.profile_pdf(profile, locator=locator.locator_svg(build, profile.area,
                                                                        "lage"))
            disposition = f'inline; filename="{_filename(build, profile.area)}"'
            return body, {"Content-Disposition": disposition}

        body, extra = cache.get_or_make(
            (build.geography.id, build.release_id, "pdf", level, area_id), render)
        return Response(body, media_type="application/pdf",
                        headers={**_headers(build, release), **extra})

    @r.get("/profiles/{geography}/{level}/{area_id}", summary="Gebietsprofil (HTML)",
           operation_id="get_profile_page", response_class=HTMLResponse)
    def profile_page(geography: GeographyPath, level: LevelPath, area_id: AreaPath,
                     release: ReleaseParam = None) -> Response:
        """Every indicator of one area: value, interval, comparisons, rank, spine and trend
        charts, definition and source; an unknown area answers 404 with suggestions."""
        build = store.get(geography, release)
        ref = data.find_area(build, level, area_id)
        if ref is None:
            message = str(data.area_not_found(build, level, area_id))
            suggestions = [(profile_url(build.geography.id, s), f"{s.name} ({s.level_name} "
                            f"{s.area_id})")
                           for s in data.area_suggestions(build, level, area_id)]
            return HTMLResponse(page.not_found_page(message, suggestions, CSS_PATH),
                                status_code=404)

        def render() -> Rendered:
            profile = data.area_profile(build, level, area_id)
            body = page.profile_page(profile, locator=locator.locator_svg(build, ref, "lage"),
                                     links=_links(build, ref, release is not None))
            return body.encode("utf-8"), {}

        body, extra = cache.get_or_make(
            (build.geography.id, build.release_id, "html", level, area_id, release is not None),
            render)
        return Response(body, media_type="text/html; charset=utf-8",
                        headers={**_headers(build, release), **extra})

    @r.get("/api/geographies/{geography}/areas/{level}/{area_id}",
           summary="Gebietsprofil als JSON: alle Indikatoren und Jahre eines Gebiets",
           operation_id="get_area_profile", tags=["Daten-API"])
    def profile_json(geography: GeographyPath, level: LevelPath, area_id: AreaPath,
                     release: ReleaseParam = None) -> Response:
        """The profile's data; a withheld value has rate, interval, numerator and denominator
        null (as in values.csv)."""
        build = store.get(geography, release)

        def render() -> Rendered:
            document = profile_document(data.area_profile(build, level, area_id))
            return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode(), {}

        body, extra = cache.get_or_make(
            (build.geography.id, build.release_id, "json", level, area_id), render)
        return Response(body, media_type="application/json",
                        headers={**_headers(build, release), **extra})

    return r

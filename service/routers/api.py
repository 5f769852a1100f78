"""The JSON data API: geographies, indicators and published values (JSON, CSV, GeoJSON)."""

from __future__ import annotations

import io
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from geo.release import TOTAL, PublishedBuild, wide_values
from service.settings import Settings
from service.store import BuildStore

GeographyPath = Annotated[str, Path(description="Geografie-ID, z. B. berlin-lor-2021")]
Format = Literal["json", "csv", "csv-de", "geojson"]
VALUE_FIELDS = ["level", "area_id", "name", "indicator", "year", "numerator", "denominator",
                "rate", "ci_low", "ci_high", "status", "vs_total", "reliable"]


Rendered = tuple[bytes, dict[str, str]]
"""A response body and its extra headers."""
CACHE_ENTRIES = 256
"""Serialised value responses kept in memory (keyed by release and parameters)."""


class ResponseCache:
    """A small thread-safe LRU of rendered responses; keys name the release, so never stale."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[tuple[object, ...], Rendered] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...], render: Callable[[], Rendered]) -> Rendered:
        """Return the cached body and headers, rendering them on a miss."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        rendered = render()
        with self._lock:
            self._items[key] = rendered
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return rendered


def _plain(value: Any) -> Any:
    """A JSON-ready scalar: pandas/numpy missing values become None, numpy types Python."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame as dicts of plain JSON values (withheld = null)."""
    columns = list(frame.columns)
    return [
        {c: _plain(v) for c, v in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def _links(request: Request, geography: str) -> dict[str, str]:
    base = str(request.base_url).rstrip("/")
    return {
        "self": f"{base}/api/geographies/{geography}",
        "indicators": f"{base}/api/geographies/{geography}/indicators",
        "values": f"{base}/api/geographies/{geography}/values",
        "gpkg": f"{base}/downloads/{geography}.gpkg",
        "ogc_collections": f"{base}/ogc/collections",
    }


def _summary(build: PublishedBuild) -> dict[str, Any]:
    geo = build.geography
    return {
        "id": geo.id,
        "name": geo.name,
        "attribution": geo.attribution,
        "notice": geo.notice or None,
        "release_id": build.release_id,
        "created": build.created,
        "total": {"id": geo.total_id, "name": geo.total_name},
        "levels": [{"id": lv.id, "name": lv.name, "count": lv.count} for lv in geo.levels],
        "years": list(build.years),
    }


def _indicator(build: PublishedBuild, ind: Any) -> dict[str, Any]:
    return {
        "id": ind.id, "name": ind.name, "theme": ind.theme, "unit": ind.unit, "per": ind.per,
        "kind": ind.kind, "numerator": ind.numerator, "denominator": ind.denominator,
        "description": ind.description or None, "latest_year": build.latest_year(ind.id),
    }


def _select(build: PublishedBuild, indicator: str | None, year: int | None,
            level: str) -> pd.DataFrame:
    """Long rows of one level (and the total, for comparison) for the chosen indicators/year."""
    build.geography.level(level)
    if year is not None:
        build.check_year(year)
    indicators = ([build.catalogue.indicator(indicator).id] if indicator
                  else [i.id for i in build.catalogue.indicators])
    values = build.values
    frames = []
    for ind in indicators:
        chosen = year if year is not None else build.latest_year(ind)
        rows = values[(values["indicator"] == ind) & (values["year"] == chosen)]
        # the level's areas in area order, then the total for comparison
        frames.append(rows[rows["level"] == level])
        if level != TOTAL:
            frames.append(rows[rows["level"] == TOTAL])
    return pd.concat(frames, ignore_index=True)[VALUE_FIELDS]


def _csv(frame: pd.DataFrame, german: bool) -> bytes:
    frame = frame.copy()
    frame["reliable"] = frame["reliable"].map({True: "true", False: "false"}).astype(object)
    buf = io.StringIO()
    if german:
        frame.to_csv(buf, index=False, sep=";", decimal=",", lineterminator="\r\n")
        return buf.getvalue().encode("utf-8-sig")
    frame.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def _geojson(build: PublishedBuild, indicator: str | None, year: int | None,
             level: str) -> dict[str, Any]:
    """One feature per area of the level with the wide published values as properties."""
    if year is not None:
        build.check_year(year)
    ind_ids = ([build.catalogue.indicator(indicator).id] if indicator
               else [i.id for i in build.catalogue.indicators])
    wide = wide_values(build, level, year)
    keep = ["area_id", "name", "parent_id"]
    for ind in ind_ids:
        keep += [c for c in wide.columns if c == ind or c.startswith(f"{ind}_")]
    wide = wide[keep]
    shapes = build.shapes[level].set_index("area_id").reindex(wide["area_id"])
    features = []
    for props, geom in zip(records(wide), shapes.geometry, strict=True):
        features.append({
            "type": "Feature",
            "id": props["area_id"],
            "properties": props,
            "geometry": None if geom is None else geom.__geo_interface__,
        })
    geo = build.geography
    return {
        "type": "FeatureCollection",
        "name": f"{geo.id}.{level}",
        "attribution": geo.attribution,
        "notice": geo.notice or None,
        "release_id": build.release_id,
        "features": features,
    }


def _values_body(build: PublishedBuild, indicator: str | None, year: int | None,
                 level: str | None, format: str) -> Rendered:
    """Serialise the values in one format (raises NotFoundError for unknown ids)."""
    geography = build.geography.id
    level_id = level if level is not None else build.geography.level_ids[-1]
    if format == "geojson":
        collection = _geojson(build, indicator, year, level_id)
        return json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode(), {}
    frame = _select(build, indicator, year, level_id)
    if format in ("csv", "csv-de"):
        name = f"{geography}-{indicator or 'alle'}-{level_id}.csv"
        return _csv(frame, german=format == "csv-de"), {
            "Content-Disposition": f'attachment; filename="{name}"',
            "Link": f'</downloads/{geography}/ATTRIBUTION.txt>; rel="license"',
        }
    body = {
        "geography": geography,
        "release_id": build.release_id,
        "attribution": build.geography.attribution,
        "notice": build.geography.notice or None,
        "level": level_id,
        "values": records(frame),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(), {}


def router(store: BuildStore, settings: Settings) -> APIRouter:
    """Return the JSON API routes."""
    r = APIRouter(prefix="/api", tags=["Daten-API"])
    cache = ResponseCache(CACHE_ENTRIES)

    def _headers(build: PublishedBuild) -> dict[str, str]:
        return {
            "Cache-Control": f"public, max-age={settings.cache_seconds}",
            "X-Attribution": header_text(build.geography.attribution),
            "X-Release-Id": build.release_id,
        }

    @r.get("/geographies", summary="Alle veröffentlichten Geografien")
    def geographies(request: Request) -> JSONResponse:
        """List every published geography with its levels, years and release id."""
        items = []
        for build in store.builds():
            item = _summary(build)
            item["links"] = _links(request, build.geography.id)
            items.append(item)
        return JSONResponse({"geographies": items},
                            headers={"Cache-Control": f"public, max-age={settings.cache_seconds}"})

    @r.get("/geographies/{geography}", summary="Eine Geografie: Ebenen, Jahre, Quelle, Release")
    def geography(request: Request, geography: GeographyPath) -> JSONResponse:
        """Describe one geography: levels, years, attribution and release id."""
        build = store.get(geography)
        body = _summary(build)
        body["links"] = _links(request, geography)
        return JSONResponse(body, headers=_headers(build))

    @r.get("/geographies/{geography}/indicators", summary="Indikatoren nach Themen")
    def indicators(geography: GeographyPath) -> JSONResponse:
        """The catalogue's indicators grouped by theme (in the catalogue's order)."""
        build = store.get(geography)
        themes = [
            {"theme": theme, "indicators": [_indicator(build, i) for i in items]}
            for theme, items in build.catalogue.themes().items()
        ]
        return JSONResponse(
            {"geography": geography, "release_id": build.release_id,
             "attribution": build.geography.attribution, "themes": themes},
            headers=_headers(build),
        )

    @r.get(
        "/geographies/{geography}/values",
        summary="Veröffentlichte Werte (JSON, CSV, deutsches CSV, GeoJSON)",
        responses={200: {"content": {"application/json": {}, "text/csv": {},
                                     "application/geo+json": {}}}},
    )
    def values(
        geography: GeographyPath,
        indicator: Annotated[str | None, Query(
            description="Indikator-ID; ohne Angabe alle Indikatoren")] = None,
        year: Annotated[int | None, Query(
            description="Jahr; ohne Angabe je Indikator das letzte Jahr mit Werten")] = None,
        level: Annotated[str | None, Query(
            description="Ebene; ohne Angabe die feinste. JSON und CSV enthalten zusätzlich die "
                        "Zeile des Gesamtgebiets (level = total) zum Vergleich")] = None,
        format: Annotated[Format, Query(
            description="json; csv (Komma, Punkt, UTF-8); csv-de (Semikolon, Dezimalkomma, "
                        "UTF-8 mit BOM, für Excel); geojson (eine Fläche je Gebiet)")] = "json",
    ) -> Response:
        """Published values; withheld values are empty (null) and marked status=suppressed."""
        build = store.get(geography)
        key = (build.geography.id, build.release_id, indicator, year, level, format)
        body, extra = cache.get(key, lambda: _values_body(build, indicator, year, level, format))
        media = {"geojson": "application/geo+json", "json": "application/json"}.get(
            format, "text/csv; charset=utf-8")
        return Response(body, media_type=media, headers={**_headers(build), **extra})

    return r


def header_text(text: str) -> str:
    """HTTP header values are Latin-1: keep umlauts, replace dashes and other characters."""
    text = text.replace("–", "-").replace("—", "-").replace("„", '"').replace("“", '"')
    return text.encode("latin-1", "replace").decode("latin-1")

"""The locator map of a profile: the level's simplified shapes as inline SVG, one area marked.

No tiles and no request to anyone: the shapes come from the release (``simplified_shapes``).
"""

from __future__ import annotations

import math

import shapely

from geo.release import PublishedBuild
from geo.release.tables import memoised
from geo.render.maps import simplified_shapes
from geo.render.profiles import svg
from geo.render.profiles.data import AreaRef

LOCATOR_WIDTH = 240.0
LOCATOR_SHARE = 1 / 1000
"""Simplification of the locator's shapes (a share of the map's diagonal): coarse is enough."""
AREA_FILL = "#1f5fa8"
OTHER_FILL = "#d9d9d9"
MIN_VISIBLE = 6.0
"""An area smaller than this (pixels) also gets a ring, so it can be found."""


def _rings(geom: shapely.Geometry) -> list[list[tuple[float, float]]]:
    polygons = getattr(geom, "geoms", [geom])
    rings = []
    for poly in polygons:
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        rings.append(list(poly.exterior.coords))
        rings += [list(r.coords) for r in poly.interiors]
    return rings


def _paths(published: PublishedBuild, level: str) -> tuple[float, dict[str, tuple[str, tuple[
        float, float, float, float]]]]:
    """Height and, per area, the SVG path and pixel bounds of the level (once per release)."""

    def make() -> tuple[float, dict[str, tuple[str, tuple[float, float, float, float]]]]:
        shapes = simplified_shapes(published, level, share=LOCATOR_SHARE)
        minx, miny, maxx, maxy = shapes.total_bounds
        aspect = math.cos(math.radians((miny + maxy) / 2))
        scale = (LOCATOR_WIDTH - 4) / max((maxx - minx) * aspect, 1e-12)
        height = (maxy - miny) * scale + 4

        def px(lon: float, lat: float) -> tuple[float, float]:
            return 2 + (lon - minx) * aspect * scale, 2 + (maxy - lat) * scale

        out = {}
        for area_id, geom in zip(shapes["area_id"], shapes.geometry, strict=True):
            parts, xs, ys = [], [], []
            for ring in _rings(geom):
                pts = [px(lon, lat) for lon, lat in ring]
                xs += [p[0] for p in pts]
                ys += [p[1] for p in pts]
                parts.append("M" + "L".join(f"{svg.num(a)} {svg.num(b)}" for a, b in pts) + "Z")
            if parts:
                out[str(area_id)] = ("".join(parts), (min(xs), min(ys), max(xs), max(ys)))
        return height, out

    return memoised(published, ("profile-locator", level), make)


def locator_svg(published: PublishedBuild, area: AreaRef, uid: str) -> str | None:
    """The level's areas in grey with ``area`` in blue; None when the level has no shapes."""
    if area.level not in published.shapes:
        return None
    height, paths = _paths(published, area.level)
    if area.area_id not in paths:
        return None
    body = [svg.path(d, OTHER_FILL) for aid, (d, _) in paths.items() if aid != area.area_id]
    d, (x0, y0, x1, y1) = paths[area.area_id]
    body.append(svg.path(d, AREA_FILL, stroke="#0b2f5a", width=1.0))
    if max(x1 - x0, y1 - y0) < MIN_VISIBLE:
        body.append(f'<circle cx="{svg.num((x0 + x1) / 2)}" cy="{svg.num((y0 + y1) / 2)}" '
                    f'r="{svg.num(MIN_VISIBLE + 2)}" fill="none" stroke="{AREA_FILL}" '
                    'stroke-width="2"/>')
    geo = published.geography
    title = f"Lage: {area.name} ({area.level_name}) in {geo.total_name}"
    description = (f"Karte aller Gebiete der Ebene {area.level_name} von {geo.total_name}; "
                   f"{area.name} ist blau hervorgehoben.")
    return svg.document(LOCATOR_WIDTH, height, uid, title, description, body)

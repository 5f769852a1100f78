"""Path and query parameters shared by the routers, documented once (German, for /docs).

The OGC API's parameters are parsed here too: text in, the library's typed values out,
``OGCParameterError`` (HTTP 400) for anything the standard calls an invalid value.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Path, Query

from geo.render.features import CRS84, MAX_LIMIT, BBox, Interval
from service.errors import OGCParameterError

GeographyPath = Annotated[str, Path(description="Geografie-ID, z. B. berlin-lor-2021")]
IndicatorPath = Annotated[str, Path(description="Indikator-ID, z. B. auslaenderanteil")]
YearParam = Annotated[str | None, Query(
    description="Jahr (2023) oder zusammengefasster Zeitraum (2021-2023); ohne Angabe je "
                "Indikator das letzte Jahr mit Werten")]
CompareParam = Annotated[str | None, Query(
    max_length=32,
    description="Vergleichsjahr (2021) oder Vergleichszeitraum (2018-2020): jede Zeile erhält "
                "change (Wert minus Wert im Vergleichsjahr, bei % in Prozentpunkten), "
                "change_ci_low/change_ci_high (95-%-Intervall der Differenz, Newcombe bzw. "
                "MOVER) und change_direction (increase, decrease, similar); leer, wenn eine "
                "Seite gesperrt ist oder fehlt. Nur Jahr mit Jahr oder Zeitraum mit gleich "
                "langem Zeitraum; ohne year= das letzte Jahr")]
ClassesParam = Annotated[Literal["year", "all-years"], Query(
    description="Klassengrenzen über das gezeigte Jahr (year) oder über alle Jahre und "
                "Zeiträume des Indikators auf dieser Ebene (all-years): dieselben Klassen für "
                "jedes Jahr, damit Karten zweier Jahre vergleichbar sind; ohne Wirkung bei "
                "compare=")]
LevelParam = Annotated[str | None, Query(
    description="Gezeigte Ebene (z. B. quartier, stadtbezirk); ohne Angabe die feinste")]
VersionParam = Annotated[str | None, Query(
    description="Release-ID des aktuellen Releases, nur für langes Caching (`v=`)")]
ReleaseParam = Annotated[str | None, Query(
    max_length=64,
    description="Release-ID: die Antwort genau dieses Releases, für immer gleich (für Links in "
                "Berichten); ohne Angabe das aktuelle Release. Liste: "
                "/api/geographies/{geografie}/releases")]

# --- OGC API Features --------------------------------------------------------------------------

CollectionPath = Annotated[str, Path(
    description="Collection-ID `{geografie}.{ebene}`, z. B. berlin-lor-2021.prognoseraum")]
FeaturePath = Annotated[str, Path(description="Gebiets-ID (area_id)")]
OGCFormatParam = Annotated[str | None, Query(
    pattern="^(json|geojson)$", description="Ausgabeformat: json oder geojson")]
CrsParam = Annotated[str | None, Query(
    description=f"Koordinatenreferenzsystem der Antwort (OGC API Features Teil 2): {CRS84} "
                "(Längen-/Breitengrad, Voreinstellung) oder das eigene der Geografie, z. B. "
                "http://www.opengis.net/def/crs/EPSG/0/25832 (Liste `crs` der Collection)")]
BBoxCrsParam = Annotated[str | None, Query(
    alias="bbox-crs", description=f"CRS des bbox-Parameters: {CRS84} (Voreinstellung) oder "
                                  "eines aus der Liste `crs` der Collection")]
LimitParam = Annotated[int, Query(
    ge=1, description=f"Höchstzahl der Features je Seite (1 bis {MAX_LIMIT:,}; "
                      "größere Werte werden auf das Maximum gesetzt)")]
OffsetParam = Annotated[int, Query(ge=0, description="Zahl der zu überspringenden Features")]
BBoxParam = Annotated[str | None, Query(
    description="minLon,minLat,maxLon,maxLat (CRS84; mit bbox-crs in dessen Koordinaten): nur "
                "Features, die diese Box schneiden")]
DatetimeParam = Annotated[str | None, Query(
    description="Zeitpunkt oder Intervall (RFC 3339, `..` offen); die Werte gelten für das "
                "jeweils letzte Jahr je Indikator")]


def parse_bbox(text: str, geographic: bool = True) -> BBox:
    """``minLon,minLat,maxLon,maxLat`` (or with heights, 6 numbers) as a box; with
    ``geographic=False`` (a projected bbox-crs) four coordinates, lower corner first."""
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise OGCParameterError(f"bbox '{text}' must be 4 or 6 comma-separated numbers") from None
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if len(parts) != 4 or not all(math.isfinite(p) for p in parts):
        raise OGCParameterError(f"bbox '{text}' must be 4 or 6 comma-separated numbers")
    box = BBox(*parts)
    if not geographic:
        if box.minx > box.maxx or box.miny > box.maxy:
            raise OGCParameterError(f"bbox '{text}': the lower corner must come first")
        return box
    if box.miny > box.maxy or not (-90 <= box.miny <= 90 and -90 <= box.maxy <= 90):
        raise OGCParameterError(f"bbox '{text}': latitudes must be within -90..90, lower first")
    return box


def _instant(text: str, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        if len(text) == 10:
            moment = datetime.fromisoformat(text + ("T23:59:59" if end else "T00:00:00"))
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise OGCParameterError(f"datetime '{text}' is not an RFC 3339 date or date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_datetime(text: str) -> Interval:
    """An RFC 3339 instant (a date covers its whole day) or interval (``..`` open)."""
    start_text, sep, end_text = text.partition("/")
    start = _instant(start_text, end=False)
    end = _instant(end_text, end=True) if sep else _instant(start_text, end=True)
    if sep and start is not None and end is not None and start > end:
        raise OGCParameterError(f"datetime '{text}': the interval ends before it starts")
    return Interval(start, end)


def parse_crs(value: str | None, name: str, offered: tuple[str, ...] = (CRS84,)) -> str:
    """The CRS URI asked for (angle brackets allowed; default CRS84), one of ``offered``."""
    if value is None:
        return CRS84
    uri = value.strip().strip("<>")
    if uri not in offered:
        raise OGCParameterError(f"{name} '{value}' is not supported (offered: "
                                f"{', '.join(offered)})")
    return uri

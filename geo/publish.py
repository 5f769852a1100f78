"""The published build: a frozen object whose withheld cells carry no value, and its files."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from geo import __version__
from geo.catalogue import Catalogue
from geo.errors import BuildError, NotFoundError
from geo.rates import RELIABLE_MIN, VALUE_COLUMNS, compute_values

if TYPE_CHECKING:
    from geo.disclosure import Protection
    from geo.geography import Geography

MANIFEST_FILE = "manifest.json"
CATALOGUE_FILE = "indicators.json"
AREAS_FILE = "areas.csv"
CELLS_FILE = "cells.csv"
VALUES_FILE = "values.csv"
GPKG_FILE = "layers.gpkg"
TILES_FILE = "tiles.pmtiles"
ATTRIBUTION_FILE = "ATTRIBUTION.txt"
TOTAL = "total"
WIDE_FIELDS = (
    "ci_low",
    "ci_high",
    "numerator",
    "denominator",
    "reliable",
    "vs_total",
    "status",
    "year",
)
"""Per indicator, the wide tables carry ``<ind>`` (the rate) and ``<ind>_<field>``."""


@dataclass(frozen=True)
class LevelInfo:
    """A level of a published geography."""

    id: str
    name: str
    count: int


@dataclass(frozen=True)
class GeographyInfo:
    """What a published build says about its geography."""

    id: str
    name: str
    attribution: str
    total_id: str
    total_name: str
    levels: tuple[LevelInfo, ...]
    notice: str = ""

    @property
    def level_ids(self) -> list[str]:
        """Level ids, coarsest first."""
        return [lv.id for lv in self.levels]

    def level(self, level_id: str) -> LevelInfo:
        """Return one level (``total`` included) or raise NotFoundError."""
        if level_id == TOTAL:
            return LevelInfo(TOTAL, self.total_name, 1)
        for lv in self.levels:
            if lv.id == level_id:
                return lv
        known = ", ".join(self.level_ids)
        raise NotFoundError(f"unknown level '{level_id}' of '{self.id}' (known: {known}, total)")


@dataclass(frozen=True)
class PublishedBuild:
    """A release as it may be published: withheld cells have no value at all."""

    geography: GeographyInfo
    catalogue: Catalogue
    areas: pd.DataFrame
    shapes: Mapping[str, gpd.GeoDataFrame]
    cells: pd.DataFrame
    values: pd.DataFrame
    years: tuple[int, ...]
    release_id: str
    parameters: Mapping[str, Any]
    created: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    downloads: tuple[str, ...] = ()

    @cached_property
    def _latest_years(self) -> dict[str, int]:
        rows = self.values[self.values["status"] != "missing"]
        return {str(k): int(v) for k, v in rows.groupby("indicator")["year"].max().items()}

    def latest_year(self, indicator: str | None = None) -> int:
        """Latest year with any non-missing value (of one indicator, or of any)."""
        if not self.years:
            raise NotFoundError(f"'{self.geography.id}' has no years")
        if indicator is None:
            return max(self._latest_years.values(), default=max(self.years))
        self.catalogue.indicator(indicator)
        return self._latest_years.get(indicator, max(self.years))

    def check_year(self, year: int) -> int:
        """Return the year if the build has it, else raise NotFoundError."""
        if year not in self.years:
            known = ", ".join(str(y) for y in self.years)
            raise NotFoundError(f"year {year} is not in '{self.geography.id}' (known: {known})")
        return year


def _release_id(inputs: Mapping[str, str], parameters: Mapping[str, Any]) -> str:
    payload = json.dumps(
        {
            "inputs": dict(sorted(inputs.items())),
            "parameters": dict(parameters),
            "version": __version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def file_hash(path: Path) -> str:
    """Return the sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def publish(
    geography: Geography,
    catalogue: Catalogue,
    cells: pd.DataFrame,
    protection: Protection,
    *,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, str],
) -> PublishedBuild:
    """Make the published build: drop every withheld value, then compute the rates."""
    status = protection.status.reindex(cells.index)
    if status.isna().any():
        raise BuildError("disclosure control returned no status for some cells")
    published_cells = cells[["level", "area_id", "variable", "year"]].copy()
    published_cells["value"] = cells["value"].astype("Int64").where(status == "published")
    published_cells["status"] = status.to_numpy()
    reliable_min = int(parameters.get("reliable_min", RELIABLE_MIN))
    values = compute_values(published_cells, geography.areas, catalogue, reliable_min=reliable_min)
    spec = geography.spec
    areas = geography.areas
    info = GeographyInfo(
        id=spec.id,
        name=spec.name,
        attribution=spec.attribution,
        total_id=spec.total_id,
        total_name=spec.total_name,
        levels=tuple(
            LevelInfo(lv.id, lv.name, int((areas["level"] == lv.id).sum())) for lv in spec.levels
        ),
        notice=spec.notice or "",
    )
    years = tuple(sorted(int(y) for y in published_cells["year"].unique()))
    return PublishedBuild(
        geography=info,
        catalogue=catalogue,
        areas=areas.reset_index(drop=True),
        shapes=MappingProxyType(dict(geography.shapes)),
        cells=published_cells.reset_index(drop=True),
        values=values,
        years=years,
        release_id=_release_id(inputs, parameters),
        parameters=MappingProxyType(dict(parameters)),
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
        inputs=MappingProxyType(dict(inputs)),
    )


def wide_values(published: PublishedBuild, level: str, year: int | None = None) -> pd.DataFrame:
    """One row per area of ``level``: ids, names and every indicator's published values.

    ``year=None`` takes each indicator's latest year with data.
    """
    published.geography.level(level)
    areas = published.areas[published.areas["level"] == level][["area_id", "name", "parent_id"]]
    out = areas.reset_index(drop=True)
    values = published.values[published.values["level"] == level]
    columns: dict[str, Any] = {}
    for ind in published.catalogue.indicators:
        rows = values[values["indicator"] == ind.id]
        chosen = year if year is not None else published.latest_year(ind.id)
        rows = rows[rows["year"] == chosen].set_index("area_id").reindex(out["area_id"])
        columns[ind.id] = rows["rate"].to_numpy()
        for fld in WIDE_FIELDS:
            if fld == "year":
                columns[f"{ind.id}_year"] = np.full(len(out), chosen, dtype="int64")
            else:
                columns[f"{ind.id}_{fld}"] = rows[fld].array
    return pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)


def _attribution_text(published: PublishedBuild) -> str:
    geo = published.geography
    lines = [
        f"{geo.name} ({geo.id}), Release {published.release_id}",
        f"Quelle / Source: {geo.attribution}",
    ]
    if geo.notice:
        lines.append(f"Hinweis: {geo.notice}")
    lines += [
        "Gesperrte Werte (Geheimhaltung) sind leer; status = suppressed.",
        "Withheld values are empty; status = suppressed.",
        f"Erstellt mit Quartier {__version__} am {published.created}.",
    ]
    return "\n".join(lines) + "\n"


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False, lineterminator="\n")


def write_build(
    published: PublishedBuild, out_dir: Path, *, extra_files: Mapping[str, str] = {}
) -> None:
    """Write the published files into ``out_dir`` (which must be empty or new)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_csv(published.areas, out_dir / AREAS_FILE)
    _write_csv(published.cells, out_dir / CELLS_FILE)
    _write_csv(published.values, out_dir / VALUES_FILE)
    (out_dir / CATALOGUE_FILE).write_text(
        json.dumps(published.catalogue.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (out_dir / ATTRIBUTION_FILE).write_text(_attribution_text(published), encoding="utf-8")
    _write_gpkg(published, out_dir / GPKG_FILE)
    for name, text in extra_files.items():
        (out_dir / name).write_text(text, encoding="utf-8")


def _write_gpkg(published: PublishedBuild, path: Path) -> None:
    description = published.geography.attribution
    if published.geography.notice:
        description += f" – {published.geography.notice}"
    for level in [TOTAL, *published.geography.level_ids]:
        wide = wide_values(published, level)
        shapes = published.shapes[level].set_index("area_id").reindex(wide["area_id"])
        frame = gpd.GeoDataFrame(wide, geometry=shapes.geometry.to_numpy(), crs="EPSG:4326")
        for col in frame.columns:
            if frame[col].dtype == object and col != "geometry":
                frame[col] = frame[col].astype("string")
        pyogrio.write_dataframe(
            frame, path, layer=level, driver="GPKG", layer_options={"DESCRIPTION": description}
        )
    pyogrio.write_dataframe(
        pd.DataFrame(published.values), path, layer="indicator_values", driver="GPKG"
    )


def write_manifest(published: PublishedBuild, out_dir: Path, files: list[str]) -> None:
    """Write manifest.json last: its presence marks a complete build."""
    counts = published.cells["status"].value_counts()
    geo = published.geography
    manifest = {
        "geography": {
            "id": geo.id,
            "name": geo.name,
            "attribution": geo.attribution,
            "notice": geo.notice,
            "total_id": geo.total_id,
            "total_name": geo.total_name,
            "levels": [{"id": lv.id, "name": lv.name, "count": lv.count} for lv in geo.levels],
        },
        "release_id": published.release_id,
        "quartier_version": __version__,
        "created": published.created,
        "years": list(published.years),
        "inputs": dict(published.inputs),
        "parameters": dict(published.parameters),
        "cells": {s: int(counts.get(s, 0)) for s in ("published", "suppressed", "missing")},
        "files": sorted(files),
    }
    (out_dir / MANIFEST_FILE).write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8"
    )


def read_build(build_dir: Path) -> PublishedBuild:
    """Read a published build back from its folder (what the service serves)."""
    build_dir = Path(build_dir)
    try:
        manifest = json.loads((build_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
        catalogue = Catalogue.from_dict(
            json.loads((build_dir / CATALOGUE_FILE).read_text(encoding="utf-8"))
        )
        areas = pd.read_csv(build_dir / AREAS_FILE, dtype=str, keep_default_na=False)
        cells = pd.read_csv(
            build_dir / CELLS_FILE,
            dtype={
                "level": str,
                "area_id": str,
                "variable": str,
                "year": "int64",
                "value": "Int64",
                "status": str,
            },
            keep_default_na=False,
            na_values={"value": [""]},
        )
        values = pd.read_csv(
            build_dir / VALUES_FILE,
            dtype={
                "level": str,
                "area_id": str,
                "name": str,
                "indicator": str,
                "year": "int64",
                "numerator": "Int64",
                "denominator": "Int64",
                "status": str,
                "vs_total": str,
                "reliable": "boolean",
            },
            keep_default_na=False,
            na_values={
                c: [""]
                for c in (
                    "numerator",
                    "denominator",
                    "rate",
                    "ci_low",
                    "ci_high",
                    "reliable",
                    "vs_total",
                )
            },
        )
        g = manifest["geography"]
        info = GeographyInfo(
            id=g["id"],
            name=g["name"],
            attribution=g["attribution"],
            total_id=g["total_id"],
            total_name=g["total_name"],
            levels=tuple(LevelInfo(lv["id"], lv["name"], int(lv["count"])) for lv in g["levels"]),
            notice=g.get("notice") or "",
        )
        shapes = {}
        for level in [TOTAL, *info.level_ids]:
            frame = pyogrio.read_dataframe(
                build_dir / GPKG_FILE, layer=level, columns=["area_id", "name", "parent_id"]
            )
            frame["area_id"] = frame["area_id"].astype(str)
            shapes[level] = frame
    except (OSError, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise BuildError(f"{build_dir}: not a readable Quartier build ({exc})") from exc
    values = values[VALUE_COLUMNS]
    values["vs_total"] = values["vs_total"].astype(object).where(values["vs_total"].notna(), None)
    files = tuple(n for n in manifest.get("files", []) if (build_dir / n).exists())
    return PublishedBuild(
        geography=info,
        catalogue=catalogue,
        areas=areas,
        shapes=MappingProxyType(shapes),
        cells=cells,
        values=values,
        years=tuple(int(y) for y in manifest["years"]),
        release_id=manifest["release_id"],
        parameters=MappingProxyType(manifest.get("parameters", {})),
        created=manifest["created"],
        inputs=MappingProxyType(manifest.get("inputs", {})),
        downloads=files,
    )

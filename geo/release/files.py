"""The CSV and JSON files of a release, written and read back (the service's only way in)."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd
import pyogrio

from geo import __version__
from geo.errors import BuildError
from geo.inputs.catalogue import Catalogue
from geo.inputs.geography import TOTAL
from geo.inputs.periods import sorted_year_keys, year_column
from geo.release.csvtext import frame_parts
from geo.release.formulas import restore_frame
from geo.release.layout import (
    AREAS_FILE,
    ATTRIBUTION_FILE,
    CATALOGUE_FILE,
    CELLS_FILE,
    GPKG_FILE,
    PROVENANCE_FILE,
    VALUES_FILE,
)
from geo.release.manifest import geography_from_manifest, read_manifest
from geo.release.parameters import BuildParameters
from geo.release.published import MEASURE_COLUMNS, PublishedBuild, no_measures
from geo.stats.rates import VALUE_COLUMNS

_CELL_TYPES = {
    "level": str,
    "area_id": str,
    "variable": str,
    "year": str,
    "value": str,
    "status": str,
}
_VALUE_TYPES = {
    "level": str,
    "area_id": str,
    "name": str,
    "indicator": str,
    "year": str,
    "numerator": "Int64",
    "denominator": "Int64",
    "status": str,
    "vs_total": str,
    "reliable": "boolean",
}
_CELL_TEXT = ("level", "area_id", "variable", "status")
"""The text columns of ``cells.csv`` (``value`` holds numbers, some negative, as text)."""
WGS84 = "EPSG:4326"
"""The CRS of the shapes a read build holds (the GeoPackage may hold another)."""
_VALUE_EMPTY = ("numerator", "denominator", "rate", "ci_low", "ci_high", "reliable", "vs_total")


def attribution_text(published: PublishedBuild) -> str:
    """``ATTRIBUTION.txt``: source, notice, what withheld means, release and version."""
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


def write_csv(frame: pd.DataFrame, path: Path, text: Collection[str] | None = None) -> None:
    """``frame`` as a UTF-8 CSV file: its ``text`` columns (default: all) neutralised."""
    with path.open("wb") as out:
        out.writelines(frame_parts(frame, text))


def _text_columns(types: dict[str, object]) -> list[str]:
    return [column for column, kind in types.items() if kind is str]


def _cells_text(published: PublishedBuild) -> pd.DataFrame:
    """Count cells (whole numbers) followed by measure cells (decimals) for ``cells.csv``."""
    if not len(published.measures):
        return published.cells
    measures = published.measures.copy()
    measures["value"] = [
        "" if pd.isna(v) else np.format_float_positional(float(v), trim="-")
        for v in measures["value"]
    ]
    counts = published.cells.astype({"value": "string"})
    return pd.concat([counts, measures[list(MEASURE_COLUMNS)]], ignore_index=True)


def write_build(published: PublishedBuild, out_dir: Path) -> None:
    """Write the release's CSV and JSON files into ``out_dir`` (which must be empty or new)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # users open these files in spreadsheets: no text cell may start a formula
    write_csv(published.areas, out_dir / AREAS_FILE)
    write_csv(_cells_text(published), out_dir / CELLS_FILE, _CELL_TEXT)
    write_csv(published.values, out_dir / VALUES_FILE)
    (out_dir / CATALOGUE_FILE).write_text(
        json.dumps(published.catalogue.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    (out_dir / ATTRIBUTION_FILE).write_text(attribution_text(published), encoding="utf-8")
    if published.provenance:
        (out_dir / PROVENANCE_FILE).write_text(
            json.dumps(dict(published.provenance), ensure_ascii=False, indent=1),
            encoding="utf-8",
        )


def read_cells(path: Path, measures: Collection[str] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``cells.csv`` as count cells (Int64, empty unless published) and measure cells."""
    frame = restore_frame(pd.read_csv(path, dtype=_CELL_TYPES, keep_default_na=False),
                          _CELL_TEXT)
    frame["year"] = year_column(frame["year"]).to_numpy()  # years and periods ("2021-2023")
    is_measure = frame["variable"].isin(list(measures)).to_numpy()
    counts = frame[~is_measure].reset_index(drop=True)
    counts["value"] = pd.to_numeric(counts["value"].replace("", None)).astype("Int64")
    if not is_measure.any():
        return counts, no_measures()
    decimals = frame[is_measure].reset_index(drop=True)
    decimals["value"] = pd.to_numeric(decimals["value"].replace("", None)).astype("float64")
    return counts, decimals[list(MEASURE_COLUMNS)]


def read_values(path: Path) -> pd.DataFrame:
    """``values.csv`` with its types (withheld fields empty)."""
    values = pd.read_csv(
        path,
        dtype=_VALUE_TYPES,
        keep_default_na=False,
        na_values={c: [""] for c in _VALUE_EMPTY},
    )
    values = restore_frame(values[VALUE_COLUMNS], _text_columns(_VALUE_TYPES))
    values["year"] = year_column(values["year"]).to_numpy()
    values["vs_total"] = values["vs_total"].astype(object).where(values["vs_total"].notna(), None)
    return values


def read_build(build_dir: Path) -> PublishedBuild:
    """Read a published build back from its folder (what the service serves).

    Raises:
        BuildError: the folder is not a readable build, or a withheld cell carries a value.
    """
    build_dir = Path(build_dir)
    try:
        manifest = read_manifest(build_dir)
        catalogue = Catalogue.from_dict(
            json.loads((build_dir / CATALOGUE_FILE).read_text(encoding="utf-8"))
        )
        areas = restore_frame(
            pd.read_csv(build_dir / AREAS_FILE, dtype=str, keep_default_na=False))
        cells, measures = read_cells(build_dir / CELLS_FILE, catalogue.measure_ids)
        provenance_path = build_dir / PROVENANCE_FILE
        provenance = (json.loads(provenance_path.read_text(encoding="utf-8"))
                      if provenance_path.exists() else {})
        values = read_values(build_dir / VALUES_FILE)
        info = geography_from_manifest(manifest)
        shapes = {}
        for level in [TOTAL, *info.level_ids]:
            frame = pyogrio.read_dataframe(
                build_dir / GPKG_FILE, layer=level, columns=["area_id", "name", "parent_id"]
            )
            frame["area_id"] = frame["area_id"].astype(str)
            # the GeoPackage holds the geography's own CRS; everything else reads EPSG:4326
            shapes[level] = frame if frame.crs == WGS84 else frame.to_crs(WGS84)
        parameters = BuildParameters.from_dict(manifest.get("parameters", {}))
        years = sorted_year_keys(manifest["years"])
        release = str(manifest["release_id"])
        created = str(manifest["created"])
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise BuildError(f"{build_dir}: not a readable Quartier build ({exc})") from exc
    files = tuple(n for n in manifest.get("files", []) if (build_dir / n).exists())
    try:
        return PublishedBuild(
            geography=info,
            catalogue=catalogue,
            areas=areas,
            shapes=MappingProxyType(shapes),
            cells=cells,
            values=values,
            years=years,
            release_id=release,
            parameters=parameters,
            created=created,
            inputs=MappingProxyType(manifest.get("inputs", {})),
            downloads=files,
            measures=measures,
            provenance=MappingProxyType(provenance),
        )
    except BuildError as exc:
        raise BuildError(f"{build_dir}: {exc}") from None

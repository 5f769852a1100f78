"""The GeoPackage of a release: one layer per level (and the total) with the wide values.

The layers are in the geography's own CRS (``GeographyInfo.crs``, e.g. EPSG:25832 for
Wuppertal, EPSG:25833 for Berlin), as GIS staff measure and overlay them; ``read_build``
reprojects the shapes it reads back to EPSG:4326.

The long table ``indicator_values`` (every indicator, area and year: a million rows at
national scale) is an attribute table without geometry; it is written with SQLite itself in
one transaction, as GDAL would write it (same table definition, ``gpkg_contents`` row with
``data_type = 'attributes'``, feature count and its triggers), in a fraction of the time
GDAL takes feature by feature.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

from geo.release import TOTAL, PublishedBuild, wide_values

VALUES_TABLE = "indicator_values"
ROWS_PER_INSERT = 64
"""Rows per INSERT statement (one statement per row spends most of its time on the call)."""


def write_gpkg(published: PublishedBuild, path: Path) -> None:
    """Write ``layers.gpkg``: a layer per level with every indicator's latest published values,
    and ``indicator_values`` with every year (QGIS styles are added by ``geo.render.qgis``)."""
    description = published.geography.attribution
    if published.geography.notice:
        description += f" – {published.geography.notice}"
    for level in [TOTAL, *published.geography.level_ids]:
        wide = wide_values(published, level)
        shapes = published.shapes[level].set_index("area_id").reindex(wide["area_id"])
        frame = gpd.GeoDataFrame(wide.copy(), geometry=shapes.geometry.to_numpy(),
                                 crs=shapes.crs or "EPSG:4326")
        frame = frame.to_crs(published.geography.crs)
        for col in frame.columns:
            if frame[col].dtype == object and col != "geometry":
                frame[col] = frame[col].astype("string")
        pyogrio.write_dataframe(
            frame, path, layer=level, driver="GPKG", layer_options={"DESCRIPTION": description}
        )
    values = pd.DataFrame(published.values)
    # one column type: whole numbers, or the labels once pooled periods ("2021-2023") are in
    years = values["year"]
    text = any(issubclass(kind, str) for kind in set(map(type, years.to_numpy(object))))
    values["year"] = years.map(str).astype("string") if text else years.astype("int64")
    write_attributes(values, path, VALUES_TABLE)


def _sql_type(series: pd.Series) -> str | None:
    """The column type GDAL gives a column of this dtype (None: one not handled here)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "BOOLEAN"
    if dtype == np.int64 or isinstance(dtype, pd.Int64Dtype):
        return "INTEGER"
    if dtype == np.float64:
        return "REAL"
    if isinstance(dtype, pd.StringDtype):
        return "TEXT"
    if pd.api.types.is_object_dtype(dtype) and set(map(type, series.dropna().to_numpy())) <= {str}:
        return "TEXT"
    return None


_NULL = float("nan")
"""What missing values are bound as: SQLite stores a NaN as NULL, and Python's sqlite3 binds a
float ten times faster than None (which goes through its adapter lookup)."""


def _sql_values(series: pd.Series) -> np.ndarray:
    """The column as Python values SQLite binds (missing = NaN, i.e. NULL; booleans as 0/1)."""
    missing = series.isna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype):
        out = series.to_numpy(dtype=bool, na_value=False).astype(np.int64).astype(object)
    elif pd.api.types.is_string_dtype(series.dtype):
        out = series.to_numpy(dtype=object, copy=True)  # missing ones replaced below
    else:  # int64, Int64 or float64: Python ints and floats
        numbers = np.float64 if series.dtype == np.float64 else np.int64
        out = series.to_numpy(dtype=numbers, na_value=0).astype(object)
    if missing.any():
        out[missing] = _NULL
    return out


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _chunks(columns: list[np.ndarray], size: int) -> Iterator[tuple[int, list[object]]]:
    """Rows in chunks of ``size`` (the last one shorter): row count and the values row by row."""
    rows = len(columns[0])
    step = size * 1024  # rows laid out row by row at a time (bounded memory)
    for first in range(0, rows, step):
        block = np.empty((min(step, rows - first), len(columns)), dtype=object)
        for j, column in enumerate(columns):
            block[:, j] = column[first:first + step]
        for start in range(0, len(block), size):
            part = block[start:start + size]
            yield len(part), part.ravel().tolist()


def write_attributes(frame: pd.DataFrame, path: Path, table: str) -> None:
    """Add ``frame`` to the GeoPackage ``path`` as an attribute table ``table`` (as
    ``pyogrio.write_dataframe`` would, which writes a frame of other column types)."""
    types = {column: _sql_type(frame[column]) for column in frame.columns}
    if not types or any(kind is None for kind in types.values()) or "fid" in types:
        pyogrio.write_dataframe(frame, path, layer=table, driver="GPKG")
        return
    name = _quote(table)
    columns = ", ".join(f"{_quote(c)} {kind}" for c, kind in types.items())
    names = ", ".join(_quote(c) for c in types)
    row = "(" + ", ".join("?" * len(types)) + ")"
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        # a new file in a folder that is moved into place only when complete
        db.execute("PRAGMA synchronous = OFF")
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("BEGIN")
        db.execute(f'CREATE TABLE {name} ( "fid" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
                   f"{columns})")
        if len(frame):
            values = [_sql_values(frame[c]) for c in types]
            full = f"INSERT INTO {name} ({names}) VALUES " + ", ".join([row] * ROWS_PER_INSERT)
            for count, flat in _chunks(values, ROWS_PER_INSERT):
                sql = full if count == ROWS_PER_INSERT else (
                    f"INSERT INTO {name} ({names}) VALUES " + ", ".join([row] * count))
                db.execute(sql, flat)
        db.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
                   "srs_id) VALUES (?, 'attributes', ?, '', 0)", (table, table))
        db.execute("INSERT INTO gpkg_ogr_contents (table_name, feature_count) VALUES (?, ?)",
                   (table, len(frame)))
        literal = "'" + table.replace("'", "''") + "'"
        for event, change in (("insert", "+"), ("delete", "-")):
            trigger = _quote(f"trigger_{event}_feature_count_{table}")
            db.execute(f"CREATE TRIGGER {trigger} AFTER {event.upper()} ON {name} BEGIN UPDATE "
                       f"gpkg_ogr_contents SET feature_count = feature_count {change} 1 WHERE "
                       f"lower(table_name) = lower({literal}); END")
        db.execute("COMMIT")

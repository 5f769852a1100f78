"""``indicator_values`` is written with SQLite directly (geo.render.gpkg.write_attributes): the
same table GDAL writes, read back the same by GDAL, registered as a GeoPackage attribute table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import box

from geo.release import GPKG_FILE, read_build
from geo.render.gpkg import VALUES_TABLE, write_attributes


def _geopackage(path: Path) -> Path:
    """A GeoPackage with one small layer, as write_gpkg starts it."""
    layer = gpd.GeoDataFrame({"area_id": ["a"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:25832")
    pyogrio.write_dataframe(layer, path, layer="quartier", driver="GPKG")
    return path


def _frame(rows: int = 50) -> pd.DataFrame:
    missing = np.arange(rows) % 4 == 0
    return pd.DataFrame({
        "level": pd.Series(["quartier", "total"] * (rows // 2), dtype="str"),
        "name": pd.Series(["Düsseldorf", "=1+1", 'a "b"', "x'y", None] * (rows // 5),
                          dtype="str"),
        "year": np.arange(rows, dtype=np.int64) % 5 + 2019,
        "numerator": pd.array([None if m else i for i, m in enumerate(missing)], dtype="Int64"),
        "rate": np.where(missing, np.nan, np.linspace(-1.5, 1e6, rows)),
        "vs_total": pd.Series(["higher", None] * (rows // 2), dtype=object),
        "reliable": pd.array([None if m else bool(i % 2) for i, m in enumerate(missing)],
                             dtype="boolean"),
    })


def _table(path: Path, table: str) -> dict[str, object]:
    """Everything a reader can see of the table: definition, triggers, rows with their types,
    GeoPackage registration and feature count."""
    with sqlite3.connect(path) as db:
        columns = [r[1] for r in db.execute(f'PRAGMA table_info("{table}")')]
        types = ", ".join(f'typeof("{c}")' for c in columns)
        return {
            "sql": sorted(db.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = ?",
                                     (table,)).fetchall()),
            "rows": db.execute(f'SELECT * FROM "{table}" ORDER BY fid').fetchall(),
            "types": db.execute(f'SELECT {types} FROM "{table}" ORDER BY fid').fetchall(),
            "contents": db.execute(
                "SELECT table_name, data_type, identifier, description, min_x, min_y, max_x, "
                "max_y, srs_id FROM gpkg_contents WHERE table_name = ?", (table,)).fetchall(),
            "count": db.execute("SELECT feature_count FROM gpkg_ogr_contents WHERE table_name = ?",
                                (table,)).fetchall(),
            "sequence": db.execute("SELECT seq FROM sqlite_sequence WHERE name = ?",
                                   (table,)).fetchall(),
        }


@pytest.mark.parametrize("text_years", [False, True])
def test_attribute_table_is_the_one_gdal_writes(tmp_path: Path, text_years: bool) -> None:
    """Same definition, triggers, values (NULLs included), types, registration and count as
    pyogrio.write_dataframe gives the same frame; pooled periods make ``year`` text."""
    frame = _frame()
    if text_years:
        frame["year"] = frame["year"].map(lambda y: f"{y}-{y + 2}").astype("string")
    ours = _geopackage(tmp_path / "ours.gpkg")
    gdal = _geopackage(tmp_path / "gdal.gpkg")
    write_attributes(frame, ours, "indicator_values")
    pyogrio.write_dataframe(frame, gdal, layer="indicator_values", driver="GPKG")
    assert _table(ours, "indicator_values") == _table(gdal, "indicator_values")
    back = pyogrio.read_dataframe(ours, layer="indicator_values")
    expected = pyogrio.read_dataframe(gdal, layer="indicator_values")
    pd.testing.assert_frame_equal(back, expected)
    assert pyogrio.list_layers(ours).tolist() == pyogrio.list_layers(gdal).tolist()


def test_other_column_types_go_through_gdal(tmp_path: Path) -> None:
    """A frame with a column type not handled here (dates) is written by pyogrio itself."""
    frame = pd.DataFrame({"day": pd.to_datetime(["2024-01-01", "2024-02-01"]), "n": [1, 2]})
    path = _geopackage(tmp_path / "x.gpkg")
    write_attributes(frame, path, "dates")
    back = pyogrio.read_dataframe(path, layer="dates")
    assert back["n"].tolist() == [1, 2] and len(back["day"]) == 2


def test_release_gpkg_holds_every_value_row(mini_data: Path) -> None:
    """The release's GeoPackage: ``indicator_values`` has the release's value rows, read by
    GDAL, and is an attribute table beside the styled layers."""
    build = mini_data / "mini"
    published = read_build(build)
    table = pyogrio.read_dataframe(build / GPKG_FILE, layer=VALUES_TABLE)
    assert len(table) == len(published.values)
    values = published.values.reset_index(drop=True)
    assert table["area_id"].tolist() == values["area_id"].tolist()
    assert table["numerator"].isna().tolist() == values["numerator"].isna().tolist()
    np.testing.assert_array_equal(table["rate"].to_numpy(), values["rate"].to_numpy())
    with sqlite3.connect(build / GPKG_FILE) as db:
        kinds = dict(db.execute("SELECT table_name, data_type FROM gpkg_contents"))
    assert kinds[VALUES_TABLE] == "attributes" and kinds["quartier"] == "features"

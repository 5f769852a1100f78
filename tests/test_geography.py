"""Tests of geo.inputs.geography: manifest, boundary loading, validation and real data."""

from __future__ import annotations

import importlib.util
import json
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from geo.errors import GeographyError, ManifestError, NotFoundError
from geo.inputs.geography import (
    Finding,
    Report,
    check_geography,
    load_geography,
    load_manifest,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared/data"
BERLIN = SHARED / "berlin-lor-2021"
VG5000 = SHARED / "germany-vg5000-2021"
SIZE = 1000.0
X0, Y0 = 360000.0, 5680000.0
CRS = "EPSG:25832"

HEAD = """id = "test"
name = "Test"
attribution = "generated test data"
total_id = "all"
total_name = "All"
"""

BEZIRK = """
[[levels]]
id = "bezirk"
name = "Bezirk"
file = "bezirke.geojson"
key = "BEZ"
label = "NAME"
"""

QUARTIER = """
[[levels]]
id = "quartier"
name = "Quartier"
file = "quartiere.geojson"
key = "Q"
label = "NAME"
"""


def square(col: float, row: float = 0.0, width: float = 1.0) -> Polygon:
    """A square (or rectangle ``width`` squares wide) in metres of EPSG:25832."""
    x, y = X0 + col * SIZE, Y0 + row * SIZE
    return box(x, y, x + width * SIZE, y + SIZE)


def write(path: Path, rows: list[dict], geoms: list, crs: str | None = CRS, **kwargs) -> Path:
    """Write rows with geometries to a file GDAL reads."""
    gpd.GeoDataFrame(rows, geometry=geoms, crs=crs).to_file(path, engine="pyogrio", **kwargs)
    return path


def manifest(folder: Path, *levels: str, head: str = HEAD) -> Path:
    """Write a geography.toml from the head and level tables."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "geography.toml").write_text(head + "".join(levels), encoding="utf-8")
    return folder


def bezirke(folder: Path) -> None:
    """Two Bezirke '01' (squares 0-1) and '02' (squares 2-3)."""
    write(folder / "bezirke.geojson",
          [{"BEZ": "01", "NAME": "Nord"}, {"BEZ": "02", "NAME": "Süd"}],
          [square(0, width=2), square(2, width=2)])


def quartiere(folder: Path, geoms: list | None = None, parents: list | None = None,
              keys: list | None = None) -> None:
    """Four Quartiere, one square each, in Bezirk '01' (0101, 0102) and '02' (0201, 0202)."""
    keys = keys or ["0101", "0102", "0201", "0202"]
    parents = parents or [k[:2] for k in keys]
    geoms = geoms or [square(i) for i in range(len(keys))]
    rows = [{"Q": k, "NAME": f"Quartier {k}", "BEZ": p} for k, p in zip(keys, parents, strict=True)]
    write(folder / "quartiere.geojson", rows, geoms)


def two_levels(folder: Path, rule: str = 'parent = "BEZ"\n', **kwargs) -> Path:
    """A Bezirk/Quartier geography with the given parent rule for Quartiere."""
    manifest(folder, BEZIRK, QUARTIER + rule)
    bezirke(folder)
    quartiere(folder, **kwargs)
    return folder


def messages(report: Report, severity: str) -> list[str]:
    """The formatted findings of one severity."""
    return [f.format() for f in report.findings if f.severity == severity]


def load_bench():
    """Import bench/vg5000.py by path (bench is a script folder, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_vg5000", REPO / "bench/vg5000.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- manifest


def test_manifest_reads_identity_and_levels_coarsest_first(tmp_path):
    """The manifest gives id, names, notice and levels in file order with resolved paths."""
    folder = manifest(tmp_path, BEZIRK, QUARTIER + 'parent = "BEZ"\n',
                      head=HEAD + 'notice = "synthetische Demo-Zahlen"\n')
    spec = load_manifest(folder)
    assert (spec.id, spec.total_id, spec.total_name) == ("test", "all", "All")
    assert spec.notice == "synthetische Demo-Zahlen"
    assert spec.level_ids == ("bezirk", "quartier")
    assert spec.levels[1].file == (folder / "quartiere.geojson").resolve()
    assert spec.levels[1].parent_rule == "field"
    assert spec.manifest_path == folder / "geography.toml"


def test_manifest_without_notice_has_none(tmp_path):
    """Without a notice the spec's notice is None."""
    assert load_manifest(manifest(tmp_path, BEZIRK)).notice is None


def test_manifest_missing_key_names_file_level_and_key(tmp_path):
    """A level without 'key' is an error naming geography.toml, the level and the key."""
    folder = manifest(tmp_path, BEZIRK, QUARTIER.replace('key = "Q"\n', ""))
    with pytest.raises(ManifestError,
                       match=r"geography.toml: levels\[1\] 'quartier': 'key' is missing"):
        load_manifest(folder)


def test_manifest_missing_top_level_field(tmp_path):
    """A manifest without total_id is an error naming the field."""
    folder = manifest(tmp_path, BEZIRK, head=HEAD.replace('total_id = "all"\n', ""))
    with pytest.raises(ManifestError, match=r"geography.toml: 'total_id' is missing"):
        load_manifest(folder)


def test_manifest_unknown_level_key_is_an_error(tmp_path):
    """A misspelt level key is reported, not ignored."""
    folder = manifest(tmp_path, BEZIRK, QUARTIER + 'parnet = "BEZ"\n')
    with pytest.raises(ManifestError, match=r"'quartier': unknown key 'parnet'"):
        load_manifest(folder)


def test_manifest_parent_and_prefix_together_is_an_error(tmp_path):
    """A level may give parent or parent_prefix, not both."""
    folder = manifest(tmp_path, BEZIRK, QUARTIER + 'parent = "BEZ"\nparent_prefix = 2\n')
    with pytest.raises(ManifestError, match="either 'parent' or 'parent_prefix'"):
        load_manifest(folder)


def test_manifest_path_leaving_the_folder_is_an_error(tmp_path):
    """A file outside the geography folder is refused."""
    folder = manifest(tmp_path / "geo", BEZIRK.replace("bezirke.geojson", "../bezirke.geojson"))
    with pytest.raises(ManifestError, match=r"'\.\./bezirke\.geojson' lies outside"):
        load_manifest(folder)


def test_manifest_missing_file_is_an_error(tmp_path):
    """A folder without geography.toml is a ManifestError."""
    with pytest.raises(ManifestError, match="no geography.toml"):
        load_manifest(tmp_path)


def test_manifest_invalid_toml_is_an_error(tmp_path):
    """Broken TOML is reported with the file name."""
    (tmp_path / "geography.toml").write_text("id = \n", encoding="utf-8")
    with pytest.raises(ManifestError, match="geography.toml: not valid TOML"):
        load_manifest(tmp_path)


def test_manifest_unknown_crs_is_an_error(tmp_path):
    """A level crs that pyproj does not know is refused."""
    folder = manifest(tmp_path, BEZIRK + 'crs = "EPSG:999999"\n')
    with pytest.raises(ManifestError, match="'crs' 'EPSG:999999' is not a known CRS"):
        load_manifest(folder)


def test_manifest_derived_finest_level_is_an_error(tmp_path):
    """The finest level needs a file: nothing finer exists to derive it from."""
    folder = manifest(tmp_path, BEZIRK, '[[levels]]\nid = "quartier"\nname = "Quartier"\n')
    with pytest.raises(ManifestError, match=r"levels\[1\] 'quartier': 'file' is missing"):
        load_manifest(folder)


def test_manifest_derived_level_needs_parent_rule_below(tmp_path):
    """A derived level needs parent or parent_prefix in the next finer level."""
    folder = manifest(tmp_path, '[[levels]]\nid = "bezirk"\nname = "Bezirk"\n', QUARTIER)
    with pytest.raises(ManifestError, match=r"levels\[1\] 'quartier': 'parent' or "
                                            "'parent_prefix' is missing"):
        load_manifest(folder)


def test_manifest_names_only_for_derived_levels(tmp_path):
    """'names' on a level with a file is refused (the file's label gives names)."""
    folder = manifest(tmp_path, BEZIRK + 'names = { "01" = "Nord" }\n')
    with pytest.raises(ManifestError, match="'names' is only for derived levels"):
        load_manifest(folder)


def test_manifest_reserved_level_id(tmp_path):
    """The level id 'total' is reserved for the whole area."""
    folder = manifest(tmp_path, BEZIRK.replace('id = "bezirk"', 'id = "total"'))
    with pytest.raises(ManifestError, match="reserved"):
        load_manifest(folder)


@pytest.mark.parametrize("key, value", [
    ("id", "../escaped"), ("id", "=1+2"), ("total_id", "<b>x</b>"), ("id", "a b"),
    ("id", "x" * 65), ("id", "Wupperäal"),
])
def test_manifest_ids_must_be_plain(tmp_path, key, value):
    """Geography and total ids are plain ids: they name folders, files and URLs."""
    head = HEAD.replace('id = "test"', f'id = "{value}"') if key == "id" else HEAD.replace(
        'total_id = "all"', f'total_id = "{value}"')
    folder = manifest(tmp_path, BEZIRK, head=head)
    with pytest.raises(ManifestError, match=rf"geography.toml: '{key}' .* is not a valid id "
                                            r"\(1 to 64 letters"):
        load_manifest(folder)


def test_manifest_level_id_must_be_plain(tmp_path):
    """A level id with markup is refused, naming the level's index."""
    folder = manifest(tmp_path, BEZIRK.replace('id = "bezirk"', 'id = "<script>"'))
    with pytest.raises(ManifestError, match=r"levels\[0\]: 'id' '<script>' is not a valid id"):
        load_manifest(folder)


def test_manifest_ids_of_bundled_geographies_stay_valid():
    """The bundled manifests use ids the rule accepts."""
    for folder in sorted((REPO / "boundaries").iterdir()):
        spec = load_manifest(folder)
        assert spec.id == folder.name


def test_manifest_not_utf8_is_an_error(tmp_path):
    """A manifest saved as Latin-1 is refused with the byte, not a UnicodeDecodeError."""
    (tmp_path / "geography.toml").write_bytes(HEAD.replace("Test", "T\xe9st").encode("latin-1"))
    with pytest.raises(ManifestError, match=r"geography.toml: not UTF-8 text \(byte \d+\)"):
        load_manifest(tmp_path)


def test_manifest_nested_too_deeply_is_an_error(tmp_path):
    """A TOML array nested 100,000 deep is refused, not a RecursionError."""
    (tmp_path / "geography.toml").write_text("a = " + "[" * 100_000 + "]" * 100_000)
    with pytest.raises(ManifestError, match="nested too deeply"):
        load_manifest(tmp_path)


def test_manifest_that_is_a_folder_is_an_error(tmp_path):
    """A folder named geography.toml cannot be read; the error says so."""
    (tmp_path / "geography.toml").mkdir()
    with pytest.raises(ManifestError, match="cannot read geography.toml: Is a directory"):
        load_manifest(tmp_path)


def test_geography_folder_that_is_a_file_is_an_error(tmp_path):
    """Pointing at a file instead of a folder is a ManifestError."""
    (tmp_path / "counts.csv").write_text("x")
    with pytest.raises(ManifestError, match="is a file, not a geography folder"):
        load_manifest(tmp_path / "counts.csv")


# --------------------------------------------------------------------------- loading


def test_areas_table_total_first_then_levels_sorted(tmp_path):
    """areas has the total row first, then each level coarsest first, sorted, as strings."""
    geography = load_geography(two_levels(tmp_path))
    expected = pd.DataFrame({
        "level": ["total", "bezirk", "bezirk", "quartier", "quartier", "quartier", "quartier"],
        "area_id": ["all", "01", "02", "0101", "0102", "0201", "0202"],
        "name": ["All", "Nord", "Süd", "Quartier 0101", "Quartier 0102", "Quartier 0201",
                 "Quartier 0202"],
        "parent_id": ["", "all", "all", "01", "01", "02", "02"],
    })
    pd.testing.assert_frame_equal(geography.areas, expected, check_dtype=False)
    assert all(pd.api.types.is_string_dtype(geography.areas[c]) for c in expected.columns)


def test_shapes_are_valid_polygons_in_wgs84(tmp_path):
    """Every shape layer is EPSG:4326 with area_id, name, parent_id and valid polygons."""
    geography = load_geography(two_levels(tmp_path))
    assert set(geography.shapes) == {"total", "bezirk", "quartier"}
    for frame in geography.shapes.values():
        assert frame.crs.to_epsg() == 4326
        assert list(frame.columns) == ["area_id", "name", "parent_id", "geometry"]
        assert frame.is_valid.all()
        assert set(frame.geom_type) <= {"Polygon", "MultiPolygon"}


def test_total_shape_is_union_of_top_level(tmp_path):
    """The total shape is the union of the coarsest level, named by total_id/total_name."""
    geography = load_geography(two_levels(tmp_path))
    total = geography.shapes["total"]
    assert total[["area_id", "name", "parent_id"]].values.tolist() == [["all", "All", ""]]
    shape = total.to_crs(CRS).geometry.iloc[0]
    assert shape.symmetric_difference(square(0, width=4)).area < 1.0  # m²


def test_geography_properties_and_level_lookup(tmp_path):
    """id, level_ids, finest and level() describe the loaded geography."""
    geography = load_geography(two_levels(tmp_path))
    assert geography.id == "test"
    assert geography.level_ids == ("bezirk", "quartier")
    assert geography.finest == "quartier"
    assert geography.level("bezirk").key == "BEZ"
    with pytest.raises(NotFoundError, match="has no level 'stadtteil'"):
        geography.level("stadtteil")


def test_parent_prefix_gives_parent_key(tmp_path):
    """parent_prefix = 2 makes the first two characters of the key the parent."""
    geography = load_geography(two_levels(tmp_path, "parent_prefix = 2\n"))
    quartier = geography.areas[geography.areas.level == "quartier"]
    assert quartier.parent_id.tolist() == ["01", "01", "02", "02"]


def test_parent_by_largest_overlap(tmp_path):
    """Without parent or parent_prefix the parent is the coarser area overlapping most."""
    geography = load_geography(two_levels(tmp_path, "", parents=["x", "x", "x", "x"]))
    quartier = geography.areas[geography.areas.level == "quartier"]
    assert quartier.parent_id.tolist() == ["01", "01", "02", "02"]


def test_derived_level_dissolves_finer_level_with_names(tmp_path):
    """A level without file is the dissolve of the finer level by parent key, named by names."""
    folder = manifest(tmp_path, '[[levels]]\nid = "bezirk"\nname = "Bezirk"\n'
                      'names = { "01" = "Nord", "02" = "Süd" }\n',
                      QUARTIER + "parent_prefix = 2\n")
    quartiere(folder)
    geography = load_geography(folder)
    bezirk = geography.shapes["bezirk"]
    assert bezirk[["area_id", "name", "parent_id"]].values.tolist() == [
        ["01", "Nord", "all"], ["02", "Süd", "all"]]
    shape = bezirk.to_crs(CRS).geometry.iloc[0]
    assert shape.symmetric_difference(square(0, width=2)).area < 1.0  # m²


def test_derived_level_without_name_uses_key_and_warns(tmp_path):
    """A derived area missing from names is named by its key, with a warning."""
    folder = manifest(tmp_path, '[[levels]]\nid = "bezirk"\nname = "Bezirk"\n'
                      'names = { "01" = "Nord" }\n', QUARTIER + "parent_prefix = 2\n")
    quartiere(folder)
    geography = load_geography(folder)
    assert geography.shapes["bezirk"].name.tolist() == ["Nord", "02"]
    assert any("no name in 'names' for 02" in m for m in messages(geography.report, "warning"))


def test_three_levels_with_two_derived(tmp_path):
    """Any number of levels: two derived levels above one file level."""
    folder = manifest(
        tmp_path,
        '[[levels]]\nid = "region"\nname = "Region"\nnames = { "0" = "Eins" }\n',
        '[[levels]]\nid = "bezirk"\nname = "Bezirk"\nparent_prefix = 1\n',
        QUARTIER + "parent_prefix = 2\n")
    quartiere(folder)
    geography = load_geography(folder)
    assert geography.areas.level.tolist() == ["total", "region", "bezirk", "bezirk"] + [
        "quartier"] * 4
    assert geography.areas.parent_id.tolist()[1:4] == ["all", "0", "0"]


def test_single_level_geography(tmp_path):
    """A geography with one level loads; its areas have the total as parent."""
    folder = manifest(tmp_path, BEZIRK)
    bezirke(folder)
    geography = load_geography(folder)
    assert geography.areas.parent_id.tolist() == ["", "all", "all"]


# --------------------------------------------------------------------------- keys and formats


def test_numeric_keys_are_text_and_match_text_parents(tmp_path):
    """A numeric key 11 (or 11.0) and a text parent key "11" are the same key."""
    manifest(tmp_path, BEZIRK, QUARTIER + 'parent = "BEZ"\n')
    write(tmp_path / "bezirke.geojson", [{"BEZ": 11.0, "NAME": "Elf"}], [square(0, width=2)])
    write(tmp_path / "quartiere.geojson",
          [{"Q": 1101, "NAME": "a", "BEZ": "11"}, {"Q": 1102, "NAME": "b", "BEZ": "11"}],
          [square(0), square(1)])
    geography = load_geography(tmp_path)
    assert geography.areas.area_id.tolist() == ["all", "11", "1101", "1102"]


def test_leading_zeros_of_text_keys_are_kept(tmp_path):
    """Text keys keep their leading zeros."""
    geography = load_geography(two_levels(tmp_path))
    assert "0101" in geography.shapes["quartier"].area_id.tolist()
    assert geography.shapes["bezirk"].area_id.tolist() == ["01", "02"]


def test_zipped_shapefile(tmp_path):
    """A zipped shapefile (in a subfolder of the zip) is read."""
    shp = tmp_path / "src" / "quartiere.shp"
    shp.parent.mkdir()
    write(shp, [{"Q": "01", "NAME": "a"}, {"Q": "02", "NAME": "b"}], [square(0), square(1)])
    with zipfile.ZipFile(tmp_path / "quartiere.zip", "w") as archive:
        for part in shp.parent.iterdir():
            archive.write(part, f"Quartiere_SHAPE/{part.name}")
    manifest(tmp_path, QUARTIER.replace("quartiere.geojson", "quartiere.zip"))
    assert load_geography(tmp_path).shapes["quartier"].area_id.tolist() == ["01", "02"]


def test_geopackage_layer(tmp_path):
    """'layer' picks one layer of a GeoPackage."""
    gpkg = tmp_path / "layers.gpkg"
    write(gpkg, [{"Q": "x", "NAME": "other"}], [square(5)], layer="other")
    write(gpkg, [{"Q": "01", "NAME": "a"}], [square(0)], layer="quartiere")
    manifest(tmp_path,
             QUARTIER.replace('"quartiere.geojson"', '"layers.gpkg"\nlayer = "quartiere"'))
    assert load_geography(tmp_path).shapes["quartier"].area_id.tolist() == ["01"]


def test_geopackage_with_several_layers_needs_layer(tmp_path):
    """A file with several layers and no 'layer' is an error listing the layers."""
    gpkg = tmp_path / "layers.gpkg"
    write(gpkg, [{"Q": "x", "NAME": "other"}], [square(5)], layer="other")
    write(gpkg, [{"Q": "01", "NAME": "a"}], [square(0)], layer="quartiere")
    manifest(tmp_path, QUARTIER.replace('"quartiere.geojson"', '"layers.gpkg"'))
    assert messages(check_geography(tmp_path), "error") == [
        "error: layers.gpkg: the file has several layers (other, quartiere); set 'layer' for "
        "level 'quartier' in geography.toml"]


def test_where_filters_rows(tmp_path):
    """'where' keeps only the rows of the attribute filter (e.g. land, not water parts)."""
    write(tmp_path / "bezirke.geojson",
          [{"BEZ": "01", "NAME": "a", "GF": 9}, {"BEZ": "01", "NAME": "a (Wasser)", "GF": 8},
           {"BEZ": "02", "NAME": "b", "GF": 9}],
          [square(0), square(5), square(1)])
    manifest(tmp_path, BEZIRK + 'where = "GF = 9"\n')
    geography = load_geography(tmp_path)
    assert geography.shapes["bezirk"].name.tolist() == ["a", "b"]


def test_where_without_rows_is_an_error(tmp_path):
    """A filter that keeps no row is an error naming it."""
    bezirke(tmp_path)
    manifest(tmp_path, BEZIRK + "where = \"NAME = 'none'\"\n")
    report = check_geography(tmp_path)
    assert any("no features with where" in m for m in messages(report, "error"))


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_file_without_crs_needs_crs_in_manifest(tmp_path):
    """A shapefile without .prj is an error unless the level gives crs."""
    manifest(tmp_path, QUARTIER.replace("quartiere.geojson", "quartiere.shp"))
    write(tmp_path / "quartiere.shp", [{"Q": "01", "NAME": "a"}], [square(0)], crs=None)
    report = check_geography(tmp_path)
    assert any("has no CRS; set 'crs'" in m for m in messages(report, "error"))
    manifest(tmp_path, QUARTIER.replace("quartiere.geojson", "quartiere.shp")
             + 'crs = "EPSG:25832"\n')
    geography = load_geography(tmp_path)
    assert geography.shapes["quartier"].geometry.iloc[0].centroid.x == pytest.approx(7.0, abs=0.1)


def test_geographic_data_is_measured_in_metres(tmp_path):
    """EPSG:4326 input loads, and shares inside are computed in a metric CRS."""
    two_levels(tmp_path, geoms=[square(-0.1), square(1), square(2), square(3)])
    for name in ("bezirke.geojson", "quartiere.geojson"):
        frame = gpd.read_file(tmp_path / name).to_crs(4326)
        (tmp_path / name).unlink()
        frame.to_file(tmp_path / name)
    report = load_geography(tmp_path).report
    assert any("90.0 % inside parent '01'" in m for m in messages(report, "warning"))


def _strip_crs_member(path: Path) -> None:
    """Remove the 'crs' member GDAL writes, as most GeoJSON exports do (RFC 7946)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    data.pop("crs", None)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_projected_geojson_without_crs_member_is_an_error_with_the_fix(tmp_path):
    """UTM coordinates in a GeoJSON without 'crs' are refused, saying how to declare the CRS."""
    folder = two_levels(tmp_path)
    _strip_crs_member(folder / "bezirke.geojson")
    report = check_geography(folder)
    [error] = messages(report, "error")
    assert error.startswith("error: bezirke.geojson: coordinates from (360000, 5680000) to "
                            "(364000, 5681000) are outside ±180/±90")
    assert "RFC 7946" in error
    assert "set 'crs' for level 'bezirk' in geography.toml (e.g. crs = \"EPSG:25832\")" in error
    assert "add a 'crs' member to the file" in error


def test_projected_geojson_without_crs_member_loads_with_crs_in_manifest(tmp_path):
    """The manifest's crs is used when the file's (WGS84 by default) does not fit."""
    folder = manifest(tmp_path, BEZIRK + 'crs = "EPSG:25832"\n',
                      QUARTIER + 'parent = "BEZ"\n')
    bezirke(folder)
    quartiere(folder)
    _strip_crs_member(folder / "bezirke.geojson")
    geography = load_geography(folder)
    assert not geography.report.errors
    assert any("'crs' EPSG:25832 from geography.toml is used" in f.message
               for f in geography.report.infos)


def test_a_fitting_file_crs_still_wins_over_the_manifest(tmp_path):
    """A file CRS that fits its coordinates is used, with the old warning."""
    folder = manifest(tmp_path, BEZIRK + 'crs = "EPSG:3857"\n')
    bezirke(folder)
    report = check_geography(folder)
    assert not report.errors
    assert any("the file's CRS EPSG:25832 is used" in m for m in messages(report, "warning"))


def test_one_feature_with_impossible_coordinates_is_named(tmp_path):
    """A feature with coordinates no CRS can hold is an error naming feature and key."""
    folder = two_levels(tmp_path, geoms=[square(0), square(1), square(2),
                                         box(1e300, 1e300, 2e300, 2e300)])
    report = check_geography(folder)
    assert messages(report, "error")[0] == (
        "error: quartiere.geojson, feature 3, key '0202': coordinates (1e+300, 1e+300) to "
        "(2e+300, 2e+300) are impossible in EPSG:25832")


def test_lonlat_numbers_declared_as_utm_are_an_error(tmp_path):
    """Coordinates far from where the CRS is used (lon/lat read as UTM metres) are refused."""
    folder = manifest(tmp_path, BEZIRK)
    write(folder / "bezirke.geojson", [{"BEZ": "01", "NAME": "Nord"}],
          [box(7.1, 51.2, 7.2, 51.3)])
    [error] = messages(check_geography(folder), "error")
    assert "far outside where EPSG:25832 is used (Europe between 6°E and 12°E)" in error
    assert "set the file's real CRS with 'crs' for level 'bezirk'" in error


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_non_finite_coordinates_are_an_error(tmp_path):
    """A NaN coordinate (a GeoPackage can hold one) is an error, not a GEOS exception."""
    folder = manifest(tmp_path, BEZIRK.replace("bezirke.geojson", "b.gpkg"))
    nan = Polygon([(X0, Y0), (X0 + 9, float("nan")), (X0 + 9, Y0 + 9), (X0, Y0)])
    write(folder / "b.gpkg", [{"BEZ": "01", "NAME": "Nord"}, {"BEZ": "02", "NAME": "Süd"}],
          [square(0), nan])
    [error] = messages(check_geography(folder), "error")
    assert error.startswith("error: b.gpkg, feature 2, key '02': coordinates (360000, 5680000) ")
    assert error.endswith("are impossible in EPSG:25832")


def test_layer_without_geometry_is_an_error(tmp_path):
    """A GeoPackage table without shapes is named as such."""
    folder = manifest(tmp_path, BEZIRK.replace("bezirke.geojson", "b.gpkg"))
    import pyogrio
    pyogrio.write_dataframe(pd.DataFrame({"BEZ": ["01"], "NAME": ["Nord"]}), folder / "b.gpkg")
    [error] = messages(check_geography(folder), "error")
    assert "the layer has no geometry" in error


def test_geographic_data_near_the_pole_loads(tmp_path):
    """Beyond the UTM zones (lat > 84°) the areas are measured in an equal-area projection."""
    folder = manifest(tmp_path, BEZIRK)
    write(folder / "bezirke.geojson", [{"BEZ": "01", "NAME": "Nord"}, {"BEZ": "02", "NAME": "Pol"}],
          [box(10, 84.5, 20, 86), box(10, 86, 20, 89.5)], crs="EPSG:4326")
    assert load_geography(folder).areas["area_id"].tolist() == ["all", "01", "02"]


def test_a_failing_geometry_operation_is_a_finding(tmp_path, monkeypatch):
    """Should GEOS still fail somewhere, check reports an error instead of a traceback."""
    from geo.inputs.geography import load

    def broken(*args, **kwargs):
        raise shapely.errors.GEOSException("TopologyException: side location conflict")

    monkeypatch.setattr(load, "_nest", broken)
    [error] = messages(check_geography(two_levels(tmp_path)), "error")
    assert error == ("error: geography.toml: the geometries cannot be processed "
                     "(TopologyException: side location conflict); check the boundary files "
                     "and their CRS")


def test_keys_a_spreadsheet_would_run_are_warned_about(tmp_path):
    """Keys like '=1+2' or '<b>' load (they are the city's keys) with a warning each."""
    folder = two_levels(tmp_path, keys=["=1+2", "<b>x", "0201", "-7"],
                        parents=["01", "01", "02", "02"])
    report = check_geography(folder)
    assert not report.errors
    warned = {f.key for f in report.warnings if "formula" in f.message}
    assert warned == {"=1+2", "<b>x"}


def test_control_characters_in_keys_are_escaped_in_messages(tmp_path):
    """A key holding an ANSI escape is shown as \\x1b, never sent raw to the terminal."""
    folder = two_levels(tmp_path, keys=["01\x1b[2J", "0102", "0201", "0202"],
                        parents=["01", "01", "02", "02"])
    lines = check_geography(folder).lines()
    assert "warning: quartiere.geojson, feature 0, key '01\\x1b[2J': key starts with" in lines[0]
    assert not any("\x1b" in line for line in lines)


# --------------------------------------------------------------------------- validation


def test_unreadable_file_is_an_error(tmp_path):
    """A file GDAL cannot read is reported as an error naming it."""
    manifest(tmp_path, BEZIRK)
    (tmp_path / "bezirke.geojson").write_text("not geojson", encoding="utf-8")
    assert any(m.startswith("error: bezirke.geojson: cannot read the file")
               for m in messages(check_geography(tmp_path), "error"))


def test_missing_boundary_file_is_an_error(tmp_path):
    """A file named in the manifest that does not exist is an error."""
    manifest(tmp_path, BEZIRK)
    assert any("file not found" in m for m in messages(check_geography(tmp_path), "error"))


def test_missing_field_lists_existing_fields(tmp_path):
    """A key field that does not exist is an error listing the fields there are."""
    manifest(tmp_path, BEZIRK.replace('key = "BEZ"', 'key = "BEZIRK"'))
    bezirke(tmp_path)
    assert messages(check_geography(tmp_path), "error") == [
        "error: bezirke.geojson: field 'BEZIRK' is missing (fields: BEZ, NAME)"]


def test_duplicate_keys_are_errors_naming_features(tmp_path):
    """Duplicate keys are one error naming the key and every feature that has it."""
    two_levels(tmp_path, keys=["0101", "0101", "0201", "0202"])
    report = check_geography(tmp_path)
    assert ("error: quartiere.geojson, key '0101': duplicate key in field 'Q' (features 0, 1)"
            in messages(report, "error"))


def test_empty_key_is_an_error(tmp_path):
    """An empty key is an error naming the feature."""
    two_levels(tmp_path, keys=["0101", " ", "0201", "0202"], parents=["01", "01", "02", "02"])
    assert ("error: quartiere.geojson, feature 1: empty key in field 'Q'"
            in messages(check_geography(tmp_path), "error"))


def test_non_polygon_geometry_is_an_error(tmp_path):
    """A point is not an area: the error names the geometry type."""
    two_levels(tmp_path, geoms=[square(0), Point(X0 + 1500, Y0 + 500), square(2), square(3)])
    assert any("feature 1, key '0102': geometry is a Point, not a Polygon" in m
               for m in messages(check_geography(tmp_path), "error"))


def test_invalid_geometry_is_repaired_and_reported(tmp_path):
    """A self-intersecting polygon is repaired with make_valid and reported as a warning."""
    bowtie = Polygon([(X0, Y0), (X0 + SIZE, Y0 + SIZE), (X0 + SIZE, Y0), (X0, Y0 + SIZE)])
    manifest(tmp_path, QUARTIER)
    write(tmp_path / "quartiere.geojson", [{"Q": "01", "NAME": "a"}], [bowtie])
    geography = load_geography(tmp_path)
    warnings = messages(geography.report, "warning")
    assert len(warnings) == 1
    assert "feature 0, key '01': invalid geometry (Self-intersection" in warnings[0]
    assert "repaired with make_valid" in warnings[0]
    shape = geography.shapes["quartier"].geometry.iloc[0]
    assert shape.is_valid and shape.geom_type == "MultiPolygon"


def test_unknown_parent_key_is_an_error_with_leading_zero_hint(tmp_path):
    """A parent key missing from the coarser level is an error; a lost zero gets a hint."""
    two_levels(tmp_path, parents=["1", "01", "02", "02"])
    errors = messages(check_geography(tmp_path), "error")
    assert errors == [
        "error: quartiere.geojson, feature 0, key '0101': parent key '1' is not a bezirk in "
        "bezirke.geojson (did you mean '01'? a leading zero may have been lost)"]


def test_empty_parent_key_is_an_error(tmp_path):
    """An empty value in the parent field is an error naming feature and key."""
    two_levels(tmp_path, parents=["01", "", "02", "02"])
    assert ("error: quartiere.geojson, feature 1, key '0102': empty parent key in field 'BEZ'"
            in messages(check_geography(tmp_path), "error"))


def test_key_shorter_than_parent_prefix_is_an_error(tmp_path):
    """A key not longer than parent_prefix has no parent key and is an error."""
    two_levels(tmp_path, "parent_prefix = 2\n", keys=["0101", "01", "0201", "0202"])
    assert ("error: quartiere.geojson, feature 1, key '01': key is too short for "
            "parent_prefix = 2") in messages(check_geography(tmp_path), "error")


def test_child_outside_every_parent_is_an_error(tmp_path):
    """With parents by overlap, an area overlapping no coarser area is an error."""
    two_levels(tmp_path, "", geoms=[square(0), square(1), square(2), square(3, row=5)])
    assert ("error: quartiere.geojson, feature 3, key '0202': lies outside every bezirk area"
            in messages(check_geography(tmp_path), "error"))


def test_empty_name_falls_back_to_key_with_warning(tmp_path):
    """An empty label is replaced by the key and reported as a warning."""
    manifest(tmp_path, BEZIRK)
    write(tmp_path / "bezirke.geojson", [{"BEZ": "01", "NAME": None}], [square(0)])
    geography = load_geography(tmp_path)
    assert geography.shapes["bezirk"].name.tolist() == ["01"]
    assert messages(geography.report, "warning") == [
        "warning: bezirke.geojson, feature 0, key '01': empty name in field 'NAME'; "
        "the key is used"]


def test_parent_without_children_is_an_error(tmp_path):
    """A coarser area that no finer area lies in is an error."""
    two_levels(tmp_path, keys=["0101", "0102"], geoms=[square(0), square(1)])
    assert ("error: bezirke.geojson, key '02': has no quartier area in quartiere.geojson"
            in messages(check_geography(tmp_path), "error"))


def test_child_ninety_percent_inside_is_a_warning(tmp_path):
    """A child 90 % inside its parent loads with a warning giving the share inside."""
    two_levels(tmp_path, geoms=[square(-0.1), square(1), square(2), square(3)])
    geography = load_geography(tmp_path)
    assert ("warning: quartiere.geojson, feature 0, key '0101': 90.0 % inside parent '01'"
            in messages(geography.report, "warning"))


def test_child_mostly_outside_is_an_error(tmp_path):
    """A child less than half inside its parent is an error and stops loading."""
    two_levels(tmp_path, geoms=[square(-0.7), square(1), square(2), square(3)])
    with pytest.raises(GeographyError) as caught:
        load_geography(tmp_path)
    assert ("error: quartiere.geojson, feature 0, key '0101': only 30.0 % inside parent '01' "
            "(most of it lies outside)") in caught.value.problems


def test_separately_digitised_levels_load_with_warnings(tmp_path):
    """Children 85-95 % inside their parents (levels digitised apart) load with warnings."""
    shifted = [square(i + 0.1 * (-1) ** i, 0.05) for i in range(4)]
    geography = load_geography(two_levels(tmp_path, geoms=shifted))
    assert not geography.report.errors
    shares = [m for m in messages(geography.report, "warning") if "inside parent" in m]
    assert len(shares) == 4


def test_gap_between_siblings_is_a_warning(tmp_path):
    """A parent only partly covered by its children gets a gap warning."""
    two_levels(tmp_path, geoms=[square(0), square(1, width=0.9), square(2), square(3)])
    assert ("warning: bezirke.geojson, key '01': gaps: 5.0 % of the area is not covered by any "
            "quartier area") in messages(load_geography(tmp_path).report, "warning")


def test_overlap_between_siblings_is_a_warning(tmp_path):
    """Siblings overlapping each other get an overlap warning for their parent."""
    two_levels(tmp_path, geoms=[square(0, width=1.2), square(1), square(2), square(3)])
    assert ("warning: quartiere.geojson: quartier areas in parent '01' overlap by 10.0 % of "
            "the parent's area") in messages(load_geography(tmp_path).report, "warning")


def test_small_gaps_below_tolerance_are_not_reported(tmp_path):
    """Slivers below the tolerance (0.5 % of the parent) are not reported."""
    two_levels(tmp_path, geoms=[square(0), square(1, width=0.995), square(2), square(3)])
    assert not load_geography(tmp_path).report.findings


def test_load_geography_error_names_manifest_and_count(tmp_path):
    """GeographyError names the manifest and the number of errors and lists the problems."""
    two_levels(tmp_path, parents=["09", "01", "02", "02"])
    with pytest.raises(GeographyError, match=r"geography.toml: geography 'test' has 1 error$"):
        load_geography(tmp_path)


def test_check_geography_turns_manifest_error_into_finding(tmp_path):
    """check_geography never raises: a broken manifest is an error finding."""
    manifest(tmp_path, BEZIRK + 'parent_prefix = 1\n')
    report = check_geography(tmp_path)
    assert len(report.errors) == 1
    assert report.errors[0].file == "geography.toml"
    assert "coarsest level has no parent level" in report.errors[0].message


def test_check_geography_reports_every_problem_at_once(tmp_path):
    """Problems in several files and features are all reported in one report."""
    two_levels(tmp_path, keys=["0101", "0101", "0201", "0202"],
               geoms=[square(0), square(1), Point(X0, Y0), square(3)])
    manifest(tmp_path, BEZIRK.replace('label = "NAME"', 'label = "BEZ_NAME"'),
             QUARTIER + 'parent = "BEZ"\n')
    errors = messages(check_geography(tmp_path), "error")
    assert len(errors) == 3
    assert "bezirke.geojson: field 'BEZ_NAME' is missing" in errors[0]
    assert "key '0101': duplicate key" in errors[1]
    assert "feature 2, key '0201': geometry is a Point" in errors[2]


def test_check_geography_manifest_error_is_not_prefixed_twice(tmp_path):
    """A manifest finding names geography.toml once."""
    manifest(tmp_path, BEZIRK.replace('key = "BEZ"\n', ""))
    assert check_geography(tmp_path).lines() == [
        "error: geography.toml: levels[0] 'bezirk': 'key' is missing"]


def test_progress_flag_loads_the_same_geography(tmp_path, capsys):
    """progress=True shows a progress bar on stderr and loads the same areas."""
    folder = two_levels(tmp_path)
    with_bar = load_geography(folder, progress=True)
    pd.testing.assert_frame_equal(with_bar.areas, load_geography(folder).areas)
    assert "test" in capsys.readouterr().err


def test_report_format_summarises_then_lists_errors_first(tmp_path):
    """Report.format() has a summary line, then errors before warnings."""
    report = Report((Finding("warning", "a.geojson", None, "01", "w"),
                     Finding("error", "b.geojson", 3, "0101", "e")), source="x/geography.toml")
    assert report.format().splitlines() == [
        "x/geography.toml: 1 error, 1 warning",
        "error: b.geojson, feature 3, key '0101': e",
        "warning: a.geojson, key '01': w",
    ]
    assert Report().format() == "0 errors, 0 warnings - no problems found"


# --------------------------------------------------------------------------- real data

BERLIN_MANIFEST = """id = "berlin-lor-2021"
name = "Berlin, LOR 2021"
attribution = "Amt für Statistik Berlin-Brandenburg, CC BY 3.0 DE"
total_id = "berlin"
total_name = "Berlin"

[[levels]]
id = "bezirk"
name = "Bezirk"
file = "bezirke_dissolved_from_pgr_2021_epsg25833.geojson"
key = "BEZ"
label = "BEZ_NAME"

[[levels]]
id = "prognoseraum"
name = "Prognoseraum"
file = "lor_prognoseraeume_2021_epsg25833.geojson"
key = "PGR_ID"
label = "PGR_NAME"
parent = "BEZ"
"""


@pytest.mark.skipif(not BERLIN.exists(), reason="../shared/data is not available")
def test_berlin_lor_real_data_loads_cleanly(tmp_path):
    """The real Berlin Bezirke and Prognoseräume load with 12 + 58 areas and no findings."""
    for name in ("bezirke_dissolved_from_pgr_2021_epsg25833.geojson",
                 "lor_prognoseraeume_2021_epsg25833.geojson"):
        shutil.copyfile(BERLIN / name, tmp_path / name)
    (tmp_path / "geography.toml").write_text(BERLIN_MANIFEST, encoding="utf-8")
    geography = load_geography(tmp_path)
    counts = geography.areas.level.value_counts().to_dict()
    assert counts == {"total": 1, "bezirk": 12, "prognoseraum": 58}
    assert geography.report.errors == [] and geography.report.warnings == []
    row = geography.areas.set_index(["level", "area_id"]).loc[("prognoseraum", "0110")]
    assert (row["name"], row["parent_id"]) == ("Zentrum", "01")


@pytest.mark.slow
@pytest.mark.skipif(not VG5000.exists(), reason="../shared/data is not available")
def test_vg5000_germany_loads_and_validates(tmp_path):
    """VG5000 (16 Länder, 401 Kreise, 10,997 Gemeinden) loads, nests and repairs its shapes."""
    folder = load_bench().make_vg5000_geography(tmp_path / "vg5000")
    geography = load_geography(folder)
    counts = geography.areas.level.value_counts().to_dict()
    assert counts == {"total": 1, "land": 16, "kreis": 401, "gemeinde": 10997}
    repaired = {f.key for f in geography.report.warnings if "make_valid" in f.message}
    assert {"096779452452", "160715051004", "160765056039"} <= repaired
    assert not geography.report.errors
    wuppertal = geography.areas.set_index(["level", "area_id"]).loc[("gemeinde", "051240000000")]
    assert (wuppertal["name"], wuppertal["parent_id"]) == ("Wuppertal", "05124")
    assert shapely.is_valid(geography.shapes["gemeinde"].geometry.to_numpy()).all()

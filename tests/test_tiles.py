"""Vector tiles: the PMTiles archive, its reader, the tile routes and the no-leak guarantee."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import bundled_build, decode_tile, router_app, serving
from fastapi.testclient import TestClient
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType
from shapely.geometry import shape

from geo.build import build
from geo.release import TILES_FILE, TOTAL, read_build
from geo.render.styles import maplibre_style
from geo.render.tiles import PMTilesArchive, open_archive, write_pmtiles, zoom_range
from geo.render.tiles.mvt import pack_varints, varint
from service.routers import tiles as tiles_router

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = [p.parent.name for p in sorted((ROOT / "boundaries").glob("*/counts.csv"))]


def _jagged_quartiere(folder: Path) -> None:
    """Replace the fixture's squares by a coverage with staircase borders (a 48×24 grid of
    cells given to the nearest of five seeds), so simplification has work to do."""
    seeds = {"10": (600, 700), "11": (2900, 1300), "12": (5200, 800), "20": (900, 3200),
             "21": (3600, 3300)}
    cell = 125.0
    keys = list(seeds)
    pts = np.array(list(seeds.values()))
    parts: dict[str, list[shapely.Geometry]] = {k: [] for k in keys}
    rng = np.random.default_rng(7)
    for i in range(48):
        for j in range(32):
            cx, cy = (i + 0.5) * cell, (j + 0.5) * cell
            d = np.hypot(pts[:, 0] - cx, pts[:, 1] - cy) + rng.normal(0, 250, len(pts))
            parts[keys[int(np.argmin(d))]].append(
                shapely.box(i * cell, j * cell, (i + 1) * cell, (j + 1) * cell))
    data = json.loads((folder / "quartiere.geojson").read_text(encoding="utf-8"))
    for feature in data["features"]:
        geom = shapely.union_all(parts[feature["properties"]["QUARTIER"]])
        geom = shapely.affinity.translate(geom, 360000, 5680000)
        feature["geometry"] = shapely.geometry.mapping(geom)
    (folder / "quartiere.geojson").write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def mini_build(small_geography: Path, tmp_path: Path) -> Path:
    """The small fixture geography, built (with tiles) into tmp/data/mini."""
    _jagged_quartiere(small_geography)
    out = tmp_path / "data" / "mini"
    build(small_geography, out=out, say=lambda _: None)
    return out


def _client(data: Path, **settings: object) -> TestClient:
    return TestClient(router_app(tiles_router, data, **settings))


def _holes(geoms: list[shapely.Geometry]) -> int:
    union = shapely.union_all([shapely.make_valid(g) for g in geoms])
    return sum(len(p.interiors) for p in shapely.get_parts(union) if p.geom_type == "Polygon")


# --- the archive ---------------------------------------------------------------------------------


def test_archive_header_and_metadata(mini_build: Path) -> None:
    """PMTiles v3 with gzip MVT, clustered, bounds and centre, one vector layer per level."""
    archive = PMTilesArchive(mini_build / TILES_FILE)
    h = archive.header
    assert h["version"] == 3 and h["clustered"]
    assert h["tile_type"] == TileType.MVT and h["tile_compression"] == Compression.GZIP
    west, south, east, north = archive.bounds
    lon, lat, zoom = archive.center
    assert west < lon < east and south < lat < north
    assert archive.minzoom <= zoom <= archive.maxzoom
    layers = [v["id"] for v in archive.metadata["vector_layers"]]
    assert layers == [TOTAL, "stadtbezirk", "quartier"]
    assert archive.metadata["vector_layers"][2]["fields"]["auslaenderanteil"] == "Number"
    assert archive.metadata["quartier"]["release_id"] == read_build(mini_build).release_id


def test_archive_round_trips_through_bytesio(mini_build: Path) -> None:
    """The pmtiles package reads our archive from memory and finds the same tiles."""
    data = (mini_build / TILES_FILE).read_bytes()
    reader = Reader(lambda offset, length: io.BytesIO(data).getbuffer()[offset:offset + length])
    archive = PMTilesArchive(mini_build / TILES_FILE)
    count = 0
    for z, x, y, stored in archive.tiles():
        assert bytes(reader.get(z, x, y)) == stored
        count += 1
    assert count == archive.header["addressed_tiles_count"]
    assert reader.metadata()["vector_layers"][0]["id"] == TOTAL


def test_features_carry_ids_names_and_published_values(mini_build: Path) -> None:
    """A tile at maxzoom holds area_id, name, parent_id, rate, status and the counts."""
    archive = PMTilesArchive(mini_build / TILES_FILE)
    values = pd.read_csv(mini_build / "values.csv", dtype={"area_id": str})
    found = {}
    for z, _, _, data in archive.tiles():
        if z != archive.maxzoom:
            continue
        for f in decode_tile(data)["quartier"]["features"]:
            found[f["properties"]["area_id"]] = f["properties"]
    assert set(found) == {"10", "11", "12", "20", "21"}
    row = values[(values["level"] == "quartier") & (values["area_id"] == "10")
                 & (values["indicator"] == "auslaenderanteil")].iloc[0]
    props = found["10"]
    assert props["name"] == "Arrenberg" and props["parent_id"] == "1"
    assert props["auslaenderanteil"] == pytest.approx(row["rate"])
    assert props["auslaenderanteil_status"] == "published"
    assert props["auslaenderanteil_numerator"] == 300
    assert props["auslaenderanteil_denominator"] == 1200


def test_low_zooms_stay_light(mini_build: Path) -> None:
    """Below maxzoom tiles carry rate and status only; counts and intervals come at maxzoom."""
    archive = PMTilesArchive(mini_build / TILES_FILE)
    for z, _, _, data in archive.tiles():
        if z < archive.maxzoom:
            props = decode_tile(data)["quartier"]["features"][0]["properties"]
            assert not any(k.endswith(("_numerator", "_ci_low")) for k in props)


def test_every_area_at_every_zoom(mini_build: Path) -> None:
    """No feature is dropped at any zoom, on any level."""
    archive = PMTilesArchive(mini_build / TILES_FILE)
    seen: dict[tuple[int, str], set[str]] = {}
    for z, _, _, data in archive.tiles():
        for layer, content in decode_tile(data).items():
            seen.setdefault((z, layer), set()).update(
                f["properties"]["area_id"] for f in content["features"])
    for z in range(archive.minzoom, archive.maxzoom + 1):
        assert len(seen[(z, "quartier")]) == 5
        assert len(seen[(z, "stadtbezirk")]) == 2
        assert seen[(z, TOTAL)] == {"mini"}


def test_shared_borders_are_gap_free_at_every_zoom(mini_build: Path) -> None:
    """Staircase borders simplified per zoom still meet exactly: no sliver between neighbours."""
    archive = PMTilesArchive(mini_build / TILES_FILE)
    for z, x, y, data in archive.tiles():
        for layer, content in decode_tile(data).items():
            geoms = [shape(f["geometry"]) for f in content["features"]]
            assert _holes(geoms) == 0, (z, x, y, layer)


def test_simplification_thins_low_zooms(mini_build: Path) -> None:
    """Low zooms carry fewer vertices than maxzoom (the archive is not heavy at city level)."""
    archive = PMTilesArchive(mini_build / TILES_FILE)
    vertices: dict[int, int] = {}
    for z, _, _, data in archive.tiles():
        for f in decode_tile(data)["quartier"]["features"]:
            vertices[z] = vertices.get(z, 0) + len(shapely.get_coordinates(shape(f["geometry"])))
    assert vertices[archive.minzoom] < vertices[archive.maxzoom]


def test_zoom_range_follows_area_size(mini_build: Path) -> None:
    """2-km Quartiere get street-level maxzoom within the ceiling; minzoom shows the city."""
    published = read_build(mini_build)
    zooms = zoom_range(published)
    assert 12 <= zooms.maxzoom <= 14
    assert zooms.minzoom < zooms.maxzoom


def test_write_is_deterministic(mini_build: Path, tmp_path: Path) -> None:
    """The same build writes byte-identical archives."""
    published = read_build(mini_build)
    write_pmtiles(published, tmp_path / "a.pmtiles")
    write_pmtiles(published, tmp_path / "b.pmtiles")
    assert (tmp_path / "a.pmtiles").read_bytes() == (tmp_path / "b.pmtiles").read_bytes()


def test_same_bytes_with_one_or_two_workers(mini_build: Path, tmp_path: Path) -> None:
    """Zooms encoded in worker processes give the archive one process writes, byte for byte."""
    published = read_build(mini_build)
    one = write_pmtiles(published, tmp_path / "one.pmtiles", workers=1)
    two = write_pmtiles(published, tmp_path / "two.pmtiles", workers=2)
    assert one.tiles == two.tiles > 1
    assert (tmp_path / "one.pmtiles").read_bytes() == (tmp_path / "two.pmtiles").read_bytes()
    assert (tmp_path / "one.pmtiles").read_bytes() == (mini_build / TILES_FILE).read_bytes()


def test_geometry_computed_ahead_gives_the_same_bytes(
    mini_build: Path, small_geography: Path, tmp_path: Path
) -> None:
    """The levels projected and simplified from the geography alone, in a process started
    before the counts are read (as a build does), are used and change no byte."""
    from functools import partial

    from geo.inputs.geography import load_geography
    from geo.render.tiles import Ahead, geography_geometry, plan_pmtiles, run_jobs
    from geo.render.tiles.tiling import prepare_levels

    published = read_build(mini_build)
    with Ahead() as ahead:
        ahead.start(partial(geography_geometry, load_geography(small_geography)), workers=2)
        geometry = ahead.result()
    assert geometry is not None
    assert all(level.simplified for level in prepare_levels(published, geometry))
    plan = plan_pmtiles(published, tmp_path / "ahead.pmtiles", ahead=geometry)
    plan.write(run_jobs(plan.jobs, workers=1))
    write_pmtiles(published, tmp_path / "plain.pmtiles", workers=1)
    assert (tmp_path / "ahead.pmtiles").read_bytes() == (tmp_path / "plain.pmtiles").read_bytes()
    with Ahead() as single:  # one worker: nothing starts, the writer simplifies itself
        single.start(partial(geography_geometry, load_geography(small_geography)), workers=1)
        assert single.result() is None


def test_varints_match_the_protobuf_encoding() -> None:
    """The vectorised varint packer writes what a one-at-a-time protobuf encoder writes."""
    rng = np.random.default_rng(3)
    values = np.concatenate([np.arange(300), rng.integers(0, 2**62, 200), [2**63 - 1, 2**14]])
    assert pack_varints(values).tobytes() == b"".join(varint(int(v)) for v in values)


def test_reader_matches_pmtiles_package_and_reopens_on_change(mini_build: Path,
                                                              tmp_path: Path) -> None:
    """The cached reader returns what pmtiles' Reader does, and a replaced file is reopened."""
    path = tmp_path / "t.pmtiles"
    published = read_build(mini_build)
    write_pmtiles(published, path, maxzoom=12)
    first = open_archive(path)
    assert open_archive(path) is first
    with open(path, "rb") as fh:
        reader = Reader(MmapSource(fh))
        for z, x, y, data in first.tiles():
            assert reader.get(z, x, y) == data
    assert first.get(first.maxzoom, 0, 0) is None
    write_pmtiles(published, path, maxzoom=13)
    os.utime(path, ns=(1, 1))
    second = open_archive(path)
    assert second is not first and second.maxzoom == 13


def test_open_archive_keeps_at_most_max_open(mini_build: Path, tmp_path: Path) -> None:
    """The convenience cache is bounded: the least recently opened archive is dropped."""
    paths = [tmp_path / f"{name}.pmtiles" for name in "abc"]
    for path in paths:
        path.write_bytes((mini_build / TILES_FILE).read_bytes())
    a, _, c = (open_archive(path, max_open=2) for path in paths)
    assert open_archive(paths[2], max_open=2) is c
    assert open_archive(paths[0], max_open=2) is not a
    with PMTilesArchive(paths[0]) as own:
        assert own.get(*next(own.tiles())[:3]) == a.get(*next(a.tiles())[:3])


# --- routes --------------------------------------------------------------------------------------


def test_pmtiles_range_requests(mini_build: Path) -> None:
    """Range gives 206 with Content-Range; bad ranges 416; ETag from the release.

    CORS is the app's, for every route: tests/test_http.py."""
    client = _client(mini_build.parent)
    release = read_build(mini_build).release_id
    size = (mini_build / TILES_FILE).stat().st_size
    r = client.get("/tiles/mini.pmtiles", headers={"Range": "bytes=0-126"})
    assert r.status_code == 206
    assert r.content[:7] == b"PMTiles" and len(r.content) == 127
    assert r.headers["content-range"] == f"bytes 0-126/{size}"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"] == f'"{release}"'
    assert client.get("/tiles/mini.pmtiles", headers={"Range": "bytes=-10"}).content == \
        (mini_build / TILES_FILE).read_bytes()[-10:]
    for bad in (f"bytes={size}-", "bytes=10-5", "bytes=abc", "bytes=-0"):
        r = client.get("/tiles/mini.pmtiles", headers={"Range": bad})
        assert r.status_code == 416, bad
        assert r.headers["content-range"] == f"bytes */{size}"
    full = client.get("/tiles/mini.pmtiles")
    assert full.status_code == 200 and len(full.content) == size
    assert client.get("/tiles/mini.pmtiles",
                      headers={"If-None-Match": f'"{release}"'}).status_code == 304
    stale = client.get("/tiles/mini.pmtiles", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert stale.status_code == 200


def test_caching_is_long_only_when_the_url_names_the_release(mini_build: Path) -> None:
    """?v=<release> is immutable; anything else gets the short max-age."""
    client = _client(mini_build.parent, cache_seconds=30)
    release = read_build(mini_build).release_id
    assert "immutable" in client.get(f"/tiles/mini.pmtiles?v={release}",
                                     headers={"Range": "bytes=0-1"}).headers["cache-control"]
    assert client.get("/tiles/mini.pmtiles?v=old",
                      headers={"Range": "bytes=0-1"}).headers["cache-control"] == \
        "public, max-age=30"
    tj = client.get("/tiles/mini.json").json()
    tile_url = tj["tiles"][0]
    assert tile_url.endswith(f".mvt?v={release}")


def test_xyz_tiles(mini_build: Path) -> None:
    """Stored gzip bytes with Content-Encoding; 204 empty; 404 outside zooms or geography."""
    client = _client(mini_build.parent)
    archive = PMTilesArchive(mini_build / TILES_FILE)
    z, x, y, stored = next(archive.tiles())
    r = client.get(f"/tiles/mini/{z}/{x}/{y}.mvt")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers["content-encoding"] == "gzip"
    assert decode_tile(stored)["quartier"]["features"]  # TestClient already un-gzipped r
    assert r.content == gzip.decompress(stored)
    assert client.get(f"/tiles/mini/{archive.maxzoom}/0/0.mvt").status_code == 204
    assert client.get(f"/tiles/mini/{archive.maxzoom + 1}/0/0.mvt").status_code == 404
    assert client.get(f"/tiles/mini/{archive.minzoom - 1}/0/0.mvt").status_code == 404
    assert client.get("/tiles/nowhere/10/0/0.mvt").status_code == 404
    etag = r.headers["etag"]
    assert client.get(f"/tiles/mini/{z}/{x}/{y}.mvt",
                      headers={"If-None-Match": etag}).status_code == 304


def test_tilejson(mini_build: Path) -> None:
    """TileJSON 3.0.0 with zooms, bounds, centre and the vector layers."""
    tj = _client(mini_build.parent).get("/tiles/mini.json").json()
    assert tj["tilejson"] == "3.0.0"
    assert tj["tiles"][0].startswith("http://testserver/tiles/mini/{z}/{x}/{y}.mvt")
    assert [v["id"] for v in tj["vector_layers"]] == [TOTAL, "stadtbezirk", "quartier"]
    assert len(tj["bounds"]) == 4 and len(tj["center"]) == 3
    assert "Testdaten" in tj["attribution"]


def test_index_lists_geographies_for_the_viewer(mini_build: Path) -> None:
    """/tiles/index.json names levels, themes with indicators, years and the release."""
    body = _client(mini_build.parent).get("/tiles/index.json").json()
    (geo,) = body["geographies"]
    assert geo["id"] == "mini" and [lv["id"] for lv in geo["levels"]] == ["stadtbezirk", "quartier"]
    themes = {t["name"] for t in geo["themes"]}
    assert themes == {"Rechtsstatus und Aufenthalt", "Soziale Sicherung"}
    assert geo["years"] == [2023] and body["basemap"] is False


def test_style_route(mini_build: Path) -> None:
    """The style points at the release's tiles, the sprite, and carries the legend."""
    client = _client(mini_build.parent)
    style = client.get("/styles/mini/auslaenderanteil.json?level=stadtbezirk").json()
    assert style["version"] == 8
    assert style["sources"]["quartier"]["tiles"][0].startswith("http://testserver/tiles/mini/")
    assert style["sprite"] == "http://testserver/styles/sprite"
    assert style["metadata"]["quartier:legend"]["level"] == "stadtbezirk"
    pm = client.get("/styles/mini/auslaenderanteil.json?source=pmtiles").json()
    assert pm["sources"]["quartier"]["url"].startswith("pmtiles://http://testserver/tiles/mini.pmtiles")
    assert client.get("/styles/mini/nope.json").status_code == 404
    assert client.get("/styles/mini/auslaenderanteil.json?year=1999").status_code == 404
    assert client.get("/styles/sprite.json").json()["quartier-hatch"]["pixelRatio"] == 1
    assert client.get("/styles/sprite@2x.png").content[:8] == b"\x89PNG\r\n\x1a\n"


def test_rebuild_is_served_without_restart(small_geography: Path, tmp_path: Path) -> None:
    """After a rebuild with other counts the same client sees the new release's ETag."""
    out = tmp_path / "data" / "mini"
    build(small_geography, out=out, say=lambda _: None)
    client = _client(tmp_path / "data")
    before = client.get("/tiles/mini.pmtiles", headers={"Range": "bytes=0-126"}).headers["etag"]
    counts = small_geography / "counts.csv"
    counts.write_text(counts.read_text(encoding="utf-8").replace("1200", "1300"), encoding="utf-8")
    build(small_geography, out=out, say=lambda _: None)
    after = client.get("/tiles/mini.pmtiles", headers={"Range": "bytes=0-126"}).headers["etag"]
    assert after != before
    assert after == f'"{read_build(out).release_id}"'


# --- every bundled build: no withheld value in any tile, no gaps ---------------------------------


@pytest.mark.parametrize("gid", BUNDLED)
def test_no_withheld_value_in_any_tile(gid: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Decode every tile: wherever values.csv/cells.csv say a value is not published, the tile
    carries no rate, interval or count for it (and published rates match values.csv)."""
    out = bundled_build(tmp_path_factory, gid)
    values = pd.read_csv(out / "values.csv", dtype={"area_id": str, "level": str},
                         keep_default_na=False)
    cells = pd.read_csv(out / "cells.csv", dtype={"area_id": str, "level": str},
                        keep_default_na=False)
    catalogue = json.loads((out / "indicators.json").read_text(encoding="utf-8"))
    indicators = {i["id"]: i for i in catalogue["indicators"]}
    archive = PMTilesArchive(out / TILES_FILE)
    years = archive.metadata["quartier"]["years"]
    # years are compared as text: a build with pooled periods ("2021-2023") has a text column
    latest = values[values["year"].astype(str) == values["indicator"].map(years).astype(str)]
    row_of = {(r.level, r.area_id, r.indicator): r for r in latest.itertuples()}
    cell_status = {(r.level, r.area_id, r.variable, str(r.year)): r.status
                   for r in cells.itertuples()}
    checked = withheld_seen = 0
    for _, _, _, data in archive.tiles():
        for layer, content in decode_tile(data).items():
            for f in content["features"]:
                props = f["properties"]
                for ind, spec in indicators.items():
                    row = row_of[(layer, props["area_id"], ind)]
                    checked += 1
                    if row.status != "published":
                        withheld_seen += 1
                        for key in (ind, f"{ind}_ci_low", f"{ind}_ci_high"):
                            assert key not in props, (layer, props["area_id"], key)
                    else:
                        assert props[ind] == pytest.approx(float(row.rate))
                    assert props.get(f"{ind}_status", "missing") == row.status
                    for part, var in (("numerator", spec["numerator"]),
                                      ("denominator", spec["denominator"])):
                        status = cell_status[(layer, props["area_id"], var, str(years[ind]))]
                        if status != "published":
                            assert f"{ind}_{part}" not in props, (layer, props["area_id"], var)
    assert checked > 0
    if gid == "nrw-demo":
        assert withheld_seen > 0  # the demo has withheld cells: the check did bite


@pytest.mark.parametrize("gid", BUNDLED)
def test_bundled_tiles_are_gap_free(gid: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """In every tile of every bundled build the areas of each level meet without slivers."""
    out = bundled_build(tmp_path_factory, gid)
    archive = PMTilesArchive(out / TILES_FILE)
    finest = read_build(out).geography.level_ids[-1]
    for z, x, y, data in archive.tiles():
        content = decode_tile(data)[finest]
        assert _holes([shape(f["geometry"]) for f in content["features"]]) == 0, (z, x, y)


# --- a real client: QGIS loads the XYZ URL with the style (where python3-qgis exists) ------------

QGIS_PYTHON = "/usr/bin/python3"
QGIS_SCRIPT = """
import json, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import (QgsApplication, QgsCoordinateReferenceSystem, QgsCoordinateTransform,
    QgsDataSourceUri, QgsMapRendererSequentialJob, QgsMapSettings, QgsProject, QgsRectangle,
    QgsVectorTileLayer)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor
app = QgsApplication([], False)
app.initQgis()
base, zmin, zmax, bounds = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
uri = QgsDataSourceUri()
uri.setParam("type", "xyz")
uri.setParam("url", base + "/tiles/mini/{z}/{x}/{y}.mvt")
uri.setParam("zmin", zmin)
uri.setParam("zmax", zmax)
uri.setParam("styleUrl", base + "/styles/mini/auslaenderanteil.json?level=quartier&levels=one")
layer = QgsVectorTileLayer(bytes(uri.encodedUri()).decode(), "mini")
message, ok = layer.loadDefaultStyle()
settings = QgsMapSettings()
settings.setLayers([layer])
settings.setOutputSize(QSize(200, 150))
settings.setBackgroundColor(QColor("white"))
crs = QgsCoordinateReferenceSystem("EPSG:3857")
settings.setDestinationCrs(crs)
transform = QgsCoordinateTransform(QgsCoordinateReferenceSystem("EPSG:4326"), crs,
                                   QgsProject.instance())
settings.setExtent(transform.transformBoundingBox(QgsRectangle(*bounds)))
job = QgsMapRendererSequentialJob(settings)
job.start()
job.waitForFinished()
image = job.renderedImage()
colours = sorted({QColor(image.pixel(x, y)).name() for x in range(0, 200, 2)
                  for y in range(0, 150, 2)})
print(json.dumps({"valid": layer.isValid(), "style": ok,
                  "styles": [s.styleName() for s in layer.renderer().styles()],
                  "colours": colours}))
app.exitQgis()
"""


def _has_qgis() -> bool:
    if not Path(QGIS_PYTHON).exists():
        return False
    return subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True,
                          check=False).returncode == 0


def test_qgis_loads_xyz_url_with_style(mini_build: Path, tmp_path: Path) -> None:
    """QGIS (python3-qgis) opens the z/x/y URL as a vector tile layer with the style URL and
    renders the class colours and the hatch of withheld areas."""
    assert _has_qgis(), "Debian's python3-qgis is missing: `make browser-deps` installs it"
    published = read_build(mini_build)
    archive = PMTilesArchive(mini_build / TILES_FILE)
    style = maplibre_style(published, "auslaenderanteil", source={}, level="quartier")
    class_colours = {c["color"] for c in style["metadata"]["quartier:legend"]["classes"]}
    with serving(router_app(tiles_router, mini_build.parent)) as url:
        out = subprocess.run(
            [QGIS_PYTHON, "-c", QGIS_SCRIPT, url, str(archive.minzoom),
             str(archive.maxzoom), json.dumps(list(archive.bounds))],
            capture_output=True, text=True, timeout=180, check=True,
            env={**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(tmp_path)},
        )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["valid"] and result["style"]
    assert "quartier-fill-0" in result["styles"] and "quartier-withheld" in result["styles"]
    assert "stadtbezirk-fill-0" not in result["styles"]
    assert class_colours & set(result["colours"])
    assert "#d9d9d9" in result["colours"] or "#737373" in result["colours"]  # the hatch

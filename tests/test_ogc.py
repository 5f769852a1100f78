"""OGC API Features Part 1 Core under /ogc, checked by routes and by GDAL's OAPIF driver."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyogrio
import pytest
from conftest import bundled_build, free_port, router_app
from fastapi.testclient import TestClient

from geo.release import read_build
from geo.render.features import MAX_LIMIT, BBox, Interval, feature_layer, page_features
from service.routers import ogc

ROOT = Path(__file__).resolve().parents[1]
ITEMS = "/ogc/collections/mini.quartier/items"


@pytest.fixture(scope="module")
def data_dir(mini_data: Path) -> Path:
    """The session's small geography build (Quartiere 11 and 12 have withheld cells)."""
    return mini_data


@pytest.fixture(scope="module")
def client(data_dir: Path) -> TestClient:
    return TestClient(router_app(ogc, data_dir))


def test_landing_page_links(client: TestClient) -> None:
    """The landing page links the API definition, conformance and collections."""
    links = {link["rel"]: link for link in client.get("/ogc").json()["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(links)
    assert links["data"]["href"].endswith("/ogc/collections")


def test_conformance_declares_core_and_geojson(client: TestClient) -> None:
    """Core and GeoJSON conformance classes are declared."""
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes


def test_one_collection_per_geography_and_level(client: TestClient) -> None:
    """Collections are {geography}.{level}, each with extent, items link and attribution."""
    collections = client.get("/ogc/collections").json()["collections"]
    assert [c["id"] for c in collections] == ["mini.stadtbezirk", "mini.quartier"]
    quartier = collections[1]
    assert quartier["attribution"] == "Testdaten (erzeugt)"
    assert "Testdaten (erzeugt)" in quartier["description"]
    minx, miny, maxx, maxy = quartier["extent"]["spatial"]["bbox"][0]
    assert 6.9 < minx < maxx < 7.1 and 51.2 < miny < maxy < 51.3
    rels = {link["rel"] for link in quartier["links"]}
    assert {"self", "items"} <= rels
    assert client.get("/ogc/collections/mini.quartier").json()["id"] == "mini.quartier"


def test_items_are_geojson_with_published_values_only(client: TestClient) -> None:
    """Items: a FeatureCollection; the withheld value of Quartier 11 is null."""
    response = client.get(ITEMS)
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberMatched"] == body["numberReturned"] == 5
    assert body["attribution"] == "Testdaten (erzeugt)"
    features = {f["id"]: f["properties"] for f in body["features"]}
    assert features["11"]["auslaenderanteil"] is None
    assert features["11"]["auslaenderanteil_numerator"] is None
    assert features["11"]["auslaenderanteil_status"] == "suppressed"
    assert features["10"]["auslaenderanteil_numerator"] == 300
    assert features["10"]["auslaenderanteil_year"] == 2023


def test_paging_with_next_and_prev_links(client: TestClient) -> None:
    """limit and offset page through the items; next and prev links chain the pages."""
    first = client.get(f"{ITEMS}?limit=2").json()
    assert first["numberReturned"] == 2 and first["numberMatched"] == 5
    rels = {link["rel"]: link["href"] for link in first["links"]}
    assert "prev" not in rels
    second = client.get(rels["next"]).json()
    assert [f["id"] for f in second["features"]] == ["12", "20"]
    rels2 = {link["rel"]: link["href"] for link in second["links"]}
    assert "offset=0" in rels2["prev"] and "offset=4" in rels2["next"]
    last = client.get(rels2["next"]).json()
    assert last["numberReturned"] == 1
    assert "next" not in {link["rel"] for link in last["links"]}


def test_limit_above_maximum_is_capped(client: TestClient) -> None:
    """A limit above 10,000 is not an error: the maximum applies."""
    response = client.get(f"{ITEMS}?limit=50000")
    assert response.status_code == 200
    assert response.json()["numberReturned"] == 5


def test_bbox_selects_intersecting_features(client: TestClient) -> None:
    """bbox keeps only the features that intersect it."""
    body = client.get(f"{ITEMS}?bbox=6.995,51.256,7.0,51.26").json()
    assert [f["id"] for f in body["features"]] == ["10"]


def test_datetime_outside_the_values_matches_nothing(client: TestClient) -> None:
    """datetime filters by the values' year; an interval without 2023 matches nothing."""
    assert client.get(f"{ITEMS}?datetime=2023-06-30").json()["numberMatched"] == 5
    assert client.get(f"{ITEMS}?datetime=2019-01-01/2020-12-31").json()["numberMatched"] == 0
    assert client.get(f"{ITEMS}?datetime=../2024-01-01T00:00:00Z").json()["numberMatched"] == 5


@pytest.mark.parametrize("query", [
    "limit=0", "limit=-3", "limit=viele", "offset=-1", "bbox=1,2,3", "bbox=a,b,c,d",
    "bbox=7,52,8,51", "datetime=gestern", "unknown=1", "f=xml",
    "crs=http://www.opengis.net/def/crs/EPSG/0/3857", "bbox-crs=EPSG:25832",
    "bbox=360100,5680100,361900,5681900&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857",
])
def test_invalid_parameters_give_400(client: TestClient, query: str) -> None:
    """Invalid or unknown parameters answer 400 with a message, as the standard requires."""
    response = client.get(f"{ITEMS}?{query}")
    assert response.status_code == 400, query
    assert response.json()["description"]


OWN_CRS = "http://www.opengis.net/def/crs/EPSG/0/25832"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def test_part2_crs_is_declared_per_collection(client: TestClient) -> None:
    """Part 2: the CRS conformance class; each collection lists CRS84 and the geography's own
    CRS, which is also its storage CRS (the GeoPackage's)."""
    classes = client.get("/ogc/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in classes
    body = client.get("/ogc/collections/mini.quartier").json()
    assert body["crs"] == [CRS84, OWN_CRS]
    assert body["storageCrs"] == OWN_CRS
    assert body["extent"]["spatial"]["crs"] == CRS84


def test_items_in_the_own_crs(client: TestClient) -> None:
    """crs=<own CRS>: metre coordinates and a Content-Crs header naming it; the default stays
    CRS84; a bbox in the own CRS (bbox-crs) selects in metres."""
    plain = client.get(ITEMS)
    assert plain.headers["content-crs"] == f"<{CRS84}>"
    own = client.get(f"{ITEMS}?crs={OWN_CRS}")
    assert own.status_code == 200 and own.headers["content-crs"] == f"<{OWN_CRS}>"
    ring = {f["id"]: f["geometry"]["coordinates"][0] for f in own.json()["features"]}
    xs = [x for x, _y in ring["10"]]
    ys = [y for _x, y in ring["10"]]
    assert min(xs) == pytest.approx(360000, abs=0.01) and max(xs) == pytest.approx(362000, abs=0.01)
    assert min(ys) == pytest.approx(5680000, abs=0.01)
    one = client.get(f"{ITEMS}?crs=<{OWN_CRS}>&bbox=360100,5680100,361900,5681900"
                     f"&bbox-crs={OWN_CRS}").json()
    assert [f["id"] for f in one["features"]] == ["10"]
    degrees = client.get(f"{ITEMS}?bbox=360100,5680100,361900,5681900&bbox-crs={OWN_CRS}")
    assert [f["id"] for f in degrees.json()["features"]] == ["10"]
    assert degrees.headers["content-crs"] == f"<{CRS84}>"
    single = client.get(f"{ITEMS}/20?crs={OWN_CRS}")
    assert single.headers["content-crs"] == f"<{OWN_CRS}>"
    assert single.json()["geometry"]["coordinates"][0][0][1] >= 5680000


def test_single_feature_and_404s(client: TestClient) -> None:
    """One feature by id; unknown feature and collection give 404."""
    response = client.get(f"{ITEMS}/21")
    assert response.status_code == 200
    feature = response.json()
    assert feature["type"] == "Feature" and feature["id"] == "21"
    assert feature["properties"]["name"] == "Eckbusch"
    assert client.get(f"{ITEMS}/99").status_code == 404
    assert client.get("/ogc/collections/mini.block").status_code == 404
    assert client.get("/ogc/collections/nowhere.quartier/items").status_code == 404


def test_content_negotiation(client: TestClient) -> None:
    """application/json when asked for it (Accept or f=json), GeoJSON by default."""
    plain = client.get(ITEMS, headers={"Accept": "application/json"})
    assert plain.headers["content-type"] == "application/json"
    assert client.get(f"{ITEMS}?f=json").headers["content-type"] == "application/json"
    geo = client.get(ITEMS, headers={"Accept": "application/geo+json"})
    assert geo.headers["content-type"] == "application/geo+json"


def test_library_pages_a_level_without_http(data_dir: Path) -> None:
    """geo.render.features selects and pages a level: offset, capped limit, bbox, interval."""
    layer = feature_layer(read_build(data_dir / "mini"), "quartier")
    page = page_features(layer, limit=2, offset=1)
    assert page.matched == 5 and [layer.area_ids[i] for i in page.indices] == ["11", "12"]
    assert page_features(layer, limit=50_000).limit == MAX_LIMIT
    assert page_features(layer, bbox=BBox(5, 50, 4, 53)).matched == 5  # across 180°
    assert page_features(layer, bbox=BBox(170, 50, -170, 53)).matched == 0
    before = Interval(None, datetime(2020, 12, 31, tzinfo=UTC))
    assert page_features(layer, interval=before).matched == 0


def _serve(data_dir: Path) -> Iterator[str]:
    """The whole service under uvicorn on a free port.

    A separate process, not a thread: GDAL holds the GIL while it reads features over HTTP,
    so a server thread in the same interpreter would never answer.
    """
    port = free_port()
    env = {**os.environ, "QUARTIER_DATA": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(400):
            try:
                if httpx.get(f"{base}/ogc", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the service did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """The service over the small geography."""
    yield from _serve(data_dir)


@pytest.fixture(scope="module")
def bundled_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The service over the bundled geographies (berlin-lor-2021, nrw-demo)."""
    data = bundled_build(tmp_path_factory, "nrw-demo").parent
    bundled_build(tmp_path_factory, "berlin-lor-2021")
    for base in _serve(data):
        yield base, data


def test_gdal_reads_every_collection(server: str) -> None:
    """GDAL's OAPIF driver lists every collection and reads each with all its features."""
    url = f"OAPIF:{server}/ogc"
    layers = {name for name, _ in pyogrio.list_layers(url)}
    assert layers == {"mini.stadtbezirk", "mini.quartier"}
    expected = {"mini.stadtbezirk": 2, "mini.quartier": 5}
    for layer, count in expected.items():
        frame = pyogrio.read_dataframe(url, layer=layer)
        assert len(frame) == count
        assert frame.crs is not None and frame.geometry.is_valid.all()
        for ind in ("auslaenderanteil", "sgb2_quote"):
            withheld = frame[f"{ind}_status"] == "suppressed"
            assert frame.loc[withheld, ind].isna().all()
            assert frame.loc[withheld, f"{ind}_numerator"].isna().all()
            assert frame.loc[withheld, f"{ind}_denominator"].isna().all()
            assert frame.loc[~withheld, ind].notna().all()


def test_gdal_reads_the_own_crs(server: str) -> None:
    """GDAL's OAPIF driver reads a collection in the geography's own CRS (Part 2), with the
    same areas and values as in CRS84."""
    url = f"OAPIF:{server}/ogc"
    own = pyogrio.read_dataframe(url, layer="mini.quartier", CRS="EPSG:25832")
    assert own.crs is not None and own.crs.to_epsg() == 25832
    minx, miny, maxx, maxy = own.total_bounds
    assert (round(minx), round(miny), round(maxx), round(maxy)) == (
        360000, 5680000, 366000, 5684000)
    degrees = pyogrio.read_dataframe(url, layer="mini.quartier", CRS=CRS84)
    assert degrees.crs is not None and degrees.total_bounds[0] < 180
    assert sorted(own["area_id"]) == sorted(degrees["area_id"])
    assert own.set_index("area_id")["auslaenderanteil"].equals(
        degrees.set_index("area_id")["auslaenderanteil"])


def test_gdal_pages_through_with_next_links(server: str) -> None:
    """With a page size of 2, GDAL follows the next links and still gets every feature."""
    frame = pyogrio.read_dataframe(
        f"OAPIF:{server}/ogc", layer="mini.quartier", PAGE_SIZE="2"
    )
    assert sorted(frame["area_id"]) == ["10", "11", "12", "20", "21"]


def test_gdal_reads_every_bundled_collection(bundled_server: tuple[str, Path]) -> None:
    """Every level of every bundled build: all features, and no withheld value anywhere."""
    base, data = bundled_server
    url = f"OAPIF:{base}/ogc"
    withheld_seen = 0
    for gid in ("berlin-lor-2021", "nrw-demo"):
        published = read_build(data / gid)
        for level in published.geography.levels:
            frame = pyogrio.read_dataframe(url, layer=f"{gid}.{level.id}")
            assert len(frame) == level.count, (gid, level.id)
            for ind in published.catalogue.indicators:
                withheld = frame[f"{ind.id}_status"] != "published"
                withheld_seen += int(withheld.sum())
                for field in ("", "_numerator", "_denominator", "_ci_low", "_ci_high"):
                    assert frame.loc[withheld, f"{ind.id}{field}"].isna().all(), (gid, ind.id)
    assert withheld_seen > 0  # nrw-demo's small Gemeinden have withheld cells

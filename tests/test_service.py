"""The service over published builds: listing, downloads, reload on rebuild."""

from __future__ import annotations

import warnings
from pathlib import Path

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from geo.build import build
from service.main import create_app
from service.routers import api, downloads, maps, ogc, pages, tiles
from service.settings import Settings
from service.store import BuildStore


def _client(data: Path) -> TestClient:
    return TestClient(create_app(Settings(data=data, reload_check_seconds=0)))


def test_builds_page_lists_geographies_indicators_and_downloads(
    small_geography: Path, tmp_path: Path
) -> None:
    """/builds names each build, its indicators by theme, its downloads and attribution."""
    build(small_geography, out=tmp_path / "data" / "mini", say=lambda _: None)
    page = _client(tmp_path / "data").get("/builds")
    assert page.status_code == 200
    for text in (
        "Mini-Stadt",
        "Anteil Ausländer:innen",
        "Soziale Sicherung",
        "values.csv",
        "Testdaten (erzeugt)",
    ):
        assert text in page.text


def test_suppression_log_is_never_served(small_geography: Path, tmp_path: Path) -> None:
    """The sign-off log beside the build cannot be downloaded under any name."""
    build(small_geography, out=tmp_path / "data" / "mini", say=lambda _: None)
    client = _client(tmp_path / "data")
    for url in (
        "/downloads/mini/mini.suppression.csv",
        "/downloads/mini/..%2Fmini.suppression.csv",
        "/downloads/mini.suppression.csv",
        "/static/../data/mini.suppression.csv",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "primary" not in response.text


def test_unknown_geography_is_a_json_404(tmp_path: Path) -> None:
    """An unknown geography gives 404 with a message naming it."""
    response = _client(tmp_path).get("/downloads/nowhere.gpkg")
    assert response.status_code == 404
    assert "nowhere" in response.json()["detail"]


def test_rebuild_is_served_without_restart(small_geography: Path, tmp_path: Path) -> None:
    """After a rebuild with new counts the running service serves the new release."""
    out = tmp_path / "data" / "mini"
    first = build(small_geography, out=out, say=lambda _: None).published.release_id
    client = _client(tmp_path / "data")
    assert first in client.get("/builds").text
    with (small_geography / "counts.csv").open("a") as fh:
        fh.write("10,2024,einwohner,1250\n")
    second = build(small_geography, out=out, say=lambda _: None).published.release_id
    assert second != first
    page = client.get("/builds").text
    assert second in page and "2024" in page


def test_openapi_has_unique_explicit_operation_ids(tmp_path: Path) -> None:
    """Every route names its operation id; the schema builds without a duplicate warning."""
    settings = Settings(data=tmp_path)
    store = BuildStore(tmp_path)
    for module in (api, downloads, maps, ogc, pages, tiles):
        routes = module.router(store, settings).routes
        assert routes and all(isinstance(r, APIRoute) and r.operation_id for r in routes)
    app = create_app(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = app.openapi()
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    assert {"get_tile", "head_tile", "get_pmtiles", "head_pmtiles"} <= set(ids)

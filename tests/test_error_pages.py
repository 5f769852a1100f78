"""Errors as a browser meets them: a German page for a navigation, JSON for programs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.main import create_app
from service.settings import Settings

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def client(mini_data: Path) -> TestClient:
    return TestClient(create_app(Settings(data=mini_data, reload_check_seconds=0)))


@pytest.mark.parametrize(("url", "status", "title"), [
    (f"/maps/mini/{HOSTILE}", 404, "Nicht gefunden"),
    (f"/maps/{HOSTILE}/auslaenderanteil", 404, "Nicht gefunden"),
    ("/maps/mini/auslaenderanteil?Year=2021", 422, "Ungültige Anfrage"),
    ("/maps/mini/auslaenderanteil?year=zwanzig", 422, "Ungültige Anfrage"),
    (f"/nowhere/{HOSTILE}", 404, "Nicht gefunden"),
])
def test_a_browser_gets_an_escaped_german_page(client: TestClient, url: str, status: int,
                                               title: str) -> None:
    """Status kept; the page names the error in German, escapes what came from the request,
    runs no script and links back to the map."""
    r = client.get(url, headers=BROWSER)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert f"<h1>{title} ({status})</h1>" in r.text
    assert "<img" not in r.text and "<script" not in r.text.lower()
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert 'href="/"' in r.text
    if "Year" in url:
        assert "Year" in r.text and "year" in r.text  # the unknown name and the valid ones


def test_programs_keep_json(client: TestClient) -> None:
    """Without text/html in Accept, and below the data paths whatever Accept says: JSON."""
    r = client.get("/maps/mini/nope")
    assert r.status_code == 404 and "detail" in r.json()
    for url in ("/api/geographies/nope", "/api/geographies/mini/values/nope",
                "/ogc/collections/nope", "/tiles/nope/0/0/0.mvt"):
        r = client.get(url, headers=BROWSER)
        assert r.status_code in (400, 404, 422), url
        assert r.headers["content-type"].startswith("application/json"), url

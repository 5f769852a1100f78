"""The JSON data API: geographies, indicators, values as JSON, CSV, German CSV and GeoJSON."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from conftest import router_app
from fastapi.testclient import TestClient

from service.main import create_app
from service.routers import api
from service.settings import Settings


@pytest.fixture(scope="module")
def data_dir(mini_data: Path) -> Path:
    """The session's small geography build (Quartiere 11 and 12 have withheld cells)."""
    return mini_data


@pytest.fixture(scope="module")
def client(data_dir: Path) -> TestClient:
    return TestClient(router_app(api, data_dir))


def test_geographies_lists_builds(client: TestClient) -> None:
    """Every build is listed with levels, years, attribution and release id."""
    body = client.get("/api/geographies").json()
    (mini,) = body["geographies"]
    assert mini["id"] == "mini" and mini["years"] == [2023]
    assert [lv["id"] for lv in mini["levels"]] == ["stadtbezirk", "quartier"]
    assert mini["attribution"] == "Testdaten (erzeugt)" and len(mini["release_id"]) == 16
    assert mini["links"]["values"].endswith("/api/geographies/mini/values")


def test_geography_detail(client: TestClient) -> None:
    """One geography: levels with counts, total, years, release id."""
    body = client.get("/api/geographies/mini").json()
    assert body["levels"][1] == {"id": "quartier", "name": "Quartier", "count": 5}
    assert body["total"] == {"id": "mini", "name": "Mini-Stadt"}


def test_indicators_grouped_by_theme(client: TestClient) -> None:
    """Indicators come grouped by theme, in catalogue order, with unit and latest year."""
    themes = client.get("/api/geographies/mini/indicators").json()["themes"]
    assert [t["theme"] for t in themes] == ["Rechtsstatus und Aufenthalt", "Soziale Sicherung"]
    first = themes[0]["indicators"][0]
    assert first["id"] == "auslaenderanteil" and first["unit"] == "%"
    assert first["latest_year"] == 2023


def test_values_json_withheld_are_null(client: TestClient) -> None:
    """JSON values: one row per area plus the total; withheld rows carry no number."""
    body = client.get("/api/geographies/mini/values?indicator=auslaenderanteil").json()
    rows = body["values"]
    assert [r["area_id"] for r in rows] == ["10", "11", "12", "20", "21", "mini"]
    brill = rows[1]
    assert brill["status"] == "suppressed"
    assert all(brill[k] is None for k in
               ("numerator", "denominator", "rate", "ci_low", "ci_high", "reliable"))
    assert rows[0]["numerator"] == 300 and rows[0]["rate"] == 25.0
    assert body["attribution"] == "Testdaten (erzeugt)"


def test_values_default_to_all_indicators_of_the_finest_level(client: TestClient) -> None:
    """Without parameters: every indicator, finest level, latest year."""
    rows = client.get("/api/geographies/mini/values").json()["values"]
    assert {r["indicator"] for r in rows} == {"auslaenderanteil", "sgb2_quote"}
    assert {r["level"] for r in rows} == {"quartier", "total"}


def test_values_csv(client: TestClient) -> None:
    """CSV: comma, point, UTF-8, empty withheld cells, attribution header."""
    response = client.get("/api/geographies/mini/values?indicator=auslaenderanteil&format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["x-attribution"] == "Testdaten (erzeugt)"
    assert not response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0]["rate"] == "25.0" and rows[0]["name"] == "Arrenberg"
    assert rows[1]["status"] == "suppressed"
    assert rows[1]["numerator"] == "" and rows[1]["rate"] == ""


def _csv_de(client: TestClient, query: str) -> tuple[list[str], list[dict[str, str]]]:
    response = client.get(f"/api/geographies/mini/values?{query}&format=csv-de")
    assert response.content.startswith(b"\xef\xbb\xbf")
    reader = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";")
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def test_values_csv_de_for_excel(client: TestClient) -> None:
    """csv-de: UTF-8 BOM, semicolons, decimal comma, umlauts intact."""
    response = client.get("/api/geographies/mini/values?indicator=auslaenderanteil&format=csv-de")
    assert "attachment" in response.headers["content-disposition"]
    _, rows = _csv_de(client, "indicator=auslaenderanteil")
    assert rows[0]["Wert"] == "25,0" and rows[0]["95-%-Intervall unten"].count(",") == 1
    assert any(r["Name"] == "Dönberg" for r in rows)


def test_values_csv_de_speaks_german(client: TestClient) -> None:
    """csv-de: German headers and German words in the cells; no English key or word."""
    header, rows = _csv_de(client, "indicator=auslaenderanteil")
    assert header == [
        "Ebene", "Gebiet-ID", "Name", "übergeordnetes Gebiet", "Indikator", "Jahr", "Zähler",
        "Nenner", "Wert", "95-%-Intervall unten", "95-%-Intervall oben", "Status",
        "Vergleich mit Gesamtgebiet", "verlässlich",
    ]
    arrenberg, brill = rows[0], rows[1]
    assert arrenberg["Ebene"] == "Quartier" and arrenberg["Indikator"] == "Anteil Ausländer:innen"
    assert arrenberg["Status"] == "veröffentlicht" and arrenberg["verlässlich"] == "ja"
    assert arrenberg["Vergleich mit Gesamtgebiet"] == "höher"
    assert brill["Status"] == "gesperrt" and brill["Wert"] == "" and brill["verlässlich"] == ""
    assert rows[-1]["Ebene"] == "Gesamtgebiet"
    cells = {c for r in rows for c in r.values()}
    english = {"quartier", "total", "published", "suppressed", "missing", "similar", "higher",
               "lower", "true", "false", "auslaenderanteil"}
    assert not cells & english
    plain = client.get("/api/geographies/mini/values?indicator=auslaenderanteil&format=csv")
    assert plain.text.startswith("level,area_id,name,parent_id,indicator,year,numerator,")


def test_values_carry_the_parent_id(client: TestClient) -> None:
    """Each row names its parent area (Quartier 10 lies in Stadtbezirk 1); the total none."""
    rows = client.get("/api/geographies/mini/values?indicator=sgb2_quote").json()["values"]
    parents = {r["area_id"]: r["parent_id"] for r in rows}
    assert parents == {"10": "1", "11": "1", "12": "1", "20": "2", "21": "2", "mini": None}
    coarse = client.get("/api/geographies/mini/values?indicator=sgb2_quote&level=stadtbezirk")
    assert {r["area_id"]: r["parent_id"] for r in coarse.json()["values"]}["2"] == "mini"
    text = client.get("/api/geographies/mini/values?indicator=sgb2_quote&format=csv").text
    assert list(csv.DictReader(io.StringIO(text)))[3]["parent_id"] == "2"
    _, german = _csv_de(client, "indicator=sgb2_quote")
    assert german[0]["übergeordnetes Gebiet"] == "1"


def test_values_geojson(client: TestClient) -> None:
    """GeoJSON: one feature per area with geometry, attribution on top, withheld as null."""
    response = client.get(
        "/api/geographies/mini/values?indicator=auslaenderanteil&format=geojson")
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection" and body["attribution"] == "Testdaten (erzeugt)"
    features = {f["id"]: f for f in body["features"]}
    assert set(features) == {"10", "11", "12", "20", "21"}
    brill = features["11"]["properties"]
    assert brill["auslaenderanteil"] is None and brill["auslaenderanteil_numerator"] is None
    assert brill["auslaenderanteil_status"] == "suppressed"
    assert features["10"]["properties"]["auslaenderanteil_numerator"] == 300
    assert features["10"]["geometry"]["type"] == "Polygon"
    assert "sgb2_quote" not in brill


def test_values_of_a_coarser_level_and_year(client: TestClient) -> None:
    """level and year select the rows."""
    rows = client.get(
        "/api/geographies/mini/values?indicator=sgb2_quote&level=stadtbezirk&year=2023"
    ).json()["values"]
    assert [r["area_id"] for r in rows] == ["1", "2", "mini"]


@pytest.mark.parametrize("url", [
    "/api/geographies/nowhere",
    "/api/geographies/nowhere/indicators",
    "/api/geographies/mini/values?indicator=unknown",
    "/api/geographies/mini/values?level=block",
    "/api/geographies/mini/values?year=1990",
])
def test_unknown_ids_give_404_with_a_message(client: TestClient, url: str) -> None:
    """Unknown geography, indicator, level or year: 404 and a JSON message."""
    response = client.get(url)
    assert response.status_code == 404
    assert isinstance(response.json()["detail"], str)


def test_indicators_list_only_their_years(gap_data: Path) -> None:
    """/indicators lists per indicator the years with values; a year without any value of
    the indicator asked for is a 404 that names the years it has."""
    client = TestClient(router_app(api, gap_data))
    assert client.get("/api/geographies/mini").json()["years"] == [2021, 2023]
    themes = client.get("/api/geographies/mini/indicators").json()["themes"]
    years = {i["id"]: i["years"] for t in themes for i in t["indicators"]}
    assert years == {"auslaenderanteil": [2021, 2023], "sgb2_quote": [2023]}
    for fmt in ("json", "csv", "csv-de", "geojson"):
        response = client.get(
            f"/api/geographies/mini/values?indicator=sgb2_quote&year=2021&format={fmt}")
        assert response.status_code == 404, fmt
        assert "2021" in response.json()["detail"] and "2023" in response.json()["detail"]
    ok = client.get("/api/geographies/mini/values?indicator=auslaenderanteil&year=2021")
    assert ok.status_code == 200 and ok.json()["values"][0]["year"] == 2021


@pytest.mark.parametrize("url", [
    "/api/geographies/mini/values?format=xlsx",
    "/api/geographies/mini/values?year=letztes",
])
def test_bad_parameters_give_422(client: TestClient, url: str) -> None:
    """A bad format or a non-numeric year: 422 with a message."""
    response = client.get(url)
    assert response.status_code == 422
    assert response.json()["detail"]


def test_openapi_documents_the_parameters(data_dir: Path) -> None:
    """The whole app's /docs and OpenAPI describe every values parameter."""
    client = TestClient(create_app(Settings(data=data_dir)))
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    params = spec["paths"]["/api/geographies/{geography}/values"]["get"]["parameters"]
    described = {p["name"]: p.get("description", "") for p in params}
    assert set(described) >= {"geography", "indicator", "year", "level", "format"}
    assert all(described.values())

"""Area profiles: data (ranks, comparisons, spine), page, PDF and JSON, never a withheld value."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import router_app
from fastapi.testclient import TestClient
from leakcheck import HOSTILE_ATTRIBUTION, HOSTILE_NAME, build_distinctive, forbidden_strings, leaks

from geo.release import read_build
from geo.render.profiles import charts, ranking
from geo.render.profiles.data import area_profile
from geo.render.profiles.search import search_areas
from service.routers import api, profiles

INDICATOR_NAMES = ("Anteil Ausländer:innen", "SGB-II-Quote")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three years; Quartiere 10, 11, 12, 20 and 21 each have withheld cells."""
    return build_distinctive(tmp_path_factory.mktemp("profiles"))


@pytest.fixture(scope="module")
def client(build_dir: Path) -> TestClient:
    return TestClient(router_app(profiles, build_dir.parent))


@pytest.fixture(scope="module")
def values(build_dir: Path) -> pd.DataFrame:
    return pd.read_csv(build_dir / "values.csv", dtype={"area_id": str})


def _pdf_text(pdf: bytes, tmp_path: Path) -> str:
    executable = shutil.which("pdftotext")
    assert executable, "pdftotext is missing: `make browser-deps` installs poppler-utils"
    path = tmp_path / "profile.pdf"
    path.write_bytes(pdf)
    return subprocess.run([executable, "-layout", str(path), "-"], check=True,
                          capture_output=True, text=True).stdout


def test_ranks_match_values_csv(build_dir: Path, values: pd.DataFrame) -> None:
    """Rank 1 = highest published rate, ties share the best rank, rank_of counts published."""
    published = read_build(build_dir)
    for (ind, year, level), rows in values[values["level"] != "total"].groupby(
            ["indicator", "year", "level"]):
        shown = rows[rows["status"] == "published"].set_index("area_id")["rate"]
        expected = shown.rank(method="min", ascending=False)
        table = ranking.level_table(published, ind, level, int(year))
        for area_id, rank in table["rank"].items():
            if area_id in expected.index:
                assert rank == expected[area_id] and table.loc[area_id, "rank_of"] == len(shown)
            else:
                assert pd.isna(rank) and pd.isna(table.loc[area_id, "rank_of"])


def test_ties_share_the_best_rank(build_dir: Path) -> None:
    """2021: Dönberg and Eckbusch both 15,0 % -> both rank 2 after Clausen's 35,0 %."""
    table = ranking.level_table(read_build(build_dir), "auslaenderanteil", "quartier", 2021)
    assert table.loc[["12", "20", "21"], "rank"].tolist() == [1, 2, 2]
    assert table.loc["20", "rank_of"] == 3


def test_vs_parent_like_vs_total(build_dir: Path, values: pd.DataFrame) -> None:
    """vs_parent: does the area's interval exclude the parent's published rate."""
    published = read_build(build_dir)
    areas = pd.read_csv(build_dir / "areas.csv", dtype=str).set_index(["level", "area_id"])
    for row in values[(values["level"] == "quartier")].itertuples():
        got = ranking.level_table(published, row.indicator, "quartier", row.year).loc[
            row.area_id, "vs_parent"]
        parent = areas.loc[("quartier", row.area_id), "parent_id"]
        ref = values[(values["level"] == "stadtbezirk") & (values["area_id"] == parent)
                     & (values["indicator"] == row.indicator) & (values["year"] == row.year)]
        ref_rate = ref["rate"].iloc[0] if ref["status"].iloc[0] == "published" else np.nan
        if row.status != "published" or np.isnan(ref_rate):
            assert got is None or pd.isna(got)
        else:
            expected = ("higher" if row.ci_low > ref_rate else
                        "lower" if row.ci_high < ref_rate else "similar")
            assert got == expected


def test_spine_uses_published_values_only(build_dir: Path, values: pd.DataFrame) -> None:
    """Range and quartiles come from the level's published rates; the total is the city's."""
    published = read_build(build_dir)
    spine = ranking.spine(published, "sgb2_quote", "quartier", 2023)
    rows = values[(values["level"] == "quartier") & (values["indicator"] == "sgb2_quote")
                  & (values["year"] == 2023)]
    shown = rows.loc[rows["status"] == "published", "rate"].to_numpy()
    assert spine is not None and spine.n == len(shown) == 3
    assert (spine.minimum, spine.maximum) == (shown.min(), shown.max())
    assert spine.median == pytest.approx(np.median(shown))
    total = values[(values["level"] == "total") & (values["indicator"] == "sgb2_quote")
                   & (values["year"] == 2023)]["rate"].iloc[0]
    assert spine.total == pytest.approx(total)


def test_withheld_area_has_no_marker_and_trend_has_a_gap(build_dir: Path) -> None:
    """Dönberg 2022 is withheld: two points, no line across 2022, the year marked on the axis;
    Brill 2023 is withheld: the spine chart has no marker."""
    published = read_build(build_dir)
    doenberg = area_profile(published, "quartier", "20")
    item = doenberg.indicators[0]
    trend = charts.trend_svg(item, doenberg.area, "Mini-Stadt", "t")
    assert trend is not None
    assert trend.count(f'fill="{charts.AREA_LINE}"') == 2
    assert not re.search(f'<polyline[^>]*stroke="{charts.AREA_LINE}"', trend)
    assert "2022: gesperrt (Geheimhaltung)" in trend and "×" in trend
    brill = area_profile(published, "quartier", "11")
    spine = charts.spine_svg(brill.indicators[0], brill.area, "Mini-Stadt", "s")
    assert spine is not None and "<circle" not in spine and "ohne Markierung" in spine


def test_json_profile_withheld_values_are_null(client: TestClient, build_dir: Path,
                                               values: pd.DataFrame) -> None:
    """Every indicator by name; withheld rows carry no number; the rest equals values.csv."""
    body = client.get("/api/geographies/mini/areas/quartier/11").json()
    assert body["area"]["name"] == "Brill" and body["area"]["parents"][0]["name"] == "Nord"
    assert body["area"]["population"] == {"variable": "einwohner", "name": "Einwohner:innen",
                                           "year": 2023, "value": 8530, "status": "published"}
    assert [i["name"] for i in body["indicators"]] == list(INDICATOR_NAMES)
    csv = values[(values["level"] == "quartier") & (values["area_id"] == "11")]
    for ind in body["indicators"]:
        assert {v["year"] for v in ind["values"]} == {2021, 2022, 2023}
        for v in ind["values"]:
            row = csv[(csv["indicator"] == ind["indicator"]) & (csv["year"] == v["year"])].iloc[0]
            assert v["status"] == row["status"]
            if v["status"] == "suppressed":
                assert [v[k] for k in ("rate", "ci_low", "ci_high", "numerator", "denominator",
                                       "rank", "vs_total", "vs_parent")] == [None] * 8
            else:
                assert v["rate"] == pytest.approx(row["rate"])
                assert v["numerator"] == row["numerator"] and v["vs_total"] == row["vs_total"]
    raw = client.get("/api/geographies/mini/areas/quartier/11").text
    assert not leaks(raw, forbidden_strings(build_dir, german=False))


@pytest.mark.parametrize("area_id", ["10", "11", "12", "20", "21"])
def test_page_shows_every_indicator_and_no_withheld_figure(
        client: TestClient, build_dir: Path, area_id: str) -> None:
    """Each Quartier page: every indicator by name, "gesperrt (Geheimhaltung)", no leak."""
    assert {"17.231", "6.911", "81,8", "88,4"} <= forbidden_strings(build_dir)
    response = client.get(f"/profiles/mini/quartier/{area_id}")
    assert response.status_code == 200
    page = response.text
    assert all(name in page for name in INDICATOR_NAMES)
    assert "gesperrt (Geheimhaltung)" in page
    assert not leaks(page, forbidden_strings(build_dir))
    json_text = client.get(f"/api/geographies/mini/areas/quartier/{area_id}").text
    assert not leaks(json_text, forbidden_strings(build_dir, german=False))


def test_page_facts_ranks_and_words(client: TestClient) -> None:
    """Eckbusch: value, interval, counts, reliability, comparisons with günstig, rank."""
    page = client.get("/profiles/mini/quartier/21").text
    assert "<dd>9,5 %</dd>" in page and "<dd>9,1 bis 9,9 %</dd>" in page
    assert "<dd>2.400 / 25.300</dd>" in page and "<dd>verlässlich</dd>" in page
    assert "<dd>niedriger (günstig)</dd>" in page and "<dd>höher (ungünstig)</dd>" in page
    assert "<dd>Rang 2 von 3</dd>" in page
    assert "Stichtag 31.12." in page and "Bundesagentur für Arbeit" in page
    assert "Einwohner:innen (2023): <strong>25.300</strong>" in page


def test_hostile_texts_are_escaped(client: TestClient) -> None:
    """Names, attribution, notice, sources and descriptions never become markup."""
    page = client.get("/profiles/mini/quartier/21").text
    for raw in (HOSTILE_NAME, HOSTILE_ATTRIBUTION, "<b>Test</b>", "<i>(Test)</i>", "<u>x</u>"):
        assert raw not in page
    assert "&lt;script&gt;alert(&quot;q&quot;)&lt;/script&gt;Eckbusch &amp; Co" in page
    assert "<script" not in page and "onerror=" not in page.replace("onerror=&quot;", "")
    assert ' style="' not in page, "a strict CSP forbids style attributes"


def test_pdf_text_is_extractable_and_has_no_withheld_figure(
        client: TestClient, build_dir: Path, tmp_path: Path) -> None:
    """The A4 PDF: the area's name and every indicator as text; withheld: words, no number."""
    response = client.get("/profiles/mini/quartier/11.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response.headers["content-type"] == "application/pdf"
    text = _pdf_text(response.content, tmp_path)
    assert "Brill" in text and all(name in text for name in INDICATOR_NAMES)
    assert "gesperrt (Geheimhaltung)" in text and "Testdaten" in text
    assert "Rang" in text and "Quelle" in text
    assert not leaks(text, forbidden_strings(build_dir))


def test_pdf_prints_hostile_names_as_text(client: TestClient, tmp_path: Path) -> None:
    """A name with markup prints as it is (a PDF has no markup to inject)."""
    text = _pdf_text(client.get("/profiles/mini/quartier/21.pdf").content, tmp_path)
    assert 'alert("q")' in text and "Eckbusch & Co" in text


@pytest.mark.parametrize("url", ["/profiles/mini/quartier/Bril",
                                 "/profiles/mini/quartier/Bril.pdf",
                                 "/api/geographies/mini/areas/quartier/Bril"])
def test_unknown_area_is_404_with_a_suggestion(client: TestClient, url: str) -> None:
    """Page, PDF and JSON alike: 404 naming the area probably meant."""
    response = client.get(url)
    assert response.status_code == 404
    assert "'11' (Brill, Quartier)" in response.text.replace("&#x27;", "'")


def test_unknown_area_page_links_the_suggestions(client: TestClient) -> None:
    """The HTML 404 is a German page with links to the areas probably meant."""
    page = client.get("/profiles/mini/quartier/1").text
    assert "Gebiet nicht gefunden" in page and 'href="/profiles/mini/stadtbezirk/1"' in page


def test_stadtbezirk_and_total_profiles(client: TestClient) -> None:
    """Coarser levels work too; the whole area has no rank and no comparison."""
    assert client.get("/profiles/mini/stadtbezirk/2").status_code == 200
    body = client.get("/api/geographies/mini/areas/total/mini").json()
    assert body["area"]["parents"] == []
    assert all(v["rank"] is None and v["vs_total"] is None
               for ind in body["indicators"] for v in ind["values"])


def test_area_search(build_dir: Path) -> None:
    """By key (exact first) or name, case- and accent-free, every level."""
    published = read_build(build_dir)
    first = search_areas(published, "1")[0]
    assert (first["level"], first["area_id"], first["name"]) == ("stadtbezirk", "1", "Nord")
    assert [m["area_id"] for m in search_areas(published, "DONBERG")] == ["20"]
    assert [m["area_id"] for m in search_areas(published, "eck")] == ["21"]
    assert search_areas(published, "zzz") == []


def test_area_search_and_definitions_api(build_dir: Path) -> None:
    """GET /api/geographies/{geo}/areas?q= and the indicator definitions in the indicators API."""
    client = TestClient(router_app(api, build_dir.parent))
    body = client.get("/api/geographies/mini/areas", params={"q": "brill"}).json()
    bbox = body["areas"][0].pop("bbox")  # degrees, for the viewer to zoom to
    assert body["areas"] == [{"level": "quartier", "level_name": "Quartier", "area_id": "11",
                              "name": "Brill", "profile": "/profiles/mini/quartier/11"}]
    west, south, east, north = bbox
    assert 6 < west < east < 7.1 and 51 < south < north < 51.4
    assert client.get("/api/geographies/mini/areas", params={"q": ""}).status_code == 422
    first = client.get("/api/geographies/mini/indicators").json()["themes"][0]["indicators"][0]
    assert first["source"] == "Melderegister <b>Test</b>"
    assert first["reference_date"] == "Stichtag 31.12."
    assert first["definition"]["numerator"]["definition"] == "ohne deutsche Staatsangehörigkeit"


def test_whole_app_serves_profiles(build_dir: Path) -> None:
    """service.main registers the profile routes and the stylesheet."""
    from service.main import create_app
    from service.settings import Settings

    client = TestClient(create_app(Settings(data=build_dir.parent)))
    page = client.get("/profiles/mini/quartier/12")
    assert page.status_code == 200 and 'href="/profiles/profile.css"' in page.text
    assert client.get("/profiles/profile.css").headers["content-type"].startswith("text/css")
    assert re.search(r"<h1>Clausen</h1>", page.text)


STRICT_CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
              "script-src 'none'; connect-src 'self'; font-src 'self'")


@pytest.mark.browser
def test_profile_page_in_chromium_under_a_strict_csp(build_dir: Path) -> None:
    """Chromium: no CSP violation, no request to another host, one h1, ordered headings, every
    chart an svg with role=img and a title, tables with captions and th scope."""
    from conftest import CHROMIUM_ARGS, serving
    from playwright.sync_api import sync_playwright
    from test_report import check_accessibility

    from service.main import create_app
    from service.settings import Settings

    app = create_app(Settings(data=build_dir.parent))

    @app.middleware("http")
    async def strict(request, call_next):  # type: ignore[no-untyped-def]
        response = await call_next(request)
        response.headers["Content-Security-Policy"] = STRICT_CSP
        return response

    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: `make browser-deps` installs it"
    with serving(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 800})
        errors: list[str] = []
        hosts: set[str] = set()
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("request", lambda r: hosts.add(r.url.split("/")[2]))
        page.goto(f"{url}/profiles/mini/quartier/11")
        page.wait_for_load_state("load")
        found = check_accessibility(page)
        assert found["h1"] == 1
        assert page.locator("h1").inner_text() == "Brill"
        assert page.locator("article.indicator").count() == len(INDICATOR_NAMES)
        assert "gesperrt (Geheimhaltung)" in page.inner_text("main")
        # the stylesheet applied (a blocked one would leave the grid unstyled)
        assert page.evaluate(
            "getComputedStyle(document.querySelector('dl.facts')).display") == "grid"
        assert errors == [] and hosts == {url.split("/")[2]}
        browser.close()

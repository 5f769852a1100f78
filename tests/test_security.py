"""Hostile input: no script from a name, attribution, notice or unit runs in any page; no CSV
cell starts a formula; header values stay one line; one response is made of one release."""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from conftest import (
    HOSTILE_ATTRIBUTION,
    HOSTILE_NAMES,
    HOSTILE_NOTICE,
    HOSTILE_TOTAL,
    XSS_FLAG,
    serving,
)
from fastapi.testclient import TestClient

from geo.build import build
from geo.release import read_build
from geo.release.formulas import (
    FORMULA_STARTS,
    neutralise,
    neutralise_frame,
    restore,
    restore_frame,
)
from service.headers import content_disposition, header_text
from service.main import create_app
from service.settings import Settings

LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def hostile(hostile_data: Path) -> TestClient:
    """The whole app over the hostile build."""
    return TestClient(create_app(Settings(data=hostile_data, reload_check_seconds=0)))


# --- CSV formula injection ----------------------------------------------------------------------


def test_neutralise_round_trips_and_leaves_numbers() -> None:
    """A formula start gets an apostrophe; restore gives the text back; numbers stay numbers."""
    for text in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "'=x", "''@x", "'abc", "abc",
                 "", "a=b"):
        written = neutralise(text)
        assert written[:1] not in tuple(FORMULA_STARTS), text
        assert restore(written) == text
    import pandas as pd

    frame = pd.DataFrame({"name": ["-2", "ok"], "rate": [-2.0, 1.5], "n": [-2, 3]})
    out = neutralise_frame(frame)
    assert out["name"].tolist() == ["'-2", "ok"]
    assert out["rate"].tolist() == [-2.0, 1.5] and out["n"].tolist() == [-2, 3]
    cells = pd.DataFrame({"variable": ["+x", "y"], "value": ["-2.5", "3"]})  # numbers as text
    assert neutralise_frame(cells, ["variable"]).to_dict("list") == {
        "variable": ["'+x", "y"], "value": ["-2.5", "3"]}
    years = pd.DataFrame({"year": [2021, -3, "2010-2012", "=1"]}, index=[0, 0, 1, 1])
    written = neutralise_frame(years)  # year keys: ints and period labels in one column
    assert written["year"].tolist() == [2021, -3, "2010-2012", "'=1"]
    assert restore_frame(written).equals(years)
    only_years = pd.DataFrame({"year": pd.Series([2021, -3], dtype=object)})  # no period
    assert neutralise_frame(only_years).equals(only_years)


def _cells(text: str, delimiter: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text), delimiter=delimiter) for cell in row]


def _starts_formula(cell: str, decimal: str = ".") -> bool:
    if not cell or cell[0] not in FORMULA_STARTS:
        return False
    try:
        float(cell.replace(decimal, "."))  # a number (in a numeric column) is no formula
    except ValueError:
        return True
    return False


def test_no_build_csv_cell_starts_a_formula(hostile_data: Path) -> None:
    """areas.csv, values.csv and cells.csv: hostile names are written with an apostrophe."""
    folder = hostile_data / "hostile"
    for name in ("areas.csv", "values.csv", "cells.csv"):
        cells = _cells((folder / name).read_text(encoding="utf-8"), ",")
        assert not [c for c in cells if _starts_formula(c)], name
    areas = (folder / "areas.csv").read_text(encoding="utf-8")
    assert """'=HYPERLINK(""http://x"")""" in areas and "'-2" in areas and "'@SUM(A1)" in areas


def test_reading_a_build_back_strips_the_apostrophe(hostile_data: Path) -> None:
    """read_build gives the names as they were: pages and the API show them unchanged."""
    published = read_build(hostile_data / "hostile")
    names = set(published.areas["name"]) | set(published.values["name"])
    assert set(HOSTILE_NAMES.values()) <= names
    assert not any(n.startswith("'") for n in names)


@pytest.mark.parametrize(("format", "delimiter", "decimal"), [("csv", ",", "."),
                                                               ("csv-de", ";", ",")])
def test_no_api_csv_cell_starts_a_formula(hostile: TestClient, format: str, delimiter: str,
                                          decimal: str) -> None:
    """The API's csv and csv-de (for Excel) neutralise text cells; JSON keeps the names."""
    for level in ("quartier", "stadtbezirk"):
        response = hostile.get(f"/api/geographies/hostile/values?format={format}&level={level}")
        cells = _cells(response.content.decode("utf-8-sig"), delimiter)
        assert not [c for c in cells if _starts_formula(c, decimal)], (format, level)
    text = hostile.get(f"/api/geographies/hostile/values?format={format}").text
    assert "'+1" in text and "'-2" in text
    names = {r["name"] for r in hostile.get("/api/geographies/hostile/values").json()["values"]}
    assert {"+1", "-2", "@SUM(A1)"} <= names


# --- headers ------------------------------------------------------------------------------------


def test_header_text_is_one_latin1_line() -> None:
    """Line breaks become spaces; umlauts stay; other characters become ASCII or '?'."""
    text = header_text("Quelle: Stadt\r\nWuppertal –\tAmt für Statistik ★ ﬁ")
    assert text == "Quelle: Stadt Wuppertal - Amt für Statistik ? fi"
    text.encode("latin-1")


def test_content_disposition_has_an_ascii_and_a_utf8_name() -> None:
    """RFC 6266: a plain filename for old clients, filename* for the exact name."""
    value = content_disposition('Düsseldorf "x"\r\n.csv')
    assert value.startswith('attachment; filename="Dusseldorf_x_.csv"')
    assert "filename*=UTF-8''D%C3%BCsseldorf%20%22x%22%0D%0A.csv" in value
    assert content_disposition("mini-1-values.csv") == 'attachment; filename="mini-1-values.csv"'


def test_multiline_attribution_is_one_header_line(hostile: TestClient) -> None:
    """X-Attribution of a multi-line attribution is one line with the whole text."""
    one_line = " ".join(HOSTILE_ATTRIBUTION.splitlines())
    assert "\n" not in one_line
    for url in ("/api/geographies/hostile", "/maps/hostile/auslaenderanteil",
                "/downloads/hostile/values.csv", "/ogc/collections/hostile.quartier/items"):
        assert hostile.get(url).headers["x-attribution"] == one_line, url


# --- HTML escaping (source level; the browser tests below run the pages) ------------------------


def test_map_page_tooltips_are_escaped(hostile: TestClient) -> None:
    """Folium tooltips get names, unit and total as escaped HTML, never raw tags."""
    page = hostile.get("/maps/hostile/auslaenderanteil").text
    assert "<img src=x" not in page and "<svg onload" not in page
    # the tooltip data is JSON in a script: "&lt;" is written \u0026lt;
    assert "\\u0026lt;img src=x onerror=" in page and "\\u0026lt;svg onload=" in page


def test_tilejson_and_style_attribution_are_escaped(hostile: TestClient) -> None:
    """TileJSON's and the style's attribution (HTML for MapLibre) carry escaped text."""
    tilejson = hostile.get("/tiles/hostile.json").json()
    style = hostile.get("/styles/hostile/auslaenderanteil.json?source=pmtiles").json()
    for attribution in (tilejson["attribution"], style["sources"]["quartier"]["attribution"]):
        assert "<" not in attribution and "&lt;img src=x onerror=" in attribution


def test_builds_page_escapes_file_names(small_geography: Path, tmp_path: Path) -> None:
    """A manifest file name with HTML is printed as text and linked URL-encoded."""
    out = tmp_path / "data" / "mini"
    build(small_geography, out=out, say=lambda _: None)
    hostile_name = "<img src=x onerror=alert(1)>.txt"
    (out / hostile_name).write_text("x", encoding="utf-8")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"] = [*manifest["files"], hostile_name]
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    page = TestClient(create_app(Settings(data=tmp_path / "data"))).get("/builds").text
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;.txt" in page
    assert "/downloads/mini/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt" in page


# --- one response, one release ------------------------------------------------------------------


def test_style_during_a_rebuild_is_one_release(small_geography: Path, tmp_path: Path) -> None:
    """A rebuild lands while the store still holds the old build: the style's classes and
    its ?v= name the same release, and only that release's URL is immutable."""
    out = tmp_path / "data" / "mini"
    old = build(small_geography, out=out, say=lambda _: None).published.release_id
    client = TestClient(create_app(Settings(data=tmp_path / "data", reload_check_seconds=3600)))
    assert client.get("/styles/mini/auslaenderanteil.json").json()["metadata"][
        "quartier:release"] == old
    with (small_geography / "counts.csv").open("a") as fh:
        fh.write("10,2024,einwohner,1250\n10,2024,auslaender,310\n")
    new = build(small_geography, out=out, say=lambda _: None).published.release_id
    assert new != old
    for v in (None, old, new):
        for source in ("xyz", "pmtiles"):
            query = f"?source={source}" + (f"&v={v}" if v else "")
            response = client.get(f"/styles/mini/auslaenderanteil.json{query}")
            style = response.json()
            src = style["sources"]["quartier"]
            named = (src.get("tiles") or [src.get("url")])[0].rsplit("?v=", 1)[1]
            served = style["metadata"]["quartier:release"]
            assert served == named and served in (old, new), query
            assert ("immutable" in response.headers["cache-control"]) == (v == served), query
    tilejson = client.get("/tiles/mini.json").json()
    assert tilejson["tiles"][0].endswith(f"?v={tilejson['quartier']['release_id']}")


# --- in a real browser --------------------------------------------------------------------------

WATCH = """
window.__csp_violations = [];
document.addEventListener('securitypolicyviolation',
    (e) => window.__csp_violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.fixture(scope="module")
def server(hostile_data: Path) -> Iterator[str]:
    """uvicorn in a thread serving the hostile build."""
    with serving(create_app(Settings(data=hostile_data))) as url:
        yield url


class Watched:
    """A page that records dialogs, console errors, CSP violations and every host asked."""

    def __init__(self, browser: Any) -> None:
        self.page = browser.new_page(viewport={"width": 1200, "height": 900})
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        self.page.add_init_script(WATCH)
        self.page.on("dialog", self._dialog)
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", self._request)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def _request(self, request: Any) -> None:
        parsed = urlparse(request.url)
        if parsed.scheme in ("http", "https"):
            self.hosts.add(parsed.hostname or "")

    def assert_clean(self) -> None:
        """No dialog, no payload ran, no CSP violation, no error, nothing but this server."""
        for frame in self.page.frames:
            assert frame.evaluate(f"window.{XSS_FLAG}") is None, frame.url
            assert frame.evaluate("window.__csp_violations || []") == [], frame.url
        assert self.dialogs == []
        assert self.errors == []
        assert self.hosts <= LOCAL_HOSTS


def _hover_and_click_leaflet_areas(page: Any) -> set[str]:
    """Move the mouse over every area of a Folium page, then click it; the tooltips shown."""
    paths = page.locator("path.leaflet-interactive")
    shown = set()
    for i in range(paths.count()):
        box = paths.nth(i).bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        tooltip = page.locator(".leaflet-tooltip").last
        tooltip.wait_for(timeout=5000)
        shown.add(tooltip.inner_text())
        page.mouse.click(x, y)
    return shown


@pytest.mark.browser
@pytest.mark.parametrize("level", ["quartier", "stadtbezirk"])
def test_map_page_runs_no_hostile_script(server: str, browser: Any, level: str) -> None:
    """Hovering and clicking every area of a map page shows hostile names as text only."""
    watched = Watched(browser)
    page = watched.page
    page.goto(f"{server}/maps/hostile/auslaenderanteil?level={level}")
    page.wait_for_selector("path.leaflet-interactive")
    shown = _hover_and_click_leaflet_areas(page)
    assert len(shown) == (5 if level == "quartier" else 2)
    text = "\n".join(shown)
    if level == "quartier":
        assert all(name in text for name in HOSTILE_NAMES.values())
    assert HOSTILE_TOTAL in text  # the comparison names the total, as text
    assert HOSTILE_NOTICE in page.inner_text("body")
    assert HOSTILE_ATTRIBUTION.splitlines()[1] in page.inner_text("body")
    watched.assert_clean()
    page.close()


def _viewer_area_points(page: Any) -> list[tuple[float, float]]:
    points = page.evaluate("""(() => {
        const m = quartier.map, l = quartier.state().l, seen = {}, out = [];
        for (const f of m.queryRenderedFeatures({layers: [l + '-nodata']})) {
            const id = f.properties.area_id;
            if (seen[id]) continue;
            seen[id] = true;
            const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0]
                                                        : f.geometry.coordinates[0][0];
            const xs = ring.map(c => c[0]), ys = ring.map(c => c[1]);
            const a = m.project([Math.min(...xs), Math.max(...ys)]);
            const b = m.project([Math.max(...xs), Math.min(...ys)]);
            const canvas = m.getCanvas(), box = canvas.getBoundingClientRect();
            // a point inside the area that the map itself receives (not under a control)
            let found = null;
            const steps = [0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.1, 0.9];
            for (const fx of steps) {
                for (const fy of steps) {
                    if (found) break;
                    const x = a.x + (b.x - a.x) * fx, y = a.y + (b.y - a.y) * fy;
                    const hit = m.queryRenderedFeatures([x, y], {layers: [l + '-nodata']});
                    const top = document.elementFromPoint(box.left + x, box.top + y);
                    if (top === canvas && hit.some(h => h.properties.area_id === id)) {
                        found = [x, y];
                    }
                }
            }
            if (found) out.push(found);
        }
        return out; })()""")
    box = page.locator("#map canvas").bounding_box()
    return [(box["x"] + x, box["y"] + y) for x, y in points]


@pytest.mark.browser
@pytest.mark.parametrize("level", ["quartier", "stadtbezirk"])
def test_viewer_runs_no_hostile_script(server: str, browser: Any, level: str) -> None:
    """The viewer: hover and click every area, open the table; names, notice, unit and the
    (HTML-read) attribution appear as text, and no payload runs."""
    for src in ("pmtiles", "xyz"):
        watched = Watched(browser)
        page = watched.page
        page.goto(f"{server}/#g=hostile&l={level}&i=auslaenderanteil&src={src}")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=60000)
        points = _viewer_area_points(page)
        assert len(points) == (5 if level == "quartier" else 2)
        details = []
        for x, y in points:
            page.mouse.move(x, y)
            details.append(page.locator("#details h3").inner_text(timeout=10000))
            page.mouse.click(x, y)
            popup = page.locator(".maplibregl-popup-content")
            details.append(popup.locator("h3").inner_text(timeout=10000))
            page.locator(".maplibregl-popup-close-button").click()  # it would hide the next
        if level == "quartier":
            assert set(details) == set(HOSTILE_NAMES.values())
        page.locator("#tabelle").scroll_into_view_if_needed()
        rows = page.locator("#table tbody th[scope=row]").all_inner_texts()
        assert len(rows) == len(points)
        attribution = page.locator(".maplibregl-ctrl-attrib").inner_text()
        assert "<img src=x onerror=" in attribution  # shown as text, not an element
        assert page.locator(".maplibregl-ctrl-attrib img").count() == 0
        watched.assert_clean()
        page.close()


@pytest.mark.browser
@pytest.mark.parametrize("url", ["/builds", "/docs", "/redoc"])
def test_other_pages_run_no_hostile_script(server: str, browser: Any, url: str) -> None:
    """The build list and the API docs: offline, no CSP violation, operations rendered."""
    watched = Watched(browser)
    page = watched.page
    page.route("**/*", lambda route: route.continue_()
               if urlparse(route.request.url).hostname in LOCAL_HOSTS else route.abort())
    page.goto(f"{server}{url}")
    if url == "/docs":
        page.wait_for_selector(".opblock-summary", timeout=30000)
        assert page.locator(".opblock").count() >= 15
    elif url == "/redoc":
        page.wait_for_selector("[data-section-id^='operation/']", state="attached",
                               timeout=30000)
        assert "get_values" in page.content() or page.locator(
            "[data-section-id^='operation/']").count() >= 15
    else:
        assert HOSTILE_NOTICE in page.inner_text("body")
    page.wait_for_timeout(500)
    watched.assert_clean()
    page.close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        """No log lines in the test output."""


@pytest.mark.browser
def test_map_page_embeds_in_a_report_from_disk_and_from_another_site(
    server: str, browser: Any, tmp_path: Path
) -> None:
    """A report opened from disk (file:) and one on another origin both show the map."""
    report = tmp_path / "bericht.html"
    report.write_text(
        '<!doctype html><meta charset="utf-8"><title>Bericht</title><link rel="icon" href="data:,">'
        '<h1>Sozialbericht</h1>'
        f'<iframe id="karte" src="{server}/maps/hostile/auslaenderanteil" width="900" '
        'height="600"></iframe>', encoding="utf-8")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        other_site = f"http://127.0.0.1:{httpd.server_address[1]}/bericht.html"
        for url in (report.as_uri(), other_site):
            watched = Watched(browser)
            page = watched.page
            page.goto(url)
            frame = page.frame_locator("#karte")
            frame.locator("path.leaflet-interactive").first.wait_for(timeout=30000)
            assert frame.locator("path.leaflet-interactive").count() == 5, url
            watched.assert_clean()
            page.close()
    finally:
        httpd.shutdown()


@pytest.mark.browser
def test_viewer_without_the_api_shows_names_as_they_are(server: str, browser: Any) -> None:
    """Reading values.csv (the API down), the viewer undoes the formula guard: '+1' is +1."""
    watched = Watched(browser)
    page = watched.page
    page.route("**/api/**", lambda route: route.abort())
    page.goto(f"{server}/#g=hostile&l=quartier&i=auslaenderanteil")
    page.wait_for_selector("body[data-ready=true]", state="attached", timeout=60000)
    rows = page.locator("#table tbody th[scope=row]").all_inner_texts()
    assert sorted(rows) == sorted(HOSTILE_NAMES.values())
    assert page.evaluate(f"window.{XSS_FLAG}") is None and watched.dialogs == []
    page.close()

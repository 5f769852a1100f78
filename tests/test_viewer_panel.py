"""The viewer's panel in Chromium: profile link, area search, definition, exports, change mode,
class breaks over all years, and hostile text that never runs (issues 8, 9, 10)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from conftest import serving, write_small_geography

from geo.build import build
from service.main import create_app
from service.settings import Settings

pytestmark = pytest.mark.browser

STATIC = Path(__file__).resolve().parents[1] / "static"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
WITHHELD = "gesperrt (Geheimhaltung)"
SIMILAR = "keine signifikante Veränderung"

CATALOGUE = """
[[variables]]
id = "einwohner"
name = "Einwohner:innen"
sensitive = false
source = "{source}"
year_note = "{year_note}"
definition = "Hauptwohnsitz"

[[variables]]
id = "auslaender"
name = "Ausländer:innen"
sensitive = true
source = "{source}"
year_note = "{year_note}"

[[variables]]
id = "kitas"
name = "Kindertagesstätten"
sensitive = false
estimate = true
source = "Jugendamt, Adressen"

[[indicators]]
id = "auslaenderanteil"
name = "Anteil Ausländer:innen"
theme = "Rechtsstatus und Aufenthalt"
numerator = "auslaender"
denominator = "einwohner"
per = 100
unit = "{unit}"
description = "{description}"

[[indicators]]
id = "kitas_je_1000"
name = "Kitas je 1000 Einwohner:innen"
theme = "Bildung"
numerator = "kitas"
denominator = "einwohner"
kind = "rate"
per = 1000
unit = "‰"
description = "Kindertagesstätten je 1000 Einwohner:innen."
"""

# area: (einwohner, auslaender, kitas) per year. 10 rises clearly, 21 falls clearly, 12 and 20
# stay about the same, 11 is withheld (2 Ausländer:innen)
COUNTS = {
    2021: {"10": (1200, 180, 3), "11": (800, 2, 1), "12": (950, 118, 2), "20": (400, 58, 0),
           "21": (2500, 600, 5)},
    2023: {"10": (1200, 300, 4), "11": (800, 2, 1), "12": (950, 120, 2), "20": (400, 60, 1),
           "21": (2500, 410, 6)},
}
PROVENANCE = {
    "kind": "points", "command": "{command}", "created": "2026-01-02T03:04:05+00:00",
    "inputs": [{"role": "points", "file": "{input}", "sha256": "sha256:00"}],
    "variables": [{"id": "kitas", "type": "count", "estimate": True}],
}
PLAIN = {"source": "Melderegister Teststadt", "year_note": "Stichtag 31.12.", "unit": "%",
         "description": "Ausländer:innen je 100 Einwohner:innen mit Hauptwohnsitz.",
         "command": "quartier intake points kitas.csv --variable kitas", "input": "kitas.csv"}

XSS = "__viewer_xss"
HOSTILE = {
    "source": f"<script>window.{XSS}=1</script>Amt",
    "year_note": f"<img src=x onerror=window.{XSS}=2>",
    "unit": f"<img src=x onerror=window.{XSS}=3>",
    "description": f"<img src=x onerror=window.{XSS}=4> Beschreibung",
    "command": f"<img src=x onerror=window.{XSS}=5>",
    "input": f"<svg onload=window.{XSS}=6>.csv",
}
HOSTILE_NAMES = {"10": f'<img src=x onerror="window.{XSS}=7">', "11": "Brill",
                 "12": f"<b onmouseover=window.{XSS}=8>Clausen</b>", "20": "Dönberg",
                 "21": f"<iframe src=javascript:window.{XSS}=9>"}


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)[1:-1]  # a JSON string body is a TOML one


def write_geography(folder: Path, gid: str, texts: dict[str, str],
                    names: dict[str, str] | None = None) -> Path:
    """The small geography with two years, definitions, an estimate with provenance."""
    write_small_geography(folder)
    toml = (folder / "geography.toml").read_text("utf-8").replace('id = "mini"', f'id = "{gid}"')
    (folder / "geography.toml").write_text(toml.replace('total_id = "mini"',
                                                        f'total_id = "{gid}"'), "utf-8")
    if names:
        shapes = json.loads((folder / "quartiere.geojson").read_text("utf-8"))
        for feature in shapes["features"]:
            feature["properties"]["NAME"] = names[feature["properties"]["QUARTIER"]]
        (folder / "quartiere.geojson").write_text(json.dumps(shapes), "utf-8")
    escaped = {k: _toml(v) for k, v in texts.items()}
    (folder / "indicators.toml").write_text(CATALOGUE.format(**escaped), "utf-8")
    rows = ["area_id,year,variable,value"]
    for year, areas in COUNTS.items():
        for area, (ew, aus, kitas) in areas.items():
            rows += [f"{area},{year},einwohner,{ew}", f"{area},{year},auslaender,{aus}",
                     f"{area},{year},kitas,{kitas}"]
    (folder / "counts.csv").write_text("\n".join(rows) + "\n", "utf-8")
    provenance = json.loads(json.dumps(PROVENANCE).replace("{command}", _toml(texts["command"]))
                            .replace("{input}", _toml(texts["input"])))
    (folder / "counts.csv.provenance.json").write_text(json.dumps(provenance), "utf-8")
    return folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving 'mini' (plain texts) and 'feind' (hostile texts), two years each."""
    tmp = tmp_path_factory.mktemp("viewer-panel")
    data = tmp / "data"
    for gid, texts, names in (("mini", PLAIN, None), ("feind", HOSTILE, HOSTILE_NAMES)):
        source = write_geography(tmp / "src" / gid, gid, texts, names)
        build(source, out=data / gid, data_dir=data, say=lambda _m: None)
    with serving(create_app(Settings(data=data))) as url:
        yield url


class Viewer:
    """A viewer page that records errors, dialogs, requested hosts and URLs."""

    def __init__(self, browser: Any, url: str, **context: Any) -> None:
        self.context = browser.new_context(**{"viewport": {"width": 1280, "height": 900},
                                              **context})
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(url)
        self.wait_ready()

    def wait_ready(self) -> None:
        """Wait until the viewer applied the view and the map is idle."""
        self.page.wait_for_selector("body[data-ready=true]", state="attached", timeout=60000)

    def select(self, selector: str, value: str) -> None:
        """Choose an option and wait for the new view."""
        self.page.select_option(selector, value)
        self.wait_ready()

    def js(self, script: str) -> Any:
        return self.page.evaluate(script)

    def hosts(self) -> set[str]:
        return {urlparse(u).hostname or "" for u in self.requests
                if urlparse(u).scheme in ("http", "https")}

    def point_of(self, area_id: str | None = None) -> tuple[float, float]:
        """Page coordinates of a point inside the area (any area when None), not under the
        search box, a control or a popup."""
        point = self.page.evaluate("""(id) => {
            const m = quartier.map, c = m.getCanvas(), l = quartier.state().l;
            const box = c.getBoundingClientRect();
            for (let y = 12; y < c.clientHeight; y += 8) {
                for (let x = 12; x < c.clientWidth; x += 8) {
                    const f = m.queryRenderedFeatures([x, y], {layers: [l + '-nodata']})[0];
                    if (f && (id === null || String(f.properties.area_id) === id)
                        && document.elementFromPoint(box.left + x, box.top + y) === c)
                        return [box.left + x, box.top + y];
                }
            }
            return null; }""", area_id)
        assert point is not None, f"area {area_id} not rendered"
        return point[0], point[1]

    def layer_areas(self, suffix: str) -> set[str]:
        """area_ids rendered in the shown level's layers whose id ends with suffix."""
        return set(self.page.evaluate("""(suffix) => {
            const l = quartier.state().l;
            const layers = quartier.map.getStyle().layers.map(x => x.id)
                .filter(id => id.startsWith(l + '-') && new RegExp(suffix).test(id));
            return quartier.map.queryRenderedFeatures({layers})
                .map(f => String(f.properties.area_id));
            }""", suffix))

    def close(self) -> None:
        self.context.close()


def _api(server: str, path: str, **params: Any) -> Any:
    return httpx.get(f"{server}{path}", params=params, timeout=60).json()


def test_clicking_an_area_offers_its_profile(server: str, browser: Any) -> None:
    """A click opens a popup whose "Profil öffnen" links /profiles/{geo}/{level}/{area_id};
    the link opens that area's profile."""
    v = Viewer(browser, f"{server}/#g=mini&l=quartier&i=auslaenderanteil")
    v.page.mouse.click(*v.point_of("20"))
    link = v.page.locator(".maplibregl-popup a[data-role=profile]")
    link.wait_for(timeout=10000)
    assert link.inner_text() == "Profil öffnen"
    assert link.get_attribute("href") == "/profiles/mini/quartier/20"
    assert v.page.locator("#details a[data-role=profile]").get_attribute("href") == \
        "/profiles/mini/quartier/20"
    v.select("#sel-level", "stadtbezirk")
    v.page.mouse.click(*v.point_of("2"))
    link.wait_for(timeout=10000)
    assert link.get_attribute("href") == "/profiles/mini/stadtbezirk/2"
    link.click()
    v.page.wait_for_url(re.compile(r"/profiles/mini/stadtbezirk/2$"))
    assert v.page.locator("h1").inner_text() == "Süd"
    assert v.errors == [] and v.hosts() <= LOCAL_HOSTS
    v.close()


def test_area_search_by_name_and_by_key_with_the_keyboard(server: str, browser: Any) -> None:
    """Typing part of a name offers it (accent-free); arrow keys and Enter pick it: the map
    zooms to it and the details name it. A key finds its area on another level, which the
    viewer switches to."""
    v = Viewer(browser, f"{server}/#g=mini&l=quartier&i=auslaenderanteil")
    v.page.locator("#search-input").focus()
    v.page.keyboard.type("donb")
    options = v.page.locator("#search-results li[role=option]")
    options.first.wait_for(timeout=10000)
    assert options.all_inner_texts()[0].startswith("Dönberg")
    assert v.page.get_attribute("#search-input", "aria-expanded") == "true"
    v.page.keyboard.press("ArrowDown")
    assert v.page.get_attribute("#search-input", "aria-activedescendant") == "search-option-0"
    v.page.keyboard.press("Enter")
    v.page.wait_for_function(
        "() => document.querySelector('#details h3')?.textContent === 'Dönberg'")
    assert v.page.locator(".maplibregl-popup a[data-role=profile]").get_attribute("href") == \
        "/profiles/mini/quartier/20"
    bbox = _api(server, "/api/geographies/mini/areas", q="20")["areas"][0]["bbox"]
    bounds = v.js("quartier.map.getBounds().toArray().flat()")
    assert bounds[0] <= bbox[0] and bounds[1] <= bbox[1] and bounds[2] >= bbox[2] \
        and bounds[3] >= bbox[3]
    assert v.js("quartier.map.getZoom()") > 11  # zoomed in on one 2-km square
    assert v.page.locator("#table tbody tr.active").get_attribute("data-id") == "20"

    v.page.fill("#search-input", "")
    v.page.locator("#search-input").focus()
    v.page.keyboard.type("2")  # the key of Stadtbezirk Süd, exact key first
    v.page.keyboard.press("Enter")
    v.page.wait_for_function("() => document.querySelector('#details h3')?.textContent === 'Süd'")
    assert v.js("quartier.state().l") == "stadtbezirk"
    assert v.page.get_attribute("#search-input", "aria-expanded") == "false"
    v.page.locator("#search-input").fill("zzz")
    v.page.wait_for_function(
        "() => document.getElementById('search-status').textContent.startsWith('Kein Gebiet')")
    assert v.errors == [] and v.hosts() <= LOCAL_HOSTS
    v.close()


def test_area_search_on_a_phone(server: str, browser: Any) -> None:
    """390×844 touch phone: the search box sits on the map (nothing pushes the map down) and a
    tapped hit is selected with its popup."""
    v = Viewer(browser, f"{server}/#g=mini&l=quartier", viewport={"width": 390, "height": 844},
               is_mobile=True, has_touch=True, device_scale_factor=2)
    search = v.page.locator("#search-input").bounding_box()
    frame = v.page.locator("#map").bounding_box()
    assert frame["y"] < 60 and frame["height"] >= 0.8 * 844
    assert frame["y"] <= search["y"] and search["y"] + search["height"] < frame["y"] + 80
    assert search["x"] + search["width"] <= 390 - 40  # the zoom buttons stay free
    v.page.locator("#search-input").tap()
    v.page.keyboard.type("Eck")
    option = v.page.locator("#search-results li[role=option]").first
    option.wait_for(timeout=10000)
    option.tap()
    popup = v.page.locator(".maplibregl-popup-content")
    popup.wait_for(timeout=10000)
    assert "Eckbusch" in popup.inner_text()
    box = v.page.locator(".maplibregl-popup").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert v.errors == []
    v.close()


def test_definition_panel_shows_description_source_date_and_provenance(
        server: str, browser: Any) -> None:
    """Beside the legend: the description, source and reference date from the catalogue; an
    estimate says "Schätzung" and names the intake that made it."""
    v = Viewer(browser, f"{server}/#g=mini&l=quartier&i=auslaenderanteil")
    panel = v.page.inner_text("#definition")
    assert PLAIN["description"] in panel
    assert "Quelle\n" + PLAIN["source"] in panel or PLAIN["source"] in panel
    assert "Stand" in panel and PLAIN["year_note"] in panel
    assert "Zähler" in panel and "Nenner" in panel and "Hauptwohnsitz" in panel
    assert "Schätzung" not in panel
    v.select("#sel-theme", "Bildung")
    assert v.js("quartier.state().i") == "kitas_je_1000"
    panel = v.page.inner_text("#definition")
    assert "Kindertagesstätten je 1000 Einwohner:innen." in panel
    assert v.page.locator("#definition [data-role=estimate]").inner_text().startswith("Schätzung")
    assert "Herkunft: Kindertagesstätten" in panel
    assert PLAIN["command"] in panel and "kitas.csv" in panel and "2026-01-02" in panel
    proof = v.page.locator("#definition a", has_text="Herkunftsnachweis").get_attribute("href")
    assert httpx.get(f"{server}{proof}").json()["counts.csv"]["kind"] == "points"
    assert "Schätzung" in v.page.inner_text("#legend-sub")
    v.page.locator("#table tbody tr").first.click()
    assert "Schätzung" in v.page.inner_text("#details")
    assert v.errors == []
    v.close()


def test_export_links_download_the_shown_view(server: str, browser: Any) -> None:
    """Tabelle (CSV) is the values API in csv-de for the shown indicator, level and year;
    Karte (PNG) the map PNG with year, level and scheme; Link für Bericht the map page
    pinned to the current release, copied and shown."""
    release = _api(server, "/api/geographies/mini")["release_id"]
    v = Viewer(browser, f"{server}/#g=mini&l=stadtbezirk&i=auslaenderanteil&y=2021&m=quantiles",
               permissions=["clipboard-read", "clipboard-write"])
    csv = v.page.get_attribute("#export-csv", "href")
    assert urlparse(csv).path == "/api/geographies/mini/values"
    assert parse_qs(urlparse(csv).query) == {
        "indicator": ["auslaenderanteil"], "year": ["2021"], "level": ["stadtbezirk"],
        "format": ["csv-de"], "release": [release]}
    with v.page.expect_download() as download:
        v.page.click("#export-csv")
    raw = Path(download.value.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # csv-de: UTF-8 with BOM, for Excel
    header, *lines = [line.split(";") for line in raw.decode("utf-8-sig").strip().splitlines()]
    assert header[:3] == ["Ebene", "Gebiet-ID", "Name"] and "Jahr" in header
    assert [line[1:3] for line in lines] == [["1", "Nord"], ["2", "Süd"], ["mini", "Mini-Stadt"]]
    assert {line[header.index("Jahr")] for line in lines} == {"2021"}

    png = v.page.get_attribute("#export-png", "href")
    assert urlparse(png).path == "/maps/mini/auslaenderanteil.png"
    assert parse_qs(urlparse(png).query) == {"year": ["2021"], "level": ["stadtbezirk"],
                                             "scheme": ["quantiles"], "release": [release]}
    answer = httpx.get(f"{server}{png}", timeout=60)
    assert answer.status_code == 200 and answer.content.startswith(b"\x89PNG")

    link = v.page.inner_text("#report-link")
    assert link == f"{server}/maps/mini/auslaenderanteil?year=2021&level=stadtbezirk" \
                   f"&scheme=quantiles&release={release}"
    v.page.click("#report-link-copy")
    v.page.wait_for_function(
        "() => document.getElementById('report-link-status').textContent !== ''")
    assert v.page.inner_text("#report-link-status") == "Link kopiert."
    assert v.js("navigator.clipboard.readText()") == link
    page = httpx.get(link, timeout=60)
    assert page.status_code == 200 and "Nord" in page.text
    assert v.errors == []
    v.close()


def test_change_mode_colours_the_change_and_says_no_significant_change(
        server: str, browser: Any) -> None:
    """Veränderung 2021 → 2023: areas coloured by diverging classes or the neutral fill of
    "keine signifikante Veränderung" exactly as the API's change_direction says; withheld
    either side: gesperrt; exports carry compare=."""
    v = Viewer(browser, f"{server}/#g=mini&l=quartier&i=auslaenderanteil")
    styles: list[str] = []
    v.page.on("request", lambda r: "/styles/mini/" in r.url and styles.append(r.url))
    v.select("#sel-mode", "change")
    assert v.js("[quartier.state().y, quartier.state().c]") == [2023, 2021]
    assert parse_qs(urlparse(styles[-1]).query)["compare"] == ["2021"]
    assert v.page.locator("#sel-compare").is_visible()
    rows = _api(server, "/api/geographies/mini/values", indicator="auslaenderanteil",
                level="quartier", year="2023", compare="2021")["values"]
    rows = {r["area_id"]: r for r in rows if r["level"] == "quartier"}
    similar = {a for a, r in rows.items() if r["change_direction"] == "similar"}
    changed = {a for a, r in rows.items() if r["change_direction"] in ("increase", "decrease")}
    empty = {a for a, r in rows.items() if r["change"] is None}
    assert similar and changed and empty  # the fixture has all three
    assert v.layer_areas("-similar$") == similar
    assert v.layer_areas("-fill-") == changed
    assert v.layer_areas("-withheld$") | v.layer_areas("-nodata$") >= empty

    legend = v.page.locator("#legend-items li[data-role=similar]")
    assert SIMILAR in legend.inner_text() and str(len(similar)) in legend.inner_text()
    assert v.page.locator("#legend-items li").first.locator(".swatch").count() == 1
    table = {tr.get_attribute("data-id"): tr.inner_text()
             for tr in v.page.locator("#table tbody tr").all()}
    for area in similar:
        assert SIMILAR in table[area]
    for area in changed:
        assert ("Zunahme" if rows[area]["change_direction"] == "increase" else "Abnahme") \
            in table[area]
    for area in empty:
        assert WITHHELD in table[area] or "keine Daten" in table[area]
    v.page.mouse.click(*v.point_of(sorted(similar)[0]))
    popup = v.page.locator(".maplibregl-popup-content")
    popup.wait_for(timeout=10000)
    assert "Veränderung" in popup.inner_text() and SIMILAR in popup.inner_text()
    for link in ("#export-csv", "#export-png", "#report-link"):
        assert "compare=2021" in v.page.get_attribute(link, "href")
    v.page.wait_for_function("() => location.hash.includes('c=2021')")
    url = v.page.url
    v.close()
    again = Viewer(browser, url)
    assert again.js("quartier.state().c") == 2021
    assert again.page.locator("#sel-mode").input_value() == "change"
    assert again.errors == []
    again.close()


def test_switching_years_keeps_the_classes_of_all_years(server: str, browser: Any) -> None:
    """After the user switches the year, styles are asked with classes=all-years: both years'
    maps share their class breaks; the PNG and the report link say so too."""
    v = Viewer(browser, f"{server}/#g=mini&l=quartier&i=auslaenderanteil")
    styles: list[str] = []
    v.page.on("request", lambda r: "/styles/mini/" in r.url and styles.append(r.url))
    assert v.js("quartier.legend().scope") == "year"
    v.select("#sel-year", "2021")
    assert parse_qs(urlparse(styles[-1]).query)["classes"] == ["all-years"]
    breaks_2021 = v.js("quartier.legend().classes.map(c => [c.min, c.max])")
    assert v.js("quartier.legend().scope") == "all-years"
    assert "über alle Jahre" in v.page.inner_text("#legend-sub")
    v.select("#sel-year", "2023")
    assert v.js("quartier.legend().classes.map(c => [c.min, c.max])") == breaks_2021
    assert "classes=all-years" in v.page.get_attribute("#export-png", "href")
    assert "classes=all-years" in v.page.inner_text("#report-link")
    assert v.page.locator("#sel-scope").input_value() == "all-years"
    v.select("#sel-scope", "year")  # the user's choice wins
    v.select("#sel-year", "2021")
    assert "classes" not in parse_qs(urlparse(styles[-1]).query)
    assert v.errors == []
    v.close()


def test_hostile_texts_never_run(server: str, browser: Any) -> None:
    """Names, description, source, reference date, unit and provenance made of HTML appear as
    text in the panel, popup, table and search; no script runs, nothing leaves the machine."""
    v = Viewer(browser, f"{server}/#g=feind&l=quartier&i=auslaenderanteil")
    for area in HOSTILE_NAMES:
        v.page.mouse.move(*v.point_of(area))
        v.page.mouse.click(*v.point_of(area))
        v.page.locator(".maplibregl-popup-content").wait_for(timeout=10000)
    panel = v.page.inner_text("#definition")
    for key in ("source", "year_note", "description"):
        assert HOSTILE[key].strip() in panel, key
    assert HOSTILE_NAMES["21"] in v.page.inner_text("#table tbody")
    v.page.locator("#search-input").focus()
    v.page.keyboard.type("img")
    v.page.locator("#search-results li[role=option]").first.wait_for(timeout=10000)
    assert HOSTILE_NAMES["10"] in v.page.inner_text("#search-results")
    v.page.keyboard.press("Enter")
    v.page.wait_for_function("() => document.querySelector('.maplibregl-popup h3') !== null")
    v.select("#sel-mode", "change")
    v.page.mouse.click(*v.point_of("10"))
    v.page.locator(".maplibregl-popup-content").wait_for(timeout=10000)
    v.select("#sel-theme", "Bildung")
    assert HOSTILE["command"] in v.page.inner_text("#definition")
    assert HOSTILE["input"] in v.page.inner_text("#definition")
    assert v.js(f"window.{XSS} === undefined") is True
    assert v.page.locator("#panel img, #details img, .maplibregl-popup img, #table img, "
                          "#search-results img, script:not([src])").count() == 0
    assert v.dialogs == []
    assert v.hosts() <= LOCAL_HOSTS
    v.close()


def test_viewer_modules_build_no_html_from_strings() -> None:
    """No module of the viewer writes HTML from strings, and none keeps its own copy of the
    server's words (withheld, missing, no significant change …)."""
    scripts = [STATIC / "viewer.js", *sorted((STATIC / "viewer").glob("*.js"))]
    assert len(scripts) > 1
    for script in scripts:
        text = script.read_text("utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "setHTML", "document.write"):
            assert sink not in text, f"{script.name}: {sink}"
        for word in ("Geheimhaltung", "keine Daten", "signifikant", "unsicher", "höher als"):
            assert word not in text, f"{script.name}: {word}"

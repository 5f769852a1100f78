"""The web viewer in a real browser: Debian's Chromium driven by Playwright, served by uvicorn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest
from conftest import bundled_build, serving

from service.main import create_app
from service.settings import Settings

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn in a thread, serving the bundled builds berlin-lor-2021 and nrw-demo."""
    data = bundled_build(tmp_path_factory, "nrw-demo").parent
    bundled_build(tmp_path_factory, "berlin-lor-2021")
    with serving(create_app(Settings(data=data))) as url:
        yield url


class Page:
    """A viewer page that records console errors and every requested host."""

    def __init__(self, browser: object, url: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
        self.errors: list[str] = []
        self.hosts: set[str] = set()
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", self._request)
        self.page.goto(url)
        self.wait_ready()

    def _request(self, request: object) -> None:
        parsed = urlparse(request.url)  # type: ignore[attr-defined]
        if parsed.scheme in ("http", "https"):
            self.hosts.add(parsed.hostname or "")

    def wait_ready(self) -> None:
        """Wait until the viewer applied the view and the map is idle."""
        self.page.wait_for_selector("body[data-ready=true]", state="attached", timeout=60000)

    def js(self, script: str) -> object:
        return self.page.evaluate(script)

    def fill_colors(self) -> dict[str, str]:
        """area_id -> evaluated fill colour of every rendered area of the visible level."""
        return self.js("""(() => {
            const l = quartier.state().l;
            const out = {};
            const layers = quartier.map.getStyle().layers.map(x => x.id)
                .filter(id => id.startsWith(l + '-fill-'));
            for (const f of quartier.map.queryRenderedFeatures({layers}))
                out[f.properties.area_id] = JSON.stringify(f.layer.paint['fill-color']);
            return out; })()""")  # type: ignore[return-value]

    def close(self) -> None:
        self.page.close()


def _withheld_indicator(data: Path) -> tuple[str, int]:
    """An indicator of nrw-demo with withheld Gemeinden in its latest year."""
    values = pd.read_csv(data / "values.csv", dtype={"area_id": str})
    gem = values[values["level"] == "gemeinde"]
    latest = gem.groupby("indicator")["year"].max()
    withheld = gem[(gem["status"] == "suppressed") & (gem["year"] == gem["indicator"].map(latest))]
    indicator = withheld["indicator"].value_counts().index[0]
    return str(indicator), int(latest[indicator])


def test_map_renders_and_indicator_changes_colours(server: str, browser: object) -> None:
    """nrw-demo: areas render; another indicator recolours them; the hash follows the view."""
    page = Page(browser, f"{server}/#g=nrw-demo&l=gemeinde")
    before = page.fill_colors()
    assert len(before) > 300
    options = page.js("[...document.querySelectorAll('#sel-indicator option')].map(o => o.value)")
    current = page.js("quartier.state().i")
    other = next(o for o in options if o != current)  # type: ignore[union-attr]
    page.page.select_option("#sel-indicator", other)
    page.wait_ready()
    after = page.fill_colors()
    common = set(before) & set(after)
    assert common and any(before[a] != after[a] for a in common)
    assert f"i={other}" in page.js("location.hash")  # type: ignore[operator]
    assert "synthetische Demo-Zahlen" in page.page.inner_text("body")
    assert page.errors == []
    assert page.hosts <= LOCAL_HOSTS
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "viewer-nrw-demo.png"))
    page.close()


WITHHELD = "gesperrt (Geheimhaltung)"


def test_withheld_area_shows_gesperrt(server: str, browser: object,
                                      tmp_path_factory: pytest.TempPathFactory) -> None:
    """Clicking a hatched (withheld) Gemeinde says 'gesperrt (Geheimhaltung)', the word the
    maps, the CSV and the CLI use; so do the table and the legend."""
    indicator, year = _withheld_indicator(bundled_build(tmp_path_factory, "nrw-demo"))
    page = Page(browser, f"{server}/#g=nrw-demo&l=gemeinde&i={indicator}&y={year}")
    point = page.js("""(() => {
        const m = quartier.map, c = m.getCanvas();
        const w = c.clientWidth, h = c.clientHeight;
        for (let y = 10; y < h; y += 6) for (let x = 10; x < w; x += 6) {
            const hit = m.queryRenderedFeatures([x, y], {layers: ['gemeinde-withheld']});
            if (hit.length) return [x, y];
        }
        return null; })()""")
    assert point is not None, "no withheld area rendered"
    box = page.page.locator("#map canvas").bounding_box()
    assert box is not None
    page.page.mouse.click(box["x"] + point[0], box["y"] + point[1])  # type: ignore[index]
    popup = page.page.locator(".maplibregl-popup-content")
    popup.wait_for(timeout=10000)
    assert WITHHELD in popup.inner_text()
    assert WITHHELD in page.page.inner_text("#table tbody")
    assert WITHHELD in page.page.inner_text("#legend-items")
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "viewer-nrw-demo-gesperrt.png"))
    assert page.errors == []
    assert page.hosts <= LOCAL_HOSTS
    page.close()


def test_hover_details_and_comparisons(server: str, browser: object) -> None:
    """Hovering an area shows rate, interval, counts, reliability and both comparisons."""
    page = Page(browser, f"{server}/#g=berlin-lor-2021&l=prognoseraum")
    box = page.page.locator("#map canvas").bounding_box()
    assert box is not None
    page.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.page.wait_for_function("() => document.querySelector('#details dl') !== null",
                                timeout=10000)  # a function: the viewer's CSP forbids eval
    text = page.page.inner_text("#details")
    for label in ("Anteil Ausländer:innen", "95-%-Intervall", "Anzahl", "verlässlich",
                  "Vergleich mit Berlin", "Vergleich mit Bezirk"):
        assert label in text
    assert "Amt für Statistik Berlin-Brandenburg" in page.page.inner_text("body")
    assert page.errors == []
    page.close()


def test_table_is_sortable_by_keyboard_and_accessible(server: str, browser: object) -> None:
    """A real <table> with caption and th scope; Enter on a header sorts and sets aria-sort."""
    page = Page(browser, f"{server}/#g=berlin-lor-2021&l=bezirk")
    assert page.page.locator("#table caption").inner_text()
    assert page.page.locator("#table thead th[scope=col]").count() >= 8
    assert page.page.locator("#table tbody th[scope=row]").count() == 12
    header = page.page.locator("#table thead button[data-key=name]")
    header.focus()
    page.page.keyboard.press("Enter")
    th = page.page.locator("#table thead th", has=page.page.locator("button[data-key=name]"))
    assert th.get_attribute("aria-sort") == "ascending"
    names = page.page.locator("#table tbody th").all_inner_texts()
    assert names == sorted(names, key=str.casefold) or names[0] < names[-1]
    page.page.keyboard.press("Enter")
    assert th.get_attribute("aria-sort") == "descending"
    assert page.page.locator('#table tbody tr[tabindex="0"]').count() == 1  # one tab stop
    page.page.locator("#table tbody tr").first.focus()
    page.page.keyboard.press("ArrowDown")
    page.page.keyboard.press("Enter")
    second = page.page.locator("#table tbody tr").nth(1)
    assert second.get_attribute("tabindex") == "0"
    assert second.locator("th").inner_text() in page.page.inner_text("#details h3")
    assert page.errors == []
    page.close()


def test_shared_link_restores_the_view(server: str, browser: object) -> None:
    """Opening a copied URL (hash) restores geography, level, indicator, year and position;
    the z/x/y tile source works as well as the PMTiles one."""
    first = Page(browser, f"{server}/#g=berlin-lor-2021&l=bezirk")
    first.page.select_option("#sel-level", "prognoseraum")
    first.wait_ready()
    first.js("quartier.map.jumpTo({center: [13.40, 52.52], zoom: 11})")
    first.page.wait_for_function("() => location.hash.includes('map=11.00/52.52')")
    url = first.page.url
    first.close()
    second = Page(browser, url + "&src=xyz")
    state = second.js("quartier.state()")
    assert state["g"] == "berlin-lor-2021" and state["l"] == "prognoseraum"  # type: ignore[index]
    assert round(second.js("quartier.map.getZoom()"), 1) == 11.0  # type: ignore[arg-type]
    assert len(second.fill_colors()) > 5
    assert second.errors == []
    second.close()


def test_earlier_year_recolours_from_the_style(server: str, browser: object) -> None:
    """An earlier year (not carried by the tiles) is coloured through the style's area lists,
    and the table follows the year."""
    # an indicator whose Kreis values vary from year to year (Duldung/Gestattung is overdispersed)
    page = Page(browser, f"{server}/#g=nrw-demo&l=kreis&i=anteil_duldung_gestattung")
    years = page.js("[...document.querySelectorAll('#sel-year option')].map(o => o.value)")
    latest = page.fill_colors()
    earliest = years[0]  # type: ignore[index]
    page.page.select_option("#sel-year", earliest)
    page.wait_ready()
    earlier = page.fill_colors()
    common = set(earlier) & set(latest)  # withheld Kreise differ between years
    assert len(common) > 40
    assert any(earlier[a] != latest[a] for a in common)
    assert f" {earliest}," in page.page.inner_text("#table-caption")
    assert page.errors == []
    page.close()


def test_basemap_only_when_configured(tmp_path_factory: pytest.TempPathFactory,
                                      browser: object) -> None:
    """A configured basemap is requested (intercepted here, nothing leaves the machine)."""
    data = bundled_build(tmp_path_factory, "berlin-lor-2021").parent
    settings = Settings(data=data, basemap_url="http://basemap.test/{z}/{x}/{y}.png",
                        basemap_attribution="© Testkarte")
    png = (Path(__file__).resolve().parents[1] / "static" / "vendor" / "folium"
           / "leaflet.awesome-markers-2.0.2" / "images" / "markers-matte.png")
    asked: list[str] = []
    with serving(create_app(settings)) as url:
        page = browser.new_page()  # type: ignore[attr-defined]
        page.route("http://basemap.test/**", lambda route: (asked.append(route.request.url),
                   route.fulfill(status=200, content_type="image/png", body=png.read_bytes())))
        page.goto(f"{url}/#g=berlin-lor-2021")
        page.wait_for_selector("body[data-ready=true]", state="attached", timeout=60000)
        assert asked and all(u.endswith(".png") for u in asked)
        assert "© Testkarte" in page.inner_text("body")
        page.close()


def test_words_come_from_the_server(server: str) -> None:
    """The viewer keeps no copy of the vocabulary: /tiles/index.json sends the words."""
    import httpx

    static = Path(__file__).resolve().parents[1] / "static"
    for path in (static / "viewer.js", *(static / "viewer").glob("*.js")):  # its modules too
        script = path.read_text("utf-8")
        for word in ("Geheimhaltung", "Datenschutz", "geheim", "keine Daten", "unsicher",
                     "zuverlässig", "verlässlich", "höher als", "Quantile"):
            assert word not in script, (path.name, word)
    words = httpx.get(f"{server}/tiles/index.json").json()["words"]
    assert words["withheld"] == WITHHELD and words["unreliable"] == "unsicher (kleine Basis)"
    assert words["comparison"]["similar"] == "ähnlich wie"


def test_density_is_not_called_a_share(server: str, browser: object) -> None:
    """A density indicator is labelled by its own name in the details and the table, never
    'Anteil'."""
    page = Page(browser, f"{server}/#g=nrw-demo&l=kreis&i=arbeitslosendichte")
    header = page.page.locator("#table thead button[data-key=rate]").inner_text()
    assert header.startswith("Arbeitslosendichte") and "Anteil" not in header
    page.page.locator("#table tbody tr").first.click()
    details = page.page.inner_text("#details dl")
    assert "Arbeitslosendichte" in details and "Anteil" not in details
    assert page.errors == []
    page.close()


def test_table_names_the_parent_area(server: str, browser: object) -> None:
    """The parent column (Bezirk) names each Prognoseraum's Bezirk; none is empty."""
    import httpx

    page = Page(browser, f"{server}/#g=berlin-lor-2021&l=prognoseraum")
    heads = page.page.locator("#table thead th").all_inner_texts()
    assert heads[-1].startswith("Bezirk")
    parents = page.js("""[...document.querySelectorAll('#table tbody tr')]
        .map(tr => tr.lastElementChild.textContent)""")
    bezirke = httpx.get(f"{server}/api/geographies/berlin-lor-2021/values",
                        params={"level": "bezirk", "indicator": "auslaenderanteil"}).json()
    names = {r["name"] for r in bezirke["values"] if r["level"] == "bezirk"}
    assert len(parents) == 58 and set(parents) <= names  # type: ignore[arg-type]
    assert len(set(parents)) == 12  # type: ignore[arg-type]
    assert page.errors == []
    page.close()


def test_year_menu_offers_only_the_indicators_years(server: str, browser: object) -> None:
    """Berlin's Kinderarmut has values for 2020 only: the menu offers 2020, and a link to
    2022 (no data) opens 2020 instead of an all-grey map."""
    page = Page(browser, f"{server}/#g=berlin-lor-2021&l=prognoseraum&i=kinderarmut&y=2022")
    years = page.js("[...document.querySelectorAll('#sel-year option')].map(o => o.value)")
    assert years == ["2020"]
    assert page.js("quartier.state().y") == 2020
    assert len(page.fill_colors()) > 40
    page.page.select_option("#sel-indicator", "transferbezug")
    page.wait_ready()
    page.page.select_option("#sel-theme", "Rechtsstatus und Aufenthalt")
    page.wait_ready()
    assert page.js("[...document.querySelectorAll('#sel-year option')].map(o => o.value)") == [
        "2022"]
    assert page.errors == []
    page.close()


def test_classification_and_number_of_classes(server: str, browser: object) -> None:
    """'Klassen' offers Quantile, gleiche Abstände and natürliche Brüche and 3 to 7 classes;
    a choice restyles the map, shows in the legend and survives in the shared link."""
    page = Page(browser, f"{server}/#g=nrw-demo&l=kreis&i=sgb2_quote")
    labels = page.page.locator("#sel-method option").all_inner_texts()
    assert labels == ["Quantile", "gleiche Abstände", "natürliche Brüche (Fisher-Jenks)"]
    assert page.page.locator("#sel-k option").all_inner_texts() == ["3", "4", "5", "6", "7"]
    page.page.select_option("#sel-method", "quantiles")
    page.wait_ready()
    page.page.select_option("#sel-k", "3")
    page.wait_ready()
    legend = page.js("quartier.legend()")
    assert legend["method"] == "quantiles" and len(legend["classes"]) == 3  # type: ignore[index]
    assert "Klassen: Quantile" in page.page.inner_text("#legend-sub")
    assert len(set(page.fill_colors().values())) == 3
    page.page.wait_for_function("location.hash.includes('m=quantiles&k=3')")
    url = page.page.url
    page.close()
    again = Page(browser, url)
    assert again.js("[quartier.state().m, quartier.state().k]") == ["quantiles", 3]
    assert again.page.locator("#sel-method").input_value() == "quantiles"
    assert len(again.js("quartier.legend().classes")) == 3  # type: ignore[arg-type]
    assert again.errors == []
    again.close()


def test_colours_follow_the_direction_of_the_indicator(server: str, browser: object) -> None:
    """Higher is worse (Kinderarmut): the darkest class is red; neutral (Anteil
    Ausländer:innen): purple-blue; higher is better (Betreuungsquote): green."""
    tops = {}
    for gid, ind in (("berlin-lor-2021", "kinderarmut"), ("berlin-lor-2021", "auslaenderanteil"),
                     ("nrw-demo", "betreuungsquote_3_5")):
        page = Page(browser, f"{server}/#g={gid}&i={ind}")
        tops[ind] = page.js("quartier.legend().classes.at(-1).color")
        page.close()
    assert tops == {"kinderarmut": "#bd0026", "auslaenderanteil": "#045a8d",
                    "betreuungsquote_3_5": "#006837"}


def test_unreliable_areas_are_outlined(server: str, browser: object) -> None:
    """Rates on a small base get a dashed outline on the map and a legend entry."""
    page = Page(browser, f"{server}/#g=nrw-demo&l=gemeinde&i=betreuungsquote_3_5")
    outlined = page.js("""quartier.map.queryRenderedFeatures({layers: ['gemeinde-unreliable']})
        .map(f => f.properties.area_id)""")
    rows = page.js("[...quartier.rows().values()].filter(r => r.status === 'published' "
                   "&& r.reliable === false).map(r => r.area_id)")
    assert rows and set(outlined) == set(rows)  # type: ignore[arg-type]
    item = page.page.locator("#legend-items li[data-role=unreliable]")
    assert "unsicher (kleine Basis)" in item.inner_text()
    assert str(len(rows)) in item.inner_text()  # type: ignore[arg-type]
    assert page.errors == []
    page.close()


def test_phone_layout_is_map_first(server: str, browser: object) -> None:
    """390×844 touch phone: the map fills the first screen before and after tapping an area,
    nothing moves it down, the popup stays on screen, and the panel is a folded bottom sheet."""
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        device_scale_factor=2)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server}/#g=berlin-lor-2021&l=prognoseraum")
    page.wait_for_selector("body[data-ready=true]", state="attached", timeout=60000)

    def covers_first_screen() -> dict[str, float]:
        box = page.locator("#map").bounding_box()
        assert box is not None
        assert box["y"] < 60, box  # only a one-line header above it
        assert box["y"] + box["height"] <= 844 + 0.5, box  # entirely on the first screen
        assert box["height"] >= 0.8 * 844 and box["width"] == 390, box
        return box

    before = covers_first_screen()
    sheet = page.locator("#panel").bounding_box()
    assert sheet is not None and sheet["height"] <= 56 and sheet["y"] + sheet["height"] >= 843
    assert before["y"] + before["height"] <= sheet["y"] + 0.5  # the sheet leaves the map free
    point = page.evaluate("""(() => { const m = quartier.map, c = m.getCanvas();
        const l = quartier.state().l;
        for (let y = 20; y < c.clientHeight; y += 8)
            for (let x = c.clientWidth - 20; x > 20; x -= 8)
                if (m.queryRenderedFeatures([x, y], {layers: [l + '-nodata']}).length)
                    return [x, y];
        return null; })()""")
    assert point is not None
    page.touchscreen.tap(before["x"] + point[0], before["y"] + point[1])
    popup = page.locator(".maplibregl-popup")
    popup.wait_for(timeout=10000)
    page.wait_for_timeout(300)
    after = covers_first_screen()
    assert after == before and page.evaluate("scrollY") == 0
    box = popup.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    assert "Vergleich mit Berlin" in page.locator(".maplibregl-popup-content").inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viewer-phone-tap.png"))
    page.locator("#sheet-toggle").tap()
    page.wait_for_function("document.getElementById('panel').classList.contains('open')")
    assert page.locator("#sel-indicator").is_visible()
    assert errors == []
    context.close()

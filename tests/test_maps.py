"""Folium map pages and PNGs: map data, withheld areas, vendored assets, size, embedding."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import branca.colormap
import folium
import pytest
import shapely
from conftest import CHROMIUM_ARGS, bundled_build, router_app, serving
from fastapi.testclient import TestClient

from geo.release import PublishedBuild, read_build
from geo.render import classes, folium_page, maps, png
from service.main import create_app
from service.routers import maps as maps_router
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "static"
SCHEMES = ("fisher_jenks", "quantiles", "equal_interval")
"""The values of the /maps URLs' ``scheme`` parameter."""
LINK = re.compile(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", re.IGNORECASE)


@pytest.fixture(scope="module")
def data_dir(mini_data: Path) -> Path:
    """The session's small geography build (Quartiere 11 and 12 have withheld cells)."""
    return mini_data


@pytest.fixture(scope="module")
def published(data_dir: Path) -> PublishedBuild:
    return read_build(data_dir / "mini")


def _text(response: object) -> str:
    """The page as a browser reads it (JSON-escaped umlauts in scripts decoded)."""
    page = response.text  # type: ignore[attr-defined]
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)


def _client(data_dir: Path, **settings: str) -> TestClient:
    return TestClient(router_app(maps_router, data_dir, **settings))


@pytest.fixture(scope="module")
def client(data_dir: Path) -> TestClient:
    return _client(data_dir)


def test_map_data_carries_no_withheld_value(published: PublishedBuild) -> None:
    """Withheld areas have no rate, interval or count, and no class."""
    data = maps.map_data(published, "auslaenderanteil")
    withheld = data.frame[data.frame["status"] == "suppressed"]
    assert "11" in list(withheld["area_id"])
    assert withheld["rate"].isna().all() and withheld["ci_low"].isna().all()
    assert withheld["numerator"].isna().all() and (withheld["klass"] == -1).all()
    assert data.level.id == "quartier" and data.year == 2023


def test_page_links_only_to_the_service(client: TestClient) -> None:
    """No src/href in the page leaves the service, and every linked static file exists."""
    page = _text(client.get("/maps/mini/auslaenderanteil"))
    links = LINK.findall(page)
    assert links
    for link in links:
        assert not re.match(r"^(?:[a-z]+:)?//", link, re.IGNORECASE), link
        if link.startswith("/static/"):
            assert (STATIC / link.removeprefix("/static/")).is_file(), link
    assert "cdn." not in page and "cdnjs" not in page and "jquery.com" not in page


def test_every_default_folium_asset_is_vendored() -> None:
    """The eleven CDN files of a default Folium page with a colormap all have local copies."""
    fmap = folium.Map()
    branca.colormap.StepColormap(["#ffffff", "#000000"], vmin=0, vmax=1).add_to(fmap)
    urls = set(LINK.findall(fmap.get_root().render()))
    cdn = {u for u in urls if u.startswith("http")}
    assert len(cdn) == 11
    assert cdn <= set(folium_page.VENDORED)
    readme = (STATIC / "vendor" / "folium" / "README.md").read_text(encoding="utf-8")
    for local in folium_page.VENDORED.values():
        assert (STATIC / "vendor" / "folium" / local).is_file(), local
        assert local in readme, f"{local} has no version and licence line in the README"


def test_page_has_title_legend_attribution_and_release(
    client: TestClient, published: PublishedBuild
) -> None:
    """Title, legend with unit and year, attribution and release id are on the page."""
    page = _text(client.get("/maps/mini/auslaenderanteil"))
    assert "Anteil Ausländer:innen, Quartier, 2023" in page
    assert "Anteil Ausländer:innen (%), 2023" in page
    assert published.geography.attribution in page
    assert f"Release {published.release_id}" in page


def test_withheld_area_is_grey_and_labelled(client: TestClient) -> None:
    """The withheld Quartier is filled grey and its tooltip says geheim (Datenschutz)."""
    page = _text(client.get("/maps/mini/auslaenderanteil"))
    feature = re.search(r'"id":\s*"11",\s*"properties":\s*\{[^}]*\}', page)
    assert feature is not None
    assert classes.WITHHELD_COLOR in feature.group(0)
    assert classes.WITHHELD_LABEL in feature.group(0)
    assert "–" in feature.group(0)


def test_tooltip_shows_interval_count_reliability_and_comparison(client: TestClient) -> None:
    """A published area's tooltip has rate, 95 % interval, count, reliability, city comparison."""
    page = _text(client.get("/maps/mini/auslaenderanteil"))
    assert "25,0 %" in page  # Quartier 10: 300 of 1200
    assert "300 von 1.200" in page
    assert "95-%-Intervall" in page and "verlässlich" in page
    assert "höher als Mini-Stadt" in page


def test_page_is_a_permalink_and_embeddable(data_dir: Path) -> None:
    """The page names its full permalink and sends the configured frame-ancestors policy."""
    client = _client(data_dir, frame_ancestors="https://www.wuppertal.de")
    response = client.get("/maps/mini/sgb2_quote")
    permalink = "/maps/mini/sgb2_quote?year=2023&level=quartier&scheme=fisher_jenks"
    assert permalink.replace("&", "&amp;") in response.text
    assert permalink in response.headers["link"]
    csp = response.headers["content-security-policy"]
    assert "frame-ancestors https://www.wuppertal.de" in csp
    assert "default-src 'self'" in csp
    assert "x-frame-options" not in response.headers


def test_basemap_only_when_configured(data_dir: Path, client: TestClient) -> None:
    """By default no tile URL is in the page; a configured basemap is loaded and allowed."""
    assert "tile" not in _text(client.get("/maps/mini/auslaenderanteil")).lower()
    url = "https://tiles.example.org/{z}/{x}/{y}.png"
    with_basemap = _client(data_dir, basemap_url=url, basemap_attribution="© Beispiel")
    response = with_basemap.get("/maps/mini/auslaenderanteil")
    assert "tiles.example.org" in _text(response) and "© Beispiel" in _text(response)
    assert "https://tiles.example.org" in response.headers["content-security-policy"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_every_scheme_and_level_renders(client: TestClient, scheme: str) -> None:
    """Each scheme and level gives a page; the legend names the scheme."""
    for level in ("stadtbezirk", "quartier"):
        response = client.get(f"/maps/mini/sgb2_quote?level={level}&scheme={scheme}")
        assert response.status_code == 200
        assert "q-legend" in response.text


def test_png_is_a_png(client: TestClient) -> None:
    """The PNG endpoint renders an image server-side."""
    response = client.get("/maps/mini/auslaenderanteil.png?level=quartier&year=2023")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(response.content) > 10_000


def test_map_errors(client: TestClient) -> None:
    """Unknown geography, indicator, level or year give 404; a bad scheme or year 422."""
    assert client.get("/maps/nowhere/auslaenderanteil").status_code == 404
    assert client.get("/maps/mini/nothing").status_code == 404
    assert client.get("/maps/mini/nothing.png").status_code == 404
    assert client.get("/maps/mini/auslaenderanteil?level=block").status_code == 404
    assert client.get("/maps/mini/auslaenderanteil?year=1999").status_code == 404
    assert client.get("/maps/mini/auslaenderanteil?scheme=natural").status_code == 422
    assert client.get("/maps/mini/auslaenderanteil?year=zwei").status_code == 422
    assert "detail" in client.get("/maps/mini/nothing").json()


def test_rendered_pages_are_cached(client: TestClient) -> None:
    """The same parameters give the same body and ETag (served from the cache)."""
    first = client.get("/maps/mini/sgb2_quote?scheme=quantiles")
    second = client.get("/maps/mini/sgb2_quote?scheme=quantiles")
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    again = client.get("/maps/mini/sgb2_quote?scheme=quantiles",
                       headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and not again.content


@pytest.fixture(scope="module")
def berlin(tmp_path_factory: pytest.TempPathFactory) -> PublishedBuild:
    """The bundled Berlin geography, built."""
    return read_build(bundled_build(tmp_path_factory, "berlin-lor-2021"))


def test_simplification_keeps_a_coverage(berlin: PublishedBuild) -> None:
    """Simplified areas neither overlap nor leave gaps: shared borders stay shared."""
    level = berlin.geography.level_ids[-1]
    original = berlin.shapes[level].to_crs(25833).geometry.to_numpy()
    simple = maps.simplified_shapes(berlin, level).to_crs(25833).geometry.to_numpy()
    assert shapely.is_valid(simple).all()
    assert sum(shapely.get_num_coordinates(simple)) < 0.6 * sum(
        shapely.get_num_coordinates(original))
    union = shapely.union_all(simple)
    assert sum(shapely.area(simple)) == pytest.approx(union.area, rel=1e-6)  # no overlaps
    outline = shapely.union_all(original).area
    assert union.area == pytest.approx(outline, rel=0.002)  # no gaps, border kept


def test_berlin_page_is_far_below_one_megabyte(berlin: PublishedBuild) -> None:
    """A finest-level map page of a real city stays far below 1 MB."""
    level = berlin.geography.level_ids[-1]
    indicator = berlin.catalogue.indicators[0].id
    page = folium_page.folium_map(maps.map_data(berlin, indicator, level=level))
    assert len(page.encode()) < 500_000
    assert not [u for u in LINK.findall(page) if "//" in u]


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """The whole service under uvicorn in a thread, on a free port."""
    with serving(create_app(Settings(data=data_dir))) as url:
        yield url


@pytest.mark.browser
def test_page_works_in_a_browser_without_third_parties(server: str) -> None:
    """Chromium draws every area, asks only the service, and shows the withheld tooltip."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: `make browser-deps` installs it"
    from playwright.sync_api import sync_playwright

    hosts: set[str] = set()
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.on("request", lambda r: hosts.add(urlparse(r.url).hostname or ""))
        page.on("console", lambda m: m.type == "error" and errors.append(m.text))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: r.status >= 400 and errors.append(f"{r.status} {r.url}"))
        page.goto(f"{server}/maps/mini/auslaenderanteil", wait_until="networkidle")
        page.wait_for_selector("path.leaflet-interactive")
        assert page.locator("path.leaflet-interactive").count() == 5
        assert page.locator(".q-legend").inner_text().startswith("Anteil Ausländer:innen (%)")
        x, y = page.evaluate("""(() => {
            const map = window[document.querySelector('.folium-map').id];
            let point = null;
            map.eachLayer(l => { if (l.feature && l.feature.id === '11')
                point = map.latLngToContainerPoint(l.getBounds().getCenter()); });
            const box = document.querySelector('.folium-map').getBoundingClientRect();
            return [box.left + point.x, box.top + point.y]; })()""")
        page.mouse.move(x, y)
        tooltip = page.wait_for_selector(".leaflet-tooltip").inner_text()
        browser.close()
    assert hosts == {"127.0.0.1"}
    assert not errors
    assert "Brill" in tooltip and classes.WITHHELD_LABEL in tooltip


# --- years without data, unreliable rates, areas without data, small iframes ------------------


def test_year_without_data_says_so(gap_data: Path) -> None:
    """A year in which the indicator has no value: the page is a 404 that says so in German and
    links the years with values; the PNG a 404 naming them; other years still render."""
    client = _client(gap_data)
    response = client.get("/maps/mini/sgb2_quote?year=2021")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    text = _text(response)
    assert "Für SGB-II-Quote gibt es im Jahr 2021 keine Daten; vorhanden: 2023." in text
    assert 'href="/maps/mini/sgb2_quote?year=2023&amp;level=quartier' in text
    assert "leaflet" not in text.lower()
    png = client.get("/maps/mini/sgb2_quote.png?year=2021")
    assert png.status_code == 404 and "2023" in png.json()["detail"]
    assert client.get("/maps/mini/auslaenderanteil?year=2021").status_code == 200
    assert client.get("/maps/mini/sgb2_quote?year=2023").status_code == 200


@pytest.fixture(scope="module")
def small_base(tmp_path_factory: pytest.TempPathFactory) -> PublishedBuild:
    """The small geography built with reliable_min=1000: Dönberg's rates (400 Einwohner:innen)
    are published but unreliable."""
    from conftest import write_small_geography

    from geo.build import build

    tmp = tmp_path_factory.mktemp("small-base")
    source = write_small_geography(tmp / "src" / "mini")
    return build(source, out=tmp / "data" / "mini", data_dir=tmp / "data", reliable_min=1000,
                 say=lambda _m: None).published


def test_unreliable_rates_are_outlined_in_the_page(small_base: PublishedBuild) -> None:
    """The page draws an unreliable area with a dashed dark outline and its legend says
    'unsicher (kleine Basis)'; reliable areas keep the thin white edge."""
    page = folium_page.folium_map(maps.map_data(small_base, "sgb2_quote"))
    styles = dict(re.findall(r'case ((?:"\w+": )+)\s*return (\{[^}]*\})', page))
    by_area = {area: style for cases, style in styles.items()
               for area in re.findall(r'"(\w+)"', cases)}
    assert '"dashArray"' in by_area["20"] and classes.UNRELIABLE_LINE in by_area["20"]
    assert '"dashArray"' not in by_area.get("10", "{}")
    legend = _legend_text(page)
    assert 'data-role="unreliable"' in legend and "unsicher (kleine Basis)" in legend


def _legend_text(page: str) -> str:
    page = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)
    return page.replace('\\"', '"')


def test_unreliable_rates_are_outlined_in_the_png(small_base: PublishedBuild) -> None:
    """The PNG outlines unreliable areas with a dashed line and lists the outline in its
    legend."""
    from matplotlib.colors import to_hex

    data = maps.map_data(small_base, "sgb2_quote")
    figure = png.png_figure(data, dpi=40)
    outline = figure.axes[0].collections[-1]
    assert to_hex(outline.get_edgecolor()[0]) == classes.UNRELIABLE_LINE
    assert any(dashes is not None for _offset, dashes in outline.get_linestyle())
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert texts[-1] == "unsicher (kleine Basis)"


def _luminance_inside(figure: object, geometry: object) -> list[float]:
    """Luminance (0-255) of the rendered pixels well inside ``geometry`` (data coordinates)."""
    import numpy as np
    import shapely
    from matplotlib.path import Path as MPath

    ax = figure.axes[0]  # type: ignore[attr-defined]
    figure.canvas.draw()  # type: ignore[attr-defined]
    rgba = np.asarray(figure.canvas.buffer_rgba())  # type: ignore[attr-defined]
    height = rgba.shape[0]
    core = geometry.buffer(-0.15 * shapely.minimum_bounding_radius(geometry))  # type: ignore
    values: list[float] = []
    for poly in getattr(core, "geoms", [core]):
        if poly.is_empty:
            continue
        ring = ax.transData.transform(np.asarray(poly.exterior.coords))
        ring[:, 1] = height - ring[:, 1]  # display y runs up, image rows down
        path = MPath(ring)
        x0, y0 = np.floor(ring.min(axis=0)).astype(int)
        x1, y1 = np.ceil(ring.max(axis=0)).astype(int)
        xs, ys = np.meshgrid(np.arange(x0, x1), np.arange(y0, y1))
        inside = path.contains_points(np.column_stack([xs.ravel(), ys.ravel()]))
        pixels = rgba[ys.ravel()[inside], xs.ravel()[inside], :3].astype(float)
        values += list(pixels @ np.array([0.299, 0.587, 0.114]))
    return values


def test_png_areas_without_data_stand_out_from_the_page(berlin: PublishedBuild) -> None:
    """'keine Daten' is not white on white: the PNG dots such areas in grey with a grey edge,
    and its legend swatch looks the same."""
    from matplotlib.colors import to_hex

    level = berlin.geography.level_ids[-1]
    indicator = next(i.id for i in berlin.catalogue.indicators
                     if (maps.map_data(berlin, i.id, level=level).frame["status"]
                         == "missing").any())
    data = maps.map_data(berlin, indicator, level=level)
    figure = png.png_figure(data, dpi=60)
    missing = data.frame[maps.missing_areas(data)]
    assert len(missing)
    for geometry in missing.geometry:
        values = _luminance_inside(figure, geometry)
        assert values, "no pixel inside the area"
        dark = sum(v < 200 for v in values) / len(values)
        assert dark > 0.01, f"only {dark:.1%} of the pixels differ from the white page"
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    handle = figure.legends[0].legend_handles[texts.index(classes.MISSING_LABEL)]
    assert handle.get_hatch() and to_hex(handle.get_edgecolor()) == classes.MISSING_LINE


def test_page_scale_is_metric_only(client: TestClient) -> None:
    """One scale control, metric only (Folium's control_scale adds miles as well)."""
    page = _text(client.get("/maps/mini/auslaenderanteil"))
    assert "L.control.scale({metric: true, imperial: false})" in page
    assert "L.control.scale()" not in page


@pytest.mark.browser
def test_page_in_a_small_iframe(server: str) -> None:
    """Embedded at 360×300 px: the legend starts folded, the scale is metric only, and with the
    legend opened a tooltip that runs into it is drawn above it."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: `make browser-deps` installs it"
    from playwright.sync_api import sync_playwright

    report = ('<!doctype html><html><body style="margin:20px">'
              f'<iframe src="{server}/maps/mini/auslaenderanteil" width="360" height="300" '
              'style="border:0"></iframe></body></html>')
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 800, "height": 600})
        # the report page, answered by the browser itself (a public origin may not frame a
        # loopback one: Chromium's private network access rules)
        page.route(f"{server}/bericht.html", lambda route: route.fulfill(
            status=200, content_type="text/html", body=report))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server}/bericht.html")
        frame = next(f for f in page.frames if "/maps/" in f.url)
        frame.wait_for_selector("path.leaflet-interactive")
        frame.wait_for_function("document.querySelectorAll('path.leaflet-interactive').length == 5")
        legend = frame.locator("details.q-legend")
        assert legend.evaluate("d => d.open") is False
        folded = legend.bounding_box()
        assert folded is not None and folded["height"] < 40
        scales = frame.locator(".leaflet-control-scale-line").all_inner_texts()
        assert len(scales) == 1 and re.fullmatch(r"\d+ k?m", scales[0]), scales

        frame.locator("details.q-legend summary").click()
        assert legend.evaluate("d => d.open") is True
        box = frame.evaluate("""(() => {
            const r = document.querySelector('details.q-legend').getBoundingClientRect();
            const m = document.querySelector('.folium-map').getBoundingClientRect();
            return {left: r.left, top: r.top, bottom: r.bottom, right: r.right,
                    centre: (m.left + m.right) / 2}; })()""")
        y = (box["top"] + box["bottom"]) / 2
        x = min(box["left"], box["centre"]) - 12  # left of the middle: the tooltip opens right
        hit = frame.evaluate(f"document.elementFromPoint({x}, {y}).tagName")
        assert hit.lower() == "path", "no area next to the legend"
        offset = page.locator("iframe").bounding_box()
        assert offset is not None
        page.mouse.move(offset["x"] + x, offset["y"] + y)
        page.mouse.move(offset["x"] + x + 1, offset["y"] + y)
        frame.wait_for_selector(".leaflet-tooltip")
        overlap = frame.evaluate("""(() => {
            const tip = document.querySelector('.leaflet-tooltip');
            const t = tip.getBoundingClientRect();
            const l = document.querySelector('details.q-legend').getBoundingClientRect();
            const left = Math.max(t.left, l.left), right = Math.min(t.right, l.right);
            const top = Math.max(t.top, l.top), bottom = Math.min(t.bottom, l.bottom);
            if (right - left < 4 || bottom - top < 4) return null;
            // tooltips ignore the pointer; let them be hit to see what is on top
            for (const e of [tip, ...document.querySelectorAll('.leaflet-pane')])
                e.style.pointerEvents = 'auto';
            const el = document.elementFromPoint((left + right) / 2, (top + bottom) / 2);
            return !!el.closest('.leaflet-tooltip'); })()""")
        ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map-iframe-360x300.png"))
        browser.close()
    assert overlap is not None, "the tooltip does not reach the legend: nothing to check"
    assert overlap is True, "the legend covers the tooltip"
    assert not errors

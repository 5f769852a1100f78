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
from geo.render import classes, folium_page, maps
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

"""Change maps (compare=) and classes over every year (classes=all-years): diverging classes
centred on 0, withheld changes, the Folium page, PNG, MapLibre style, pooled periods."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import router_app, write_small_geography
from fastapi.testclient import TestClient
from leakcheck import (
    COUNTS,
    build_distinctive,
    forbidden_strings,
    leaks,
    write_distinctive_geography,
)

from geo.build import build
from geo.errors import ParameterError
from geo.inputs.catalogue import Indicator
from geo.release import PublishedBuild, indicator_rows, read_build
from geo.render import change_tooltip, folium_page, maps, png
from geo.render.change import change_rows
from geo.render.change_classes import (
    DIVERGING,
    NO_CHANGE_LABEL,
    SIMILAR_COLOR,
    SIMILAR_LABEL,
    change_classes,
    change_labels,
    change_legend_entries,
)
from geo.render.classes import (
    EMPTY,
    MISSING_COLOR,
    WITHHELD_COLOR,
    WITHHELD_LABEL,
    class_breaks,
    level_classes,
    published_rates,
)
from geo.render.styles import maplibre_style
from geo.stats.change import CHANGE_FIELDS
from service.routers import api, tiles
from service.routers import maps as maps_router

SOURCE = {"type": "vector", "tiles": ["http://x/tiles/mini/{z}/{x}/{y}.mvt"]}
INDICATORS = ("auslaenderanteil", "sgb2_quote")
VARIABLE = {"auslaenderanteil": 1, "sgb2_quote": 2}  # index in leakcheck.COUNTS' tuples


def _indicator(higher_is: str = "worse", kind: str = "proportion") -> Indicator:
    return Indicator("x", "x", "t", "a", "b", kind=kind, higher_is=higher_is)


# --- the classes of a change ---------------------------------------------------------------

def test_change_classes_are_centred_on_zero() -> None:
    """Same breaks on both sides; equal sizes get mirrored classes; similar, withheld and
    missing areas get no class, and only similar ones the neutral fill."""
    change = np.array([-8.0, -3.0, -0.5, 0.5, 3.0, 8.0, 1.0, np.nan])
    direction = np.array(["decrease", "decrease", "decrease", "increase", "increase",
                          "increase", "similar", None], dtype=object)
    cc = change_classes(change, direction, _indicator())
    edges = cc.breaks.edges
    assert edges == tuple(-e for e in reversed(edges)) and 0.0 in edges
    n = len(cc.breaks.colors)
    assert n % 2 == 0 and n // 2 <= 3
    for a, b in ((0, 5), (1, 4), (2, 3)):  # -8/8, -3/3, -0.5/0.5
        assert cc.klass[a] == n - 1 - cc.klass[b]
    assert cc.klass[0] == 0 and cc.klass[5] == n - 1  # strongest changes darkest at the ends
    assert list(cc.klass[6:]) == [-1, -1]
    assert list(cc.similar) == [False] * 6 + [True, False]
    assert sum(cc.breaks.counts) == 6


def test_diverging_colours_follow_higher_is() -> None:
    """Higher is worse: an increase red, a decrease blue; better: an increase green."""
    worse = change_classes([-3.0, 3.0], ["decrease", "increase"], _indicator("worse"))
    assert worse.breaks.colors == ("#67a9cf", "#ef8a62")  # blue (decrease), red (increase)
    better = change_classes([-3.0, 3.0], ["decrease", "increase"], _indicator("better"))
    assert better.breaks.colors == ("#e9a3c9", "#a1d76a")  # pink, green
    every = {c for ramp in DIVERGING.values() for colours in ramp.values() for c in colours}
    assert SIMILAR_COLOR not in every | {MISSING_COLOR, WITHHELD_COLOR}


def test_measures_count_by_sign_and_say_no_change() -> None:
    """A measure has no interval: its change counts by sign, 0 is 'keine Veränderung'."""
    cc = change_classes([1.5, -0.5, 0.0, np.nan], [None, None, None, None],
                        _indicator(kind="value"))
    assert list(cc.similar) == [False, False, True, False]
    assert cc.klass[0] > cc.klass[1] >= 0 and cc.klass[3] == -1
    entries = change_legend_entries(cc.breaks, "dB", interval=False)
    assert [e.label for e in entries if e.role == "similar"] == [NO_CHANGE_LABEL]


def test_change_labels_in_german() -> None:
    """Decreases strongest first, then increases; % changes are percentage points."""
    cc = change_classes([-3.4, -1.2, 1.2, 3.4], ["decrease", "decrease", "increase",
                                                  "increase"], _indicator())
    labels = change_labels(cc.breaks, "%")
    assert labels == ["Abnahme um über 1,2 bis 3,4 Prozentpunkte",
                      "Abnahme bis 1,2 Prozentpunkte", "Zunahme bis 1,2 Prozentpunkte",
                      "Zunahme um über 1,2 bis 3,4 Prozentpunkte"]
    entries = change_legend_entries(cc.breaks, "%")
    assert [e.role for e in entries] == ["class", "class", "similar", "class", "class"]
    assert entries[2].label == SIMILAR_LABEL == "keine signifikante Veränderung"


# --- maps on a build with withheld cells in every year ------------------------------------------

@pytest.fixture(scope="module")
def distinctive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """leakcheck's build: three years, withheld counts that cannot appear by chance."""
    return build_distinctive(tmp_path_factory.mktemp("change-maps"))


@pytest.fixture(scope="module")
def published(distinctive: Path) -> PublishedBuild:
    return read_build(distinctive)


def _status(published: PublishedBuild, indicator: str, year: int) -> pd.Series:
    return indicator_rows(published, indicator, "quartier", year)["status"]


@pytest.mark.parametrize("indicator", INDICATORS)
@pytest.mark.parametrize(("year", "compare"), [(2023, 2022), (2022, 2021), (2021, 2023)])
def test_a_change_involving_a_withheld_value_is_withheld(
    published: PublishedBuild, indicator: str, year: int, compare: int
) -> None:
    """Withheld in either year: the change is withheld, carries no number, and its tooltip
    says 'gesperrt (Geheimhaltung)'; otherwise it is the difference of the published rates."""
    data = maps.map_data(published, indicator, year=year, compare=compare)
    now, then = _status(published, indicator, year), _status(published, indicator, compare)
    rates = indicator_rows(published, indicator, "quartier", year)["rate"]
    rates0 = indicator_rows(published, indicator, "quartier", compare)["rate"]
    withheld = 0
    for _, row in data.frame.iterrows():
        area = row["area_id"]
        tip = change_tooltip.tooltip_rows(row, data)
        if "suppressed" in (now[area], then[area]):
            withheld += 1
            assert row["status"] == "suppressed" and row["klass"] == -1 and not row["similar"]
            assert all(np.isnan(row[c]) for c in CHANGE_FIELDS[:3])
            assert (tip["Veränderung"], tip["Intervall"], tip["Richtung"]) == (
                WITHHELD_LABEL, EMPTY, EMPTY)
        else:
            assert row["change"] == pytest.approx(rates[area] - rates0[area], abs=1e-9)
            assert row["change_ci_low"] <= row["change"] <= row["change_ci_high"]
            assert (row["klass"] >= 0) != bool(row["similar"])
    assert withheld > 0


def _change_forbidden(published: PublishedBuild) -> set[str]:
    """How the true change of every area and year pair with a withheld side would be written
    (plain and German, 4 and 2 decimals; 1 decimal, as pages write it, where the withheld
    rate is one of leakcheck's distinctive ones above 50 %): it must appear nowhere."""
    out: set[str] = set()
    for ind in INDICATORS:
        for y, y0 in ((2023, 2022), (2023, 2021), (2022, 2021)):
            now, then = _status(published, ind, y), _status(published, ind, y0)
            for area in now.index:
                if "suppressed" not in (now[area], then[area]):
                    continue
                rate, rate0 = (100 * COUNTS[k][area][VARIABLE[ind]] / COUNTS[k][area][0]
                               for k in (y, y0))
                distinctive = max(rate, rate0) >= 50
                for d in (rate - rate0, rate0 - rate):
                    if abs(d) < 1:  # too short to tell apart from other numbers
                        continue
                    out |= {repr(round(d, 4)), f"{d:.2f}", f"{d:.2f}".replace(".", ",")}
                    if distinctive:
                        out.add(f"{d:.1f}".replace(".", ","))
    return out


def test_no_output_of_a_change_reveals_a_withheld_value(
    distinctive: Path, published: PublishedBuild
) -> None:
    """API (json, csv, csv-de, geojson), map page and style of every comparison: neither a
    withheld count or rate nor a change from which one could be computed."""
    forbidden = (forbidden_strings(distinctive) | forbidden_strings(distinctive, german=False)
                 | _change_forbidden(published))
    assert len(_change_forbidden(published)) > 8
    data = distinctive.parent
    clients = [TestClient(router_app(m, data)) for m in (api, maps_router, tiles)]
    for ind in INDICATORS:
        for year, compare in ((2023, 2022), (2023, 2021)):
            urls = [f"/api/geographies/mini/values?indicator={ind}&year={year}&compare={compare}"
                    f"&format={fmt}" for fmt in ("json", "csv", "csv-de", "geojson")]
            urls += [f"/api/geographies/mini/values?year={year}&compare={compare}"
                     f"&level={lv}" for lv in ("quartier", "stadtbezirk")]
            texts = [clients[0].get(u).text for u in urls]
            texts.append(clients[1].get(f"/maps/mini/{ind}?compare={compare}").text)
            texts.append(clients[2].get(f"/styles/mini/{ind}.json?year={year}"
                                        f"&compare={compare}").text)
            for text in texts:
                assert leaks(re.sub(r"\\u([0-9a-fA-F]{4})",
                                    lambda m: chr(int(m.group(1), 16)), text), forbidden) == []


def _page_text(text: str) -> str:
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), text)
    return text.replace('\\"', '"')


def test_change_page_title_legend_and_permalink(distinctive: Path) -> None:
    """The page names both years, shows the diverging legend around 'keine signifikante
    Veränderung', and its permalink keeps compare= and release=."""
    client = TestClient(router_app(maps_router, distinctive.parent))
    response = client.get("/maps/mini/auslaenderanteil?compare=2021")
    assert response.status_code == 200
    page = _page_text(response.text)
    assert "Anteil Ausländer:innen: Veränderung 2021 bis 2023, Quartier" in page
    assert 'data-role="similar"' in page and "keine signifikante Veränderung" in page
    assert "Prozentpunkte" in page and 'data-role="withheld"' in page
    link = response.headers["link"]
    assert "year=2023&compare=2021&level=quartier" in link and "release=" in link
    pinned = link[1:link.index(">")]
    again = client.get(pinned)
    assert again.status_code == 200 and "Cache-Control" in again.headers
    assert "immutable" in again.headers["Cache-Control"]
    tooltip = re.search(r'"Wert0": "[^"]*"', page)
    assert tooltip is not None  # each year's own value is in the tooltip
    assert "Wert 2021" in page and "Wert 2023" in page


def test_change_png_has_the_change_legend(published: PublishedBuild) -> None:
    """The PNG of a change draws the same legend as the page."""
    data = maps.map_data(published, "auslaenderanteil", compare=2021)
    figure = png.png_figure(data, dpi=40)
    texts = [t.get_text() for t in figure.legends[0].get_texts()]
    assert texts == [e.label for e in maps.map_legend(data)]
    assert "keine signifikante Veränderung" in texts and WITHHELD_LABEL in texts
    assert figure.legends[0].get_title().get_text() == "2021 bis 2023 (Prozentpunkte)"
    assert png.png_map(data, dpi=40)[:4] == b"\x89PNG"


@pytest.mark.parametrize(("query", "status", "message"), [
    ("compare=2023", 422, "the same as year=2023"),
    ("compare=2019-2021", 422, "cannot be compared"),
    ("compare=letztes", 422, "neither a year"),
    ("compare=1999", 404, "compare=1999"),
    ("classes=jahre", 422, "all-years"),
])
def test_change_map_errors(distinctive: Path, query: str, status: int, message: str) -> None:
    """Page, PNG and style refuse what the data API refuses."""
    data = distinctive.parent
    for client, url in ((TestClient(router_app(maps_router, data)), "/maps/mini/sgb2_quote"),
                        (TestClient(router_app(maps_router, data)), "/maps/mini/sgb2_quote.png"),
                        (TestClient(router_app(tiles, data)), "/styles/mini/sgb2_quote.json")):
        response = client.get(f"{url}?{query}")
        assert response.status_code == status, (url, query)
        assert message in json.dumps(response.json()["detail"]), (url, query)


def test_change_style_lists_every_area_once(published: PublishedBuild) -> None:
    """compare=: class layers and the similar layer list published changes by area_id
    (each once), the withheld layer every change with a withheld side; the legend's classes
    are symmetric around 0."""
    style = maplibre_style(published, "auslaenderanteil", source=SOURCE, compare=2021,
                           level="quartier")
    meta = style["metadata"]
    assert (meta["quartier:year"], meta["quartier:compare"]) == (2023, 2021)
    lg = meta["quartier:legend"]
    assert lg["compare"] == 2021 and lg["change_unit"] == "Prozentpunkte"
    assert lg["classes"][0]["min"] == -lg["classes"][-1]["max"]
    layers = {lyr["id"]: lyr for lyr in style["layers"]}
    listed: list[str] = []
    for i, cls in enumerate(lg["classes"]):
        layer = layers[f"quartier-fill-{i}"]
        assert layer["paint"]["fill-color"] == cls["color"]
        assert layer["filter"][:2] == ["in", ["get", "area_id"]]
        listed += layer["filter"][2][1]
    similar = layers["quartier-similar"]["filter"][2][1]
    assert lg["similar"] == {"color": SIMILAR_COLOR, "label": SIMILAR_LABEL,
                             "count": len(similar)}
    withheld = layers["quartier-withheld"]["filter"][2][1]
    rows = change_rows(published, "quartier", "auslaenderanteil", 2023, 2021)
    rows = rows[rows["level"] == "quartier"].set_index("area_id")
    published_ids = sorted(rows.index[rows["change"].notna()])
    assert sorted(listed + similar) == published_ids
    assert len(set(listed + similar)) == len(listed + similar)
    now, then = _status(published, "auslaenderanteil", 2023), _status(
        published, "auslaenderanteil", 2021)
    assert sorted(withheld) == sorted(a for a in now.index
                                      if "suppressed" in (now[a], then[a]))
    assert "Veränderung 2021 bis 2023" in style["name"]


@pytest.fixture(scope="module")
def small_base(tmp_path_factory: pytest.TempPathFactory) -> PublishedBuild:
    """The distinctive geography with reliable_min=5000: Dönberg (about 4,000 Einwohner:innen)
    is unreliable in every year."""
    tmp = tmp_path_factory.mktemp("change-small-base")
    source = write_distinctive_geography(tmp / "src" / "mini")
    return build(source, out=tmp / "data" / "mini", data_dir=tmp / "data", reliable_min=5000,
                 say=lambda _m: None).published


def test_an_unreliable_side_outlines_the_change(small_base: PublishedBuild) -> None:
    """A published change with an unreliable year is outlined dashed (page, PNG, style)."""
    data = maps.map_data(small_base, "sgb2_quote", compare=2021)
    frame = data.frame.set_index("area_id")
    assert frame.loc["20", "status"] == "published" and frame.loc["20", "unreliable"]
    assert not frame.loc["21", "unreliable"]
    assert "unreliable" in [e.role for e in maps.map_legend(data)]
    style = maplibre_style(small_base, "sgb2_quote", source=SOURCE, compare=2021)
    layer = next(lyr for lyr in style["layers"] if lyr["id"] == "quartier-unreliable")
    assert layer["filter"][2][1] == ["20"]
    page = _page_text(folium_page.folium_map(data))
    assert '"unreliable": true' in page


# --- classes over every year ----------------------------------------------------------------

def test_all_years_classes_are_the_same_for_every_year(published: PublishedBuild) -> None:
    """classes=all-years: one set of breaks over every year of the indicator at the level,
    counts of the year shown; unlike the breaks of each year on its own."""
    for ind in INDICATORS:
        every = [level_classes(published, ind, "quartier", y, scope="all-years")
                 for y in (2021, 2022, 2023)]
        assert every[0].edges == every[1].edges == every[2].edges
        own = [level_classes(published, ind, "quartier", y) for y in (2021, 2022, 2023)]
        assert any(o.edges != every[0].edges for o in own)
        pooled = np.concatenate([published_rates(indicator_rows(
            published, ind, "quartier", y)).to_numpy() for y in (2021, 2022, 2023)])
        assert every[0].edges == class_breaks(pooled).edges
        for year, cls in zip((2021, 2022, 2023), every, strict=True):
            rates = published_rates(indicator_rows(published, ind, "quartier", year))
            assert sum(cls.counts) == len(rates)
    with pytest.raises(ParameterError, match="unknown classes 'alle'"):
        level_classes(published, "sgb2_quote", "quartier", scope="alle")


def test_styles_and_pages_accept_classes_all_years(distinctive: Path,
                                                   published: PublishedBuild) -> None:
    """The style, the map page and the PNG take classes=all-years; the permalink keeps it."""
    data = distinctive.parent
    style = TestClient(router_app(tiles, data)).get(
        "/styles/mini/sgb2_quote.json?classes=all-years&year=2022").json()
    meta = style["metadata"]
    assert meta["quartier:classes"] == meta["quartier:legend"]["scope"] == "all-years"
    expected = level_classes(published, "sgb2_quote", "quartier", 2022, scope="all-years")
    assert [c["max"] for c in meta["quartier:legend"]["classes"]] == list(expected.upper)
    assert [c["count"] for c in meta["quartier:legend"]["classes"]] == list(expected.counts)
    client = TestClient(router_app(maps_router, data))
    page = client.get("/maps/mini/sgb2_quote?classes=all-years")
    assert page.status_code == 200
    assert "classes=all-years" in page.headers["link"]
    shown = maps.map_data(published, "sgb2_quote", scope="all-years")
    assert shown.classes.edges == expected.edges
    assert client.get("/maps/mini/sgb2_quote.png?classes=all-years").content[:4] == b"\x89PNG"
    plain = client.get("/maps/mini/sgb2_quote")
    assert "classes=" not in plain.headers["link"]


# --- pooled periods: a period with a period of the same length ------------------------------

def _period_source(folder: Path) -> Path:
    write_small_geography(folder)
    rows = ["area_id,year,variable,value"]
    base = {"10": (1200, 300, 90), "11": (800, 2, 40), "12": (950, 120, 1),
            "20": (400, 60, 25), "21": (2500, 410, 230)}
    for year in range(2019, 2025):
        step = year - 2019
        for area, (ew, aus, sgb) in base.items():
            rows += [f"{area},{year},einwohner,{ew + 10 * step}",
                     f"{area},{year},auslaender,{aus + (12 * step if aus > 5 else 0)}",
                     f"{area},{year},sgb2,{max(sgb - 6 * step, 1) if sgb > 5 else sgb}"]
    (folder / "counts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with (folder / "indicators.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n[[periods]]\nfirst = 2019\nlast = 2021\n"
                 "\n[[periods]]\nfirst = 2022\nlast = 2024\n")
    return folder


@pytest.fixture(scope="module")
def periods(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six years and two pooled three-year periods, built once; the data folder."""
    tmp = tmp_path_factory.mktemp("change-periods")
    build(_period_source(tmp / "src" / "mini"), out=tmp / "data" / "mini",
          data_dir=tmp / "data", say=lambda _m: None)
    return tmp / "data"


def test_periods_compare_with_periods_of_the_same_length(periods: Path) -> None:
    """year=2022-2024&compare=2019-2021 in the API, the map page and the style; the change is
    the difference of the published pooled rates; a period against a year is refused."""
    published = read_build(periods / "mini")
    query = "year=2022-2024&compare=2019-2021"
    body = TestClient(router_app(api, periods)).get(
        f"/api/geographies/mini/values?indicator=auslaenderanteil&{query}").json()
    assert (body["year"], body["compare"]) == ("2022-2024", "2019-2021")
    now = indicator_rows(published, "auslaenderanteil", "quartier", "2022-2024")
    then = indicator_rows(published, "auslaenderanteil", "quartier", "2019-2021")
    checked = 0
    for row in body["values"]:
        if row["level"] != "quartier":
            continue
        a = row["area_id"]
        if "suppressed" in (now.loc[a, "status"], then.loc[a, "status"]):
            assert row["change"] is None
        else:
            checked += 1
            assert row["change"] == round(now.loc[a, "rate"] - then.loc[a, "rate"], 4)
    assert checked >= 3
    client = TestClient(router_app(maps_router, periods))
    page = client.get(f"/maps/mini/auslaenderanteil?{query}")
    assert page.status_code == 200
    assert "Veränderung 2019-2021 bis 2022-2024" in _page_text(page.text)
    style = TestClient(router_app(tiles, periods)).get(
        f"/styles/mini/auslaenderanteil.json?{query}").json()
    assert style["metadata"]["quartier:compare"] == "2019-2021"
    for url in ("/maps/mini/auslaenderanteil", "/styles/mini/auslaenderanteil.json",
                "/api/geographies/mini/values"):
        app = {"/m": maps_router, "/s": tiles, "/a": api}[url[:2]]
        refused = TestClient(router_app(app, periods)).get(
            f"{url}?year=2022-2024&compare=2021")
        assert refused.status_code == 422 and "a period of 3 years" in refused.text

"""Map classes: breaks, ramps, labels, number format; one map alike in all four renderers."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import mapclassify
import numpy as np
import pytest
import shapely
from conftest import bundled_build
from matplotlib.colors import to_hex

from geo.errors import ParameterError
from geo.release import PublishedBuild, indicator_rows, read_build
from geo.render import classes, folium_page, maps, png, qgis, styles
from geo.render.classes import (
    FISHER_JENKS_SAMPLE,
    MISSING_COLOR,
    RAMPS,
    WITHHELD_COLOR,
    WITHHELD_LINE,
    ClassBreaks,
    class_breaks,
    class_labels,
    format_number,
    legend_entries,
    mapclassify_bins,
    ramp_colors,
)

URL_METHODS = ("fisher_jenks", "quantiles", "equal_interval")
"""The methods every renderer offers (the /maps URLs take no other)."""


@pytest.mark.parametrize("method", classes.METHODS)
def test_breaks_give_increasing_edges_and_colorbrewer_colours(method: str) -> None:
    """Every method gives at most DEFAULT_K classes with increasing edges and ramp colours."""
    values = np.array([1.0, 2.5, 3.0, 7.5, 8.0, 12.0, 30.0, np.nan, 15.5, 4.0])
    breaks = class_breaks(values, method=method)
    assert 2 <= len(breaks.colors) <= classes.DEFAULT_K
    assert len(breaks.edges) == len(breaks.colors) + 1
    assert list(breaks.edges[1:]) == sorted(breaks.edges[1:])
    assert breaks.edges[0] == 1.0 and breaks.edges[-1] == 30.0
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in breaks.colors)
    assert set(breaks.index(values[~np.isnan(values)])) <= set(range(len(breaks.colors)))
    assert breaks.index(np.array([np.nan]))[0] == -1


def test_fisher_jenks_breaks_are_mapclassify_breaks() -> None:
    """Default classes are mapclassify's Fisher-Jenks bins, with counts and a 5-colour ramp."""
    rng = np.random.default_rng(1)
    y = np.round(rng.gamma(2, 5, 200), 4)
    breaks = class_breaks(y)
    assert breaks.upper == pytest.approx(tuple(mapclassify.FisherJenks(y, k=5).bins))
    assert breaks.colors == tuple(RAMPS["YlOrRd"][5])
    assert sum(breaks.counts) == len(y)
    assert breaks.lower == y.min()



def assert_mapclassify_bins(y: np.ndarray, k: int) -> None:
    """``fisher_jenks_bins`` gives exactly mapclassify's Fisher-Jenks bins for ``y``, ``k``."""
    import warnings

    from mapclassify.classifiers import _fisher_jenks_means

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Numba not installed"
        expected = _fisher_jenks_means(np.sort(y).astype("f8"), classes=k)
    assert np.array_equal(classes.fisher_jenks_bins(y, k), expected), (len(y), k)

def test_fisher_jenks_is_mapclassify_bit_for_bit() -> None:
    """The vectorised Fisher-Jenks gives mapclassify's bins exactly (ties, few and many
    values, every k), many times faster than its pure-Python loop."""
    rng = np.random.default_rng(7)
    samples = []
    for trial in range(240):
        n = int(rng.integers(3, 60))
        samples.append((
            [np.round(rng.gamma(2, 5, n), 1), rng.integers(0, 6, n).astype(float),
             np.round(rng.normal(50, 10, n), 3), np.round(rng.uniform(0, 1, n), 2)][trial % 4],
            int(rng.integers(2, 8))))
    samples.append((np.round(rng.gamma(2, 5, 396), 3), 5))  # as many as NRW's Gemeinden
    checked = 0
    for y, k in samples:
        if len(np.unique(y)) < k:
            continue
        assert_mapclassify_bins(y, k)
        checked += 1
    assert checked > 150


def test_other_methods_and_bad_parameters() -> None:
    """Quantiles work; unknown methods, ramps and k raise ParameterError naming the known."""
    y = np.arange(100, dtype=float)
    assert len(class_breaks(y, method="quantiles", k=4).upper) == 4
    with pytest.raises(ParameterError, match="unknown classification 'magic'.*fisher_jenks"):
        class_breaks(y, method="magic")
    with pytest.raises(ParameterError, match="k must be between"):
        class_breaks(y, k=12)
    with pytest.raises(ParameterError, match="unknown colour ramp"):
        ramp_colors("Rainbow", 5)


def test_few_distinct_values_give_fewer_classes() -> None:
    """Two distinct rates make two classes, one makes one; no values make no classes."""
    assert class_breaks([1.0, 1.0, 2.0]).upper == (1.0, 2.0)
    assert len(class_breaks(np.array([5.0, 5.0, 5.0])).colors) == 1
    assert class_breaks([]) == ClassBreaks("fisher_jenks", (), (), ())
    assert class_breaks([np.nan]).colors == ()


def test_fisher_jenks_on_many_values_is_sampled_deterministically() -> None:
    """Above the sample size the breaks come from a quantile sample: same input, same breaks."""
    y = np.random.default_rng(3).gamma(2.0, 3.0, FISHER_JENKS_SAMPLE * 8)
    first = mapclassify_bins(y, "fisher_jenks", 5)
    assert np.array_equal(first, mapclassify_bins(y[::-1].copy(), "fisher_jenks", 5))
    assert first[-1] == y.max() and np.all(np.diff(first) > 0) and len(first) == 5
    # every class of the sampled breaks is populated in the full data
    assert np.all(np.bincount(np.searchsorted(first, y), minlength=5) > 0)


def test_one_german_number_format() -> None:
    """Decimal comma, thousands dots (as the viewer's de-DE format); a dash for no value."""
    assert format_number(1234.56) == "1.234,6"
    assert format_number(0.5, 2) == "0,50"
    assert format_number(1200, 0) == "1.200"
    assert format_number(None) == format_number(float("nan")) == "–"


def test_class_labels_say_which_class_holds_a_bound() -> None:
    """Upper bounds are inclusive: the first class from its minimum, the others 'über'."""
    breaks = ClassBreaks("quantiles", (1.0, 2.5, 1234.5), ("#ffeda0", "#f03b20"), (2, 3))
    assert class_labels(breaks, "%") == ["1,0 bis 2,5 %", "über 2,5 bis 1.234,5 %"]
    narrow = ClassBreaks("quantiles", (0.1, 0.25, 0.5), ("#ffeda0", "#f03b20"), (2, 3))
    assert class_labels(narrow) == ["0,10 bis 0,25", "über 0,25 bis 0,50"]


def test_legend_entries_end_with_withheld_and_missing() -> None:
    """The classes light to dark, then 'gesperrt (Geheimhaltung)', 'keine Daten' and, if
    asked for, the outline of unreliable rates."""
    entries = legend_entries(class_breaks([1.0, 2.0, 3.0, 4.0], k=2), "%")
    assert [e.role for e in entries] == ["class", "class", "withheld", "missing"]
    assert entries[-2][:2] == ("gesperrt (Geheimhaltung)", "#d9d9d9")
    assert entries[-1][:2] == ("keine Daten", "#f4f4f4")
    marked = legend_entries(class_breaks([1.0, 2.0, 3.0, 4.0], k=2), "%", unreliable=True)
    assert marked[-1][:2] == ("unsicher (kleine Basis)", classes.UNRELIABLE_LINE)


def test_ramp_by_direction_of_the_indicator() -> None:
    """higher_is picks the ramp: worse red, better green, neutral purple-blue."""
    from geo.inputs.catalogue import Indicator

    def ind(direction: str) -> Indicator:
        return Indicator("x", "X", "T", "a", "b", higher_is=direction)

    assert [classes.ramp_for(ind(d)) for d in ("worse", "better", "neutral")] == [
        "YlOrRd", "YlGn", "PuBu"]
    for ramp in ("YlOrRd", "YlGn", "PuBu"):
        assert all(len(RAMPS[ramp][k]) == k for k in range(3, 8))


# --- one map, four renderers ------------------------------------------------------------------

SOURCE = {"type": "vector", "tiles": ["http://x/tiles/{z}/{x}/{y}.mvt"]}
Legend = list[tuple[str, str]]
Fills = dict[str, str]


def _tile_props(published: PublishedBuild, indicator: str, level: str) -> dict[str, dict]:
    """What a tile carries of each area: the rate and its status."""
    rows = indicator_rows(published, indicator, level)
    return {str(area): {indicator: None if np.isnan(rate) else float(rate),
                        f"{indicator}_status": status, "area_id": str(area)}
            for area, rate, status in zip(rows.index, rows["rate"], rows["status"], strict=True)}


def _matches(expr: list, props: dict) -> bool:
    """Evaluate the MapLibre filter subset the styles use (all, ==, >, <=, in + literal)."""
    op = expr[0]
    if op == "all":
        return all(_matches(part, props) for part in expr[1:])
    if op == "in":
        return props.get(expr[1][1]) in expr[2][1]
    value = props.get(expr[1][1])
    if value is None:
        return False
    return {"==": value == expr[2], ">": value > expr[2], "<=": value <= expr[2]}[op]


def _maplibre(published: PublishedBuild, indicator: str, level: str, method: str
              ) -> tuple[ClassBreaks, Legend, Fills]:
    """Classes and legend from the style's metadata; fills as MapLibre paints the layers."""
    style = styles.maplibre_style(published, indicator, source=SOURCE, level=level,
                                  method=method)
    legend = style["metadata"]["quartier:legend"]
    edges = (legend["classes"][0]["min"], *[c["max"] for c in legend["classes"]])
    breaks = ClassBreaks(legend["method"], edges, tuple(c["color"] for c in legend["classes"]),
                         tuple(c["count"] for c in legend["classes"]))
    entries = [(c["label"], c["color"]) for c in legend["classes"]]
    entries += [(legend[k]["label"], legend[k]["color"])
                for k in ("withheld", "missing", "unreliable")
                if legend[k]["count"]]  # the viewer lists only what the map shows
    layers = [lyr for lyr in style["layers"]
              if lyr.get("source-layer") == level and lyr["type"] == "fill"]
    fills = {}
    for area, props in _tile_props(published, indicator, level).items():
        for layer in layers:  # painter's order: the last matching layer is seen
            if "filter" not in layer or _matches(layer["filter"], props):
                paint = layer["paint"]
                fills[area] = (legend["withheld"]["color"] if "fill-pattern" in paint
                               else paint["fill-color"])
    return breaks, entries, fills


def _folium(data: maps.MapData) -> tuple[Legend, Fills]:
    """Legend rows and feature fills as the page's script holds them."""
    page = folium_page.folium_map(data)
    page = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), page)
    page = page.replace('\\"', '"')  # the legend is a string in the page's script
    legend = re.findall(r'<div data-role="\w+"><i (?:class="q-dash" )?style="'
                        r'(?:background|border-color):(#[0-9a-f]{6})"></i>([^<]*)</div>', page)
    fills = re.findall(r'"id":\s*"([^"]+)",\s*"properties":\s*\{[^}]*"fill":\s*"(#[0-9a-f]{6})"',
                       page)
    return [(label, color) for color, label in legend], dict(fills)


def _png(data: maps.MapData) -> tuple[Legend, list[list[str]]]:
    """Legend entries and the fills of each polygon collection (shown areas, then withheld)."""
    figure = png.png_figure(data, dpi=40)
    legend = figure.legends[0]
    def colour(handle: Any) -> str:  # the outline of unreliable rates is dashed, not filled
        dashed = handle.get_linestyle() not in ("-", "solid")
        return to_hex(handle.get_edgecolor() if dashed else handle.get_facecolor())

    entries = [(text.get_text(), colour(handle))
               for text, handle in zip(legend.get_texts(), legend.legend_handles, strict=True)]
    painted = [[to_hex(c) for c in coll.get_facecolors()] for coll in figure.axes[0].collections]
    return entries, painted


def _qml(published: PublishedBuild, indicator: str, level: str, method: str
         ) -> tuple[list[tuple[float, float]], Legend, Fills]:
    """Class ranges, legend and fills as QGIS's graduated renderer assigns them."""
    root = ET.fromstring(qgis.layer_qml(published, level, indicator, method).split("\n", 1)[1])
    symbols = {}
    for symbol in root.findall("renderer-v2/symbols/symbol"):
        r, g, b, _a = symbol.find("layer/prop[@k='color']").get("v").split(",")  # type: ignore
        symbols[symbol.get("name")] = f"#{int(r):02x}{int(g):02x}{int(b):02x}"
    ranges = [(float(r.get("lower")), float(r.get("upper")), r.get("label"),  # type: ignore
               symbols[r.get("symbol")]) for r in root.findall("renderer-v2/ranges/range")]
    codes = {"suppressed": qgis.WITHHELD_CODE, "missing": qgis.MISSING_CODE}
    fills = {}
    for area, props in _tile_props(published, indicator, level).items():
        status = props[f"{indicator}_status"]
        value = codes.get(status, props[indicator])
        hits = [c for lo, hi, _l, c in ranges if value is not None and lo <= value <= hi]
        fills[area] = hits[0] if hits else MISSING_COLOR  # QGIS takes the first range
    classed = [(lo, hi) for lo, hi, _l, _c in ranges if lo >= 0]
    # QGIS lists withheld and missing first, the other legends end with them
    entries = [(label, c) for lo, _h, label, c in ranges if lo >= 0]
    entries += [(label, c) for lo, _h, label, c in ranges if lo < 0][::-1]
    return classed, entries, fills


@pytest.fixture(scope="module")
def mini(mini_data: Path) -> PublishedBuild:
    """The session's small build (Quartiere 11 and 12 have withheld cells)."""
    return read_build(mini_data / "mini")


@pytest.fixture(scope="module")
def nrw(tmp_path_factory: pytest.TempPathFactory) -> PublishedBuild:
    """The bundled NRW demo: 396 Gemeinden, some withheld, real (multi)polygons."""
    return read_build(bundled_build(tmp_path_factory, "nrw-demo"))


@pytest.fixture(scope="module")
def berlin(tmp_path_factory: pytest.TempPathFactory) -> PublishedBuild:
    """The bundled Berlin build: some indicators have areas without data."""
    return read_build(bundled_build(tmp_path_factory, "berlin-lor-2021"))


def _unpublished_indicator(published: PublishedBuild, level: str) -> str:
    """The first indicator with a withheld or missing area on ``level`` (else the first)."""
    for ind in published.catalogue.indicators:
        if (indicator_rows(published, ind.id, level)["status"] != "published").any():
            return ind.id
    return published.catalogue.indicators[0].id


@pytest.mark.parametrize("method", URL_METHODS)
@pytest.mark.parametrize("build", ["mini", "nrw", "berlin"])
def test_one_map_looks_the_same_in_every_renderer(
    build: str, method: str, request: pytest.FixtureRequest
) -> None:
    """MapLibre style, Folium page, PNG and QGIS QML show the same breaks, labels and colours,
    and colour every area alike."""
    published: PublishedBuild = request.getfixturevalue(build)
    level = published.geography.level_ids[-1]
    indicator = _unpublished_indicator(published, level)
    expected = classes.level_classes(published, indicator, level, method=method)
    unit = published.catalogue.indicator(indicator).unit
    assert len(expected.colors) >= 2
    rows = indicator_rows(published, indicator, level)
    klass = expected.index(rows["rate"].to_numpy(dtype=float))
    fills = {str(area): WITHHELD_COLOR if status == "suppressed" else
             MISSING_COLOR if k < 0 else expected.colors[k]
             for area, status, k in zip(rows.index, rows["status"], klass, strict=True)}
    unreliable = (rows["status"] == "published") & (rows["reliable"] == False)  # noqa: E712
    legend = [(e.label, e.color) for e in legend_entries(
        expected, unit, withheld="suppressed" in set(rows["status"]),
        missing=bool(((rows["status"] != "suppressed") & (klass < 0)).any()),
        unreliable=bool(unreliable.any()))]
    assert set(fills.values()) - set(expected.colors)  # withheld or missing areas to compare

    style_breaks, style_legend, style_fills = _maplibre(published, indicator, level, method)
    assert style_breaks == expected
    assert style_legend == legend
    assert style_fills == fills

    data = maps.map_data(published, indicator, level=level, method=method)
    assert data.classes == expected
    page_legend, page_fills = _folium(data)
    assert page_legend == legend
    assert page_fills == fills

    png_legend, painted = _png(data)
    assert png_legend == legend
    frame = data.frame
    withheld, missing = frame["status"] == "suppressed", maps.missing_areas(data)
    shown = frame[~withheld & ~missing]
    parts = shapely.get_num_geometries(shown.geometry.to_numpy())  # one patch per polygon
    expected_paint = [[fills[a] for a, n in zip(shown["area_id"], parts, strict=True)
                       for _ in range(n)]]
    # areas without data and withheld areas: one collection each, one colour for all
    expected_paint += [[MISSING_COLOR]] if missing.any() else []
    expected_paint += [[WITHHELD_COLOR]] if withheld.any() else []
    if unreliable.any():
        expected_paint.append([])  # the dashed outlines: lines, no fill
    assert painted == expected_paint
    assert set(frame.loc[frame["unreliable"], "area_id"]) == set(rows.index[unreliable])

    qml_ranges, qml_legend, qml_fills = _qml(published, indicator, level, method)
    assert qml_ranges == list(zip(expected.edges[:-1], expected.upper, strict=True))
    k = len(expected.colors)
    assert qml_legend[:k] == legend[:k]
    # QGIS always lists withheld areas; it does not mark unreliable rates
    assert {e for e in legend[k:] if e[0] != classes.UNRELIABLE_LABEL} <= set(qml_legend[k:])
    assert qml_fills == fills


def test_withheld_is_hatched_alike_in_png_and_qgis(mini: PublishedBuild) -> None:
    """The PNG and the QML hatch withheld areas in the sprite's line colour."""
    figure = png.png_figure(maps.map_data(mini, "auslaenderanteil"), dpi=40)
    withheld = figure.axes[0].collections[-1]
    assert to_hex(withheld.get_edgecolor()[0]) == WITHHELD_LINE and withheld.get_hatch()
    root = ET.fromstring(qgis.layer_qml(mini, "quartier").split("\n", 1)[1])
    layers: Any = root.findall("renderer-v2/symbols/symbol[@name='0']/layer")
    assert [lyr.find("prop[@k='color']").get("v") for lyr in layers] == [
        "217,217,217,255", "115,115,115,255"]  # WITHHELD_COLOR, WITHHELD_LINE

"""MapLibre styles: class filters, levels, withheld hatching, legends, sprite."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from geo.build import build
from geo.errors import NotFoundError, ParameterError
from geo.release import PublishedBuild
from geo.render.sprite import HATCH_IMAGE, sprite
from geo.render.styles import legend, maplibre_style

SOURCE = {"type": "vector", "tiles": ["http://x/tiles/mini/{z}/{x}/{y}.mvt"]}


@pytest.fixture
def published(small_geography: Path, tmp_path: Path) -> PublishedBuild:
    """The small fixture build (Brill's and Clausen's small counts are withheld)."""
    return build(small_geography, out=tmp_path / "data" / "mini", say=lambda _: None).published


def _matches(expr: list, props: dict) -> bool:
    """Evaluate the filter subset the styles use (all, ==, >, <=, in + literal)."""
    op = expr[0]
    if op == "all":
        return all(_matches(part, props) for part in expr[1:])
    if op == "in":
        return props.get(expr[1][1]) in expr[2][1]
    value = props.get(expr[1][1])
    if value is None:
        return False
    return {"==": value == expr[2], ">": value > expr[2], "<=": value <= expr[2]}[op]


def _fill_layers(style: dict, level: str) -> list[dict]:
    return [lyr for lyr in style["layers"] if lyr["id"].startswith(f"{level}-fill-")]


def test_class_filters_put_break_values_where_mapclassify_does(published: PublishedBuild) -> None:
    """Classes are upper-inclusive in mapclassify; exactly one class layer takes each bound."""
    style = maplibre_style(published, "auslaenderanteil", source=SOURCE, level="quartier")
    layers = _fill_layers(style, "quartier")
    lg = style["metadata"]["quartier:legend"]
    assert [lyr["paint"]["fill-color"] for lyr in layers] == [c["color"] for c in lg["classes"]]
    for cls in lg["classes"]:
        for value in (cls["min"], cls["max"]):
            props = {"auslaenderanteil": value, "auslaenderanteil_status": "published"}
            hits = [lyr["paint"]["fill-color"] for lyr in layers if _matches(lyr["filter"], props)]
            owner = next(c for c in lg["classes"] if (c["min"] < value or c["min_inclusive"])
                         and value <= c["max"])
            assert hits == [owner["color"]]
    withheld = {"auslaenderanteil_status": "suppressed"}
    assert not any(_matches(lyr["filter"], withheld) for lyr in layers)


def test_style_covers_every_level_one_visible(published: PublishedBuild) -> None:
    """Each level has nodata, fill, withheld and line layers; only the chosen one is visible,
    and its parent level is drawn as outline."""
    style = maplibre_style(published, "sgb2_quote", source=SOURCE, level="quartier")
    ids = {lyr["id"]: lyr for lyr in style["layers"]}
    for level in ("stadtbezirk", "quartier"):
        for role in ("nodata", "fill-0", "withheld", "line", "outline"):
            assert f"{level}-{role}" in ids
    assert ids["quartier-fill-0"]["layout"]["visibility"] == "visible"
    assert ids["stadtbezirk-fill-0"]["layout"]["visibility"] == "none"
    assert ids["stadtbezirk-outline"]["layout"]["visibility"] == "visible"
    assert set(style["metadata"]["quartier:legends"]) == {"stadtbezirk", "quartier"}


def test_only_level_leaves_hidden_levels_out(published: PublishedBuild) -> None:
    """For QGIS < 3.26 the style can hold just the chosen level plus the parent outline."""
    style = maplibre_style(published, "sgb2_quote", source=SOURCE, level="quartier",
                           only_level=True)
    ids = [lyr["id"] for lyr in style["layers"]]
    assert "stadtbezirk-outline" in ids and "stadtbezirk-fill-0" not in ids
    assert "quartier-fill-0" in ids


def test_withheld_areas_are_hatched_and_counted(published: PublishedBuild) -> None:
    """Withheld areas: their own layer with the hatch pattern; the legend counts them."""
    style = maplibre_style(published, "auslaenderanteil", source=SOURCE, sprite_url="http://x/s")
    layer = next(lyr for lyr in style["layers"] if lyr["id"] == "quartier-withheld")
    assert layer["paint"]["fill-pattern"] == HATCH_IMAGE
    assert layer["filter"] == ["==", ["get", "auslaenderanteil_status"], "suppressed"]
    lg = legend(published, "auslaenderanteil", "quartier")
    assert lg["withheld"]["count"] >= 1 and lg["withheld"]["label"] == "gesperrt (Geheimhaltung)"
    assert sum(c["count"] for c in lg["classes"]) + lg["withheld"]["count"] \
        + lg["missing"]["count"] == 5
    assert style["sprite"] == "http://x/s"


def test_year_other_than_latest_matches_area_ids(published: PublishedBuild) -> None:
    """For a year the tiles do not carry, colours are spelled out per area_id."""
    import dataclasses

    import pandas as pd

    older = published.values.assign(year=2020)
    # a new release: replace gives it its own memo of derived tables
    two_years = dataclasses.replace(published, values=pd.concat([older, published.values]),
                                    years=(2020, 2023))
    style = maplibre_style(two_years, "auslaenderanteil", source=SOURCE, year=2020)
    listed = []
    for fill in _fill_layers(style, "quartier"):
        assert fill["filter"][0] == "in"
        listed += fill["filter"][2][1]
    assert sorted(listed) == ["10", "20", "21"]  # every published Quartier of 2020
    assert style["metadata"]["quartier:year"] == 2020
    with pytest.raises(NotFoundError, match="year 1999"):
        maplibre_style(published, "auslaenderanteil", source=SOURCE, year=1999)


def test_sprite_is_a_png_of_the_declared_size() -> None:
    """The hatch sprite: PNG header with the size the index declares, at 1x and 2x."""
    for ratio in (1, 2):
        index, png = sprite(ratio)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        entry = index[HATCH_IMAGE]
        assert (width, height) == (entry["width"], entry["height"])
        assert entry["pixelRatio"] == ratio


def test_total_level_has_no_style_and_says_so(small_geography: Path, tmp_path: Path) -> None:
    """Asking a class map of the single total area is a parameter error naming the levels."""
    from geo.release import read_build

    out = tmp_path / "data" / "mini"
    build(small_geography, out=out, say=lambda _: None)
    with pytest.raises(ParameterError, match="stadtbezirk, quartier"):
        maplibre_style(read_build(out), "auslaenderanteil", source={}, level="total")


def _with_indicator(published: PublishedBuild, indicator: str, **changes: object
                    ) -> PublishedBuild:
    """The build with one catalogue indicator changed (a new release: its own memo)."""
    import dataclasses

    catalogue = published.catalogue
    inds = tuple(dataclasses.replace(i, **changes) if i.id == indicator else i
                 for i in catalogue.indicators)
    return dataclasses.replace(published, catalogue=dataclasses.replace(catalogue,
                                                                        indicators=inds))


def test_ramp_follows_higher_is(published: PublishedBuild) -> None:
    """Higher is worse: dark red at the top; better: dark green; neutral: purple-blue;
    an explicit ramp still wins."""
    from geo.render.classes import RAMPS

    tops = {}
    for direction in ("worse", "better", "neutral"):
        changed = _with_indicator(published, "sgb2_quote", higher_is=direction)
        lg = legend(changed, "sgb2_quote", "stadtbezirk")
        colours = [c["color"] for c in lg["classes"]]
        assert lg["higher_is"] == direction
        tops[direction] = (lg["ramp"], colours[-1])
        assert set(colours) <= {c for k in RAMPS[lg["ramp"]].values() for c in k}
    assert tops["worse"][0] == "YlOrRd" and tops["better"][0] == "YlGn"
    assert tops["neutral"][0] == "PuBu"
    assert len({colour for _ramp, colour in tops.values()}) == 3
    forced = legend(published, "sgb2_quote", "quartier", ramp="YlOrRd", method="quantiles", k=3)
    assert forced["ramp"] == "YlOrRd" and forced["k"] == 3
    assert forced["method_name"] == "Quantile"


def test_unreliable_areas_get_a_dashed_outline(small_geography: Path, tmp_path: Path) -> None:
    """Rates on a small base are outlined dashed (their own layer, listing the areas), and the
    legend counts them as 'unsicher (kleine Basis)'."""
    out = tmp_path / "data" / "mini"
    published = build(small_geography, out=out, reliable_min=1000, say=lambda _: None).published
    style = maplibre_style(published, "sgb2_quote", source=SOURCE)
    layer = next(lyr for lyr in style["layers"] if lyr["id"] == "quartier-unreliable")
    assert layer["type"] == "line" and layer["paint"]["line-dasharray"]
    # Dönberg (400 Einwohner:innen) is published on a small base; Brill (800) is withheld
    assert layer["filter"] == ["in", ["get", "area_id"], ["literal", ["20"]]]
    lg = style["metadata"]["quartier:legend"]
    assert lg["unreliable"]["label"] == "unsicher (kleine Basis)"
    assert lg["unreliable"]["count"] == 1
    assert style["metadata"]["quartier:legends"]["stadtbezirk"]["unreliable"]["count"] == 0


def test_year_without_data_of_the_indicator_is_not_found(gap_data: Path) -> None:
    """A year of the release in which the indicator has no value: NotFoundError naming the
    years it has, not an all-grey style."""
    from geo.release import read_build

    published = read_build(gap_data / "mini")
    with pytest.raises(NotFoundError, match=r"no values in 2021.*2023"):
        maplibre_style(published, "sgb2_quote", source=SOURCE, year=2021)
    style = maplibre_style(published, "auslaenderanteil", source=SOURCE, year=2021)
    assert style["metadata"]["quartier:years"] == [2021, 2023]

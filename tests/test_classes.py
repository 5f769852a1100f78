"""Map classes: breaks, ramps, labels and the German number format."""

from __future__ import annotations

import re

import mapclassify
import numpy as np
import pytest

from geo.errors import ParameterError
from geo.render import classes
from geo.render.classes import (
    FISHER_JENKS_SAMPLE,
    RAMPS,
    ClassBreaks,
    class_breaks,
    class_labels,
    format_number,
    legend_entries,
    mapclassify_bins,
    ramp_colors,
)


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
    """The classes light to dark, then 'geheim (Datenschutz)' and 'keine Daten'."""
    entries = legend_entries(class_breaks([1.0, 2.0, 3.0, 4.0], k=2), "%")
    assert [e.role for e in entries] == ["class", "class", "withheld", "missing"]
    assert entries[-2][:2] == ("geheim (Datenschutz)", "#d9d9d9")
    assert entries[-1][:2] == ("keine Daten", "#f4f4f4")

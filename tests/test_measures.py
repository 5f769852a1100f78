"""Measures: catalogue keys and checks, aggregation by sum or weighted mean, value and ratio."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.errors import CatalogueError
from geo.inputs.catalogue import Catalogue, load_catalogue
from geo.inputs.geography import load_geography
from geo.stats.aggregate import aggregate
from geo.stats.measures import aggregate_measures
from geo.stats.rates import compute_values

BASE = """
[[variables]]
id = "einwohner"
name = "Einwohner:innen"
sensitive = false

[[variables]]
id = "flaeche"
name = "Fläche (ha)"
type = "measure"

[[variables]]
id = "gruen"
name = "Grünfläche (ha)"
type = "measure"
estimate = true

[[variables]]
id = "laerm"
name = "Lärm (dB, Mittel)"
type = "measure"
aggregate = "mean"
estimate = true
"""


def catalogue(tmp_path: Path, extra: str = "") -> Catalogue:
    path = tmp_path / "indicators.toml"
    path.write_text(BASE + extra, encoding="utf-8")
    return load_catalogue(path)


def test_measure_defaults(tmp_path: Path) -> None:
    """A measure is not sensitive; a mean is weighted by area unless told otherwise."""
    cat = catalogue(tmp_path)
    assert cat.count_ids == ("einwohner",)
    assert cat.measure_ids == ("flaeche", "gruen", "laerm")
    laerm = cat.variable("laerm")
    assert (laerm.sensitive, laerm.aggregate, laerm.weight) == (False, "mean", "area")
    assert cat.sensitive_ids == ()


def test_value_and_ratio_indicators(tmp_path: Path) -> None:
    """kind value needs no denominator (per 1); ratio divides two measures."""
    cat = catalogue(tmp_path, '[[indicators]]\nid = "laerm_mittel"\nname = "Lärm"\n'
                    'theme = "Umwelt"\nnumerator = "laerm"\nkind = "value"\nunit = "dB"\n'
                    '[[indicators]]\nid = "gruenanteil"\nname = "Grün"\ntheme = "Umwelt"\n'
                    'numerator = "gruen"\ndenominator = "flaeche"\nkind = "ratio"\n')
    value, ratio = cat.indicators
    assert (value.denominator, value.per, value.unit) == ("", 1.0, "dB")
    assert (ratio.per, ratio.kind) == (100.0, "ratio")
    again = Catalogue.from_dict(json.loads(json.dumps(cat.to_dict())))
    assert again == cat


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[variables]]\nid = "x"\nname = "x"\ntype = "measure"\nsensitive = true\n',
         "variables\\[5\\] 'x': a measure is never suppressed"),
        ('[[variables]]\nid = "x"\nname = "x"\ntype = "share"\n',
         "type must be one of count, measure"),
        ('[[variables]]\nid = "x"\nname = "x"\naggregate = "mean"\n',
         'aggregate = \'mean\' needs type = "measure"'),
        ('[[variables]]\nid = "x"\nname = "x"\ntype = "measure"\naggregate = "mean"\n'
         'weight = "laerm"\n', "weight 'laerm' must be \"area\", a count or a measure"),
        ('[[indicators]]\nid = "i"\nname = "i"\ntheme = "t"\nnumerator = "gruen"\n'
         'denominator = "einwohner"\n', "numerator 'gruen' is a measure: use kind = \"ratio\""),
        ('[[indicators]]\nid = "i"\nname = "i"\ntheme = "t"\nnumerator = "einwohner"\n'
         'kind = "value"\n', "numerator 'einwohner' is a count: kind = 'value' needs measures"),
        ('[[sums]]\ntotal = "flaeche"\nparts = ["gruen", "laerm"]\n',
         "'flaeche' is a measure; sums relate counts only"),
    ],
)
def test_measure_mistakes_are_named(tmp_path: Path, extra: str, message: str) -> None:
    """Wrong types, weights and kinds are errors naming the entry and what to do."""
    with pytest.raises(CatalogueError, match=message):
        catalogue(tmp_path, extra)


def test_provenance_round_trips_through_indicators_json(tmp_path: Path) -> None:
    """A variable's provenance summary survives to_dict -> JSON -> from_dict."""
    from dataclasses import replace

    cat = catalogue(tmp_path)
    summary = {"kind": "raster", "command": "quartier intake raster …", "created": "2026",
               "inputs": [{"file": "laerm.tif", "sha256": "sha256:00"}], "file": "x.json"}
    cat = replace(cat, variables=tuple(replace(v, provenance=summary) if v.id == "laerm"
                                       else v for v in cat.variables))
    data = json.loads(json.dumps(cat.to_dict()))
    assert data["variables"][3]["provenance"] == summary
    assert "provenance" not in data["variables"][0]
    assert Catalogue.from_dict(data).variable("laerm").provenance == summary


def test_measures_aggregate_by_sum_and_area_weighted_mean(small_geography: Path,
                                                          tmp_path: Path) -> None:
    """Sums add up; a mean is weighted by area (equal squares: the plain mean)."""
    geography = load_geography(small_geography)
    cat = catalogue(tmp_path)
    ids = ["10", "11", "12", "20", "21"]
    noise = [50.0, 60.0, 70.0, 40.0, 45.5]
    values = pd.DataFrame({"area_id": ids * 2, "year": 2024,
                           "variable": ["flaeche"] * 5 + ["laerm"] * 5,
                           "value": [400.0] * 5 + noise})
    cells = aggregate_measures(geography, values, cat)
    keyed = cells.set_index(["level", "area_id", "variable"])["value"]
    assert keyed[("total", "mini", "flaeche")] == 2000.0
    # geodesic areas of the squares differ by less than 1e-5 (UTM scale)
    assert keyed[("stadtbezirk", "1", "laerm")] == pytest.approx(60.0, rel=1e-5)
    assert keyed[("stadtbezirk", "2", "laerm")] == pytest.approx(42.75, rel=1e-5)
    assert keyed[("total", "mini", "laerm")] == pytest.approx(np.mean(noise), rel=1e-5)
    assert np.isnan(keyed[("total", "mini", "gruen")])


def test_mean_weighted_by_a_count_and_missing_children(small_geography: Path,
                                                       tmp_path: Path) -> None:
    """weight = a count: residents weigh; a missing child makes its parents missing."""
    geography = load_geography(small_geography)
    cat = catalogue(tmp_path, '[[variables]]\nid = "alter"\nname = "Alter"\n'
                    'type = "measure"\naggregate = "mean"\nweight = "einwohner"\n')
    counts = pd.DataFrame({"area_id": ["10", "11", "12", "20", "21"], "year": 2024,
                           "variable": "einwohner", "value": [100, 300, 100, 100, 100]})
    cells = aggregate(geography, counts, cat)
    values = pd.DataFrame({"area_id": ["10", "11", "12", "20"], "year": 2024,
                           "variable": "alter", "value": [40.0, 20.0, 40.0, 30.0]})
    measures = aggregate_measures(geography, values, cat, cells)
    keyed = measures.set_index(["level", "area_id", "variable"])["value"]
    assert keyed[("stadtbezirk", "1", "alter")] == pytest.approx((4000 + 6000 + 4000) / 500)
    assert np.isnan(keyed[("stadtbezirk", "2", "alter")])
    assert np.isnan(keyed[("total", "mini", "alter")])


def test_value_and_ratio_rows_have_no_interval(small_geography: Path, tmp_path: Path) -> None:
    """value shows the measure (x per); ratio divides; no interval, numerator columns empty."""
    geography = load_geography(small_geography)
    cat = catalogue(tmp_path, '[[indicators]]\nid = "laerm_mittel"\nname = "Lärm"\n'
                    'theme = "Umwelt"\nnumerator = "laerm"\nkind = "value"\n'
                    '[[indicators]]\nid = "gruenanteil"\nname = "Grün"\ntheme = "Umwelt"\n'
                    'numerator = "gruen"\ndenominator = "flaeche"\nkind = "ratio"\n')
    ids = ["10", "11", "12", "20", "21"]
    values = pd.DataFrame({"area_id": ids * 3, "year": 2024,
                           "variable": ["flaeche"] * 5 + ["gruen"] * 5 + ["laerm"] * 5,
                           "value": [400.0] * 5 + [100.0, 0, 40, 400, 10.5] + [55.25] * 5})
    measures = aggregate_measures(geography, values, cat).assign(status="published")
    counts = pd.DataFrame({"area_id": ids, "year": 2024, "variable": "einwohner",
                           "value": [1, 2, 3, 4, 5]})
    cells = aggregate(geography, counts, cat).assign(status="published")
    rows = compute_values(cells, geography.areas, cat, measures=measures)
    q10 = rows[rows["area_id"] == "10"].set_index("indicator")
    assert q10.loc["laerm_mittel", "rate"] == 55.25
    assert q10.loc["gruenanteil", "rate"] == 25.0
    assert q10[["ci_low", "ci_high"]].isna().all().all()
    assert q10["numerator"].isna().all() and (q10["status"] == "published").all()
    total = rows[(rows["level"] == "total") & (rows["indicator"] == "gruenanteil")]
    assert total["rate"].iloc[0] == pytest.approx(550.5 / 2000 * 100)


def test_disclosure_never_sees_a_measure(small_geography: Path, tmp_path: Path) -> None:
    """protect gives no status to measure cells: a value of 1 in a measure is not small."""
    from geo.disclosure import protect

    geography = load_geography(small_geography)
    cat = catalogue(tmp_path)
    counts = pd.DataFrame({"area_id": ["10", "11", "12", "20", "21"], "year": 2024,
                           "variable": "einwohner", "value": [100, 300, 100, 100, 100]})
    cells = aggregate(geography, counts, cat)
    measures = aggregate_measures(geography, counts.assign(variable="gruen", value=1.0), cat)
    both = pd.concat([cells, measures.astype({"value": "Int64"})], ignore_index=True)
    protected = protect(both, geography.areas, cat)
    assert len(protected.status) == len(cells)
    assert (protected.status == "published").all()
    assert protected.log.empty

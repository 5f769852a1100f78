"""The serial stages' integer codes give the same frames as the plain pandas way.

``aggregate``, ``cell_digests``, the latest years and the value groups of a release work on
integer codes (``geo.stats.codes``) instead of grouping and sorting string columns; these
tests compare them with straightforward pandas references (the former implementations).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import COUNTS, write_small_geography

from geo.inputs.catalogue import load_catalogue
from geo.inputs.counts import read_counts
from geo.inputs.geography import load_geography
from geo.inputs.periods import is_period, parse_year_key, year_sort_key
from geo.release.digests import cell_digests
from geo.release.files import read_build
from geo.release.tables import _groups
from geo.stats.aggregate import aggregate
from geo.stats.codes import combined, factorize


def _reference_aggregate(geography: Any, counts: pd.DataFrame, catalogue: Any) -> pd.DataFrame:
    """Cells the pandas way: reindex, groupby per level, pooled periods, one sort."""
    areas, levels = geography.areas, list(geography.level_ids)
    variables = [v.id for v in catalogue.variables if getattr(v, "type", "count") == "count"]
    years = sorted(int(y) for y in counts["year"].unique())
    counts = counts[counts["variable"].isin(variables)]
    finest = areas.loc[areas["level"] == levels[-1], "area_id"].tolist()
    index = pd.MultiIndex.from_product([finest, variables, years],
                                       names=["area_id", "variable", "year"])
    child = (counts.set_index(["area_id", "variable", "year"])["value"].astype("Int64")
             .reindex(index).rename("value").reset_index())
    frames = {levels[-1]: child}
    for position in range(len(levels) - 1, -1, -1):
        parent_level = levels[position - 1] if position > 0 else "total"
        kids = areas[areas["level"] == levels[position]]
        parents = pd.Series(kids["parent_id"].to_numpy(), index=kids["area_id"])
        frame = child.assign(parent=child["area_id"].map(parents), na=child["value"].isna())
        frame["value"] = frame["value"].fillna(0)
        grouped = frame.groupby(["parent", "variable", "year"]).agg(
            value=("value", "sum"), na=("na", "any"))
        ids = areas.loc[areas["level"] == parent_level, "area_id"].tolist()
        full = pd.MultiIndex.from_product([ids, variables, years],
                                          names=["parent", "variable", "year"])
        child = (grouped["value"].astype("Int64").mask(grouped["na"]).reindex(full)
                 .rename("value").reset_index().rename(columns={"parent": "area_id"}))
        frames[parent_level] = child
    cells = pd.concat([frames[lv].assign(level=lv) for lv in ["total", *levels]],
                      ignore_index=True)
    pools = []
    for period in catalogue.periods:
        rows = cells[cells["year"].isin(period.years) & cells["variable"].map(period.covers)]
        grouped = rows.assign(na=rows["value"].isna(), value=rows["value"].fillna(0)).groupby(
            ["level", "area_id", "variable"]).agg(value=("value", "sum"), na=("na", "any"))
        grouped["value"] = grouped["value"].astype("Int64").mask(grouped["na"])
        pools.append(grouped.reset_index().assign(year=period.label))
    cells = pd.concat([cells.astype({"year": object}), *pools], ignore_index=True)
    rank = {lv: i for i, lv in enumerate(["total", *levels])}
    cells = cells.assign(
        r_level=cells["level"].map(rank), r_var=cells["variable"].map(variables.index),
        r_year=cells["year"].map(year_sort_key))
    cells = cells.sort_values(["r_level", "area_id", "r_var", "r_year"], kind="stable")
    out = cells[["level", "area_id", "variable", "year", "value"]].reset_index(drop=True)
    return out.astype({"value": "Int64", "level": "str", "area_id": "str", "variable": "str"})


def _pooled_geography(tmp_path: Path, counts: dict[str, tuple[int, ...]] = COUNTS) -> Path:
    """The small geography with two years (one cell missing) and a period over both."""
    folder = write_small_geography(tmp_path / "g", counts=counts)
    text = (folder / "counts.csv").read_text()
    extra = re.sub(r",2022,sgb2,\d+", ",2022,sgb2,.",
                   text.replace(",2023,", ",2022,").split("\n", 1)[1], count=1)
    (folder / "counts.csv").write_text(text + extra)
    with (folder / "indicators.toml").open("a") as fh:
        fh.write('\n[[periods]]\nfirst = 2022\nlast = 2023\nvariables = ["einwohner", "sgb2"]\n')
    return folder


def _inputs(folder: Path) -> tuple[Any, pd.DataFrame, Any]:
    geography = load_geography(folder)
    catalogue = load_catalogue(folder / "indicators.toml")
    ids = set(geography.areas.loc[geography.areas["level"] == "quartier", "area_id"])
    counts = read_counts(folder / "counts.csv", area_ids=ids,
                         variables=[v.id for v in catalogue.variables])
    return geography, counts, catalogue


def test_aggregate_equals_the_pandas_reference(tmp_path: Path) -> None:
    """Every level, variable, year and period, missing cells included, in the same order."""
    geography, counts, catalogue = _inputs(
        _pooled_geography(tmp_path, {k: v for k, v in COUNTS.items() if k != "21"}))
    cells = aggregate(geography, counts, catalogue)
    pd.testing.assert_frame_equal(cells, _reference_aggregate(geography, counts, catalogue))
    assert cells["value"].isna().any() and (cells["year"] == "2022-2023").any()
    assert [type(y) for y in cells["year"].unique()] == [int, int, str]


def test_aggregate_refuses_a_cell_given_twice(small_geography: Path) -> None:
    """A repeated (area, variable, year) cannot be placed, as pandas' reindex refuses it."""
    geography, counts, catalogue = _inputs(small_geography)
    with pytest.raises(ValueError, match="duplicate"):
        aggregate(geography, pd.concat([counts, counts.iloc[:1]]), catalogue)


def test_digests_do_not_depend_on_row_order(tmp_path: Path) -> None:
    """The digests hash sorted lines: shuffled cells give the same digests, other counts not."""
    geography, counts, catalogue = _inputs(_pooled_geography(tmp_path))
    cells = aggregate(geography, counts, catalogue)
    digests = cell_digests(cells, b"k" * 32)
    assert set(digests) == {2022, 2023} and set(digests[2023]) == {"einwohner", "auslaender",
                                                                   "sgb2"}
    shuffled = cells.sample(frac=1, random_state=1).reset_index(drop=True)
    assert cell_digests(shuffled, b"k" * 32) == digests
    changed = cells.copy()
    changed.loc[changed.index[0], "value"] = 1 + changed["value"].iloc[0]
    assert cell_digests(changed, b"k" * 32) != digests


@pytest.mark.parametrize("values", [
    np.array(["b", "b", "a", "a", "b", np.nan, np.nan, None, "a"], dtype=object),
    np.array([2023, 2023, "2022-2023", 2022, 2022.0, True, 1], dtype=object),
    np.array([pd.NA, pd.NA, "x", "x"], dtype=object),
    np.array(["z"] * 5000 + ["y"] * 3 + ["z"], dtype=object),
    np.array([f"{i % 7}" for i in range(9000)], dtype=object),
    np.arange(10) % 3,
    np.array([], dtype=object),
])
def test_factorize_equals_pandas(values: np.ndarray) -> None:
    """Codes and uniques as ``pd.factorize(..., use_na_sentinel=False)``, with or without runs."""
    codes, uniques = factorize(pd.Series(values, dtype=values.dtype))
    want_codes, want_uniques = pd.factorize(values, use_na_sentinel=False)
    assert codes.tolist() == want_codes.tolist()
    assert [repr(u) for u in uniques] == [repr(u) for u in np.asarray(want_uniques, dtype=object)]


def test_combined_codes_tell_the_combinations_apart() -> None:
    """Equal codes exactly for equal (level, area_id) pairs."""
    frame = pd.DataFrame({"level": ["a", "a", "b", "b", "a"], "area_id": ["1", "2", "1", "1",
                                                                            "1"]})
    codes = combined(frame, ["level", "area_id"])
    assert len(set(codes.tolist())) == 3 and codes[0] == codes[4] and codes[2] == codes[3]


def test_latest_years_and_value_groups_equal_the_pandas_reference(mini_data: Path) -> None:
    """The latest single year per indicator and the rows of each (indicator, year, level)."""
    published = read_build(mini_data / "mini")
    values = published.values
    shown = values[values["status"] != "missing"]
    shown = shown[[not is_period(y) for y in shown["year"]]]
    want = {str(k): int(v) for k, v in shown.groupby("indicator")["year"].max().items()}
    assert published._latest_years == want
    groups = values.groupby(["indicator", "year", "level"], sort=False).indices
    expected = {(str(i), parse_year_key(y), str(lv)): idx for (i, y, lv), idx in groups.items()}
    found = _groups(published)
    assert found.keys() == expected.keys()
    assert all(found[k].tolist() == expected[k].tolist() for k in expected)

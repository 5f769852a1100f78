"""Aggregation to every level and the total."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import COUNTS, write_small_geography

from geo.inputs.catalogue import load_catalogue
from geo.inputs.counts import read_counts
from geo.inputs.geography import load_geography
from geo.stats.aggregate import aggregate


def _cells(folder: Path) -> pd.DataFrame:
    geography = load_geography(folder)
    catalogue = load_catalogue(folder / "indicators.toml")
    ids = set(geography.areas.loc[geography.areas["level"] == "quartier", "area_id"])
    counts = read_counts(
        folder / "counts.csv", area_ids=ids, variables=[v.id for v in catalogue.variables]
    )
    return aggregate(geography, counts, catalogue)


def _value(cells: pd.DataFrame, level: str, area: str, variable: str) -> object:
    row = cells[
        (cells["level"] == level) & (cells["area_id"] == area) & (cells["variable"] == variable)
    ]
    assert len(row) == 1
    return row["value"].iloc[0]


def test_parents_are_sums_of_children(small_geography: Path) -> None:
    """A Stadtbezirk is the sum of its Quartiere, the total the sum of the Stadtbezirke."""
    cells = _cells(small_geography)
    nord = sum(COUNTS[k][0] for k in ("10", "11", "12"))
    assert _value(cells, "stadtbezirk", "1", "einwohner") == nord
    assert _value(cells, "total", "mini", "einwohner") == sum(v[0] for v in COUNTS.values())


def test_a_missing_child_makes_the_parent_missing(tmp_path: Path) -> None:
    """A sum over a missing cell is missing, never silently smaller."""
    folder = write_small_geography(tmp_path / "g")
    text = (folder / "counts.csv").read_text().replace("12,2023,sgb2,1\n", "12,2023,sgb2,.\n")
    (folder / "counts.csv").write_text(text)
    cells = _cells(folder)
    assert pd.isna(_value(cells, "quartier", "12", "sgb2"))
    assert pd.isna(_value(cells, "stadtbezirk", "1", "sgb2"))
    assert pd.isna(_value(cells, "total", "mini", "sgb2"))
    assert _value(cells, "stadtbezirk", "2", "sgb2") == 25 + 230


def test_an_area_absent_from_the_counts_is_missing(tmp_path: Path) -> None:
    """Areas without any row in the counts file are missing, and so are their parents."""
    folder = write_small_geography(
        tmp_path / "g", counts={k: v for k, v in COUNTS.items() if k != "21"}
    )
    cells = _cells(folder)
    assert pd.isna(_value(cells, "quartier", "21", "einwohner"))
    assert pd.isna(_value(cells, "stadtbezirk", "2", "einwohner"))
    assert _value(cells, "stadtbezirk", "1", "einwohner") == 1200 + 800 + 950


def test_every_area_variable_and_year_has_one_cell(small_geography: Path) -> None:
    """Cells cover the full grid: 8 areas (total included) × 3 variables × 1 year."""
    cells = _cells(small_geography)
    assert len(cells) == 8 * 3
    assert not cells.duplicated(["level", "area_id", "variable", "year"]).any()
    assert cells["level"].iloc[0] == "total"


def test_pooled_cells_sum_their_years_and_miss_with_any_year(tmp_path: Path) -> None:
    """A period's cell is the sum of its years; one missing year makes it missing."""
    folder = write_small_geography(tmp_path / "g")
    text = (folder / "counts.csv").read_text()
    extra = text.replace(",2023,", ",2022,").split("\n", 1)[1].replace("12,2022,sgb2,1\n",
                                                                       "12,2022,sgb2,.\n")
    (folder / "counts.csv").write_text(text + extra)
    with (folder / "indicators.toml").open("a") as fh:
        fh.write('\n[[periods]]\nfirst = 2022\nlast = 2023\nvariables = ["einwohner", "sgb2"]\n')
    cells = _cells(folder)
    pooled = cells[cells["year"] == "2022-2023"]
    assert set(pooled["variable"]) == {"einwohner", "sgb2"}
    row = pooled[(pooled["area_id"] == "10") & (pooled["variable"] == "einwohner")]
    assert row["value"].iloc[0] == 2 * COUNTS["10"][0]
    sgb2 = pooled[pooled["variable"] == "sgb2"].set_index("area_id")["value"]
    assert pd.isna(sgb2["12"]) and pd.isna(sgb2["1"]) and sgb2["20"] == 2 * 25
    assert list(cells["year"].drop_duplicates()) == [2022, 2023, "2022-2023"]

"""The fast paths of the classification give what the plain computations give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from test_classes import assert_mapclassify_bins

from geo.render import classes


@pytest.mark.parametrize("cells", [1, 37, 500, 1 << 20])
def test_blocks_of_any_size_give_mapclassify_bins(monkeypatch: pytest.MonkeyPatch,
                                                  cells: int) -> None:
    """Every block size (one row per block up to the whole programme) gives the same bins."""
    monkeypatch.setattr(classes, "_FJ_CELLS", cells)
    rng = np.random.default_rng(11)
    for trial in range(40):
        n = int(rng.integers(8, 70))
        y = [np.round(rng.gamma(2, 5, n), 1), rng.integers(0, 9, n).astype(float),
             np.repeat(np.round(rng.uniform(0, 1, n), 2), 3)][trial % 3]
        k = int(rng.integers(2, 8))
        if len(np.unique(y)) < k:
            continue
        assert_mapclassify_bins(y, k)


def test_published_rates_are_the_published_rows_with_a_rate() -> None:
    """Only rows with status ``published`` and a rate, by area_id, as floats."""
    rows = pd.DataFrame({
        "area_id": ["a", "b", "c", "d", "e"],
        "rate": [1.5, np.nan, 3.0, 4.0, 2.0],
        "status": pd.array(["published", "published", "suppressed", "missing", "published"],
                           dtype="string"),
        "numerator": pd.array([1, None, None, None, 2], dtype="Int64"),
    }).set_index("area_id")
    expected = rows[(rows["status"] == "published") & rows["rate"].notna()]["rate"]
    got = classes.published_rates(rows)
    pd.testing.assert_series_equal(got, expected.astype(float))
    assert got.to_dict() == {"a": 1.5, "e": 2.0}

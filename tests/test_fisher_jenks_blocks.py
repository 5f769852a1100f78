"""Fisher-Jenks computed in blocks of rows gives mapclassify's bins whatever the block size."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from mapclassify.classifiers import _fisher_jenks_means

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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Numba not installed"
            expected = _fisher_jenks_means(np.sort(y).astype("f8"), classes=k)
        assert np.array_equal(classes.fisher_jenks_bins(y, k), expected), (len(y), k)

"""Rates and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, poisson

from geo.stats.rates import BYAR_FROM, compute_values, poisson_interval, wilson_interval


@pytest.mark.parametrize(("k", "n"), [(0, 10), (1, 40), (17, 250), (300, 1200), (40, 40)])
def test_wilson_matches_scipy(k: int, n: int) -> None:
    """The Wilson interval agrees with scipy's independent implementation."""
    lo, hi = wilson_interval(np.array([k]), np.array([n]))
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert lo[0] == pytest.approx(ref.low, abs=1e-9)
    assert hi[0] == pytest.approx(ref.high, abs=1e-9)


@pytest.mark.parametrize("k", [1, 3, 9])
def test_exact_poisson_limits_have_the_right_tail_probability(k: int) -> None:
    """Below 10 events the limits are exact: each tail holds 2.5 %."""
    lo, hi = poisson_interval(np.array([k]))
    assert poisson.sf(k - 1, lo[0]) == pytest.approx(0.025, abs=1e-6)
    assert poisson.cdf(k, hi[0]) == pytest.approx(0.025, abs=1e-6)


def test_zero_events_have_zero_lower_limit() -> None:
    """No events: the lower limit is 0 and the upper the exact 3.69."""
    lo, hi = poisson_interval(np.array([0]))
    assert lo[0] == 0
    assert hi[0] == pytest.approx(3.6889, abs=1e-3)


@pytest.mark.parametrize("k", [BYAR_FROM, 25, 400])
def test_byar_is_close_to_exact_from_ten_events(k: int) -> None:
    """Byar's approximation, used from 10 events on, stays within 1 % of the exact limits."""
    lo, hi = poisson_interval(np.array([k]))
    exact_lo = poisson_interval(np.array([k]))  # same call, compared with the chi2 form below
    from scipy.stats import chi2

    assert lo[0] == pytest.approx(chi2.ppf(0.025, 2 * k) / 2, rel=0.01)
    assert hi[0] == pytest.approx(chi2.ppf(0.975, 2 * (k + 1)) / 2, rel=0.01)
    assert exact_lo[0][0] == lo[0]


def _cells(rows: list[tuple[str, str, str, int, int | None, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["level", "area_id", "variable", "year", "value", "status"])
    frame["value"] = frame["value"].astype("Int64")
    return frame


class _Ind:
    def __init__(self, kind: str = "proportion") -> None:
        self.id, self.numerator, self.denominator, self.per, self.kind = "q", "n", "d", 100.0, kind


class _Var:
    id = "n"


class _Cat:
    variables = (_Var(),)
    indicators = (_Ind(),)


AREAS = pd.DataFrame(
    {
        "level": ["total", "q", "q"],
        "area_id": ["t", "a", "b"],
        "name": ["T", "A", "B"],
        "parent_id": ["", "t", "t"],
    }
)


def test_rows_with_a_withheld_cell_carry_nothing() -> None:
    """A row whose numerator is withheld has no numerator, denominator, rate, interval or flags."""
    cells = _cells(
        [
            ("total", "t", "n", 2023, 50, "published"),
            ("total", "t", "d", 2023, 1000, "published"),
            ("q", "a", "n", 2023, None, "suppressed"),
            ("q", "a", "d", 2023, 400, "published"),
            ("q", "b", "n", 2023, 48, "published"),
            ("q", "b", "d", 2023, 600, "published"),
        ]
    )
    values = compute_values(cells, AREAS, _Cat()).set_index("area_id")
    row = values.loc["a"]
    assert row["status"] == "suppressed"
    assert pd.isna(row["numerator"]) and pd.isna(row["denominator"])
    assert pd.isna(row["rate"]) and pd.isna(row["ci_low"]) and pd.isna(row["ci_high"])
    assert pd.isna(row["reliable"]) and pd.isna(row["vs_total"])
    assert values.loc["b", "rate"] == pytest.approx(8.0)


def test_comparison_with_total_and_reliability() -> None:
    """An interval above the total's rate is 'higher'; a base under 300 is unreliable."""
    cells = _cells(
        [
            ("total", "t", "n", 2023, 100, "published"),
            ("total", "t", "d", 2023, 2000, "published"),
            ("q", "a", "n", 2023, 80, "published"),
            ("q", "a", "d", 2023, 400, "published"),
            ("q", "b", "n", 2023, 15, "published"),
            ("q", "b", "d", 2023, 250, "published"),
        ]
    )
    values = compute_values(cells, AREAS, _Cat()).set_index("area_id")
    assert values.loc["a", "vs_total"] == "higher"
    assert values.loc["b", "vs_total"] == "similar"
    assert bool(values.loc["a", "reliable"]) is True
    assert bool(values.loc["b", "reliable"]) is False
    assert pd.isna(values.loc["t", "vs_total"])


def test_missing_wins_over_suppressed() -> None:
    """A row with a missing cell is 'missing' even when the other cell is withheld."""
    cells = _cells(
        [
            ("total", "t", "n", 2023, None, "missing"),
            ("total", "t", "d", 2023, None, "suppressed"),
            ("q", "a", "n", 2023, 5, "published"),
            ("q", "a", "d", 2023, 400, "published"),
            ("q", "b", "n", 2023, 5, "published"),
            ("q", "b", "d", 2023, 400, "published"),
        ]
    )
    values = compute_values(cells, AREAS, _Cat()).set_index("area_id")
    assert values.loc["t", "status"] == "missing"
    assert pd.isna(values.loc["a", "vs_total"])

"""Change of a rate between two years: the difference with its 95 % interval, per area.

``change = rate(Y) − rate(Y0)`` in the indicator's unit (percentage points for a % share), the
difference of the two *published* (rounded) rates. Its interval combines the interval of each
side by MOVER, the "method of variance estimates recovery" (Zou & Donner 2008, Statistics in
Medicine 27:1693–1702)::

    low  = d − sqrt((r − l)² + (u0 − r0)²)
    high = d + sqrt((u − r)² + (r0 − l0)²)

with ``r, l, u`` the rate and limits of year Y and ``r0, l0, u0`` those of Y0:

- proportions (``kind = "proportion"``): Wilson score limits of each side, i.e. Newcombe's
  hybrid score interval (Newcombe 1998, Statistics in Medicine 17:873–890, method 10); it
  stays inside [−1, 1], has close to nominal coverage and needs no continuity correction;
- event rates (``kind = "rate"``): the exact Poisson (below ``BYAR_FROM`` events) or Byar
  limits of each side that ``geo.stats.rates`` publishes, divided by the denominator.

Measures (``kind = "value"`` or ``"ratio"``) are published without an interval: their change
is the difference of the published values, its interval and direction stay empty (nothing to
judge a direction by).

Assumption: the two years are independent samples. For the same population counted twice
(most residents stay), the two shares are positively correlated, the true variance of the
difference is smaller, and the interval is conservative (wider than needed): a change called
``increase`` or ``decrease`` is safe, ``similar`` can hide a small real change.

The interval is computed from the unrounded counts, scaled by ``per`` and rounded to
``DECIMALS``; where rounding would put ``change`` just outside it, the bound is moved to
``change`` (at most one unit of the last decimal). ``change_direction`` reads the published
bounds: ``increase`` if the lower bound is above 0, ``decrease`` if the upper is below 0, else
``similar``. Any side without a published rate (withheld, missing, zero denominator) leaves
all four fields empty.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from geo.errors import ParameterError
from geo.inputs.periods import YearKey, parse_year_key, period_years
from geo.stats.rates import DECIMALS, poisson_interval, wilson_interval

CHANGE_FIELDS = ["change", "change_ci_low", "change_ci_high", "change_direction"]
"""The columns a comparison adds to each value row (JSON keys and CSV header)."""
DIRECTIONS = ("increase", "decrease", "similar")
"""The words of ``change_direction``."""



def mover_interval(
    est: np.ndarray, low: np.ndarray, high: np.ndarray,
    est0: np.ndarray, low0: np.ndarray, high0: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """MOVER limits of ``est − est0`` from each estimate's own limits (Zou & Donner 2008)."""
    d = est - est0
    return (d - np.sqrt((est - low) ** 2 + (high0 - est0) ** 2),
            d + np.sqrt((high - est) ** 2 + (est0 - low0) ** 2))


def proportion_difference(
    k: np.ndarray, n: np.ndarray, k0: np.ndarray, n0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k/n − k0/n0`` with Newcombe's hybrid score interval (method 10; n, n0 > 0)."""
    k, n, k0, n0 = (np.asarray(a, dtype=float) for a in (k, n, k0, n0))
    low, high = wilson_interval(k, n)
    low0, high0 = wilson_interval(k0, n0)
    p, p0 = k / n, k0 / n0
    lo, hi = mover_interval(p, low, high, p0, low0, high0)
    return p - p0, lo, hi


def rate_difference(
    k: np.ndarray, n: np.ndarray, k0: np.ndarray, n0: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``k/n − k0/n0`` for event counts over populations, MOVER of exact/Byar Poisson limits."""
    k, n, k0, n0 = (np.asarray(a, dtype=float) for a in (k, n, k0, n0))
    low, high = poisson_interval(k)
    low0, high0 = poisson_interval(k0)
    r, r0 = k / n, k0 / n0
    lo, hi = mover_interval(r, low / n, high / n, r0, low0 / n0, high0 / n0)
    return r - r0, lo, hi


def change_direction(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """``increase`` / ``decrease`` when the interval excludes 0, else ``similar``; None if empty."""
    low = np.asarray(low, dtype=float)
    high = np.asarray(high, dtype=float)
    out = np.full(low.shape, None, dtype=object)
    valid = ~np.isnan(low) & ~np.isnan(high)
    out[valid] = "similar"
    out[valid & (low > 0)] = "increase"
    out[valid & (high < 0)] = "decrease"
    return out


def change_table(
    numerator: Any, denominator: Any, numerator0: Any, denominator0: Any,
    *, kind: str, per: float,
) -> pd.DataFrame:
    """The four change fields for aligned areas of year Y (``numerator``, ``denominator``)
    and year Y0 (``numerator0``, ``denominator0``); NaN marks a count that is not published.

    Returns a frame with ``CHANGE_FIELDS`` (floats in the indicator's unit, the direction as
    text), empty where either side has no published rate.
    """
    k, n, k0, n0 = (np.asarray(pd.array(a, dtype="Float64").to_numpy(dtype=float,
                                                                        na_value=np.nan))
                    for a in (numerator, denominator, numerator0, denominator0))
    ok = ~(np.isnan(k) | np.isnan(n) | np.isnan(k0) | np.isnan(n0)) & (n > 0) & (n0 > 0)
    safe = (np.where(ok, k, 0.0), np.where(ok, n, 1.0), np.where(ok, k0, 0.0),
            np.where(ok, n0, 1.0))
    difference = rate_difference if kind == "rate" else proportion_difference
    _, lo, hi = difference(*safe)
    scale = float(per)
    # the published rates, exactly as geo.stats.rates rounds them
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.round(k / n * scale, DECIMALS)
        rate0 = np.round(k0 / n0 * scale, DECIMALS)
    change = np.where(ok, np.round(rate - rate0, DECIMALS), np.nan)
    low = np.where(ok, np.minimum(np.round(lo * scale, DECIMALS), change), np.nan)
    high = np.where(ok, np.maximum(np.round(hi * scale, DECIMALS), change), np.nan)
    return pd.DataFrame({
        "change": change,
        "change_ci_low": low,
        "change_ci_high": high,
        "change_direction": pd.Series(change_direction(low, high), dtype=object),
    })


def measure_change(value: Any, value0: Any) -> pd.DataFrame:
    """The change fields of a measure: the difference of the published values (NaN = not
    published), no interval and no direction."""
    v, v0 = (pd.array(a, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
             for a in (value, value0))
    change = np.round(v - v0, DECIMALS)
    empty = np.full(len(change), np.nan)
    return pd.DataFrame({
        "change": change,
        "change_ci_low": empty,
        "change_ci_high": empty,
        "change_direction": pd.Series(np.full(len(change), None, dtype=object), dtype=object),
    })


def _span(key: YearKey) -> tuple[int, int]:
    years = period_years(key)
    return years[0], years[-1]


def comparable_years(year: Any, compare: Any) -> tuple[YearKey, YearKey]:
    """The year keys of ``year`` and ``compare`` if they compare like with like.

    Allowed: a year with another year, or a period with another period of the same length.

    Raises:
        ParameterError: text that is no year key, a year against a period, periods of
            different lengths, or the same key twice.
    """
    key = parse_year_key(year)
    try:
        key0 = parse_year_key(compare)
    except ParameterError as exc:
        raise ParameterError(f"compare {str(exc).removeprefix('year ')}") from None
    span, span0 = _span(key), _span(key0)
    allowed = "compare a year with another year, or a period with another period of the same length"

    def what(s: tuple[int, int]) -> str:
        return "a single year" if s[0] == s[1] else f"a period of {s[1] - s[0] + 1} years"

    if span == span0:
        raise ParameterError(f"compare={key0} is the same as year={key}: {allowed}")
    if span[1] - span[0] != span0[1] - span0[0]:
        raise ParameterError(
            f"year={key} ({what(span)}) cannot be compared with compare={key0} ({what(span0)}): "
            f"{allowed}")
    return key, key0

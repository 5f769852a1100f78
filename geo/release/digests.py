"""Keyed digests of a build's raw cells, one per year: which years two releases share.

A year's digest is an HMAC (the installation's key) of every cell of that year, all levels,
sorted. A plain hash would let anyone confirm a guess of the withheld cells against the
manifest; the HMAC only tells the installation that two releases hold the same counts.
"""

from __future__ import annotations

import hmac

import pandas as pd

DIGEST_PREFIX = "hmac-sha256:"


def year_digests(cells: pd.DataFrame, key: bytes) -> dict[int, str]:
    """``{year: "hmac-sha256:..."}`` of raw cells (``level, area_id, variable, year, value``)."""
    out = {}
    for year, frame in cells.groupby("year", sort=True):
        value = pd.array(frame["value"], dtype="Int64").astype("string").fillna("")
        lines = (
            frame["level"].astype(str) + "\t" + frame["area_id"].astype(str) + "\t"
            + frame["variable"].astype(str) + "\t" + pd.Series(value, index=frame.index)
        ).sort_values(kind="mergesort")
        payload = f"{int(year)}\n" + "\n".join(lines.tolist())
        out[int(year)] = DIGEST_PREFIX + hmac.new(key, payload.encode(), "sha256").hexdigest()
    return out

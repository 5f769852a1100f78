"""Keyed digests of a build's raw cells, one per year and variable: which counts releases share.

A digest is an HMAC (the installation's key) of every cell of one year and variable, all
levels, sorted. A plain hash would let anyone confirm a guess of the withheld cells against the
manifest; the HMAC only tells the installation that two releases hold the same counts.
"""

from __future__ import annotations

import hmac

import numpy as np
import pandas as pd

DIGEST_PREFIX = "hmac-sha256:"

Digests = dict[int, dict[str, str]]
"""``{year: {variable: "hmac-sha256:..."}}``."""


def cell_digests(cells: pd.DataFrame, key: bytes) -> Digests:
    """The digest of each year's and variable's raw cells (``level, area_id, value``)."""
    out: Digests = {}
    # pooled periods are sums of their years: the single years identify the counts
    single = cells[cells["year"].map(lambda y: isinstance(y, (int, np.integer)))]
    for (year, variable), frame in single.groupby(["year", "variable"], sort=True):
        value = pd.array(frame["value"], dtype="Int64").astype("string").fillna("")
        lines = (
            frame["level"].astype(str) + "\t" + frame["area_id"].astype(str) + "\t"
            + pd.Series(value, index=frame.index)
        ).sort_values(kind="mergesort")
        payload = f"{int(year)}\t{variable}\n" + "\n".join(lines.tolist())
        digest = DIGEST_PREFIX + hmac.new(key, payload.encode(), "sha256").hexdigest()
        out.setdefault(int(year), {})[str(variable)] = digest
    return out

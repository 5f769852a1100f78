"""Keyed digests of a build's raw cells, one per year and variable: which counts releases share.

A digest is an HMAC (the installation's key) of every cell of one year and variable, all
levels, sorted. A plain hash would let anyone confirm a guess of the withheld cells against the
manifest; the HMAC only tells the installation that two releases hold the same counts.
"""

from __future__ import annotations

import hmac

import numpy as np
import pandas as pd

from geo.stats.codes import factorize

DIGEST_PREFIX = "hmac-sha256:"

Digests = dict[int, dict[str, str]]
"""``{year: {variable: "hmac-sha256:..."}}``."""


def _texts(cells: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Each row's value as text ("" when missing), one ``str`` per distinct value."""
    value = pd.array(cells["value"], dtype="Int64")
    numbers = value.to_numpy(dtype="int64", na_value=0)[rows]
    codes, uniques = pd.factorize(numbers)
    texts = np.array([str(int(u)) for u in uniques] + [""], dtype=object)
    codes[value.isna()[rows]] = len(uniques)
    return texts[codes]


def cell_digests(cells: pd.DataFrame, key: bytes) -> Digests:
    """The digest of each year's and variable's raw cells (``level, area_id, value``)."""
    out: Digests = {}
    # pooled periods are sums of their years: the single years identify the counts
    year_code, years = factorize(cells["year"])
    whole = np.array([isinstance(y, (int, np.integer)) for y in years], dtype=bool)
    rows = np.flatnonzero(whole[year_code]) if len(years) else np.arange(len(cells))
    if not len(rows):
        return out
    level_code, level_names = factorize(cells["level"])
    id_code, id_names = factorize(cells["area_id"])
    variable_code, names = factorize(cells["variable"].astype(str))
    levels, ids, variables = level_code[rows], id_code[rows], variable_code[rows]
    width = max(len(id_names), 1)
    place, pairs = pd.factorize(levels.astype("int64") * width + ids)
    prefixes = np.array([f"{level_names[p // width]}\t{id_names[p % width]}\t"
                         for p in pairs.tolist()], dtype=object)
    text = _texts(cells, rows)
    used = [*level_names[np.bincount(levels, minlength=len(level_names)) > 0],
            *id_names[np.bincount(ids, minlength=len(id_names)) > 0]]
    if any("\t" in str(name) for name in used):
        # a tab inside an id: order by the whole lines, not by level and id
        place, prefixes = pd.factorize(prefixes[place] + text)
        text = np.full(len(text), "", dtype=object)
    # lines sorted within a year and variable (level and id decide: both are free of tabs)
    rank = np.argsort(np.argsort(prefixes, kind="stable"))
    year_of = np.array([int(y) if w else 0 for y, w in zip(years, whole, strict=True)],
                       dtype=np.int64)[year_code[rows]]
    name_rank = np.argsort(np.argsort(np.asarray(names, dtype=object), kind="stable"))
    order = np.lexsort((rank[place], name_rank[variables], year_of))
    # each line is prefix, text and a newline: one join per year and variable
    parts = np.empty((len(order), 3), dtype=object)
    parts[:, 0] = prefixes[place[order]]
    parts[:, 1] = text[order]
    parts[:, 2] = "\n"
    group = year_of[order] * len(names) + name_rank[variables[order]]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    for begin, end in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
        year, variable = int(year_of[order[begin]]), str(names[variables[order[begin]]])
        body = "".join(parts[begin:end].ravel()[:-1].tolist())
        payload = f"{year}\t{variable}\n" + body
        digest = DIGEST_PREFIX + hmac.new(key, payload.encode(), "sha256").hexdigest()
        out.setdefault(year, {})[variable] = digest
    return out

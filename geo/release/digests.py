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
    codes, years = pd.factorize(cells["year"], use_na_sentinel=False)
    whole = np.array([isinstance(y, (int, np.integer)) for y in years], dtype=bool)
    single = cells[whole[codes]] if len(years) else cells
    if not len(single):
        return out
    levels, level_names = pd.factorize(single["level"], use_na_sentinel=False)
    ids, id_names = pd.factorize(single["area_id"], use_na_sentinel=False)
    place, pairs = pd.factorize(levels.astype("int64") * max(len(id_names), 1) + ids)
    prefixes = np.array([f"{level_names[p // len(id_names)]}\t{id_names[p % len(id_names)]}\t"
                         for p in pairs.tolist()], dtype=object)
    value = pd.array(single["value"], dtype="Int64")
    text = np.where(value.isna(), "", value.to_numpy(dtype="int64", na_value=0).astype(str))
    variables, names = pd.factorize(single["variable"].astype(str))
    if any("\t" in str(name) for name in [*level_names, *id_names]):
        # a tab inside an id: order by the whole lines, not by level and id
        place, prefixes = pd.factorize(prefixes[place] + text.astype(object))
        text = np.full(len(text), "")
    # lines sorted within a year and variable (level and id decide: both are free of tabs)
    rank = np.argsort(np.argsort(prefixes, kind="stable"))
    year_of = single["year"].to_numpy(dtype="int64")
    name_rank = np.argsort(np.argsort(np.asarray(names, dtype=object), kind="stable"))
    order = np.lexsort((rank[place], name_rank[variables], year_of))
    prefix_of = prefixes[place[order]].tolist()
    text_of = text[order].tolist()
    group = year_of[order] * len(names) + name_rank[variables[order]]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    for begin, end in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
        year, variable = int(year_of[order[begin]]), str(names[variables[order[begin]]])
        body = "\n".join(map(str.__add__, prefix_of[begin:end], text_of[begin:end]))
        payload = f"{year}\t{variable}\n" + body
        digest = DIGEST_PREFIX + hmac.new(key, payload.encode(), "sha256").hexdigest()
        out.setdefault(year, {})[variable] = digest
    return out

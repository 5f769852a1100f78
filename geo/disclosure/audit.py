"""The attacker audit: what an outsider can compute about every withheld cell, and the verdict."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.disclosure.intervals import _table_intervals
from geo.disclosure.periods import _jobs
from geo.disclosure.primary import PROTECTION
from geo.disclosure.protection import Protection, _text
from geo.disclosure.reduced import _reduced_intervals
from geo.disclosure.table import _KEY, _build_cube, _build_tree, _Cube
from geo.errors import DisclosureError, ParameterError
from geo.inputs.periods import year_column


def _fmt_bound(v: float) -> str:
    return "∞" if math.isinf(v) else str(int(round(v)))


def _interval_lines(frame: pd.DataFrame) -> list[str]:
    out = []
    for row in frame.itertuples():
        tag = " zu schützen / protect" if row.primary else ""
        out.append(
            f"  {row.level}/{row.area_id} {row.variable} {row.year}: "
            f"[{_fmt_bound(row.lower)}, {_fmt_bound(row.upper)}] "
            f"Breite / width {_fmt_bound(row.width)}{tag}"
        )
    return out


@dataclass(frozen=True)
class AuditReport:
    """What an outsider can compute about every withheld cell, from published figures only."""

    ok: bool
    protection: int
    intervals: pd.DataFrame  # level, area_id, variable, year, lower, upper, width, primary
    under_protected: pd.DataFrame  # the primary rows of intervals narrower than protection
    published_primary: pd.DataFrame  # primary cells that were published (must be empty)
    contradictions: int  # withheld cells whose published surroundings are inconsistent

    @property
    def n_withheld(self) -> int:
        """Number of withheld cells."""
        return len(self.intervals)

    @property
    def n_primary(self) -> int:
        """Number of withheld cells that need protection (primary)."""
        return int(self.intervals["primary"].sum())

    def format(self, limit: int = 20) -> str:
        """A plain report for the people who sign off a release (German and English)."""
        lines = [
            "Geheimhaltungsprüfung / disclosure audit",
            f"Schutzbreite / protection width: {self.protection}",
            f"Gesperrte Zellen / withheld cells: {self.n_withheld} "
            f"(davon zu schützen / needing protection: {self.n_primary})",
        ]
        verdict = "BESTANDEN / PASSED" if self.ok else "NICHT BESTANDEN / FAILED"
        lines.append(f"Ergebnis / result: {verdict}")
        if len(self.published_primary):
            lines.append(
                f"FEHLER / ERROR: {len(self.published_primary)} zu schützende Zellen sind "
                "veröffentlicht / cells needing protection are published:"
            )
            for row in self.published_primary.head(limit).itertuples():
                lines.append(f"  {row.level}/{row.area_id} {row.variable} {row.year}")
        if self.contradictions:
            lines.append(
                f"FEHLER / ERROR: {self.contradictions} gesperrte Zellen stehen im Widerspruch "
                "zu veröffentlichten Summen / withheld cells contradict published sums"
            )
        if len(self.under_protected):
            lines.append(
                f"FEHLER / ERROR: {len(self.under_protected)} Zellen zu eng eingrenzbar / "
                "cells can be narrowed too far:"
            )
            lines += _interval_lines(self.under_protected.head(limit))
        if len(self.intervals) and limit > 0:
            lines.append(
                f"Die {min(limit, len(self.intervals))} engsten Intervalle / narrowest intervals "
                "(was ein Außenstehender berechnen kann / what an outsider can compute):"
            )
            lines += _interval_lines(self.intervals.head(limit))
        lines.append(
            "Lesart / how to read: [untere, obere] Grenze, die jeder aus den veröffentlichten "
            "Zahlen ableiten kann; 'zu schützen' = muss mindestens die Schutzbreite haben. / "
            "[lower, upper] bounds anyone can derive from the published figures; cells marked "
            "'protect' must be at least the protection width wide."
        )
        return "\n".join(lines)


def _as_keys(primary: Any) -> pd.DataFrame:
    if isinstance(primary, pd.DataFrame):
        frame = primary[_KEY].copy()
    else:
        frame = pd.DataFrame(list(primary), columns=_KEY)
    frame["level"] = frame["level"].astype(str)
    frame["area_id"] = frame["area_id"].astype(str)
    frame["variable"] = frame["variable"].astype(str)
    frame["year"] = year_column(frame["year"]).to_numpy()
    return frame


def audit(
    cells: pd.DataFrame,
    areas: pd.DataFrame,
    sums: Iterable[Any],
    primary: Any,
    *,
    protection: int = PROTECTION,
) -> AuditReport:
    """Compute the outsider's exact interval of every withheld cell from published cells only.

    Relations: the area hierarchy, the declared ``sums`` and, for every pooled period in the
    cells (``year`` = ``"2010-2012"``), "period = sum of its years" per area and variable.

    Args:
        cells: ``level, area_id, variable, year, value, status``; only ``value`` of
            ``published`` cells is read.
        areas: ``level, area_id, name, parent_id``.
        sums: declared sum rules (``total``, ``parts``).
        primary: cells needing protection (frame or iterable of
            ``(level, area_id, variable, year)``), e.g. the log's primary rows.
        protection: required interval width.
    """
    if "status" not in cells.columns:
        raise DisclosureError("audit: cells need a status column")
    sums = list(sums)
    tree = _build_tree(areas)
    status = cells["status"].astype(str).to_numpy()
    published = status == "published"
    frame = cells[_KEY].copy()
    frame["value"] = pd.Series(
        pd.array(cells["value"], dtype="Int64"), index=cells.index
    ).where(published, pd.NA)
    # withheld cells get a placeholder so that the cube marks them present, not missing
    frame["value"] = frame["value"].where(status != "suppressed", 0)
    cube = _build_cube(frame, tree, [])
    withheld = np.zeros(cube.x.shape, dtype=bool)
    withheld.reshape(-1)[cube.rows[status == "suppressed"]] = True
    need = np.zeros(cube.x.shape, dtype=bool)
    try:
        keys = _as_keys(primary)
    except ParameterError as exc:
        raise DisclosureError(f"audit: primary cells: {exc}") from None
    if len(keys):
        node = tree.index.get_indexer(pd.MultiIndex.from_arrays([keys["level"], keys["area_id"]]))
        vpos = {v: i for i, v in enumerate(cube.variables)}
        ypos = {y: i for i, y in enumerate(cube.years)}
        v = np.array([vpos.get(v, -1) for v in keys["variable"].tolist()], dtype=np.int64)
        y = np.array([ypos.get(y, -1) for y in keys["year"].tolist()], dtype=np.int64)
        ok = (node >= 0) & (v >= 0) & (y >= 0)
        need[y[ok], v[ok], node[ok]] = True
    return _verdict(cube, withheld, need, sums, protection)


def _verdict(
    cube: _Cube, withheld: np.ndarray, need: np.ndarray, sums: list[Any], protection: int
) -> AuditReport:
    """The intervals of the ``withheld`` cells of ``cube`` (published values, withheld 0)."""
    tree = cube.tree
    pub_primary = need & ~withheld
    parts = []
    contradictions = 0
    years = np.array(cube.years, dtype=object)
    for job in _jobs(cube, sums):
        ys, vs = job.year_codes, job.var_codes
        w = withheld[ys, vs, :].reshape(-1)
        if not w.any():
            continue
        x = cube.x[ys, vs, :].reshape(-1)
        missing = (x < 0) & ~w
        got: tuple[np.ndarray, ...] | None = None
        if job.rules:  # linked: by elimination where the rules allow (exact, mostly trees)
            got = _reduced_intervals(tree, len(job.slots), job.rules, x, w, missing)
        if got is None:
            table = job.table(tree, np.where(w, 0, x), missing)
            got = _table_intervals(table, ~w & ~missing, np.maximum(x, 0))
        cells_, lo, hi = got
        contradictions += int(np.sum(lo > hi + 1e-9))
        parts.append((cells_ % tree.size, vs[cells_ // tree.size], ys[cells_ // tree.size],
                      lo, hi))
    if parts:
        node, var, yc, lo, hi = (np.concatenate(p) for p in zip(*parts, strict=True))
        intervals = pd.DataFrame(
            {
                "level": _text(tree.level[node]),
                "area_id": _text(tree.area_id[node]),
                "variable": _text(np.array(cube.variables, dtype=object)[var]),
                "year": years[yc],
                "lower": np.round(lo, 6),
                "upper": np.round(hi, 6),
                "primary": need[yc, var, node],
                "_order": (node * len(cube.variables) + var) * len(cube.years) + yc,
            }
        )
    else:
        intervals = pd.DataFrame(
            {c: pd.Series(dtype=t) for c, t in [("level", str), ("area_id", str),
             ("variable", str), ("year", object), ("lower", float), ("upper", float),
             ("primary", bool), ("_order", np.int64)]}
        )
    intervals["width"] = intervals["upper"] - intervals["lower"]
    intervals = intervals.sort_values(["width", "_order"], kind="mergesort")
    intervals = intervals.drop(columns="_order").reset_index(drop=True)
    intervals = intervals[_KEY + ["lower", "upper", "width", "primary"]]
    under = intervals[intervals["primary"] & (intervals["width"] < protection - 1e-9)]
    y, v, node = np.nonzero(pub_primary)
    pub = pd.DataFrame(
        {
            "level": tree.level[node].astype(str),
            "area_id": tree.area_id[node].astype(str),
            "variable": np.array(cube.variables, dtype=object)[v].astype(str),
            "year": years[y],
        }
    )
    ok = not len(under) and not len(pub) and contradictions == 0
    return AuditReport(
        ok=ok,
        protection=protection,
        intervals=intervals,
        under_protected=under.reset_index(drop=True),
        published_primary=pub,
        contradictions=contradictions,
    )


def audit_protected(
    cells: pd.DataFrame, protected: Protection, areas: pd.DataFrame, sums: Iterable[Any],
    *, protection: int = PROTECTION,
) -> AuditReport:
    """``audit`` of what ``protect`` made of ``cells`` (its status and primary log rows).

    When ``protected`` comes from ``protect`` on these very ``cells`` and ``areas``, its cube
    is reused (the cells' variables in the order ``audit`` would find them) instead of
    being built again from the published frame: the same report either way.
    """
    shared = protected.arrays
    if shared is None or shared.cells is not cells or shared.areas is not areas:
        return audit(
            cells.assign(value=cells["value"].where(protected.status == "published"),
                         status=protected.status),
            areas, sums, protected.log[protected.log["reason"] == "primary"],
            protection=protection,
        )
    full = shared.cube
    order = [full.variables.index(v) for v in full.seen]
    held = shared.withheld & (full.x >= 0)  # a missing cell is missing, withheld or not
    cube = _Cube(full.tree, list(full.seen), full.years,
                 np.where(held, 0, full.x)[:, order, :], full.present[:, order, :], full.rows)
    return _verdict(cube, held[:, order, :], shared.primary[:, order, :], list(sums), protection)

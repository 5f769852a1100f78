"""A new build among earlier online releases: what it keeps withheld, what it revises, the gate.

Per year and variable whose counts an earlier online release shares (``geo.release.union``):

- the new build starts from that release's pattern: every cell it withheld stays withheld
  (``forced_withheld`` -> ``protect(..., force_withheld=...)``), every cell it published is
  public forever (the union audit treats it as published);
- the union with every earlier release must pass the exact audit at the smallest protection
  width among them, or nothing is published (``cross_release_gate``, ``refusal``).

Revised counts are a new table; a cell withheld now whose old value an earlier release
published is only as safe as the size of the revision is unknown (``revised_public``,
``revised_note``: said in the build output and the sign-off log).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.disclosure import AuditReport
from geo.inputs.periods import YearKey, is_period, period_years, year_column
from geo.release.history import ReleaseInfo
from geo.release.union import KEY, Pattern, UnionGroup, same_counts, union_audit, union_groups


def _years(frame: pd.DataFrame) -> np.ndarray:
    """The year keys of ``frame`` as one type each (ints for years, labels for periods)."""
    return year_column(frame["year"]).to_numpy()


def _keys(frame: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays(
        [frame["level"].astype(str), frame["area_id"].astype(str),
         frame["variable"].astype(str), _years(frame)], names=KEY)


def _variables(info: ReleaseInfo, key: YearKey) -> list[str]:
    """The variables with raw counts under ``key`` (a period: those in all its years)."""
    if not is_period(key):
        return list(info.year_digests.get(int(key), {}))
    per_year = [set(info.year_digests.get(y, {})) for y in period_years(key)]
    return sorted(set.intersection(*per_year)) if per_year else []


def _cells_where(
    frame: pd.DataFrame, status: str, pairs: list[tuple[YearKey, str]]
) -> pd.DataFrame:
    """Rows of ``frame`` with ``status`` in the given (year, variable) pairs."""
    if not pairs:
        return frame.iloc[0:0]
    wanted = pd.MultiIndex.from_tuples(pairs)
    at = pd.MultiIndex.from_arrays([_years(frame), frame["variable"].astype(str)])
    return frame[(frame["status"] == status).to_numpy() & at.isin(wanted)]


def forced_withheld(
    cells: pd.DataFrame, new: ReleaseInfo, earlier: list[Pattern]
) -> tuple[pd.Series, list[str]]:
    """Per cell of a new build: withheld by an earlier online release of the same counts.

    Also returns the ids of the releases the pattern starts from (part of the new release's
    identity: ``history.PATTERN_FROM``).
    """
    mask = np.zeros(len(cells), dtype=bool)
    if not earlier:
        return pd.Series(mask, index=cells.index, name="force_withheld"), []
    keys = _keys(cells)
    basis = []
    for pattern in earlier:
        pairs = [(y, v) for y in new.years for v in _variables(new, y)
                 if same_counts(new, pattern.info, y, v)]
        if not pairs:
            continue
        basis.append(pattern.release_id)
        mask |= keys.isin(_keys(_cells_where(pattern.cells, "suppressed", pairs)))
    return pd.Series(mask, index=cells.index, name="force_withheld"), sorted(basis)


def revised_public(cells: pd.DataFrame, new: ReleaseInfo, earlier: list[Pattern]) -> pd.DataFrame:
    """Cells withheld in a new build whose old value an earlier release of other counts published.

    Returns ``level, area_id, variable, year, release`` (the earlier release), never a value.
    """
    withheld = cells[cells["status"] == "suppressed"]
    keys = _keys(withheld)
    found = []
    for pattern in earlier:
        pairs = [(y, v) for y in new.years if y in pattern.info.years
                 for v in _variables(new, y)
                 if not same_counts(new, pattern.info, y, v)]
        shown = _cells_where(pattern.cells, "published", pairs)
        if len(shown):
            hit = withheld[keys.isin(_keys(shown))]
            found.append(hit[KEY].assign(release=pattern.release_id))
    if not found:
        return pd.DataFrame(columns=[*KEY, "release"])
    return pd.concat(found, ignore_index=True)


def joined_groups(new: Pattern, earlier: list[Pattern]) -> list[UnionGroup]:
    """The groups of releases sharing counts that the new release joins."""
    return [g for g in union_groups([*earlier, new]) if new.release_id in g.release_ids]


def cross_release_gate(
    new: Pattern, earlier: list[Pattern]
) -> list[tuple[UnionGroup, AuditReport]]:
    """Audit every group the new release joins; return the failing ones."""
    failed = []
    patterns = [*earlier, new]
    for group in joined_groups(new, earlier):
        members = [p for p in patterns if p.release_id in group.release_ids]
        report = union_audit(members, group.years)
        if not report.ok:
            failed.append((group, report))
    return failed


def refusal(
    out: str, new: Pattern, failures: list[tuple[UnionGroup, AuditReport]],
    earlier: list[Pattern], limit: int = 10,
) -> str:
    """Why a build was refused for what it gives away together with earlier releases.

    Names cells, widths and what to do; never a bound (it could be a value).
    """
    lines = [
        "together with earlier online releases of the same counts, this build would let an "
        "outsider narrow down cells; nothing was published"
    ]
    others: dict[str, Pattern] = {}
    for group, report in failures:
        ids = [i for i in group.release_ids if i != new.release_id]
        others.update({p.release_id: p for p in earlier if p.release_id in ids})
        years = ", ".join(str(y) for y in group.years)
        lines.append(
            f"  with release(s) {', '.join(ids)}, years {years}, width {report.protection}: "
            f"{len(report.under_protected)} too narrow, {len(report.published_primary)} "
            f"published in one release but needing protection in another, "
            f"{report.contradictions} contradictory"
        )
        for row in report.under_protected.head(limit).itertuples():
            lines.append(f"    {row.level}/{row.area_id} {row.variable} {row.year}: "
                         f"width {row.width:g} < {report.protection}")
        for row in report.published_primary.head(limit).itertuples():
            lines.append(f"    {row.level}/{row.area_id} {row.variable} {row.year}: published")
    lines.append("what to do / was tun:")
    for rid, p in others.items():
        prm = p.info.parameters
        lines.append(f"  - build again with release {rid}'s parameters "
                     f"(--min-count {prm.min_count} --protection {prm.protection}),")
        lines.append(f"    or take release {rid} offline first: quartier withdraw {out} {rid} "
                     "(whoever downloaded it keeps its figures)")
    return "\n".join(lines)


def revised_note(revised: pd.DataFrame, limit: int = 10) -> list[str]:
    """Sign-off lines about withheld cells whose old value an earlier release published."""
    if not len(revised):
        return []
    cells = revised.drop_duplicates(KEY)
    lines = [
        f"Hinweis / note: {len(cells)} gesperrte Zellen wurden in einem früheren Release mit "
        "anderen Zahlen veröffentlicht; sie sind nur so sicher, wie die Revision unbekannt "
        f"ist / {len(cells)} withheld cells were published with other counts in an earlier "
        "release: they are only as safe as the size of the revision is unknown"
    ]
    for row in revised.head(limit).itertuples():
        lines.append(f"  {row.level}/{row.area_id} {row.variable} {row.year} "
                     f"(Release {row.release})")
    return lines

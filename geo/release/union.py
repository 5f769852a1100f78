"""Releases protect each other: what every online release of the same counts gives away together.

Two online releases of the same counts give an outsider the union of what each published: a
cell published in either is known, and both patterns' relations narrow the rest. So, per year
whose counts are unchanged (same keyed digest, ``geo.release.digests``):

- a new build starts from the earlier releases' patterns: every cell one of them withheld stays
  withheld (``forced_withheld`` -> ``protect(..., force_withheld=...)``);
- the union of the releases (published if published anywhere, primary if primary anywhere)
  must pass the exact audit at the smallest protection width among them (``union_audit``).

Revised counts (another digest) are a new table; a cell withheld now whose old value an
earlier release published is only as safe as the size of the revision is unknown
(``revised_public`` lists such cells for the sign-off report).
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.disclosure import AuditReport, audit
from geo.errors import DisclosureError
from geo.inputs.catalogue import Catalogue, SumRule
from geo.release.files import read_cells
from geo.release.history import ReleaseInfo, source_inputs
from geo.release.layout import AREAS_FILE, CATALOGUE_FILE, CELLS_FILE

KEY = ["level", "area_id", "variable", "year"]


@dataclass(frozen=True)
class Pattern:
    """One release as the combined audit needs it: published cells, primary cells, relations."""

    info: ReleaseInfo
    cells: pd.DataFrame
    """``level, area_id, variable, year, value, status`` (a value only where published)."""
    primary: pd.DataFrame
    """``level, area_id, variable, year`` of the cells needing protection (the log)."""
    areas: pd.DataFrame
    sums: tuple[SumRule, ...]

    @property
    def release_id(self) -> str:
        """The release's id."""
        return self.info.release_id

    @property
    def protection(self) -> int:
        """The protection width the release was built with."""
        return self.info.parameters.protection


@dataclass(frozen=True)
class UnionGroup:
    """Releases that hold the same counts for some years (audited together)."""

    release_ids: tuple[str, ...]
    years: tuple[int, ...]


def read_pattern(info: ReleaseInfo) -> Pattern:
    """A written release's pattern: its published cells and its sign-off log's primary cells."""
    if not info.log_path.exists():
        raise DisclosureError(
            f"{info.log_path}: suppression log not found (it lies beside the release)")
    log = pd.read_csv(info.log_path, dtype={"level": str, "area_id": str, "variable": str,
                                             "reason": str}, keep_default_na=False)
    catalogue = Catalogue.from_dict(
        json.loads((info.path / CATALOGUE_FILE).read_text(encoding="utf-8")))
    return Pattern(
        info=info,
        cells=read_cells(info.path / CELLS_FILE),
        primary=log.loc[log["reason"] == "primary", KEY].reset_index(drop=True),
        areas=pd.read_csv(info.path / AREAS_FILE, dtype=str, keep_default_na=False),
        sums=tuple(catalogue.sums),
    )


def same_counts(a: ReleaseInfo, b: ReleaseInfo, year: int) -> bool:
    """Do two releases hold the same raw counts for ``year``?

    By the keyed per-year digests; a release of an older version has none, and then only
    identical inputs (same counts file, geography and catalogue) count as the same counts.
    """
    if year not in a.years or year not in b.years:
        return False
    da, db = a.year_digests.get(year), b.year_digests.get(year)
    if da is not None and db is not None:
        return hmac.compare_digest(da, db)
    return bool(a.inputs) and source_inputs(a.inputs) == source_inputs(b.inputs)


def _keys(frame: pd.DataFrame) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays(
        [frame["level"].astype(str), frame["area_id"].astype(str),
         frame["variable"].astype(str), frame["year"].astype(np.int64)], names=KEY)


def forced_withheld(
    cells: pd.DataFrame, new: ReleaseInfo, earlier: list[Pattern]
) -> tuple[pd.Series, list[str]]:
    """Per cell of a new build: withheld by an earlier online release of the same counts.

    Also returns the ids of the releases the pattern starts from (they are part of the new
    release's identity: ``history.PATTERN_FROM``).
    """
    keys = _keys(cells)
    mask = np.zeros(len(cells), dtype=bool)
    basis = []
    for pattern in earlier:
        years = [y for y in new.years if same_counts(new, pattern.info, y)]
        if not years:
            continue
        basis.append(pattern.release_id)
        old = pattern.cells
        withheld = old[(old["status"] == "suppressed") & old["year"].isin(years)]
        mask |= keys.isin(_keys(withheld))
    return pd.Series(mask, index=cells.index, name="force_withheld"), sorted(basis)


def revised_public(cells: pd.DataFrame, new: ReleaseInfo, earlier: list[Pattern]) -> pd.DataFrame:
    """Cells withheld in a new build whose old value an earlier release of other counts published.

    Returns ``level, area_id, variable, year, release`` (the earlier release), never a value.
    """
    withheld = cells[cells["status"] == "suppressed"]
    keys = _keys(withheld)
    found = []
    for pattern in earlier:
        years = [y for y in new.years
                 if y in pattern.info.years and not same_counts(new, pattern.info, y)]
        if not years:
            continue
        old = pattern.cells
        shown = old[(old["status"] == "published") & old["year"].isin(years)]
        hit = withheld[keys.isin(_keys(shown))]
        found.append(hit[KEY].assign(release=pattern.release_id))
    if not found:
        return pd.DataFrame(columns=[*KEY, "release"])
    return pd.concat(found, ignore_index=True)


def _components(patterns: list[Pattern], year: int) -> list[list[str]]:
    """Release ids of ``year``'s holders, grouped by ``same_counts`` (transitively)."""
    groups: list[list[Pattern]] = []
    for p in patterns:
        linked = [g for g in groups if any(same_counts(p.info, q.info, year) for q in g)]
        merged = [q for g in linked for q in g] + [p]
        groups = [g for g in groups if g not in linked] + [merged]
    order = {p.release_id: i for i, p in enumerate(patterns)}
    return [sorted((q.release_id for q in g), key=order.__getitem__) for g in groups]


def union_groups(patterns: list[Pattern]) -> list[UnionGroup]:
    """Per year, the releases holding the same counts (two or more), grouped by members."""
    years = sorted({y for p in patterns for y in p.info.years})
    by_members: dict[tuple[str, ...], list[int]] = {}
    for year in years:
        holders = [p for p in patterns if year in p.info.years]
        for members in _components(holders, year):
            if len(members) > 1:
                by_members.setdefault(tuple(members), []).append(year)
    return [UnionGroup(ids, tuple(ys)) for ids, ys in by_members.items()]


def union_audit(patterns: list[Pattern], years: tuple[int, ...] | list[int]) -> AuditReport:
    """The outsider's audit of releases of the same counts taken together, for ``years``.

    A cell is published when any release published it, needs protection when any release's
    log says so, and the width is the smallest among the releases.
    """
    if not patterns:
        raise DisclosureError("union audit: no releases")
    frames = [p.cells[p.cells["year"].isin(list(years))] for p in patterns]
    base = frames[0].set_index(_keys(frames[0]))
    status = base["status"].astype(str).to_numpy(dtype=object)
    value = pd.array(base["value"], dtype="Int64").copy()
    for frame in frames[1:]:
        other = frame.set_index(_keys(frame)).reindex(base.index)
        shown = (other["status"] == "published").to_numpy() & (status != "published")
        value[shown] = pd.array(other["value"], dtype="Int64")[shown]
        status[shown] = "published"
    cells = base.index.to_frame(index=False)
    cells["value"] = value
    cells["status"] = status
    primary = pd.concat([p.primary[p.primary["year"].isin(list(years))] for p in patterns])
    sums = list(dict.fromkeys(s for p in patterns for s in p.sums))
    width = min(p.protection for p in patterns)
    return audit(cells, patterns[0].areas, sums, primary.drop_duplicates(), protection=width)


def cross_release_gate(
    new: Pattern, earlier: list[Pattern]
) -> list[tuple[UnionGroup, AuditReport]]:
    """Audit every group of same counts that the new release joins; return the failing ones."""
    failed = []
    patterns = [*earlier, new]
    for group in union_groups(patterns):
        if new.release_id not in group.release_ids:
            continue
        members = [p for p in patterns if p.release_id in group.release_ids]
        report = union_audit(members, group.years)
        if not report.ok:
            failed.append((group, report))
    return failed


def cross_release_refusal(
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

"""What online releases give away together: the outsider's audit of their union.

Two online releases that share counts give an outsider the union of what each published: a
cell published in either is known, and both patterns' relations narrow the rest. Releases
share a year's variable when its keyed digest is the same (``geo.release.digests``); the
union of releases for one year is one linked table in which

- a shared variable is one set of unknowns: published where any release published it,
  needing protection where any release's log says so;
- a variable whose counts differ (revised) is a separate set of unknowns per version, named
  ``<variable>@<release>`` after the first release holding that version, with each release's
  declared sums over its own versions;

audited at the smallest protection width among the releases (``union_audit``).
``geo.release.lineage`` applies this to a new build.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import pandas as pd

from geo.disclosure import AuditReport, audit
from geo.errors import DisclosureError
from geo.inputs.catalogue import Catalogue, SumRule
from geo.inputs.periods import YearKey, is_period, period_years, sorted_year_keys, year_column
from geo.release.files import read_cells
from geo.release.history import ReleaseInfo, source_inputs
from geo.release.layout import AREAS_FILE, CATALOGUE_FILE, CELLS_FILE

KEY = ["level", "area_id", "variable", "year"]
_TREE = ["level", "area_id", "parent_id"]


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

    def variables(self, year: YearKey) -> list[str]:
        """The variables with cells in ``year``, in the release's order."""
        return list(pd.unique(self.cells.loc[self.cells["year"] == year, "variable"]))


@dataclass(frozen=True)
class UnionGroup:
    """Releases that share counts in some years (audited together)."""

    release_ids: tuple[str, ...]
    years: tuple[YearKey, ...]
    """Single years sharing counts, then the pooled periods made of them only."""


def read_pattern(info: ReleaseInfo) -> Pattern:
    """A written release's pattern: its published cells and its sign-off log's primary cells."""
    if not info.log_path.exists():
        raise DisclosureError(
            f"{info.log_path}: suppression log not found (it lies beside the release)")
    log = pd.read_csv(info.log_path, dtype={"level": str, "area_id": str, "variable": str,
                                             "year": str, "reason": str},
                      keep_default_na=False)
    log["year"] = year_column(log["year"]).to_numpy()
    catalogue = Catalogue.from_dict(
        json.loads((info.path / CATALOGUE_FILE).read_text(encoding="utf-8")))
    counts, _ = read_cells(info.path / CELLS_FILE, catalogue.measure_ids)  # measures: no secret
    return Pattern(
        info=info,
        cells=counts,
        primary=log.loc[log["reason"] == "primary", KEY].reset_index(drop=True),
        areas=pd.read_csv(info.path / AREAS_FILE, dtype=str, keep_default_na=False),
        sums=tuple(catalogue.sums),
    )


def same_counts(a: ReleaseInfo, b: ReleaseInfo, year: YearKey, variable: str) -> bool:
    """Do two releases hold the same raw counts of ``variable`` in ``year``?

    By the keyed digests; a release of an older version has none, and then only identical
    input files (counts, geography and catalogue) count as the same counts. A pooled period
    is the same when every one of its years is.
    """
    if year not in a.years or year not in b.years:
        return False
    if is_period(year):
        return all(same_counts(a, b, y, variable) for y in period_years(year))
    da, db = a.year_digests.get(int(year)), b.year_digests.get(int(year))
    if da and db:
        return variable in da and variable in db and hmac.compare_digest(da[variable],
                                                                         db[variable])
    return bool(a.inputs) and source_inputs(a.inputs) == source_inputs(b.inputs)


def _tree(p: Pattern) -> list[tuple[str, ...]]:
    """The area tree as plain text rows (a built and a read release compare equal)."""
    rows = p.areas[_TREE].astype(object).where(p.areas[_TREE].notna(), "")
    return [tuple(str(x) for x in row) for row in rows.itertuples(index=False)]


def _same_tree(a: Pattern, b: Pattern) -> bool:
    return a is b or _tree(a) == _tree(b)


def shared_variables(a: Pattern, b: Pattern, year: YearKey) -> list[str]:
    """The variables of ``year`` whose counts two releases share (same areas required)."""
    if year not in a.info.years or year not in b.info.years or not _same_tree(a, b):
        return []
    theirs = set(b.variables(year))
    return [v for v in a.variables(year)
            if v in theirs and same_counts(a.info, b.info, year, v)]


def _shares(year: YearKey, a: Pattern, b: Pattern) -> bool:
    return bool(shared_variables(a, b, year))


def _same_version(year: YearKey, variable: str, a: Pattern, b: Pattern) -> bool:
    return same_counts(a.info, b.info, year, variable) and _same_tree(a, b)


def _components(
    items: list[Pattern], linked: Callable[[Pattern, Pattern], object]
) -> list[list[Pattern]]:
    """Group ``items`` transitively by the pairwise predicate ``linked(p, q)``."""
    groups: list[list[Pattern]] = []
    for p in items:
        joined = [g for g in groups if any(linked(p, q) for q in g)]
        groups = [g for g in groups if g not in joined] + [[q for g in joined for q in g] + [p]]
    order = {id(p): i for i, p in enumerate(items)}
    return [sorted(g, key=lambda p: order[id(p)]) for g in groups]


def union_groups(patterns: list[Pattern]) -> list[UnionGroup]:
    """Per year, the releases linked by shared counts (two or more), grouped by members.

    A group also holds every pooled period of its members whose years all belong to it (a
    period is a sum of its years: the outsider relates it to them).
    """
    years = sorted({y for p in patterns for y in p.info.years if not is_period(y)})
    by_members: dict[tuple[str, ...], list[YearKey]] = {}
    for year in years:
        holders = [p for p in patterns if year in p.info.years]
        for group in _components(holders, partial(_shares, year)):
            if len(group) > 1:
                by_members.setdefault(tuple(p.release_id for p in group), []).append(year)
    groups = []
    for ids, ys in by_members.items():
        pooled = {k for p in patterns if p.release_id in ids for k in p.info.years
                  if is_period(k) and set(period_years(k)) <= set(ys)}
        groups.append(UnionGroup(ids, sorted_year_keys([*ys, *pooled])))
    return groups


def _names(patterns: list[Pattern], years: tuple[YearKey, ...]) -> dict[tuple[str, str], str]:
    """``(release, variable) -> name`` in the union table: one name per version of the counts.

    Over several year keys (a group with pooled periods) a version is the same counts in
    every key both releases hold, so that "period = sum of its years" links one name.

    Raises:
        DisclosureError: counts the same in some of the years and revised in others.
    """
    names: dict[tuple[str, str], str] = {}
    variables = list(dict.fromkeys(v for y in years for p in patterns for v in p.variables(y)))
    for v in variables:
        holders = [p for p in patterns if any(v in p.variables(y) for y in years)]

        def same(a: Pattern, b: Pattern, v: str = v) -> bool:
            both = [y for y in years if v in a.variables(y) and v in b.variables(y)]
            return all(_same_version(y, v, a, b) for y in both)

        versions = _components(holders, same)
        if len(years) > 1:
            _check_versions(versions, years, v)
        for k, version in enumerate(versions):
            label = v if k == 0 else f"{v}@{version[0].release_id}"
            names.update({(p.release_id, v): label for p in version})
    return names


def _check_versions(versions: list[list[Pattern]], years: tuple[YearKey, ...], v: str) -> None:
    """Refuse what one table cannot say: two versions of ``v`` equal in one of the years."""
    for i, first in enumerate(versions):
        for other in versions[i + 1:]:
            for a in first:
                for b in other:
                    equal = [y for y in years if not is_period(y) and v in a.variables(y)
                             and v in b.variables(y) and _same_version(y, v, a, b)]
                    if equal:
                        raise DisclosureError(
                            f"releases {a.release_id} and {b.release_id}: the counts of "
                            f"{v} are the same in {', '.join(map(str, equal))} but revised "
                            "in other years of a pooled period; the combined audit cannot "
                            f"relate them. Take one of them offline (quartier withdraw) "
                            "or build without the period / Release zurückziehen")


def _year_table(
    patterns: list[Pattern], years: tuple[YearKey, ...]
) -> tuple[pd.DataFrame, pd.DataFrame, list[SumRule]]:
    """The union over ``years``: cells (published where any published), primary cells, sums."""
    names = _names(patterns, years)
    frames, primaries, sums = [], [], []
    for p in patterns:
        mine = [v for v in dict.fromkeys(v for y in years for v in p.variables(y))]
        rename = {v: names[(p.release_id, v)] for v in mine}
        cells = p.cells[p.cells["year"].isin(list(years))]
        frames.append(cells.assign(variable=cells["variable"].map(rename)))
        prim = p.primary[p.primary["year"].isin(list(years))
                         & p.primary["variable"].isin(list(rename))]
        primaries.append(prim.assign(variable=prim["variable"].map(rename)))
        for rule in p.sums:
            if rule.total in rename and all(part in rename for part in rule.parts):
                sums.append(SumRule(rename[rule.total],
                                    tuple(rename[part] for part in rule.parts)))
    both = pd.concat(frames, ignore_index=True)
    both["value"] = pd.array(both["value"], dtype="Int64")
    # a cell published anywhere is known: keep its published row, else any other
    order = (both["status"] != "published").to_numpy().argsort(kind="stable")
    union = both.iloc[order].drop_duplicates(KEY, keep="first").reset_index(drop=True)
    primary = pd.concat(primaries, ignore_index=True).drop_duplicates(KEY)
    return union, primary, list(dict.fromkeys(sums))


def _merged(reports: list[AuditReport], width: int) -> AuditReport:
    """One report over several years' audits."""
    def cat(frames: list[pd.DataFrame]) -> pd.DataFrame:
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    intervals = cat([r.intervals for r in reports])
    if len(intervals):
        intervals = intervals.sort_values("width", kind="mergesort").reset_index(drop=True)
    return AuditReport(
        ok=all(r.ok for r in reports),
        protection=width,
        intervals=intervals,
        under_protected=cat([r.under_protected for r in reports]),
        published_primary=cat([r.published_primary for r in reports]),
        contradictions=sum(r.contradictions for r in reports),
    )


def union_audit(
    patterns: list[Pattern], years: tuple[YearKey, ...] | list[YearKey]
) -> AuditReport:
    """The outsider's audit of releases taken together, for ``years``, at the smallest width.

    Without pooled periods, one table per year; with them, one table over all ``years``
    (periods linked to their years).

    Raises:
        DisclosureError: no releases, or releases over different areas.
    """
    if not patterns:
        raise DisclosureError("union audit: no releases")
    if not all(_same_tree(patterns[0], p) for p in patterns[1:]):
        raise DisclosureError("union audit: the releases have different areas")
    width = min(p.protection for p in patterns)
    keys = tuple(years)
    tables = [keys] if any(is_period(y) for y in keys) else [(y,) for y in keys]
    reports = []
    for table in tables:
        cells, primary, sums = _year_table(patterns, table)
        reports.append(audit(cells, patterns[0].areas, sums, primary, protection=width))
    return _merged(reports, width)

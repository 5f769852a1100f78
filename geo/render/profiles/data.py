"""The profile of one area: every indicator of the catalogue, every year, published values only.

``area_profile`` reads ``geo.release.tables.indicator_rows`` (through ``ranking.level_table``)
and nothing rawer: a withheld value has no number here, only ``status == "suppressed"``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import NotFoundError
from geo.inputs.catalogue import Indicator
from geo.release import TOTAL, GeographyInfo, PublishedBuild, total_rate
from geo.release.tables import memoised
from geo.render.profiles.definitions import Definition, indicator_definition
from geo.render.profiles.ranking import Spine, level_table, parent_level, spine


@dataclass(frozen=True)
class AreaRef:
    """An area: its level, key and name."""

    level: str
    level_name: str
    area_id: str
    name: str


@dataclass(frozen=True)
class Population:
    """The area's population (the catalogue's ``population`` variable) in its latest year."""

    variable: str
    name: str
    year: Any
    value: int | None
    status: str


@dataclass(frozen=True)
class YearValue:
    """One indicator's value of the area in one year or period, with its comparisons."""

    year: Any
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    numerator: int | None
    denominator: int | None
    status: str
    reliable: bool | None
    vs_total: str | None
    vs_parent: str | None
    rank: int | None
    rank_of: int | None
    total_rate: float | None
    parent_rate: float | None


@dataclass(frozen=True)
class IndicatorProfile:
    """One indicator of the profile: every year, the shown (latest) year and its spine."""

    indicator: Indicator
    definition: Definition
    values: tuple[YearValue, ...]
    year: Any
    """The year the profile shows first: the indicator's latest year with data."""
    spine: Spine | None

    @property
    def current(self) -> YearValue | None:
        """The value of the shown year (None when the indicator has no data at all)."""
        return next((v for v in self.values if v.year == self.year), None)


@dataclass(frozen=True)
class AreaProfile:
    """Everything published about one area, theme by theme in catalogue order."""

    geography: GeographyInfo
    release_id: str
    created: str
    area: AreaRef
    parents: tuple[AreaRef, ...]
    """The enclosing areas, nearest first, the whole area last."""
    population: Population | None
    themes: tuple[tuple[str, tuple[IndicatorProfile, ...]], ...]
    years: tuple[Any, ...]

    @property
    def parent(self) -> AreaRef | None:
        """The nearest enclosing area (None for the whole area)."""
        return self.parents[0] if self.parents else None

    @property
    def indicators(self) -> list[IndicatorProfile]:
        """Every indicator of every theme, in order."""
        return [item for _, items in self.themes for item in items]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _area_index(published: PublishedBuild) -> dict[tuple[str, str], AreaRef]:
    def make() -> dict[tuple[str, str], AreaRef]:
        geo = published.geography
        names = {TOTAL: geo.total_name, **{lv.id: lv.name for lv in geo.levels}}
        return {
            (str(lv), str(aid)): AreaRef(str(lv), names.get(str(lv), str(lv)), str(aid), str(nm))
            for lv, aid, nm in published.areas[["level", "area_id", "name"]].itertuples(
                index=False, name=None)
        }

    return memoised(published, ("profile-areas",), make)


def find_area(published: PublishedBuild, level: str, area_id: str) -> AreaRef | None:
    """The area, or None when the level has no such key (NotFoundError: unknown level)."""
    published.geography.level(level)
    return _area_index(published).get((level, area_id))


def area_suggestions(published: PublishedBuild, level: str, area_id: str,
                     n: int = 3) -> list[AreaRef]:
    """Areas meant by an unknown key: the key on another level, close keys, close names."""
    index = _area_index(published)
    found = [ref for (lv, aid), ref in index.items() if aid == area_id and lv != level]
    on_level = {aid: ref for (lv, aid), ref in index.items() if lv == level}
    by_name = {ref.name.casefold(): ref for ref in on_level.values()}
    for key in difflib.get_close_matches(area_id, list(on_level), n=n, cutoff=0.5):
        found.append(on_level[key])
    for name in difflib.get_close_matches(area_id.casefold(), list(by_name), n=n, cutoff=0.5):
        found.append(by_name[name])
    return list(dict.fromkeys(found))[:n]


def area_not_found(published: PublishedBuild, level: str, area_id: str) -> NotFoundError:
    """The error for an unknown area, naming what was probably meant."""
    geo = published.geography
    hints = [f"'{r.area_id}' ({r.name}, {r.level_name})"
             for r in area_suggestions(published, level, area_id)]
    hint = f"; did you mean {' or '.join(hints)}?" if hints else ""
    return NotFoundError(
        f"unknown area '{area_id}' of level '{level}' in '{geo.id}'{hint}")


def parents(published: PublishedBuild, ref: AreaRef) -> tuple[AreaRef, ...]:
    """The enclosing areas of ``ref``, nearest first, ending with the whole area."""
    index = _area_index(published)
    parent_ids = memoised(published, ("profile-parents",), lambda: {
        (str(lv), str(aid)): str(pid) for lv, aid, pid in
        published.areas[["level", "area_id", "parent_id"]].itertuples(index=False, name=None)
    })
    out: list[AreaRef] = []
    current = ref
    while (upper := parent_level(published, current.level)) is not None:
        pid = parent_ids.get((current.level, current.area_id), "")
        nxt = index.get((upper, pid))
        if nxt is None:
            break
        out.append(nxt)
        current = nxt
    return tuple(out)


def indicator_years(published: PublishedBuild, indicator: str) -> tuple[Any, ...]:
    """The years and periods with any data of one indicator, in ``published.years`` order."""

    def make() -> tuple[Any, ...]:
        values = published.values
        rows = values[(values["indicator"] == indicator) & (values["status"] != "missing")]
        present = set(rows["year"].tolist())
        return tuple(y for y in published.years if y in present)

    return memoised(published, ("profile-years", indicator), make)


def _population(published: PublishedBuild, ref: AreaRef) -> Population | None:
    variable = published.catalogue.population
    if not variable:
        return None
    cells = memoised(published, ("profile-population", variable), lambda: published.cells[
        (published.cells["variable"] == variable) & (published.cells["status"] != "missing")
    ].set_index(["level", "area_id"]).sort_index())
    key = (ref.level, ref.area_id)
    if key not in cells.index:
        return None
    rows = cells.loc[[key]]
    order = {y: i for i, y in enumerate(published.years)}
    latest = max(rows.itertuples(index=False), key=lambda r: order.get(r.year, -1))
    value = _plain(latest.value) if latest.status == "published" else None
    return Population(variable, published.catalogue.variable(variable).name, _plain(latest.year),
                      None if value is None else int(value), str(latest.status))


def year_value(published: PublishedBuild, indicator: str, ref: AreaRef, year: Any) -> YearValue:
    """The area's value of one indicator and year with ranks and comparisons."""
    row = level_table(published, indicator, ref.level, year).loc[ref.area_id]
    published_row = row["status"] == "published"

    def field(name: str) -> Any:
        return _plain(row[name]) if published_row else None

    reliable = field("reliable")
    return YearValue(
        year=year,
        rate=field("rate"),
        ci_low=field("ci_low"),
        ci_high=field("ci_high"),
        numerator=field("numerator"),
        denominator=field("denominator"),
        status=str(row["status"]),
        reliable=None if reliable is None else bool(reliable),
        vs_total=field("vs_total"),
        vs_parent=field("vs_parent"),
        rank=field("rank"),
        rank_of=field("rank_of"),
        total_rate=total_rate(published, indicator, year),
        parent_rate=_plain(row["parent_rate"]),
    )


def indicator_profile(published: PublishedBuild, ind: Indicator, ref: AreaRef) -> IndicatorProfile:
    """One indicator of an area's profile: all its years, the latest shown with its spine."""
    years = indicator_years(published, ind.id)
    values = tuple(year_value(published, ind.id, ref, y) for y in years)
    shown = published.latest_year(ind.id) if years else None
    return IndicatorProfile(
        indicator=ind,
        definition=indicator_definition(published.catalogue, ind),
        values=values,
        year=shown,
        spine=spine(published, ind.id, ref.level, shown) if years else None,
    )


def area_profile(published: PublishedBuild, level: str, area_id: str) -> AreaProfile:
    """The profile of one area (published values only).

    Raises:
        NotFoundError: unknown level, or no such area on the level (with a suggestion).
    """
    ref = find_area(published, level, area_id)
    if ref is None:
        raise area_not_found(published, level, area_id)
    themes = tuple(
        (theme, tuple(indicator_profile(published, ind, ref) for ind in indicators))
        for theme, indicators in published.catalogue.themes().items()
    )
    return AreaProfile(
        geography=published.geography,
        release_id=published.release_id,
        created=published.created,
        area=ref,
        parents=parents(published, ref),
        population=_population(published, ref),
        themes=themes,
        years=tuple(published.years),
    )

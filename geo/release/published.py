"""The published release: a frozen object whose withheld cells carry no value.

``publish`` is the only constructor from raw cells: it drops every withheld value before the
object exists, and ``PublishedBuild`` refuses to exist with a withheld value or rate in it.
Renderers, writers and the service accept only this type.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import BuildError, NotFoundError
from geo.inputs.catalogue import Catalogue
from geo.inputs.geography import TOTAL
from geo.inputs.periods import YearKey, is_period, parse_year_key, sorted_year_keys, year_label
from geo.release.identity import release_id
from geo.release.parameters import BuildParameters
from geo.stats.codes import factorize
from geo.stats.rates import compute_values

if TYPE_CHECKING:
    from geo.disclosure import Protection
    from geo.inputs.geography import Geography

WITHHELD_VALUE_COLUMNS = ("numerator", "denominator", "rate", "ci_low", "ci_high")
"""Columns of ``values`` that must be empty unless the row is published."""
MEASURE_COLUMNS = ("level", "area_id", "variable", "year", "value", "status")
"""Columns of ``PublishedBuild.measures`` (``value`` float64, never withheld)."""


def no_measures() -> pd.DataFrame:
    """An empty measures table with its column types."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(
        MEASURE_COLUMNS, (str, str, str, "int64", "float64", str), strict=True)})


@dataclass(frozen=True)
class LevelInfo:
    """A level of a published geography."""

    id: str
    name: str
    count: int


@dataclass(frozen=True)
class GeographyInfo:
    """What a published build says about its geography."""

    id: str
    name: str
    attribution: str
    total_id: str
    total_name: str
    levels: tuple[LevelInfo, ...]
    notice: str = ""
    crs: str = "EPSG:4326"
    """The geography's own CRS (``EPSG:25832``), in which the GeoPackage holds the shapes."""

    @property
    def level_ids(self) -> list[str]:
        """Level ids, coarsest first."""
        return [lv.id for lv in self.levels]

    def level(self, level_id: str) -> LevelInfo:
        """Return one level (``total`` included) or raise NotFoundError."""
        if level_id == TOTAL:
            return LevelInfo(TOTAL, self.total_name, 1)
        for lv in self.levels:
            if lv.id == level_id:
                return lv
        known = ", ".join(self.level_ids)
        raise NotFoundError(f"unknown level '{level_id}' of '{self.id}' (known: {known}, total)")


def check_withheld_empty(cells: pd.DataFrame, values: pd.DataFrame, where: str) -> None:
    """Raise BuildError when a withheld or missing cell carries a value or a rate.

    The message names how many rows are wrong, never a value.
    """
    bad_cells = int((cells["value"].notna() & (cells["status"] != "published")).sum())
    present = pd.DataFrame({c: values[c].notna() for c in WITHHELD_VALUE_COLUMNS})
    bad_values = int((present.any(axis=1) & (values["status"] != "published")).sum())
    if bad_cells or bad_values:
        raise BuildError(
            f"{where}: {bad_cells} withheld cell(s) and {bad_values} withheld value row(s) "
            "carry a number; a published build must not contain them"
        )


@dataclass(frozen=True)
class PublishedBuild:
    """A release as it may be published: withheld cells have no value at all."""

    geography: GeographyInfo
    catalogue: Catalogue
    areas: pd.DataFrame
    shapes: Mapping[str, gpd.GeoDataFrame]
    cells: pd.DataFrame
    values: pd.DataFrame
    years: tuple[YearKey, ...]
    """Year keys: single years ascending, then pooled periods ("2010-2012") by first, last."""
    release_id: str
    parameters: BuildParameters
    created: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    downloads: tuple[str, ...] = ()
    measures: pd.DataFrame = field(default_factory=no_measures)
    """Cells of the measure variables (decimals; status ``published`` or ``missing``)."""
    provenance: Mapping[str, Any] = field(default_factory=dict)
    """Intake provenance of the counts files, by file name (``PROVENANCE.json``)."""
    memo: dict[Any, Any] = field(default_factory=dict, init=False, compare=False, repr=False)
    """Tables derived from this release (``geo.release.tables``), computed once each; a copy
    made with ``dataclasses.replace`` starts with an empty one."""
    memo_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        check_withheld_empty(self.cells, self.values, f"release {self.release_id}")

    @cached_property
    def value_codes(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Codes and distinct values of the ``values`` key columns (indicator, year, level,
        status), factorized once per release."""
        return {col: factorize(self.values[col])
                for col in ("indicator", "year", "level", "status")}

    @cached_property
    def _latest_years(self) -> dict[str, int]:
        """Per indicator, the latest single year of a row that is not missing."""
        status_code, statuses = self.value_codes["status"]
        year_code, years = self.value_codes["year"]
        indicator, names = self.value_codes["indicator"]
        year_of = np.array([-1 if is_period(y) else int(y) for y in years], dtype=np.int64)
        shown = (statuses != "missing")[status_code] & (year_of >= 0)[year_code]
        latest = np.full(len(names), -1, dtype=np.int64)
        np.maximum.at(latest, indicator[shown], year_of[year_code[shown]])
        found = {str(n): int(y) for n, y in zip(names, latest, strict=True)
                 if y >= 0 and not pd.isna(n)}
        return dict(sorted(found.items()))

    @property
    def single_years(self) -> tuple[int, ...]:
        """The single years (no periods), ascending."""
        return tuple(int(y) for y in self.years if not is_period(y))

    def latest_year(self, indicator: str | None = None) -> int:
        """Latest single year with any non-missing value (of one indicator, or of any).

        Pooled periods never count as the latest year.
        """
        if not self.single_years:
            raise NotFoundError(f"'{self.geography.id}' has no years")
        if indicator is None:
            return max(self._latest_years.values(), default=max(self.single_years))
        self.catalogue.indicator(indicator)
        return self._latest_years.get(indicator, max(self.single_years))

    def check_year(self, year: Any) -> YearKey:
        """The year key of a year or period (or its text) if the build has it.

        Raises:
            ParameterError: text that is neither a year nor a period.
            NotFoundError: a year or period the build does not have.
        """
        key = parse_year_key(year, self.years)
        if key not in self.years:
            known = ", ".join(year_label(y) for y in self.years)
            kind = "period" if is_period(key) else "year"
            raise NotFoundError(f"{kind} {key} is not in '{self.geography.id}' (known: {known})")
        return key


def geography_info(geography: Geography) -> GeographyInfo:
    """What a release says about its geography (names, levels and their sizes)."""
    spec = geography.spec
    areas = geography.areas
    return GeographyInfo(
        id=spec.id,
        name=spec.name,
        attribution=spec.attribution,
        total_id=spec.total_id,
        total_name=spec.total_name,
        levels=tuple(
            LevelInfo(lv.id, lv.name, int((areas["level"] == lv.id).sum())) for lv in spec.levels
        ),
        notice=spec.notice or "",
        crs=geography.crs,
    )


def publish(
    geography: Geography,
    catalogue: Catalogue,
    cells: pd.DataFrame,
    protection: Protection,
    *,
    parameters: BuildParameters,
    inputs: Mapping[str, str],
    measures: pd.DataFrame | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> PublishedBuild:
    """Make the published build: drop every withheld value, then compute the rates.

    ``measures`` (never withheld) are published as they are: ``missing`` where empty.
    """
    status = protection.status.reindex(cells.index)
    if status.isna().any():
        raise BuildError("disclosure control returned no status for some cells")
    published_cells = cells[["level", "area_id", "variable", "year"]].copy()
    published_cells["value"] = cells["value"].astype("Int64").where(status == "published")
    published_cells["status"] = status.to_numpy()
    measure_cells = no_measures()
    if measures is not None and len(measures):
        measure_cells = measures[["level", "area_id", "variable", "year"]].copy()
        measure_cells["value"] = measures["value"].astype("float64")
        measure_cells["status"] = np.where(measure_cells["value"].notna(), "published",
                                           "missing")
    values = compute_values(
        published_cells, geography.areas, catalogue, reliable_min=parameters.reliable_min,
        measures=measure_cells,
    )
    years = sorted_year_keys([*published_cells["year"].unique(), *measure_cells["year"].unique()])
    return PublishedBuild(
        geography=geography_info(geography),
        catalogue=catalogue,
        areas=geography.areas.reset_index(drop=True),
        shapes=MappingProxyType(dict(geography.shapes)),
        cells=published_cells.reset_index(drop=True),
        values=values,
        years=years,
        release_id=release_id(inputs, parameters.to_dict()),
        parameters=parameters,
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
        inputs=MappingProxyType(dict(inputs)),
        measures=measure_cells.reset_index(drop=True),
        provenance=MappingProxyType(dict(provenance or {})),
    )

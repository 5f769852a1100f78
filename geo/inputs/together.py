"""A build's inputs read side by side: the geography on a thread while the counts are parsed.

Reading boundary files and the geometry checks spend most of their time in GDAL and GEOS,
which release the GIL, so the counts (plain Python and NumPy) are parsed meanwhile; they wait
for the geography's area ids only to check them. Errors keep their order: a geography that
fails is reported before anything wrong in the catalogue or the counts, as when the geography
was read first.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from geo.inputs.catalogue import Catalogue, load_catalogue
from geo.inputs.counts import read_counts_files
from geo.inputs.geography import Geography, GeographySpec, load_geography
from geo.inputs.intake.provenance import attach_provenance


@dataclass(frozen=True)
class Inputs:
    """The checked geography, catalogue (with provenance) and counts of a build."""

    geography: Geography
    catalogue: Catalogue
    provenance: Any
    warnings: list[str]
    counts: pd.DataFrame


class _FinestIds:
    """The finest level's area ids, from a geography that may still be loading."""

    def __init__(self, loading: Future[Geography]) -> None:
        self._loading = loading

    def __iter__(self) -> Iterator[str]:
        geography = self._loading.result()
        areas = geography.areas
        return iter(areas.loc[areas["level"] == geography.finest, "area_id"].tolist())


def read_inputs(folder: Path, spec: GeographySpec, indicators: Path, counts: Sequence[Path],
                *, year: int | None, id_column: str | None) -> Inputs:
    """Load the geography (progress bar) and read the catalogue and counts beside it."""
    with ThreadPoolExecutor(1, thread_name_prefix="geography") as thread:
        loading = thread.submit(load_geography, folder, progress=True)
        try:
            catalogue = load_catalogue(indicators)
            catalogue, provenance, warnings = attach_provenance(catalogue, counts)
            frame = read_counts_files(
                counts,
                area_ids=_FinestIds(loading),
                variables=[v.id for v in catalogue.variables],
                year=year,
                id_column=id_column,
                level_name=spec.levels[-1].name,
                measures=catalogue.measure_ids,
            )
        except BaseException:
            loading.result()  # the geography's own errors first
            raise
        return Inputs(loading.result(), catalogue, provenance, list(warnings), frame)

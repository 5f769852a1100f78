"""The geography loads on a thread while the counts are parsed (geo.inputs.together)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from geo.errors import CountsError, GeographyError
from geo.inputs.catalogue import load_catalogue
from geo.inputs.counts import read_counts_files
from geo.inputs.geography import load_geography, load_manifest
from geo.inputs.together import read_inputs


def _read(folder: Path) -> object:
    return read_inputs(folder, load_manifest(folder), folder / "indicators.toml",
                       [folder / "counts.csv"], year=None, id_column=None)


def test_side_by_side_reads_what_one_after_the_other_reads(small_geography: Path) -> None:
    read = _read(small_geography)
    geography = load_geography(small_geography)
    catalogue = load_catalogue(small_geography / "indicators.toml")
    ids = set(geography.areas.loc[geography.areas["level"] == geography.finest, "area_id"])
    counts = read_counts_files([small_geography / "counts.csv"], area_ids=ids,
                               variables=[v.id for v in catalogue.variables],
                               level_name="Quartier", measures=catalogue.measure_ids)
    pd.testing.assert_frame_equal(read.counts, counts)  # type: ignore[attr-defined]
    pd.testing.assert_frame_equal(read.geography.areas, geography.areas)  # type: ignore[attr-defined]
    assert read.catalogue == catalogue  # type: ignore[attr-defined]


def test_the_geography_loads_on_another_thread(
    small_geography: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import geo.inputs.together as together

    where: list[str] = []
    real = together.load_geography

    def spy(*args: object, **kwargs: object) -> object:
        where.append(threading.current_thread().name)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(together, "load_geography", spy)
    _read(small_geography)
    assert where and where[0] != threading.current_thread().name


def test_unknown_areas_are_checked_against_the_loaded_geography(small_geography: Path) -> None:
    with (small_geography / "counts.csv").open("a", encoding="utf-8") as fh:
        fh.write("99,2023,einwohner,5\n")
    with pytest.raises(CountsError, match="99"):
        _read(small_geography)


def test_a_broken_geography_is_reported_before_broken_counts(small_geography: Path) -> None:
    (small_geography / "quartiere.geojson").write_text("{not json", encoding="utf-8")
    (small_geography / "counts.csv").write_bytes(b"area_id,year,variable,value\n\xff\xfe\x00,1\n")
    with pytest.raises(GeographyError):
        _read(small_geography)

"""Tests for geo.release: the published type's invariant, read_build and audit_build."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from geo.errors import BuildError, DisclosureError
from geo.release import (
    CELLS_FILE,
    VALUES_FILE,
    BuildParameters,
    audit_build,
    indicator_rows,
    read_build,
    suppression_log_path,
    wide_values,
)


@pytest.fixture
def mini_build(mini_data: Path, tmp_path: Path) -> Path:
    """A private copy of the small build and its log (tests may tamper with it)."""
    out = tmp_path / "data" / "mini"
    shutil.copytree(mini_data / "mini", out)
    shutil.copy(suppression_log_path(mini_data / "mini"), suppression_log_path(out))
    return out


def test_audit_build_reads_the_release_and_its_log(mini_build: Path) -> None:
    """audit_build reads the release through read_build plus the log beside it."""
    assert audit_build(mini_build).ok
    assert not audit_build(mini_build, protection=50).ok


def test_audit_build_without_log(mini_build: Path) -> None:
    """Without the suppression log the audit cannot know what to check, and says so."""
    suppression_log_path(mini_build).unlink()
    with pytest.raises(DisclosureError, match="suppression log"):
        audit_build(mini_build)


def test_read_build_refuses_a_withheld_cell_with_a_value(mini_build: Path) -> None:
    """A tampered cells.csv whose withheld cell carries a value is not a publishable build."""
    cells = pd.read_csv(mini_build / CELLS_FILE, dtype=str, keep_default_na=False)
    withheld = cells.index[cells["status"] == "suppressed"]
    assert len(withheld), "the small build has withheld cells"
    cells.loc[withheld[0], "value"] = "2"
    cells.to_csv(mini_build / CELLS_FILE, index=False)
    with pytest.raises(BuildError, match="withheld cell"):
        read_build(mini_build)


def test_read_build_refuses_a_withheld_rate(mini_build: Path) -> None:
    """A tampered values.csv whose withheld row carries a rate is refused too."""
    values = pd.read_csv(mini_build / VALUES_FILE, dtype=str, keep_default_na=False)
    withheld = values.index[values["status"] == "suppressed"]
    assert len(withheld)
    values.loc[withheld[0], "rate"] = "0.25"
    values.to_csv(mini_build / VALUES_FILE, index=False)
    with pytest.raises(BuildError, match="withheld value row"):
        read_build(mini_build)


def test_parameters_are_typed_and_round_trip(mini_build: Path) -> None:
    """The manifest's parameters come back as BuildParameters with the build's settings."""
    params = read_build(mini_build).parameters
    assert isinstance(params, BuildParameters)
    assert BuildParameters.from_dict(params.to_dict()) == params
    with pytest.raises(BuildError, match="min_count"):
        BuildParameters(min_count=0)


def test_one_level_table_per_release(mini_build: Path) -> None:
    """The per-level table is computed once per release and agrees with the selection."""
    published = read_build(mini_build)
    first = wide_values(published, "quartier")
    assert wide_values(published, "quartier") is first
    rows = indicator_rows(published, "sgb2_quote", "quartier")
    assert list(rows.index) == list(first["area_id"])
    pd.testing.assert_series_equal(
        rows["rate"].reset_index(drop=True), first["sgb2_quote"].rename("rate"),
        check_dtype=False,
    )

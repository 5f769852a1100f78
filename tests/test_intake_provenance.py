"""Provenance files: messages for what was dropped, reading them back, checks in the build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from geo.errors import CatalogueError, IntakeError
from geo.inputs.catalogue import Catalogue
from geo.inputs.intake.provenance import (
    Drop,
    Provenance,
    attach_provenance,
    drop,
    read_provenance,
    write_provenance,
)


def test_drop_message_names_the_first_lines() -> None:
    """`17 Punkte außerhalb … (Zeilen 4, 9, 12, …)`; one line is singular."""
    mask = np.zeros(30, dtype=bool)
    mask[[2, 7, 10, 20]] = True
    found = drop("outside", "Punkte außerhalb der Geografie", mask, np.arange(2, 32))
    assert found is not None
    assert found.message() == "4 Punkte außerhalb der Geografie (Zeilen 4, 9, 12, …)"
    assert Drop("x", "Zeilen ohne Koordinaten", 1, (5,)).message() == (
        "1 Zeile ohne Koordinaten (Zeile 5)")
    assert drop("x", "y", np.zeros(3, dtype=bool), np.arange(3)) is None


def _write(tmp_path: Path, variables: list[dict[str, object]]) -> Path:
    counts = tmp_path / "x.csv"
    counts.write_text("area_id,year,variable,value\n")
    write_provenance(counts, Provenance(kind="raster", command="quartier intake raster r.tif",
                                        inputs=[{"file": "/data/r.tif", "sha256": "sha256:1"}],
                                        parameters={}, crs={}, geography={},
                                        variables=variables))
    return counts


def test_round_trip_and_summary(tmp_path: Path) -> None:
    """The provenance reads back; the catalogue variable gets the short summary."""
    counts = _write(tmp_path, [{"id": "laerm", "type": "measure", "estimate": True}])
    assert read_provenance(counts)["kind"] == "raster"
    cat = Catalogue.from_dict({"variables": [{"id": "laerm", "name": "L", "type": "measure",
                                              "estimate": True}]})
    cat, found, warnings = attach_provenance(cat, [counts])
    assert set(found) == {"x.csv"} and not warnings
    assert cat.variable("laerm").provenance == {
        "kind": "raster", "command": "quartier intake raster r.tif",
        "inputs": [{"file": "r.tif", "sha256": "sha256:1"}],
        "created": found["x.csv"]["created"], "file": "x.csv.provenance.json"}


def test_estimate_not_declared_warns_and_type_mismatch_fails(tmp_path: Path) -> None:
    """An undeclared estimate is a warning; a measure declared as a count is an error."""
    counts = _write(tmp_path, [{"id": "ew", "type": "count", "estimate": True}])
    cat = Catalogue.from_dict({"variables": [{"id": "ew", "name": "E"}]})
    _, _, warnings = attach_provenance(cat, [counts])
    assert warnings == ["variable 'ew' is an estimate (x.csv.provenance.json): declare "
                        "estimate = true so that it shows as Schätzung"]
    counts = _write(tmp_path, [{"id": "ew", "type": "measure", "estimate": True}])
    with pytest.raises(CatalogueError, match="'ew' is a measure in x.csv.provenance.json"):
        attach_provenance(cat, [counts])


def test_a_broken_provenance_file_is_named(tmp_path: Path) -> None:
    """A provenance file that is not JSON with variables is an error naming it."""
    counts = tmp_path / "y.csv"
    (tmp_path / "y.csv.provenance.json").write_text(json.dumps({"kind": "points"}))
    with pytest.raises(IntakeError, match="y.csv.provenance.json: not a provenance file"):
        read_provenance(counts)

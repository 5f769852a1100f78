"""Counts from intake build and serve like any other, with their provenance published."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from fastapi.testclient import TestClient
from rasterio.transform import Affine

from geo.release import audit_build, read_build
from service.routers import api, downloads
from tests.conftest import CATALOGUE, quartier, router_app

EXTRA = """
[[variables]]
id = "kitas"
name = "Kindertagesstätten"
sensitive = false
source = "Jugendamt, Adressen"

[[variables]]
id = "ost_mittel"
name = "Mittlerer Rechtswert"
type = "measure"
aggregate = "mean"
estimate = true

[[indicators]]
id = "ost"
name = "Mittlerer Rechtswert"
theme = "Umwelt"
numerator = "ost_mittel"
kind = "value"
unit = "m"

[[indicators]]
id = "kitas_je_1000"
name = "Kitas je 1000 Einwohner:innen"
theme = "Umwelt"
numerator = "kitas"
denominator = "einwohner"
kind = "rate"
per = 1000
unit = "‰"
"""


@pytest.fixture
def intake_folder(small_geography: Path, tmp_path: Path) -> Path:
    """The small geography with a points intake (kitas) and a raster intake (ost_mittel)."""
    with (small_geography / "indicators.toml").open("a", encoding="utf-8") as fh:
        fh.write(EXTRA)
    points = tmp_path / "kitas.csv"
    points.write_text("x;y\n361000;5681000\n361500;5681500\n363000;5683000\n",
                      encoding="utf-8")
    assert quartier("intake", "points", points, "--geography", small_geography, "--variable",
                    "kitas", "--year", "2023", "--crs", "EPSG:25832", "--out",
                    small_geography / "kitas_counts.csv")[0] == 0
    raster = tmp_path / "ost.tif"
    centres = 359000 + 100 * (np.arange(80) + 0.5)
    with rasterio.open(raster, "w", driver="GTiff", width=80, height=60, count=1,
                       dtype="float64", crs="EPSG:25832",
                       transform=Affine(100, 0, 359000, 0, -100, 5685000)) as dst:
        dst.write(np.repeat(centres[None, :], 60, axis=0), 1)
    code, _, stderr = quartier("intake", "raster", raster, "--geography", small_geography,
                               "--variable", "ost_mittel", "--year", "2023", "--stat", "mean",
                               "--out", small_geography / "ost.csv")
    assert code == 0, stderr
    return small_geography


def _build(folder: Path, out: Path, *counts: str) -> tuple[int, str]:
    argv = ["build", folder, "--out", out]
    for name in counts:
        argv += ["--counts", folder / name]
    code, _, stderr = quartier(*argv)
    return code, stderr


def test_intake_counts_build_with_provenance(intake_folder: Path, tmp_path: Path) -> None:
    """Three counts files combine; measures keep decimals; provenance reaches the release."""
    out = tmp_path / "data" / "mini"
    code, stderr = _build(intake_folder, out, "counts.csv", "kitas_counts.csv", "ost.csv")
    assert code == 0, stderr
    catalogue = json.loads((out / "indicators.json").read_text("utf-8"))
    variables = {v["id"]: v for v in catalogue["variables"]}
    assert variables["ost_mittel"]["type"] == "measure"
    assert variables["ost_mittel"]["estimate"] is True
    assert variables["ost_mittel"]["provenance"]["command"].startswith("quartier intake raster")
    assert variables["ost_mittel"]["provenance"]["file"] == "ost.csv.provenance.json"
    assert variables["kitas"]["provenance"]["kind"] == "points"
    assert "provenance" not in variables["einwohner"]
    provenance = json.loads((out / "PROVENANCE.json").read_text("utf-8"))
    assert set(provenance) == {"kitas_counts.csv", "ost.csv"}
    # the office's folders stay with the office: file names only, in the command too
    for published in ("PROVENANCE.json", "indicators.json"):
        text = (out / published).read_text("utf-8")
        assert str(tmp_path) not in text and str(intake_folder) not in text, published
    assert provenance["ost.csv"]["inputs"][0]["file"] == "ost.tif"
    assert "ost.tif" in provenance["ost.csv"]["command"].split()
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert "PROVENANCE.json" in manifest["files"]
    assert any(name.endswith("ost.csv.provenance.json") for name in manifest["inputs"])
    cells = pd.read_csv(out / "cells.csv", dtype={"area_id": str, "value": str})
    ost = cells[(cells["variable"] == "ost_mittel") & (cells["area_id"] == "10")]
    assert float(ost["value"].iloc[0]) == pytest.approx(361000, abs=1)
    assert (cells.loc[cells["variable"] != "ost_mittel", "value"].dropna()
            .str.fullmatch(r"\d+")).all()
    values = pd.read_csv(out / "values.csv", dtype={"area_id": str})
    row = values[(values["indicator"] == "ost") & (values["level"] == "stadtbezirk")
                 & (values["area_id"] == "1")].iloc[0]
    assert row["rate"] == pytest.approx(363000, abs=1)
    assert pd.isna(row["ci_low"]) and pd.isna(row["numerator"])


def test_release_reads_back_audits_and_serves(intake_folder: Path, tmp_path: Path) -> None:
    """read_build keeps the measures; the audit passes; the API and downloads show provenance."""
    data = tmp_path / "data"
    code, stderr = _build(intake_folder, data / "mini", "counts.csv", "kitas_counts.csv",
                          "ost.csv")
    assert code == 0, stderr
    published = read_build(data / "mini")
    assert set(published.measures["variable"]) == {"ost_mittel"}
    assert published.measures["value"].dtype == "float64"
    assert audit_build(data / "mini").ok
    with TestClient(router_app(api, data)) as client:
        themes = client.get("/api/geographies/mini/indicators").json()["themes"]
        by_id = {i["id"]: i for t in themes for i in t["indicators"]}
        assert by_id["ost"]["estimate"] is True and by_id["ost"]["measure"] is True
        assert by_id["ost"]["provenance"]["ost_mittel"]["kind"] == "raster"
        assert by_id["auslaenderanteil"]["estimate"] is False
        body = client.get("/api/geographies/mini/values", params={"indicator": "ost"}).json()
        assert body["indicators"]["ost"]["estimate"] is True
    with TestClient(router_app(downloads, data)) as client:
        response = client.get("/downloads/mini/PROVENANCE.json")
        assert response.status_code == 200 and "ost.csv" in response.json()


def test_a_cell_in_two_files_is_refused(intake_folder: Path, tmp_path: Path) -> None:
    """The same (area, year, variable) in two counts files names both files and lines."""
    shutil.copy(intake_folder / "kitas_counts.csv", intake_folder / "kitas_again.csv")
    code, stderr = _build(intake_folder, tmp_path / "out", "counts.csv", "kitas_counts.csv",
                          "kitas_again.csv", "ost.csv")
    assert code == 2
    assert ("kitas_again.csv line 2: area '10', year 2023, variable 'kitas' is also given in "
            "kitas_counts.csv line 2") in stderr


def test_catalogue_type_must_match_the_intake(intake_folder: Path, tmp_path: Path) -> None:
    """A variable the intake wrote as a measure but declared as a count is refused."""
    (intake_folder / "indicators.toml").write_text(
        CATALOGUE + '[[variables]]\nid = "ost_mittel"\nname = "Rechtswert"\n', "utf-8")
    code, stderr = _build(intake_folder, tmp_path / "out", "counts.csv", "ost.csv")
    assert code == 2
    assert "variable 'ost_mittel' is a measure in ost.csv.provenance.json" in stderr


def test_profiles_and_report_take_measures(intake_folder: Path, tmp_path: Path) -> None:
    """An area profile (HTML, JSON) and the report work with a value indicator in the build."""
    from service.routers import profiles

    data = tmp_path / "data"
    code, stderr = _build(intake_folder, data / "mini", "counts.csv", "kitas_counts.csv",
                          "ost.csv")
    assert code == 0, stderr
    with TestClient(router_app(profiles, data)) as client:
        assert client.get("/profiles/mini/quartier/10").status_code == 200
        body = client.get("/api/geographies/mini/areas/quartier/10").json()
        assert "ost" in json.dumps(body)
    code, _, stderr = quartier("report", data / "mini", "--out", tmp_path / "bericht")
    assert code == 0, stderr

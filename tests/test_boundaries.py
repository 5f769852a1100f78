"""Every bundled geography in boundaries/ loads, validates and has consistent counts."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from geo.inputs.catalogue import load_catalogue
from geo.inputs.counts import read_counts
from geo.inputs.fetch import missing_files
from geo.inputs.geography import load_geography, load_manifest

ROOT = Path(__file__).resolve().parents[1]
BOUNDARIES = ROOT / "boundaries"
SHARED = ROOT.parent / "shared" / "data"
FIXTURE_ZIP = ROOT / "tests/fixtures/wuppertal/FIXTURE_Quartiere_EPSG25832_SHAPE.zip"
WUPPERTAL_FILE = "Quartiere_EPSG25832_SHAPE.zip"

ALL = sorted(p.name for p in BOUNDARIES.iterdir() if (p / "geography.toml").exists())
BUILDABLE = [name for name in ALL if not missing_files(BOUNDARIES / name)]
WITH_COUNTS = [name for name in BUILDABLE if (BOUNDARIES / name / "counts.csv").exists()]

needs_shared = pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not available")


def _finest_ids(name: str) -> list[str]:
    geography = load_geography(BOUNDARIES / name)
    areas = geography.areas
    return areas.loc[areas["level"] == geography.finest, "area_id"].tolist()


def _counts(name: str) -> pd.DataFrame:
    folder = BOUNDARIES / name
    catalogue = load_catalogue(folder / "indicators.toml")
    return read_counts(folder / "counts.csv", area_ids=_finest_ids(name),
                       variables=catalogue.variable_ids)


def _run(script: str, *args: str) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], check=True,
                   cwd=ROOT, capture_output=True)


# --------------------------------------------------------------------------- every geography


def test_expected_geographies_are_bundled():
    """The three geographies of the issue are in boundaries/."""
    assert {"berlin-lor-2021", "nrw-demo", "wuppertal"} <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_manifest_loads(name):
    """The manifest parses and its id is the folder name."""
    spec = load_manifest(BOUNDARIES / name)
    assert spec.id == name
    assert spec.attribution


@pytest.mark.parametrize("name", ALL)
def test_catalogue_loads(name):
    """indicators.toml loads; every indicator uses declared variables."""
    catalogue = load_catalogue(BOUNDARIES / name / "indicators.toml")
    assert catalogue.indicators
    ids = set(catalogue.variable_ids)
    assert all({i.numerator, i.denominator} <= ids for i in catalogue.indicators)


@pytest.mark.parametrize("name", ALL)
def test_attribution_file(name):
    """Every bundled folder has an attribution file naming its licence."""
    text = (BOUNDARIES / name / "ATTRIBUTION.md").read_text(encoding="utf-8")
    assert "CC BY" in text or "CC-BY" in text or "dl-de/by-2-0" in text


@pytest.mark.parametrize("name", BUILDABLE)
def test_geography_validates_without_errors(name):
    """The boundary files load with no error (warnings allowed)."""
    geography = load_geography(BOUNDARIES / name)
    assert geography.report.errors == []
    assert len(geography.areas) > len(geography.level_ids)


@pytest.mark.parametrize("name", WITH_COUNTS)
def test_counts_read_against_catalogue(name):
    """counts.csv reads without error and covers every finest area and every variable."""
    counts = _counts(name)
    catalogue = load_catalogue(BOUNDARIES / name / "indicators.toml")
    assert set(counts["area_id"]) == set(_finest_ids(name))
    assert set(counts["variable"]) == set(catalogue.variable_ids)


@pytest.mark.parametrize("name", WITH_COUNTS)
def test_declared_sums_hold(name):
    """Each [[sums]] rule holds wherever its total and all its parts are present."""
    catalogue = load_catalogue(BOUNDARIES / name / "indicators.toml")
    assert catalogue.sums
    wide = _counts(name).pivot(index=["area_id", "year"], columns="variable", values="value")
    for rule in catalogue.sums:
        columns = [rule.total, *rule.parts]
        present = wide[columns].dropna()
        assert len(present) > 0, rule
        assert (present[list(rule.parts)].sum(axis=1) == present[rule.total]).all(), rule


# --------------------------------------------------------------------------- Berlin


def _plr_einwohner_2022() -> int:
    path = SHARED / "berlin-lor-2021/einwohnerbestand_06-2022_plr.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    return sum(0 if row["Gesamt"] == "–" else int(row["Gesamt"]) for row in rows)


@needs_shared
def test_berlin_counts_script_is_deterministic(tmp_path):
    """Re-running make_berlin_counts.py gives a byte-identical counts.csv."""
    out = tmp_path / "counts.csv"
    _run("make_berlin_counts.py", "--out", str(out))
    assert out.read_bytes() == (BOUNDARIES / "berlin-lor-2021/counts.csv").read_bytes()


@needs_shared
def test_berlin_boundaries_script_is_deterministic(tmp_path):
    """Re-running make_berlin_boundaries.py gives byte-identical GeoJSON files."""
    _run("make_berlin_boundaries.py", "--out", str(tmp_path))
    for name in ("bezirke.geojson", "prognoseraeume.geojson"):
        bundled = BOUNDARIES / "berlin-lor-2021" / name
        assert (tmp_path / name).read_bytes() == bundled.read_bytes()


@needs_shared
def test_berlin_2022_total_equals_planungsraum_sum():
    """The 2022 residents of all Prognoseräume add up to the sum over the Planungsräume."""
    counts = _counts("berlin-lor-2021")
    einwohner = counts[(counts["variable"] == "einwohner") & (counts["year"] == 2022)]
    assert einwohner["value"].notna().all()
    assert int(einwohner["value"].sum()) == _plr_einwohner_2022() == 3_821_881


def test_berlin_estimates_are_labelled():
    """Share-based variables are estimates of 2020 that say so; real counts are not."""
    catalogue = load_catalogue(BOUNDARIES / "berlin-lor-2021/indicators.toml")
    for variable in catalogue.variables:
        assert variable.estimate == variable.id.endswith("_geschaetzt"), variable.id
        if variable.estimate:
            assert "2020" in variable.definition and "Schätz" in variable.source, variable.id
    counts = _counts("berlin-lor-2021")
    estimated = counts["variable"].str.endswith("_geschaetzt")
    assert set(counts.loc[estimated, "year"]) == {2020}


def test_berlin_left_out_planungsraeume_make_estimates_missing():
    """A PGR holding an inhabited PLR without MSS values has missing estimates, not smaller ones."""
    counts = _counts("berlin-lor-2021")
    missing = counts[counts["value"].isna()]
    assert set(missing["area_id"]) == {"0330", "0440", "0530", "1010"}
    assert missing["variable"].str.endswith("_geschaetzt").all()
    assert not missing["variable"].str.startswith("einwohner").any()
    ew_2020 = counts[(counts["variable"] == "einwohner") & (counts["year"] == 2020)]
    assert ew_2020["value"].notna().all() and len(ew_2020) == 58


def test_berlin_sensitive_variables():
    """Foreigners and the SGB/transfer estimates are sensitive; residents and ages are not."""
    catalogue = load_catalogue(BOUNDARIES / "berlin-lor-2021/indicators.toml")
    sensitive = set(catalogue.sensitive_ids)
    assert {"auslaender", "arbeitslose_sgb2_geschaetzt", "transferbeziehende_geschaetzt",
            "kinder_sgb2_geschaetzt"} <= sensitive
    assert not {"einwohner", "alter_0_5", "alter_65_plus"} & sensitive


# --------------------------------------------------------------------------- NRW demo


def test_nrw_demo_is_labelled_synthetic():
    """The manifest notice, attribution and attribution file say "synthetische Demo-Zahlen"."""
    spec = load_manifest(BOUNDARIES / "nrw-demo")
    assert spec.notice == "synthetische Demo-Zahlen"
    assert "synthetische Demo-Zahlen" in spec.attribution
    assert "synthetische Demo-Zahlen" in (BOUNDARIES / "nrw-demo/ATTRIBUTION.md").read_text()


def test_nrw_demo_has_three_levels_and_regierungsbezirke():
    """Regierungsbezirke are derived from the Kreise and named; 53 Kreise, 396 Gemeinden."""
    geography = load_geography(BOUNDARIES / "nrw-demo")
    assert geography.level_ids == ("regierungsbezirk", "kreis", "gemeinde")
    sizes = geography.areas.groupby("level").size()
    assert (sizes["regierungsbezirk"], sizes["kreis"], sizes["gemeinde"]) == (5, 53, 396)
    names = geography.areas.set_index("area_id").loc[["051", "059"], "name"].tolist()
    assert names == ["Düsseldorf", "Arnsberg"]


def test_nrw_demo_has_small_sensitive_counts():
    """Small Gemeinden have sensitive counts of 1 or 2, so disclosure control is visible."""
    catalogue = load_catalogue(BOUNDARIES / "nrw-demo/indicators.toml")
    counts = _counts("nrw-demo")
    small = counts[counts["variable"].isin(catalogue.sensitive_ids) & counts["value"].isin([1, 2])]
    assert len(small) >= 50
    assert small["variable"].nunique() >= 3


def test_nrw_demo_covers_five_themes():
    """The demo catalogue has indicators in all five themes of the integration monitoring."""
    catalogue = load_catalogue(BOUNDARIES / "nrw-demo/indicators.toml")
    assert len({i.theme for i in catalogue.indicators}) == 5


@needs_shared
def test_nrw_demo_script_is_deterministic(tmp_path):
    """Re-running make_nrw_demo.py gives a byte-identical counts.csv and GeoPackage."""
    _run("make_nrw_demo.py", "--out", str(tmp_path))
    for name in ("counts.csv", "nrw_vg5000_2021.gpkg"):
        bundled = BOUNDARIES / "nrw-demo" / name
        assert (tmp_path / name).read_bytes() == bundled.read_bytes()


# --------------------------------------------------------------------------- Wuppertal


def test_wuppertal_is_a_template_until_fetched():
    """Without the official zip, missing_files names it (build-all skips the folder)."""
    folder = BOUNDARIES / "wuppertal"
    if (folder / WUPPERTAL_FILE).exists():
        pytest.skip("the official file has been fetched")
    assert missing_files(folder) == [WUPPERTAL_FILE]


def test_wuppertal_catalogue_has_five_themes():
    """The Wuppertal catalogue covers the five themes in the monitoring's order."""
    catalogue = load_catalogue(BOUNDARIES / "wuppertal/indicators.toml")
    assert list(catalogue.themes()) == [
        "Rechtsstatus und Aufenthalt", "Bildung und Sprache", "Arbeit und Wirtschaft",
        "Soziale Sicherung", "Quartiere",
    ]


@pytest.fixture
def wuppertal_with_fixture(tmp_path: Path) -> Path:
    """The real Wuppertal manifest and catalogue beside the fixture zip (official name)."""
    for name in ("geography.toml", "indicators.toml", "counts.template.csv"):
        shutil.copy(BOUNDARIES / "wuppertal" / name, tmp_path / name)
    shutil.copy(FIXTURE_ZIP, tmp_path / WUPPERTAL_FILE)
    return tmp_path


def test_wuppertal_manifest_loads_the_official_schema(wuppertal_with_fixture):
    """The manifest reads the zipped shapefile and derives named Stadtbezirke."""
    assert missing_files(wuppertal_with_fixture) == []
    geography = load_geography(wuppertal_with_fixture)
    assert geography.report.errors == []
    areas = geography.areas.set_index(["level", "area_id"])
    assert areas.loc[("total", "wuppertal"), "name"] == "Wuppertal"
    bezirke = areas.loc["stadtbezirk"]
    assert bezirke["name"].to_dict() == {"0": "Elberfeld", "1": "Elberfeld-West"}
    quartiere = areas.loc["quartier"]
    assert quartiere.index.tolist() == ["00", "01", "02", "10", "11", "12"]
    assert quartiere.loc["11", "parent_id"] == "1"
    assert quartiere.loc["00", "name"].startswith("Fixture-Quartier")


def test_wuppertal_counts_template_reads_when_filled(wuppertal_with_fixture):
    """The wide template, filled with one row per Quartier, reads against the catalogue."""
    folder = wuppertal_with_fixture
    catalogue = load_catalogue(folder / "indicators.toml")
    header = (folder / "counts.template.csv").read_text(encoding="utf-8").splitlines()
    assert header[0].split(",") == ["area_id", "name", "year", *catalogue.variable_ids]
    rows = [f"{code},Quartier {code},2023," + ",".join("–" for _ in catalogue.variable_ids)
            for code in ("00", "01", "02", "10", "11", "12")]
    (folder / "counts.csv").write_text("\n".join([header[0], *rows]) + "\n", encoding="utf-8")
    counts = read_counts(folder / "counts.csv", area_ids=["00", "01", "02", "10", "11", "12"],
                         variables=catalogue.variable_ids)
    assert len(counts) == 6 * len(catalogue.variable_ids)
    assert (counts["value"] == 0).all()

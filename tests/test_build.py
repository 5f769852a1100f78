"""The published build: files, atomic writes, determinism and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyogrio
import pytest

from geo.build import build
from geo.errors import BuildError, CountsError, ManifestError
from geo.release import read_build, suppression_log_path
from service.cli import main


def _built(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "data" / "mini"
    build(folder, out=out, say=lambda _: None)
    return out


def test_build_writes_every_file(small_geography: Path, tmp_path: Path) -> None:
    """A build folder holds the CSVs, the GeoPackage, the catalogue and the manifest."""
    out = _built(small_geography, tmp_path)
    for name in (
        "areas.csv",
        "cells.csv",
        "values.csv",
        "layers.gpkg",
        "manifest.json",
        "indicators.json",
        "ATTRIBUTION.txt",
    ):
        assert (out / name).exists(), name
    assert suppression_log_path(out).exists()
    assert not (out / "mini.suppression.csv").exists()


def test_csv_columns_are_the_contract(small_geography: Path, tmp_path: Path) -> None:
    """areas, cells and values carry exactly the columns of the issue."""
    out = _built(small_geography, tmp_path)
    assert pd.read_csv(out / "areas.csv").columns.tolist() == [
        "level",
        "area_id",
        "name",
        "parent_id",
    ]
    assert pd.read_csv(out / "cells.csv").columns.tolist() == [
        "level",
        "area_id",
        "variable",
        "year",
        "value",
        "status",
    ]
    assert pd.read_csv(out / "values.csv").columns.tolist() == [
        "level",
        "area_id",
        "name",
        "indicator",
        "year",
        "numerator",
        "denominator",
        "rate",
        "ci_low",
        "ci_high",
        "status",
        "vs_total",
        "reliable",
    ]
    log = pd.read_csv(suppression_log_path(out))
    assert log.columns.tolist() == ["level", "area_id", "variable", "year", "reason"]


def test_total_row_and_top_level_parents(small_geography: Path, tmp_path: Path) -> None:
    """The total has level 'total' and no parent; top-level areas have the total as parent."""
    out = _built(small_geography, tmp_path)
    areas = pd.read_csv(out / "areas.csv", dtype=str, keep_default_na=False)
    total = areas[areas["level"] == "total"]
    assert total["area_id"].tolist() == ["mini"] and total["parent_id"].tolist() == [""]
    assert set(areas.loc[areas["level"] == "stadtbezirk", "parent_id"]) == {"mini"}


def test_withheld_cells_carry_no_value_anywhere(small_geography: Path, tmp_path: Path) -> None:
    """Small counts are withheld: no value in cells.csv, values.csv or the GeoPackage."""
    out = _built(small_geography, tmp_path)
    cells = pd.read_csv(out / "cells.csv", dtype={"area_id": str})
    withheld = cells[cells["status"] != "published"]
    assert len(withheld) >= 2
    assert withheld["value"].isna().all()
    values = pd.read_csv(out / "values.csv", dtype={"area_id": str})
    hidden = values[values["status"] != "published"]
    assert (
        hidden[["numerator", "denominator", "rate", "ci_low", "ci_high", "reliable"]]
        .isna()
        .all()
        .all()
    )
    layer = pyogrio.read_dataframe(out / "layers.gpkg", layer="quartier")
    brill = layer[layer["area_id"] == "11"].iloc[0]
    assert pd.isna(brill["auslaenderanteil"]) and pd.isna(brill["auslaenderanteil_numerator"])


def test_log_never_says_why_in_published_files(small_geography: Path, tmp_path: Path) -> None:
    """Published files use one neutral status; 'primary' and 'secondary' appear only in the log."""
    out = _built(small_geography, tmp_path)
    for path in out.iterdir():
        if path.suffix in (".csv", ".json", ".txt"):
            text = path.read_text(encoding="utf-8")
            assert "primary" not in text and "secondary" not in text, path.name
    assert "primary" in suppression_log_path(out).read_text()


def test_rebuild_is_byte_identical(small_geography: Path, tmp_path: Path) -> None:
    """The same inputs give the same cells, values, log and release id."""
    out = _built(small_geography, tmp_path)
    names = ("cells.csv", "values.csv", "areas.csv", "manifest.json")
    before = {name: (out / name).read_bytes() for name in names}
    log_before = suppression_log_path(out).read_bytes()
    _built(small_geography, tmp_path)
    for name in names[:3]:
        assert (out / name).read_bytes() == before[name]
    assert suppression_log_path(out).read_bytes() == log_before
    m1 = json.loads(before["manifest.json"])
    m2 = json.loads((out / "manifest.json").read_text())
    assert m1["release_id"] == m2["release_id"]
    elsewhere = _built(small_geography, tmp_path / "other")
    for name in names[:3]:
        assert (elsewhere / name).read_bytes() == before[name]


def test_manifest_counts_and_inputs(small_geography: Path, tmp_path: Path) -> None:
    """The manifest counts cells by status and hashes every input file."""
    out = _built(small_geography, tmp_path)
    manifest = json.loads((out / "manifest.json").read_text())
    cells = pd.read_csv(out / "cells.csv")
    assert manifest["cells"]["published"] == int((cells["status"] == "published").sum())
    assert manifest["geography"]["id"] == "mini"
    assert {"counts.csv", "indicators.toml", "geography.toml", "quartiere.geojson"} <= set(
        manifest["inputs"]
    )
    assert manifest["parameters"]["min_count"] == 3


def test_numerator_above_denominator_is_refused(tmp_path: Path) -> None:
    """A proportion's numerator above its denominator names the indicator, area and year."""
    from conftest import COUNTS, write_small_geography

    folder = write_small_geography(tmp_path / "geo", {**COUNTS, "20": (40, 60, 25)})
    with pytest.raises(CountsError) as refused:
        build(folder, out=tmp_path / "data" / "mini", say=lambda _: None)
    assert refused.value.problems == [
        "indicator 'auslaenderanteil' is a proportion but 'auslaender' exceeds 'einwohner' in "
        'quartier \'20\', year 2023 (check the counts, or declare kind = "rate")']


def test_failed_build_leaves_the_previous_release(small_geography: Path, tmp_path: Path) -> None:
    """Bad counts fail the build and the old folder and log stay exactly as they were."""
    out = _built(small_geography, tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    log_before = suppression_log_path(out).read_bytes()
    with (small_geography / "counts.csv").open("a") as fh:
        fh.write("99,2023,einwohner,5\n")
    with pytest.raises(CountsError, match="line 17"):
        build(small_geography, out=out, say=lambda _: None)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert suppression_log_path(out).read_bytes() == log_before
    leftovers = [p for p in out.parent.iterdir() if p.name.startswith(".")]
    assert [p.name for p in leftovers] == [".quartier-key"]


def test_read_build_round_trip(small_geography: Path, tmp_path: Path) -> None:
    """What the service reads back equals what was published."""
    out = _built(small_geography, tmp_path)
    back = read_build(out)
    assert back.geography.id == "mini"
    assert [lv.id for lv in back.geography.levels] == ["stadtbezirk", "quartier"]
    assert back.years == (2023,)
    assert len(back.shapes["quartier"]) == 5
    assert back.values["status"].tolist() == pd.read_csv(out / "values.csv")["status"].tolist()


def test_cli_build_and_error_exit(
    small_geography: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`quartier build` succeeds; an unknown area fails with exit 2 and names file and line."""
    out = tmp_path / "cli" / "mini"
    assert main(["build", str(small_geography), "--out", str(out)]) == 0
    assert (out / "manifest.json").exists()
    with (small_geography / "counts.csv").open("a") as fh:
        fh.write("5,2023,einwohner,7\n")
    assert main(["build", str(small_geography), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "counts.csv" in err and "line 17" in err and "'5'" in err


def test_cli_check_reports_without_building(
    small_geography: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`quartier check` prints the validation report and builds nothing."""
    assert main(["check", str(small_geography)]) == 0
    assert "0 errors" in capsys.readouterr().out
    assert not (small_geography / "data").exists()


def test_manifest_cannot_confirm_a_guess_of_the_counts(
    small_geography: Path, tmp_path: Path
) -> None:
    """The counts digest is keyed (HMAC with a key beside the data folder), not a plain sha256."""
    import hashlib

    out = _built(small_geography, tmp_path)
    digest = json.loads((out / "manifest.json").read_text())["inputs"]["counts.csv"]
    plain = hashlib.sha256((small_geography / "counts.csv").read_bytes()).hexdigest()
    assert digest.startswith("hmac-sha256:") and plain not in digest
    key = out.parent / ".quartier-key"
    assert key.exists() and oct(key.stat().st_mode)[-3:] == "600"
    assert not any(p.name == ".quartier-key" for p in out.iterdir())


@pytest.mark.parametrize("workers", [1, 2])
def test_failing_audit_publishes_nothing(
    small_geography: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """The audit is the build's last gate: a pattern without secondaries is refused.

    The audit runs beside the writers (into a hidden folder); its refusal comes when they
    are done, and the hidden folder goes: the previous release keeps serving.
    """
    import geo.build
    from geo.disclosure import Protection
    from geo.errors import DisclosureError
    from geo.release.layout import releases_dir

    out = _built(small_geography, tmp_path)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    releases_before = sorted(p.name for p in releases_dir(out).iterdir())
    current = read_build(out).release_id
    real_protect, real_accept = geo.build.protect, geo.build._accept
    written: list[str] = []

    def primary_only(cells: pd.DataFrame, *args: object, **kwargs: object) -> Protection:
        protected = real_protect(cells, *args, **kwargs)  # type: ignore[arg-type]
        secondary = protected.log[protected.log["reason"] == "secondary"]
        status = protected.status.copy()
        for row in secondary.itertuples():
            hit = (cells["level"] == row.level) & (cells["area_id"] == row.area_id) & (
                cells["variable"] == row.variable) & (cells["year"] == row.year)
            status[hit] = "published"
        log = protected.log[protected.log["reason"] == "primary"]
        return Protection(status=status, log=log)

    def accept(*args: object) -> None:  # what the hidden folder holds at the verdict
        written.extend(p.name for p in releases_dir(out).glob(".*tmp-*/*"))
        real_accept(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(geo.build, "protect", primary_only)
    monkeypatch.setattr(geo.build, "_accept", accept)
    with pytest.raises(DisclosureError, match="nothing was published") as refused:
        # other parameters: the same inputs and parameters would be the same release again
        build(small_geography, out=out, protection=4, say=lambda _: None, workers=workers)
    assert {"cells.csv", "layers.gpkg", "tiles.pmtiles"} <= set(written)  # written alongside
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in releases_dir(out).iterdir()) == releases_before
    assert read_build(out).release_id == current
    # the refusal names cells and widths, never bounds that could be the withheld value
    assert "quartier/11 auslaender 2023: width 0" in str(refused.value)
    assert "[" not in str(refused.value)


# --------------------------------------------------------------------------- where a build writes


def _dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _everything(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def test_geography_id_cannot_escape_the_data_folder(small_geography: Path, tmp_path: Path) -> None:
    """`id = "../escaped"` is refused before anything (build or key file) is written."""
    manifest = small_geography / "geography.toml"
    manifest.write_text(manifest.read_text().replace('id = "mini"', 'id = "../escaped"'))
    before = _everything(tmp_path)
    with pytest.raises(ManifestError, match=r"'id' '\.\./escaped' is not a valid id"):
        build(small_geography, data_dir=tmp_path / "data", say=lambda _: None)
    assert _everything(tmp_path) == before


def test_default_out_stays_inside_the_data_folder(tmp_path: Path) -> None:
    """Even an id that slipped past the manifest cannot name a folder outside data_dir."""
    from geo.release.folder import build_folder

    assert build_folder(None, tmp_path / "data", "mini") == tmp_path / "data" / "mini"
    with pytest.raises(BuildError, match="would write outside the data folder"):
        build_folder(None, tmp_path / "data", "../escaped")


@pytest.mark.parametrize("name, message", [
    ("afile", "afile exists and is not a folder"),
    ("afile/sub", "afile is a file, not a folder"),
    ("link", "is a link to something that is not a Quartier build"),
    ("x/..", "exists and is not a Quartier build"),
    ("/", "name the build folder itself, not the root"),
])
def test_out_is_checked_before_any_work(
    small_geography: Path, tmp_path: Path, name: str, message: str
) -> None:
    """A bad --out is refused first, and nothing is written anywhere (no temp, key or log)."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "afile").write_text("keep")
    (work / "target").mkdir()
    (work / "link").symlink_to(work / "target")
    (work / "other.txt").write_text("keep")
    before = _everything(tmp_path)
    with pytest.raises(BuildError, match=message):
        build(small_geography, out=work / name, say=lambda _: None)
    assert _everything(tmp_path) == before


def test_parameters_beyond_any_count_are_refused(small_geography: Path, tmp_path: Path) -> None:
    """--protection 10**20 is an error, not an OverflowError deep in the disclosure code."""
    with pytest.raises(BuildError, match="protection must be at most 100,000,000"):
        build(small_geography, out=tmp_path / "o", protection=10**20, say=lambda _: None)


def test_damaged_key_is_refused(small_geography: Path, tmp_path: Path) -> None:
    """An empty key file (a build killed while creating it) is not used for digests."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / ".quartier-key").write_bytes(b"")
    with pytest.raises(BuildError, match=r"\.quartier-key is damaged \(0 bytes, not 32\)"):
        _built(small_geography, tmp_path)


def _temporaries(data: Path) -> list[str]:
    """Everything a build writes before its release is in place, beside it or in .releases."""
    places = [data, data / "mini.releases"]
    return sorted(p.name for place in places if place.is_dir() for p in place.iterdir()
                  if any(f".{kind}-" in p.name for kind in ("tmp", "log", "link", "old")))


def test_stale_temporaries_of_dead_builds_are_removed(
    small_geography: Path, tmp_path: Path
) -> None:
    """A build removes what killed builds of the same folder left, never a live build's files."""
    import subprocess

    data = tmp_path / "data"
    releases = data / "mini.releases"
    running = subprocess.Popen(["sleep", "600"])  # stands for a build still running
    dead, alive = _dead_pid(), running.pid
    for folder in (releases / f".abc.tmp-{dead}", releases / f".abc.tmp-{alive}",
                   data / f".mini2.tmp-{dead}"):
        folder.mkdir(parents=True)
        (folder / "cells.csv").write_text("x")
    (releases / f".abc.log-{dead}").write_text("x")
    (data / f".mini.suppression.csv.link-{dead}").symlink_to("nowhere")
    said: list[str] = []
    try:
        build(small_geography, out=data / "mini", say=said.append)
    finally:
        running.kill()
        running.wait()
    assert _temporaries(data) == [f".abc.tmp-{alive}", f".mini2.tmp-{dead}"]
    assert sum("left by a killed build" in line for line in said) == 3


def test_release_of_a_build_killed_while_swapping_is_put_back(
    small_geography: Path, tmp_path: Path
) -> None:
    """Killed after moving data/mini aside, before the new link replaced it: the link returns."""
    import os

    from geo.release.folder import remove_stale

    out = _built(small_geography, tmp_path)
    link = out.parent / f".mini.link-{_dead_pid()}"
    os.replace(out, link)  # what a kill between history's two renames leaves
    assert remove_stale(out) == [f"{out} restored from {link.name} (a build was killed while "
                                 "swapping)"]
    assert (out / "manifest.json").exists() and not link.exists()


def _start_build(source: Path, out: Path) -> tuple[object, Path]:
    """Run `quartier build` in a subprocess; return it once its temporary folder exists."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "build", str(source), "--out", str(out)],
        cwd=Path(__file__).resolve().parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    releases = out.parent / f"{out.name}.releases"
    deadline = time.monotonic() + 600
    while True:
        found = list(releases.glob(f".*.tmp-{proc.pid}")) if releases.is_dir() else []
        if found:
            return proc, found[0]
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.002)


def test_killed_build_leaves_temporaries_the_next_build_removes(
    small_geography: Path, tmp_path: Path
) -> None:
    """SIGKILL mid-write leaves `.<id>.tmp-<pid>`; the next build finds the pid dead, removes it."""
    import signal

    out = tmp_path / "data" / "mini"
    proc, tmp = _start_build(small_geography, out)
    proc.send_signal(signal.SIGKILL)  # type: ignore[attr-defined]
    proc.communicate()  # type: ignore[attr-defined]
    assert tmp.exists()
    build(small_geography, out=out, say=lambda _: None)
    assert (out / "manifest.json").exists()
    assert _temporaries(out.parent) == []


def test_sigterm_stops_a_build_cleanly(small_geography: Path, tmp_path: Path) -> None:
    """SIGTERM mid-write: exit 143, a one-line message, no traceback, no temporaries left."""
    import signal

    out = tmp_path / "data" / "mini"
    proc, tmp = _start_build(small_geography, out)
    proc.send_signal(signal.SIGTERM)  # type: ignore[attr-defined]
    _, err = proc.communicate()  # type: ignore[attr-defined]
    assert proc.returncode == 128 + signal.SIGTERM  # type: ignore[attr-defined]
    assert "abgebrochen / stopped (SIGTERM)" in err and "Traceback" not in err
    assert _temporaries(out.parent) == []
    # stopped while writing nothing is published; stopped during the swap the release is whole
    assert not out.exists() or (out / "manifest.json").exists()


def test_build_hands_its_frozen_heap_back_to_the_collector(
    small_geography: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build hides its objects from the cyclic collector while it runs, not after."""
    import gc

    import geo.build as gb

    seen: list[int] = []
    real = gb.aggregate

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(gc.get_freeze_count())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gb, "aggregate", spy)
    gc.unfreeze()
    build(small_geography, out=tmp_path / "out", say=lambda _: None, workers=2)
    assert seen and seen[0] > 0  # frozen while the stages run
    assert gc.get_freeze_count() == 0  # and given back afterwards
    gc.freeze()  # a caller that froze its heap keeps it frozen
    try:
        build(small_geography, out=tmp_path / "again", say=lambda _: None, workers=2)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


@pytest.mark.parametrize("workers", [1, 2])
def test_audit_runs_beside_publishing(
    small_geography: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """With more than one worker the outsider's audit runs on a process of its own (its
    verdict still decides); with one it runs in the build's process."""
    import os

    import geo.build as gb

    real = gb._audit
    where = tmp_path / "audit-pid"

    def spy(*args: object, **kwargs: object) -> object:
        where.write_text(str(os.getpid()))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(gb, "_audit", spy)
    result = build(small_geography, out=tmp_path / "out", say=lambda _: None, workers=workers)
    assert result.audit.ok
    assert (int(where.read_text()) == os.getpid()) == (workers == 1)

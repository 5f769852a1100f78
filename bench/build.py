"""Build at national scale: VG5000 (Länder > Kreise > Gemeinden) with generated counts.

The build runs in a subprocess of its own (``python -m bench.build --child``), so its peak
memory and CPU time are the build's alone: the child reports its stages, the writing jobs
(which run side by side on ``WORKERS`` processes) and ``getrusage`` of itself and of its
workers; meanwhile this process samples the resident and proportional set size of the
whole process tree (the workers share most pages with the build process, so RSS summed
over processes overstates what the build holds; PSS counts each shared page once). Then the
tile stage alone (``write_pmtiles`` on the built release) runs against plain tippecanoe on
the same layers, zooms and attributes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyogrio

from bench.vg5000 import make_vg5000_geography

VARIABLES = 20
YEARS = (2019, 2020, 2021, 2022, 2023)
TIPPECANOE_OPTIONS = ("--no-tile-size-limit", "--no-feature-limit")
"""With its defaults tippecanoe stops at z5 here (tiles over 500 KB with every Gemeinde and its
attributes) and exits with 100; ours has no such limits either."""
SAMPLE_SECONDS = 0.05
"""How often the process tree's resident set is sampled while the build runs (statm: cheap)."""
PSS_EVERY = 5
"""Every how many samples the proportional set size is read too (smaps_rollup walks the page
tables: about 2 ms per GB of process, so not every time)."""


def write_counts(folder: Path, *, seed: int = 7) -> tuple[int, int]:
    """Write generated counts (einwohner + 20 sensitive variables × 5 years) and a catalogue."""
    gem = pyogrio.read_dataframe(folder / "VG5000_GEM.shp", read_geometry=False, columns=["ARS"])
    ars = gem["ARS"].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    # VG5000 has no population: a log-normal size (median about 1,700) like German Gemeinden
    ewz = np.maximum(20, rng.lognormal(7.45, 1.3, len(ars))).astype(int)
    rows = []
    small = 0
    for year in YEARS:
        rows.append(
            pd.DataFrame({"area_id": ars, "year": year, "variable": "einwohner", "value": ewz})
        )
        for i in range(VARIABLES):
            # rates chosen so that about a fifth of the Gemeinde cells are 1 or 2
            rate = rng.uniform(0.0005, 0.004)
            values = rng.poisson(ewz * rate)
            small += int(((values == 1) | (values == 2)).sum())
            rows.append(
                pd.DataFrame(
                    {"area_id": ars, "year": year, "variable": f"v{i:02d}", "value": values}
                )
            )
    counts = pd.concat(rows, ignore_index=True)
    counts.to_csv(folder / "counts.csv", index=False)
    catalogue = ['[[variables]]\nid = "einwohner"\nname = "Einwohner"\nsensitive = false\n']
    for i in range(VARIABLES):
        catalogue.append(
            f'[[variables]]\nid = "v{i:02d}"\nname = "Merkmal {i}"\nsensitive = true\n'
        )
    for i in range(VARIABLES):
        catalogue.append(
            f'[[indicators]]\nid = "q{i:02d}"\nname = "Anteil Merkmal {i}"\ntheme = "Test"\n'
            f'numerator = "v{i:02d}"\ndenominator = "einwohner"\nper = 1000\nunit = "‰"\n'
        )
    (folder / "indicators.toml").write_text("\n".join(catalogue), encoding="utf-8")
    return len(counts), small


# --- the build, in its own process ---------------------------------------------------------------


def _job_name(job: Any) -> str:
    func = getattr(job, "func", job)
    name = getattr(func, "__name__", type(func).__name__)
    if name == "_zoom_job":  # partial(_zoom_job, levels, z, detail, bounds, columns)
        z, (first, end) = job.args[1], job.args[4]
        return f"tiles z{z} (columns {first}–{end - 1})"
    return {"_write_gpkg": "GeoPackage + QGIS styles", "write_build": "CSV/JSON files",
            "to_csv": "suppression log (CSV)", "write_csv": "suppression log (CSV)",
            "_audit": "audit (outsider's view)",
            "cross_release_gate": "audit of the union with earlier releases"}.get(name, name)


def _child(folder: Path, out: Path, report: Path, workers: int) -> None:
    """Run the build, timing its stages and writing jobs; write the figures as JSON."""
    import geo.build as gb
    import geo.pipeline as gp
    from geo.render.tiles import Ahead

    stages: list[tuple[str, float, float]] = []
    jobs: list[dict[str, Any]] = []
    marks: dict[str, float] = {}
    plan_pmtiles, run_jobs, write_manifest = gp.plan_pmtiles, gp.run_jobs, gp.write_manifest

    def timed(name: str, func: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                marks[name] = marks.get(name, 0.0) + time.perf_counter() - start
        return call

    def measured(job: Any) -> Any:
        def call() -> tuple[Any, float, float, float]:
            wall, cpu = time.perf_counter(), time.process_time()
            result = job()
            return result, time.perf_counter() - wall, time.process_time() - cpu, wall
        return call

    def run_measured(todo: list[Any], **kwargs: Any) -> list[Any]:
        start = time.perf_counter()
        results = run_jobs([measured(job) for job in todo], **kwargs)
        marks["jobs"] = time.perf_counter() - start
        for job, (_, wall, cpu, began) in zip(todo, results, strict=True):
            jobs.append({"name": _job_name(job), "wall": wall, "cpu": cpu,
                         "start": began - start})
        return [result for result, _, _, _ in results]

    ahead_result = Ahead.result

    def collected(self: Ahead) -> Any:
        # only the ahead process ends inside this call: the children's rusage grows by its CPU
        before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
        try:
            return ahead_result(self)
        finally:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            key = "audit" if _job_name(self.job) == "audit (outsider's view)" else "ahead"
            marks[f"{key}_wait"] = time.perf_counter() - start
            marks[f"{key}_cpu"] = (after.ru_utime + after.ru_stime - before.ru_utime
                                   - before.ru_stime)

    Ahead.result = collected  # type: ignore[method-assign]
    gp.plan_pmtiles = timed("plan", plan_pmtiles)  # type: ignore[assignment]
    gp.run_jobs = run_measured  # type: ignore[assignment]
    gp.write_manifest = timed("manifest", write_manifest)  # type: ignore[assignment]

    def say(msg: str) -> None:
        if msg.startswith("["):  # the numbered stages, not warnings
            stages.append((msg.split(": ")[0], time.perf_counter(), time.process_time()))

    start = time.perf_counter()
    result = gb.build(folder, out=out, say=say, workers=workers)
    end, end_cpu = time.perf_counter(), time.process_time()
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    status = result.published.cells["status"].value_counts()
    report.write_text(json.dumps({
        "start": start, "end": end, "end_cpu": end_cpu, "stages": stages, "jobs": jobs,
        "marks": marks,
        "cpu": own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime,
        "rss_build": own.ru_maxrss * 1024, "rss_worker": kids.ru_maxrss * 1024,
        "status": {k: int(v) for k, v in status.items()},
    }), encoding="utf-8")


def _tree(root: int) -> list[int]:
    """The process ``root`` and all its descendants (from /proc)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as fh:
                    todo += [int(p) for p in fh.read().split()]
        except OSError:
            continue
    return pids


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss(pids: list[int]) -> int:
    """Summed resident set size (bytes) of the processes that still exist."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
                total += int(fh.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def _pss(pids: list[int]) -> int:
    """Summed proportional set size (bytes): shared pages counted once in all."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            continue
    return total


def build_in_subprocess(folder: Path, out: Path, workers: int) -> dict[str, Any]:
    """Run the build in a child process; its figures plus the process tree's peak memory."""
    report = out.parent / "build-report.json"
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.build", "--child", str(folder), str(out), str(report),
         str(workers)],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak = {"rss": 0, "pss": 0}
    stop = threading.Event()

    def sample() -> None:
        count = 0
        while not stop.is_set():
            pids = _tree(proc.pid)
            peak["rss"] = max(peak["rss"], _rss(pids))
            if count % PSS_EVERY == 0:
                peak["pss"] = max(peak["pss"], _pss(pids))
            count += 1
            stop.wait(SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    stop.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"the build failed ({proc.returncode}):\n{err[-3000:]}")
    figures: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    figures["tree_rss"], figures["tree_pss"] = peak["rss"], peak["pss"]
    return figures


# --- the tile stage against tippecanoe -----------------------------------------------------------


def tiles_against_tippecanoe(out: Path, tmp: Path, workers: int) -> dict[str, Any]:
    """Time ``write_pmtiles`` on the built release and tippecanoe on the same layers/zooms."""
    from bench.tiles import _plain_tippecanoe
    from geo.release import read_build
    from geo.render.tiles import write_pmtiles

    published = read_build(out)
    ours = tmp / "ours.pmtiles"
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    start, cpu = time.perf_counter(), time.process_time()
    summary = write_pmtiles(published, ours, workers=workers)
    ours_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ours_cpu = (time.process_time() - cpu + after.ru_utime + after.ru_stime
                - kids.ru_utime - kids.ru_stime)
    folder = tmp / "tippecanoe"
    folder.mkdir()
    theirs = folder / "tiles.pmtiles"
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    theirs_s = _plain_tippecanoe(published, theirs, summary.zooms.minzoom, summary.zooms.maxzoom,
                                 *TIPPECANOE_OPTIONS)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "zooms": f"{summary.zooms.minzoom}–{summary.zooms.maxzoom}",
        "ours_s": ours_s, "ours_cpu": ours_cpu, "ours_size": summary.size,
        "ours_tiles": summary.tiles,
        "theirs_s": theirs_s, "theirs_cpu": after.ru_utime + after.ru_stime - kids.ru_utime
        - kids.ru_stime, "theirs_size": theirs.stat().st_size,
    }


def _mb(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def run(workers: int | None = None) -> str:
    """Time `quartier build` on VG5000 with generated counts, by stage, with memory figures."""
    from geo.render.tiles import WORKERS

    workers = workers or WORKERS
    with tempfile.TemporaryDirectory(prefix="quartier-bench-build-") as name:
        tmp = Path(name)
        folder = make_vg5000_geography(tmp / "vg5000")
        n_rows, small = write_counts(folder)
        (tmp / "out").mkdir()
        load = os.getloadavg()[0]
        figures = build_in_subprocess(folder, tmp / "out" / "vg5000", workers)
        load = max(load, os.getloadavg()[0])
        tiles = tiles_against_tippecanoe(tmp / "out" / "vg5000", tmp, workers)
    total = figures["end"] - figures["start"]
    status = figures["status"]
    lines = [
        "## Build at national scale (issue 2.12)",
        "",
        f"VG5000 2021: 16 Länder > 401 Kreise > 10,997 Gemeinden; generated counts: "
        f"{n_rows:,} rows (einwohner + {VARIABLES} sensitive variables × {len(YEARS)} years), "
        f"{small:,} Gemeinde cells of 1 or 2. The build runs in a process of its own with "
        f"`workers={workers}` ({os.cpu_count()} cores; load average {load:.1f} around the "
        "build: on a shared machine CPU % and seconds suffer, ratios less).",
        "",
        f"- `quartier build` total: **{total:.1f} s**; CPU (user + sys, build and workers) "
        f"{figures['cpu']:.1f} s = **{figures['cpu'] / total:.0%}** of one core "
        f"({figures['cpu'] / total / workers:.0%} of {workers})",
        f"- peak memory: build process **{_mb(figures['rss_build'])}** RSS, largest writing "
        f"worker {_mb(figures['rss_worker'])} RSS (mostly pages shared with the build process); "
        f"whole process tree **{_mb(figures['tree_pss'])}** PSS "
        f"(summed RSS {_mb(figures['tree_rss'])})",
        f"- cells published / suppressed / missing: {status.get('published', 0):,} / "
        f"{status.get('suppressed', 0):,} / {status.get('missing', 0):,}",
        "",
        "| stage | s | CPU s (build process) |",
        "|---|---:|---:|",
    ]
    ends = [(t, c) for _, t, c in figures["stages"][1:]] + [(figures["end"], figures["end_cpu"])]
    for (msg, began, cpu), (ended, ended_cpu) in zip(figures["stages"], ends, strict=True):
        lines.append(f"| {msg.strip()} | {ended - began:.1f} | {ended_cpu - cpu:.1f} |")
        if msg.startswith("[6/"):
            marks = figures["marks"]
            rest = ended - began - sum(marks.get(k, 0.0)
                                       for k in ("ahead_wait", "plan", "jobs", "audit_wait",
                                                 "manifest"))
            lines += [
                "| – tiles' geometry, projected and simplified ahead in a process of its own "
                f"beside stages 2–5 (waited for it / its CPU s) | {marks.get('ahead_wait', 0):.1f} "
                f"| ({marks.get('ahead_cpu', 0):.1f}) |",
                f"| – tiles: geometry unpacked, zoom jobs planned | {marks.get('plan', 0):.1f} | |",
                f"| – writing jobs side by side ({workers} workers, below) "
                f"| {marks.get('jobs', 0):.1f} | |",
                "| – outsider's audit, on a process of its own from `[5/6]` on (waited for "
                f"it after the writing jobs / its CPU s) | {marks.get('audit_wait', 0):.1f} "
                f"| ({marks.get('audit_cpu', 0):.1f}) |",
                f"| – archive assembled, manifest (file hashes), swap | "
                f"{marks.get('manifest', 0) + rest:.1f} | |",
            ]
    lines += ["", "| writing job | s | CPU s |", "|---|---:|---:|"]
    for job in figures["jobs"]:
        lines.append(f"| {job['name']} | {job['wall']:.1f} | {job['cpu']:.1f} |")
    job_cpu = sum(job["cpu"] for job in figures["jobs"])
    lines += [
        f"| **sum** | | **{job_cpu:.1f}** |",
        "",
        f"### Tile stage alone vs tippecanoe (same 4 layers, zooms {tiles['zooms']}, "
        "same attributes)",
        "",
        "| encoder | time s | CPU s | archive MB | tiles |",
        "|---|---:|---:|---:|---:|",
        f"| quartier `write_pmtiles` ({workers} workers) | {tiles['ours_s']:.1f} "
        f"| {tiles['ours_cpu']:.1f} | {tiles['ours_size'] / 1e6:.1f} | {tiles['ours_tiles']:,} |",
        f"| tippecanoe 2.72, `{' '.join(TIPPECANOE_OPTIONS)}` (incl. writing its GeoJSONSeq) "
        f"| {tiles['theirs_s']:.1f} "
        f"| {tiles['theirs_cpu']:.1f} | {tiles['theirs_size'] / 1e6:.1f} | |",
        f"| **ratio quartier / tippecanoe** | **{tiles['ours_s'] / tiles['theirs_s']:.2f}×** "
        f"| | **{tiles['ours_size'] / tiles['theirs_size']:.2f}×** | |",
        "",
        "Gap-free tiles and every area at every zoom are checked by tests/test_tiles.py and "
        "by the tiles suite (decoding every tile of the national archive would take minutes).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """``python -m bench.build`` prints the section; ``--child`` is the build process."""
    parser = argparse.ArgumentParser(prog="python -m bench.build")
    parser.add_argument("--child", nargs=4, metavar=("FOLDER", "OUT", "REPORT", "WORKERS"))
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    if args.child:
        folder, out, report, workers = args.child
        _child(Path(folder), Path(out), Path(report), int(workers))
    else:
        print(run(args.workers))


if __name__ == "__main__":
    main()

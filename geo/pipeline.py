"""The writing stage of a build: a release's files side by side with its gates, swapped in last.

Every file is written into a hidden folder beside the releases on ``workers`` processes;
the gates (the audit of the union with earlier online releases) run as more jobs of the same
pool, since until the final rename nothing is published (the build's own audit runs on a
process of its own, ``geo.build``). Only when every job is done does ``accept`` see the
gates' verdicts; if it raises, the hidden folder is removed and the previous release keeps
serving.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from geo.errors import BuildError
from geo.release import (
    GPKG_FILE,
    MANIFEST_FILE,
    TILES_FILE,
    TOTAL,
    PublishedBuild,
    history,
    wide_values,
    write_build,
    write_manifest,
)
from geo.release.digests import Digests
from geo.release.files import write_csv
from geo.release.folder import signals_held
from geo.release.layout import releases_dir
from geo.render.gpkg import write_gpkg
from geo.render.qgis import add_layer_styles
from geo.render.tiles import WORKERS, Ahead, LevelGeometry, plan_pmtiles, run_jobs

Job = Callable[[], object]


def _write_gpkg(published: PublishedBuild, out: Path) -> None:
    """Write the GeoPackage with a QGIS style per indicator (one job)."""
    write_gpkg(published, out / GPKG_FILE)
    add_layer_styles(out / GPKG_FILE, published)


def render(published: PublishedBuild, out: Path, *, workers: int = WORKERS,
           also: Sequence[Job] = (), ahead: Mapping[str, LevelGeometry] | None = None,
           ) -> list[object]:
    """Write the release's files side by side on ``workers`` processes: GeoPackage with QGIS
    styles, CSV/JSON, the vector tiles (a job per zoom, from the geometry ``ahead`` if
    given) and ``also``; ``also``'s results."""
    out.mkdir(parents=True, exist_ok=True)
    if workers > 1:  # each level's latest values, once here instead of once in every worker
        for level in [TOTAL, *published.geography.level_ids]:
            wide_values(published, level)
    tiles = plan_pmtiles(published, out / TILES_FILE, ahead=ahead)
    # the longest jobs first, so both cores finish at about the same time
    jobs: list[Job] = [partial(_write_gpkg, published, out), partial(write_build, published, out),
                       *also, *tiles.jobs]
    with tqdm(total=len(jobs), desc="Schreiben", unit="Teil", file=sys.stderr) as bar:
        results = run_jobs(jobs, workers=workers, done=lambda _: bar.update())
    tiles.write(results[2 + len(also):])
    return results[2:2 + len(also)]


def write_release(
    published: PublishedBuild, log: pd.DataFrame, out: Path, digests: Digests, *,
    workers: int = WORKERS, gates: Sequence[Job] = (),
    accept: Callable[[list[object]], None] = lambda _: None, ahead: Ahead | None = None,
) -> list[object]:
    """Write into a hidden folder beside the releases, move it into place, make it current.

    The ``gates`` run beside the writers; ``accept`` gets their results (in order) once all
    jobs are done and raises to refuse the release; ``ahead`` may be computing the tiles'
    geometry (``geography_geometry``) beside the earlier stages. Until the last step (one
    atomic rename of the ``out`` link) the previous release serves; a refusal, a failure or
    a stop (SIGTERM, Ctrl-C) before it leaves nothing behind, and one during the move into
    place waits for it. Returns the gates' results.
    """
    root = releases_dir(out)
    tmp = root / f".{published.release_id}.tmp-{os.getpid()}"
    tmp_log = root / f".{published.release_id}.log-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        write_log = partial(write_csv, log, tmp_log, ())  # as pandas wrote it: not neutralised
        geometry = ahead.result() if ahead is not None else None
        results = render(published, tmp, workers=workers, also=(*gates, write_log),
                         ahead=geometry)
        verdicts = results[:len(gates)]
        accept(verdicts)
        files = sorted(p.name for p in tmp.iterdir() if p.is_file())
        write_manifest(published, tmp, [*files, MANIFEST_FILE], digests)
        with signals_held():  # a stop waits until the release and its log are in place
            history.add_release(out, tmp, tmp_log, published.release_id)
    except OSError as exc:
        raise BuildError(f"cannot write the build {out}: {exc.strerror or exc}") from None
    finally:  # after success both have moved into place
        shutil.rmtree(tmp, ignore_errors=True)
        tmp_log.unlink(missing_ok=True)
    return verdicts

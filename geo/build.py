"""The build: from a geography folder to a published, audited release written atomically."""

from __future__ import annotations

import hmac
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from geo.disclosure import MIN_COUNT, PROTECTION, AuditReport, audit, protect
from geo.errors import BuildError, CountsError, DisclosureError
from geo.inputs.catalogue import Catalogue, load_catalogue
from geo.inputs.counts import read_counts
from geo.inputs.geography import Geography, load_geography
from geo.release import (
    GPKG_FILE,
    MANIFEST_FILE,
    TILES_FILE,
    BuildParameters,
    PublishedBuild,
    file_hash,
    publish,
    suppression_log_path,
    write_build,
    write_manifest,
)
from geo.render.gpkg import write_gpkg
from geo.render.qgis import add_layer_styles
from geo.render.tiles import WORKERS, plan_pmtiles, run_jobs
from geo.stats.aggregate import aggregate
from geo.stats.rates import RELIABLE_MIN

COUNTS_FILE = "counts.csv"
INDICATORS_FILE = "indicators.toml"
KEY_FILE = ".quartier-key"


@dataclass(frozen=True)
class BuildResult:
    """What a successful build wrote."""

    out: Path
    log_path: Path
    published: PublishedBuild
    audit: AuditReport


def _check_proportions(cells: pd.DataFrame, catalogue: Catalogue) -> None:
    """A proportion's numerator may not exceed its denominator (names areas, never values)."""
    problems = []
    keyed = cells.set_index(["level", "area_id", "variable", "year"])["value"]
    for ind in catalogue.indicators:
        if ind.kind != "proportion":
            continue
        num = keyed.xs(ind.numerator, level="variable")
        den = keyed.xs(ind.denominator, level="variable")
        num, den = num.align(den)
        bad = (num > den).fillna(False)
        bad = bad[bad]
        for level, area_id, year in bad.index[:5]:
            problems.append(
                f"indicator '{ind.id}' is a proportion but '{ind.numerator}' exceeds "
                f"'{ind.denominator}' in {level} '{area_id}', year {year} "
                '(check the counts, or declare kind = "rate")'
            )
    if problems:
        raise CountsError(f"{len(problems)} indicator problem(s) in the counts", problems=problems)


def _refusal(gate: AuditReport, limit: int = 20) -> str:
    """Why the audit refused a build: cell ids and widths, never bounds (they could be values)."""
    lines = [
        "the audit found under-protected cells; nothing was published "
        f"({len(gate.under_protected)} too narrow, {len(gate.published_primary)} published, "
        f"{gate.contradictions} contradictory)"
    ]
    for row in gate.under_protected.head(limit).itertuples():
        lines.append(
            f"  {row.level}/{row.area_id} {row.variable} {row.year}: "
            f"width {row.width:g} < {gate.protection}"
        )
    for row in gate.published_primary.head(limit).itertuples():
        lines.append(f"  {row.level}/{row.area_id} {row.variable} {row.year}: published")
    return "\n".join(lines)


def _secret_key(data_dir: Path) -> bytes:
    """The installation's key for digests of secret inputs (created once, never published)."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return path.read_bytes()


def _input_hashes(
    geography: Geography, counts: Path, indicators: Path, key: bytes
) -> dict[str, str]:
    """Digests of every input: sha256 of public files, a keyed HMAC of the counts.

    A plain hash of the raw counts would let anyone confirm a guess of the withheld cells
    (few combinations on a small table) against the published manifest; the HMAC needs the
    installation's key, which stays beside the data folder and is never served.
    """
    folder = geography.spec.folder
    files = {geography.spec.manifest_path, counts, indicators}
    for level in geography.spec.levels:
        if level.file is not None:
            files.add(level.file)
            if level.file.suffix == ".shp":
                files.update(p for p in level.file.parent.glob(level.file.stem + ".*"))
    out = {}
    for path in sorted(files):
        try:
            name = str(path.resolve().relative_to(folder.resolve()))
        except ValueError:
            name = path.name
        if path == counts:
            out[name] = "hmac-sha256:" + hmac.new(key, path.read_bytes(), "sha256").hexdigest()
        else:
            out[name] = file_hash(path)
    return out


def _write_gpkg(published: PublishedBuild, out: Path) -> None:
    write_gpkg(published, out / GPKG_FILE)
    add_layer_styles(out / GPKG_FILE, published)


def _render(published: PublishedBuild, out: Path, *, workers: int = WORKERS,
            also: tuple[Callable[[], object], ...] = ()) -> None:
    """Write the release's files side by side on ``workers`` processes: GeoPackage with QGIS
    styles, CSV/JSON, the vector tiles (a job per zoom) and ``also``."""
    out.mkdir(parents=True, exist_ok=True)
    tiles = plan_pmtiles(published, out / TILES_FILE)
    # the longest jobs first, so both cores finish at about the same time
    jobs: list[Callable[[], object]] = [
        partial(_write_gpkg, published, out), partial(write_build, published, out), *also,
        *tiles.jobs]
    with tqdm(total=len(jobs), desc="Schreiben", unit="Teil", file=sys.stderr) as bar:
        results = run_jobs(jobs, workers=workers, done=lambda _: bar.update())
    tiles.write(results[len(jobs) - len(tiles.jobs):])


def build(
    folder: Path,
    *,
    counts: Path | None = None,
    indicators: Path | None = None,
    out: Path | None = None,
    year: int | None = None,
    id_column: str | None = None,
    min_count: int = MIN_COUNT,
    protection: int = PROTECTION,
    reliable_min: int = RELIABLE_MIN,
    data_dir: Path = Path("data"),
    say: Callable[[str], None] | None = None,
    workers: int = WORKERS,
) -> BuildResult:
    """Build a geography into ``out`` atomically; a failed build leaves ``out`` as it was.

    The files are written on up to ``workers`` processes; the bytes do not depend on it.
    """
    say = say or (lambda msg: print(msg, file=sys.stderr))
    params = BuildParameters(
        min_count=min_count, protection=protection, reliable_min=reliable_min, year=year
    )
    folder = Path(folder)
    say(f"[1/6] Geografie laden: {folder}")
    geography = load_geography(folder, progress=True)
    for finding in geography.report.warnings:
        say(f"      Warnung: {finding}")
    indicators = Path(indicators) if indicators else folder / INDICATORS_FILE
    counts = Path(counts) if counts else folder / COUNTS_FILE
    say(f"[2/6] Katalog und Zahlen lesen: {indicators.name}, {counts.name}")
    catalogue = load_catalogue(indicators)
    finest_ids = geography.areas.loc[geography.areas["level"] == geography.finest, "area_id"]
    counts_frame = read_counts(
        counts,
        area_ids=set(finest_ids),
        variables=[v.id for v in catalogue.variables],
        year=params.year,
        id_column=id_column,
        level_name=geography.spec.levels[-1].name,
    )
    say(f"[3/6] Aggregieren auf {', '.join(geography.level_ids)} und {geography.spec.total_name}")
    cells = aggregate(geography, counts_frame, catalogue)
    _check_proportions(cells, catalogue)
    say(f"[4/6] Geheimhaltung: Werte 1..{params.min_count - 1} sperren, "
        f"Schutzbreite {params.protection}")
    protected = protect(
        cells, geography.areas, catalogue, min_count=params.min_count,
        protection=params.protection,
    )
    say("[5/6] Prüfung aus Sicht eines Angreifers (Audit)")
    gate = audit(
        cells.assign(
            value=cells["value"].where(protected.status == "published"),
            status=protected.status,
        ),
        geography.areas,
        catalogue.sums,
        protected.log[protected.log["reason"] == "primary"],
        protection=params.protection,
    )
    if not gate.ok:
        raise DisclosureError(_refusal(gate))
    out = Path(out) if out else Path(data_dir) / geography.id
    published = publish(
        geography,
        catalogue,
        cells,
        protected,
        parameters=params,
        inputs=_input_hashes(geography, counts, indicators, _secret_key(out.parent)),
    )
    say(f"[6/6] Schreiben: {out}")
    _write_atomically(published, protected.log, out, workers=workers)
    counts_by_status = published.cells["status"].value_counts()
    say(
        "      fertig: "
        + ", ".join(
            f"{int(counts_by_status.get(s, 0))} {s}" for s in ("published", "suppressed", "missing")
        )
        + f"; Release {published.release_id}"
    )
    return BuildResult(out, suppression_log_path(out), published, gate)


def _write_atomically(published: PublishedBuild, log: pd.DataFrame, out: Path, *,
                      workers: int = WORKERS) -> None:
    """Write into a hidden sibling folder, then swap it in; the old release serves until then."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    log_path = suppression_log_path(out)
    tmp_log = out.parent / f".{log_path.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        _render(published, tmp, workers=workers,
                also=(partial(log.to_csv, tmp_log, index=False, lineterminator="\n"),))
        files = sorted(p.name for p in tmp.iterdir() if p.is_file())
        write_manifest(published, tmp, [*files, MANIFEST_FILE])
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp_log.unlink(missing_ok=True)
        raise
    if out.exists():
        if not (out / MANIFEST_FILE).exists() and any(out.iterdir()):
            shutil.rmtree(tmp, ignore_errors=True)
            tmp_log.unlink(missing_ok=True)
            raise BuildError(f"{out} exists and is not a Quartier build; refusing to replace it")
        os.rename(out, old)
    os.rename(tmp, out)
    os.replace(tmp_log, log_path)
    shutil.rmtree(old, ignore_errors=True)

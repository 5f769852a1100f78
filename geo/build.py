"""The build: from a geography folder to a published, audited release written atomically."""

from __future__ import annotations

import gc
import hmac
import os
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from geo.disclosure import MIN_COUNT, PROTECTION, AuditReport, Protection, audit_protected, protect
from geo.errors import BuildError, CountsError, DisclosureError
from geo.inputs.catalogue import Catalogue, SumRule
from geo.inputs.counts import MAX_COUNT
from geo.inputs.geography import Geography, load_manifest
from geo.inputs.intake.provenance import provenance_path
from geo.inputs.periods import sorted_year_keys
from geo.inputs.together import read_inputs
from geo.pipeline import write_release
from geo.release import (
    BuildParameters,
    PublishedBuild,
    file_hash,
    history,
    lineage,
    publish,
    read_build,
    release_id,
    suppression_log_path,
    union,
)
from geo.release.audit import audit_build
from geo.release.digests import cell_digests
from geo.release.folder import build_folder, remove_stale, signals_held
from geo.release.layout import release_dir
from geo.render.tiles import WORKERS, Ahead, geography_geometry
from geo.render.words import STATUS
from geo.stats.aggregate import aggregate
from geo.stats.codes import combined, factorize
from geo.stats.measures import aggregate_measures
from geo.stats.rates import RELIABLE_MIN

COUNTS_FILE = "counts.csv"
INDICATORS_FILE = "indicators.toml"
KEY_FILE = ".quartier-key"
KEY_BYTES = 32


@dataclass(frozen=True)
class BuildResult:
    """What a successful build wrote."""

    out: Path
    log_path: Path
    published: PublishedBuild
    audit: AuditReport


def _check_proportions(cells: pd.DataFrame, catalogue: Catalogue) -> None:
    """A proportion's numerator may not exceed its denominator (names areas, never values)."""
    proportions = [ind for ind in catalogue.indicators if ind.kind == "proportion"]
    if not proportions:
        return
    # one integer per (level, area, year): the numerator's and denominator's cells meet on it
    where = combined(cells, ["level", "area_id", "year"])
    variable, names = factorize(cells["variable"])
    code = {name: i for i, name in enumerate(names)}
    value = cells["value"].to_numpy(dtype="float64", na_value=np.nan)
    problems = []
    for ind in proportions:
        num = np.flatnonzero(variable == code.get(ind.numerator, -1))
        den = np.flatnonzero(variable == code.get(ind.denominator, -1))
        at = pd.Index(where[den]).get_indexer(where[num])
        den_value = np.full(len(num), np.nan)
        den_value[at >= 0] = value[den][at[at >= 0]]
        for row in num[value[num] > den_value][:5].tolist():
            level, area_id, year = cells.iloc[row][["level", "area_id", "year"]]
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
    try:
        if not path.exists():
            data_dir.mkdir(parents=True, exist_ok=True)
            with signals_held():  # a stopped build must not leave a half-written key
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(secrets.token_bytes(KEY_BYTES))
        key = path.read_bytes()
    except OSError as exc:
        raise BuildError(f"cannot create or read the key {path}: {exc.strerror or exc}") from None
    if len(key) < KEY_BYTES:
        raise BuildError(f"{path} is damaged ({len(key)} bytes, not {KEY_BYTES}); delete it and a "
                         "new key is made (the input digests of later releases then change)")
    return key


def _input_hashes(
    geography: Geography, counts: Sequence[Path], indicators: Path, key: bytes
) -> dict[str, str]:
    """Digests of every input: sha256 of public files, a keyed HMAC of the counts.

    A plain hash of the raw counts would let anyone confirm a guess of the withheld cells
    (few combinations on a small table) against the published manifest; the HMAC needs the
    installation's key, which stays beside the data folder and is never served.
    """
    folder = geography.spec.folder
    files = {geography.spec.manifest_path, *counts, indicators}
    files |= {p for p in map(provenance_path, counts) if p.exists()}
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
        if path in counts:
            out[name] = "hmac-sha256:" + hmac.new(key, path.read_bytes(), "sha256").hexdigest()
        else:
            out[name] = file_hash(path)
    return out


def build(
    folder: Path,
    *,
    counts: Path | Sequence[Path] | None = None,
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

    ``counts`` may name several files (a cell given twice is refused); the provenance beside a
    counts file that ``quartier intake`` wrote is published as ``PROVENANCE.json``. The files
    are written on up to ``workers`` processes; the bytes do not depend on it.
    """
    say = say or (lambda msg: print(msg, file=sys.stderr))
    for name, value in (("min_count", min_count), ("protection", protection),
                        ("reliable_min", reliable_min)):
        if value > MAX_COUNT:
            raise BuildError(f"{name} must be at most {MAX_COUNT:,} (the largest plausible count), "
                             f"not {value}")
    params = BuildParameters(
        min_count=min_count, protection=protection, reliable_min=reliable_min, year=year
    )
    frozen = gc.get_freeze_count() > 0
    try:
        # the tiles' geometry beside the stages that need the counts, the audit beside publish
        with Ahead() as ahead, Ahead() as checked:
            return _build(Path(folder), params, (ahead, checked), counts, indicators, out,
                          id_column, Path(data_dir), say, workers)
    finally:
        if not frozen:
            gc.unfreeze()


def _settle() -> None:
    """Hide every object alive now from the cyclic garbage collector until the build ends.

    A national build holds millions of objects (the strings of a million cells); each full
    collection walked all of them (9 collections, about 5 CPU s). Frozen objects are still
    freed when their last reference goes; only cycles among them wait for the build's end.
    Forked workers inherit the frozen heap, so their collections skip it too.
    """
    gc.freeze()


def _build(
    folder: Path, params: BuildParameters, early: tuple[Ahead, Ahead],
    counts: Path | Sequence[Path] | None,
    indicators: Path | None, out: Path | None, id_column: str | None, data_dir: Path,
    say: Callable[[str], None], workers: int,
) -> BuildResult:
    ahead, checked = early
    say(f"[1/6] Geografie laden: {folder}")
    spec = load_manifest(folder)
    out = build_folder(out, data_dir, spec.id)
    for done in remove_stale(out):
        say(f"      aufgeräumt / cleaned up: {done}")
    indicators = Path(indicators) if indicators else folder / INDICATORS_FILE
    if counts is None:
        counts_files = [folder / COUNTS_FILE]
    elif isinstance(counts, (str, Path)):
        counts_files = [Path(counts)]
    else:
        counts_files = [Path(p) for p in counts] or [folder / COUNTS_FILE]
    read = read_inputs(folder, spec, indicators, counts_files, year=params.year,
                       id_column=id_column)  # the geography on a thread beside the counts
    geography, catalogue, provenance, counts_frame = (read.geography, read.catalogue,
                                                      read.provenance, read.counts)
    for finding in geography.report.warnings:
        say(f"      Warnung: {finding}")
    _settle()
    ahead.start(partial(geography_geometry, geography), workers=workers)
    names = ", ".join(p.name for p in counts_files)
    say(f"[2/6] Katalog und Zahlen lesen: {indicators.name}, {names}")
    for warning in read.warnings:
        say(f"      Warnung: {warning}")
    _settle()
    key = _secret_key(out.parent)
    inputs = _input_hashes(geography, counts_files, indicators, key)
    same = history.same_release(out, inputs, params)
    if same is not None:
        return _reuse(out, same.release_id, say)
    say(f"[3/6] Aggregieren auf {', '.join(geography.level_ids)} und {geography.spec.total_name}")
    is_measure = counts_frame["variable"].isin(catalogue.measure_ids)
    cells = aggregate(geography, counts_frame[~is_measure], catalogue)
    measures = aggregate_measures(geography, counts_frame[is_measure], catalogue, cells)
    for period in catalogue.periods:
        pooled = [i.id for i in catalogue.indicators
                  if period.covers(i.numerator) and period.covers(i.denominator)]
        say(f"      Zeitraum {period.label} (Summe der Jahre {period.first} bis {period.last}): "
            f"{', '.join(pooled) or 'kein Indikator'}")
    _settle()
    _check_proportions(cells, catalogue)
    digests = cell_digests(cells, key)
    new = history.ReleaseInfo("", "", sorted_year_keys(cells["year"].unique()), False, out,
                              params, inputs, digests)
    earlier = [union.read_pattern(info) for info in history.releases(out)]
    forced, basis = lineage.forced_withheld(cells, new, earlier)
    if basis:  # the pattern it starts from is part of what the release is
        inputs = {**inputs, history.PATTERN_FROM: " ".join(basis)}
    rid = release_id(inputs, params.to_dict())
    new = replace(new, release_id=rid, path=release_dir(out, rid), inputs=inputs)
    say(f"[4/6] Geheimhaltung: Werte 1..{params.min_count - 1} sperren, "
        f"Schutzbreite {params.protection}"
        + ("; Jahre und Zeiträume gemeinsam" if catalogue.periods else ""))
    if forced.any():
        say(f"      {int(forced.sum())} Zellen bleiben gesperrt wie in früheren Releases "
            "derselben Zahlen / stay withheld as in earlier releases of the same counts")
    protected = protect(
        cells, geography.areas, catalogue, min_count=params.min_count,
        protection=params.protection, force_withheld=forced if forced.any() else None,
        workers=workers,
    )
    _settle()
    say("[5/6] Prüfung aus Sicht eines Angreifers (Audit)")
    # the outsider's audit on a process of its own beside publishing and writing; nothing is
    # published before the final rename, which waits for its verdict
    audited = partial(_audit, cells, protected, geography.areas, catalogue.sums,
                      params.protection)
    checked.start(audited, workers=workers)
    published = publish(
        geography,
        catalogue,
        cells,
        protected,
        parameters=params,
        inputs=inputs,
        measures=measures,
        provenance=provenance,
    )
    _settle()
    log, pattern = _cross_release_log(out, published, protected.log, new, earlier, say)
    # the audit of the union with earlier online releases runs beside the writers
    gates: list[Callable[[], object]] = []
    if pattern is not None:
        gates.append(partial(lineage.cross_release_gate, pattern, earlier))
    reports: list[AuditReport] = []

    def accept(verdicts: list[object]) -> None:
        report = checked.result()  # None if it did not run on its own: then here
        reports.append(audited() if report is None else report)
        _accept(out, pattern, earlier, [reports[0], *verdicts])

    say(f"[6/6] Schreiben: {out}")
    write_release(published, log, out, digests, workers=workers, gates=gates, accept=accept,
                  ahead=ahead)
    gate = reports[0]
    counts_by_status = published.cells["status"].value_counts()
    say(
        "      fertig: "
        + ", ".join(
            f"{int(counts_by_status.get(s, 0))} {STATUS[s]}"
            for s in ("published", "suppressed", "missing")
        )
        + f"; Release {published.release_id}"
    )
    return BuildResult(out, suppression_log_path(out), published, gate)


def _reuse(out: Path, rid: str, say: Callable[[str], None]) -> BuildResult:
    """Same inputs and parameters: the same release; make it current, write nothing."""
    info = history.make_current(out, rid)
    say(f"[3/3] Release {rid} gibt es schon (gleiche Eingaben und Parameter); "
        f"nichts neu geschrieben, jetzt aktuell: {out}")
    return BuildResult(out, suppression_log_path(out), read_build(info.path),
                       audit_build(info.path))


def _audit(cells: pd.DataFrame, protected: Protection, areas: pd.DataFrame,
           sums: Sequence[SumRule], protection: int) -> AuditReport:
    """The outsider's audit of the protected cells (a job beside the writers)."""
    return audit_protected(cells, protected, areas, sums, protection=protection)


def _accept(out: Path, pattern: union.Pattern | None, earlier: list[union.Pattern],
            verdicts: list[object]) -> None:
    """Refuse the release unless its audit and the audit of its union with the earlier
    online releases (``lineage.cross_release_gate``'s failures) passed."""
    gate = verdicts[0]
    assert isinstance(gate, AuditReport)
    if not gate.ok:
        raise DisclosureError(_refusal(gate))
    failures = verdicts[1] if pattern is not None else None
    if failures:
        raise DisclosureError(lineage.refusal(str(out), pattern, failures, earlier))  # type: ignore[arg-type]


def _cross_release_log(
    out: Path, published: PublishedBuild, log: pd.DataFrame, new: history.ReleaseInfo,
    earlier: list[union.Pattern], say: Callable[[str], None],
) -> tuple[pd.DataFrame, union.Pattern | None]:
    """The sign-off log among the online releases, and the new pattern their union audit
    checks (``_accept`` refuses on its failures, after the build's own audit).

    The log gets a ``revised`` row for each withheld cell whose old value an earlier release
    of other counts published (said in the build output too).
    """
    if not earlier:
        return log, None
    pattern = union.Pattern(new, published.cells, log.loc[log["reason"] == "primary", union.KEY],
                            published.areas, tuple(published.catalogue.sums))
    for group in lineage.joined_groups(pattern, earlier):
        others = ", ".join(i for i in group.release_ids if i != new.release_id)
        members = [p for p in [*earlier, pattern] if p.release_id in group.release_ids]
        widths = min(p.protection for p in members)
        years = ", ".join(str(y) for y in group.years)
        say(f"      zusammen mit Release {others} (gemeinsame Zahlen {years}): "
            f"Prüfung der Vereinigung, Schutzbreite {widths}")
        if widths < published.parameters.protection:
            say(f"      Hinweis / note: solange Release {others} online ist, gilt Schutzbreite "
                f"{widths} / while it is online, the effective protection width is {widths}")
    revised = lineage.revised_public(published.cells, new, earlier)
    for line in lineage.revised_note(revised):
        say(f"      {line}")
    if not len(revised):
        return log, pattern
    rows = revised.drop_duplicates(union.KEY)[union.KEY].assign(reason="revised")
    return pd.concat([log, rows], ignore_index=True), pattern

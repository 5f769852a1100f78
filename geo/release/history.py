"""The releases of a build folder: list them, add one, make one current, take one offline.

Layout (``geo.release.layout``)::

    data/mini.releases/<id>/                 every release, a complete build folder each
    data/mini.releases/<id>.suppression.csv  its sign-off log (never served)
    data/mini -> mini.releases/<id>          the current release (a symbolic link)
    data/mini.suppression.csv -> ...         the current release's log

Making a release current replaces the link with a new one in one ``rename`` (atomic on
POSIX), so ``data/mini/cells.csv`` always names a complete release and the service notices
the change on its next check. A plain ``data/mini`` folder of an older version moves into
the releases folder the first time it is replaced.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from geo import __version__
from geo.errors import BuildError, NotFoundError
from geo.inputs.periods import YearKey, parse_year_key
from geo.release.layout import MANIFEST_FILE, release_dir, releases_dir, suppression_log_path
from geo.release.manifest import read_manifest, year_digests_from_manifest
from geo.release.parameters import BuildParameters

WITHDRAWN_SUFFIX = ".withdrawn"
"""Releases taken offline lie in ``data/<geo>.withdrawn/`` (kept, never served)."""
PATTERN_FROM = "pattern_from"
"""Key of ``inputs``: the earlier releases whose pattern a build started from (their ids).

Part of the release id, so the same counts and parameters started from other releases are
another release; not part of "the same inputs" (``source_inputs``)."""


@dataclass(frozen=True)
class ReleaseInfo:
    """One release of a build folder, as its manifest describes it."""

    release_id: str
    created: str
    years: tuple[YearKey, ...]
    current: bool
    path: Path
    parameters: BuildParameters = field(default_factory=BuildParameters)
    inputs: Mapping[str, str] = field(default_factory=dict)
    year_digests: Mapping[int, Mapping[str, str]] = field(default_factory=dict)
    """``{year: {variable: keyed digest}}`` of the raw cells (``geo.release.digests``)."""
    version: str = __version__

    @property
    def log_path(self) -> Path:
        """The release's sign-off log (beside its folder)."""
        return suppression_log_path(self.path)


def _info(path: Path, current: bool) -> ReleaseInfo | None:
    try:
        manifest = read_manifest(path)
        return ReleaseInfo(
            release_id=str(manifest["release_id"]),
            created=str(manifest["created"]),
            years=tuple(parse_year_key(y) for y in manifest["years"]),
            current=current,
            path=path,
            parameters=BuildParameters.from_dict(manifest.get("parameters", {})),
            inputs=dict(manifest.get("inputs", {})),
            year_digests=year_digests_from_manifest(manifest),
            version=str(manifest.get("quartier_version", "")),
        )
    except (OSError, KeyError, ValueError, TypeError, BuildError):
        return None


def current_path(out: Path) -> Path | None:
    """The real folder of the current release of ``out`` (None if there is none)."""
    out = Path(out)
    return out.resolve() if (out / MANIFEST_FILE).exists() else None


def _is_legacy(out: Path) -> bool:
    """A plain build folder of an older version (not yet a link into the releases folder)."""
    return out.is_dir() and not out.is_symlink()


def releases(out: Path) -> list[ReleaseInfo]:
    """Every online release of ``out``, oldest first.

    By creation time (to the second), then the time its manifest was written (two builds in
    one second), then id (``release_order``).
    """
    out = Path(out)
    current = current_path(out)
    found: list[ReleaseInfo] = []
    root = releases_dir(out)
    if root.is_dir():
        for path in sorted(root.iterdir()):
            if path.name.startswith(".") or not path.is_dir() or path.is_symlink():
                continue
            info = _info(path, path.resolve() == current)
            if info is not None:
                found.append(info)
    if _is_legacy(out) and current is not None:
        info = _info(out, True)
        if info is not None and all(r.release_id != info.release_id for r in found):
            found.append(info)
    return sorted(found, key=release_order)


def release_order(info: ReleaseInfo) -> tuple[str, int, str]:
    """Oldest first: creation time (to the second), manifest write time (ns), id."""
    try:
        written = (info.path / MANIFEST_FILE).stat().st_mtime_ns
    except OSError:
        written = 0
    return info.created, written, info.release_id


def _unknown(out: Path, release_id: str, known: list[ReleaseInfo]) -> NotFoundError:
    names = ", ".join(r.release_id for r in known) or "keine / none"
    return NotFoundError(f"unknown release '{release_id}' of {out} (known: {names})")


def find_release(out: Path, release_id: str) -> ReleaseInfo:
    """One online release of ``out`` or NotFoundError listing the releases."""
    known = releases(out)
    for info in known:
        if info.release_id == release_id:
            return info
    raise _unknown(out, release_id, known)


def source_inputs(inputs: Mapping[str, str]) -> dict[str, str]:
    """The digests of the input files alone (without the releases a pattern started from)."""
    return {k: v for k, v in inputs.items() if k != PATTERN_FROM}


def same_release(
    out: Path, inputs: Mapping[str, str], parameters: BuildParameters
) -> ReleaseInfo | None:
    """The online release built from the same inputs with the same parameters and version."""
    wanted = source_inputs(inputs)
    for info in releases(out):
        if (info.version == __version__ and info.parameters == parameters
                and source_inputs(info.inputs) == wanted):
            return info
    return None


def format_releases(infos: list[ReleaseInfo]) -> str:
    """One line per release: id, created, years, ``* aktuell`` for the current one."""
    lines = []
    for r in infos:
        years = ",".join(str(y) for y in r.years) or "-"
        mark = "  * aktuell / current" if r.current else ""
        lines.append(f"{r.release_id}  {r.created}  {years}{mark}")
    return "\n".join(lines)


def _swap_link(link: Path, target: Path) -> None:
    """Point ``link`` at ``target`` (relative) by renaming a new link over it: atomic."""
    tmp = link.parent / f".{link.name}.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(target, link.parent), tmp)
    try:
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def check_target(out: Path) -> None:
    """Raise BuildError when ``out`` is something a build must not replace."""
    out = Path(out)
    if out.is_symlink():
        if (out / MANIFEST_FILE).exists() or not out.exists():
            return
        raise BuildError(f"{out} is a link to something that is not a Quartier build")
    if out.exists() and not out.is_dir():
        raise BuildError(f"{out} exists and is not a folder; refusing to replace it")
    if out.is_dir() and not (out / MANIFEST_FILE).exists() and any(out.iterdir()):
        raise BuildError(f"{out} exists and is not a Quartier build; refusing to replace it")


def _migrate(out: Path) -> None:
    """Move a plain build folder of an older version (and its log) into the releases folder."""
    check_target(out)
    if not _is_legacy(out):
        return
    if not (out / MANIFEST_FILE).exists():
        out.rmdir()  # empty (check_target refuses anything else)
        return
    info = _info(out, True)
    if info is None:
        raise BuildError(f"{out}: manifest.json is unreadable; move the folder away first")
    dest = release_dir(out, info.release_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    log = suppression_log_path(out)
    if dest.exists():  # already kept: the plain folder is a copy
        trash = out.parent / f".{out.name}.old-{os.getpid()}"
        os.rename(out, trash)
        _swap_link(out, dest)
        shutil.rmtree(trash, ignore_errors=True)
        return
    # the service keeps serving through the gap: a hidden sibling marks a swap in progress
    marker = out.parent / f".{out.name}.link-{os.getpid()}"
    os.symlink(os.path.relpath(dest, out.parent), marker)
    os.rename(out, dest)
    os.replace(marker, out)
    if log.is_file() and not log.is_symlink():
        os.replace(log, suppression_log_path(dest))


def make_current(out: Path, release_id: str) -> ReleaseInfo:
    """Make an online release of ``out`` the current one (the links swap atomically)."""
    out = Path(out)
    _migrate(out)
    info = find_release(out, release_id)
    _swap_link(out, info.path)
    if info.log_path.exists():
        _swap_link(suppression_log_path(out), info.log_path)
    return replace(info, current=True)


rollback = make_current
"""``quartier rollback``: make an earlier release current again."""


def add_release(out: Path, folder: Path, log: Path, release_id: str) -> ReleaseInfo:
    """Move a complete, hidden release folder and its log into place and make it current.

    An existing release with the same id is the same release: the new copy is dropped.
    """
    out = Path(out)
    check_target(out)
    dest = release_dir(out, release_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        shutil.rmtree(folder, ignore_errors=True)
        log.unlink(missing_ok=True)
    else:
        os.replace(log, suppression_log_path(dest))
        os.rename(folder, dest)
    return make_current(out, release_id)


def withdraw(out: Path, release_id: str) -> Path:
    """Take a release offline: move it and its log to ``data/<geo>.withdrawn/`` (kept).

    The current release cannot be withdrawn (roll back or build another one first).
    """
    out = Path(out)
    info = find_release(out, release_id)
    if info.current:
        raise BuildError(
            f"release '{release_id}' is the current release of {out}; make another one current "
            "first (quartier rollback) or build a new one"
        )
    dest = out.parent / f"{out.name}{WITHDRAWN_SUFFIX}" / release_id
    dest.parent.mkdir(parents=True, exist_ok=True)
    if info.log_path.exists():
        os.replace(info.log_path, suppression_log_path(dest))
    os.rename(info.path, dest)
    return dest

"""Published builds found in the data folder: the current release of each geography and every
release kept beside it, reloaded when a rebuild or a rollback lands."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from geo.errors import BuildError, NotFoundError
from geo.release import MANIFEST_FILE, PublishedBuild, read_build
from geo.release.history import ReleaseInfo, release_order, releases
from service.cache import LRUCache

log = logging.getLogger("quartier.service")

KEPT_RELEASES = 4
"""Earlier releases held in memory at once (loaded when first asked for, least recent go)."""


class Located(NamedTuple):
    """A release and the folder its files are served from."""

    build: PublishedBuild
    path: Path


@dataclass
class _Entry:
    build: PublishedBuild
    path: Path
    """``data/<geo>``: the link to the current release (or a plain folder of an older version)."""
    real: Path
    """The current release's own folder."""
    mtime_ns: int
    releases: list[ReleaseInfo]


def _listing(folder: Path, before: list[ReleaseInfo]) -> list[ReleaseInfo]:
    """The releases beside a build folder (the previous list while a swap is under way)."""
    try:
        return releases(folder)
    except OSError:
        return before


class BuildStore:
    """Serve every build below ``data_dir``, keyed by the geography id in its manifest.

    A rebuild or a rollback swaps the ``data/<geo>`` link atomically; the store notices on the
    next request (checked at most every ``check_seconds``) and keeps serving the previous
    release if the new one cannot be read. Kept releases (``data/<geo>.releases/``) are read
    when first asked for, at most ``kept_releases`` of them in memory.
    """

    def __init__(
        self, data_dir: Path, *, check_seconds: float = 1.0, kept_releases: int = KEPT_RELEASES
    ) -> None:
        self.data_dir = Path(data_dir)
        self.check_seconds = check_seconds
        self._entries: dict[str, _Entry] = {}
        self._kept: LRUCache[tuple[str, int], PublishedBuild] = LRUCache(kept_releases)
        self._checked = 0.0
        self._lock = threading.Lock()
        self.refresh(force=True)

    def _load(self, folder: Path) -> PublishedBuild | None:
        real = folder.resolve()
        try:
            mtime = (real / MANIFEST_FILE).stat().st_mtime_ns
            cached = self._kept.get((str(real), mtime))
            return cached if cached is not None else read_build(real)
        except (BuildError, OSError) as exc:
            log.warning("could not read build %s: %s", folder, exc)
            return None

    def refresh(self, *, force: bool = False) -> None:
        """Rescan the data folder for new, changed, rolled back or removed builds."""
        now = time.monotonic()
        if not force and now - self._checked < self.check_seconds:
            return
        with self._lock:
            self._checked = now
            seen: set[str] = set()
            folders = (
                sorted(self.data_dir.glob(f"*/{MANIFEST_FILE}")) if self.data_dir.is_dir() else []
            )
            for manifest in folders:
                folder = manifest.parent
                if folder.name.startswith("."):
                    continue
                try:
                    mtime = manifest.stat().st_mtime_ns
                    real = folder.resolve()
                except (FileNotFoundError, RuntimeError):
                    continue
                known = next((e for e in self._entries.values() if e.path == folder), None)
                if known is not None and known.mtime_ns == mtime and known.real == real:
                    known.releases = _listing(folder, known.releases)
                    seen.add(known.build.geography.id)
                    continue
                build = self._load(folder)
                if build is None:
                    if known is not None:
                        seen.add(known.build.geography.id)
                    continue
                if known is not None:  # the previous current release stays readable
                    self._kept.put((str(known.real), known.mtime_ns), known.build)
                gid = build.geography.id
                self._entries[gid] = _Entry(build, folder, real, mtime, _listing(folder, []))
                seen.add(gid)
            for gid in list(self._entries):
                entry = self._entries[gid]
                if gid not in seen and not (entry.path / MANIFEST_FILE).exists():
                    # keep serving while a rebuild swaps folders; drop only when truly gone
                    if not any(entry.path.parent.glob(f".{entry.path.name}.*")):
                        del self._entries[gid]

    def ids(self) -> list[str]:
        """Return the geography ids of all builds, sorted."""
        self.refresh()
        return sorted(self._entries)

    def builds(self) -> list[PublishedBuild]:
        """Return the current build of every geography, sorted by geography id."""
        self.refresh()
        return [self._entries[k].build for k in sorted(self._entries)]

    def _entry(self, geography: str) -> _Entry:
        self.refresh()
        try:
            return self._entries[geography]
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise NotFoundError(f"unknown geography '{geography}' (known: {known})") from None

    def releases(self, geography: str) -> list[ReleaseInfo]:
        """Every online release of one geography, oldest first (``current`` marks one)."""
        entry = self._entry(geography)
        current = entry.build.release_id
        found = [replace(r, current=False) for r in entry.releases if r.release_id != current]
        info = ReleaseInfo(current, entry.build.created, entry.build.years, True, entry.real)
        return sorted([*found, info], key=release_order)

    def _release(self, geography: str, release: str) -> ReleaseInfo:
        for info in self.releases(geography):
            if info.release_id == release:
                return info
        known = ", ".join(r.release_id for r in self.releases(geography))
        raise NotFoundError(f"unknown release '{release}' of '{geography}' (known: {known})")

    def located(self, geography: str, release: str | None = None) -> Located:
        """One release of a geography (the current one by default) and its folder, together."""
        entry = self._entry(geography)
        if release is None or release == entry.build.release_id:
            return Located(entry.build, entry.real)
        info = self._release(geography, release)
        try:
            mtime = (info.path / MANIFEST_FILE).stat().st_mtime_ns
        except FileNotFoundError:  # taken offline since the last check
            raise NotFoundError(f"release '{release}' of '{geography}' is offline") from None
        build = self._kept.get_or_make((str(info.path), mtime), lambda: read_build(info.path))
        return Located(build, info.path)

    def get(self, geography: str, release: str | None = None) -> PublishedBuild:
        """The current build of one geography, or one of its releases; else NotFoundError."""
        return self.located(geography, release).build

    def path(self, geography: str, release: str | None = None) -> Path:
        """The folder of the current build of one geography, or of one of its releases."""
        return self.located(geography, release).path

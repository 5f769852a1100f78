"""Published builds found in the data folder, reloaded when a rebuild lands."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from geo.errors import BuildError, NotFoundError
from geo.release import MANIFEST_FILE, PublishedBuild, read_build

log = logging.getLogger("quartier.service")


@dataclass
class _Entry:
    build: PublishedBuild
    path: Path
    mtime_ns: int


class BuildStore:
    """Serve every build below ``data_dir``, keyed by the geography id in its manifest.

    A rebuild replaces the folder atomically; the store notices the new manifest on the next
    request (checked at most every ``check_seconds``) and keeps serving the previous release
    if the new one cannot be read.
    """

    def __init__(self, data_dir: Path, *, check_seconds: float = 1.0) -> None:
        self.data_dir = Path(data_dir)
        self.check_seconds = check_seconds
        self._entries: dict[str, _Entry] = {}
        self._checked = 0.0
        self._lock = threading.Lock()
        self.refresh(force=True)

    def refresh(self, *, force: bool = False) -> None:
        """Rescan the data folder for new, changed or removed builds."""
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
                except FileNotFoundError:
                    continue
                known = next((e for e in self._entries.values() if e.path == folder), None)
                if known is not None and known.mtime_ns == mtime:
                    seen.add(known.build.geography.id)
                    continue
                try:
                    build = read_build(folder)
                except (BuildError, OSError) as exc:
                    log.warning("could not read build %s: %s", folder, exc)
                    if known is not None:
                        seen.add(known.build.geography.id)
                    continue
                self._entries[build.geography.id] = _Entry(build, folder, mtime)
                seen.add(build.geography.id)
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
        """Return all builds, sorted by geography id."""
        self.refresh()
        return [self._entries[k].build for k in sorted(self._entries)]

    def get(self, geography: str) -> PublishedBuild:
        """Return the build of one geography or raise NotFoundError."""
        self.refresh()
        try:
            return self._entries[geography].build
        except KeyError:
            known = ", ".join(sorted(self._entries)) or "none"
            raise NotFoundError(f"unknown geography '{geography}' (known: {known})") from None

    def path(self, geography: str) -> Path:
        """Return the folder of one build."""
        self.get(geography)
        return self._entries[geography].path

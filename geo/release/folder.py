"""The folder a build replaces: checked before any work; what killed builds left, removed.

A build writes a new release into ``data/<geo>.releases/.<id>.tmp-<pid>`` (its log into
``.<id>.log-<pid>``) and makes it current by renaming links (``.<geo>.link-<pid>``) over
``data/<geo>`` (``geo.release.history``). :func:`build_folder` checks the folder a build is
given before any work, so a bad ``--out`` writes nothing anywhere. :func:`remove_stale` removes
what builds killed with SIGKILL left (never a running build's files) and puts back the current
release when a kill left ``data/<geo>`` missing mid-swap. :func:`signals_held` makes SIGINT and
SIGTERM wait while a release is moved into place.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from geo.errors import BuildError
from geo.release.history import check_target
from geo.release.layout import MANIFEST_FILE, releases_dir, suppression_log_path


def _normal(path: Path) -> Path:
    """Absolute, with ``.`` and ``..`` resolved as written (symbolic links are kept)."""
    return Path(os.path.normpath(path.absolute()))


def build_folder(out: Path | None, data_dir: Path, geography_id: str) -> Path:
    """The folder a build replaces, checked before any work: never more than the user named.

    Default ``data_dir/<geography id>``; ``--out`` may not be the root, ``..``, a file or a path
    under one, a folder that holds something other than a Quartier build, or a link to one.

    Raises:
        BuildError: naming the folder and what is wrong with it.
    """
    if out is None:
        out = data_dir / geography_id
        if _normal(out).parent != _normal(data_dir):  # the manifest's id rule already ensures it
            raise BuildError(f"the geography id {geography_id!r} would write outside the data "
                             f"folder {data_dir}")
    out = Path(os.path.normpath(out))
    if out.name in ("", "."):
        out = _normal(out)
    if not out.name or out.name == "..":
        raise BuildError(f"--out {out}: name the build folder itself, not the root or '..'")
    for ancestor in out.parents:
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                raise BuildError(f"--out {out}: {ancestor} is a file, not a folder")
            break
    try:
        check_target(out)
    except OSError as exc:
        raise BuildError(f"cannot read {out}: {exc.strerror or exc}") from None
    return out


def _alive(pid: int) -> bool:
    """True when a process ``pid`` exists (also one of another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def _stale(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    """Entries of ``folder`` named by ``pattern`` whose process (last group) no longer exists."""
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        match = pattern.fullmatch(path.name)
        if match is not None and not _alive(int(match.groups()[-1])):
            found.append(path)
    return found


def _restore(out: Path, stale: list[Path]) -> Path | None:
    """Put ``out`` back from a kill mid-swap: a link to a release, else a moved-aside folder."""
    if out.exists() or out.is_symlink():
        return None
    links = [p for p in stale if ".link-" in p.name and p.is_symlink()
             and (p / MANIFEST_FILE).exists() and p.name.startswith(f".{out.name}.link-")]
    folders = [p for p in stale if p.name.startswith(f".{out.name}.old-") and p.is_dir()
               and (p / MANIFEST_FILE).exists()]
    for path in links[:1] or folders[:1]:
        os.replace(path, out)
        return path
    return None


def remove_stale(out: Path) -> list[str]:
    """Remove what killed builds of ``out`` left; say what was done, one line each."""
    names = "|".join(re.escape(n) for n in (out.name, suppression_log_path(out).name))
    beside = re.compile(rf"\.(?:{names})\.(tmp|old|link)-([0-9]+)")
    inside = re.compile(r"\..+\.(tmp|log)-([0-9]+)")
    done: list[str] = []
    try:
        stale = _stale(out.parent, beside)
        restored = _restore(out, stale)
        if restored is not None:
            done.append(f"{out} restored from {restored.name} (a build was killed while "
                        "swapping)")
        for path in [*(p for p in stale if p != restored), *_stale(releases_dir(out), inside)]:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            done.append(f"{path.name} (left by a killed build)")
    except OSError as exc:
        raise BuildError(f"cannot clean up beside {out}: {exc.strerror or exc}") from None
    return done


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM in this thread: a stop waits until the block is done."""
    held = {signal.SIGINT, signal.SIGTERM}
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)

"""The folder a release is written to: checked first, written beside, swapped in whole.

A build writes into ``.<name>.tmp-<pid>`` beside the build folder and swaps it in, the old
release moved to ``.<name>.old-<pid>`` for that moment. :func:`build_folder` checks the folder
before any work, so a bad ``--out`` writes nothing anywhere; :func:`remove_stale` removes what a
killed build left (never a running build's files, and it puts back a release a kill left aside
mid-swap); :func:`signals_held` makes SIGINT/SIGTERM wait for the swap.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from geo.errors import BuildError
from geo.release.layout import MANIFEST_FILE, suppression_log_path


class Temporaries(NamedTuple):
    """What one build process writes beside the build folder before the swap."""

    new: Path
    """``.<name>.tmp-<pid>``: the new release being written."""
    old: Path
    """``.<name>.old-<pid>``: the previous release while the new one is moved in."""
    log: Path
    """``.<name>.suppression.csv.tmp-<pid>``: the new sign-off log."""


def temporaries(out: Path, pid: int) -> Temporaries:
    """The temporaries of process ``pid`` building ``out``."""
    log_name = suppression_log_path(out).name
    return Temporaries(out.parent / f".{out.name}.tmp-{pid}", out.parent / f".{out.name}.old-{pid}",
                       out.parent / f".{log_name}.tmp-{pid}")


def _normal(path: Path) -> Path:
    """Absolute, with ``.`` and ``..`` resolved as written (symbolic links are kept)."""
    return Path(os.path.normpath(path.absolute()))


def check_replaceable(out: Path) -> None:
    """Refuse to replace a folder that holds anything but a Quartier build."""
    try:
        foreign = out.is_dir() and not (out / MANIFEST_FILE).exists() and any(out.iterdir())
    except OSError as exc:
        raise BuildError(f"cannot read {out}: {exc.strerror or exc}") from None
    if foreign:
        raise BuildError(f"{out} exists and is not a Quartier build; refusing to replace it")


def build_folder(out: Path | None, data_dir: Path, geography_id: str) -> Path:
    """The folder a build replaces, checked before any work: never more than the user named.

    Default ``data_dir/<geography id>``; ``--out`` may not be the root, a file, a symbolic link
    or a folder that holds something other than a Quartier build.

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
    if out.is_symlink():
        raise BuildError(f"--out {out} is a symbolic link; name the folder it points to (the "
                         "build replaces the folder it is given)")
    for ancestor in (out, *out.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise BuildError(f"--out {out}: {ancestor} is a file, not a folder")
            break
    check_replaceable(out)
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


def remove_stale(out: Path) -> list[str]:
    """Remove what killed builds of ``out`` left beside it; say what was done, line by line.

    Only temporaries of processes that no longer exist are touched. A build killed while
    swapping leaves ``out`` missing and the last release in ``.old-<pid>``: that release is put
    back.
    """
    names = (re.escape(out.name), re.escape(suppression_log_path(out).name))
    pattern = re.compile(rf"\.(?:{names[0]}|{names[1]})\.(tmp|old)-([0-9]+)")
    done: list[str] = []
    try:
        entries = sorted(out.parent.iterdir()) if out.parent.is_dir() else []
        for path in entries:
            match = pattern.fullmatch(path.name)
            if match is None or _alive(int(match.group(2))):
                continue
            if path == temporaries(out, int(match.group(2))).old and not out.exists():
                os.rename(path, out)
                done.append(f"{out} restored from {path.name} (a build was killed while swapping)")
            elif path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
                done.append(f"{path.name} (left by a killed build)")
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

"""Forked copies of the build (geo/render/tiles/pool.py) never run the build's own code."""

from __future__ import annotations

import os
import signal
import time
from functools import partial
from pathlib import Path

from geo.render.tiles.pool import Ahead


class Stopped(Exception):
    """What the build's SIGTERM handler raises (geo.cli)."""


def _raise(signum: int, frame: object) -> None:
    raise Stopped


def test_a_signal_right_after_the_fork_kills_the_copy(tmp_path: Path) -> None:
    """With the build's handler installed (SIGTERM raises), a SIGTERM sent to the early job's
    process the moment it exists ends that process; the handler never runs in the copy (it
    once did: the copy raised into the caller's stack and went on with the caller's code)."""
    parent = os.getpid()
    old = signal.signal(signal.SIGTERM, _raise)
    codes = []
    try:
        for _ in range(25):
            ahead = Ahead()
            try:
                ahead.start(partial(time.sleep, 5), workers=2)
                process = ahead._process
                os.kill(process.pid, signal.SIGTERM)
                process.join(10)
                codes.append(process.exitcode)
            finally:
                if os.getpid() != parent:  # the copy is running this test: the bug
                    (tmp_path / f"copy-{os.getpid()}").write_text("ran the caller's code")
                    os._exit(0)
                ahead.close()
    finally:
        signal.signal(signal.SIGTERM, old)
    assert not list(tmp_path.glob("copy-*"))
    assert codes == [-signal.SIGTERM] * 25


def test_closing_a_running_job_stops_it_at_once() -> None:
    """Leaving the block before taking the result stops the job (it computes only)."""
    with Ahead() as ahead:
        ahead.start(partial(time.sleep, 30), workers=2)
        process = ahead._process
    assert not process.is_alive()

"""Independent writing jobs of a build run side by side in forked worker processes.

A job is a callable without arguments; its closure (the published build, prepared levels)
reaches the workers by ``fork``, so nothing large is pickled on the way in, only each job's
result on the way back. Results come back in the order of the jobs, whatever finished
first, so the output never depends on the number of workers. Jobs start in the order
given: put the longest first. With one worker, one job or no ``fork`` (not on Linux) the
jobs run in this process, one after another.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")

WORKERS = os.cpu_count() or 1
"""Worker processes of a build's writing stage (one per core)."""

_JOBS: Sequence[Callable[[], Any]] = ()

_STOP = {signal.SIGTERM, signal.SIGINT}
"""Signals the build turns into exceptions (``geo.cli``); a forked copy must simply die."""


def _send(job: Callable[[], Any], conn: Any) -> None:
    # a copy of the build: its handlers would raise into the build's copied stack
    for sig in _STOP:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP)
    try:
        conn.send(job())
    except BaseException:  # noqa: BLE001 - the caller then does the work itself
        conn.send(None)
    finally:
        conn.close()


class Ahead:
    """One job started early on a forked process, its result picked up later.

    ``result()`` is the job's result, or None if it failed or never started (one worker,
    no ``fork``): the caller then does the work itself, and its errors surface there.
    ``close()`` (or leaving the ``with`` block) stops a job whose result nobody took.
    """

    def __init__(self) -> None:
        self._process: Any = None
        self._conn: Any = None
        self.job: Callable[[], Any] | None = None

    def start(self, job: Callable[[], Any], *, workers: int = WORKERS) -> None:
        """Start ``job`` beside this process if there is more than one worker."""
        self.job = job
        if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
            return
        context = multiprocessing.get_context("fork")
        self._conn, child = context.Pipe(duplex=False)
        self._process = context.Process(target=_send, args=(job, child), daemon=True)
        # blocked until the copy has reset its handlers: a signal arriving right after the
        # fork must not run the build's handler in the copy (it raised there, and the copy
        # went on with the caller's code)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP)
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        child.close()

    def result(self) -> Any:
        """The job's result (waits for it), or None."""
        if self._process is None:
            return None
        try:
            return self._conn.recv()
        except (EOFError, OSError):
            return None
        finally:
            self.close()

    def close(self) -> None:
        """Stop the job if it still runs; forget it."""
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()  # computes only: nothing to clean up
            self._process.join()
            self._conn.close()
            self._process = self._conn = None

    def __enter__(self) -> Ahead:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run(index: int) -> Any:
    return _JOBS[index]()


def run_jobs(jobs: Sequence[Callable[[], T]], *, workers: int = WORKERS,
             done: Callable[[int], None] | None = None) -> list[T]:
    """Run ``jobs`` on up to ``workers`` processes; their results in the order of ``jobs``.

    ``done(i)`` is called in this process as job ``i`` finishes (progress). The first
    failing job's exception is raised once the jobs running alongside it have stopped.
    """
    global _JOBS
    if workers <= 1 or len(jobs) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        results = []
        for i, job in enumerate(jobs):
            results.append(job())
            if done is not None:
                done(i)
        return results
    _JOBS = jobs
    # objects that exist now are not scanned by the workers' garbage collector, so the
    # memory they share with this process stays shared instead of being copied page by page;
    # a caller that froze its heap already (a build) keeps it frozen
    frozen = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
            futures = [pool.submit(_run, i) for i in range(len(jobs))]
            if not frozen:
                gc.unfreeze()
            index = {future: i for i, future in enumerate(futures)}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    if future.exception() is not None:
                        for other in pending:
                            other.cancel()
                        raise future.exception()  # type: ignore[misc]
                    if done is not None:
                        done(index[future])
            return [future.result() for future in futures]
    finally:
        if not frozen:
            gc.unfreeze()
        _JOBS = ()

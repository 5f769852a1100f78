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
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any, TypeVar

T = TypeVar("T")

WORKERS = os.cpu_count() or 1
"""Worker processes of a build's writing stage (one per core)."""

_JOBS: Sequence[Callable[[], Any]] = ()


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
    # memory they share with this process stays shared instead of being copied page by page
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=context) as pool:
            futures = [pool.submit(_run, i) for i in range(len(jobs))]
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
        gc.unfreeze()
        _JOBS = ()

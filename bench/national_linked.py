"""The national linked table of issue 13.4: VG5000 x 20 variables x 5 years, a sum, 2 periods.

Run alone as ``python -m bench.national_linked [--workers N]``; ``bench.disclosure`` prints
it in ``make bench``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from bench.disclosure import (
    _audit,
    _Cat,
    _counts,
    _Sum,
    _Var,
    aggregate_cells,
    small_counts,
    vg5000_areas,
    with_periods,
)
from geo import disclosure as dc
from geo.disclosure.closure import DECOMPOSE_CELLS


def _cpu() -> float:
    """CPU seconds of this process and of its finished children (worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def national_linked(n_plain: int = 17, years: int = 5, share: float = 0.2,
                    seed: int = 2023) -> tuple:
    """VG5000 with generated counts: ``n_plain`` variables plus m + w = all (20 in all),
    five years and the two overlapping periods."""
    areas = vg5000_areas()
    rng = np.random.default_rng(seed)
    n_gem = int((areas["level"] == "gemeinde").sum())
    leaf = {f"v{i:02d}": small_counts(rng, (years, n_gem), share, high=400)
            for i in range(n_plain)}
    parts = small_counts(rng, (2, years, n_gem), share, high=400)
    leaf.update({"m": parts[0], "w": parts[1], "all": parts.sum(axis=0)})
    cat = _Cat(tuple(_Var(v, sensitive=v != "all") for v in leaf), (),
               (_Sum("all", ("m", "w")),))
    yrs = list(range(2019, 2019 + years))
    return with_periods(aggregate_cells(areas, leaf, yrs)), areas, cat


def bench_national_linked(workers: int = 2) -> list[str]:
    """The national linked case: protect (slot by slot, both cores) and the exact audit."""
    cells, areas, cat = national_linked()
    w0, c0 = time.perf_counter(), _cpu()
    prot = dc.protect(cells, areas, cat, workers=workers)
    w1, c1 = time.perf_counter(), _cpu()
    report = _audit(cells, areas, cat, prot)
    w2, c2 = time.perf_counter(), _cpu()
    n_p, n_s = _counts(prot)
    pooled = cells["year"].map(lambda y: isinstance(y, str)).to_numpy()
    shown = float((prot.status[pooled] == "published").mean())
    return [
        "### National linked table (issue 13.4)",
        "",
        "VG5000 16 > 401 > 10,997 Gemeinden; 20 variables (17 on their own, m + w = all), "
        "five years 2019–2023 and the periods 2019–2021, 2021–2023; 20 % of the Gemeinde "
        f"cells of m, w and the 17 are 1 or 2. `protect(..., workers={workers})` (tables above "
        f"{DECOMPOSE_CELLS:,} cells slot by slot), then the exact audit (`reduced`). CPU = "
        "this process and its worker processes (`os.times`).",
        "",
        "| cells | tables | primary | secondary | pooled cells published | protect wall | "
        "protect CPU | audit wall | audit CPU | total wall | audit |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {len(cells):,} | {len(cat.variables) - 2} | {n_p:,} | {n_s:,} | "
        f"{100 * shown:.0f} % | {w1 - w0:.1f} s | {c1 - c0:.1f} s | {w2 - w1:.1f} s | "
        f"{c2 - c1:.1f} s | {w2 - w0:.1f} s | {_verdict(report)} |",
    ]


def _verdict(report: dc.AuditReport) -> str:
    if report.ok:
        return f"ok ({report.n_withheld:,} withheld, {report.n_primary:,} to protect)"
    return (f"FAILED ({len(report.under_protected)} too narrow, "
            f"{len(report.published_primary)} published)")


def main() -> None:
    """Print the national linked case."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    print("\n".join(bench_national_linked(args.workers)))


if __name__ == "__main__":
    main()

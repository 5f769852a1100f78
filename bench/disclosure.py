"""Disclosure-control benchmark: speed at national scale and loss against the exact optimum.

Run as ``python -m bench.disclosure``; ``run()`` returns the markdown lines.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo import disclosure as dc

VG5000 = Path(__file__).resolve().parents[2] / "shared" / "data" / "germany-vg5000-2021"
BERLIN = Path(__file__).resolve().parents[1] / "boundaries" / "berlin-lor-2021"


@dataclass(frozen=True)
class _Var:
    id: str
    sensitive: bool = True
    name: str = ""


@dataclass(frozen=True)
class _Ind:
    id: str
    numerator: str
    denominator: str
    kind: str = "proportion"


@dataclass(frozen=True)
class _Sum:
    total: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class _Cat:
    variables: tuple[_Var, ...]
    indicators: tuple[_Ind, ...] = ()
    sums: tuple[_Sum, ...] = ()


def vg5000_areas() -> pd.DataFrame:
    """Länder > Kreise > Gemeinden of VG5000 (ARS keys; parents by ARS prefix)."""
    import pyogrio

    def read(name: str) -> pd.DataFrame:
        frame = pyogrio.read_dataframe(VG5000 / f"VG5000_{name}.dbf", read_geometry=False)
        return frame[frame["GF"] == 9]

    lan, krs, gem = read("LAN"), read("KRS"), read("GEM")
    rows = [pd.DataFrame({"level": ["total"], "area_id": ["DE"], "name": ["Deutschland"],
                          "parent_id": [""]})]
    rows.append(pd.DataFrame({"level": "land", "area_id": lan["ARS"], "name": lan["GEN"],
                              "parent_id": "DE"}))
    rows.append(pd.DataFrame({"level": "kreis", "area_id": krs["ARS"], "name": krs["GEN"],
                              "parent_id": krs["ARS"].str[:2]}))
    rows.append(pd.DataFrame({"level": "gemeinde", "area_id": gem["ARS"], "name": gem["GEN"],
                              "parent_id": gem["ARS"].str[:5]}))
    return pd.concat(rows, ignore_index=True)


def random_areas(rng: np.random.Generator, levels: int, fan: tuple[int, int]) -> pd.DataFrame:
    """A random hierarchy with uneven fan-out (single-child parents included)."""
    rows = [("total", "T", "T", "")]
    prev = ["T"]
    for k in range(levels):
        cur = []
        for pid in prev:
            for i in range(int(rng.integers(fan[0], fan[1] + 1))):
                aid = f"{pid}.{i}" if pid != "T" else str(i)
                rows.append((f"l{k}", aid, aid, pid))
                cur.append(aid)
        prev = cur
    return pd.DataFrame(rows, columns=["level", "area_id", "name", "parent_id"])


def aggregate_cells(
    areas: pd.DataFrame, leaf_values: dict[str, np.ndarray], years: list[int]
) -> pd.DataFrame:
    """Cells of every level from finest-level values ``{variable: array[year, leaf]}``."""
    levels = list(dict.fromkeys(areas["level"]))
    finest = areas[areas["level"] == levels[-1]]
    frames = []
    for var, values in leaf_values.items():
        for yi, year in enumerate(years):
            cur = pd.Series(values[yi], index=finest["area_id"].to_numpy())
            frames.append(_cells(levels[-1], cur, var, year))
            for lev in reversed(levels[:-1]):
                child = areas[areas["level"] == levels[levels.index(lev) + 1]]
                cur = pd.Series(cur.to_numpy(), index=child["parent_id"].to_numpy())
                cur = cur.groupby(level=0, sort=True).sum()
                ids = areas.loc[areas["level"] == lev, "area_id"]
                cur = cur.reindex(ids.to_numpy(), fill_value=0)
                frames.append(_cells(lev, cur, var, year))
    cells = pd.concat(frames, ignore_index=True)
    cells["value"] = cells["value"].astype("Int64")
    return cells


def _cells(level: str, values: pd.Series, var: str, year: int) -> pd.DataFrame:
    return pd.DataFrame({"level": level, "area_id": values.index.astype(str), "variable": var,
                         "year": year, "value": values.to_numpy()})


def small_counts(rng: np.random.Generator, shape: tuple[int, ...], share: float,
                 high: int = 60) -> np.ndarray:
    """Counts of which about ``share`` are 1 or 2."""
    big = rng.integers(0, high, size=shape)
    big[(big == 1) | (big == 2)] = 0
    return np.where(rng.random(shape) < share, rng.integers(1, 3, size=shape), big)


def _counts(prot: dc.Protection) -> tuple[int, int]:
    reason = prot.log["reason"]
    return int((reason == "primary").sum()), int((reason == "secondary").sum())


def _audit(cells: pd.DataFrame, areas: pd.DataFrame, cat: _Cat, prot: dc.Protection,
           width: int = dc.PROTECTION) -> dc.AuditReport:
    shown = cells.assign(value=cells["value"].where(prot.status == "published"),
                         status=prot.status)
    return dc.audit(shown, areas, cat.sums, prot.log[prot.log["reason"] == "primary"],
                    protection=width)


def bench_national(n_vars: int = 20, years: int = 5, share: float = 0.2) -> list[str]:
    """VG5000 with generated counts: time, counts, audit."""
    areas = vg5000_areas()
    rng = np.random.default_rng(2021)
    n_gem = int((areas["level"] == "gemeinde").sum())
    yrs = list(range(2019, 2019 + years))
    leaf = {f"v{i:02d}": small_counts(rng, (years, n_gem), share, high=400)
            for i in range(n_vars)}
    cells = aggregate_cells(areas, leaf, yrs)
    cat = _Cat(tuple(_Var(v) for v in leaf))
    t0 = time.perf_counter()
    prot = dc.protect(cells, areas, cat)
    t1 = time.perf_counter()
    report = _audit(cells, areas, cat, prot)
    t2 = time.perf_counter()
    n_p, n_s = _counts(prot)
    return [
        f"| VG5000 {n_vars} var × {years} yr ({len(cells):,} cells) | {n_p:,} | {n_s:,} "
        f"| {t1 - t0:.1f} s | {t2 - t1:.1f} s | {'ok' if report.ok else 'FAILED'} |"
    ]


def main() -> None:
    """Print the benchmark."""
    print("\n".join(run()))


def run() -> list[str]:
    """All disclosure benchmarks as markdown lines."""
    lines = ["## Disclosure control", "",
             "| table | primary | secondary | protect | audit | audit result |",
             "|---|---:|---:|---:|---:|---|"]
    lines += bench_national()
    return lines


if __name__ == "__main__":
    main()

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


def berlin_areas() -> pd.DataFrame:
    """Berlin's 12 Bezirke > 58 Prognoseräume (ids and names from the bundled boundaries)."""
    import pyogrio

    bez = pyogrio.read_dataframe(BERLIN / "bezirke.geojson", read_geometry=False)
    pgr = pyogrio.read_dataframe(BERLIN / "prognoseraeume.geojson", read_geometry=False)
    return pd.concat(
        [
            pd.DataFrame({"level": ["total"], "area_id": ["berlin"], "name": ["Berlin"],
                          "parent_id": [""]}),
            pd.DataFrame({"level": "bezirk", "area_id": bez["BEZ"], "name": bez["BEZ_NAME"],
                          "parent_id": "berlin"}).sort_values("area_id"),
            pd.DataFrame({"level": "prognoseraum", "area_id": pgr["PGR_ID"],
                          "name": pgr["PGR_NAME"], "parent_id": pgr["BEZ"]}
                         ).sort_values("area_id"),
        ],
        ignore_index=True,
    )


def _counts(prot: dc.Protection) -> tuple[int, int]:
    reason = prot.log["reason"]
    return int((reason == "primary").sum()), int((reason == "secondary").sum())


def _value(cells: pd.DataFrame, prot: dc.Protection) -> int:
    keys = ["level", "area_id", "variable", "year"]
    sec = prot.log[prot.log["reason"] == "secondary"][keys]
    return int(sec.merge(cells, on=keys)["value"].sum())


def _audit(cells: pd.DataFrame, areas: pd.DataFrame, cat: _Cat, prot: dc.Protection,
           width: int = dc.PROTECTION) -> dc.AuditReport:
    shown = cells.assign(value=cells["value"].where(prot.status == "published"),
                         status=prot.status)
    return dc.audit(shown, areas, cat.sums, prot.log[prot.log["reason"] == "primary"],
                    protection=width)


_OPTIMA: dict[int, tuple[pd.DataFrame, dc.Protection | None]] = {}
"""MILP optima by cells frame, so that two methods share one solve. The frame is kept with
its optimum: an ``id`` alone could be reused by a later frame."""


def _optimum(cells: pd.DataFrame, areas: pd.DataFrame, cat: _Cat,
             time_limit: float) -> tuple[dc.Protection | None, float]:
    seen = _OPTIMA.get(id(cells))
    if seen is not None and seen[0] is cells:
        return seen[1], 0.0
    t0 = time.perf_counter()
    best = dc.protect_optimal(cells, areas, cat, time_limit=time_limit)
    _OPTIMA[id(cells)] = (cells, best)
    return best, time.perf_counter() - t0


def _compare(label: str, cases: list[tuple[pd.DataFrame, pd.DataFrame, _Cat]],
             time_limit: float = 60.0, decompose: bool | None = None) -> str:
    """One table row: heuristic against the MILP optimum over a list of cases.

    ``decompose`` is passed to ``protect`` (True: linked tables slot by slot). The MILP
    time is 0 when an earlier row solved the same cases.
    """
    n_p = n_h = n_o = v_h = v_o = equal = solved = 0
    worst = 0
    t_h = t_o = 0.0
    ok = True
    for cells, areas, cat in cases:
        t0 = time.perf_counter()
        heur = dc.protect(cells, areas, cat, decompose=decompose)
        t_h += time.perf_counter() - t0
        ok &= _audit(cells, areas, cat, heur).ok
        best, spent = _optimum(cells, areas, cat, time_limit)
        t_o += spent
        p, h = _counts(heur)
        n_p += p
        if best is None:
            continue
        o = _counts(best)[1]
        solved += 1
        n_h += h
        n_o += o
        v_h += _value(cells, heur)
        v_o += _value(cells, best)
        equal += h == o
        worst = max(worst, h - o)
    gap = f"{100.0 * (n_h - n_o) / n_o:.1f} %" if n_o else "0 %"
    return (
        f"| {label} | {len(cases)} ({solved} solved) | {n_p} | {n_h} | {n_o} | {gap} | "
        f"{equal}/{solved} | +{worst} | {v_h:,} / {v_o:,} | {t_h:.2f} s | {t_o:.1f} s | "
        f"{'ok' if ok else 'FAILED'} |"
    )


def small_cases(n: int, sums: bool, seed: int = 1) -> list[tuple[pd.DataFrame, pd.DataFrame, _Cat]]:
    """Random small hierarchies (2-3 levels below the total, fan-out 1-4)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        areas = random_areas(rng, int(rng.integers(2, 4)), (1, 4))
        n_leaf = int((areas["level"] == areas["level"].iloc[-1]).sum())
        if sums:
            parts = small_counts(rng, (2, 1, n_leaf), 0.3, high=20)
            leaf = {"m": parts[0], "w": parts[1], "all": parts.sum(axis=0)}
            cat = _Cat((_Var("m"), _Var("w"), _Var("all", sensitive=False)), (),
                       (_Sum("all", ("m", "w")),))
        else:
            leaf = {"x": small_counts(rng, (1, n_leaf), 0.35, high=30)}
            cat = _Cat((_Var("x"),))
        out.append((aggregate_cells(areas, leaf, [2022]), areas, cat))
    return out


def berlin_cases(n_vars: int, share: float, seed: int = 5) -> list:
    """Berlin 12 > 58 with generated counts, one variable per case."""
    areas = berlin_areas()
    rng = np.random.default_rng(seed)
    n = int((areas["level"] == "prognoseraum").sum())
    return [
        (aggregate_cells(areas, {"x": small_counts(rng, (1, n), share, high=80)}, [2022]),
         areas, _Cat((_Var("x"),)))
        for _ in range(n_vars)
    ]


def berlin_men_women(n: int, share: float = 0.15, seed: int = 3) -> list:
    """Berlin 12 > 58 with men + women = all (a linked table small enough for the MILP)."""
    areas = berlin_areas()
    rng = np.random.default_rng(seed)
    k = int((areas["level"] == "prognoseraum").sum())
    cat = _Cat((_Var("m"), _Var("w"), _Var("all", sensitive=False)), (),
               (_Sum("all", ("m", "w")),))
    out = []
    for _ in range(n):
        parts = small_counts(rng, (2, 1, k), share, high=60)
        leaf = {"m": parts[0], "w": parts[1], "all": parts.sum(axis=0)}
        out.append((aggregate_cells(areas, leaf, [2022]), areas, cat))
    return out


def berlin_linked(share: float = 0.25, seed: int = 9) -> tuple:
    """Berlin 12 > 58, eight age bands adding up to the population (a linked table)."""
    areas = berlin_areas()
    rng = np.random.default_rng(seed)
    n = int((areas["level"] == "prognoseraum").sum())
    bands = [f"alter_{i}" for i in range(8)]
    parts = small_counts(rng, (8, 1, n), share, high=60)
    leaf = {b: parts[i] for i, b in enumerate(bands)}
    leaf["einwohner"] = parts.sum(axis=0)
    cat = _Cat(tuple(_Var(v, sensitive=v != "einwohner") for v in leaf), (),
               (_Sum("einwohner", tuple(bands)),))
    return aggregate_cells(areas, leaf, [2022]), areas, cat


def bavaria_linked(share: float = 0.1, seed: int = 1) -> tuple:
    """Bayern from VG5000 (96 Kreise, 2,230 Gemeinden) with men + women = all."""
    areas = vg5000_areas()
    areas = areas[areas["level"].eq("total") | areas["area_id"].str.startswith("09")]
    areas = areas.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    n = int((areas["level"] == "gemeinde").sum())
    parts = small_counts(rng, (2, 1, n), share, high=200)
    leaf = {"m": parts[0], "w": parts[1], "all": parts.sum(axis=0)}
    cat = _Cat((_Var("m"), _Var("w"), _Var("all", sensitive=False)), (),
               (_Sum("all", ("m", "w")),))
    return aggregate_cells(areas, leaf, [2022]), areas, cat


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
    small = cells["level"].eq("gemeinde") & cells["value"].isin([1, 2])
    t0 = time.perf_counter()
    prot = dc.protect(cells, areas, cat)
    t1 = time.perf_counter()
    report = _audit(cells, areas, cat, prot)
    t2 = time.perf_counter()
    n_p, n_s = _counts(prot)
    share_small = small.sum() / cells["level"].eq("gemeinde").sum()
    return [
        f"| VG5000 16 > 401 > 10,997; {n_vars} variables × {years} years "
        f"({len(cells):,} cells, {100 * share_small:.0f} % of Gemeinde cells are 1 or 2) "
        f"| {n_p:,} | {n_s:,} | {t1 - t0:.1f} s | {t2 - t1:.1f} s | {t2 - t0:.1f} s "
        f"| {'ok' if report.ok else 'FAILED'} |"
    ]


def bench_linked(cells: pd.DataFrame, areas: pd.DataFrame, cat: _Cat, label: str,
                 decompose: bool | None = False) -> str:
    """Time and counts of one linked table, with the exact audit (default: the LP method)."""
    t0 = time.perf_counter()
    prot = dc.protect(cells, areas, cat, decompose=decompose)
    t1 = time.perf_counter()
    report = _audit(cells, areas, cat, prot)
    t2 = time.perf_counter()
    n_p, n_s = _counts(prot)
    return (f"| {label} ({len(cells):,} cells) | {n_p:,} | {n_s:,} | {t1 - t0:.1f} s "
            f"| {t2 - t1:.1f} s | {t2 - t0:.1f} s | {'ok' if report.ok else 'FAILED'} |")


PERIODS = ((2019, 2021), (2021, 2023))
"""Two overlapping 3-year periods over five years (2021 lies in both)."""


def with_periods(cells: pd.DataFrame, periods: tuple = PERIODS) -> pd.DataFrame:
    """Year cells plus the pooled cells of every period (per area and variable the sum)."""
    pooled = []
    for first, last in periods:
        span = cells[cells["year"].isin(range(first, last + 1))]
        sums = span.groupby(["level", "area_id", "variable"], sort=False)["value"].sum()
        pooled.append(sums.reset_index().assign(year=f"{first}-{last}"))
    out = pd.concat([cells, *pooled], ignore_index=True)[list(cells.columns)]
    out["year"] = out["year"].astype(object)
    out["value"] = out["value"].astype("Int64")
    return out


def naive_pooling(cells: pd.DataFrame, areas: pd.DataFrame, cat: _Cat) -> tuple[int, int, int]:
    """Counterfactual: periods protected as unrelated years (the old way), audited linked.

    Returns (primary cells, under-protected, exactly computable).
    """
    fake = {y: 2090 + i for i, y in enumerate(sorted({y for y in cells["year"]
                                                       if isinstance(y, str)}))}
    back = {v: k for k, v in fake.items()}
    prot = dc.protect(cells.assign(year=cells["year"].map(lambda y: fake.get(y, y))), areas, cat)
    status = prot.status
    primary = prot.log[prot.log["reason"] == "primary"].assign(
        year=lambda f: f["year"].map(lambda y: back.get(y, y)))
    shown = cells.assign(value=cells["value"].where(status == "published"), status=status)
    report = dc.audit(shown, areas, cat.sums, primary)
    under = report.under_protected
    return len(primary), len(under), int((under["width"] < 1e-9).sum())


def period_cases(n: int, sums: bool, seed: int = 11) -> list:
    """Small random hierarchies, five years, two overlapping periods (MILP-sized)."""
    rng = np.random.default_rng(seed)
    out = []
    years = list(range(2019, 2024))
    for _ in range(n):
        areas = random_areas(rng, 2, (1, 3))
        n_leaf = int((areas["level"] == areas["level"].iloc[-1]).sum())
        if sums:
            parts = small_counts(rng, (2, 5, n_leaf), 0.3, high=20)
            leaf = {"m": parts[0], "w": parts[1], "all": parts.sum(axis=0)}
            cat = _Cat((_Var("m"), _Var("w"), _Var("all", sensitive=False)), (),
                       (_Sum("all", ("m", "w")),))
        else:
            leaf = {"x": small_counts(rng, (5, n_leaf), 0.3, high=20)}
            cat = _Cat((_Var("x"),))
        out.append((with_periods(aggregate_cells(areas, leaf, years)), areas, cat))
    return out


def nrw_areas() -> pd.DataFrame:
    """NRW from VG5000: 5 Regierungsbezirke > 53 Kreise > 396 Gemeinden."""
    de = vg5000_areas()
    krs = de[(de["level"] == "kreis") & de["area_id"].str.startswith("05")]
    gem = de[(de["level"] == "gemeinde") & de["area_id"].str.startswith("05")]
    rb = sorted(set(krs["area_id"].str[:3]))
    return pd.concat([
        pd.DataFrame({"level": ["total"], "area_id": ["05"], "name": ["NRW"], "parent_id": [""]}),
        pd.DataFrame({"level": "regierungsbezirk", "area_id": rb, "name": rb, "parent_id": "05"}),
        krs.assign(level="kreis", parent_id=krs["area_id"].str[:3]),
        gem.assign(level="gemeinde"),
    ], ignore_index=True)


def multi_year(areas: pd.DataFrame, share: float = 0.15, seed: int = 7) -> tuple:
    """Five years, m + w = all, the two overlapping periods of m, w and all."""
    rng = np.random.default_rng(seed)
    n = int((areas["level"] == areas["level"].iloc[-1]).sum())
    parts = small_counts(rng, (2, 5, n), share, high=60)
    leaf = {"m": parts[0], "w": parts[1], "all": parts.sum(axis=0)}
    cat = _Cat((_Var("m"), _Var("w"), _Var("all", sensitive=False)), (),
               (_Sum("all", ("m", "w")),))
    return with_periods(aggregate_cells(areas, leaf, list(range(2019, 2024)))), areas, cat


def bench_periods() -> list[str]:
    """Years and pooled periods linked: loss against the optimum, speed, naive pooling."""
    trees, linked = period_cases(6, sums=False), period_cases(3, sums=True)
    lines = [
        "### Years and pooled periods (one linked table per variable group)",
        "",
        "Five years 2019–2023 and two overlapping periods 2019–2021, 2021–2023 (pooled cell = "
        "sum of its years), protected and audited together.",
        "",
        "| cases | tables | primary | secondary (heuristic) | secondary (optimum) | gap "
        "| equal | worst | value heur / opt | heuristic time | MILP time | audit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        _compare("small trees × 5 years + 2 periods", trees, 60.0, decompose=False),
        _compare("the same, slot by slot", trees, 60.0, decompose=True),
        _compare("small trees, m + w = all, × 5 years + 2 periods", linked, 60.0,
                 decompose=False),
        _compare("the same, slot by slot", linked, 60.0, decompose=True),
        "",
        "| table | primary | secondary | protect | audit | total | audit result |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    cells, areas, cat = multi_year(berlin_areas())
    lines.append(bench_linked(cells, areas, cat,
                              "Berlin 12 > 58, m + w = all, 5 years + 2 periods"))
    lines.append(bench_linked(cells, areas, cat, "the same, slot by slot", decompose=True))
    if VG5000.exists():
        nrw = multi_year(nrw_areas())
        lines.append(bench_linked(*nrw, "NRW 5 > 53 > 396, m + w = all, 5 years + 2 periods"))
        lines.append(bench_linked(*nrw, "the same, slot by slot", decompose=True))
    lines += [
        "",
        "*Naive pooling* (the counterfactual): the periods protected as unrelated years beside "
        "the protected single years, then audited with period = sum of its years.",
        "",
        "| table | primary cells | under-protected | exactly computable |",
        "|---|---:|---:|---:|",
    ]
    cases = [("Berlin 12 > 58, m + w = all", multi_year(berlin_areas()))]
    if VG5000.exists():
        cases.append(("NRW 5 > 53 > 396, m + w = all", nrw))
    for label, (cells, areas, cat) in cases:
        n_p, n_u, n_x = naive_pooling(cells, areas, cat)
        lines.append(f"| {label}, 5 years + 2 periods | {n_p} | {n_u} | {n_x} |")
    return lines


def run() -> str:
    """All disclosure benchmarks as markdown."""
    pairs = small_cases(10, sums=True)
    lines = [
        "## Disclosure control (geo/disclosure/)",
        "",
        "Protection width 3, values 1 and 2 primary. *Secondary* = cells withheld to protect "
        "them; *optimum* = exact minimum by MILP (HiGHS via scipy, Fischetti–Salazar with one "
        "up- and one down-move flow per primary cell; fewest cells, then least value). "
        "Every pattern is checked by the exact audit.",
        "",
        "### Loss against the exact optimum",
        "",
        "| cases | tables | primary | secondary (heuristic) | secondary (optimum) | gap "
        "| equal | worst | value heur / opt | heuristic time | MILP time | audit |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        _compare("small trees, 2–3 levels, fan-out 1–4", small_cases(30, sums=False)),
        _compare("small linked tables (m + w = all)", pairs, decompose=False),
        _compare("the same, slot by slot", pairs, decompose=True),
        _compare("Berlin 12 > 58, 10 generated variables (25 % small)", berlin_cases(10, 0.25)),
        _compare("Berlin 12 > 58, m + w = all (15 % small)", berlin_men_women(3), 120.0,
                 decompose=False),
        "",
        "### Speed",
        "",
        "| table | primary | secondary | protect | audit | total | audit result |",
        "|---|---:|---:|---:|---:|---:|---|",
        bench_linked(*berlin_linked(), "Berlin 12 > 58, 8 age bands + population (linked)"),
    ]
    bavaria = bavaria_linked()
    lines.append(bench_linked(*bavaria,
                              "Bayern 96 > 2,230 Gemeinden, m + w = all, 10 % small (linked)"))
    lines.append(bench_linked(*bavaria, "the same, slot by slot", decompose=True))
    lines += bench_national()
    if VG5000.exists():
        from bench.national_linked import bench_national_linked

        lines += ["", *bench_national_linked()]
    lines += ["", *bench_periods()]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the benchmark."""
    print(run())


if __name__ == "__main__":
    main()

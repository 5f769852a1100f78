"""Build at national scale: VG5000 (Länder > Kreise > Gemeinden) with generated counts."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio

from bench.vg5000 import make_vg5000_geography

VARIABLES = 20
YEARS = (2019, 2020, 2021, 2022, 2023)


def write_counts(folder: Path, *, seed: int = 7) -> tuple[int, int]:
    """Write generated counts (einwohner + 20 sensitive variables × 5 years) and a catalogue."""
    gem = pyogrio.read_dataframe(folder / "VG5000_GEM.shp", read_geometry=False, columns=["ARS"])
    ars = gem["ARS"].astype(str).to_numpy()
    rng = np.random.default_rng(seed)
    # VG5000 has no population: a log-normal size (median about 1,700) like German Gemeinden
    ewz = np.maximum(20, rng.lognormal(7.45, 1.3, len(ars))).astype(int)
    rows = []
    small = 0
    for year in YEARS:
        rows.append(
            pd.DataFrame({"area_id": ars, "year": year, "variable": "einwohner", "value": ewz})
        )
        for i in range(VARIABLES):
            # rates chosen so that about a fifth of the Gemeinde cells are 1 or 2
            rate = rng.uniform(0.0005, 0.004)
            values = rng.poisson(ewz * rate)
            small += int(((values == 1) | (values == 2)).sum())
            rows.append(
                pd.DataFrame(
                    {"area_id": ars, "year": year, "variable": f"v{i:02d}", "value": values}
                )
            )
    counts = pd.concat(rows, ignore_index=True)
    counts.to_csv(folder / "counts.csv", index=False)
    catalogue = ['[[variables]]\nid = "einwohner"\nname = "Einwohner"\nsensitive = false\n']
    for i in range(VARIABLES):
        catalogue.append(
            f'[[variables]]\nid = "v{i:02d}"\nname = "Merkmal {i}"\nsensitive = true\n'
        )
    for i in range(VARIABLES):
        catalogue.append(
            f'[[indicators]]\nid = "q{i:02d}"\nname = "Anteil Merkmal {i}"\ntheme = "Test"\n'
            f'numerator = "v{i:02d}"\ndenominator = "einwohner"\nper = 1000\nunit = "‰"\n'
        )
    (folder / "indicators.toml").write_text("\n".join(catalogue), encoding="utf-8")
    return len(counts), small


def run() -> str:
    """Time `quartier build` on VG5000 with generated counts."""
    from geo.build import build

    with tempfile.TemporaryDirectory() as tmp:
        folder = make_vg5000_geography(Path(tmp) / "vg5000")
        n_rows, small = write_counts(folder)
        start = time.perf_counter()
        stages: list[tuple[str, float]] = []

        def say(msg: str) -> None:
            if msg.startswith("["):  # the numbered stages, not warnings
                stages.append((msg.split(tmp)[0].rstrip(": "), time.perf_counter()))

        result = build(folder, out=Path(tmp) / "out" / "vg5000", say=say)
        end = time.perf_counter()
        total = end - start
        status = result.published.cells["status"].value_counts()
    lines = [
        "## Build at national scale (issue 2.12)",
        "",
        f"VG5000 2021: 16 Länder > 401 Kreise > 10,997 Gemeinden; generated counts: "
        f"{n_rows:,} rows (einwohner + {VARIABLES} sensitive variables × {len(YEARS)} years), "
        f"{small:,} Gemeinde cells of 1 or 2.",
        "",
        f"- `quartier build` total: **{total:.1f} s**",
        f"- cells published / suppressed / missing: {int(status.get('published', 0)):,} / "
        f"{int(status.get('suppressed', 0)):,} / {int(status.get('missing', 0)):,}",
        "",
        "| stage | s |",
        "|---|---:|",
    ]
    ends = [t for _, t in stages[1:]] + [end]
    for (msg, began), ended in zip(stages, ends, strict=True):
        lines.append(f"| {msg.strip()} | {ended - began:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(run())

"""Germany at scale: a geography over BKG VG5000 (16 Länder > 401 Kreise > 10,997 Gemeinden).

``make_vg5000_geography(dest)`` copies the shapefiles from ../shared/data and writes a
``geography.toml`` beside them. Run as a script to time loading it:

    .venv/bin/python bench/vg5000.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1].parent / "shared/data/germany-vg5000-2021"
LAYERS = ("VG5000_LAN", "VG5000_KRS", "VG5000_GEM")
PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")
LICENCE = "quellenvermerk_datenlizenz_deutschland.txt"

MANIFEST = """\
id = "germany-vg5000-2021"
name = "Deutschland, VG5000 2021"
attribution = "© GeoBasis-DE / BKG 2021, Daten verändert"
total_id = "de"
total_name = "Deutschland"
source = "BKG VG5000 (1:5,000,000), Stand 01.01.2021, Datenlizenz Deutschland – Namensnennung – 2.0"

[[levels]]
id = "land"
name = "Land"
file = "VG5000_LAN.shp"
key = "ARS"
label = "GEN"
where = "GF = 9"   # the LAN file also holds 9 water parts (GF = 8)

[[levels]]
id = "kreis"
name = "Kreis"
file = "VG5000_KRS.shp"
key = "ARS"
label = "GEN"
parent_prefix = 2

[[levels]]
id = "gemeinde"
name = "Gemeinde"
file = "VG5000_GEM.shp"
key = "ARS"
label = "GEN"
parent_prefix = 5
"""


def make_vg5000_geography(dest: Path) -> Path:
    """Copy the VG5000 shapefiles into ``dest``, write its geography.toml and return ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for layer in LAYERS:
        for suffix in PARTS:
            shutil.copyfile(SOURCE / f"{layer}{suffix}", dest / f"{layer}{suffix}")
    shutil.copyfile(SOURCE / LICENCE, dest / LICENCE)
    (dest / "geography.toml").write_text(MANIFEST, encoding="utf-8")
    return dest


def main() -> None:
    """Time loading and validating the VG5000 geography."""
    from geo.inputs.geography import load_geography

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_vg5000_geography(Path(tmp) / "germany-vg5000-2021")
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            geography = load_geography(folder)
            times.append(time.perf_counter() - start)
    counts = geography.areas["level"].value_counts()
    sizes = ", ".join(f"{counts[lvl]} {lvl}" for lvl in geography.level_ids)
    print(f"load_geography VG5000 ({sizes}): best {min(times):.2f} s, "
          f"runs {', '.join(f'{t:.2f}' for t in times)} s; "
          f"{len(geography.report.warnings)} warnings, {len(geography.report.errors)} errors")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()

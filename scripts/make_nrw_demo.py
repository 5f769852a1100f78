"""Write boundaries/nrw-demo: NRW boundaries from BKG VG5000 and SYNTHETIC demo counts.

Boundaries: the Kreise and Gemeinden of North Rhine-Westphalia (ARS starting with "05") from
../shared/data/germany-vg5000-2021 (01.01.2021), reprojected from EPSG:31467 to EPSG:25832 and
written as one GeoPackage (layers ``kreise`` and ``gemeinden``). The Regierungsbezirke are not in
VG5000; the manifest derives them from the Kreise (ARS[:3]).

Counts: synthetische Demo-Zahlen. VG5000 carries no population field, so every number here is
generated: a plausible resident number per Gemeinde (by kind: kreisfreie Stadt, Stadt, Gemeinde)
and integration-monitoring variables drawn at realistic NRW rates (binomial and overdispersed
Poisson draws), for 2021-2023. Subsets never exceed their totals, the declared sums hold exactly,
and small Gemeinden get small counts (1, 2) so that disclosure control is visible. A fixed seed
makes the output deterministic.

    .venv/bin/python scripts/make_nrw_demo.py [--out boundaries/nrw-demo] [--counts-only]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio

REPO = Path(__file__).resolve().parents[1]
SOURCE = Path(__file__).resolve().parents[2] / "shared/data/germany-vg5000-2021"
OUT = REPO / "boundaries/nrw-demo"
GPKG = "nrw_vg5000_2021.gpkg"
NRW = "05"
CRS = "EPSG:25832"
SEED = 20210101
YEARS = (2021, 2022, 2023)

# variable ids in the order they are written
VARIABLES = (
    "einwohner", "kinder_unter_15", "einwohner_15_64", "einwohner_65_plus", "einwohner_unter_65",
    "einwohner_15_24", "kinder_3_5",
    "auslaender", "auslaender_langfristig", "auslaender_befristet", "duldung_gestattung",
    "auslaender_8_jahre", "einbuergerungen", "neuzugewanderte",
    "kita_kinder_3_5", "kita_nichtdeutsche_familiensprache", "schulabgaenge",
    "schulabgaenge_ohne_abschluss",
    "sv_beschaeftigte", "arbeitslose", "arbeitslose_unter_25", "langzeitarbeitslose",
    "sgb2_leistungsberechtigte", "elb", "elb_auslaendisch", "kinder_in_sgb2", "asylblg",
    "migrationshintergrund", "zuzuege_ausland",
)

# synthetic resident numbers: (median, log-sd, min, max) by kind of Gemeinde
SIZE = {
    "kreisfrei": (240_000, 0.55, 105_000, 1_100_000),
    "Stadt": (26_000, 0.60, 7_500, 190_000),
    "Gemeinde": (10_500, 0.40, 4_000, 30_000),
}
# foreigners per 100 residents, by kind (median)
FOREIGN_SHARE = {"kreisfrei": 0.19, "Stadt": 0.12, "Gemeinde": 0.075}


def write_boundaries(out: Path) -> gpd.GeoDataFrame:
    """Write the NRW Kreise and Gemeinden GeoPackage; return the Gemeinden."""
    layers = {}
    for name, file in (("kreise", "VG5000_KRS.shp"), ("gemeinden", "VG5000_GEM.shp")):
        frame = gpd.read_file(SOURCE / file)
        frame = frame[frame["ARS"].str.startswith(NRW) & (frame["GF"] == 9)]
        frame = frame[["ARS", "GEN", "BEZ", "geometry"]].sort_values("ARS").to_crs(CRS)
        invalid = ~frame.is_valid
        if invalid.any():  # none in NRW as of VG5000 2021; repair and say so if that changes
            print(f"{file}: repairing {int(invalid.sum())} invalid geometries with make_valid")
            frame.loc[invalid, "geometry"] = frame.loc[invalid, "geometry"].make_valid()
        layers[name] = frame.reset_index(drop=True)
    path = out / GPKG
    path.unlink(missing_ok=True)
    # GeoPackage stores "last change" timestamps: fix them so a re-run gives the same bytes
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2021-01-01T00:00:00.000Z"})
    for name, frame in layers.items():
        frame.to_file(path, layer=name, driver="GPKG", engine="pyogrio")
    return layers["gemeinden"]


def _kind(row: pd.Series) -> str:
    if row["ARS"][5:] == "0000000" or row["BEZ"] == "Kreisfreie Stadt":
        return "kreisfrei"
    return "Stadt" if row["BEZ"] == "Stadt" else "Gemeinde"


def _overdispersed(rng: np.random.Generator, mean: float, shape: float) -> int:
    """Poisson count whose mean varies between areas (gamma-Poisson): zeros and 1s and 2s occur."""
    return int(rng.poisson(rng.gamma(shape, mean / shape))) if mean > 0 else 0


def _gemeinde_profile(rng: np.random.Generator, kind: str) -> dict[str, float]:
    median, sd, low, high = SIZE[kind]
    size = float(np.clip(median * np.exp(rng.normal(0, sd)), low, high))
    foreign = FOREIGN_SHARE[kind] * float(np.exp(rng.normal(0, 0.3)))
    social = float(np.exp(rng.normal(0, 0.3))) * (foreign / 0.13) ** 0.5
    return {
        "size": size,
        "growth": float(rng.normal(0.002, 0.004)),
        "foreign": min(foreign, 0.40),
        "social": social,
        "young": float(np.exp(rng.normal(0, 0.08))),
        # shared housing concentrates Duldung/Gestattung in a few Gemeinden
        "refugees": float(rng.gamma(0.8, 1 / 0.8)),
    }


def _draw_year(rng: np.random.Generator, p: dict[str, float], year: int) -> dict[str, int]:
    b = rng.binomial
    t = year - YEARS[0]
    ew = int(round(p["size"] * (1 + p["growth"]) ** t))
    v: dict[str, int] = {"einwohner": ew}
    v["kinder_unter_15"] = b(ew, min(0.137 * p["young"], 0.25))
    v["einwohner_15_64"] = b(ew - v["kinder_unter_15"], 0.645 / (1 - 0.137))
    v["einwohner_65_plus"] = ew - v["kinder_unter_15"] - v["einwohner_15_64"]
    v["einwohner_unter_65"] = v["kinder_unter_15"] + v["einwohner_15_64"]
    v["einwohner_15_24"] = b(v["einwohner_15_64"], 0.165)
    v["kinder_3_5"] = b(v["kinder_unter_15"], 0.205)

    # Rechtsstatus und Aufenthalt (2022: arrivals from Ukraine raise the foreign population)
    share = p["foreign"] * (1.0, 1.07, 1.10)[t]
    v["auslaender"] = b(ew, min(share, 0.5))
    # even a Gemeinde with a large shared housing stays below a quarter of its foreigners
    dg = min(_overdispersed(rng, 0.035 * p["refugees"] * v["auslaender"], 0.7),
             int(0.25 * v["auslaender"]))
    v["duldung_gestattung"] = dg
    v["auslaender_langfristig"] = b(v["auslaender"] - dg, 0.66)
    v["auslaender_befristet"] = v["auslaender"] - dg - v["auslaender_langfristig"]
    v["auslaender_8_jahre"] = b(v["auslaender"], 0.48)
    v["einbuergerungen"] = b(v["auslaender_8_jahre"], (0.020, 0.024, 0.028)[t])
    v["neuzugewanderte"] = b(v["auslaender"], (0.17, 0.24, 0.23)[t])

    # Bildung und Sprache
    v["kita_kinder_3_5"] = b(v["kinder_3_5"], 0.915)
    v["kita_nichtdeutsche_familiensprache"] = b(v["kita_kinder_3_5"],
                                                min(0.22 * p["foreign"] / 0.13, 0.8))
    v["schulabgaenge"] = b(v["einwohner_15_24"], 0.095)
    v["schulabgaenge_ohne_abschluss"] = b(v["schulabgaenge"], min(0.06 * p["social"], 0.3))

    # Arbeit und Wirtschaft
    v["sv_beschaeftigte"] = b(v["einwohner_15_64"], min(0.63 / p["social"] ** 0.2, 0.8))
    v["arbeitslose"] = b(v["einwohner_15_64"], min(0.050 * p["social"] * (1.03, 0.97, 1.0)[t],
                                                    0.25))
    v["arbeitslose_unter_25"] = min(b(v["einwohner_15_24"], min(0.035 * p["social"], 0.2)),
                                    v["arbeitslose"])
    v["langzeitarbeitslose"] = b(v["arbeitslose"] - v["arbeitslose_unter_25"], 0.42)

    # Soziale Sicherung
    v["sgb2_leistungsberechtigte"] = b(v["einwohner_unter_65"], min(0.105 * p["social"], 0.45))
    v["elb"] = b(v["sgb2_leistungsberechtigte"], 0.70)
    v["elb_auslaendisch"] = b(v["elb"], min(0.38 * p["foreign"] / 0.13, 0.9))
    v["kinder_in_sgb2"] = min(b(v["kinder_unter_15"], min(0.17 * p["social"], 0.6)),
                              v["sgb2_leistungsberechtigte"] - v["elb"])
    v["asylblg"] = min(_overdispersed(rng, 0.6 * dg + 0.0003 * ew, 0.8), v["auslaender"])

    # Quartiere
    v["migrationshintergrund"] = v["auslaender"] + b(ew - v["auslaender"],
                                                     min(0.16 * p["foreign"] / 0.13, 0.5))
    v["zuzuege_ausland"] = _overdispersed(rng, 0.013 * ew * (1.0, 1.6, 1.2)[t], 6.0)
    return v


def build_rows(gemeinden: pd.DataFrame) -> list[tuple[str, int, str, int]]:
    """Return the synthetic counts ``(area_id, year, variable, value)`` in file order."""
    rng = np.random.default_rng(SEED)
    rows = []
    for _, gemeinde in gemeinden.sort_values("ARS").iterrows():
        profile = _gemeinde_profile(rng, _kind(gemeinde))
        for year in YEARS:
            values = _draw_year(rng, profile, year)
            rows.extend((gemeinde["ARS"], year, name, int(values[name])) for name in VARIABLES)
    return rows


def write_counts(rows: list[tuple[str, int, str, int]], path: Path) -> None:
    """Write the long counts CSV."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["area_id", "year", "variable", "value"])
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help="folder to write into")
    parser.add_argument("--counts-only", action="store_true",
                        help="write counts.csv only, reading the Gemeinden from VG5000")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.counts_only:
        gemeinden = gpd.read_file(SOURCE / "VG5000_GEM.shp", columns=["ARS", "BEZ", "GF"],
                                  read_geometry=False)
        gemeinden = gemeinden[gemeinden["ARS"].str.startswith(NRW) & (gemeinden["GF"] == 9)]
    else:
        gemeinden = write_boundaries(args.out)
    write_counts(build_rows(gemeinden), args.out / "counts.csv")


if __name__ == "__main__":
    main()

"""A small build whose withheld counts are distinctive, and the strings that would leak them.

Withheld cells (primary: 1 or 2; secondary: five-digit counts whose rates lie far above every
published rate) are chosen so that their values and rates cannot appear by chance: a test
that finds one of ``forbidden_strings`` in a page, PDF, JSON or report file has found a leak.
Names, units, sources and the attribution carry markup to check escaping.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from conftest import write_small_geography

from geo.build import build

HOSTILE_NAME = '<script>alert("q")</script>Eckbusch & Co'
HOSTILE_ATTRIBUTION = 'Testdaten <img src=x onerror="alert(1)"> & Co'
CATALOGUE = """
themes = ["Rechtsstatus und Aufenthalt", "Soziale Sicherung"]
population = "einwohner"

[[variables]]
id = "einwohner"
name = "Einwohner:innen"
sensitive = false
source = "Melderegister <b>Test</b>"
definition = "Hauptwohnsitz am 31.12."
year_note = "Stichtag 31.12."

[[variables]]
id = "auslaender"
name = "Ausländer:innen"
sensitive = true
source = "Melderegister <b>Test</b>"
definition = "ohne deutsche Staatsangehörigkeit"
year_note = "Stichtag 31.12."

[[variables]]
id = "sgb2"
name = "SGB-II-Leistungsberechtigte"
sensitive = true
source = "Bundesagentur für Arbeit"
definition = "Leistungsberechtigte nach dem SGB II"
year_note = "Stichtag 31.12."

[[indicators]]
id = "auslaenderanteil"
name = "Anteil Ausländer:innen"
theme = "Rechtsstatus und Aufenthalt"
numerator = "auslaender"
denominator = "einwohner"
unit = "%"
description = "Ausländer:innen je 100 Einwohner:innen <i>(Test)</i>"

[[indicators]]
id = "sgb2_quote"
name = "SGB-II-Quote"
theme = "Soziale Sicherung"
numerator = "sgb2"
denominator = "einwohner"
unit = "%"
higher_is = "worse"
description = "SGB-II-Leistungsberechtigte je 100 Einwohner:innen"
"""
# year -> area -> (einwohner, auslaender, sgb2). Published rates stay below 40 %; the counts
# secondary suppression withholds are five digits with rates above 80 %.
COUNTS: dict[int, dict[str, tuple[int, int, int]]] = {
    2021: {"10": (20000, 17000, 7500), "11": (8453, 2, 6911), "12": (60000, 21000, 1),
           "20": (4000, 600, 250), "21": (25000, 3750, 2300)},
    2022: {"10": (20100, 3050, 910), "11": (8500, 1100, 700), "12": (60100, 9200, 3100),
           "20": (4050, 1, 260), "21": (44021, 38917, 2310)},
    2023: {"10": (20200, 17231, 7560), "11": (8530, 2, 6953), "12": (60200, 21300, 1),
           "20": (4100, 640, 270), "21": (25300, 4300, 2400)},
}


def write_distinctive_geography(folder: Path) -> Path:
    """The small geography with three years of distinctive counts and hostile texts."""
    write_small_geography(folder)
    rows = ["area_id,year,variable,value"]
    for year, areas in COUNTS.items():
        for area, (ew, aus, sgb) in areas.items():
            rows += [f"{area},{year},einwohner,{ew}", f"{area},{year},auslaender,{aus}",
                     f"{area},{year},sgb2,{sgb}"]
    (folder / "counts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (folder / "indicators.toml").write_text(CATALOGUE, encoding="utf-8")
    shapes = json.loads((folder / "quartiere.geojson").read_text(encoding="utf-8"))
    for feature in shapes["features"]:
        if feature["properties"]["QUARTIER"] == "21":
            feature["properties"]["NAME"] = HOSTILE_NAME
    (folder / "quartiere.geojson").write_text(json.dumps(shapes), encoding="utf-8")
    manifest = (folder / "geography.toml").read_text(encoding="utf-8")
    manifest = manifest.replace('attribution = "Testdaten (erzeugt)"',
                                f"attribution = {json.dumps(HOSTILE_ATTRIBUTION)}")
    manifest = manifest.replace('total_name = "Mini-Stadt"',
                                'total_name = "Mini-Stadt"\nnotice = "Testnotiz <u>x</u>"')
    (folder / "geography.toml").write_text(manifest, encoding="utf-8")
    return folder


def build_distinctive(root: Path) -> Path:
    """Build the distinctive geography into ``root/data/mini``; return the build folder."""
    source = write_distinctive_geography(root / "src" / "mini")
    out = root / "data" / "mini"
    build(source, out=out, data_dir=root / "data", say=lambda _m: None)
    return out


def _count_forms(value: int, german: bool) -> set[str]:
    return {str(value), f"{value:,}".replace(",", ".")} if german else {str(value)}


def _rate_forms(rate: float, german: bool) -> set[str]:
    if german:
        return {f"{rate:.1f}".replace(".", ","), f"{rate:.2f}".replace(".", ",")}
    return {repr(round(rate, 4)), f"{rate:.2f}"}


def forbidden_strings(build_dir: Path, *, german: bool = True) -> set[str]:
    """How withheld counts (>= 100) and rates from withheld counts (>= 50 %) would be written:
    German (``17.231``, ``81,8``) for pages, PDFs and csv-de, else plain (``17231``,
    ``81.758``) for JSON and plain CSV."""
    cells = pd.read_csv(build_dir / "cells.csv", dtype={"area_id": str})
    assert cells["value"].isna().sum() == (cells["status"] == "suppressed").sum()
    withheld = cells[(cells["status"] == "suppressed") & (cells["level"] == "quartier")]
    out: set[str] = set()
    for row in withheld.itertuples():
        ew, aus, sgb = COUNTS[int(row.year)][str(row.area_id)]
        value = {"einwohner": ew, "auslaender": aus, "sgb2": sgb}[str(row.variable)]
        if value >= 100:
            out |= _count_forms(value, german)
        rate = 100 * value / ew
        if rate >= 50:
            out |= _rate_forms(rate, german)
    return out


def leaks(text: str, forbidden: set[str]) -> list[str]:
    """The forbidden strings found in ``text``."""
    return sorted(s for s in forbidden if s in text)

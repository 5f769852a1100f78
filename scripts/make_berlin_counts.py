"""Write boundaries/berlin-lor-2021/counts.csv from the Berlin files in ../shared/data.

Real counts (year 2022): the Einwohnerbestand at 30.06.2022 per Planungsraum (Amt für
Statistik Berlin-Brandenburg), "–" read as zero, summed into Prognoseräume (PGR = the first
four digits of the PLR id).

Estimated counts (year 2020): the shares of the Monitoring Soziale Stadtentwicklung 2021
(SenSBW, 31.12.2020) turned into counts per Planungsraum as round(share / 100 * base), then
summed into Prognoseräume. Only shares with a documented base are used:

* S1 arbeitslose SGB II per 100 residents aged 15 to under 65,
* S3 transfer recipients (SGB II/XII) per 100 residents,
* S4 children under 15 in SGB II households per 100 residents under 15,
* K05 residents with migration background per 100 residents,
* K16 foreigners per 100 residents.

The MSS files give only the total of residents (EW 31.12.2020). The bases of S1 and S4 (residents
15 to under 65 and under 15 at 31.12.2020) are estimated as EW 2020 times the share of that age
group in the same Planungsraum at 30.06.2022; they are written as estimate variables of their own.
Planungsräume the city left out (KOM "ungültig", value -9999 or a blank row) have no estimate; a
Prognoseraum containing one with residents gets an empty (missing) cell for the share-based
variables, so no published sum is silently too small. Left-out Planungsräume with no residents
count as zero (no residents, no recipients).

Deterministic: the same inputs give a byte-identical file.

    .venv/bin/python scripts/make_berlin_counts.py [--out boundaries/berlin-lor-2021/counts.csv]
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOURCE = Path(__file__).resolve().parents[2] / "shared/data/berlin-lor-2021"
OUT = REPO / "boundaries/berlin-lor-2021/counts.csv"

EINWOHNER_FILE = "einwohnerbestand_06-2022_plr.csv"
KONTEXT_FILE = "mss_2021_kontext-indikatoren_anteile_plr.csv"
INDEX_FILE = "mss_2021_index_indikatoren_raw_fisbroker.csv"

YEAR_REAL = 2022
YEAR_MSS = 2020
ZERO_SIGNS = {"–", "-"}  # official sign for "nichts vorhanden"

# source column of the Einwohnerbestand -> variable id (order = order in counts.csv)
REAL_COLUMNS = {
    "Gesamt": "einwohner",
    "unter6": "alter_0_5",
    "6-15": "alter_6_14",
    "15-18": "alter_15_17",
    "18-27": "alter_18_26",
    "27-45": "alter_27_44",
    "45-55": "alter_45_54",
    "55-65": "alter_55_64",
    "65undmehr": "alter_65_plus",
    "weiblich": "weiblich",
    "ausländer": "auslaender",
}
AGE_15_64 = ["15-18", "18-27", "27-45", "45-55", "55-65"]
AGE_UNDER_15 = ["unter6", "6-15"]

# variable id -> (share column, file, base); base is "ew", "ew_15_64" or "ew_unter_15"
SHARE_VARIABLES = {
    "arbeitslose_sgb2_geschaetzt": ("S1", INDEX_FILE, "ew_15_64"),
    "transferbeziehende_geschaetzt": ("S3", INDEX_FILE, "ew"),
    "kinder_sgb2_geschaetzt": ("S4", INDEX_FILE, "ew_unter_15"),
    "migrationshintergrund_geschaetzt": ("K05", KONTEXT_FILE, "ew"),
    "auslaender_geschaetzt": ("K16", KONTEXT_FILE, "ew"),
}
BASE_VARIABLES = {
    "einwohner_15_64_geschaetzt": "ew_15_64",
    "einwohner_unter_15_geschaetzt": "ew_unter_15",
}


def _read_rows(path: Path, delimiter: str) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [
            {key.strip(): (value or "").strip() for key, value in row.items()}
            for row in csv.DictReader(handle, delimiter=delimiter)
        ]


def _count(text: str, where: str) -> int:
    if text in ZERO_SIGNS:
        return 0
    if not text.isdigit():
        raise SystemExit(f"{where}: {text!r} is not a count")
    return int(text)


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def _share(text: str) -> float | None:
    """Return a share in %, or None where the city left the Planungsraum out."""
    if text == "":
        return None
    value = float(text)
    return None if value < 0 else value  # -9999 marks "ungültig"


def _real_counts(source: Path) -> dict[str, dict[str, int]]:
    """Einwohnerbestand 30.06.2022 per PLR: source column -> count."""
    rows = _read_rows(source / EINWOHNER_FILE, ";")
    plr: dict[str, dict[str, int]] = {}
    for line, row in enumerate(rows, start=2):
        plr_id = row["PLR-ID"]
        if len(plr_id) != 8 or not plr_id.isdigit() or plr_id in plr:
            raise SystemExit(f"{EINWOHNER_FILE} line {line}: bad or duplicate PLR-ID {plr_id!r}")
        values = {col: _count(row[col], f"{EINWOHNER_FILE} line {line}") for col in REAL_COLUMNS}
        ages = sum(values[col] for col in REAL_COLUMNS if col not in ("Gesamt", "weiblich",
                                                                       "ausländer"))
        if ages != values["Gesamt"]:
            raise SystemExit(f"{EINWOHNER_FILE} line {line}: age bands do not add up to Gesamt")
        plr[plr_id] = values
    return plr


def _estimated_counts(
    source: Path, real: dict[str, dict[str, int]]
) -> tuple[dict[str, int], dict[str, dict[str, int | None]]]:
    """EW 31.12.2020 per PLR and the share-based estimates per PLR (None = left out)."""
    kontext = {row["PLR-ID"]: row for row in _read_rows(source / KONTEXT_FILE, ";")}
    index = {row["PLR_ID"]: row for row in _read_rows(source / INDEX_FILE, ",")}
    if set(kontext) != set(real) or set(index) != set(real):
        raise SystemExit("the MSS files and the Einwohnerbestand list different Planungsräume")

    ew_2020: dict[str, int] = {}
    estimates: dict[str, dict[str, int | None]] = {}
    for plr_id in sorted(real):
        ew = _count(kontext[plr_id]["EW 31.12.2020"], f"{KONTEXT_FILE} PLR {plr_id}")
        ew_2020[plr_id] = ew
        now = real[plr_id]
        if now["Gesamt"] > 0:
            bases: dict[str, float | None] = {
                "ew": float(ew),
                "ew_15_64": ew * sum(now[c] for c in AGE_15_64) / now["Gesamt"],
                "ew_unter_15": ew * sum(now[c] for c in AGE_UNDER_15) / now["Gesamt"],
            }
        else:  # no age structure to borrow; an empty PLR in 2020 is still empty
            zero = 0.0 if ew == 0 else None
            bases = {"ew": float(ew), "ew_15_64": zero, "ew_unter_15": zero}

        row: dict[str, int | None] = {}
        for variable, base in BASE_VARIABLES.items():
            value = bases[base]
            row[variable] = None if value is None else _round_half_up(value)
        rows = {INDEX_FILE: index[plr_id], KONTEXT_FILE: kontext[plr_id]}
        for variable, (column, file, base) in SHARE_VARIABLES.items():
            share, value = _share(rows[file][column]), bases[base]
            if ew == 0:
                row[variable] = 0
            elif share is None or value is None:
                row[variable] = None
            else:
                row[variable] = _round_half_up(share / 100 * value)
        estimates[plr_id] = row
    return ew_2020, estimates


def _sum_into_pgr(values: dict[str, int | None]) -> dict[str, int | None]:
    """Sum PLR values into Prognoseräume; one missing PLR makes the PGR missing."""
    totals: dict[str, int | None] = {}
    for plr_id, value in sorted(values.items()):
        pgr = plr_id[:4]
        if pgr not in totals:
            totals[pgr] = 0
        current = totals[pgr]
        totals[pgr] = None if current is None or value is None else current + value
    return totals


def build_rows(source: Path) -> list[tuple[str, int, str, str]]:
    """Return the counts rows ``(area_id, year, variable, value)`` in file order."""
    real = _real_counts(source)
    ew_2020, estimates = _estimated_counts(source, real)

    columns: dict[tuple[int, str], dict[str, int | None]] = {}
    for column, variable in REAL_COLUMNS.items():
        columns[(YEAR_REAL, variable)] = _sum_into_pgr(
            {plr: values[column] for plr, values in real.items()})
    columns[(YEAR_MSS, "einwohner")] = _sum_into_pgr(dict(ew_2020.items()))
    for variable in [*BASE_VARIABLES, *SHARE_VARIABLES]:
        columns[(YEAR_MSS, variable)] = _sum_into_pgr(
            {plr: values[variable] for plr, values in estimates.items()})

    areas = sorted({pgr for column in columns.values() for pgr in column})
    rows = []
    for area in areas:
        for (year, variable), values in sorted(columns.items(), key=lambda item: item[0][0]):
            value = values[area]
            rows.append((area, year, variable, "" if value is None else str(value)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE, help="folder of the Berlin files")
    parser.add_argument("--out", type=Path, default=OUT, help="counts CSV to write")
    args = parser.parse_args()
    rows = build_rows(args.source)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["area_id", "year", "variable", "value"])
        writer.writerows(rows)


if __name__ == "__main__":
    main()

"""``quartier intake points|raster|grid|areas``: inputs become a counts file and its provenance.

Each command writes the long counts CSV (``area_id,year,variable,value`` for the finest level)
and ``<out>.provenance.json`` beside it, reports on the terminal (German) what it left out and
why, and prints the catalogue entry the new variables need. Bad input is an ``IntakeError``
(exit code 2, a message naming file, line and column), never a traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from geo.errors import IntakeError
from geo.inputs.intake.output import Column, check_variable_id, round_counts, write_long
from geo.inputs.intake.provenance import Drop, Provenance, file_input, write_provenance
from geo.inputs.intake.zones import Zones, load_zones

YEAR_MIN, YEAR_MAX = 1900, 2100


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _year(text: str) -> int:
    try:
        year = int(text)
    except ValueError:
        year = 0
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year ({YEAR_MIN}–{YEAR_MAX})")
    return year


def _where(text: str) -> tuple[str, str]:
    column, sep, value = text.partition("=")
    if not sep or not column.strip():
        raise argparse.ArgumentTypeError(f"{text!r}: expected COLUMN=VALUE")
    return column.strip(), value.strip()


def _command(args: argparse.Namespace) -> str:
    argv = getattr(args, "argv", None)
    return shlex.join(["quartier", *(sys.argv[1:] if argv is None else argv)])


def _catalogue_hint(variables: list[dict[str, Any]]) -> str:
    lines = ["Katalogeintrag für indicators.toml (falls noch nicht vorhanden):"]
    for var in variables[:5]:
        lines += ["  [[variables]]", f'  id = "{var["id"]}"', f'  name = "{var["id"]}"']
        if var["type"] == "measure":
            lines += ['  type = "measure"']
            if var.get("aggregate") == "mean":
                lines += ['  aggregate = "mean"   # Elterngebiete: flächengewichtetes Mittel']
        elif var.get("sensitive", True):
            lines += ["  sensitive = true"]
        if var["estimate"]:
            lines += ["  estimate = true"]
    if len(variables) > 5:
        rest = ", ".join(v["id"] for v in variables[5:])
        lines.append(f"  … und {len(variables) - 5} weitere ({rest})")
    return "\n".join(lines)


def _finish(args: argparse.Namespace, zones: Zones, kind: str, columns: list[Column],
            drops: list[Drop], *, inputs: list[dict[str, Any]], parameters: dict[str, Any],
            crs: dict[str, str], variables: list[dict[str, Any]], notes: list[str]) -> int:
    """Write the counts and the provenance, report drops; return the exit code."""
    out = Path(args.out)
    measures = {v["id"]: v["type"] == "measure" for v in variables}
    rows = write_long(out, zones.ids, columns, measures=measures)
    geography = {"id": zones.geography_id, "level": zones.level, "areas": len(zones.ids),
                 "files": [file_input("geography", p) for p in zones.files]}
    provenance = Provenance(kind=kind, command=_command(args), inputs=inputs,
                            parameters=parameters, crs=crs, geography=geography,
                            variables=variables, drops=drops, notes=notes)
    path = write_provenance(out, provenance)
    for d in drops:
        _say(f"Hinweis: {d.message()}")
    for note in notes:
        _say(f"Hinweis: {note}")
    _say(f"geschrieben: {out} ({rows} Zeilen, {len(variables)} Variable(n)), {path.name}")
    _say(_catalogue_hint(variables))
    print(out)
    return 0


def _zones(args: argparse.Namespace) -> Zones:
    zones = load_zones(Path(args.geography))
    _say(f"Geografie: {zones.geography_id}, {len(zones.ids)} Gebiete der Ebene "
         f"{zones.level_name} ({zones.crs.to_string()})")
    return zones


def _cmd_points(args: argparse.Namespace) -> int:
    from geo.inputs.intake.points import count_points, read_points

    variable = check_variable_id(args.variable)
    zones = _zones(args)
    wanted = [(c, "--where") for c, _ in args.where]
    wanted += [(args.year_column, "--year-column")] if args.year_column else []
    wanted += [(args.group_column, "--group-column")] if args.group_column else []
    source = read_points(Path(args.file), x=args.x, y=args.y, crs=args.crs,
                         wanted=list(dict.fromkeys(wanted)))
    _say(f"Punkte: {len(source.x)} {source.unit} gelesen ({source.crs.to_string()})")
    result = count_points(source, zones, variable=variable, year=args.year,
                          year_column=args.year_column, where=args.where,
                          group_column=args.group_column)
    names = sorted({c.variable for c in result.columns})
    notes = [f"Gruppen aus '{args.group_column}': " + ", ".join(
        f"{k} -> {v}" for k, v in result.groups.items())] if result.groups else []
    return _finish(
        args, zones, "points", result.columns, result.drops,
        inputs=[file_input("points", Path(args.file))],
        parameters={"variable": variable, "year": args.year, "year_column": args.year_column,
                    "x": args.x, "y": args.y, "where": [f"{c}={v}" for c, v in args.where],
                    "group_column": args.group_column,
                    "border_rule": "interior first; on a shared boundary the smallest area_id"},
        crs={"points": result.source_crs, "areas": zones.crs.to_string(),
             "computation": f"{zones.crs.to_string()} (the boundary file's CRS)"},
        variables=[{"id": n, "type": "count", "estimate": False} for n in names], notes=notes)


def _cmd_raster(args: argparse.Namespace) -> int:
    from geo.inputs.intake.raster import parse_stat, raster_stats

    variable = check_variable_id(args.variable)
    stat = parse_stat(args.stat)
    zones = _zones(args)
    zonal, crs = raster_stats(Path(args.raster), zones, stat, band=args.band, progress=True)
    values = zonal.values if stat.measure else round_counts(zonal.values)
    partial = (zonal.coverage < 0.999)
    drops = []
    if partial.any():
        shown = tuple(f"{a} ({c:.0%})" for a, c in
                      zip(zones.ids[partial], zonal.coverage[partial], strict=True))
        drops.append(Drop("coverage", "Gebiete nicht ganz von gültigen Rasterzellen bedeckt "
                          "(außerhalb oder nodata; ohne Abdeckung: leer)", int(partial.sum()),
                          shown[:20], "Gebiete"))
    meta = {"id": variable, "type": "measure" if stat.measure else "count", "estimate": True}
    if stat.measure:
        meta["aggregate"] = "mean"
    return _finish(
        args, zones, "raster", [Column(variable, args.year, values)], drops,
        inputs=[file_input("raster", Path(args.raster))],
        parameters={"variable": variable, "year": args.year, "stat": str(stat),
                    "band": args.band, "weighting": "exact cell coverage fractions"},
        crs=crs, variables=[meta], notes=[])


def _cmd_grid(args: argparse.Namespace) -> int:
    from geo.inputs.intake.grid import apportion, read_grid

    variable = check_variable_id(args.variable)
    zones = _zones(args)
    grid = read_grid(Path(args.csv), args.value_column)
    _say(f"Gitter: {len(grid.values)} Zellen zu {grid.size:g} m, Spalte '{grid.value_column}'")
    zonal, drops, crs = apportion(grid, zones, progress=True)
    return _finish(
        args, zones, "grid", [Column(variable, args.year, round_counts(zonal.values))], drops,
        inputs=[file_input("grid", Path(args.csv))],
        parameters={"variable": variable, "year": args.year, "value_column": grid.value_column,
                    "cell_size_m": grid.size, "weighting": "exact share of each cell's area"},
        crs=crs, variables=[{"id": variable, "type": "count", "estimate": True}], notes=[])


def _cmd_areas(args: argparse.Namespace) -> int:
    from geo.inputs.intake.areas import interpolate

    zones = _zones(args)
    source = load_zones(Path(args.from_))
    _say(f"Quellgebiete: {source.geography_id}, {len(source.ids)} Gebiete der Ebene "
         f"{source.level_name}")
    weights = Path(args.weights) if args.weights else None
    result = interpolate(Path(args.counts), source, zones, weights=weights, year=args.year,
                         id_column=args.id_column, progress=True)
    names = sorted({c.variable for c in result.columns})
    inputs = [file_input("counts", Path(args.counts))]
    inputs += [file_input("source areas", p) for p in source.files]
    inputs += [file_input("weights", weights)] if weights else []
    return _finish(
        args, zones, "areas", result.columns, result.drops, inputs=inputs,
        parameters={"from": str(args.from_), "weights": str(weights) if weights else None,
                    "method": "dasymetric (weight raster)" if weights else "area-weighted"},
        crs=result.crs, variables=[{"id": n, "type": "count", "estimate": True} for n in names],
        notes=[])


def _common(p: argparse.ArgumentParser, *, variable: bool = True, year: bool = True) -> None:
    p.add_argument("--geography", required=True, metavar="FOLDER",
                   help="geography folder; counts are for its finest level")
    if variable:
        p.add_argument("--variable", required=True, metavar="ID", help="variable id to write")
    if year:
        p.add_argument("--year", required=True, type=_year, help="year of the values")
    p.add_argument("--out", required=True, metavar="OUT.csv",
                   help="counts file to write (and OUT.csv.provenance.json beside it)")


def add_intake(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``quartier intake`` with its four kinds of input."""
    intake = sub.add_parser("intake", help="points, rasters, grids or other areas -> counts")
    kinds = intake.add_subparsers(dest="kind", required=True, metavar="KIND")

    p = kinds.add_parser("points", help="count points (CSV with coordinates or a vector file)")
    p.add_argument("file", metavar="FILE")
    _common(p, year=False)
    years = p.add_mutually_exclusive_group(required=True)
    years.add_argument("--year", type=_year, help="year of every point")
    years.add_argument("--year-column", metavar="C", help="column with each point's year")
    p.add_argument("--x", metavar="COL", help="x/longitude column (CSV)")
    p.add_argument("--y", metavar="COL", help="y/latitude column (CSV)")
    p.add_argument("--crs", metavar="EPSG:NNNN", help="CRS of the coordinates")
    p.add_argument("--where", metavar="COL=VALUE", type=_where, action="append", default=[],
                   help="count only rows where COL equals VALUE (repeatable)")
    p.add_argument("--group-column", metavar="COL", help="one variable <ID>_<value> per value")
    p.set_defaults(func=_cmd_points)

    r = kinds.add_parser("raster", help="zonal statistics of a raster, exact area weighting")
    r.add_argument("raster", metavar="RASTER")
    _common(r)
    r.add_argument("--stat", default="sum", help="sum | mean | share:VALUE (default sum)")
    r.add_argument("--band", type=int, default=1, help="raster band (default 1)")
    r.set_defaults(func=_cmd_raster)

    g = kinds.add_parser("grid", help="Zensus grid table (GITTER_ID_100m …) apportioned")
    g.add_argument("csv", metavar="CSV")
    _common(g)
    g.add_argument("--value-column", metavar="COL", help="value column (default: the only one)")
    g.set_defaults(func=_cmd_grid)

    a = kinds.add_parser("areas", help="counts of other areas interpolated onto the areas")
    a.add_argument("counts", metavar="COUNTS")
    a.add_argument("--from", dest="from_", required=True, metavar="FOLDER_OF_SOURCE_AREAS",
                   help="geography folder of the source areas (finest level is used)")
    _common(a, variable=False, year=False)
    a.add_argument("--weights", metavar="RASTER", help="weight raster (dasymetric), e.g. "
                   "population")
    a.add_argument("--year", type=_year, help="year of a wide counts file without a year column")
    a.add_argument("--id-column", help="column with the source area ids in a wide counts file")
    a.set_defaults(func=_cmd_areas)


__all__ = ["IntakeError", "add_intake"]

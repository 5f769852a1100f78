"""Command line interface: ``quartier``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from geo import __version__
from geo.errors import QuartierError

EXIT_BAD_INPUT = 2
EXIT_TERMINATED = 128 + signal.SIGTERM


class Terminated(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM, so that a build removes its temporaries."""


@contextmanager
def _stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into :class:`Terminated` while a build runs (the default would just die)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise Terminated

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _print_error(exc: QuartierError) -> None:
    message = str(exc)
    print(f"Fehler / error: {message}", file=sys.stderr)
    for problem in getattr(exc, "problems", []):
        if problem not in message:
            print(f"  {problem}", file=sys.stderr)


def _cmd_check(args: argparse.Namespace) -> int:
    from geo.inputs.geography import check_geography

    report = check_geography(Path(args.geography))
    print(report.format())
    return 1 if report.errors else 0


def _cmd_build(args: argparse.Namespace) -> int:
    from geo.build import build

    with _stop_on_sigterm():
        result = build(
            Path(args.geography),
            counts=args.counts,
            indicators=args.indicators,
            out=args.out,
            year=args.year,
            id_column=args.id_column,
            min_count=args.min_count,
            protection=args.protection,
            reliable_min=args.reliable_min,
        )
    print(f"{result.out}  (Release {result.published.release_id})")
    print(f"Sperrprotokoll / suppression log: {result.log_path}  (nicht veröffentlichen)")
    return 0


def _cmd_build_all(args: argparse.Namespace) -> int:
    root = Path(args.boundaries)
    if not root.is_dir():
        print(f"Fehler / error: {root} is not a folder of geographies", file=sys.stderr)
        return EXIT_BAD_INPUT
    with _stop_on_sigterm():
        return _build_each(root, args)


def _build_each(root: Path, args: argparse.Namespace) -> int:
    from geo.build import build
    from geo.inputs.fetch import missing_files

    failed = 0
    for folder in sorted(p for p in root.iterdir() if (p / "geography.toml").exists()):
        missing = missing_files(folder)
        if missing:
            print(
                f"übersprungen / skipped {folder.name}: {', '.join(missing)} fehlt "
                f"(`quartier fetch {folder.name}` lädt es, wenn online)",
                file=sys.stderr,
            )
            continue
        out = Path(args.data) / folder.name
        if out.exists() and not args.force and _up_to_date(folder, out):
            print(f"aktuell / up to date: {out}", file=sys.stderr)
            continue
        try:
            build(folder, data_dir=Path(args.data))
        except QuartierError as exc:
            failed += 1
            _print_error(exc)
    return 1 if failed else 0


def _up_to_date(folder: Path, out: Path) -> bool:
    """True when no file of the geography folder is newer than the build's manifest."""
    manifest = out / "manifest.json"
    if not manifest.exists():
        return False
    built = manifest.stat().st_mtime
    code = Path(__file__).resolve().parent
    newest = max(
        [p.stat().st_mtime for p in folder.rglob("*") if p.is_file()]
        + [p.stat().st_mtime for p in code.rglob("*.py")]
    )
    return newest <= built


def _cmd_audit(args: argparse.Namespace) -> int:
    from geo.release import audit_build
    from geo.release.audit import audit_releases

    if args.all_releases:
        if args.protection is not None:
            raise QuartierError("--all-releases audits each release at its own width; "
                                "leave out --protection")
        every = audit_releases(Path(args.build))
        print(every.format(limit=args.limit))
        return 0 if every.ok else 1
    report = audit_build(Path(args.build), protection=args.protection)
    print(report.format(limit=args.limit))
    return 0 if report.ok else 1


def _cmd_releases(args: argparse.Namespace) -> int:
    from geo.release.history import format_releases, releases

    found = releases(Path(args.build))
    if not found:
        print(f"keine Releases / no releases in {args.build}", file=sys.stderr)
        return 1
    print(format_releases(found))
    return 0


def _cmd_rollback(args: argparse.Namespace) -> int:
    from geo.release.history import rollback

    info = rollback(Path(args.build), args.release)
    print(f"{args.build} -> Release {info.release_id} ({info.created}) ist aktuell / is current")
    return 0


def _cmd_withdraw(args: argparse.Namespace) -> int:
    from geo.release.history import withdraw

    dest = withdraw(Path(args.build), args.release)
    print(f"Release {args.release} ist offline / is offline: {dest} (nicht veröffentlicht)")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from geo.inputs.fetch import fetch_geography

    path = fetch_geography(args.name, Path(args.dest) if args.dest else None)
    print(path)
    return 0


def _year_key(text: str | None) -> int | str | None:
    """``2023`` is a year, ``2010-2012`` a pooled period."""
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def _cmd_report(args: argparse.Namespace) -> int:
    from geo.release import read_build
    from geo.render.report.write import INDEX, write_report

    out = write_report(read_build(Path(args.build)), Path(args.out), themes=args.theme,
                       year=_year_key(args.year), levels=args.level, pdf=args.pdf)
    print(out / INDEX)
    return 0


Command = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]
"""Adds one sub-command to the ``quartier`` parser (``sub.add_parser(...)``)."""


def parser(extra: Iterable[Command] = ()) -> argparse.ArgumentParser:
    """The ``quartier`` parser with the library's commands and any ``extra`` ones.

    The library knows no service: ``service.cli`` adds ``serve`` through ``extra``.
    """
    from geo.disclosure import MIN_COUNT, PROTECTION
    from geo.stats.rates import RELIABLE_MIN

    p = argparse.ArgumentParser(
        prog="quartier",
        description="Geschützte kleinräumige Statistik: Grenzen + Zahlen -> Build.",
    )
    p.add_argument("--version", action="version", version=f"quartier {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="validate a geography folder and print the report")
    c.add_argument("geography", metavar="GEOGRAPHY_DIR")
    c.set_defaults(func=_cmd_check)

    b = sub.add_parser("build", help="build a geography into a published release")
    b.add_argument("geography", metavar="GEOGRAPHY_DIR")
    b.add_argument(
        "--counts", type=Path, action="append",
        help="counts CSV (default: counts.csv beside the manifest); repeat to combine files",
    )
    b.add_argument("--indicators", type=Path, help="catalogue (default: indicators.toml beside it)")
    b.add_argument("--out", type=Path, help="build folder (default: data/<geography id>)")
    b.add_argument("--year", type=int, help="year of a wide counts file without a year column")
    b.add_argument("--id-column", help="column with the area ids in a wide counts file")
    b.add_argument(
        "--min-count",
        type=int,
        default=MIN_COUNT,
        help=f"withhold sensitive values 1..N-1 (default {MIN_COUNT})",
    )
    b.add_argument(
        "--protection",
        type=int,
        default=PROTECTION,
        help=f"protection width of withheld small values (default {PROTECTION})",
    )
    b.add_argument(
        "--reliable-min",
        type=int,
        default=RELIABLE_MIN,
        help=f"denominators below this are flagged unreliable (default {RELIABLE_MIN})",
    )
    b.set_defaults(func=_cmd_build)

    a = sub.add_parser("build-all", help="build every bundled geography that has its files")
    a.add_argument("boundaries", nargs="?", default="boundaries")
    a.add_argument("--data", default="data")
    a.add_argument("--force", action="store_true", help="rebuild even when up to date")
    a.set_defaults(func=_cmd_build_all)

    au = sub.add_parser("audit", help="check a build as an outsider would")
    au.add_argument("build", metavar="BUILD_DIR")
    au.add_argument("--protection", type=int, default=None)
    au.add_argument("--limit", type=int, default=20, help="how many narrowest intervals to print")
    au.add_argument("--all-releases", action="store_true",
                    help="audit every online release alone and every release of the same "
                         "counts together")
    au.set_defaults(func=_cmd_audit)

    rl = sub.add_parser("releases", help="list the releases of a build folder")
    rl.add_argument("build", metavar="BUILD_DIR")
    rl.set_defaults(func=_cmd_releases)

    rb = sub.add_parser("rollback", help="make an earlier release current again")
    rb.add_argument("build", metavar="BUILD_DIR")
    rb.add_argument("release", metavar="RELEASE_ID")
    rb.set_defaults(func=_cmd_rollback)

    wd = sub.add_parser("withdraw", help="take a release that is not current offline (kept)")
    wd.add_argument("build", metavar="BUILD_DIR")
    wd.add_argument("release", metavar="RELEASE_ID")
    wd.set_defaults(func=_cmd_withdraw)

    r = sub.add_parser("report", help="write the monitoring report folder of a build "
                                      "(index.html, figures/, tables/)")
    r.add_argument("build", metavar="BUILD_DIR")
    r.add_argument("--out", type=Path, required=True, help="report folder (replaced whole)")
    r.add_argument("--theme", action="append", help="only this theme (repeatable)")
    r.add_argument("--year", help="year or period (default: each indicator's latest)")
    r.add_argument("--level", action="append", help="only this level (repeatable)")
    r.add_argument("--pdf", action="store_true", help="also write bericht.pdf")
    r.set_defaults(func=_cmd_report)

    f = sub.add_parser("fetch", help="download a geography's official boundary file (online)")
    f.add_argument("name")
    f.add_argument("--dest")
    f.set_defaults(func=_cmd_fetch)
    from geo.inputs.intake.command import add_intake

    for add in (add_intake, *extra):
        add(sub)
    return p


def main(argv: list[str] | None = None, *, extra: Iterable[Command] = ()) -> int:
    """Run the ``quartier`` command (with ``extra`` commands composed by the caller)."""
    args = parser(extra).parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args))
    except QuartierError as exc:
        _print_error(exc)
        return EXIT_BAD_INPUT
    except Terminated:
        print("abgebrochen / stopped (SIGTERM); temporary files removed", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

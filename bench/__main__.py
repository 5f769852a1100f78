"""Run every benchmark and print a markdown report (``make bench``)."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

SUITES = ["build", "disclosure", "tiles", "serve", "api", "memory", "intake"]


def main() -> int:
    """Run the chosen suites (all by default) and print their markdown sections."""
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("suites", nargs="*", default=SUITES, choices=SUITES)
    parser.add_argument("--out", type=Path, help="also write the report to this file")
    args = parser.parse_args()
    lines = [
        f"# Quartier benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, "
        f"{_cores()} cores. Command: `make bench`.",
        "",
    ]
    failed = 0
    for name in args.suites:
        start = time.perf_counter()
        print(f"== bench.{name} ...", file=sys.stderr, flush=True)
        try:
            module = importlib.import_module(f"bench.{name}")
            lines.append(module.run())
        except Exception:  # noqa: BLE001 - one failing suite must not hide the others' figures
            failed += 1
            lines.append(f"## {name}\n\nFAILED:\n```\n{traceback.format_exc()}\n```\n")
        print(f"== bench.{name} done in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    report = "\n".join(lines)
    print(report)
    if args.out:
        args.out.write_text(report, encoding="utf-8")
    return 1 if failed else 0


def _cores() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())

"""The ``quartier`` command: the library's commands plus ``serve`` (composed here, outside geo/)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn

from geo import cli
from service.protocol import BoundedHttpTools
from service.settings import Settings


def server_options(settings: Settings, *, access_log: bool | None = None) -> dict[str, Any]:
    """uvicorn's options for ``quartier serve`` (besides app, host, port and workers)."""
    return {
        "log_level": "info",
        "access_log": settings.access_log if access_log is None else access_log,
        # httptools (twice h11's tiles per second) with the request head bounded as h11 would
        "http": BoundedHttpTools,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
    }


def server_config(app: Any, settings: Settings, *, host: str, port: int,
                  access_log: bool | None = None) -> uvicorn.Config:
    """How ``quartier serve`` runs the app in one process (tests start the same server)."""
    return uvicorn.Config(app, host=host, port=port,
                          **server_options(settings, access_log=access_log))


APP_FACTORY = "service.main:create_app"
"""What each worker process imports and calls: the app, built from ``QUARTIER_`` settings."""


def _cmd_serve(args: argparse.Namespace) -> int:
    # every worker builds its own app from the environment (uvicorn starts them by import)
    os.environ["QUARTIER_DATA"] = str(Path(args.data).resolve())
    if args.workers is not None:
        os.environ["QUARTIER_WORKERS"] = str(args.workers)
    if args.access_log is not None:
        os.environ["QUARTIER_ACCESS_LOG"] = "1" if args.access_log else "0"
    settings = Settings()
    print(f"Quartier auf http://{args.host}:{args.port}/ (Daten: {settings.data}, "
          f"{settings.workers} Prozess{'e' if settings.workers > 1 else ''})", file=sys.stderr)
    uvicorn.run(APP_FACTORY, factory=True, host=args.host, port=args.port,
                workers=settings.workers, **server_options(settings))
    return 0


def _workers(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"--workers {text}: at least 1")
    return number


def add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``quartier serve``."""
    s = sub.add_parser("serve", help="serve every build in a data folder")
    s.add_argument("--data", default="data")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=_workers, default=None,
                   help="processes serving requests (default: QUARTIER_WORKERS, else the "
                        "cores but one, at least 1)")
    s.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=None,
                   help="log every request (default: QUARTIER_ACCESS_LOG, else off)")
    s.set_defaults(func=_cmd_serve)


def main(argv: list[str] | None = None) -> int:
    """Run ``quartier`` with every command, ``serve`` included."""
    return cli.main(argv, extra=[add_serve])


if __name__ == "__main__":
    sys.exit(main())

"""The ``quartier`` command: the library's commands plus ``serve`` (composed here, outside geo/)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import uvicorn

from geo import cli
from service.settings import Settings


def server_config(app: Any, settings: Settings, *, host: str, port: int,
                  access_log: bool = True) -> uvicorn.Config:
    """How ``quartier serve`` runs the app (tests start the same server)."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=access_log,
        # h11 bounds the request head it buffers (httptools reads headers of any size)
        http="h11",
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )


def _cmd_serve(args: argparse.Namespace) -> int:
    from service.main import create_app

    settings = Settings(data=Path(args.data))
    print(f"Quartier auf http://{args.host}:{args.port}/ (Daten: {settings.data})", file=sys.stderr)
    config = server_config(create_app(settings), settings, host=args.host, port=args.port,
                           access_log=not args.no_access_log)
    uvicorn.Server(config).run()
    return 0


def add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``quartier serve``."""
    s = sub.add_parser("serve", help="serve every build in a data folder")
    s.add_argument("--data", default="data")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--no-access-log", action="store_true", help="do not log every request")
    s.set_defaults(func=_cmd_serve)


def main(argv: list[str] | None = None) -> int:
    """Run ``quartier`` with every command, ``serve`` included."""
    return cli.main(argv, extra=[add_serve])


if __name__ == "__main__":
    sys.exit(main())

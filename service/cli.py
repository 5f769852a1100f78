"""The ``quartier`` command: the library's commands plus ``serve`` (composed here, outside geo/)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from geo import cli


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.main import create_app
    from service.settings import Settings

    settings = Settings(data=Path(args.data))
    print(f"Quartier auf http://{args.host}:{args.port}/ (Daten: {settings.data})", file=sys.stderr)
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        log_level="info",
        access_log=not args.no_access_log,
    )
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

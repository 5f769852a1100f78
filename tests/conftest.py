"""Shared fixtures: a small two-level geography built from squares."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from geo.build import build

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Stadtbezirk "1" = Quartiere 10, 11, 12; "2" = Quartiere 20, 21 (2 km squares, EPSG:25832)
SQUARES = {"10": (0, 0), "11": (1, 0), "12": (2, 0), "20": (0, 1), "21": (1, 1)}
NAMES = {"10": "Arrenberg", "11": "Brill", "12": "Clausen", "20": "Dönberg", "21": "Eckbusch"}

CATALOGUE = """
[[variables]]
id = "einwohner"
name = "Einwohner:innen"
sensitive = false

[[variables]]
id = "auslaender"
name = "Ausländer:innen"
sensitive = true

[[variables]]
id = "sgb2"
name = "SGB-II-Leistungsberechtigte"
sensitive = true

[[indicators]]
id = "auslaenderanteil"
name = "Anteil Ausländer:innen"
theme = "Rechtsstatus und Aufenthalt"
numerator = "auslaender"
denominator = "einwohner"
per = 100
unit = "%"

[[indicators]]
id = "sgb2_quote"
name = "SGB-II-Quote"
theme = "Soziale Sicherung"
numerator = "sgb2"
denominator = "einwohner"
per = 100
unit = "%"
"""

# area: (einwohner, auslaender, sgb2) for 2023
COUNTS = {
    "10": (1200, 300, 90),
    "11": (800, 2, 40),
    "12": (950, 120, 1),
    "20": (400, 60, 25),
    "21": (2500, 410, 230),
}


def _square(col: int, row: int, size: float = 2000.0) -> list[list[float]]:
    x0, y0 = 360000 + col * size, 5680000 + row * size
    return [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]


def write_small_geography(folder: Path, counts: dict[str, tuple[int, ...]] | None = None) -> Path:
    """Write a Quartier/Stadtbezirk geography with catalogue and counts into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    features = [
        {
            "type": "Feature",
            "properties": {"QUARTIER": key, "NAME": NAMES[key]},
            "geometry": {"type": "Polygon", "coordinates": [_square(*SQUARES[key])]},
        }
        for key in SQUARES
    ]
    collection = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::25832"}},
        "features": features,
    }
    (folder / "quartiere.geojson").write_text(json.dumps(collection), encoding="utf-8")
    (folder / "geography.toml").write_text(
        """id = "mini"
name = "Mini-Stadt"
attribution = "Testdaten (erzeugt)"
total_id = "mini"
total_name = "Mini-Stadt"

[[levels]]
id = "stadtbezirk"
name = "Stadtbezirk"
names = { "1" = "Nord", "2" = "Süd" }

[[levels]]
id = "quartier"
name = "Quartier"
file = "quartiere.geojson"
key = "QUARTIER"
label = "NAME"
parent_prefix = 1
""",
        encoding="utf-8",
    )
    (folder / "indicators.toml").write_text(CATALOGUE, encoding="utf-8")
    rows = ["area_id,year,variable,value"]
    for area, (ew, aus, sgb) in (counts or COUNTS).items():
        rows += [
            f"{area},2023,einwohner,{ew}",
            f"{area},2023,auslaender,{aus}",
            f"{area},2023,sgb2,{sgb}",
        ]
    (folder / "counts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def small_geography(tmp_path: Path) -> Path:
    """A small geography folder (5 Quartiere in 2 Stadtbezirke) with counts and catalogue."""
    return write_small_geography(tmp_path / "mini")


def bundled_build(tmp_path_factory: pytest.TempPathFactory, gid: str) -> Path:
    """Build a bundled geography once per test session (shared with test_viewer)."""
    root = tmp_path_factory.getbasetemp() / "bundled-builds"
    out = root / gid
    if not (out / "manifest.json").exists():
        build(ROOT / "boundaries" / gid, out=out, data_dir=root, say=lambda _: None)
    return out


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
"""Debian's Chromium, never a downloaded browser; Playwright's defaults (swiftshader) stay on."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (never a downloaded browser), one per test module."""
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: `make browser-deps` installs it"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield b
        b.close()


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread on a free loopback port; yield its base URL."""
    port = free_port()
    with serving_config(uvicorn.Config(app, host="127.0.0.1", port=port,
                                       log_level="warning")) as url:
        yield url


@contextmanager
def serving_config(config: uvicorn.Config) -> Iterator[str]:
    """Run a uvicorn configuration (loopback host and port set) in a thread; yield its URL."""
    server = uvicorn.Server(config)
    port = config.port
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    try:
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def mini_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the small geography built once (Quartiere 11, 12 have withheld cells)."""
    tmp = tmp_path_factory.mktemp("mini")
    source = write_small_geography(tmp / "src" / "mini")
    build(source, out=tmp / "data" / "mini", data_dir=tmp / "data", say=lambda _m: None)
    return tmp / "data"


def decode_tile(data: bytes) -> dict[str, Any]:
    """Decode stored tile bytes (gzip or not) into ``{layer: {features: ...}}`` with
    mapbox-vector-tile, an independent decoder (dev dependency)."""
    import mapbox_vector_tile

    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return dict(mapbox_vector_tile.decode(data, default_options={"y_coord_down": True}))


def router_app(router_module: Any, data: Path, **settings: Any) -> Any:
    """One router mounted on a bare FastAPI app with the library-error handlers (STYLE.md)."""
    from fastapi import FastAPI

    from service.errors import add_exception_handlers
    from service.settings import Settings
    from service.store import BuildStore

    app = FastAPI()
    add_exception_handlers(app)
    store = BuildStore(data, check_seconds=0)
    app.include_router(router_module.router(store, Settings(data=data, **settings)))
    return app


@pytest.fixture(scope="session")
def gap_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small geography with a second year, 2021, in which sgb2_quote has no counts (the
    release's years are 2021 and 2023; sgb2_quote has values in 2023 only)."""
    tmp = tmp_path_factory.mktemp("gap")
    source = write_small_geography(tmp / "src" / "mini")
    with (source / "counts.csv").open("a", encoding="utf-8") as out:
        for area, (ew, aus, _sgb) in COUNTS.items():
            out.write(f"{area},2021,einwohner,{ew + 40}\n{area},2021,auslaender,{aus + 10}\n")
    build(source, out=tmp / "data" / "mini", data_dir=tmp / "data", say=lambda _m: None)
    return tmp / "data"


BERLIN = ROOT / "boundaries" / "berlin-lor-2021"


@pytest.fixture(scope="session")
def berlin_zones() -> Any:
    """The 58 Berlin Prognoseräume as intake sees them (EPSG:25833), loaded once."""
    from geo.inputs.intake.zones import load_zones

    return load_zones(BERLIN)


def quartier(*argv: str) -> tuple[int, str, str]:
    """Run the ``quartier`` command in-process: exit code, stdout and stderr."""
    import contextlib
    import io

    from service.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


# --- hostile input (tests/test_security.py, tests/test_http.py) ---------------------------------

XSS_FLAG = "__quartier_xss"
"""Global a payload sets when it runs: a page where it is defined executed hostile input."""
HOSTILE_NAMES = {
    "10": f'<img src=x onerror="window.{XSS_FLAG}=1;alert(1)">',
    "11": '=HYPERLINK("http://x")',
    "12": "+1",
    "20": "-2",
    "21": "@SUM(A1)",
}
"""Quartier names: HTML that runs script, and the four characters that start a formula."""
HOSTILE_DISTRICTS = {"1": f"<script>window.{XSS_FLAG}=2;alert(2)</script>", "2": "=1+1"}
HOSTILE_TOTAL = f'<svg onload="window.{XSS_FLAG}=3;alert(3)">'
HOSTILE_ATTRIBUTION = (f'Quelle: <b>Amt</b>\n<img src=x onerror="window.{XSS_FLAG}=4;alert(4)">'
                       '\n=HYPERLINK("http://x")')
HOSTILE_NOTICE = f"<script>window.{XSS_FLAG}=5;alert(5)</script> vorläufig"
HOSTILE_UNIT = f"<img src=x onerror=window.{XSS_FLAG}=6;alert(6)>"


def _toml(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a TOML basic string


def write_hostile_geography(folder: Path) -> Path:
    """The small geography with hostile names, total, attribution (multi-line), notice, unit."""
    write_small_geography(folder)
    boundaries = json.loads((folder / "quartiere.geojson").read_text(encoding="utf-8"))
    for feature in boundaries["features"]:
        feature["properties"]["NAME"] = HOSTILE_NAMES[feature["properties"]["QUARTIER"]]
    (folder / "quartiere.geojson").write_text(json.dumps(boundaries), encoding="utf-8")
    districts = ", ".join(f'"{k}" = {_toml(v)}' for k, v in HOSTILE_DISTRICTS.items())
    attribution = HOSTILE_ATTRIBUTION.replace("\\", "\\\\").replace('"', '\\"')
    (folder / "geography.toml").write_text(
        f'''id = "hostile"
name = "Feindliche Stadt"
attribution = """{attribution}"""
notice = {_toml(HOSTILE_NOTICE)}
total_id = "hostile"
total_name = {_toml(HOSTILE_TOTAL)}

[[levels]]
id = "stadtbezirk"
name = "Stadtbezirk"
names = {{ {districts} }}

[[levels]]
id = "quartier"
name = "Quartier"
file = "quartiere.geojson"
key = "QUARTIER"
label = "NAME"
parent_prefix = 1
''',
        encoding="utf-8",
    )
    catalogue = CATALOGUE.replace('unit = "%"', f"unit = {_toml(HOSTILE_UNIT)}", 1)
    (folder / "indicators.toml").write_text(catalogue, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def hostile_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the hostile geography ``hostile`` built once."""
    tmp = tmp_path_factory.mktemp("hostile")
    source = write_hostile_geography(tmp / "src" / "hostile")
    build(source, out=tmp / "data" / "hostile", data_dir=tmp / "data", say=lambda _m: None)
    return tmp / "data"

"""QGIS styles in the GeoPackage: a layer_styles table that QGIS applies when it opens a level."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pyogrio
import pytest
from fastapi.testclient import TestClient

from geo.release import GPKG_FILE, PublishedBuild, read_build
from geo.render import classes, maps, qgis
from service.main import create_app
from service.settings import Settings

SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def data_dir(mini_data: Path) -> Path:
    """The session's small geography build (Quartiere 11 and 12 have withheld cells)."""
    return mini_data


@pytest.fixture(scope="module")
def published(data_dir: Path) -> PublishedBuild:
    return read_build(data_dir / "mini")


def _styles(gpkg: Path) -> list[dict[str, object]]:
    frame = pyogrio.read_dataframe(gpkg, layer=qgis.STYLES_TABLE)
    return frame.to_dict("records")  # type: ignore[return-value]


def test_build_writes_a_style_per_indicator_and_level(data_dir: Path) -> None:
    """layer_styles has, per level and the total, one row per indicator on the geometry
    column; only the first indicator's is the default."""
    gpkg = data_dir / "mini" / GPKG_FILE
    rows = _styles(gpkg)
    assert sorted(r["f_table_name"] for r in rows) == [
        "quartier", "quartier", "stadtbezirk", "stadtbezirk", "total", "total"]
    for row in rows:
        default = bool(row["useAsDefault"])
        assert default == (row["styleName"] == "Anteil Ausländer:innen")
        geometry = pyogrio.read_info(gpkg, layer=str(row["f_table_name"]))["geometry_name"]
        assert row["f_geometry_column"] == geometry
        assert str(row["styleQML"]).startswith("<!DOCTYPE qgis")
    sgb2 = next(r for r in rows if r["styleName"] == "SGB-II-Quote")
    assert '"sgb2_quote"' in str(sgb2["styleQML"])


def test_gpkg_layers_are_in_the_geographys_own_crs(data_dir: Path,
                                                  published: PublishedBuild) -> None:
    """The GeoPackage holds the source's projected CRS (EPSG:25832 for the test squares);
    the build read back still has its shapes in EPSG:4326."""
    gpkg = data_dir / "mini" / GPKG_FILE
    for level in ("total", "stadtbezirk", "quartier"):
        assert pyogrio.read_info(gpkg, layer=level)["crs"] == "EPSG:25832"
    frame = pyogrio.read_dataframe(gpkg, layer="quartier")
    minx, miny, _maxx, _maxy = frame.total_bounds
    assert (round(minx), round(miny)) == (360000, 5680000)  # the squares' own coordinates
    assert published.geography.crs == "EPSG:25832"
    assert published.shapes["quartier"].crs == "EPSG:4326"


def test_qml_is_a_graduated_renderer_on_the_first_indicator(published: PublishedBuild) -> None:
    """The QML classes the first indicator's rate and has a grey withheld class first."""
    root = ET.fromstring(qgis.layer_qml(published, "quartier").split("\n", 1)[1])
    renderer = root.find("renderer-v2")
    assert renderer is not None and renderer.get("type") == "graduatedSymbol"
    assert '"auslaenderanteil"' in renderer.get("attr", "")
    ranges = renderer.findall("ranges/range")
    assert ranges[0].get("label") == classes.WITHHELD_LABEL
    assert float(ranges[0].get("lower", "0")) == qgis.WITHHELD_CODE
    symbols = {s.get("name"): s for s in renderer.findall("symbols/symbol")}
    assert len(symbols) == len(ranges)
    grey = symbols[ranges[0].get("symbol")].find("layer/prop[@k='color']")
    assert grey is not None and grey.get("v") == "217,217,217,255"  # #d9d9d9
    uppers = [float(r.get("upper", "nan")) for r in ranges[1:]]
    assert uppers == sorted(uppers) and len(uppers) >= 2
    aliases = {a.get("field"): a.get("name") for a in root.findall("aliases/alias")}
    assert aliases["auslaenderanteil"] == "Anteil Ausländer:innen (%)"


def test_adding_styles_twice_replaces_them(data_dir: Path, published: PublishedBuild,
                                           tmp_path: Path) -> None:
    """Writing the styles again replaces the table instead of adding rows."""
    gpkg = tmp_path / "layers.gpkg"
    shutil.copy(data_dir / "mini" / GPKG_FILE, gpkg)
    qgis.add_layer_styles(gpkg, published)
    assert len(_styles(gpkg)) == 6


def test_downloaded_gpkg_has_the_styles(data_dir: Path, tmp_path: Path) -> None:
    """GET /downloads/{g}.gpkg gives a GeoPackage that GDAL reads, styles included."""
    client = TestClient(create_app(Settings(data=data_dir)))
    response = client.get("/downloads/mini.gpkg")
    assert response.status_code == 200
    path = tmp_path / "mini.gpkg"
    path.write_bytes(response.content)
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"quartier", "stadtbezirk", "total", qgis.STYLES_TABLE} <= layers
    assert len(pyogrio.read_dataframe(path, layer="quartier")) == 5
    assert len(_styles(path)) == 6


_QGIS_SCRIPT = """
import json, os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from qgis.core import (QgsApplication, QgsExpressionContextUtils, QgsRenderContext,
                       QgsVectorLayer)
from qgis.PyQt.QtXml import QDomDocument
app = QgsApplication([], False)
app.initQgis()
layer = QgsVectorLayer(sys.argv[1] + "|layername=quartier", "quartier", "ogr")

def colours_of(layer):
    renderer = layer.renderer()
    context = QgsRenderContext()
    context.expressionContext().appendScope(QgsExpressionContextUtils.layerScope(layer))
    renderer.startRender(context, layer.fields())
    colours = {}
    for feature in layer.getFeatures():
        context.expressionContext().setFeature(feature)
        symbol = renderer.symbolForFeature(feature, context)
        colours[feature["area_id"]] = symbol.color().name() if symbol else None
    renderer.stopRender(context)
    return renderer.type(), colours

kind, colours = colours_of(layer)
count, ids, names, descriptions, error = layer.listStylesInDatabase()
ids, names = ids[:count], names[:count]  # the styles of this layer come first
others = {}
for style_id, name in zip(ids, names):
    qml, error = layer.getStyleFromDatabase(style_id)
    other = QgsVectorLayer(sys.argv[1] + "|layername=quartier", "quartier", "ogr")
    doc = QDomDocument()
    doc.setContent(qml)
    other.importNamedStyle(doc)
    others[name] = colours_of(other)[1]
print(json.dumps({"type": kind, "colours": colours, "crs": layer.crs().authid(),
                  "styles": names, "others": others}), flush=True)
os._exit(0)  # QGIS standalone scripts may crash in teardown; the answer is out
"""


def _has_qgis() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return probe.returncode == 0


def test_qgis_opens_the_level_styled(data_dir: Path, published: PublishedBuild) -> None:
    """Real QGIS opens the level in its projected CRS and applies the default style (withheld
    grey, every published area coloured); every indicator's style is in its style list and
    colours the areas as the web maps do."""
    assert _has_qgis(), "Debian's python3-qgis is missing: `make browser-deps` installs it"
    result = subprocess.run(
        [SYSTEM_PYTHON, "-c", _QGIS_SCRIPT, str(data_dir / "mini" / GPKG_FILE)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    body = json.loads(result.stdout.strip().splitlines()[-1])
    assert body["type"] == "graduatedSymbol"
    assert body["crs"] == "EPSG:25832"
    assert sorted(body["styles"]) == ["Anteil Ausländer:innen", "SGB-II-Quote"]
    for indicator, colours in (("auslaenderanteil", body["colours"]),
                               ("sgb2_quote", body["others"]["SGB-II-Quote"])):
        data = maps.map_data(published, indicator, level="quartier")
        for _, row in data.frame.iterrows():
            colour = colours[row["area_id"]]
            if row["status"] == "suppressed":
                assert colour == classes.WITHHELD_COLOR
            else:
                assert colour == data.classes.colors[int(row["klass"])]

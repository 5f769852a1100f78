"""QGIS layer styles inside the build's GeoPackage, so every level opens styled.

QGIS reads a GeoPackage table ``layer_styles`` (one row per layer and style, QML in
``styleQML``) and applies the row marked ``useAsDefault`` when a layer is loaded. Each level
(and the total) gets one style per indicator, the first indicator's as the default (the others
are a click away in the layer's style manager): a graduated renderer on the classes of the
published rates (``geo.render.classes``, as the web maps, with the indicator's ramp), plus a
grey hatched class "gesperrt (Geheimhaltung)" for withheld areas, and field aliases with the
indicators' names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
import pyogrio

from geo.release import TOTAL, WIDE_FIELDS, PublishedBuild, indicator_rows, resolve_year
from geo.release.tables import memoised
from geo.render.classes import (
    DEFAULT_METHOD,
    WITHHELD_COLOR,
    WITHHELD_LINE,
    legend_entries,
    level_classes,
)

STYLES_TABLE = "layer_styles"
QGIS_VERSION = "3.22.0"
"""The QML dialect written (read by every QGIS 3 from 3.22 on)."""
WITHHELD_CODE = -1.0
MISSING_CODE = -2.0
_CODES = {"withheld": WITHHELD_CODE, "missing": MISSING_CODE}
_METHODS = {"fisher_jenks": "Jenks", "quantiles": "Quantile", "equal_interval": "EqualInterval",
            "natural_breaks": "Jenks"}
"""QGIS's classification method closest to each mapclassify method."""
_FIELD_LABELS = {
    "ci_low": "95-%-Intervall unten", "ci_high": "95-%-Intervall oben",
    "numerator": "Zähler", "denominator": "Nenner", "reliable": "verlässlich",
    "vs_total": "Vergleich mit Gesamtgebiet", "status": "Status", "year": "Jahr",
}


def _rgba(hex_color: str, alpha: int = 255) -> str:
    value = hex_color.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{alpha}"


def _props(items: dict[str, str]) -> str:
    """Symbol-layer properties in both QML forms (Option map for new QGIS, prop for old)."""
    options = "".join(
        f'<Option name={quoteattr(k)} type="QString" value={quoteattr(v)}/>'
        for k, v in items.items()
    )
    props = "".join(f"<prop k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in items.items())
    return f'<Option type="Map">{options}</Option>{props}'


@lru_cache(maxsize=256)
def _fill_symbol(name: str, color: str, *, hatched: bool = False) -> str:
    base = {
        "border_width_map_unit_scale": "3x:0,0,0,0,0,0",
        "color": _rgba(color),
        "joinstyle": "bevel",
        "offset": "0,0",
        "offset_map_unit_scale": "3x:0,0,0,0,0,0",
        "offset_unit": "MM",
        "outline_color": "255,255,255,255",
        "outline_style": "solid",
        "outline_width": "0.26",
        "outline_width_unit": "MM",
        "style": "solid",
    }
    layers = [base]
    if hatched:
        layers.append({**base, "color": _rgba(WITHHELD_LINE), "style": "b_diagonal",
                       "outline_style": "no"})
    body = "".join(
        f'<layer class="SimpleFill" enabled="1" locked="0" pass="0">{_props(p)}</layer>'
        for p in layers
    )
    return (f'<symbol type="fill" name={quoteattr(name)} alpha="1" clip_to_extent="1" '
            f'force_rhr="0">{body}</symbol>')


def renderer_expression(indicator: str) -> str:
    """The graduated renderer's value: the rate, or a code for withheld and missing areas."""
    return (f"CASE WHEN \"{indicator}_status\" = 'suppressed' THEN {WITHHELD_CODE:g} "
            f"WHEN \"{indicator}_status\" = 'missing' THEN {MISSING_CODE:g} "
            f"ELSE \"{indicator}\" END")


def layer_qml(published: PublishedBuild, level: str, indicator: str | None = None,
              method: str = DEFAULT_METHOD) -> str:
    """The QML of one level: graduated classes of ``indicator`` (default: the first)."""
    catalogue = published.catalogue
    ind = catalogue.indicator(indicator) if indicator else catalogue.indicators[0]
    year = resolve_year(published, ind.id, None)  # the GeoPackage layers hold the latest year
    classes = level_classes(published, ind.id, level, year, method=method)
    missing = bool((indicator_rows(published, ind.id, level, year)["status"] == "missing").any())
    entries = legend_entries(classes, ind.unit, missing=missing)
    # withheld and missing areas first: the renderer gives them codes below every rate
    ranges = [(_CODES[e.role], _CODES[e.role], e) for e in entries[::-1] if e.role != "class"]
    ranges += zip(classes.edges[:-1], classes.upper, [e for e in entries if e.role == "class"],
                  strict=True)
    range_xml = "".join(
        f'<range lower="{lo!r}" upper="{hi!r}" symbol="{i}" label={quoteattr(e.label)} '
        'render="true"/>'
        for i, (lo, hi, e) in enumerate(ranges)
    )
    symbols = "".join(
        _fill_symbol(str(i), e.color, hatched=e.role == "withheld")
        for i, (_lo, _hi, e) in enumerate(ranges)
    )
    ramp_colors = list(classes.colors) or [WITHHELD_COLOR]
    stops = ":".join(
        f"{k / (len(ramp_colors) - 1):.4f};{_rgba(c)}" for k, c in enumerate(ramp_colors[1:-1], 1)
    ) if len(ramp_colors) > 2 else ""
    ramp = _props({"color1": _rgba(ramp_colors[0]), "color2": _rgba(ramp_colors[-1]),
                   "discrete": "0", "rampType": "gradient", "stops": stops})
    unit = f" ({ind.unit})" if ind.unit else ""
    title = f"{ind.name}{unit}, {year}"
    aliases = memoised(published, ("qgis-aliases",), lambda: _aliases(published))
    return (
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
        f'<qgis version="{QGIS_VERSION}" styleCategories="Symbology|Fields|Legend">'
        f"<renderer-v2 type=\"graduatedSymbol\" attr={quoteattr(renderer_expression(ind.id))} "
        'graduatedMethod="GraduatedColor" symbollevels="0" forceraster="0" enableorderby="0" '
        'referencescale="-1">'
        f"<ranges>{range_xml}</ranges><symbols>{symbols}</symbols>"
        f"<source-symbol>{_fill_symbol('0', ramp_colors[0])}</source-symbol>"
        f'<colorramp type="gradient" name="[source]">{ramp}</colorramp>'
        f'<classificationMethod id="{_METHODS[classes.method]}">'
        '<symmetricMode enabled="0" symmetrypoint="0" astride="0"/>'
        '<labelFormat format="%1 – %2" trimtrailingzeroes="0" labelprecision="1"/>'
        "<parameters><Option/></parameters><extraInformation/></classificationMethod>"
        "<rotation/><sizescale/></renderer-v2>"
        f"<aliases>{aliases}</aliases>"
        f"<legend type=\"default-vector\" showLabelLegend=\"0\"/>"
        "<layerGeometryType>2</layerGeometryType>"
        f"<!-- {_xml_comment(title)}; Quelle: {_xml_comment(published.geography.attribution)} -->"
        "</qgis>\n"
    )


def _xml_comment(text: str) -> str:
    return text.replace("--", "–")


def _aliases(published: PublishedBuild) -> str:
    items = [("area_id", "Gebiets-ID"), ("name", "Name"), ("parent_id", "übergeordnetes Gebiet")]
    for ind in published.catalogue.indicators:
        unit = f" ({ind.unit})" if ind.unit else ""
        items.append((ind.id, f"{ind.name}{unit}"))
        items += [(f"{ind.id}_{f}", f"{ind.name}: {_FIELD_LABELS[f]}") for f in WIDE_FIELDS]
    return "".join(f"<alias field={quoteattr(k)} name={quoteattr(v)}/>" for k, v in items)


def style_names(published: PublishedBuild) -> dict[str, str]:
    """The style name of each indicator (its name; with its id where two names are alike)."""
    names = [ind.name for ind in published.catalogue.indicators]
    return {ind.id: ind.name if names.count(ind.name) == 1 else f"{ind.name} ({ind.id})"
            for ind in published.catalogue.indicators}


def add_layer_styles(gpkg_path: Path, published: PublishedBuild) -> None:
    """Write (replace) the ``layer_styles`` table: per level and the total one style per
    indicator, the first indicator's the default."""
    gpkg_path = Path(gpkg_path)
    if published.catalogue.indicators == ():
        return
    names = style_names(published)
    rows = []
    now = pd.Timestamp(datetime.now(UTC).replace(microsecond=0))
    for level in [*published.geography.level_ids, TOTAL]:
        info = pyogrio.read_info(gpkg_path, layer=level)
        level_name = published.geography.level(level).name
        for i, ind in enumerate(published.catalogue.indicators):
            rows.append({
                "f_table_catalog": "",
                "f_table_schema": "",
                "f_table_name": level,
                "f_geometry_column": info["geometry_name"] or "geom",
                "styleName": names[ind.id],
                "styleQML": layer_qml(published, level, ind.id),
                "styleSLD": "",
                "useAsDefault": i == 0,
                "description": (f"Quartier: {ind.name}, {level_name}, "
                                f"Release {published.release_id}"),
                "owner": "quartier",
                "ui": "",
                "update_time": now,
            })
    frame = pd.DataFrame(rows)
    frame["useAsDefault"] = frame["useAsDefault"].astype(np.bool_)
    pyogrio.write_dataframe(frame, gpkg_path, layer=STYLES_TABLE, driver="GPKG",
                            layer_options={"OVERWRITE": "YES"})


__all__ = ["STYLES_TABLE", "add_layer_styles", "layer_qml", "renderer_expression",
           "style_names"]

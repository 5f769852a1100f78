"""Choropleth maps of one indicator: a standalone Folium (Leaflet) page and a matplotlib PNG.

Both take a ``PublishedBuild`` only, so a withheld value cannot reach a map: withheld areas
are drawn grey and labelled ``geheim (Datenschutz)``. Every script and stylesheet of the page
is served by Quartier itself (``VENDORED``); a basemap is loaded only when one is configured.
"""

from __future__ import annotations

import html
import io
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal, cast

import branca.element
import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry
from branca.utilities import color_brewer

from geo.errors import ParameterError
from geo.inputs.catalogue import Indicator
from geo.release import TOTAL, LevelInfo, PublishedBuild
from geo.render.styles import mapclassify_bins

Scheme = Literal["fisher_jenks", "quantiles", "equal_interval"]
SCHEMES: tuple[str, ...] = ("fisher_jenks", "quantiles", "equal_interval")
DEFAULT_SCHEME = "fisher_jenks"
CLASSES = 5
"""Number of classes (fewer when there are fewer distinct published values)."""
RAMP = "YlOrRd"
"""ColorBrewer sequential ramp of the classes."""
WITHHELD_COLOR = "#bdbdbd"
WITHHELD_LABEL = "geheim (Datenschutz)"
MISSING_COLOR = "#ffffff"
MISSING_LABEL = "keine Daten"
SIMPLIFY_SHARE = 1 / 5000
"""Coverage-simplification tolerance as a share of the map's diagonal (Berlin: about 10 m)."""
COORD_DECIMALS = 5
"""Decimals of longitude/latitude in the page (1e-5 degrees is about 1 m)."""
VENDOR_PATH = "/static/vendor/folium"
VENDORED: dict[str, str] = {
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": "leaflet-1.9.3/leaflet.js",
    "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": "leaflet-1.9.3/leaflet.css",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/jquery.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js":
        "bootstrap-5.2.2/bootstrap.bundle.min.js",
    "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css":
        "bootstrap-5.2.2/bootstrap.min.css",
    "https://netdna.bootstrapcdn.com/bootstrap/3.0.0/css/bootstrap-glyphicons.css":
        "glyphicons-only-bootstrap-1.0.1/css/bootstrap-glyphicons.css",
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css":
        "fontawesome-free-6.2.0/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js":
        "leaflet.awesome-markers-2.0.2/leaflet.awesome-markers.js",
    "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css":
        "leaflet.awesome-markers-2.0.2/leaflet.awesome-markers.css",
    "https://cdn.jsdelivr.net/gh/python-visualization/folium/folium/templates/leaflet.awesome.rotate.min.css":
        "folium-0.20.0/leaflet.awesome.rotate.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/d3/3.5.5/d3.min.js": "d3-3.5.5/d3.min.js",
}
"""Every CDN file a default Folium/branca page loads -> its copy in static/vendor/folium/."""
PAGE_ASSETS = ("leaflet", "leaflet_css")
"""The only Folium defaults a Quartier map page uses (the legend is plain HTML)."""


@dataclass(frozen=True)
class Classes:
    """Class breaks of a choropleth: ``edges[i]`` to ``edges[i + 1]`` has ``colors[i]``."""

    scheme: str
    edges: tuple[float, ...]
    colors: tuple[str, ...]

    def index(self, values: np.ndarray) -> np.ndarray:
        """Class of each value (-1 for NaN)."""
        values = np.asarray(values, dtype=float)
        if not self.colors:
            return np.full(len(values), -1)
        upper = np.asarray(self.edges[1:-1], dtype=float)
        out = np.searchsorted(upper, values, side="left")
        return np.where(np.isnan(values), -1, out)


@dataclass(frozen=True)
class MapData:
    """Everything a map of one indicator, level and year shows (published values only)."""

    geography_id: str
    geography_name: str
    attribution: str
    notice: str
    release_id: str
    indicator: Indicator
    level: LevelInfo
    year: int
    total_name: str
    total_rate: float | None
    classes: Classes
    frame: gpd.GeoDataFrame
    """Columns area_id, name, rate, ci_low, ci_high, numerator, denominator, reliable,
    vs_total, status, klass (-1 = no class), geometry (simplified, EPSG:4326)."""

    @property
    def title(self) -> str:
        """Headline: indicator, level, year and geography."""
        return f"{self.indicator.name}, {self.level.name}, {self.year} – {self.geography_name}"

    @property
    def unit_label(self) -> str:
        """Unit for the legend, e.g. ``%`` or ``je 1.000``."""
        return self.indicator.unit or ""


def classify(values: np.ndarray, scheme: str = DEFAULT_SCHEME, k: int = CLASSES,
             ramp: str = RAMP) -> Classes:
    """Class breaks of the published values with mapclassify and a ColorBrewer ramp.

    Raises:
        ParameterError: for an unknown scheme or a number of classes outside 2..9.
    """
    if scheme not in SCHEMES:
        raise ParameterError(f"unknown scheme '{scheme}' (known: {', '.join(SCHEMES)})")
    if not 2 <= k <= 9:
        raise ParameterError(f"classes must be between 2 and 9, not {k}")
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if data.size == 0:
        return Classes(scheme, (), ())
    distinct = np.unique(data)
    k = min(k, distinct.size)
    if k == 1:
        only = float(distinct[0])
        return Classes(scheme, (only, only), (color_brewer(ramp, 3)[1],))
    edges = [float(data.min())]
    for b in (float(b) for b in mapclassify_bins(data, scheme, k)):
        if b > edges[-1] or len(edges) == 1:
            edges.append(b)
    colors = _ramp(ramp, len(edges) - 1)
    return Classes(scheme, tuple(edges), tuple(colors))


def _ramp(name: str, n: int) -> list[str]:
    if n >= 3:
        return list(color_brewer(name, n))
    three = color_brewer(name, 3)
    return [three[0], three[2]][:n] if n == 2 else [three[1]]


_SIMPLIFIED: OrderedDict[tuple[str, str, str, float], gpd.GeoDataFrame] = OrderedDict()
_SIMPLIFIED_LOCK = threading.Lock()
_SIMPLIFIED_MAX = 32


def simplified_shapes(published: PublishedBuild, level: str, *,
                      share: float = SIMPLIFY_SHARE) -> gpd.GeoDataFrame:
    """The level's areas simplified as a coverage: shared borders stay shared, no gaps appear.

    The tolerance is ``share`` of the level's diagonal (0 = unsimplified). Memoised per
    release, level and share (a release never changes).
    """
    key = (published.geography.id, published.release_id, level, share)
    with _SIMPLIFIED_LOCK:
        if key in _SIMPLIFIED:
            _SIMPLIFIED.move_to_end(key)
            return _SIMPLIFIED[key]
    shapes = published.shapes[level]
    metric = shapes.to_crs(shapes.estimate_utm_crs())
    minx, miny, maxx, maxy = metric.total_bounds
    tolerance = math.hypot(maxx - minx, maxy - miny) * share
    geoms = metric.geometry.to_numpy()
    if tolerance > 0:
        geoms = shapely.make_valid(shapely.coverage_simplify(geoms, tolerance))
    out = gpd.GeoDataFrame(
        shapes[["area_id", "name"]].reset_index(drop=True),
        geometry=gpd.GeoSeries(geoms, crs=metric.crs).to_crs(4326).to_numpy(),
        crs="EPSG:4326",
    )
    with _SIMPLIFIED_LOCK:
        _SIMPLIFIED[key] = out
        while len(_SIMPLIFIED) > _SIMPLIFIED_MAX:
            _SIMPLIFIED.popitem(last=False)
    return out


def map_data(
    published: PublishedBuild,
    indicator: str,
    *,
    year: int | None = None,
    level: str | None = None,
    scheme: str = DEFAULT_SCHEME,
    classes: int = CLASSES,
    simplify: float = SIMPLIFY_SHARE,
) -> MapData:
    """Published values of one indicator on one level and year, classified, with shapes.

    ``level`` defaults to the finest level, ``year`` to the indicator's latest year;
    ``simplify`` is the simplification tolerance as a share of the map's diagonal.

    Raises:
        NotFoundError: unknown indicator, level or year.
        ParameterError: unknown scheme or number of classes.
    """
    ind = published.catalogue.indicator(indicator)
    geo = published.geography
    level_id = level if level is not None else geo.level_ids[-1]
    level_info = geo.level(level_id)
    chosen = published.check_year(year) if year is not None else published.latest_year(ind.id)
    values = published.values
    rows = values[(values["indicator"] == ind.id) & (values["year"] == chosen)]
    total = rows[rows["level"] == TOTAL]["rate"]
    total_rate = float(total.iloc[0]) if len(total) and pd.notna(total.iloc[0]) else None
    rows = rows[rows["level"] == level_id].set_index("area_id")
    shapes = simplified_shapes(published, level_id, share=simplify)
    frame = shapes.copy()
    aligned = rows.reindex(frame["area_id"])
    for col in ("rate", "ci_low", "ci_high"):
        frame[col] = aligned[col].to_numpy(dtype=float, na_value=np.nan)
    for col in ("numerator", "denominator", "reliable", "vs_total"):
        frame[col] = aligned[col].to_numpy(dtype=object)
    frame["status"] = aligned["status"].fillna("missing").to_numpy()
    breaks = classify(frame["rate"].to_numpy(), scheme, classes)
    frame["klass"] = breaks.index(frame["rate"].to_numpy())
    return MapData(
        geography_id=geo.id,
        geography_name=geo.name,
        attribution=geo.attribution,
        notice=geo.notice,
        release_id=published.release_id,
        indicator=ind,
        level=level_info,
        year=chosen,
        total_name=geo.total_name,
        total_rate=total_rate,
        classes=breaks,
        frame=frame,
    )


def format_number(value: Any, decimals: int = 1) -> str:
    """German number format: decimal comma and thousands dots (``1.234,5``); ``–`` if empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    text = f"{float(value):,.{decimals}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def _with_unit(value: Any, unit: str) -> str:
    number = format_number(value)
    return number if number == "–" or not unit else f"{number} {unit}"


def class_labels(data: MapData) -> list[str]:
    """Legend text of each class, e.g. ``12,3 – 18,0``."""
    edges = data.classes.edges
    return [range_label(edges[i], edges[i + 1]) for i in range(len(data.classes.colors))]


def range_label(lower: float, upper: float) -> str:
    """``12,3 – 18,0``, or one number when a class holds a single value."""
    low, high = format_number(lower), format_number(upper)
    return low if low == high else f"{low} – {high}"


def _comparison(row: pd.Series, data: MapData) -> str:
    total = data.total_name
    ref = _with_unit(data.total_rate, data.unit_label)
    word = {"higher": "höher als", "lower": "niedriger als", "similar": "ähnlich wie"}.get(
        str(row["vs_total"]) if row["vs_total"] is not None else "", ""
    )
    return f"{word} {total} ({ref})" if word else f"{total}: {ref}"


def _tooltip_rows(row: pd.Series, data: MapData) -> dict[str, str]:
    unit = data.unit_label
    status = row["status"]
    if status == "suppressed":
        value, interval, count, reliability, comparison = WITHHELD_LABEL, "–", "–", "–", "–"
    elif status == "missing" or math.isnan(row["rate"]):
        value, interval, count, reliability, comparison = MISSING_LABEL, "–", "–", "–", "–"
    else:
        value = _with_unit(row["rate"], unit)
        interval = f"{format_number(row['ci_low'])} – {format_number(row['ci_high'])}"
        count = f"{format_number(row['numerator'], 0)} von {format_number(row['denominator'], 0)}"
        reliability = "ja" if bool(row["reliable"]) else "unsicher (kleine Basis)"
        comparison = _comparison(row, data)
    return {
        "Gebiet": str(row["name"]),
        "Wert": value,
        "95-%-Intervall": interval,
        "Anzahl": count,
        "verlässlich": reliability,
        "Vergleich": comparison,
    }


def _fill(row: pd.Series, data: MapData) -> str:
    if row["status"] == "suppressed":
        return WITHHELD_COLOR
    if row["klass"] < 0:
        return MISSING_COLOR
    return data.classes.colors[int(row["klass"])]


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, (list, tuple)):
        if coords and isinstance(coords[0], (int, float)):
            return [round(float(c), COORD_DECIMALS) for c in coords]
        return [_round_coords(c) for c in coords]
    return coords


def _feature_collection(data: MapData) -> dict[str, Any]:
    features = []
    for _, row in data.frame.iterrows():
        geometry = shapely.geometry.mapping(row.geometry)
        props = _tooltip_rows(row, data)
        props["fill"] = _fill(row, data)
        features.append({
            "type": "Feature",
            "id": str(row["area_id"]),
            "properties": props,
            "geometry": {"type": geometry["type"],
                         "coordinates": _round_coords(geometry["coordinates"])},
        })
    return {"type": "FeatureCollection", "features": features}


def _legend_html(data: MapData) -> str:
    rows = [
        f'<div><i style="background:{c}"></i>{html.escape(label)}</div>'
        for c, label in zip(data.classes.colors, class_labels(data), strict=True)
    ]
    status = set(data.frame["status"])
    if "suppressed" in status:
        rows.append(f'<div><i style="background:{WITHHELD_COLOR}"></i>{WITHHELD_LABEL}</div>')
    if ((data.frame["status"] != "suppressed") & (data.frame["klass"] < 0)).any():
        rows.append(f'<div><i style="background:{MISSING_COLOR}"></i>{MISSING_LABEL}</div>')
    unit = f" ({html.escape(data.unit_label)})" if data.unit_label else ""
    scheme = {"fisher_jenks": "natürliche Brüche (Fisher-Jenks)", "quantiles": "Quantile",
              "equal_interval": "gleiche Abstände"}[data.classes.scheme]
    return (
        f'<div class="q-legend"><b>{html.escape(data.indicator.name)}{unit}, {data.year}</b>'
        f'{"".join(rows)}<small>Klassen: {scheme}</small></div>'
    )


_PAGE_CSS = """
<style>
.q-title{position:absolute;top:8px;left:50px;right:8px;z-index:1000;pointer-events:none;
 font:600 15px/1.3 system-ui,sans-serif}
.q-title span{background:rgba(255,255,255,.85);padding:3px 8px;border-radius:3px;
 display:inline-block}
.q-title .q-notice{background:#fff3cd;font-weight:400;font-size:12px;margin-top:3px}
.q-legend{background:rgba(255,255,255,.9);padding:6px 8px;font:12px/1.5 system-ui,sans-serif;
 border-radius:3px;box-shadow:0 1px 4px rgba(0,0,0,.3)}
.q-legend i{display:inline-block;width:16px;height:12px;margin-right:6px;vertical-align:-1px;
 border:1px solid #999}
.q-legend small{display:block;color:#555}
.q-print{font:10px/1.3 system-ui,sans-serif;color:#444;max-width:55vw;
 background:rgba(255,255,255,.8);padding:2px 5px;border-radius:3px}
.q-print a{color:#246}
.leaflet-container{background:#f4f4f4}
</style>
"""


class _Control(branca.element.MacroElement):
    """A Leaflet control with fixed HTML (legend, small print)."""

    _template = branca.element.Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
          var c = L.control({position: {{ this.position|tojson }}});
          c.onAdd = function() {
            var div = L.DomUtil.create('div');
            div.innerHTML = {{ this.html|tojson }};
            L.DomEvent.disableClickPropagation(div);
            return div;
          };
          c.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, position: str) -> None:
        super().__init__()
        self._name = "QuartierControl"
        self.html = html_text
        self.position = position


def _localise_assets(root: branca.element.Element, prefix: str) -> None:
    """Point every Folium/branca default script and stylesheet at the vendored copy."""
    for element in [root, *_descendants(root)]:
        for attr in ("default_js", "default_css"):
            links = getattr(element, attr, None)
            if not links:
                continue
            local = []
            for name, url in links:
                if url not in VENDORED:
                    raise ValueError(f"Folium asset {url} is not vendored "
                                     "(see static/vendor/folium)")
                local.append((name, f"{prefix}/{VENDORED[url]}"))
            setattr(element, attr, local)


def _descendants(element: branca.element.Element) -> list[branca.element.Element]:
    out = []
    for child in element._children.values():
        out.append(child)
        out.extend(_descendants(child))
    return out


def folium_map(
    data: MapData,
    *,
    permalink: str = "",
    basemap_url: str = "",
    basemap_attribution: str = "",
    asset_prefix: str = VENDOR_PATH,
) -> str:
    """A standalone Leaflet page (HTML) of the map; all assets from ``asset_prefix``.

    ``permalink`` is the page's own URL with every parameter spelled out; it is shown in the
    small print and as the canonical link.
    """
    fmap = folium.Map(tiles=None, control_scale=True, zoom_snap=0.25, zoom_delta=0.5)
    fmap.default_js = [(n, u) for n, u in folium.Map.default_js if n in PAGE_ASSETS]
    fmap.default_css = [(n, u) for n, u in folium.Map.default_css if n in PAGE_ASSETS]
    if basemap_url:
        folium.TileLayer(basemap_url, attr=basemap_attribution or " ", name="Hintergrund",
                         opacity=0.6).add_to(fmap)
    minx, miny, maxx, maxy = data.frame.total_bounds
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    fields = ["Gebiet", "Wert", "95-%-Intervall", "Anzahl", "verlässlich", "Vergleich"]
    aliases = ["", "Wert", "95-%-Intervall", "Anzahl", "verlässlich", f"vs. {data.total_name}"]
    folium.GeoJson(
        _feature_collection(data),
        name=data.indicator.name,
        style_function=lambda f: {"fillColor": f["properties"]["fill"], "color": "#ffffff",
                                  "weight": 0.8, "fillOpacity": 0.85},
        highlight_function=lambda f: {"weight": 2.5, "color": "#333333"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True, labels=True),
        smooth_factor=0.5,
    ).add_to(fmap)
    fmap.add_child(_Control(_legend_html(data), "bottomright"))
    fmap.add_child(_Control(_small_print(data, permalink, basemap_attribution), "bottomleft"))
    root = cast(branca.element.Figure, fmap.get_root())
    root.header.add_child(branca.element.Element(_PAGE_CSS), name="quartier_css")
    root.header.add_child(
        branca.element.Element(f"<title>{html.escape(data.title)}</title>"
                               '<link rel="icon" href="data:,">'),  # no favicon request
        name="title",
    )
    if permalink:
        root.header.add_child(
            branca.element.Element(f'<link rel="canonical" href="{html.escape(permalink)}">'),
            name="canonical",
        )
    notice = (f'<br><span class="q-notice">{html.escape(data.notice)}</span>'
              if data.notice else "")
    root.html.add_child(branca.element.Element(
        f'<div class="q-title"><span>{html.escape(data.title)}</span>{notice}</div>'
    ))
    _localise_assets(root, asset_prefix)
    return root.render()


def _small_print(data: MapData, permalink: str, basemap_attribution: str) -> str:
    parts = [f"Quelle: {html.escape(data.attribution)}"]
    if basemap_attribution:
        parts.append(f"Hintergrund: {html.escape(basemap_attribution)}")
    parts.append(f"Release {html.escape(data.release_id)}")
    if permalink:
        parts.append(f'<a href="{html.escape(permalink)}" target="_top">Permalink</a>')
    parts.append("Gesperrte Werte: geheim (Datenschutz)")
    return f'<div class="q-print">{" · ".join(parts)}</div>'


def png_map(data: MapData, *, width: float = 8.0, dpi: int = 150) -> bytes:
    """The map as a PNG for print: legend, title, attribution; withheld areas hatched grey."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    frame = data.frame
    minx, miny, maxx, maxy = frame.total_bounds
    aspect = 1 / math.cos(math.radians((miny + maxy) / 2))
    ratio = (maxy - miny) * aspect / max(maxx - minx, 1e-9)
    fig = Figure(figsize=(width, min(max(width * ratio + 1.4, 4.0), 14.0)), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.1, 0.74, 0.8))
    ax.set_axis_off()
    ax.set_aspect(aspect)
    colors = [_fill(row, data) for _, row in frame.iterrows()]
    shown = frame["status"] != "suppressed"
    frame[shown].plot(ax=ax, color=[c for c, s in zip(colors, shown, strict=True) if s],
                      edgecolor="white", linewidth=0.4)
    withheld = frame[~shown]
    if len(withheld):
        withheld.plot(ax=ax, facecolor=WITHHELD_COLOR, edgecolor="#777777", hatch="////",
                      linewidth=0.4)
    handles = [Patch(facecolor=c, edgecolor="#999999", label=label)
               for c, label in zip(data.classes.colors, class_labels(data), strict=True)]
    if len(withheld):
        handles.append(Patch(facecolor=WITHHELD_COLOR, edgecolor="#777777", hatch="////",
                             label=WITHHELD_LABEL))
    if (shown & (frame["klass"] < 0)).any():
        handles.append(Patch(facecolor=MISSING_COLOR, edgecolor="#999999", label=MISSING_LABEL))
    unit = f" ({data.unit_label})" if data.unit_label else ""
    fig.legend(handles=handles, title=f"{data.year}{unit}", loc="lower left",
               bbox_to_anchor=(0.76, 0.12), fontsize=7, title_fontsize=8, frameon=False)
    fig.suptitle(data.title, fontsize=11, y=0.97)
    if data.notice:
        fig.text(0.5, 0.92, data.notice, ha="center", fontsize=8, color="#8a6d00")
    fig.text(0.02, 0.02, f"Quelle: {data.attribution} · Release {data.release_id} · "
             f"Gesperrte Werte: {WITHHELD_LABEL}", fontsize=6.5, color="#444444", wrap=True)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.15)
    return buf.getvalue()


def feature_json(data: MapData) -> str:
    """The simplified GeoJSON the page embeds (for size checks)."""
    return json.dumps(_feature_collection(data), ensure_ascii=False, separators=(",", ":"))


__all__ = [
    "CLASSES", "DEFAULT_SCHEME", "SCHEMES", "VENDORED", "WITHHELD_LABEL", "Classes", "MapData",
    "classify", "folium_map", "format_number", "map_data", "png_map", "simplified_shapes",
]

"""The map of one indicator as a standalone Folium (Leaflet) page: tooltips, legend, small print.

Withheld areas are grey and labelled ``gesperrt (Geheimhaltung)``, unreliable rates outlined
dashed. The page works in a small iframe too: the legend folds away below ``LEGEND_OPEN_WIDTH``
pixels, tooltips sit above the legend, the scale is metric only. Every script and stylesheet
of the page is served by Quartier itself (``VENDORED``); a basemap is loaded only when one is
configured.
"""

from __future__ import annotations

import html
import json
from typing import Any, cast

import branca.element
import folium
import pandas as pd
import shapely.geometry

from geo.render import change_tooltip, words
from geo.render.classes import (
    EMPTY,
    METHOD_NAMES,
    MISSING_LABEL,
    MISSING_LINE,
    UNRELIABLE_DASH,
    UNRELIABLE_LINE,
    WITHHELD_LABEL,
    format_number,
)
from geo.render.maps import MapData, area_fills, map_legend, missing_areas

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
LEGEND_OPEN_WIDTH = 480
"""Below this map width (pixels, e.g. a small iframe) the legend starts folded."""
TOOLTIP_PANE = "qTooltips"
"""A pane above the map's controls for the tooltips, so the legend never hides one."""


def _with_unit(value: Any, unit: str) -> str:
    number = format_number(value)
    return number if number == EMPTY or not unit else f"{number} {unit}"


def _comparison(row: pd.Series, data: MapData) -> str:
    total = data.total_name
    ref = _with_unit(data.total_rate, data.unit_label)
    word = words.COMPARISON_PHRASE.get(
        str(row["vs_total"]) if row["vs_total"] is not None else "", ""
    )
    return f"{word} {total} ({ref})" if word else f"{total}: {ref}"


def _tooltip_rows(row: pd.Series, data: MapData) -> dict[str, str]:
    unit = data.unit_label
    if row["status"] == "suppressed" or row["klass"] < 0:
        label = WITHHELD_LABEL if row["status"] == "suppressed" else MISSING_LABEL
        value, interval, count, reliability, comparison = label, EMPTY, EMPTY, EMPTY, EMPTY
    else:
        value = _with_unit(row["rate"], unit)
        interval = f"{format_number(row['ci_low'])} – {format_number(row['ci_high'])}"
        count = f"{format_number(row['numerator'], 0)} von {format_number(row['denominator'], 0)}"
        reliability = words.reliability(row["reliable"])
        comparison = _comparison(row, data)
    return {
        "Gebiet": str(row["name"]),
        words.VALUE: value,
        words.INTERVAL: interval,
        words.COUNTS: count,
        words.RELIABLE: reliability,
        "Vergleich": comparison,
    }


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, (list, tuple)):
        if coords and isinstance(coords[0], (int, float)):
            return [round(float(c), COORD_DECIMALS) for c in coords]
        return [_round_coords(c) for c in coords]
    return coords


def _feature_collection(data: MapData) -> dict[str, Any]:
    features = []
    rows = change_tooltip.tooltip_rows if data.compare is not None else _tooltip_rows
    missing = missing_areas(data)
    for (_, row), fill, gap in zip(data.frame.iterrows(), area_fills(data), missing,
                                   strict=True):
        geometry = shapely.geometry.mapping(row.geometry)
        # Folium's tooltip writes these as HTML (innerHTML): names and units are hostile text
        tooltip = {k: html.escape(str(v)) for k, v in rows(row, data).items()}
        props: dict[str, Any] = {**tooltip, "fill": fill}
        if row["unreliable"]:
            props["unreliable"] = True
        elif gap:
            props["missing"] = True
        features.append({
            "type": "Feature",
            "id": str(row["area_id"]),
            "properties": props,
            "geometry": {"type": geometry["type"],
                         "coordinates": _round_coords(geometry["coordinates"])},
        })
    return {"type": "FeatureCollection", "features": features}


def _area_style(props: dict[str, Any]) -> dict[str, Any]:
    """Leaflet path style of one area: its fill; a dashed dark edge if its rate is
    unreliable, a grey edge if it has no data."""
    style: dict[str, Any] = {"fillColor": props["fill"], "color": "#ffffff", "weight": 0.8,
                             "fillOpacity": 0.85}
    if props.get("unreliable"):
        style.update(color=UNRELIABLE_LINE, weight=1.6,
                     dashArray=" ".join(f"{2 * d:g}" for d in UNRELIABLE_DASH))
    elif props.get("missing"):
        style.update(color=MISSING_LINE, weight=0.8)
    return style


def _legend_row(role: str, color: str, label: str) -> str:
    if role == "unreliable":
        swatch = f'<i class="q-dash" style="border-color:{color}"></i>'
    else:
        swatch = f'<i style="background:{color}"></i>'
    return f'<div data-role="{role}">{swatch}{html.escape(label)}</div>'


def _legend_html(data: MapData) -> str:
    rows = [_legend_row(entry.role, entry.color, entry.label) for entry in map_legend(data)]
    unit = f" ({html.escape(data.unit_label)})" if data.unit_label else ""
    method = METHOD_NAMES.get(data.classes.method, data.classes.method)
    return (
        f'<details class="q-legend" open><summary><b>{html.escape(data.indicator.name)}{unit}, '
        f'{data.period_label}</b></summary>'
        f'{"".join(rows)}<small>Klassen: {html.escape(method)}</small></details>'
    )


_PAGE_CSS = """
<style>
.q-title{position:absolute;top:8px;left:50px;right:8px;z-index:1000;pointer-events:none;
 font:600 15px/1.3 system-ui,sans-serif}
.q-title span{background:rgba(255,255,255,.85);padding:3px 8px;border-radius:3px;
 display:inline-block}
.q-title .q-notice{background:#fff3cd;font-weight:400;font-size:12px;margin-top:3px}
.q-legend{background:rgba(255,255,255,.9);padding:6px 8px;font:12px/1.5 system-ui,sans-serif;
 border-radius:3px;box-shadow:0 1px 4px rgba(0,0,0,.3);max-height:calc(100vh - 60px);
 overflow:auto;max-width:calc(100vw - 30px)}
.q-legend summary{cursor:pointer}
.q-legend:not([open]) summary b{font-weight:600}
.q-legend i{display:inline-block;width:16px;height:12px;margin-right:6px;vertical-align:-1px;
 border:1px solid #999}
.q-legend i.q-dash{background:#fff;border:2px dashed #111}
.q-legend small{display:block;color:#555}
.leaflet-qTooltips-pane{z-index:1100;pointer-events:none}
.leaflet-tooltip{font:12px/1.35 system-ui,sans-serif;width:max-content;
 max-width:min(240px,calc(100vw - 24px));white-space:normal;background:#fff}
.leaflet-tooltip th,.leaflet-tooltip td{padding:0 6px 0 0;vertical-align:top}
.leaflet-tooltip th{white-space:nowrap}
.q-print{font:10px/1.3 system-ui,sans-serif;color:#444;max-width:55vw;
 background:rgba(255,255,255,.8);padding:2px 5px;border-radius:3px}
.q-print a{color:#246}
.leaflet-container{background:#fbfbf8}
</style>
"""


class _Control(branca.element.MacroElement):
    """A Leaflet control with fixed HTML (legend, small print); a ``<details>`` in it starts
    folded below ``LEGEND_OPEN_WIDTH``."""

    _template = branca.element.Template(
        """
        {% macro script(this, kwargs) %}
        (function() {
          var c = L.control({position: {{ this.position|tojson }}});
          c.onAdd = function(map) {
            var div = L.DomUtil.create('div');
            div.innerHTML = {{ this.html|tojson }};
            // a folding legend starts folded on a small map (an iframe in a report)
            var details = div.querySelector('details');
            if (details && map.getSize().x < {{ this.open_width }}) details.open = false;
            L.DomEvent.disableClickPropagation(div);
            L.DomEvent.disableScrollPropagation(div);
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
        self.open_width = LEGEND_OPEN_WIDTH


class _SmallMapSetup(branca.element.MacroElement):
    """Metric scale only; a tooltip pane above the controls (moved along with the map pane)."""

    _template = branca.element.Template(
        """
        {% macro script(this, kwargs) %}
        (function(map) {
          L.control.scale({metric: true, imperial: false}).addTo(map);
          // a pane in the map container (above the controls), moved along with the map pane
          var pane = map.createPane({{ this.pane|tojson }}, map.getContainer());
          pane.style.zIndex = 1100;
          function follow() { L.DomUtil.setPosition(pane, map._getMapPanePos()); }
          map.on('move zoom viewreset zoomend moveend', follow);
          follow();
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "QuartierSmallMap"
        self.pane = TOOLTIP_PANE


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
    fmap = folium.Map(tiles=None, control_scale=False, zoom_snap=0.25, zoom_delta=0.5)
    fmap.default_js = [(n, u) for n, u in folium.Map.default_js if n in PAGE_ASSETS]
    fmap.default_css = [(n, u) for n, u in folium.Map.default_css if n in PAGE_ASSETS]
    if basemap_url:
        folium.TileLayer(basemap_url, attr=basemap_attribution or " ", name="Hintergrund",
                         opacity=0.6).add_to(fmap)
    minx, miny, maxx, maxy = data.frame.total_bounds
    fmap.fit_bounds([[miny, minx], [maxy, maxx]])
    fields = ["Gebiet", words.VALUE, words.INTERVAL, words.COUNTS, words.RELIABLE, "Vergleich"]
    aliases = ["", words.VALUE, words.INTERVAL, words.COUNTS, words.RELIABLE,
               f"vs. {html.escape(data.total_name)}"]  # HTML, like the values
    if data.compare is not None:
        fields = list(change_tooltip.FIELDS)
        aliases = [html.escape(a) for a in change_tooltip.aliases(data)]
    # the pane exists before the first tooltip opens (the setup script runs first)
    fmap.add_child(_SmallMapSetup())
    folium.GeoJson(
        _feature_collection(data),
        name=data.indicator.name,
        style_function=lambda f: _area_style(f["properties"]),
        highlight_function=lambda f: {"weight": 2.5, "color": "#333333"},
        tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases, sticky=True, labels=True,
                                      pane=TOOLTIP_PANE, opacity=1),
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
    parts.append(f"schraffiert: {WITHHELD_LABEL}")
    return f'<div class="q-print">{" · ".join(parts)}</div>'


def no_data_page(title: str, message: str, links: list[tuple[str, str]]) -> str:
    """A small page instead of an empty map: what is missing and links to what exists."""
    items = "".join(f'<li><a href="{html.escape(href)}">{html.escape(text)}</a></li>'
                    for text, href in links)
    return (
        '<!doctype html><html lang="de"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="icon" href="data:,"><title>{html.escape(title)}</title>'
        "<style>body{font:15px/1.5 system-ui,sans-serif;margin:1rem;color:#1d1d1f}"
        "p.q-nodata{font-weight:600}</style></head><body>"
        f'<h1 style="font-size:1.1rem">{html.escape(title)}</h1>'
        f'<p class="q-nodata">{html.escape(message)}</p>'
        + (f"<ul>{items}</ul>" if items else "")
        + "</body></html>"
    )


def feature_json(data: MapData) -> str:
    """The simplified GeoJSON the page embeds (for size checks)."""
    return json.dumps(_feature_collection(data), ensure_ascii=False, separators=(",", ":"))


__all__ = ["LEGEND_OPEN_WIDTH", "PAGE_ASSETS", "TOOLTIP_PANE", "VENDORED", "VENDOR_PATH",
           "feature_json", "folium_map", "no_data_page"]

"""The report's ``index.html`` (German): introduction, method, then per theme and indicator
the maps, ranked tables, the whole area's development, definition and source.

Self-contained: the stylesheet is inline, figures and tables are files beside it; no script
and no request to anyone. Every text from the release is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from geo.release import PublishedBuild
from geo.render.classes import DEFAULT_K, DEFAULT_METHOD, EMPTY, METHOD_NAMES
from geo.render.profiles import words
from geo.render.profiles.definitions import indicator_definition
from geo.render.profiles.page import definition_html
from geo.render.profiles.svg import esc

REPORT_CSS = """
body{font-family:system-ui,"DejaVu Sans",sans-serif;color:#222;line-height:1.45;margin:0 auto;
max-width:60rem;padding:0 1rem 3rem}
a{color:#1f5fa8}h1{font-size:2rem;border-bottom:2px solid #222;padding-bottom:.3rem}
h2{margin-top:2.5rem;border-bottom:1px solid #ccc}h3{margin-top:2rem}h4{margin-bottom:.3rem}
.notice{background:#fff3cd;padding:.3rem .6rem;display:inline-block}
.small,figcaption,caption,.definition{color:#555;font-size:.9rem}
figure{margin:.5rem 0 1rem}img{max-width:100%;height:auto;border:1px solid #eee}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1rem;width:100%}
caption{text-align:left;padding:.2rem 0}
th,td{border-bottom:1px solid #ddd;padding:.15rem .4rem;text-align:right;vertical-align:top}
th.text,td.text,th[scope=row]{text-align:left}
thead th{background:#f0f0f0}
dl.definition{display:grid;grid-template-columns:auto 1fr;gap:.1rem .8rem}
dl.definition dd{margin:0}
.table-wrap{overflow-x:auto}
@media print{h2{break-before:page}figure,table{break-inside:avoid}}
"""


@dataclass(frozen=True)
class LevelPart:
    """One level of one indicator: the map's files and alt text, the ranked table."""

    level: str
    level_name: str
    year: Any
    png: str
    svg: str
    csv: str
    alt: str
    table: pd.DataFrame


@dataclass(frozen=True)
class IndicatorPart:
    """One indicator of the report: its levels and the whole area's development."""

    indicator: str
    levels: list[LevelPart]
    development: pd.DataFrame
    development_png: str | None
    development_svg: str | None
    development_csv: str
    development_alt: str


@dataclass
class ReportContent:
    """What ``index.html`` shows, theme by theme."""

    themes: list[tuple[str, list[IndicatorPart]]] = field(default_factory=list)


def _value(row: Any, unit: str, status_field: str = "status") -> str:
    status = words.status_text(getattr(row, status_field))
    return status if status else words.with_unit(row.rate, unit)


def map_alt(published: PublishedBuild, indicator: str, level_name: str, year: Any,
            table: pd.DataFrame) -> str:
    """The map's text alternative: what it shows, its extremes and how many are withheld."""
    ind = published.catalogue.indicator(indicator)
    shown = table[table["status"] == "published"]
    text = (f"Karte: {ind.name} nach {level_name}, {words.year_label(year)}, "
            f"{published.geography.name}.")
    if len(shown):
        top, low = shown.iloc[0], shown.iloc[-1]
        text += (f" Höchster Wert: {top['name']} ({words.with_unit(top['rate'], ind.unit)}); "
                 f"niedrigster: {low['name']} ({words.with_unit(low['rate'], ind.unit)}).")
    withheld = int((table["status"] == "suppressed").sum())
    missing = int((table["status"] == "missing").sum())
    if withheld:
        text += f" {withheld} Gebiete {words.WITHHELD}, schraffiert."
    if missing:
        text += f" {missing} Gebiete ohne Daten."
    return text


def development_alt(published: PublishedBuild, indicator: str, table: pd.DataFrame) -> str:
    """The development chart's text alternative: every year's value of the whole area."""
    ind = published.catalogue.indicator(indicator)
    parts = [f"{words.year_label(r.year)}: {_value(r, ind.unit)}"
             for r in table.itertuples(index=False)]
    return (f"Diagramm: {ind.name}, {published.geography.total_name}, Entwicklung. "
            + "; ".join(parts) + ".")


def _ranked_html(part: LevelPart, unit: str, higher_is: str, caption: str, total: str) -> str:
    head = ("<tr><th scope=\"col\">Rang</th><th scope=\"col\" class=\"text\">Gebiet</th>"
            "<th scope=\"col\" class=\"text\">Schlüssel</th><th scope=\"col\">Wert</th>"
            "<th scope=\"col\">95 %-Intervall</th><th scope=\"col\">Zähler</th>"
            "<th scope=\"col\">Nenner</th><th scope=\"col\" class=\"text\">Verlässlichkeit</th>"
            f"<th scope=\"col\" class=\"text\">Vergleich mit {esc(total)}</th></tr>")
    rows = []
    for r in part.table.itertuples(index=False):
        published = r.status == "published"
        places = words.decimals(r.rate) if published else 1
        rows.append(
            f"<tr><td>{esc(r.rank if published and pd.notna(r.rank) else EMPTY)}</td>"
            f'<th scope="row">{esc(r.name)}</th><td class="text">{esc(r.area_id)}</td>'
            f"<td>{esc(_value(r, unit))}</td>"
            f"<td>{esc(words.interval(r.ci_low, r.ci_high, '', places) if published else EMPTY)}"
            f"</td><td>{esc(words.count(r.numerator) if published else EMPTY)}</td>"
            f"<td>{esc(words.count(r.denominator) if published else EMPTY)}</td>"
            f'<td class="text">{esc(words.reliability(r.reliable) if published else EMPTY)}</td>'
            f'<td class="text">{esc(words.comparison(r.vs_total, higher_is))}</td></tr>'
        )
    return (f'<div class="table-wrap"><table><caption>{esc(caption)}</caption>'
            f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>")


def _development_html(part: IndicatorPart, unit: str, total: str) -> str:
    rows = []
    for r in part.development.itertuples(index=False):
        published = r.status == "published"
        rows.append(
            f'<tr><th scope="row">{esc(words.year_label(r.year))}</th>'
            f"<td>{esc(_value(r, unit))}</td>"
            f"<td>{esc(words.interval(r.ci_low, r.ci_high, '') if published else EMPTY)}</td>"
            f"<td>{esc(words.count(r.numerator) if published else EMPTY)}</td>"
            f"<td>{esc(words.count(r.denominator) if published else EMPTY)}</td></tr>"
        )
    head = ('<tr><th scope="col" class="text">Jahr</th><th scope="col">Wert</th>'
            '<th scope="col">95 %-Intervall</th><th scope="col">Zähler</th>'
            '<th scope="col">Nenner</th></tr>')
    figure = ""
    if part.development_png:
        figure = (f'<figure><img src="figures/{esc(part.development_png)}" '
                  f'alt="{esc(part.development_alt)}" width="945"><figcaption>Entwicklung '
                  f'{esc(total)} · <a href="figures/{esc(part.development_svg)}">SVG</a> · '
                  f'<a href="tables/{esc(part.development_csv)}">Tabelle (CSV)</a>'
                  "</figcaption></figure>")
    return (f"{figure}<div class=\"table-wrap\"><table><caption>Entwicklung {esc(total)}"
            f"</caption><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table></div>")


def _method(published: PublishedBuild) -> str:
    p = published.parameters
    return (
        '<section id="methode"><h2>Methode</h2>'
        "<p>Jeder Indikator ist ein Anteil oder eine Rate zweier Zählungen (Zähler je Nenner). "
        "Das 95 %-Intervall folgt bei Anteilen Wilson, bei Raten der exakten Poisson-Methode "
        "(unter 10 Ereignissen) bzw. Byar. „höher“ oder „niedriger“ als das Gesamtgebiet heißt: "
        "das Intervall des Gebiets schließt den Wert des Gesamtgebiets aus; sonst „ähnlich“. "
        "„günstig“/„ungünstig“ steht nur, wo der Katalog festlegt, ob ein höherer Wert besser "
        f"oder schlechter ist. Werte mit einem Nenner unter {p.reliable_min} gelten als "
        f"„{words.UNRELIABLE}“. Rang 1 ist der höchste veröffentlichte Wert; gleiche Werte "
        "teilen sich den besten Rang.</p>"
        f"<p>Geheimhaltung: Zählungen von 1 bis {p.min_count - 1} werden gesperrt, dazu weitere "
        "Zellen, aus denen sie sich zurückrechnen ließen (Schutzbreite "
        f"{p.protection}); eine Prüfung aus Sicht eines Angreifers bestätigt jede "
        f"Veröffentlichung. {esc(words.DISCLOSURE_NOTICE)}</p>"
        f"<p>Karten: {DEFAULT_K} Klassen, {esc(METHOD_NAMES[DEFAULT_METHOD])}; gesperrte Gebiete "
        "grau schraffiert.</p></section>"
    )


def report_page(published: PublishedBuild, content: ReportContent) -> str:
    """``index.html``: one h1, h2 per theme, h3 per indicator, h4 per level; every figure with
    alt text, every table with a caption and header cells."""
    geo = published.geography
    catalogue = published.catalogue
    toc, body = [], []
    for t, (theme, parts) in enumerate(content.themes, start=1):
        items = "".join(
            f'<li><a href="#{esc(_anchor(p.indicator))}">'
            f"{esc(catalogue.indicator(p.indicator).name)}</a></li>" for p in parts)
        toc.append(f'<li><a href="#thema-{t}">{esc(theme)}</a><ul>{items}</ul></li>')
        articles = []
        for part in parts:
            ind = catalogue.indicator(part.indicator)
            unit = f" ({ind.unit})" if ind.unit else ""
            levels = []
            for lp in part.levels:
                year = words.year_label(lp.year)
                levels.append(
                    f"<section><h4>{esc(lp.level_name)}, {esc(year)}</h4>"
                    f'<figure><img src="figures/{esc(lp.png)}" alt="{esc(lp.alt)}" width="945">'
                    f"<figcaption>Karte: {esc(ind.name)} nach {esc(lp.level_name)}, {esc(year)} "
                    f'· <a href="figures/{esc(lp.svg)}">SVG</a> · '
                    f'<a href="tables/{esc(lp.csv)}">Tabelle (CSV)</a></figcaption></figure>'
                    + _ranked_html(lp, ind.unit, ind.higher_is,
                                   f"{ind.name} nach {lp.level_name}, {year}: alle Gebiete "
                                   "nach Rang", geo.total_name) + "</section>")
            articles.append(
                f'<article id="{esc(_anchor(ind.id))}"><h3>{esc(ind.name)}{esc(unit)}</h3>'
                f"{definition_html(indicator_definition(catalogue, ind))}{''.join(levels)}"
                f"<section><h4>Entwicklung {esc(geo.total_name)}</h4>"
                f"{_development_html(part, ind.unit, geo.total_name)}</section></article>")
        body.append(f'<section id="thema-{t}"><h2>{esc(theme)}</h2>{"".join(articles)}</section>')
    notice = f'<p class="notice">{esc(geo.notice)}</p>' if geo.notice else ""
    level_names = ", ".join(lv.name for lv in geo.levels)
    years = ", ".join(words.year_label(y) for y in published.years)
    return (
        '<!doctype html><html lang="de"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Monitoringbericht {esc(geo.name)}</title><style>{REPORT_CSS}</style></head>"
        f"<body><header><h1>Monitoringbericht {esc(geo.name)}</h1>{notice}"
        f'<p class="small">Release <code>{esc(published.release_id)}</code>, erstellt '
        f"{esc(published.created)} · Quelle: {esc(geo.attribution)}</p></header><main>"
        '<section id="einleitung"><h2>Einleitung</h2>'
        "<p>[Einleitungstext der Autorin oder des Autors.]</p>"
        f"<p>Dieser Bericht zeigt {len(catalogue.indicators)} Indikatoren in "
        f"{len(catalogue.themes())} Themen für {esc(geo.name)} (Ebenen: {esc(level_names)}; "
        f"Jahre: {esc(years)}). Karten und Tabellen liegen als Dateien in "
        "<code>figures/</code> (PNG mit 300 dpi, SVG) und <code>tables/</code> (CSV für Excel) "
        f"bei.</p><p>{esc(words.DISCLOSURE_NOTICE)}</p></section>"
        f"{_method(published)}"
        f'<nav aria-label="Inhalt"><h2>Inhalt</h2><ul>{"".join(toc)}</ul></nav>'
        f"{''.join(body)}</main><footer><p class=\"small\">Quelle: {esc(geo.attribution)}"
        f"{' · Hinweis: ' + esc(geo.notice) if geo.notice else ''} · Release "
        f"{esc(published.release_id)} · Gesperrte Werte: {esc(words.WITHHELD)}</p></footer>"
        "</body></html>"
    )


def _anchor(indicator: str) -> str:
    return "ind-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in indicator)


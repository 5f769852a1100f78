"""The profile of one area as an HTML page (German): facts, spine and trend charts, definitions.

Every text from the release is escaped. The page has no script, no inline style and no style
attribute (its stylesheet is ``PROFILE_CSS``, served by the caller), so it works under a strict
Content-Security-Policy; it loads nothing from anyone else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from geo.render.classes import EMPTY
from geo.render.profiles import words
from geo.render.profiles.charts import spine_svg, trend_svg
from geo.render.profiles.data import AreaProfile, AreaRef, IndicatorProfile, YearValue
from geo.render.profiles.definitions import Definition
from geo.render.profiles.svg import esc

PROFILE_CSS = """
:root{--ink:#222;--muted:#595959;--line:#d0d0d0;--accent:#1f5fa8}
*{box-sizing:border-box}
body{font-family:system-ui,"DejaVu Sans",sans-serif;color:var(--ink);line-height:1.45;
margin:0 auto;max-width:64rem;padding:0 1rem 2rem}
a{color:var(--accent)}
header.profile{display:grid;grid-template-columns:1fr auto;gap:0 1.5rem;align-items:start;
border-bottom:2px solid var(--ink);padding:1rem 0}
header.profile h1{margin:.2rem 0;font-size:2rem}
.sub,.small,figcaption,.definition{color:var(--muted);font-size:.9rem}
.notice{background:#fff3cd;padding:.3rem .6rem;display:inline-block}
.withheld{font-weight:600}
nav.themes ul{columns:2;padding-left:1.2rem}
section.theme>h2{border-bottom:1px solid var(--line);padding-bottom:.2rem;margin-top:2rem}
article.indicator{display:grid;grid-template-columns:minmax(15rem,1fr) minmax(16rem,320px);
gap:.5rem 1.5rem;border-bottom:1px solid var(--line);padding:.8rem 0;break-inside:avoid}
article.indicator h3{grid-column:1/-1;margin:.2rem 0;font-size:1.15rem}
dl.facts{display:grid;grid-template-columns:auto 1fr;gap:.15rem .8rem;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
dl.definition{grid-column:1/-1;display:grid;grid-template-columns:auto 1fr;gap:.1rem .8rem;
margin:.3rem 0 0}
dl.definition dd{margin:0}
figure{margin:0 0 .5rem}
svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:.85rem;margin:.3rem 0}
caption{text-align:left;color:var(--muted);font-size:.85rem}
th,td{border-bottom:1px solid var(--line);padding:.15rem .5rem;text-align:right}
th[scope=row],th.text,td.text{text-align:left}
footer{margin-top:2rem;color:var(--muted);font-size:.85rem;border-top:1px solid var(--line)}
@media (max-width:40rem){header.profile,article.indicator{grid-template-columns:1fr}
nav.themes ul{columns:1}}
@media print{nav.themes,.downloads{display:none}}
"""
"""The page's stylesheet (the service serves it; the page links to it)."""


@dataclass(frozen=True)
class ProfileLinks:
    """Where the page links to; each is optional (``None``: no link)."""

    css: str | None = None
    pdf: str | None = None
    data: str | None = None
    home: str | None = None
    profile: Callable[[AreaRef], str] | None = None
    """The profile page of another area (the parents)."""
    map: Callable[[str, str, Any], str] | None = None
    """The map page of an indicator on a level in a year."""


def _area_link(ref: AreaRef, links: ProfileLinks) -> str:
    label = f"{esc(ref.name)} <span class=\"small\">({esc(ref.level_name)})</span>"
    if links.profile is None:
        return label
    return f'<a href="{esc(links.profile(ref))}">{label}</a>'


def value_html(v: YearValue | None, unit: str) -> str:
    """The value, or ``gesperrt (Geheimhaltung)`` / ``keine Daten`` instead of a number."""
    if v is None:
        return esc(words.MISSING)
    status = words.status_text(v.status)
    if status:
        return f'<span class="withheld">{esc(status)}</span>'
    return esc(words.with_unit(v.rate, unit))


def _facts(item: IndicatorProfile, profile: AreaProfile) -> str:
    v, unit, higher_is = item.current, item.indicator.unit, item.indicator.higher_is
    year = words.year_label(item.year) if item.year is not None else EMPTY
    rows = [(f"Wert {year}", value_html(v, unit))]
    if v is not None and v.status == "published":
        places = words.decimals(v.rate)
        rows += [
            ("95 %-Intervall", esc(words.interval(v.ci_low, v.ci_high, unit, places))),
            ("Zähler / Nenner", f"{esc(words.count(v.numerator))} / "
                                f"{esc(words.count(v.denominator))}"),
            ("Verlässlichkeit", esc(words.reliability(v.reliable))),
        ]
        parent = profile.parent
        if parent is not None and parent.level != "total":
            rows.append((f"Vergleich mit {esc(parent.name)}",
                         esc(words.comparison(v.vs_parent, higher_is))))
        if profile.area.level != "total":
            rows.append((f"Vergleich mit {esc(profile.geography.total_name)}",
                         esc(words.comparison(v.vs_total, higher_is))))
            rows.append(("Rang", esc(words.rank(v.rank, v.rank_of))))
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{d}</dd>" for k, d in rows) + "</dl>"


def _year_table(item: IndicatorProfile, total_name: str) -> str:
    unit = item.indicator.unit
    head = ('<tr><th scope="col" class="text">Jahr</th><th scope="col">Wert</th>'
            f'<th scope="col">95 %-Intervall</th><th scope="col">{esc(total_name)}</th></tr>')
    body = []
    for v in item.values:
        published = v.status == "published"
        interval = (words.interval(v.ci_low, v.ci_high, "", words.decimals(v.rate))
                    if published else EMPTY)
        body.append(
            f'<tr><th scope="row">{esc(words.year_label(v.year))}</th>'
            f"<td>{value_html(v, unit)}</td><td>{esc(interval)}</td>"
            f"<td>{esc(words.with_unit(v.total_rate, unit))}</td></tr>"
        )
    caption = f"{esc(item.indicator.name)}: Werte nach Jahren"
    return (f"<table><caption>{caption}</caption><thead>{head}</thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def definition_html(d: Definition) -> str:
    """Definition, counts, source and reference date as a description list."""
    rows = []
    if d.description:
        rows.append(("Definition", esc(d.description)))
    for label, c in d.parts:
        text = esc(c.name) + (f": {esc(c.definition)}" if c.definition else "")
        if c.estimate:
            text += " <strong>(Schätzwert)</strong>"
        rows.append((label, text))
    rows.append(("Quelle", esc(d.source or EMPTY)))
    rows.append(("Stichtag", esc(d.reference_date or EMPTY)))
    return ('<dl class="definition">'
            + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>")


def _indicator(item: IndicatorProfile, profile: AreaProfile, uid: str,
               links: ProfileLinks) -> str:
    ind = item.indicator
    total = profile.geography.total_name
    spine = spine_svg(item, profile.area, total, f"{uid}-spine")
    trend = trend_svg(item, profile.area, total, f"{uid}-trend")
    figures = []
    if spine:
        n = item.spine.n if item.spine else 0
        figures.append(f'<figure class="spine">{spine}<figcaption>Einordnung unter den {n} '
                       f"Gebieten der Ebene {esc(profile.area.level_name)} mit Wert, "
                       f"{esc(words.year_label(item.year))}</figcaption></figure>")
    if trend:
        figures.append(f'<figure class="trend">{trend}<figcaption>Entwicklung; gestrichelt: '
                       f"{esc(total)}</figcaption></figure>")
    map_link = ""
    if links.map is not None and item.year is not None and profile.area.level != "total":
        href = links.map(ind.id, profile.area.level, item.year)
        map_link = (f'<p class="small"><a href="{esc(href)}">Karte: {esc(ind.name)}, alle '
                    f"Gebiete der Ebene {esc(profile.area.level_name)}</a></p>")
    unit = f' <span class="small">({esc(ind.unit)})</span>' if ind.unit else ""
    return (
        f'<article class="indicator" id="{esc(uid)}"><h3>{esc(ind.name)}{unit}</h3>'
        f"<div>{_facts(item, profile)}{_year_table(item, total) if item.values else ''}"
        f"{map_link}</div><div>{''.join(figures)}</div>{definition_html(item.definition)}</article>"
    )


def _header(profile: AreaProfile, locator: str | None, links: ProfileLinks) -> str:
    area, geo = profile.area, profile.geography
    within = ", ".join(_area_link(p, links) for p in profile.parents)
    sub = f"{esc(area.level_name)} {esc(area.area_id)}" + (f" · in {within}" if within else "")
    pop = profile.population
    population = ""
    if pop is not None:
        shown = (words.count(pop.value) if pop.status == "published"
                 else words.status_text(pop.status) or EMPTY)
        population = (f"<p>{esc(pop.name)} ({esc(words.year_label(pop.year))}): "
                      f"<strong>{esc(shown)}</strong></p>")
    notice = f'<p class="notice">{esc(geo.notice)}</p>' if geo.notice else ""
    downloads = [f'<a href="{esc(href)}">{label}</a>' for href, label in
                 ((links.pdf, "PDF (A4)"), (links.data, "Daten (JSON)"), (links.home, "Karte"))
                 if href]
    figure = (f'<figure class="locator">{locator}<figcaption>Lage in '
              f"{esc(geo.total_name)}</figcaption></figure>") if locator else ""
    return (
        f'<header class="profile"><div><p class="sub">Gebietsprofil · {esc(geo.name)}</p>'
        f"<h1>{esc(area.name)}</h1><p class=\"sub\">{sub}</p>{population}{notice}"
        f'<p class="downloads">{" · ".join(downloads)}</p></div>{figure}</header>'
    )


def _howto(profile: AreaProfile) -> str:
    total = esc(profile.geography.total_name)
    return (
        '<section class="howto"><h2>So lesen Sie dieses Profil</h2><p class="small">'
        "Jeder Wert mit 95 %-Intervall. „höher“ oder „niedriger“ heißt: das Intervall schließt "
        f"den Vergleichswert aus, sonst „ähnlich“. Rang 1 ist der höchste Wert; gleiche Werte "
        "teilen sich den besten Rang. „günstig“ und „ungünstig“ stehen nur, wo der Katalog "
        "festlegt, ob ein höherer Wert besser oder schlechter ist. Einordnung: hellgrau die "
        "Spannweite aller Gebiete der Ebene, dunkelgrau die mittlere Hälfte, weiß der Median, "
        f"schwarz {total}, der Punkt mit Strich das Gebiet mit Intervall.</p>"
        f'<p class="small">{esc(words.DISCLOSURE_NOTICE)}</p></section>'
    )


def profile_page(profile: AreaProfile, *, locator: str | None = None,
                 links: ProfileLinks | None = None) -> str:
    """The profile as a complete HTML page (``lang="de"``, one h1, h2 per theme, h3 per
    indicator; every chart an ``svg`` with ``role="img"``, title and description)."""
    links = links or ProfileLinks()
    geo, area = profile.geography, profile.area
    toc, sections = [], []
    for t, (theme, items) in enumerate(profile.themes, start=1):
        toc.append(f'<li><a href="#thema-{t}">{esc(theme)}</a></li>')
        articles = "".join(_indicator(item, profile, f"i{t}-{i}", links)
                           for i, item in enumerate(items, start=1))
        sections.append(f'<section class="theme" id="thema-{t}" aria-labelledby="thema-{t}-h">'
                        f'<h2 id="thema-{t}-h">{esc(theme)}</h2>{articles}</section>')
    css = f'<link rel="stylesheet" href="{esc(links.css)}">' if links.css else ""
    title = f"{area.name} – {area.level_name} – Gebietsprofil {geo.name}"
    return (
        '<!doctype html><html lang="de"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title>{css}</head><body>"
        f"{_header(profile, locator, links)}<main>{_howto(profile)}"
        f'<nav class="themes" aria-label="Themen"><h2>Themen</h2><ul>{"".join(toc)}</ul></nav>'
        f"{''.join(sections)}</main>{footer_html(profile)}</body></html>"
    )


def footer_html(profile: AreaProfile) -> str:
    """Source, notice, release and the disclosure rule."""
    geo = profile.geography
    notice = f" · Hinweis: {esc(geo.notice)}" if geo.notice else ""
    return (
        f'<footer><p>Quelle: {esc(geo.attribution)}{notice}</p>'
        f"<p>Release <code>{esc(profile.release_id)}</code>, erstellt {esc(profile.created)}. "
        f"Gesperrte Werte: {esc(words.WITHHELD)}.</p></footer>"
    )


def not_found_page(message: str, suggestions: list[tuple[str, str]], css: str | None = None
                   ) -> str:
    """A German 404 page: the message and links to the areas probably meant."""
    items = "".join(f'<li><a href="{esc(href)}">{esc(label)}</a></li>'
                    for href, label in suggestions)
    hint = f"<h2>Meinten Sie …</h2><ul>{items}</ul>" if items else ""
    link = f'<link rel="stylesheet" href="{esc(css)}">' if css else ""
    return (
        '<!doctype html><html lang="de"><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        f"<title>Gebiet nicht gefunden</title>{link}</head><body><main>"
        f"<h1>Gebiet nicht gefunden</h1><p>{esc(message)}</p>{hint}</main></body></html>"
    )

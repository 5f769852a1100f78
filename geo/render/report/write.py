"""``write_report``: the monitoring report folder, written atomically, with a progress bar."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from geo.errors import BuildError, ParameterError
from geo.inputs.catalogue import Indicator
from geo.release import PublishedBuild
from geo.render.csv import table_csv
from geo.render.report import figures
from geo.render.report.page import (
    IndicatorPart,
    LevelPart,
    ReportContent,
    development_alt,
    map_alt,
    report_page,
)
from geo.render.report.tables import development_table, ranked_table

INDEX = "index.html"
FIGURES = "figures"
TABLES = "tables"
PDF_FILE = "bericht.pdf"


def _selection(published: PublishedBuild, themes: Sequence[str] | None,
               levels: Sequence[str] | None) -> tuple[list[tuple[str, list[Indicator]]],
                                                      list[str]]:
    """The themes (catalogue order) and levels (coarsest first) asked for, checked."""
    catalogue_themes = published.catalogue.themes()
    if themes:
        unknown = [t for t in themes if t not in catalogue_themes]
        if unknown:
            raise ParameterError(f"unknown theme(s) {', '.join(map(repr, unknown))} "
                                 f"(known: {', '.join(map(repr, catalogue_themes))})")
    chosen = [(t, inds) for t, inds in catalogue_themes.items() if not themes or t in themes]
    level_ids = published.geography.level_ids
    for lv in levels or []:
        published.geography.level(lv)
    return chosen, [lv for lv in level_ids if not levels or lv in levels]


def _indicator(published: PublishedBuild, ind: Indicator, levels: list[str], year: Any,
               out: Path, bar: tqdm[Any]) -> IndicatorPart:
    geo = published.geography
    parts = []
    for level in levels:
        bar.set_postfix_str(f"{ind.id}, {level}")
        table = ranked_table(published, ind.id, level, year)
        chosen = table["year"].iloc[0] if len(table) else year
        stem = figures.safe_name(ind.id, level, chosen)
        png, svg = figures.save(figures.map_figure(published, ind.id, level, chosen),
                                out / FIGURES, stem)
        (out / TABLES / f"{stem}.csv").write_bytes(table_csv(table))
        level_name = geo.level(level).name
        parts.append(LevelPart(level, level_name, chosen, png, svg, f"{stem}.csv",
                               map_alt(published, ind.id, level_name, chosen, table), table))
        bar.update(1)
    development = development_table(published, ind.id)
    stem = figures.safe_name(ind.id, "entwicklung")
    (out / TABLES / f"{stem}.csv").write_bytes(table_csv(development))
    dev_png = dev_svg = None
    if (development["status"] == "published").any():
        dev_png, dev_svg = figures.save(
            figures.development_figure(published, ind.id, development), out / FIGURES, stem)
    bar.update(1)
    return IndicatorPart(ind.id, parts, development, dev_png, dev_svg, f"{stem}.csv",
                         development_alt(published, ind.id, development))


def write_report(
    published: PublishedBuild,
    out: Path,
    *,
    themes: Sequence[str] | None = None,
    year: Any = None,
    levels: Sequence[str] | None = None,
    pdf: bool = False,
    progress: bool = True,
) -> Path:
    """Write the report folder ``out`` (``index.html``, ``figures/``, ``tables/``, optional
    ``bericht.pdf``); the folder appears whole or not at all.

    ``year`` defaults to each indicator's latest year, ``themes`` and ``levels`` to all.

    Raises:
        ParameterError: unknown theme. NotFoundError: unknown level or year.
        BuildError: ``out`` exists and is not a Quartier report.
    """
    if year is not None:
        published.check_year(year)
    chosen, level_ids = _selection(published, themes, levels)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / INDEX).exists():
        raise BuildError(f"{out} exists and is not a Quartier report; refusing to replace it")
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / FIGURES).mkdir(parents=True)
    (tmp / TABLES).mkdir()
    total = sum(len(inds) for _, inds in chosen) * (len(level_ids) + 1) + (1 if pdf else 0)
    content = ReportContent()
    try:
        with tqdm(total=total, desc="Bericht", unit="Schritt", disable=not progress) as bar:
            for theme, inds in chosen:
                content.themes.append((theme, [
                    _indicator(published, ind, level_ids, year, tmp, bar) for ind in inds]))
            (tmp / INDEX).write_text(report_page(published, content), encoding="utf-8")
            if pdf:
                from geo.render.report.pdf import report_pdf

                bar.set_postfix_str("PDF")
                (tmp / PDF_FILE).write_bytes(report_pdf(published, content, tmp))
                bar.update(1)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.rename(out, old)
    os.rename(tmp, out)
    shutil.rmtree(old, ignore_errors=True)
    return out

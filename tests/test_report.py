"""The monitoring report: a folder that opens from disk, with nothing withheld anywhere in it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import bundled_build
from leakcheck import HOSTILE_NAME, build_distinctive, forbidden_strings, leaks
from PIL import Image

from geo import cli
from geo.errors import BuildError
from geo.release import read_build
from geo.render.report.write import write_report

INDICATORS = ("auslaenderanteil", "sgb2_quote")
LEVELS = ("stadtbezirk", "quartier")


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_distinctive(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report(build_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``quartier report BUILD --out DIR --pdf`` on the distinctive build."""
    out = tmp_path_factory.mktemp("out") / "bericht"
    assert cli.main(["report", str(build_dir), "--out", str(out), "--pdf"]) == 0
    return out


def _svg_texts(path: Path) -> str:
    """The text elements of an SVG (its numbers are coordinates, not values)."""
    return " ".join(re.findall(r"<text[^>]*>(.*?)</text>", path.read_text(encoding="utf-8"),
                               flags=re.S))


def test_folder_has_index_figures_and_tables(report: Path) -> None:
    """index.html, a 300 dpi PNG and an SVG per indicator and level and development, CSVs."""
    assert (report / "index.html").exists() and (report / "bericht.pdf").exists()
    for ind in INDICATORS:
        for level in LEVELS:
            stem = f"{ind}-{level}-2023"
            assert (report / "figures" / f"{stem}.svg").exists()
            assert (report / "tables" / f"{stem}.csv").exists()
            with Image.open(report / "figures" / f"{stem}.png") as image:
                assert round(image.info["dpi"][0]) == 300
        assert (report / "figures" / f"{ind}-entwicklung.png").exists()
        assert (report / "tables" / f"{ind}-entwicklung.csv").exists()


def test_tables_are_csv_de_ranked_like_values_csv(report: Path, build_dir: Path) -> None:
    """Semicolons, decimal commas, BOM; ranks from the published rates; withheld rows empty."""
    raw = (report / "tables" / "auslaenderanteil-quartier-2023.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    table = pd.read_csv(report / "tables" / "auslaenderanteil-quartier-2023.csv", sep=";",
                        decimal=",", dtype={"area_id": str}, encoding="utf-8-sig")
    values = pd.read_csv(build_dir / "values.csv", dtype={"area_id": str})
    rows = values[(values["level"] == "quartier") & (values["indicator"] == "auslaenderanteil")
                  & (values["year"] == 2023)].set_index("area_id")
    shown = rows[rows["status"] == "published"]["rate"]
    expected = shown.rank(method="min", ascending=False)
    assert list(table["area_id"][: len(shown)]) == list(expected.sort_values().index)
    for row in table.itertuples():
        assert row.status == rows.loc[row.area_id, "status"]
        if row.status == "published":
            assert row.rank == expected[row.area_id] and row.rate == pytest.approx(
                rows.loc[row.area_id, "rate"])
        else:
            assert all(pd.isna(getattr(row, c)) for c in ("rank", "rate", "ci_low", "ci_high",
                                                          "numerator", "denominator"))


def test_no_withheld_value_in_any_file(report: Path, build_dir: Path) -> None:
    """index.html, every CSV, the text of every SVG and the PDF: no withheld count or rate."""
    forbidden = forbidden_strings(build_dir)
    assert {"17.231", "81,8"} <= forbidden
    found = {"index.html": leaks((report / "index.html").read_text(encoding="utf-8"), forbidden)}
    for csv in (report / "tables").glob("*.csv"):
        found[csv.name] = leaks(csv.read_text(encoding="utf-8-sig"), forbidden)
    for svg in (report / "figures").glob("*.svg"):
        found[svg.name] = leaks(_svg_texts(svg), forbidden)
    executable = shutil.which("pdftotext")
    assert executable, "pdftotext is missing: `make browser-deps` installs poppler-utils"
    pdf_text = subprocess.run([executable, str(report / "bericht.pdf"), "-"], check=True,
                              capture_output=True, text=True).stdout
    found["bericht.pdf"] = leaks(pdf_text, forbidden)
    assert not any(found.values()), found
    assert "gesperrt (Geheimhaltung)" in pdf_text and "Anteil Ausländer:innen" in pdf_text


def test_index_introduction_method_and_escaping(report: Path, build_dir: Path) -> None:
    """Release id, date, notices, method; hostile names escaped; no script, no remote URL."""
    page = (report / "index.html").read_text(encoding="utf-8")
    published = read_build(build_dir)
    assert published.release_id in page and published.created in page
    assert "gesperrt (Geheimhaltung)" in page and "Methode" in page and 'lang="de"' in page
    assert HOSTILE_NAME not in page and "&lt;script&gt;" in page and "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "Bundesagentur für Arbeit" in page and "Stichtag 31.12." in page


def test_csv_cells_cannot_start_a_formula(tmp_path: Path, build_dir: Path) -> None:
    """A name like '=HYPERLINK(…)' is written as text ('=…), not as a formula."""
    from geo.render.csv import table_csv

    frame = pd.DataFrame({"name": ["=HYPERLINK(\"x\")", "+1", "Brill"], "rate": [1.5, 2.0, 3.0]})
    text = table_csv(frame).decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'+1" in text and ";1,5" in text


def test_options_select_themes_levels_and_year(build_dir: Path, tmp_path: Path) -> None:
    """--theme, --level and --year narrow the report; unknown ones are clear errors."""
    out = write_report(read_build(build_dir), tmp_path / "r", themes=["Soziale Sicherung"],
                       levels=["stadtbezirk"], year=2022, progress=False)
    names = sorted(p.name for p in (out / "figures").glob("*.png"))
    assert names == ["sgb2_quote-entwicklung.png", "sgb2_quote-stadtbezirk-2022.png"]
    assert cli.main(["report", str(build_dir), "--out", str(tmp_path / "x"),
                     "--theme", "Unbekannt"]) == cli.EXIT_BAD_INPUT


def test_refuses_to_replace_a_foreign_folder(build_dir: Path, tmp_path: Path) -> None:
    """A folder that is not a report is never overwritten."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.docx").write_text("x")
    with pytest.raises(BuildError, match="not a Quartier report"):
        write_report(read_build(build_dir), tmp_path / "docs", progress=False)
    assert (tmp_path / "docs" / "thesis.docx").exists()


def test_progress_bar_on_stderr(build_dir: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    """A tqdm bar counts the steps on stderr."""
    write_report(read_build(build_dir), tmp_path / "r", levels=["stadtbezirk"],
                 themes=["Soziale Sicherung"])
    assert "Bericht" in capsys.readouterr().err


# --- the bundled builds in Chromium ---------------------------------------------------------


A11Y = """(() => {
  const heads = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => +h.tagName[1]);
  const skips = heads.filter((h, i) => i > 0 && h > heads[i - 1] + 1).length;
  const imgs = [...document.querySelectorAll('img')];
  const svgs = [...document.querySelectorAll('svg')];
  const tables = [...document.querySelectorAll('table')];
  return {
    lang: document.documentElement.lang, h1: heads.filter(h => h === 1).length,
    firstHeading: heads[0], skips,
    imgsWithoutAlt: imgs.filter(i => !(i.getAttribute('alt') || '').trim()).length,
    brokenImgs: imgs.filter(i => !i.complete || i.naturalWidth === 0).length,
    svgsWithoutName: svgs.filter(s => s.getAttribute('role') !== 'img' ||
        !(s.querySelector('title') || s.getAttribute('aria-label'))).length,
    tablesWithoutCaption: tables.filter(t => !t.querySelector('caption')).length,
    tablesWithoutScope: tables.filter(t => !t.querySelector('th[scope]')).length,
  };
})()"""


def check_accessibility(page: object) -> dict[str, object]:
    """The basics: lang, one h1 first, no skipped heading level, alt/role/title, captions."""
    found = page.evaluate(A11Y)  # type: ignore[attr-defined]
    assert found["lang"] == "de" and found["h1"] == 1 and found["firstHeading"] == 1, found
    assert found["skips"] == 0, found
    assert found["imgsWithoutAlt"] == 0 and found["svgsWithoutName"] == 0, found
    assert found["tablesWithoutCaption"] == 0 and found["tablesWithoutScope"] == 0, found
    return found  # type: ignore[no-any-return]


@pytest.mark.browser
@pytest.mark.parametrize(("gid", "levels"), [("berlin-lor-2021", []),
                                             ("nrw-demo", ["--level", "kreis"])])
def test_report_opens_from_disk_without_requests(
        gid: str, levels: list[str], browser: object, tmp_path: Path,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Chromium opens file://…/index.html: every indicator has its figure and table, every
    image loads, the basics of accessibility hold, and no request leaves the machine."""
    build = bundled_build(tmp_path_factory, gid)
    out = tmp_path / "bericht"
    assert cli.main(["report", str(build), "--out", str(out), *levels]) == 0
    page = browser.new_page()  # type: ignore[attr-defined]
    outside: list[str] = []

    def guard(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith("file://"):
            route.continue_()  # type: ignore[attr-defined]
        else:
            outside.append(url)
            route.abort()  # type: ignore[attr-defined]

    page.route("**/*", guard)
    page.goto((out / "index.html").as_uri())
    page.wait_for_load_state("load")
    check_accessibility(page)
    catalogue = read_build(build).catalogue
    for ind in catalogue.indicators:
        article = page.locator(f"article#ind-{ind.id}")
        assert article.locator("h3").inner_text().startswith(ind.name)
        assert article.locator("figure img").count() >= 2, ind.id
        assert article.locator("table").count() >= 2, ind.id
    assert outside == []
    assert page.evaluate("document.querySelectorAll('img').length") >= 2 * len(
        catalogue.indicators)
    page.close()

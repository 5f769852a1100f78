"""Pooled periods: year keys, the [[periods]] table, pooled cells and rates, and disclosure
control over years and periods as one linked table (checked by an independent outsider LP)."""

from __future__ import annotations

from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import write_small_geography
from scipy.optimize import linprog

from geo import disclosure as dc
from geo.build import build
from geo.errors import CatalogueError, DisclosureError, NotFoundError, ParameterError
from geo.inputs.catalogue import Catalogue, SumRule, Variable, load_catalogue
from geo.inputs.periods import Period, parse_year_key, sorted_year_keys, year_sort_key
from geo.release import audit_build, indicator_rows, read_build, suppression_log_path
from geo.stats.rates import compute_values

YEARS = [2019, 2020, 2021, 2022, 2023]
PERIODS = [(2019, 2021), (2021, 2023)]  # overlapping: 2021 is in both


# ---------------------------------------------------------------------------------------------
# year keys and the catalogue
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "key"), [
    (2021, 2021), ("2021", 2021), (np.int64(2021), 2021), ("2010-2012", "2010-2012"),
    ("2010–2012", "2010-2012"), (" 2010 - 2012 ", "2010-2012"),
])
def test_year_keys_parse(text: object, key: object) -> None:
    """A year is an int, a period its label; an en dash and spaces are accepted."""
    assert parse_year_key(text) == key


@pytest.mark.parametrize("text", ["letztes", "2012-2010", "2021-2021", "21", "2021-22", True, 1.5])
def test_bad_year_keys_are_refused(text: object) -> None:
    """Anything but a year or a period (first < last) is a ParameterError naming the keys."""
    with pytest.raises(ParameterError, match="neither a year .* nor a period .*known: 2021"):
        parse_year_key(text, [2021])


def test_year_keys_sort_years_first_then_periods() -> None:
    """Single years ascending, then periods by (first, last)."""
    keys = sorted_year_keys(["2021-2023", 2022, "2019-2021", 2019, "2019-2020"])
    assert keys == (2019, 2022, "2019-2020", "2019-2021", "2021-2023")
    assert sorted(keys, key=year_sort_key) == list(keys)


PERIODS_TOML = """
[[variables]]
id = "einwohner"
name = "Einwohner:innen"

[[variables]]
id = "sgb2"
name = "SGB II"

[[periods]]
first = 2022
last = 2024

[[periods]]
first = 2020
last = 2022
variables = ["sgb2", "einwohner"]
"""


def test_catalogue_reads_periods(tmp_path: Path) -> None:
    """[[periods]] with first, last and optional variables; round trip through JSON form."""
    path = tmp_path / "indicators.toml"
    path.write_text(PERIODS_TOML, encoding="utf-8")
    cat = load_catalogue(path)
    assert cat.periods == (Period(2022, 2024), Period(2020, 2022, ("sgb2", "einwohner")))
    assert cat.periods[0].covers("sgb2") and cat.periods[0].label == "2022-2024"
    assert Catalogue.from_dict(cat.to_dict()).periods == cat.periods


@pytest.mark.parametrize(("block", "message"), [
    ("first = 2024\nlast = 2022", r"periods\[1\] '2024-2022': expected 1900 <= first < last"),
    ('first = 2022\nlast = "2024"', r"periods\[1\]: 'first' and 'last' must be years"),
    ('first = 2022\nlast = 2024\nvariables = ["sgb3"]', "variable 'sgb3' is not a declared"),
    ("first = 2022\nlast = 2024\nvariables = []", "'variables' must be a non-empty list"),
    ("first = 2022\nlast = 2024\nyears = 3", "unknown key 'years'"),
])
def test_catalogue_refuses_bad_periods(tmp_path: Path, block: str, message: str) -> None:
    """A bad period names its entry and what was expected."""
    path = tmp_path / "indicators.toml"
    path.write_text(PERIODS_TOML.split("[[periods]]")[0] + "[[periods]]\n" + block + "\n")
    with pytest.raises(CatalogueError, match=message):
        load_catalogue(path)


# ---------------------------------------------------------------------------------------------
# an independent outsider: exact LP over hierarchy, declared sums and period = sum of years
# ---------------------------------------------------------------------------------------------


def _areas(rng: np.random.Generator, fan: tuple[int, int] = (2, 4)) -> pd.DataFrame:
    rows = [("total", "T", "T", "")]
    for d in range(3):
        rows.append(("bezirk", f"{d}", f"{d}", "T"))
        for q in range(int(rng.integers(fan[0], fan[1] + 1))):
            rows.append(("quartier", f"{d}{q}", f"{d}{q}", f"{d}"))
    return pd.DataFrame(rows, columns=["level", "area_id", "name", "parent_id"])


def _cells(areas: pd.DataFrame, leaf: dict[str, np.ndarray], periods) -> pd.DataFrame:
    """Cells of every area, variable, year and period from leaf values [year, leaf]."""
    leaves = areas[areas["level"] == "quartier"]
    rows = []
    for var, values in leaf.items():
        for k, year in enumerate(YEARS):
            quart = dict(zip(leaves["area_id"], values[k].tolist(), strict=True))
            bez: dict[str, int] = {}
            for aid, pid in zip(leaves["area_id"], leaves["parent_id"], strict=True):
                bez[pid] = bez.get(pid, 0) + quart[aid]
            rows += [("quartier", a, var, year, v) for a, v in quart.items()]
            rows += [("bezirk", a, var, year, v) for a, v in bez.items()]
            rows.append(("total", "T", var, year, sum(bez.values())))
    cells = pd.DataFrame(rows, columns=["level", "area_id", "variable", "year", "value"])
    pooled = []
    for first, last in periods:
        span = cells[cells["year"].between(first, last)]
        sums = span.groupby(["level", "area_id", "variable"], sort=False)["value"].sum()
        pooled.append(sums.reset_index().assign(year=f"{first}-{last}"))
    cells = pd.concat([cells, *pooled], ignore_index=True)
    cells["year"] = cells["year"].astype(object)
    cells["value"] = cells["value"].astype("Int64")
    return cells


def _case(seed: int, share: float = 0.3) -> tuple[pd.DataFrame, pd.DataFrame, Catalogue]:
    """Five years, two overlapping periods, men + women = all."""
    rng = np.random.default_rng(seed)
    areas = _areas(rng)
    n = int((areas["level"] == "quartier").sum())
    parts = rng.integers(3, 25, size=(2, len(YEARS), n))
    small = rng.random(parts.shape) < share
    parts = np.where(small, rng.integers(0, 3, size=parts.shape), parts)
    cat = Catalogue(
        variables=(Variable("m", "m"), Variable("w", "w"), Variable("all", "all", sensitive=False)),
        indicators=(),
        sums=(SumRule("all", ("m", "w")),),
    )
    leaf = {"m": parts[0], "w": parts[1], "all": parts.sum(axis=0)}
    return areas, _cells(areas, leaf, PERIODS), cat


def _one_variable(seed: int, fan: tuple[int, int] = (2, 4)) -> tuple:
    """Five years and two overlapping periods of one sensitive variable (about 30 % small)."""
    rng = np.random.default_rng(seed)
    areas = _areas(rng, fan=fan)
    n = int((areas["level"] == "quartier").sum())
    x = np.where(rng.random((len(YEARS), n)) < 0.3, rng.integers(1, 3, (len(YEARS), n)),
                 rng.integers(3, 20, (len(YEARS), n)))
    return areas, _cells(areas, {"x": x}, PERIODS), Catalogue(variables=(Variable("x", "x"),),
                                                              indicators=())


def outsider_widths(cells: pd.DataFrame, areas: pd.DataFrame, status: pd.Series,
                    targets: pd.DataFrame) -> list[float]:
    """Feasible width of each target cell, from published values and every relation only."""
    key = list(zip(cells["level"], cells["area_id"], cells["variable"], cells["year"],
                   strict=True))
    withheld = (status != "published").to_numpy()
    col = {k: i for i, k in enumerate(k for k, w in zip(key, withheld, strict=True) if w)}
    known = {k: float(v) for k, v, w in zip(key, cells["value"], withheld, strict=True) if not w}
    relations: list[list[tuple[int, tuple]]] = []  # (sign, cell key)
    kids = areas[areas["level"] != "total"].groupby("parent_id")
    level_of = dict(zip(areas["area_id"], areas["level"], strict=True))
    variables, years = cells["variable"].unique(), cells["year"].unique()
    for var, year in product(variables, years):
        for parent, group in kids:
            relations.append([(1, (level_of[parent], parent, var, year))]
                             + [(-1, (lv, a, var, year)) for lv, a in
                                zip(group["level"], group["area_id"], strict=True)])
    for lv, aid in zip(areas["level"], areas["area_id"], strict=True):
        for year in years:
            relations.append([(1, (lv, aid, "all", year)), (-1, (lv, aid, "m", year)),
                              (-1, (lv, aid, "w", year))])
        for var, (first, last) in product(variables, PERIODS):
            relations.append([(1, (lv, aid, var, f"{first}-{last}"))]
                             + [(-1, (lv, aid, var, y)) for y in range(first, last + 1)])
    a_eq, b_eq = [], []
    for rel in relations:
        row = np.zeros(len(col))
        rhs = 0.0
        for sign, k in rel:
            if k in col:
                row[col[k]] += sign
            else:
                rhs -= sign * known[k]
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)
    widths = []
    for t in targets.itertuples():
        c = np.zeros(len(col))
        c[col[(t.level, t.area_id, t.variable, t.year)]] = 1.0
        lo = linprog(c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None), method="highs")
        hi = linprog(-c, A_eq=np.array(a_eq), b_eq=b_eq, bounds=(0, None), method="highs")
        assert lo.status == 0
        widths.append(np.inf if hi.status == 3 else -hi.fun - lo.fun)
    return widths


def _primary(prot: dc.Protection) -> pd.DataFrame:
    return prot.log[prot.log["reason"] == "primary"]


@pytest.mark.parametrize("seed", [1, 2])
def test_outsider_lp_cannot_narrow_any_primary_cell(seed: int) -> None:
    """Years, two overlapping periods and a sum protected together: every primary cell
    (pooled 1s and 2s included) keeps the protection width against an exact outsider LP."""
    areas, cells, cat = _case(seed)
    prot = dc.protect(cells, areas, cat)
    primary = _primary(prot)
    widths = outsider_widths(cells, areas, prot.status, primary)
    assert min(widths) >= dc.PROTECTION - 1e-6
    report = dc.audit(cells.assign(value=cells["value"].where(prot.status == "published"),
                                   status=prot.status), areas, cat.sums, primary)
    assert report.ok
    # the pooled cells stay useful: most are published
    pooled = cells["year"].map(lambda y: isinstance(y, str))
    assert (prot.status[pooled] == "published").mean() > 0.5


def test_naive_pooling_fails_the_same_check() -> None:
    """Protecting the periods as unrelated years (today's way) leaves primary cells narrower
    than the width, some exactly computable: the check above can fail."""
    areas, cells, cat = _case(1)
    fake = {f"{f}-{t}": 2090 + i for i, (f, t) in enumerate(PERIODS)}
    naive = dc.protect(cells.assign(year=cells["year"].map(lambda y: fake.get(y, y))), areas, cat)
    back = {v: k for k, v in fake.items()}
    primary = _primary(naive).assign(year=lambda f: f["year"].map(lambda y: back.get(y, y)))
    widths = np.array(outsider_widths(cells, areas, naive.status, primary))
    assert (widths < dc.PROTECTION - 1e-6).any()
    assert (widths < 1e-6).any()
    report = dc.audit(cells.assign(value=cells["value"].where(naive.status == "published"),
                                   status=naive.status), areas, cat.sums, primary)
    assert not report.ok


def test_heuristic_against_the_optimum_with_periods() -> None:
    """On a small multi-year case the optimum is never worse than the heuristic, and both
    pass the exact audit."""
    areas, cells, cat = _one_variable(4, fan=(1, 3))
    heur = dc.protect(cells, areas, cat)
    best = dc.protect_optimal(cells, areas, cat, time_limit=120)
    assert best is not None
    for prot in (heur, best):
        shown = cells.assign(value=cells["value"].where(prot.status == "published"),
                             status=prot.status)
        assert dc.audit(shown, areas, (), _primary(prot)).ok
    count = {k: int((p.log["reason"] == "secondary").sum()) for k, p in
             (("heur", heur), ("best", best))}
    assert count["best"] <= count["heur"]


def test_same_input_same_pattern_with_periods() -> None:
    """Deterministic: the same multi-year input gives a byte-identical log."""
    areas, cells, cat = _one_variable(5)
    first = dc.protect(cells, areas, cat).log.to_csv(index=False)
    assert dc.protect(cells.sample(frac=1, random_state=3), areas, cat).log.to_csv(
        index=False) == first


def test_pooled_cell_must_be_the_sum_of_its_years() -> None:
    """Inconsistent pooled cells and periods without their years are input errors."""
    areas, cells, cat = _case(2)
    bad = cells.copy()
    bad.loc[bad["year"] == "2019-2021", "value"] += 1
    with pytest.raises(DisclosureError, match="not the sum of its years"):
        dc.protect(bad, areas, cat)
    with pytest.raises(DisclosureError, match="period 2019-2021 pools 2020"):
        dc.protect(cells[cells["year"] != 2020], areas, cat)


def test_force_withheld_cells_stay_withheld() -> None:
    """Cells an earlier release withheld stay withheld, are never pruned and need no width."""
    areas, cells, cat = _one_variable(6)
    free = dc.protect(cells, areas, cat)
    published = cells.index[(free.status == "published").to_numpy()]
    forced = pd.Series(False, index=cells.index)
    forced[published[::7]] = True
    prot = dc.protect(cells, areas, cat, force_withheld=forced)
    assert (prot.status[forced] == "suppressed").all()
    report = dc.audit(cells.assign(value=cells["value"].where(prot.status == "published"),
                                   status=prot.status), areas, (), _primary(prot))
    assert report.ok
    small_areas = _areas(np.random.default_rng(0), fan=(1, 2))
    n = int((small_areas["level"] == "quartier").sum())
    small = _cells(small_areas, {"x": np.full((len(YEARS), n), 7)}, PERIODS[:1])
    small_cat = Catalogue(variables=(Variable("x", "x"),), indicators=())
    forced = pd.Series(False, index=small.index)
    forced[small.index[(small["level"] == "quartier") & (small["year"] == 2020)][:1]] = True
    best = dc.protect_optimal(small, small_areas, small_cat, force_withheld=forced)
    assert best is not None and (best.status[forced] == "suppressed").all()


# ---------------------------------------------------------------------------------------------
# aggregation, rates and the build
# ---------------------------------------------------------------------------------------------

COUNTS = {  # area: (einwohner, auslaender, sgb2) per year 2022, 2023, 2024
    "10": [(1200, 300, 90), (1210, 310, 95), (1190, 290, 88)],
    "11": [(800, 2, 40), (805, 3, 41), (790, 1, 39)],
    "12": [(950, 120, 1), (940, 118, 2), (960, 121, 0)],
    "20": [(400, 60, 25), (410, 61, 24), (405, 59, 26)],
    "21": [(2500, 410, 230), (2490, 405, 228), (2510, 415, 232)],
}


def _multi_year(folder: Path, periods: str = "[[periods]]\nfirst = 2022\nlast = 2024\n",
                years: tuple[int, ...] = (2022, 2023, 2024)) -> Path:
    write_small_geography(folder)
    rows = ["area_id,year,variable,value"]
    for area, per_year in COUNTS.items():
        for year, (ew, aus, sgb) in zip((2022, 2023, 2024), per_year, strict=True):
            if year in years:
                rows += [f"{area},{year},einwohner,{ew}", f"{area},{year},auslaender,{aus}",
                         f"{area},{year},sgb2,{sgb}"]
    (folder / "counts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    with (folder / "indicators.toml").open("a", encoding="utf-8") as fh:
        fh.write("\n" + periods)
    return folder


@pytest.fixture(scope="module")
def period_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small geography with three years and the period 2022-2024, built once."""
    tmp = tmp_path_factory.mktemp("periods")
    source = _multi_year(tmp / "src" / "mini")
    out = tmp / "data" / "mini"
    build(source, out=out, data_dir=tmp / "data", say=lambda _m: None)
    return out


def test_build_writes_period_rows(period_build: Path) -> None:
    """cells.csv and values.csv hold rows with year "2022-2024"; pooled = sum of years."""
    cells = pd.read_csv(period_build / "cells.csv", dtype=str, keep_default_na=False)
    values = pd.read_csv(period_build / "values.csv", dtype=str, keep_default_na=False)
    assert set(cells["year"]) == {"2022", "2023", "2024", "2022-2024"}
    assert set(values["year"]) == {"2022", "2023", "2024", "2022-2024"}
    ew = cells[(cells["variable"] == "einwohner") & (cells["area_id"] == "21")]
    by_year = dict(zip(ew["year"], ew["value"].astype(int), strict=True))
    assert by_year["2022-2024"] == by_year["2022"] + by_year["2023"] + by_year["2024"]
    row = values[(values["indicator"] == "auslaenderanteil") & (values["area_id"] == "21")
                 & (values["year"] == "2022-2024")].iloc[0]
    assert int(row["numerator"]) == 410 + 405 + 415
    assert int(row["denominator"]) == 2500 + 2490 + 2510
    assert float(row["rate"]) == pytest.approx(100 * 1230 / 7500, abs=1e-4)


def test_quartier_audit_agrees(period_build: Path) -> None:
    """The audit of the written build (years and periods linked) passes."""
    report = audit_build(period_build)
    assert report.ok, report.format()
    assert "BESTANDEN" in report.format()
    log = pd.read_csv(suppression_log_path(period_build), dtype=str)
    assert set(log["year"]) <= {"2022", "2023", "2024", "2022-2024"}


def test_read_build_years_and_latest(period_build: Path) -> None:
    """Year keys come back as ints and labels; the latest year is never a period."""
    published = read_build(period_build)
    assert published.years == (2022, 2023, 2024, "2022-2024")
    assert published.latest_year("auslaenderanteil") == 2024
    assert published.check_year("2022–2024") == "2022-2024"
    rows = indicator_rows(published, "auslaenderanteil", "quartier", "2022-2024")
    assert set(rows["year"]) == {"2022-2024"}
    with pytest.raises(NotFoundError, match=r"period 2021-2023 is not in 'mini' \(known: 2022"):
        published.check_year("2021-2023")
    with pytest.raises(ParameterError, match="known: 2022, 2023, 2024, 2022-2024"):
        published.check_year("letztes")


def test_period_needs_its_years_in_the_counts(tmp_path: Path) -> None:
    """A period whose years are not in the counts names the period and the missing years."""
    folder = _multi_year(tmp_path / "mini", years=(2022, 2024))
    with pytest.raises(CatalogueError, match="period 2022-2024 .* no 2023"):
        build(folder, out=tmp_path / "out", data_dir=tmp_path, say=lambda _m: None)
    assert not (tmp_path / "out").exists()


def test_pooled_rate_uses_pooled_counts() -> None:
    """A pooled rate is pooled numerator over pooled denominator, missing if a year is."""
    cells = pd.DataFrame({
        "level": "total", "area_id": "T", "variable": ["a", "b"] * 3,
        "year": pd.Series([2022, 2022, 2023, 2023, "2022-2023", "2022-2023"], dtype=object),
        "value": pd.array([1, 10, 3, 30, 4, 40], dtype="Int64"), "status": "published",
    })
    from geo.inputs.catalogue import Indicator

    cat = Catalogue(variables=(Variable("a", "a"), Variable("b", "b")),
                    indicators=(Indicator("r", "r", "t", "a", "b"),))
    areas = pd.DataFrame({"level": ["total"], "area_id": ["T"], "name": ["T"], "parent_id": [""]})
    values = compute_values(cells, areas, cat)
    assert values.set_index("year")["rate"].to_dict() == {2022: 10.0, 2023: 10.0,
                                                           "2022-2023": 10.0}
    assert list(values["numerator"]) == [1, 3, 4]


# ---------------------------------------------------------------------------------------------
# the service: every year= parameter takes a year or a period
# ---------------------------------------------------------------------------------------------


def test_api_maps_and_styles_accept_a_period(period_build: Path) -> None:
    """Values, map, PNG and style of "2022-2024"; unknown period 404, bad text 422."""
    from conftest import router_app
    from fastapi.testclient import TestClient

    from service.routers import api, maps, tiles

    data = period_build.parent
    client = TestClient(router_app(api, data))
    url = "/api/geographies/mini/values?indicator=auslaenderanteil&level=quartier&year="
    rows = client.get(url + "2022-2024").json()["values"]
    assert {r["year"] for r in rows} == {"2022-2024"}
    assert client.get(url + "2022–2024").json()["values"] == rows
    assert {r["year"] for r in client.get(url + "2023").json()["values"]} == {2023}
    assert client.get("/api/geographies/mini").json()["years"] == [2022, 2023, 2024,
                                                                  "2022-2024"]
    missing = client.get(url + "2020-2022")
    assert missing.status_code == 404 and "known: 2022, 2023, 2024, 2022-2024" in missing.text
    bad = client.get(url + "2024-2022")
    assert bad.status_code == 422 and "2022-2024" in bad.json()["detail"]
    csv = client.get(url + "2022-2024&format=csv").text
    assert ",2022-2024," in csv
    saved_as = client.get(url + "2022–2024&format=csv").headers["content-disposition"]
    assert "-auslaenderanteil-quartier-2022-2024.csv" in saved_as  # the period's label
    maps_client = TestClient(router_app(maps, data))
    page = maps_client.get("/maps/mini/auslaenderanteil?year=2022-2024")
    assert page.status_code == 200 and "2022-2024" in page.text
    png = maps_client.get("/maps/mini/auslaenderanteil.png?year=2022-2024")
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    style = TestClient(router_app(tiles, data)).get(
        "/styles/mini/auslaenderanteil.json?year=2022-2024").json()
    assert style["metadata"]["quartier:year"] == "2022-2024"
    assert style["metadata"]["quartier:latest_year"] == 2024
    filters = [str(layer.get("filter")) for layer in style["layers"]]
    assert any("area_id" in f for f in filters)

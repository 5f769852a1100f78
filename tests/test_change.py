"""Change between two years: Newcombe/MOVER intervals, directions, withheld sides, the API."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import bundled_build, router_app, write_small_geography
from fastapi.testclient import TestClient

from geo.build import build
from geo.errors import ParameterError
from geo.release import VALUES_FILE, read_build
from geo.render.change import change_document
from geo.stats.change import (
    CHANGE_FIELDS,
    change_direction,
    change_table,
    comparable_years,
    measure_change,
    proportion_difference,
    rate_difference,
)
from geo.stats.rates import poisson_interval
from service.routers import api

# Newcombe RG (1998), Interval estimation for the difference between independent proportions:
# comparison of eleven methods. Statistics in Medicine 17:873-890, Table II, method 10 (score
# interval, no continuity correction): k1/n1 - k2/n2 -> (difference, lower, upper), as the
# table is reproduced in public test suites of other implementations (the paper itself was not
# at hand); (a), (b) and (g) are also listed for "Newcombe score" in Garner (2016),
# Constructing confidence intervals for the differences of binomial proportions in SAS,
# WUSS 2016 paper 127, p. 9.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.2000, 0.0524, 0.3339)),  # (a)
    ((9, 10, 3, 10), (0.6000, 0.1705, 0.8090)),  # (b)
    ((6, 7, 2, 7), (0.5714, 0.0582, 0.8062)),  # (c)
    ((5, 56, 0, 29), (0.0893, -0.0381, 0.1926)),  # (d)
    ((0, 10, 0, 20), (0.0000, -0.1611, 0.2775)),  # (e)
    ((0, 10, 0, 10), (0.0000, -0.2775, 0.2775)),  # (f)
    ((10, 10, 0, 20), (1.0000, 0.6791, 1.0000)),  # (g)
    ((10, 10, 0, 10), (1.0000, 0.6075, 1.0000)),  # (h)
]


# --- the library -------------------------------------------------------------------------------

@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE_TABLE_II)
def test_newcombe_method_10_matches_table_ii(
    counts: tuple[int, int, int, int], expected: tuple[float, float, float]
) -> None:
    """The proportion difference and its interval equal Newcombe's Table II to 4 decimals."""
    got = proportion_difference(*(np.array([c]) for c in counts))
    assert [round(float(v[0]), 4) for v in got] == list(expected)


def test_newcombe_in_percentage_points_vectorised() -> None:
    """change_table scales by per (percentage points for %) and works on many areas at once."""
    k, n, k0, n0 = (np.array(c) for c in zip(*(c for c, _ in NEWCOMBE_TABLE_II), strict=True))
    table = change_table(k, n, k0, n0, kind="proportion", per=100)
    expected = np.array([e for _, e in NEWCOMBE_TABLE_II]) * 100
    assert table[["change", "change_ci_low", "change_ci_high"]].to_numpy() == pytest.approx(
        expected, abs=0.01)
    assert list(table.columns) == CHANGE_FIELDS


def test_rate_difference_of_equal_counts_is_symmetric_around_zero() -> None:
    """Equal counts over equal populations: change 0, interval symmetric (exact and Byar)."""
    for k in (0, 3, 9, 10, 250):
        d, lo, hi = rate_difference(np.array([k]), np.array([5000]), np.array([k]),
                                    np.array([5000]))
        assert d[0] == 0 and lo[0] == pytest.approx(-hi[0]) and hi[0] > 0


def test_rate_difference_with_zero_counts_uses_the_exact_poisson_limit() -> None:
    """0 events in both years: the bounds are the exact upper Poisson limit 3.6889 / n."""
    table = change_table([0], [1000], [0], [2000], kind="rate", per=1000)
    upper0 = float(poisson_interval(np.array([0.0]))[1][0])
    assert upper0 == pytest.approx(3.6889, abs=1e-4)
    assert table["change"][0] == 0
    assert table["change_ci_low"][0] == pytest.approx(-upper0 / 2, abs=1e-4)
    assert table["change_ci_high"][0] == pytest.approx(upper0, abs=1e-4)
    assert table["change_direction"][0] == "similar"


def test_rate_difference_swaps_sign_with_the_years() -> None:
    """Swapping the two years mirrors the change and its interval."""
    args = (np.array([7, 40, 300]), np.array([900, 5000, 12000]),
            np.array([15, 22, 380]), np.array([1000, 4800, 12500]))
    d, lo, hi = rate_difference(*args)
    d2, lo2, hi2 = rate_difference(args[2], args[3], args[0], args[1])
    assert d == pytest.approx(-d2) and lo == pytest.approx(-hi2) and hi == pytest.approx(-lo2)


def test_rate_difference_against_a_precise_year_is_that_years_own_interval() -> None:
    """Against a year known almost exactly, the interval is the rate's own (shifted) one."""
    k, n = np.array([12.0]), np.array([4000.0])
    d, lo, hi = rate_difference(k, n, np.array([1e9]), np.array([1e12]))
    own_lo, own_hi = poisson_interval(k)
    assert lo[0] == pytest.approx(own_lo[0] / n[0] - 1e-3, abs=1e-6)
    assert hi[0] == pytest.approx(own_hi[0] / n[0] - 1e-3, abs=1e-6)


def test_rate_difference_of_large_counts_is_close_to_wald() -> None:
    """With many events the MOVER interval is close to d ± 1.96 · SE."""
    k, n, k0, n0 = 4000.0, 1e6, 3600.0, 1e6
    d, lo, hi = rate_difference(*(np.array([v]) for v in (k, n, k0, n0)))
    se = np.sqrt(k / n**2 + k0 / n0**2)
    assert lo[0] == pytest.approx(d[0] - 1.96 * se, rel=0.01)
    assert hi[0] == pytest.approx(d[0] + 1.96 * se, rel=0.01)


def test_change_is_the_difference_of_the_published_rates_and_inside_its_interval() -> None:
    """change = round(rate(Y)) − round(rate(Y0)) exactly, and low <= change <= high."""
    rng = np.random.default_rng(7)
    n = rng.integers(1, 3000, 5000)
    n0 = rng.integers(1, 3000, 5000)
    k, k0 = rng.integers(0, n + 1), rng.integers(0, n0 + 1)
    for kind, per in (("proportion", 100), ("rate", 1000), ("proportion", 1)):
        table = change_table(k, n, k0, n0, kind=kind, per=per)
        published = np.round(k / n * per, 4) - np.round(k0 / n0 * per, 4)
        assert (table["change"].to_numpy() == np.round(published, 4)).all()
        assert (table["change_ci_low"] <= table["change"]).all()
        assert (table["change"] <= table["change_ci_high"]).all()


def test_directions_read_the_interval() -> None:
    """increase if the lower bound is above 0, decrease if the upper is below 0, else similar."""
    low = np.array([0.1, -2.0, -1.0, 0.0, np.nan])
    high = np.array([3.0, -0.5, 1.0, 2.0, np.nan])
    assert list(change_direction(low, high)) == [
        "increase", "decrease", "similar", "similar", None]


def test_withheld_or_missing_side_leaves_all_four_fields_empty() -> None:
    """A NaN count (withheld, missing) or a zero denominator on either side: nothing."""
    table = change_table([np.nan, 30, 30, 30, 30], [1000, 1000, 0, 1000, 1000],
                         [20, 20, 20, np.nan, 20], [1000, 1000, 1000, 1000, np.nan],
                         kind="proportion", per=100)
    assert table.loc[1, "change"] == 1.0
    empty = table.drop(index=1)
    assert empty[CHANGE_FIELDS[:3]].isna().all().all()
    assert empty["change_direction"].isna().all()


def test_measure_change_is_the_difference_only() -> None:
    """Measures have no interval: the difference of the values, nothing else."""
    table = measure_change([55.25, np.nan, 40.0], [50.0, 50.0, 40.0])
    assert table["change"].iloc[0] == 5.25 and np.isnan(table["change"].iloc[1])
    assert table["change"].iloc[2] == 0
    assert table[["change_ci_low", "change_ci_high"]].isna().all().all()
    assert table["change_direction"].isna().all()


@pytest.mark.parametrize(("year", "compare", "keys"), [
    (2023, "2021", (2023, 2021)),
    ("2021", 2023, (2021, 2023)),
    ("2019-2021", "2016–2018", ("2019-2021", "2016-2018")),
])
def test_like_with_like_is_accepted(year: object, compare: object, keys: tuple) -> None:
    """A year with a year, a period with a period of the same length."""
    assert comparable_years(year, compare) == keys


@pytest.mark.parametrize(("year", "compare", "message"), [
    (2023, 2023, "the same as year=2023"),
    (2023, "2019-2021", r"year=2023 \(a single year\) cannot be compared with compare=2019-2021"),
    ("2019-2021", "2016-2017", r"\(a period of 3 years\) .* \(a period of 2 years\)"),
    ("2019-2021", "2019-2021", "the same as year=2019-2021"),
    (2023, "letztes", "compare 'letztes' is neither a year"),
    ("2021-2019", 2020, "year '2021-2019' is neither a year"),
])
def test_anything_else_is_a_parameter_error(year: object, compare: object, message: str) -> None:
    """Year against period, periods of different lengths, the same key twice, bad text."""
    with pytest.raises(ParameterError, match=message):
        comparable_years(year, compare)


# --- the data API on a small build with two years ----------------------------------------------

# area: (einwohner, auslaender, sgb2) for 2021: Dönberg's and Eckbusch's shares of foreigners
# are withheld in 2021, Brill's and Clausen's in 2023 (conftest's counts).
COUNTS_2021 = {"10": (1150, 250, 120), "11": (820, 40, 35), "12": (930, 110, 30),
               "20": (410, 2, 20), "21": (2450, 300, 260)}


NOISE = """
[[variables]]
id = "laerm"
name = "Lärm (dB, Mittel)"
type = "measure"
aggregate = "mean"

[[indicators]]
id = "laerm_mittel"
name = "Lärm"
theme = "Umwelt"
numerator = "laerm"
kind = "value"
unit = "dB"
per = 1
"""


def _two_years(folder: Path, *, sgb2_2023: bool = True, noise: bool = False) -> Path:
    source = write_small_geography(folder / "src" / "mini")
    lines = (source / "counts.csv").read_text(encoding="utf-8").splitlines()
    if not sgb2_2023:
        lines = [line for line in lines if ",sgb2," not in line]
    if noise:
        with (source / "indicators.toml").open("a", encoding="utf-8") as toml:
            toml.write(NOISE)
        lines += [f"{a},{y},laerm,{50 + i + (y - 2021) * 0.75}"
                  for i, a in enumerate(COUNTS_2021) for y in (2021, 2023)]
    for area, (ew, aus, sgb) in COUNTS_2021.items():
        lines += [f"{area},2021,einwohner,{ew}", f"{area},2021,auslaender,{aus}",
                  f"{area},2021,sgb2,{sgb}"]
    (source / "counts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    build(source, out=folder / "data" / "mini", data_dir=folder / "data", say=lambda _m: None)
    return folder / "data"


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small geography built with 2021 and 2023."""
    return _two_years(tmp_path_factory.mktemp("change"))


@pytest.fixture(scope="module")
def client(two_years: Path) -> TestClient:
    return TestClient(router_app(api, two_years))


def _published(data: Path, gid: str) -> pd.DataFrame:
    """values.csv of a build, indexed by level, area, indicator and year (as text)."""
    values = pd.read_csv(data / gid / VALUES_FILE, dtype={"area_id": str, "year": str})
    return values.set_index(["level", "area_id", "indicator", "year"])


def _check_rows(rows: list[dict], published: pd.DataFrame, compare: int) -> int:
    """Every row's change against values.csv: the difference of the published rates inside
    its interval, or four empty fields when a side is not published. Returns rows changed."""
    changed = 0
    for row in rows:
        now = published.loc[(row["level"], row["area_id"], row["indicator"], str(row["year"]))]
        key = (row["level"], row["area_id"], row["indicator"], str(compare))
        then = published.loc[key] if key in published.index else None
        if now["status"] != "published" or then is None or then["status"] != "published":
            assert all(row[f] is None for f in CHANGE_FIELDS), row
            continue
        changed += 1
        assert row["change"] == round(now["rate"] - then["rate"], 4), row
        assert row["change_ci_low"] <= row["change"] <= row["change_ci_high"], row
        assert row["change_direction"] in ("increase", "decrease", "similar")
    return changed


def test_json_change_is_the_difference_of_the_published_rates(
    client: TestClient, two_years: Path
) -> None:
    """Each row (the total too) carries rate(2023) − rate(2021) of values.csv, in its interval."""
    body = client.get("/api/geographies/mini/values?year=2023&compare=2021").json()
    assert (body["year"], body["compare"]) == (2023, 2021)
    rows = body["values"]
    assert _check_rows(rows, _published(two_years, "mini"), 2021) >= 6
    total = [r for r in rows if r["level"] == "total"]
    assert len(total) == 2 and all(r["change"] is not None for r in total)
    by_area = {(r["area_id"], r["indicator"]): r for r in rows}
    assert by_area[("mini", "sgb2_quote")]["change_direction"] == "decrease"
    assert by_area[("mini", "auslaenderanteil")]["change_direction"] == "increase"
    pinned = client.get("/api/geographies/mini/values?year=2023&compare=2021"
                        f"&release={body['release_id']}").json()
    assert pinned["values"] == rows


def test_a_withheld_side_leaves_the_change_empty(client: TestClient) -> None:
    """Withheld in 2021 (Dönberg) or in 2023 (Brill): no change, though 2023 is published."""
    rows = client.get("/api/geographies/mini/values?indicator=auslaenderanteil&compare=2021"
                      ).json()["values"]
    by_area = {r["area_id"]: r for r in rows}
    assert by_area["20"]["status"] == "published" and by_area["20"]["rate"] == 15.0
    assert by_area["11"]["status"] == "suppressed"
    for area in ("11", "20"):
        assert [by_area[area][f] for f in CHANGE_FIELDS] == [None] * 4
    assert by_area["10"]["change"] == 3.2609


def test_without_compare_the_response_is_unchanged(client: TestClient) -> None:
    """No compare: no change fields, no year/compare keys (cached apart from compare=)."""
    url = "/api/geographies/mini/values?indicator=auslaenderanteil"
    assert "change" in client.get(url + "&compare=2021").json()["values"][0]
    body = client.get(url).json()
    assert "compare" not in body and "year" not in body
    assert not any(f in body["values"][0] for f in CHANGE_FIELDS)
    assert "change" not in client.get(url + "&format=csv").text


def test_csv_has_the_four_columns(client: TestClient) -> None:
    """CSV: the four columns after the value columns, empty where a side is withheld."""
    text = client.get("/api/geographies/mini/values?indicator=sgb2_quote&level=stadtbezirk"
                      "&compare=2021&format=csv").text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0])[-4:] == CHANGE_FIELDS
    assert [r["area_id"] for r in rows] == ["1", "2", "mini"]
    nord = rows[0]
    assert float(nord["change"]) == pytest.approx(4.4407 - 6.3793, abs=1e-9)
    assert nord["change_direction"] == "decrease"


def test_csv_de_has_german_headers_and_words(client: TestClient) -> None:
    """csv-de: Veränderung …, Richtung with Zunahme/Abnahme/keine signifikante Veränderung."""
    response = client.get("/api/geographies/mini/values?indicator=sgb2_quote&compare=2021"
                          "&format=csv-de")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert list(rows[0])[-4:] == ["Veränderung", "Veränderung 95-%-Intervall unten",
                                  "Veränderung 95-%-Intervall oben", "Richtung"]
    by_area = {r["Gebiet-ID"]: r for r in rows}
    assert by_area["10"]["Veränderung"] == "-2,9348"
    assert by_area["10"]["Richtung"] == "Abnahme"
    assert by_area["20"]["Richtung"] == "keine signifikante Veränderung"
    assert by_area["11"]["Veränderung"] == "" and by_area["11"]["Richtung"] == ""
    up = client.get("/api/geographies/mini/values?indicator=sgb2_quote&year=2021&compare=2023"
                    "&level=total&format=csv-de").content.decode("utf-8-sig")
    assert "Zunahme" in up


def test_geojson_has_the_change_per_indicator(client: TestClient) -> None:
    """GeoJSON: <indicator>_change, _change_ci_low, _change_ci_high, _change_direction."""
    body = client.get("/api/geographies/mini/values?indicator=auslaenderanteil&compare=2021"
                      "&format=geojson").json()
    assert (body["year"], body["compare"]) == (2023, 2021)
    props = {f["id"]: f["properties"] for f in body["features"]}
    assert props["10"]["auslaenderanteil_change"] == 3.2609
    assert props["10"]["auslaenderanteil_change_direction"] == "similar"
    assert props["10"]["auslaenderanteil_change_ci_low"] < 3.2609
    for area in ("11", "20"):
        assert props[area]["auslaenderanteil_change"] is None
        assert props[area]["auslaenderanteil_change_direction"] is None
    plain = client.get("/api/geographies/mini/values?format=geojson").json()
    assert not any("change" in k for k in plain["features"][0]["properties"])


@pytest.mark.parametrize(("query", "status", "message"), [
    ("compare=2023", 422, "the same as year=2023"),
    ("year=2021&compare=2021", 422, "the same as year=2021"),
    ("compare=2019-2021", 422, "cannot be compared"),
    ("compare=vorjahr", 422, "neither a year"),
    ("compare=2019", 404, "compare=2019"),
    ("compare=" + "9" * 40, 422, "32"),
])
def test_invalid_comparisons(client: TestClient, query: str, status: int, message: str) -> None:
    """The same year twice, a year against a period, bad text: 422; an unknown year: 404."""
    for fmt in ("json", "csv", "csv-de", "geojson"):
        response = client.get(f"/api/geographies/mini/values?{query}&format={fmt}")
        assert response.status_code == status, (query, fmt)
        assert message in str(response.json()["detail"])


def test_compare_without_year_needs_a_common_latest_year(tmp_path: Path) -> None:
    """Without year= the latest year is shown; if the indicators' latest years differ: 422."""
    client = TestClient(router_app(api, _two_years(tmp_path, sgb2_2023=False)))
    response = client.get("/api/geographies/mini/values?compare=2021")
    assert response.status_code == 422
    assert "needs year=" in response.json()["detail"]
    assert "sgb2_quote 2021" in response.json()["detail"]
    one = client.get("/api/geographies/mini/values?indicator=auslaenderanteil&compare=2021")
    assert one.status_code == 200 and one.json()["year"] == 2023


def test_measures_get_the_difference_without_interval_or_direction(tmp_path: Path) -> None:
    """A value indicator (a mean noise level): change = difference, no interval, no words."""
    client = TestClient(router_app(api, _two_years(tmp_path, noise=True)))
    rows = client.get("/api/geographies/mini/values?indicator=laerm_mittel&compare=2021"
                      ).json()["values"]
    by_area = {r["area_id"]: r for r in rows}
    assert by_area["10"]["rate"] == 51.5 and by_area["10"]["change"] == 1.5
    assert by_area["mini"]["change"] == pytest.approx(1.5)
    assert all(r["change_ci_low"] is None and r["change_ci_high"] is None
               and r["change_direction"] is None for r in rows)


def test_bundled_rates_and_shares_match_values_csv(
    tmp_path_factory: pytest.TempPathFactory
) -> None:
    """nrw-demo (every level, event rates per 1,000 too): change = published difference."""
    folder = bundled_build(tmp_path_factory, "nrw-demo")
    release = read_build(folder)
    published = _published(folder.parent, "nrw-demo")
    changed = 0
    for level in ("gemeinde", "kreis"):
        for indicator in ("zuzugsrate_ausland", "auslaenderanteil"):
            rows = change_document(release, level, indicator, 2023, "2021")["values"]
            changed += _check_rows(rows, published, 2021)
    assert changed > 400

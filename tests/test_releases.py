"""Releases that stay: history, rollback, pinned routes, and releases that protect each other."""

from __future__ import annotations

import gzip
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from conftest import COUNTS, serving, write_small_geography
from fastapi.testclient import TestClient

from geo.build import build
from geo.disclosure import protect
from geo.errors import BuildError, DisclosureError, NotFoundError
from geo.inputs.catalogue import load_catalogue
from geo.inputs.counts import read_counts
from geo.inputs.geography import load_geography
from geo.release import VALUES_FILE, read_build, suppression_log_path
from geo.release.audit import audit_releases
from geo.release.history import releases, rollback, withdraw
from geo.release.layout import release_dir, releases_dir
from geo.release.union import read_pattern, same_counts, union_audit, union_groups
from geo.render.tiles import PMTilesArchive
from geo.stats.aggregate import aggregate
from service.cli import main
from service.main import create_app
from service.settings import Settings
from service.store import BuildStore

# 2021 and 2022: counts whose width-3 and width-4 patterns differ, so that two independent
# patterns combined let an outsider narrow cells down; 2023: conftest's counts
YEARS: dict[int, dict[str, tuple[int, int, int]]] = {
    2021: {"10": (1190, 2, 5), "11": (1745, 30, 3), "12": (2817, 4, 3), "20": (2666, 5, 1),
           "21": (2741, 6, 1)},
    2022: {"10": (1203, 100, 2), "11": (2445, 1, 4), "12": (2658, 7, 8), "20": (2884, 30, 1),
           "21": (1523, 4, 2)},
    2023: dict(COUNTS),
}
# the revision of release C: 2023 only; Quartier 20's sgb2 (published in A) becomes a 2
REVISED = {**YEARS, 2023: {**COUNTS, "20": (400, 60, 2)}}


def write_counts(folder: Path, years: dict[int, dict[str, tuple[int, int, int]]]) -> None:
    """Long counts for several years."""
    rows = ["area_id,year,variable,value"]
    for year, counts in years.items():
        for area, (ew, aus, sgb) in counts.items():
            rows += [f"{area},{year},einwohner,{ew}", f"{area},{year},auslaender,{aus}",
                     f"{area},{year},sgb2,{sgb}"]
    (folder / "counts.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


@dataclass(frozen=True)
class Scenario:
    """Release A (width 3), B (same counts, width 4) and C (2023 revised) of one geography."""

    source: Path
    data: Path
    a: str
    b: str
    c: str
    said: tuple[str, ...]

    @property
    def out(self) -> Path:
        """``data/mini``."""
        return self.data / "mini"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """Build A, rebuild the same counts with --protection 4 (B), rebuild revised counts (C)."""
    tmp = tmp_path_factory.mktemp("releases")
    source = write_small_geography(tmp / "src" / "mini")
    write_counts(source, YEARS)
    data = tmp / "data"
    said: list[str] = []
    a = build(source, out=data / "mini", data_dir=data, say=said.append).published.release_id
    b = build(source, out=data / "mini", data_dir=data, protection=4,
              say=said.append).published.release_id
    write_counts(source, REVISED)
    c = build(source, out=data / "mini", data_dir=data, say=said.append).published.release_id
    return Scenario(source, data, a, b, c, tuple(said))


@pytest.fixture
def own(scenario: Scenario, tmp_path: Path) -> Scenario:
    """A private copy of the scenario's data folder (links kept) for tests that change it."""
    data = tmp_path / "data"
    shutil.copytree(scenario.data, data, symlinks=True)
    source = tmp_path / "src" / "mini"
    shutil.copytree(scenario.source, source)
    return Scenario(source, data, scenario.a, scenario.b, scenario.c, scenario.said)


def _client(data: Path) -> TestClient:
    return TestClient(create_app(Settings(data=data, reload_check_seconds=0, cache_seconds=30)))


def test_releases_are_listed_and_the_latest_is_current(
    scenario: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    """`quartier releases` prints one line per release: id, created, years, current marker."""
    assert len({scenario.a, scenario.b, scenario.c}) == 3
    assert main(["releases", str(scenario.out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [scenario.a, scenario.b, scenario.c]
    assert all("2021,2022,2023" in line for line in lines)
    assert "aktuell" in lines[2] and not any("aktuell" in line for line in lines[:2])
    assert scenario.out.is_symlink() and (scenario.out / "cells.csv").exists()
    assert read_build(scenario.out).release_id == scenario.c
    log = suppression_log_path(scenario.out)
    assert log.resolve() == suppression_log_path(release_dir(scenario.out, scenario.c))


def test_the_releases_route_lists_releases(scenario: Scenario) -> None:
    """GET /api/geographies/{geo}/releases is a JSON list with exactly the contract's keys."""
    body = _client(scenario.data).get("/api/geographies/mini/releases").json()
    assert [r["release"] for r in body] == [scenario.a, scenario.b, scenario.c]
    assert all(set(r) == {"release", "created", "years", "current"} for r in body)
    assert [r["current"] for r in body] == [False, False, True]
    assert body[0]["years"] == [2021, 2022, 2023]


def test_a_pinned_release_answers_its_own_numbers(scenario: Scenario) -> None:
    """?release=A gives A's values.csv exactly, although C (revised 2023) is current."""
    client = _client(scenario.data)
    a_values = pd.read_csv(release_dir(scenario.out, scenario.a) / VALUES_FILE,
                           dtype={"area_id": str})
    query = "indicator=sgb2_quote&year=2023&level=quartier"
    pinned = client.get(f"/api/geographies/mini/values?{query}&release={scenario.a}")
    assert pinned.status_code == 200 and pinned.json()["release_id"] == scenario.a
    rows = pd.DataFrame(pinned.json()["values"])
    want = a_values[(a_values["indicator"] == "sgb2_quote") & (a_values["year"] == 2023)
                    & a_values["level"].isin(["quartier", "total"])]
    got = rows.set_index(["level", "area_id"])
    for row in want.itertuples():
        mine = got.loc[(row.level, row.area_id)]
        assert mine["status"] == row.status
        assert (pd.isna(mine["rate"]) and pd.isna(row.rate)) or mine["rate"] == row.rate
        assert (pd.isna(mine["numerator"]) and pd.isna(row.numerator)) or (
            mine["numerator"] == row.numerator)
    current = client.get(f"/api/geographies/mini/values?{query}").json()
    assert current["release_id"] == scenario.c
    assert current["values"] != pinned.json()["values"]  # the revision shows in C only
    download = client.get(f"/downloads/mini/values.csv?release={scenario.a}")
    assert download.content == (release_dir(scenario.out, scenario.a) / VALUES_FILE).read_bytes()


def test_the_rebuild_starts_from_the_published_pattern(scenario: Scenario) -> None:
    """B (width 4) keeps every cell A withheld; C keeps them in the unchanged years only."""
    cells = {r: pd.read_csv(release_dir(scenario.out, r) / "cells.csv", dtype={"area_id": str})
             for r in (scenario.a, scenario.b, scenario.c)}

    def withheld(r: str, years: list[int]) -> set[tuple[str, str, str, int]]:
        c = cells[r]
        c = c[(c["status"] == "suppressed") & c["year"].isin(years)]
        return set(c[["level", "area_id", "variable", "year"]].itertuples(index=False))

    every = [2021, 2022, 2023]
    assert withheld(scenario.a, every) < withheld(scenario.b, every)
    assert withheld(scenario.b, [2021, 2022]) <= withheld(scenario.c, [2021, 2022])
    shared_2023 = {c for c in withheld(scenario.b, [2023]) if c[2] != "sgb2"}
    assert shared_2023 <= withheld(scenario.c, [2023])
    assert any("stay withheld as in earlier releases" in line for line in scenario.said)


def test_the_union_of_online_releases_passes_and_a_naive_pattern_fails(own: Scenario) -> None:
    """Every online release of unchanged counts, combined, passes the outsider's audit; a
    width-4 pattern made without the earlier one (no force_withheld) fails it."""
    assert audit_releases(own.out).ok
    groups = {g.release_ids: g.years for g in union_groups(
        [read_pattern(r) for r in releases(own.out)])}
    # C revised Quartier 20's sgb2 in 2023 only: it shares every other count with A and B
    assert groups == {(own.a, own.b, own.c): (2021, 2022, 2023)}
    # the naive width-4 pattern: the same counts built beside it with the same key
    write_counts(own.source, YEARS)
    build(own.source, out=own.data / "naive", data_dir=own.data, protection=4,
          say=lambda _m: None)
    a = read_pattern(releases(own.out)[0])
    naive = read_pattern(releases(own.data / "naive")[0])
    assert all(same_counts(a.info, naive.info, y, v) for y in (2021, 2022, 2023)
               for v in ("einwohner", "auslaender", "sgb2"))
    assert a.cells["status"].tolist() != naive.cells["status"].tolist()
    report = union_audit([a, naive], [2021, 2022, 2023])
    assert not report.ok and len(report.under_protected) > 0
    # same counts and parameters as B, another pattern: another release id
    b = read_pattern(releases(own.out)[1])
    assert b.info.inputs["pattern_from"] == own.a and naive.release_id != own.b


def test_cli_audits_all_releases(scenario: Scenario, capsys: pytest.CaptureFixture[str]) -> None:
    """`quartier audit data/<geo> --all-releases` audits each release and every union."""
    assert main(["audit", str(scenario.out), "--all-releases", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("== Release ") == 3
    assert f"{scenario.a} + {scenario.b} + {scenario.c}; Jahre / years 2021, 2022, 2023" in out
    assert "Gesamtergebnis / overall result: BESTANDEN / PASSED" in out


def test_revised_counts_are_named_in_the_sign_off(scenario: Scenario) -> None:
    """A withheld revised cell whose old value A published is said in the output and log."""
    assert any("nur so sicher, wie die Revision unbekannt ist" in s for s in scenario.said)
    log = pd.read_csv(suppression_log_path(release_dir(scenario.out, scenario.c)),
                      dtype={"area_id": str})
    revised = log[log["reason"] == "revised"]
    assert ("quartier", "20", "sgb2", 2023) in set(
        revised[["level", "area_id", "variable", "year"]].itertuples(index=False))
    assert set(log.columns) == {"level", "area_id", "variable", "year", "reason"}
    # in the union, the revised sgb2 of 2023 is its own set of unknowns, named after C
    patterns = [read_pattern(r) for r in releases(scenario.out)]
    union = union_audit([patterns[0], patterns[2]], [2023])
    assert union.ok and f"sgb2@{scenario.c}" in set(union.intervals["variable"])


def test_identical_rebuild_adds_nothing(own: Scenario) -> None:
    """The same inputs and parameters are the same release: no copy, just current again."""
    before = sorted(p.name for p in releases_dir(own.out).iterdir())
    stamp = (release_dir(own.out, own.c) / "cells.csv").stat().st_mtime_ns
    again = build(own.source, out=own.out, data_dir=own.data, say=lambda _m: None)
    assert again.published.release_id == own.c
    assert sorted(p.name for p in releases_dir(own.out).iterdir()) == before
    assert (release_dir(own.out, own.c) / "cells.csv").stat().st_mtime_ns == stamp
    write_counts(own.source, YEARS)
    back = build(own.source, out=own.out, data_dir=own.data, say=lambda _m: None)
    assert back.published.release_id == own.a
    assert read_build(own.out).release_id == own.a
    assert sorted(p.name for p in releases_dir(own.out).iterdir()) == before


def test_a_rebuild_that_would_give_cells_away_is_refused(own: Scenario) -> None:
    """Other primary rules over published counts are refused with what to do; nothing lands."""
    before = sorted(p.name for p in releases_dir(own.out).iterdir())
    with pytest.raises(DisclosureError, match="nothing was published") as refused:
        build(own.source, out=own.out, data_dir=own.data, min_count=5, say=lambda _m: None)
    text = str(refused.value)
    assert "--min-count 3 --protection 3" in text and f"quartier withdraw {own.out}" in text
    assert "[" not in text  # names cells, never bounds
    assert sorted(p.name for p in releases_dir(own.out).iterdir()) == before
    assert read_build(own.out).release_id == own.c
    assert [p.name for p in own.data.iterdir() if p.name.startswith(".")] == [".quartier-key"]


def test_rollback_is_served_without_restart(own: Scenario) -> None:
    """A running server answers with A right after `quartier rollback`, then C again."""
    app = create_app(Settings(data=own.data, reload_check_seconds=0))
    with serving(app) as base:
        url = f"{base}/api/geographies/mini/values?indicator=sgb2_quote&year=2023"
        assert httpx.get(url).headers["x-release-id"] == own.c
        assert main(["rollback", str(own.out), own.a]) == 0
        assert httpx.get(url).headers["x-release-id"] == own.a
        listed = httpx.get(f"{base}/api/geographies/mini/releases").json()
        assert [r["current"] for r in listed] == [True, False, False]
        tilejson = httpx.get(f"{base}/tiles/mini.json").json()
        assert tilejson["quartier"]["release_id"] == own.a
        rollback(own.out, own.c)
        assert httpx.get(url).headers["x-release-id"] == own.c


def test_rollback_refuses_unknown_ids(
    own: Scenario, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown id changes nothing and the message lists the releases."""
    assert main(["rollback", str(own.out), "0000"]) == 2
    err = capsys.readouterr().err
    assert all(r in err for r in (own.a, own.b, own.c))
    assert read_build(own.out).release_id == own.c


PINNED_ROUTES = [
    "/api/geographies/mini/values?release={r}",
    "/maps/mini/sgb2_quote?release={r}",
    "/maps/mini/sgb2_quote.png?release={r}",
    "/styles/mini/sgb2_quote.json?release={r}",
    "/tiles/mini.json?release={r}",
    "/tiles/mini.pmtiles?release={r}",
    "/tiles/mini/11/0/0.mvt?release={r}",
    "/downloads/mini/values.csv?release={r}",
    "/downloads/mini.gpkg?release={r}",
    "/ogc/collections/mini.quartier/items?release={r}",
    "/ogc/collections/mini.quartier/items/11?release={r}",
    "/profiles/mini/quartier/11?release={r}",
    "/profiles/mini/quartier/11.pdf?release={r}",
    "/api/geographies/mini/areas/quartier/11?release={r}",
]


@pytest.mark.parametrize("route", PINNED_ROUTES)
def test_every_read_route_takes_a_release(scenario: Scenario, route: str) -> None:
    """Pinned: immutable; unpinned: never; an unknown release is a 404 listing the releases."""
    client = _client(scenario.data)
    pinned = client.get(route.format(r=scenario.a))
    assert pinned.status_code in (200, 204), pinned.text
    assert pinned.headers["cache-control"] == "public, max-age=31536000, immutable"
    plain = client.get(route.replace("release={r}", "").rstrip("?"))
    assert plain.status_code in (200, 204)
    assert "immutable" not in plain.headers.get("cache-control", "")
    unknown = client.get(route.format(r="nope"))
    assert unknown.status_code == 404
    assert all(r in unknown.text for r in (scenario.a, scenario.b, scenario.c))


def test_tiles_of_a_kept_release_come_from_its_own_archive(scenario: Scenario) -> None:
    """TileJSON with release= pins its tile URLs; the tiles are the kept archive's bytes."""
    client = _client(scenario.data)
    body = client.get(f"/tiles/mini.json?release={scenario.a}").json()
    assert body["tiles"][0].endswith(f".mvt?release={scenario.a}")
    assert body["quartier"]["release_id"] == scenario.a
    archive = release_dir(scenario.out, scenario.a) / "tiles.pmtiles"
    got = client.get(f"/tiles/mini.pmtiles?release={scenario.a}")
    assert got.content == archive.read_bytes()
    with PMTilesArchive(archive) as arc:
        z, x, y, stored = next(iter(arc.tiles()))
    tile = client.get(f"/tiles/mini/{z}/{x}/{y}.mvt?release={scenario.a}")
    assert tile.status_code == 200
    assert tile.content == (gzip.decompress(stored) if stored[:2] == b"\x1f\x8b" else stored)
    assert tile.headers["etag"] == f'"{scenario.a}-{z}-{x}-{y}"'
    style = client.get(f"/styles/mini/sgb2_quote.json?release={scenario.a}").json()
    urls = [u for src in style["sources"].values() for u in src.get("tiles", [])]
    assert urls and all(u.endswith(f".mvt?release={scenario.a}") for u in urls)


def test_map_permalink_names_the_release(scenario: Scenario) -> None:
    """The map page's canonical link and small print carry release=, so reports keep numbers."""
    client = _client(scenario.data)
    page = client.get("/maps/mini/sgb2_quote")
    assert f"release={scenario.c}" in page.headers["link"]
    assert f"release={scenario.c}" in page.text
    old = client.get(f"/maps/mini/sgb2_quote?release={scenario.a}")
    assert f"release={scenario.a}" in old.headers["link"]
    profile = client.get(f"/profiles/mini/quartier/11?release={scenario.a}").text
    assert f"/maps/mini/sgb2_quote?level=quartier&amp;year=2023&amp;release={scenario.a}" in profile


def test_ogc_items_of_a_release_keep_it_in_their_links(scenario: Scenario) -> None:
    """OGC items accept release= (declared, so not a 400) and page links keep it."""
    client = _client(scenario.data)
    page = client.get(f"/ogc/collections/mini.quartier/items?limit=2&release={scenario.a}")
    assert page.status_code == 200
    nxt = next(link for link in page.json()["links"] if link["rel"] == "next")
    assert f"release={scenario.a}" in nxt["href"]


def test_suppression_logs_are_never_served(scenario: Scenario) -> None:
    """No sign-off log of any release can be downloaded, pinned or not."""
    client = _client(scenario.data)
    for r in (scenario.a, scenario.b, scenario.c):
        for url in (
            f"/downloads/mini/{r}.suppression.csv?release={r}",
            f"/downloads/mini/..%2F{r}.suppression.csv?release={r}",
            f"/downloads/mini.releases/{r}.suppression.csv",
            f"/downloads/mini/mini.suppression.csv?release={r}",
            "/downloads/mini.suppression.csv",
        ):
            response = client.get(url)
            assert response.status_code == 404, url
            assert "primary" not in response.text


def test_kept_releases_are_bounded_in_memory(scenario: Scenario) -> None:
    """Kept releases load when asked for; at most ``kept_releases`` stay in memory."""
    store = BuildStore(scenario.data, check_seconds=0, kept_releases=1)
    assert store.get("mini").release_id == scenario.c
    assert store.get("mini", scenario.a).release_id == scenario.a
    assert store.get("mini", scenario.b).release_id == scenario.b
    assert len(store._kept) == 1
    assert store.get("mini", scenario.a).release_id == scenario.a
    with pytest.raises(NotFoundError, match=scenario.b):
        store.get("mini", "nope")


def test_withdraw_takes_a_release_offline(own: Scenario) -> None:
    """A withdrawn release is kept beside the data but no longer listed or served."""
    with pytest.raises(BuildError, match="current release"):
        withdraw(own.out, own.c)
    dest = withdraw(own.out, own.b)
    assert (dest / "manifest.json").exists() and suppression_log_path(dest).exists()
    assert [r.release_id for r in releases(own.out)] == [own.a, own.c]
    client = _client(own.data)
    assert client.get(f"/api/geographies/mini/values?release={own.b}").status_code == 404


def test_a_plain_folder_of_an_older_version_moves_into_the_releases(own: Scenario) -> None:
    """The first new build moves a plain data/<geo> (and its log) into data/<geo>.releases;
    without year digests, identical inputs count as the same counts."""
    legacy = own.data / "old"
    legacy_out = legacy / "mini"
    shutil.copytree(release_dir(own.out, own.a), legacy_out)
    shutil.copy(suppression_log_path(release_dir(own.out, own.a)), suppression_log_path(
        legacy_out))
    shutil.copy(own.data / ".quartier-key", legacy / ".quartier-key")
    manifest = json.loads((legacy_out / "manifest.json").read_text())
    del manifest["year_digests"]
    (legacy_out / "manifest.json").write_text(json.dumps(manifest))
    write_counts(own.source, YEARS)
    said: list[str] = []
    new = build(own.source, out=legacy_out, data_dir=legacy, protection=4, say=said.append)
    assert legacy_out.is_symlink() and suppression_log_path(legacy_out).is_symlink()
    assert (release_dir(legacy_out, own.a) / "manifest.json").exists()
    assert suppression_log_path(release_dir(legacy_out, own.a)).exists()
    assert [r.release_id for r in releases(legacy_out)] == [own.a, new.published.release_id]
    assert any("stay withheld as in earlier releases" in line for line in said)
    assert audit_releases(legacy_out).ok


def test_force_withheld_cells_stay_withheld(tmp_path: Path) -> None:
    """protect(force_withheld=...) keeps forced cells withheld (never pruned) and still
    protects every primary cell at the width."""
    folder = write_small_geography(tmp_path / "mini")
    geography = load_geography(folder)
    catalogue = load_catalogue(folder / "indicators.toml")
    finest = set(geography.areas.loc[geography.areas["level"] == geography.finest, "area_id"])
    counts = read_counts(folder / "counts.csv", area_ids=finest,
                         variables=[v.id for v in catalogue.variables], level_name="quartier")
    cells = aggregate(geography, counts, catalogue)
    forced = (cells["area_id"] == "21") & (cells["variable"] == "einwohner")
    plain = protect(cells, geography.areas, catalogue)
    kept = protect(cells, geography.areas, catalogue, force_withheld=forced)
    assert (plain.status[forced] == "published").all()
    assert (kept.status[forced] == "suppressed").all()
    assert (kept.status[plain.status == "suppressed"] == "suppressed").all()
    from geo.disclosure import audit

    report = audit(cells.assign(value=cells["value"].where(kept.status == "published"),
                                status=kept.status), geography.areas, catalogue.sums,
                   kept.log[kept.log["reason"] == "primary"])
    assert report.ok


def test_a_new_variable_keeps_the_shared_counts_protected(tmp_path: Path) -> None:
    """A catalogue that gains a variable changes no other count: the new build keeps what
    the earlier release withheld in the shared variables, and their union passes."""
    source = write_small_geography(tmp_path / "src" / "mini")
    write_counts(source, YEARS)
    data = tmp_path / "data"
    a = build(source, out=data / "mini", data_dir=data, say=lambda _m: None).published
    with (source / "indicators.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[[variables]]\nid = "unter18"\nname = "Unter 18"\nsensitive = true\n')
    with (source / "counts.csv").open("a", encoding="utf-8") as fh:
        for year in YEARS:
            fh.write("".join(f"{area},{year},unter18,{n}\n"
                             for area, n in zip(COUNTS, (1, 40, 2, 60, 90), strict=True)))
    said: list[str] = []
    c = build(source, out=data / "mini", data_dir=data, say=said.append).published
    old = a.cells[a.cells["status"] == "suppressed"]
    new = c.cells.set_index(["level", "area_id", "variable", "year"])["status"]
    assert (new.loc[list(old[["level", "area_id", "variable", "year"]].itertuples(
        index=False, name=None))] == "suppressed").all()
    assert any("stay withheld as in earlier releases" in line for line in said)
    groups = union_groups([read_pattern(r) for r in releases(data / "mini")])
    assert [(g.release_ids, g.years) for g in groups] == [
        ((a.release_id, c.release_id), (2021, 2022, 2023))]
    assert audit_releases(data / "mini").ok

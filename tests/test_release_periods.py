"""Releases and pooled periods together: a period is audited with its years across releases."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from conftest import write_small_geography
from test_releases import YEARS, write_counts

from geo.build import build
from geo.release.audit import audit_releases
from geo.release.history import releases
from geo.release.layout import release_dir
from geo.release.union import read_pattern, union_audit, union_groups

PERIOD = "\n[[periods]]\nfirst = 2021\nlast = 2023\n"


def _source(folder: Path) -> Path:
    write_small_geography(folder)
    write_counts(folder, YEARS)
    with (folder / "indicators.toml").open("a", encoding="utf-8") as fh:
        fh.write(PERIOD)
    return folder


def _withheld(out: Path, release: str) -> set[tuple[str, str, str, str]]:
    cells = pd.read_csv(release_dir(out, release) / "cells.csv", dtype=str,
                        keep_default_na=False)
    cells = cells[cells["status"] == "suppressed"]
    return set(cells[["level", "area_id", "variable", "year"]].itertuples(index=False))


def test_releases_with_periods_protect_each_other(tmp_path: Path) -> None:
    """A width-4 rebuild of counts with a pooled period keeps every cell (years and period)
    the width-3 release withheld; the union passes; a naive width-4 pattern beside it fails."""
    source = _source(tmp_path / "src" / "mini")
    data = tmp_path / "data"
    out = data / "mini"
    a = build(source, out=out, data_dir=data, say=lambda _m: None).published.release_id
    b = build(source, out=out, data_dir=data, protection=4,
              say=lambda _m: None).published.release_id
    assert a != b
    withheld_a, withheld_b = _withheld(out, a), _withheld(out, b)
    cells_a = pd.read_csv(release_dir(out, a) / "cells.csv", dtype=str)
    assert (cells_a["year"] == "2021-2023").sum() > 0
    assert withheld_a <= withheld_b
    patterns = [read_pattern(r) for r in releases(out)]
    groups = {g.release_ids: g.years for g in union_groups(patterns)}
    assert groups == {(a, b): (2021, 2022, 2023, "2021-2023")}
    report = audit_releases(out)
    assert report.ok, report.format()

    naive_out = data / "naive"
    build(source, out=naive_out, data_dir=data, protection=4, say=lambda _m: None)
    naive = read_pattern(releases(naive_out)[0])
    first = read_pattern(releases(out)[0])
    assert union_groups([first, naive])[0].years == (2021, 2022, 2023, "2021-2023")
    combined = union_audit([first, naive], [2021, 2022, 2023, "2021-2023"])
    assert not combined.ok and len(combined.under_protected) > 0

"""Several counts files read as one (``--counts a.csv --counts b.csv``).

A cell (area, year, variable) given in two files is refused, naming both files and lines: the
build never has to choose between two values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from geo.errors import CountsError
from geo.inputs.counts.problems import MAX_SHOWN
from geo.inputs.counts.read import COLUMNS, read_counts

_KEY = ["area_id", "year", "variable"]


def read_counts_files(paths: Sequence[Path], **options: Any) -> pd.DataFrame:
    """Read every file with ``read_counts(path, **options)`` and combine them.

    Raises:
        CountsError: a file's own problems, or cells given in more than one file.
    """
    paths = [Path(p) for p in paths]
    if len(paths) == 1:
        return read_counts(paths[0], **options)
    frames = []
    for path in paths:
        frame = read_counts(path, with_lines=True, **options)
        frames.append(frame.assign(file=path.name))
    combined = pd.concat(frames, ignore_index=True)
    twice = combined[combined.duplicated(_KEY, keep=False)]
    if len(twice):
        problems = []
        for _, group in twice.groupby(_KEY, sort=True):
            first = group.iloc[0]
            for row in group.iloc[1:].itertuples():
                problems.append(
                    f"{row.file} line {row.line}: area '{row.area_id}', year {row.year}, "
                    f"variable '{row.variable}' is also given in {first['file']} line "
                    f"{first['line']}"
                )
        shown = "\n  ".join(problems[:MAX_SHOWN])
        more = f"\n  … and {len(problems) - MAX_SHOWN} more" if len(problems) > MAX_SHOWN else ""
        raise CountsError(f"{len(problems)} cell(s) given in more than one counts file "
                          f"({', '.join(p.name for p in paths)})\n  {shown}{more}",
                          problems=problems)
    combined = combined.sort_values(["area_id", "variable", "year"], kind="stable")
    return combined[COLUMNS].reset_index(drop=True)

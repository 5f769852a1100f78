"""Findings and reports: what a geography check found, where, and how it is shown."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """One problem found in a geography: where it is and what is wrong.

    ``file`` is relative to the geography folder, ``feature`` the GDAL feature id (FID) in that
    file (None for a whole file or level), ``key`` the area id concerned.
    """

    severity: Severity
    file: str
    feature: int | None
    key: str | None
    message: str

    def format(self) -> str:
        """Return the finding as one line, e.g. ``error: a.geojson, feature 3, key '01': ...``."""
        where = [self.file]
        if self.feature is not None:
            where.append(f"feature {self.feature}")
        if self.key is not None:
            # keys come from the file: control characters are escaped, never sent to a terminal
            key = "".join(c if c.isprintable() else repr(c)[1:-1] for c in self.key)
            where.append(f"key '{key}'")
        return f"{self.severity}: {', '.join(where)}: {self.message}"

    def __str__(self) -> str:
        return self.format()


def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


@dataclass(frozen=True)
class Report:
    """Every finding of a geography check, errors first when formatted."""

    findings: tuple[Finding, ...] = ()
    source: str = ""

    @property
    def errors(self) -> list[Finding]:
        """Findings that stop a geography from loading."""
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        """Findings that a geography loads with but that deserve a look."""
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def infos(self) -> list[Finding]:
        """Findings for information only."""
        return [f for f in self.findings if f.severity == "info"]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    def lines(self) -> list[str]:
        """Return the findings as lines, errors first, then warnings, then infos."""
        order = {"error": 0, "warning": 1, "info": 2}
        ranked = sorted(self.findings, key=lambda f: order[f.severity])
        return [f.format() for f in ranked]

    def format(self) -> str:
        """Return a human-readable report: a summary line, then one line per finding."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        head = (f"{self.source}: " if self.source else "") + (
            f"{n_err} {_plural(n_err, 'error')}, {n_warn} {_plural(n_warn, 'warning')}")
        if not self.findings:
            return head + " - no problems found"
        return "\n".join([head, *self.lines()])


class _Findings:
    """Collects findings while a geography loads."""

    def __init__(self) -> None:
        self.items: list[Finding] = []

    def add(self, severity: Severity, file: str, message: str, *,
            feature: int | None = None, key: str | None = None) -> None:
        self.items.append(Finding(severity, file, feature, key, message))

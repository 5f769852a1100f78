"""The attacker audit of written releases: one release, or every online release combined."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from geo.disclosure import AuditReport, audit
from geo.errors import DisclosureError, NotFoundError
from geo.release.files import read_build
from geo.release.history import ReleaseInfo, releases
from geo.release.layout import suppression_log_path
from geo.release.union import UnionGroup, read_pattern, union_audit, union_groups


def audit_build(build_dir: Path, *, protection: int | None = None) -> AuditReport:
    """Audit a written build as an outsider would, with the primary cells from its log.

    The published cells come through ``read_build`` (the same reader the service uses); the
    protection width defaults to the one the release was built with. ``data/<geo>`` (a link
    to the current release) is audited with the current release's log.
    """
    build_dir = Path(build_dir).resolve()
    log_path = suppression_log_path(build_dir)
    if not log_path.exists():
        raise DisclosureError(f"{log_path}: suppression log not found (it lies beside the build)")
    published = read_build(build_dir)
    width = published.parameters.protection if protection is None else protection
    text = {"level": str, "area_id": str, "variable": str, "reason": str}
    log = pd.read_csv(log_path, dtype=text, keep_default_na=False)
    primary = log[log["reason"] == "primary"]
    return audit(published.cells, published.areas, published.catalogue.sums, primary,
                 protection=width)


@dataclass(frozen=True)
class ReleasesAudit:
    """Each online release audited alone, and every group sharing counts together."""

    alone: tuple[tuple[ReleaseInfo, AuditReport], ...]
    unions: tuple[tuple[UnionGroup, AuditReport], ...]

    @property
    def ok(self) -> bool:
        """Every release alone and every union passes."""
        return all(r.ok for _, r in self.alone) and all(r.ok for _, r in self.unions)

    def format(self, limit: int = 20) -> str:
        """The sign-off report of every release (German and English)."""
        lines = [f"Releases online: {len(self.alone)}"]
        for info, report in self.alone:
            mark = ", aktuell / current" if info.current else ""
            lines += ["", f"== Release {info.release_id} ({info.created}{mark}) ==",
                      report.format(limit=limit)]
        for group, report in self.unions:
            years = ", ".join(str(y) for y in group.years)
            lines += [
                "",
                f"== Zusammen / combined: {' + '.join(group.release_ids)}; Jahre / years "
                f"{years} (gemeinsame Zahlen / shared counts) ==",
                report.format(limit=limit),
            ]
        if not self.unions:
            lines += ["", "Keine Zahlen, die mehrere Releases gemeinsam haben / "
                          "no counts shared by several releases."]
        verdict = "BESTANDEN / PASSED" if self.ok else "NICHT BESTANDEN / FAILED"
        lines += ["", f"Gesamtergebnis / overall result: {verdict}"]
        return "\n".join(lines)


def audit_releases(out: Path) -> ReleasesAudit:
    """Audit every online release of ``out`` alone, then each group sharing counts united.

    A group's union (``geo.release.union``): shared counts published where any release
    published them and needing protection where any log says so, revised counts as separate
    unknowns, at the smallest protection width among the releases.
    """
    infos = releases(Path(out))
    if not infos:
        raise NotFoundError(f"{out}: no releases found (build one with quartier build)")
    alone = tuple((info, audit_build(info.path)) for info in infos)
    patterns = [read_pattern(info) for info in infos]
    unions = []
    for group in union_groups(patterns):
        members = [p for p in patterns if p.release_id in group.release_ids]
        unions.append((group, union_audit(members, group.years)))
    return ReleasesAudit(alone, tuple(unions))

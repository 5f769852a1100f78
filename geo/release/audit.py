"""The attacker audit of a written release: published files plus the sign-off log beside them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo.disclosure import AuditReport, audit
from geo.errors import DisclosureError
from geo.release.files import read_build
from geo.release.layout import suppression_log_path


def audit_build(build_dir: Path, *, protection: int | None = None) -> AuditReport:
    """Audit a written build as an outsider would, with the primary cells from its log.

    The published cells come through ``read_build`` (the same reader the service uses); the
    protection width defaults to the one the release was built with.
    """
    build_dir = Path(build_dir)
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

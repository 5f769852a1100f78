"""Provenance of an intake: the command, its inputs with hashes, parameters, CRS and drops.

Written beside the counts file as ``<out>.provenance.json``. ``quartier build`` copies it into
the release (``PROVENANCE.json``) and summarises it per variable in ``indicators.json``. It holds
no count that disclosure control could withhold: what was dropped and why, never how many were
counted (the counts file's digest is left out too: a plain hash would let anyone confirm a guess
of the withheld cells).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from geo import __version__
from geo.errors import CatalogueError, IntakeError
from geo.inputs.catalogue import Catalogue

SUFFIX = ".provenance.json"
"""A counts file ``x.csv`` has its provenance in ``x.csv.provenance.json``."""
MAX_LINES = 20
"""How many line numbers of dropped rows a provenance file and a message name."""
SHOWN_LINES = 3
"""How many line numbers a terminal message names before ``…``."""
_SINGULAR = {"Zeilen": "Zeile", "Features": "Feature", "Gebiete": "Gebiet", "Punkte": "Punkt",
             "Gitterzellen": "Gitterzelle", "Quellgebiete": "Quellgebiet"}


@dataclass(frozen=True)
class Drop:
    """Rows, features or cells left out for one reason, with the numbers of the first ones."""

    reason: str
    what: str
    count: int
    lines: tuple[int | str, ...] = ()
    unit: str = "Zeilen"

    def message(self) -> str:
        """``17 Punkte außerhalb der Geografie (Zeilen 4, 9, 12, …)``."""
        shown = ", ".join(str(n) for n in self.lines[:SHOWN_LINES])
        more = ", …" if self.count > SHOWN_LINES else ""
        unit = _SINGULAR.get(self.unit, self.unit) if self.count == 1 else self.unit
        where = f" ({unit} {shown}{more})" if shown else ""
        noun, _, rest = self.what.partition(" ")
        what = f"{_SINGULAR[noun]} {rest}" if self.count == 1 and noun in _SINGULAR else self.what
        return f"{self.count} {what}{where}"


def drop(reason: str, what: str, mask: np.ndarray, lines: np.ndarray,
         unit: str = "Zeilen") -> Drop | None:
    """A Drop for the rows where ``mask`` is true (None when there are none)."""
    count = int(np.count_nonzero(mask))
    if not count:
        return None
    first = tuple(int(n) for n in np.asarray(lines)[np.flatnonzero(mask)[:MAX_LINES]])
    return Drop(reason, what, count, first, unit)


def sha256(path: Path) -> str:
    """``sha256:<hex>`` of a file, read in chunks (rasters may be larger than memory)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


def file_input(role: str, path: Path) -> dict[str, Any]:
    """One input of an intake: its role, file name, size and digest."""
    path = Path(path)
    return {"role": role, "file": str(path), "bytes": path.stat().st_size, "sha256": sha256(path)}


@dataclass
class Provenance:
    """What an intake did: command, inputs, parameters, CRS, variables and what it dropped."""

    kind: str
    command: str
    inputs: list[dict[str, Any]]
    parameters: dict[str, Any]
    crs: dict[str, str]
    geography: dict[str, Any]
    variables: list[dict[str, Any]]
    drops: list[Drop] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    created: str = field(
        default_factory=lambda: datetime.now(UTC).replace(microsecond=0).isoformat())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form, as written to ``<out>.provenance.json``."""
        data = asdict(self)
        data["dropped"] = {d.reason: {"what": d.what, "count": d.count, "unit": d.unit,
                                      "first": list(d.lines)} for d in self.drops}
        del data["drops"]
        return {"quartier_version": __version__, **data}


def provenance_path(counts: Path) -> Path:
    """Where the provenance of a counts file lies: beside it, ``<name>.provenance.json``."""
    counts = Path(counts)
    return counts.with_name(counts.name + SUFFIX)


def write_provenance(counts: Path, provenance: Provenance) -> Path:
    """Write the provenance beside the counts file and return its path."""
    path = provenance_path(counts)
    path.write_text(json.dumps(provenance.to_dict(), ensure_ascii=False, indent=1) + "\n",
                    encoding="utf-8")
    return path


def read_provenance(counts: Path) -> dict[str, Any] | None:
    """The provenance beside a counts file, or None when there is none.

    Raises:
        IntakeError: the file exists but is not a provenance (JSON object with variables).
    """
    path = provenance_path(counts)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IntakeError(f"{path.name}: not a readable provenance file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("variables"), list):
        raise IntakeError(f"{path.name}: not a provenance file (expected a JSON object with "
                          "'command', 'inputs' and 'variables')")
    return data


def _names(value: Any) -> Any:
    """``value`` with every ``"file"`` entry reduced to its file name, at any depth."""
    if isinstance(value, dict):
        return {k: Path(v).name if k == "file" and isinstance(v, str) else _names(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_names(v) for v in value]
    return value


def _word(word: str) -> str:
    """A word of a command, a path (also in ``--option=path``) reduced to its file name."""
    option, eq, rest = word.partition("=")
    if word.startswith("--") and eq:
        return f"{option}={_word(rest)}"
    return Path(word).name if "/" in word and not word.startswith("-") else word


def public(data: dict[str, Any]) -> dict[str, Any]:
    """A provenance as a release publishes it: every input file and every path in the
    command reduced to its file name (where the office keeps its files is its own business)."""
    out: dict[str, Any] = _names(data)
    command = data.get("command")
    if isinstance(command, str):  # the paths replaced, every other character kept
        try:
            words = shlex.split(command)
        except ValueError:
            words = command.split()
        for word in sorted({w for w in words if _word(w) != w}, key=len, reverse=True):
            command = command.replace(word, _word(word))
        out["command"] = command
    return out


def summary(data: dict[str, Any], name: str) -> dict[str, Any]:
    """The short form shown per variable in ``indicators.json``."""
    return {
        "kind": data.get("kind"),
        "command": data.get("command"),
        "inputs": [{"file": Path(str(i.get("file", ""))).name, "sha256": i.get("sha256")}
                   for i in data.get("inputs", []) if isinstance(i, dict)],
        "created": data.get("created"),
        "file": name,
    }


def attach_provenance(
    catalogue: Catalogue, counts: Sequence[Path]
) -> tuple[Catalogue, dict[str, Any], list[str]]:
    """Read the provenance beside each counts file and check it against the catalogue.

    Returns the catalogue with each intake variable's ``provenance`` summary, the provenance
    files by counts file name (``PROVENANCE.json``) and warnings (an estimate the catalogue does
    not mark as one).

    Raises:
        CatalogueError: a variable's type differs from the one its intake wrote.
    """
    found: dict[str, Any] = {}
    summaries: dict[str, dict[str, Any]] = {}
    problems, warnings = [], []
    known = {v.id: v for v in catalogue.variables}
    for path in counts:
        data = read_provenance(path)
        if data is None:
            continue
        data = public(data)
        name = provenance_path(path).name
        found[Path(path).name] = data
        for var in data["variables"]:
            declared = known.get(str(var.get("id"))) if isinstance(var, dict) else None
            if declared is None:
                continue
            summaries[declared.id] = summary(data, name)
            wanted = var.get("type", "count")
            if declared.type != wanted:
                problems.append(f"variable '{declared.id}' is a {wanted} in {name} "
                                f"({data.get('kind')}): declare type = \"{wanted}\"")
            if var.get("estimate") and not declared.estimate:
                warnings.append(f"variable '{declared.id}' is an estimate ({name}): "
                                "declare estimate = true so that it shows as Schätzung")
    if problems:
        source = catalogue.path.name if catalogue.path else "indicators.toml"
        shown = "\n  ".join(f"{source}: {p}" for p in problems)
        raise CatalogueError(f"{source}: {len(problems)} variable(s) disagree with their "
                             f"intake\n  {shown}")
    variables = tuple(replace(v, provenance=summaries[v.id]) if v.id in summaries else v
                      for v in catalogue.variables)
    return replace(catalogue, variables=variables), found, warnings

"""The ``geography.toml`` manifest: identity, attribution and levels, checked as it is read."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.errors import ManifestError
from geo.inputs.ids import id_problem

MANIFEST = "geography.toml"
TOTAL = "total"
_TOP_KEYS = {"id", "name", "attribution", "total_id", "total_name", "notice", "description",
             "source", "levels"}
_LEVEL_KEYS = {"id", "name", "file", "key", "label", "parent", "parent_prefix", "crs", "layer",
               "where", "names"}
_FILE_ONLY_KEYS = ("key", "label", "parent", "crs", "layer", "where")


@dataclass(frozen=True)
class LevelSpec:
    """One level of a geography as the manifest describes it."""

    id: str
    name: str
    file: Path | None = None
    key: str | None = None
    label: str | None = None
    parent: str | None = None
    parent_prefix: int | None = None
    crs: str | None = None
    layer: str | None = None
    where: str | None = None
    names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def derived(self) -> bool:
        """True when the level has no file and is dissolved from the next finer level."""
        return self.file is None

    @property
    def parent_rule(self) -> Literal["field", "prefix", "overlap"]:
        """How the parent of each area is found: a field, a key prefix or the largest overlap."""
        if self.parent is not None:
            return "field"
        if self.parent_prefix is not None:
            return "prefix"
        return "overlap"


@dataclass(frozen=True)
class GeographySpec:
    """A parsed ``geography.toml``: identity, attribution and levels (coarsest first)."""

    id: str
    name: str
    attribution: str
    total_id: str
    total_name: str
    levels: tuple[LevelSpec, ...]
    folder: Path
    notice: str | None = None
    description: str = ""
    source: str = ""

    @property
    def manifest_path(self) -> Path:
        """Path of the ``geography.toml``."""
        return self.folder / MANIFEST

    @property
    def level_ids(self) -> tuple[str, ...]:
        """Level ids, coarsest first."""
        return tuple(level.id for level in self.levels)


def _optional(table: Mapping[str, Any], name: str, where: str) -> str | None:
    value = table.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{where}'{name}' must be a non-empty string, not {value!r}")
    return value.strip()


def _required(table: Mapping[str, Any], name: str, where: str) -> str:
    value = _optional(table, name, where)
    if value is None:
        raise ManifestError(f"{where}'{name}' is missing")
    return value


def _required_id(table: Mapping[str, Any], name: str, where: str) -> str:
    """A required id: plain, because it names URLs and files (``id = "../x"`` would escape)."""
    value = table.get(name)
    if value is None:
        raise ManifestError(f"{where}'{name}' is missing")
    value = value.strip() if isinstance(value, str) else value
    problem = id_problem(value)
    if problem:
        raise ManifestError(f"{where}'{name}' {problem}")
    return str(value)


def _unknown_keys(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise ManifestError(f"{where}unknown key '{unknown[0]}' "
                            f"(known: {', '.join(sorted(known))})")


def _absolute(path: Path) -> Path:
    """Absolute, normalised path; symlinks are kept (a link placed in the folder is allowed)."""
    return Path(os.path.normpath(path.absolute()))


def _relative_file(folder: Path, value: str, where: str) -> Path:
    path = _absolute(folder / value)
    if not path.is_relative_to(_absolute(folder)):
        raise ManifestError(f"{where}'file' {value!r} lies outside the geography folder {folder}")
    return path


def _parse_level(raw: Any, index: int, folder: Path) -> LevelSpec:
    where = f"{MANIFEST}: levels[{index}]: "
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}must be a table ([[levels]]), not {raw!r}")
    level_id = _required_id(raw, "id", where)
    where = f"{MANIFEST}: levels[{index}] '{level_id}': "
    _unknown_keys(raw, _LEVEL_KEYS, where)
    if level_id == TOTAL:
        raise ManifestError(f"{where}the level id '{TOTAL}' is reserved for the whole area")
    name = _required(raw, "name", where)
    written = _optional(raw, "file", where)
    file = _relative_file(folder, written, where) if written is not None else None
    if file is None:
        given = [k for k in _FILE_ONLY_KEYS if k in raw]
        if given:
            raise ManifestError(f"{where}'{given[0]}' needs a 'file' (a level without file is "
                                "derived from the next finer level)")
    key = _required(raw, "key", where) if file is not None else None
    parent = _optional(raw, "parent", where)
    prefix = raw.get("parent_prefix")
    if prefix is not None:
        if isinstance(prefix, bool) or not isinstance(prefix, int) or prefix < 1:
            raise ManifestError(f"{where}'parent_prefix' must be a positive integer, "
                                f"not {prefix!r}")
        if parent is not None:
            raise ManifestError(f"{where}give either 'parent' or 'parent_prefix', not both")
    crs = _optional(raw, "crs", where)
    if crs is not None:
        try:
            CRS.from_user_input(crs)
        except CRSError as exc:
            raise ManifestError(f"{where}'crs' {crs!r} is not a known CRS ({exc})") from None
    names = raw.get("names", {})
    if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
        raise ManifestError(f"{where}'names' must be a table of key = \"name\"")
    if names and file is not None:
        raise ManifestError(f"{where}'names' is only for derived levels (without 'file'); "
                            "use 'label' for a file")
    return LevelSpec(
        id=level_id, name=name, file=file, key=key,
        label=_optional(raw, "label", where), parent=parent, parent_prefix=prefix,
        crs=crs, layer=_optional(raw, "layer", where), where=_optional(raw, "where", where),
        names=MappingProxyType({str(k).strip(): v for k, v in names.items()}),
    )


def _check_levels(levels: list[LevelSpec]) -> None:
    seen: set[str] = set()
    for index, level in enumerate(levels):
        where = f"{MANIFEST}: levels[{index}] '{level.id}': "
        if level.id in seen:
            raise ManifestError(f"{where}the level id '{level.id}' is used twice")
        seen.add(level.id)
        if index == 0 and (level.parent is not None or level.parent_prefix is not None):
            raise ManifestError(f"{where}the coarsest level has no parent level; remove "
                                "'parent'/'parent_prefix'")
        if level.derived:
            if index == len(levels) - 1:
                raise ManifestError(f"{where}'file' is missing (only a level with a finer level "
                                    "below it can be derived)")
            finer = levels[index + 1]
            if finer.parent_rule == "overlap":
                raise ManifestError(
                    f"{MANIFEST}: levels[{index + 1}] '{finer.id}': 'parent' or 'parent_prefix' "
                    f"is missing (level '{level.id}' is derived from it)")
            if finer.derived and finer.parent_rule == "field":
                raise ManifestError(f"{MANIFEST}: levels[{index + 1}] '{finer.id}': a derived "
                                    "level needs 'parent_prefix', it has no field 'parent'")


def load_manifest(folder: Path) -> GeographySpec:
    """Read and check ``folder/geography.toml``; raise :class:`ManifestError` when it is wrong."""
    folder = Path(folder)
    path = folder / MANIFEST
    if folder.exists() and not folder.is_dir():
        raise ManifestError(f"{folder}: is a file, not a geography folder (with a {MANIFEST})")
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError:
        raise ManifestError(f"{path}: no {MANIFEST} in {folder}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{MANIFEST}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{MANIFEST}: not UTF-8 text (byte {exc.start + 1}); save it as "
                            "UTF-8") from None
    except RecursionError:
        raise ManifestError(f"{MANIFEST}: not valid TOML: nested too deeply") from None
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read {MANIFEST}: {exc.strerror}") from None
    where = f"{MANIFEST}: "
    _unknown_keys(raw, _TOP_KEYS, where)
    raw_levels = raw.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        raise ManifestError(f"{where}'levels' is missing (give at least one [[levels]] table)")
    levels = [_parse_level(item, i, folder) for i, item in enumerate(raw_levels)]
    _check_levels(levels)
    return GeographySpec(
        id=_required_id(raw, "id", where), name=_required(raw, "name", where),
        attribution=_required(raw, "attribution", where),
        total_id=_required_id(raw, "total_id", where),
        total_name=_required(raw, "total_name", where),
        levels=tuple(levels), folder=folder, notice=_optional(raw, "notice", where),
        description=_optional(raw, "description", where) or "",
        source=_optional(raw, "source", where) or "",
    )

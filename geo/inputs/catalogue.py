"""The indicator catalogue: variables (counts, measures), indicators, sums and periods.

Read from ``indicators.toml`` beside a geography manifest and stored as ``indicators.json`` in
every build. Entries are numbered from 1 in messages (``indicators[3]`` is the third
``[[indicators]]`` table of the file).
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from geo.errors import CatalogueError, NotFoundError
from geo.inputs.ids import id_problem
from geo.inputs.measures import COUNT_KINDS, MEASURE_KINDS, check_types, measure_defaults
from geo.inputs.periods import Period, parse_periods, period_dict
from geo.inputs.sums import sum_cycle

KINDS = COUNT_KINDS + MEASURE_KINDS
"""``proportion``, ``rate``: of counts (part of; per population); ``value``, ``ratio``: measures."""
HIGHER_IS = ("better", "worse", "neutral")
"""What a higher value means for an indicator: picks the colour ramp and the words
"günstig"/"ungünstig"; ``neutral`` (the default) says neither."""


@dataclass(frozen=True)
class Variable:
    """A count or measure per area and year, such as Einwohner:innen or a green area."""

    id: str
    name: str
    sensitive: bool = True
    source: str = ""
    definition: str = ""
    estimate: bool = False
    year_note: str = ""
    type: str = "count"
    aggregate: str = "sum"
    weight: str = ""
    provenance: Mapping[str, Any] | None = field(default=None, compare=False)
    """Where an intake made the values (command, inputs, created); set by the build."""


@dataclass(frozen=True)
class Indicator:
    """A rate ``numerator / denominator * per`` (or one measure, kind ``value``) with its unit."""

    id: str
    name: str
    theme: str
    numerator: str
    denominator: str
    per: float = 100.0
    unit: str = "%"
    kind: str = "proportion"
    description: str = ""
    higher_is: str = "neutral"


@dataclass(frozen=True)
class SumRule:
    """A declared identity between variables: ``total`` equals the sum of ``parts``."""

    total: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class Catalogue:
    """Variables, indicators and sums of one geography, in the order of the file."""

    variables: tuple[Variable, ...]
    indicators: tuple[Indicator, ...]
    sums: tuple[SumRule, ...] = ()
    path: Path | None = field(default=None, compare=False)
    theme_order: tuple[str, ...] = ()
    population: str = ""
    """Id of the variable that counts the residents (shown as the population of an area)."""
    periods: tuple[Period, ...] = ()  # pooled periods, each the sum of its years

    def variable(self, variable_id: str) -> Variable:
        """Return the variable ``variable_id``; raise NotFoundError listing the known ids."""
        for v in self.variables:
            if v.id == variable_id:
                return v
        raise NotFoundError(_not_found("variable", variable_id, self.variable_ids))

    def indicator(self, indicator_id: str) -> Indicator:
        """Return the indicator ``indicator_id``; raise NotFoundError listing the known ids."""
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise NotFoundError(
            _not_found("indicator", indicator_id, tuple(i.id for i in self.indicators))
        )

    def themes(self) -> dict[str, list[Indicator]]:
        """Indicators grouped by theme: declared ``themes`` order, else order of appearance.

        Themes without any indicator are left out.
        """
        order = list(self.theme_order)
        for ind in self.indicators:
            if ind.theme not in order:
                order.append(ind.theme)
        grouped: dict[str, list[Indicator]] = {t: [] for t in order}
        for ind in self.indicators:
            grouped[ind.theme].append(ind)
        return {t: inds for t, inds in grouped.items() if inds}

    @property
    def variable_ids(self) -> tuple[str, ...]:
        """Ids of all variables in catalogue order."""
        return tuple(v.id for v in self.variables)

    @property
    def count_ids(self) -> tuple[str, ...]:
        """Ids of the count variables (whole numbers, disclosure control) in catalogue order."""
        return tuple(v.id for v in self.variables if v.type == "count")

    @property
    def measure_ids(self) -> tuple[str, ...]:
        """Ids of the measure variables (decimals, never suppressed) in catalogue order."""
        return tuple(v.id for v in self.variables if v.type == "measure")

    @property
    def sensitive_ids(self) -> tuple[str, ...]:
        """Ids of the variables subject to disclosure control, in catalogue order."""
        return tuple(v.id for v in self.variables if v.sensitive)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form; ``Catalogue.from_dict`` reads it back."""
        return {
            "themes": list(self.theme_order),
            "population": self.population,
            "variables": [{f.name: getattr(v, f.name) for f in fields(v)
                           if f.name != "provenance" or v.provenance is not None}
                          for v in self.variables],
            "indicators": [{f.name: getattr(i, f.name) for f in fields(i)}
                           for i in self.indicators],
            "sums": [{"total": s.total, "parts": list(s.parts)} for s in self.sums],
            "periods": [period_dict(p) for p in self.periods],
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, path: Path | None = None, source: str = "indicators.json"
    ) -> Catalogue:
        """Build and validate a catalogue from ``to_dict()`` output or parsed TOML."""
        return _parse(data, source=source, path=path)


def _not_found(kind: str, wanted: str, known: tuple[str, ...]) -> str:
    hint = difflib.get_close_matches(wanted, known, n=1)
    did_you_mean = f"; did you mean '{hint[0]}'?" if hint else ""
    return f"unknown {kind} '{wanted}'{did_you_mean} (known: {', '.join(known) or 'none'})"


_VARIABLE_KEYS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "name": (str,),
    "sensitive": (bool,),
    "source": (str,),
    "definition": (str,),
    "estimate": (bool,),
    "year_note": (str,),
    "type": (str,),
    "aggregate": (str,),
    "weight": (str,),
    "provenance": (dict,),
}
_INDICATOR_KEYS: dict[str, tuple[type, ...]] = {
    "id": (str,),
    "name": (str,),
    "theme": (str,),
    "numerator": (str,),
    "denominator": (str,),
    "per": (int, float),
    "unit": (str,),
    "kind": (str,),
    "description": (str,),
    "higher_is": (str,),
}
_SUM_KEYS: dict[str, tuple[type, ...]] = {"total": (str,), "parts": (list, tuple)}
_REQUIRED = {
    "variables": ("id", "name"),
    "indicators": ("id", "name", "theme", "numerator", "denominator"),
    "sums": ("total", "parts"),
}
_TOP_LEVEL = ("themes", "population", "variables", "indicators", "sums", "periods")


def _entry_label(table: str, index: int, entry: Mapping[str, Any]) -> str:
    name = entry.get("id", entry.get("total"))
    named = f" '{name}'" if isinstance(name, str) and name else ""
    return f"{table}[{index + 1}]{named}"


def _check_entry(
    table: str, index: int, entry: Any, keys: dict[str, tuple[type, ...]], problems: list[str]
) -> bool:
    """Check keys and value types of one table entry; False when it cannot be used."""
    if not isinstance(entry, Mapping):
        problems.append(f"{table}[{index + 1}]: expected a table, found {type(entry).__name__}")
        return False
    label = _entry_label(table, index, entry)
    ok = True
    for key in _REQUIRED[table]:
        if key not in entry:
            problems.append(f"{label}: missing required key '{key}'")
            ok = False
    for key, value in entry.items():
        if key not in keys:
            hint = difflib.get_close_matches(key, keys, n=1)
            extra = f" (did you mean '{hint[0]}'?)" if hint else ""
            problems.append(f"{label}: unknown key '{key}'{extra}; allowed: {', '.join(keys)}")
            ok = False
            continue
        types = keys[key]
        if isinstance(value, bool) and bool not in types:
            ok = False
        elif not isinstance(value, types):
            ok = False
        else:
            continue
        expected = " or ".join("number" if t in (int, float) else t.__name__ for t in types)
        problems.append(f"{label}: '{key}' must be {expected}, found {value!r}")
    return ok


def _check_id(label: str, key: str, value: str, problems: list[str]) -> None:
    if problem := id_problem(value):
        problems.append(f"{label}: '{key}' {problem}")


def _check_variable_ref(
    label: str, role: str, ref: str, declared: set[str], problems: list[str]
) -> None:
    if ref not in declared:
        hint = difflib.get_close_matches(ref, sorted(declared), n=1)
        extra = f" (did you mean '{hint[0]}'?)" if hint else ""
        problems.append(f"{label}: {role} '{ref}' is not a declared variable{extra}")


def _parse(data: Mapping[str, Any], *, source: str, path: Path | None) -> Catalogue:
    """Validate parsed catalogue data and build the Catalogue; all problems at once."""
    problems: list[str] = []
    for key in data:
        if key not in _TOP_LEVEL:
            problems.append(f"unknown top-level key '{key}'; allowed: {', '.join(_TOP_LEVEL)}")
    tables: dict[str, list[Any]] = {}
    for table in ("variables", "indicators", "sums"):
        raw = data.get(table, [])
        if not isinstance(raw, list):
            problems.append(f"'{table}' must be an array of tables ([[{table}]])")
            raw = []
        tables[table] = raw
    if not tables["variables"]:
        problems.append("no [[variables]] declared")

    variables: list[Variable] = []
    labels: list[str] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(tables["variables"]):
        usable = _check_entry("variables", i, entry, _VARIABLE_KEYS, problems)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
            continue
        label = _entry_label("variables", i, entry)
        _check_id(label, "id", entry["id"], problems)
        if entry["id"] in seen:
            first = seen[entry["id"]]
            problems.append(f"{label}: duplicate id, first declared as variables[{first}]")
            continue
        # a variable with a bad optional key still counts as declared: no follow-on errors
        seen[entry["id"]] = i + 1
        if usable:
            variables.append(Variable(**measure_defaults(dict(entry))))
            labels.append(label)
    declared = set(seen)

    theme_order: tuple[str, ...] = ()
    themes = data.get("themes", [])
    if not isinstance(themes, list) or not all(isinstance(t, str) and t for t in themes):
        problems.append("'themes' must be a list of theme names")
    elif len(set(themes)) != len(themes):
        twice = sorted({t for t in themes if themes.count(t) > 1})
        problems.append(f"'themes' lists {', '.join(repr(t) for t in twice)} more than once")
    else:
        theme_order = tuple(themes)

    indicators: list[Indicator] = []
    ind_labels: list[str] = []
    seen_ind: dict[str, int] = {}
    for i, entry in enumerate(tables["indicators"]):
        if isinstance(entry, Mapping) and entry.get("kind") == "value":
            entry = {"denominator": "", "per": 1.0, "unit": "", **entry}
        if not _check_entry("indicators", i, entry, _INDICATOR_KEYS, problems):
            continue
        label = _entry_label("indicators", i, entry)
        _check_id(label, "id", entry["id"], problems)
        if entry["id"] in seen_ind:
            problems.append(
                f"{label}: duplicate id, first declared as indicators[{seen_ind[entry['id']]}]"
            )
            continue
        seen_ind[entry["id"]] = i + 1
        for role in ("numerator", "denominator"):
            if role == "numerator" or entry.get("kind") != "value":
                _check_variable_ref(label, role, entry[role], declared, problems)
        per = float(entry.get("per", 100.0))
        if not math.isfinite(per) or per <= 0:
            problems.append(f"{label}: per must be a positive number, found {entry['per']!r}")
        kind = entry.get("kind", "proportion")
        if kind not in KINDS:
            problems.append(f"{label}: kind must be one of {', '.join(KINDS)}, found {kind!r}")
        higher_is = entry.get("higher_is", "neutral")
        if higher_is not in HIGHER_IS:
            problems.append(
                f"{label}: higher_is must be one of {', '.join(HIGHER_IS)}, found {higher_is!r}"
            )
        if theme_order and entry["theme"] not in theme_order:
            problems.append(f"{label}: theme {entry['theme']!r} is not listed in themes = [...]")
        indicators.append(Indicator(**{**entry, "per": per}))
        ind_labels.append(label)

    population = data.get("population", "")
    if not isinstance(population, str):
        problems.append(f"'population' must be a variable id, found {population!r}")
        population = ""
    elif population:
        _check_variable_ref("population", "variable", population, declared, problems)

    sums: list[SumRule] = []
    for i, entry in enumerate(tables["sums"]):
        if not _check_entry("sums", i, entry, _SUM_KEYS, problems):
            continue
        label = _entry_label("sums", i, entry)
        parts = entry["parts"]
        if not all(isinstance(p, str) for p in parts):
            problems.append(f"{label}: parts must be a list of variable ids")
            continue
        if len(parts) < 2:
            problems.append(f"{label}: a sum needs at least two parts")
        _check_variable_ref(label, "total", entry["total"], declared, problems)
        for part in dict.fromkeys(parts):
            _check_variable_ref(label, "part", part, declared, problems)
            if parts.count(part) > 1:
                problems.append(f"{label}: part '{part}' is listed more than once")
        if entry["total"] in parts:
            problems.append(f"{label}: the total '{entry['total']}' is also one of its parts")
        rule = SumRule(total=entry["total"], parts=tuple(parts))
        for j, other in enumerate(sums):
            if other.total == rule.total and set(other.parts) == set(rule.parts):
                problems.append(f"{label}: repeats sums[{j + 1}]")
        sums.append(rule)
    check_types(zip(labels, variables, strict=True), zip(ind_labels, indicators, strict=True),
                ((f"sums[{i + 1}]", rule) for i, rule in enumerate(sums)), problems)
    periods = parse_periods(data.get("periods", []), declared, problems)
    if not problems:
        cycle = sum_cycle(sums)
        if cycle:
            problems.append(f"sums form a cycle: {' -> '.join(cycle)}")

    if problems:
        lines = [f"{source}: {p}" for p in problems]
        if len(lines) == 1:
            raise CatalogueError(lines[0])
        shown = "\n  ".join(lines)
        raise CatalogueError(f"{source}: {len(problems)} problems\n  {shown}")
    return Catalogue(
        variables=tuple(variables),
        indicators=tuple(indicators),
        sums=tuple(sums), periods=periods, path=path,
        theme_order=theme_order,
        population=population,
    )


def load_catalogue(path: Path | str) -> Catalogue:
    """Read and validate an ``indicators.toml``; raise CatalogueError listing every problem."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise CatalogueError(f"{path}: indicator catalogue not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{path.name}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CatalogueError(f"{path.name}: not UTF-8 text (byte {exc.start + 1})") from None
    except RecursionError:
        raise CatalogueError(f"{path.name}: not valid TOML: nested too deeply") from None
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the indicator catalogue: {exc}") from None
    return _parse(data, source=path.name, path=path)

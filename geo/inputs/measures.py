"""Measures: variables with decimals (areas, means, shares) beside the counts.

A count (``type = "count"``, the default) is a whole number of people or things per area: it
sums to parents, and disclosure control protects it when it is sensitive. A measure
(``type = "measure"``) is a decimal value such as a green area in hectares, a mean noise level
or a share of green space. A measure is never sensitive and never suppressed; it reaches the
parents by ``aggregate``:

- ``"sum"`` (default): extensive measures, such as areas;
- ``"mean"``: the mean of the children weighted by ``weight``, which is ``"area"`` (default,
  the surface of each area) or the id of a count or of a summed measure (residents for a mean
  age, say). A parent is missing when a child's value or weight is missing.

Indicators of kind ``value`` show one measure as it is (``numerator`` only, no interval);
``ratio`` divides two measures (``numerator / denominator * per``, no interval). ``proportion``
and ``rate`` stay what they were: two counts, with intervals.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

TYPES = ("count", "measure")
"""Variable types: whole counts (protected when sensitive) or decimal measures."""
AGGREGATES = ("sum", "mean")
"""How a measure reaches the parent areas."""
AREA_WEIGHT = "area"
"""The ``weight`` of an area-weighted mean: each area's surface (geodesic, from its shape)."""
COUNT_KINDS = ("proportion", "rate")
"""Indicator kinds of two counts, with intervals."""
MEASURE_KINDS = ("value", "ratio")
"""Indicator kinds of measures: one measure as it is, or one measure divided by another."""


def measure_defaults(entry: dict[str, Any]) -> dict[str, Any]:
    """A variable entry with the defaults of its type (a measure is not sensitive)."""
    if entry.get("type") == "measure":
        entry = {"sensitive": False, **entry}
        if entry.get("aggregate") == "mean" and not entry.get("weight"):
            entry["weight"] = AREA_WEIGHT
    return entry


def check_types(
    variables: Iterable[tuple[str, Any]],
    indicators: Iterable[tuple[str, Any]],
    sums: Iterable[tuple[str, Any]],
    problems: list[str],
) -> None:
    """Check types, aggregation and which indicator kinds and sums use which variables.

    Each item is ``(label, entry)`` with the label used in messages (``variables[3] 'x'``).
    """
    variables = list(variables)
    types = {v.id: v.type for _, v in variables}
    summed = {v.id for _, v in variables if v.type == "count" or v.aggregate == "sum"}
    for label, v in variables:
        if v.type not in TYPES:
            problems.append(f"{label}: type must be one of {', '.join(TYPES)}, found {v.type!r}")
        elif v.type == "count":
            if v.aggregate != "sum":
                problems.append(f'{label}: aggregate = {v.aggregate!r} needs type = "measure" '
                                "(counts always sum to the parents)")
            if v.weight:
                problems.append(f'{label}: weight applies to measures with aggregate = "mean"')
        else:
            if v.sensitive:
                problems.append(f"{label}: a measure is never suppressed: remove "
                                'sensitive = true, or declare type = "count" for a count')
            if v.aggregate not in AGGREGATES:
                problems.append(f"{label}: aggregate must be one of {', '.join(AGGREGATES)}, "
                                f"found {v.aggregate!r}")
            elif v.aggregate == "sum" and v.weight:
                problems.append(f'{label}: weight applies only to aggregate = "mean"')
            elif v.aggregate == "mean" and v.weight != AREA_WEIGHT:
                if v.weight == v.id or v.weight not in summed:
                    problems.append(
                        f"{label}: weight {v.weight!r} must be \"{AREA_WEIGHT}\", a count or a "
                        'measure with aggregate = "sum"'
                    )
    for label, ind in indicators:
        roles = [("numerator", ind.numerator)]
        if ind.kind == "value":
            if ind.denominator:
                problems.append(f'{label}: kind = "value" shows the numerator as it is: '
                                "remove denominator")
        else:
            roles.append(("denominator", ind.denominator))
        wanted = "measure" if ind.kind in MEASURE_KINDS else "count"
        for role, ref in roles:
            if ref in types and types[ref] in TYPES and types[ref] != wanted:
                hint = ('use kind = "ratio" (two measures) or "value" (one measure)'
                        if wanted == "count" else f"kind = {ind.kind!r} needs measures")
                problems.append(f"{label}: {role} '{ref}' is a {types[ref]}: {hint}")
    for label, rule in sums:
        for ref in (rule.total, *rule.parts):
            if types.get(ref) == "measure":
                problems.append(f"{label}: '{ref}' is a measure; sums relate counts only")

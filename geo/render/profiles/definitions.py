"""What an indicator means: its description, the definitions and sources of its variables.

A ``value`` indicator shows one measure and has no denominator (``Definition.denominator`` is
None); a variable made by ``quartier intake`` carries its provenance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geo.inputs.catalogue import Catalogue, Indicator


@dataclass(frozen=True)
class CountDefinition:
    """One count of an indicator (numerator or denominator) as the catalogue defines it."""

    id: str
    name: str
    definition: str
    source: str
    year_note: str
    estimate: bool
    type: str = "count"
    provenance: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Definition:
    """Description, counts, sources and reference date of one indicator."""

    description: str
    numerator: CountDefinition
    denominator: CountDefinition | None

    @property
    def parts(self) -> list[tuple[str, CountDefinition]]:
        """``("Zähler", numerator)`` and ``("Nenner", denominator)``; a measure shown as it is
        is ``("Messwert", numerator)`` alone."""
        if self.denominator is None:
            return [("Messwert", self.numerator)]
        return [("Zähler", self.numerator), ("Nenner", self.denominator)]

    @property
    def sources(self) -> list[str]:
        """The distinct sources of numerator and denominator, in that order."""
        return _distinct(*(c.source for _, c in self.parts))

    @property
    def source(self) -> str:
        """The sources as one text (``; `` between them), empty when the catalogue names none."""
        return "; ".join(self.sources)

    @property
    def reference_date(self) -> str:
        """The counts' reference dates (``year_note``) as one text, empty when none is given."""
        return "; ".join(_distinct(*(c.year_note for _, c in self.parts)))

    @property
    def estimate(self) -> bool:
        """True when a count is an estimate (the profile says so)."""
        return any(c.estimate for _, c in self.parts)


def _distinct(*texts: str) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in texts if t and t.strip()))


def _count(catalogue: Catalogue, variable_id: str) -> CountDefinition:
    v = catalogue.variable(variable_id)
    return CountDefinition(v.id, v.name, v.definition, v.source, v.year_note, v.estimate,
                           v.type, v.provenance)


def indicator_definition(catalogue: Catalogue, indicator: Indicator) -> Definition:
    """The definition of one catalogue indicator."""
    return Definition(
        description=indicator.description,
        numerator=_count(catalogue, indicator.numerator),
        denominator=_count(catalogue, indicator.denominator) if indicator.denominator else None,
    )


def definition_record(definition: Definition) -> dict[str, Any]:
    """The definition as plain JSON (empty texts are null)."""

    def count(c: CountDefinition | None) -> dict[str, Any] | None:
        if c is None:
            return None
        return {"id": c.id, "name": c.name, "definition": c.definition or None,
                "source": c.source or None, "reference_date": c.year_note or None,
                "estimate": c.estimate, "type": c.type,
                "provenance": dict(c.provenance) if c.provenance else None}

    return {
        "description": definition.description or None,
        "source": definition.source or None,
        "reference_date": definition.reference_date or None,
        "numerator": count(definition.numerator),
        "denominator": count(definition.denominator),
    }

"""The parameters of one build, typed: what disclosure control and the rates were run with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from geo.disclosure import MIN_COUNT, PROTECTION
from geo.errors import BuildError
from geo.stats.rates import RELIABLE_MIN


@dataclass(frozen=True)
class BuildParameters:
    """Settings of a build; part of the release id, so a change makes a new release."""

    min_count: int = MIN_COUNT
    """Sensitive values 1..min_count-1 are withheld (primary rule)."""
    protection: int = PROTECTION
    """Protection width: an outsider's interval for a withheld small value is at least this."""
    reliable_min: int = RELIABLE_MIN
    """Denominators below this make a rate unreliable."""
    year: int | None = None
    """Year of a wide counts file without a year column."""

    def __post_init__(self) -> None:
        if self.min_count < 1:
            raise BuildError(f"min_count must be at least 1, not {self.min_count}")
        if self.protection < 0:
            raise BuildError(f"protection must not be negative, not {self.protection}")
        if self.reliable_min < 0:
            raise BuildError(f"reliable_min must not be negative, not {self.reliable_min}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form (``manifest.json``'s ``parameters``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BuildParameters:
        """Read the manifest's ``parameters`` (unknown keys of newer versions are ignored)."""
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

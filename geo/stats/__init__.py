"""Statistics of counts: aggregation to every level, rates with intervals and comparisons.

- ``aggregate``: finest-level counts summed to every level and the whole area, and pooled
  periods (the sum of their years).
- ``measures``: measures (decimals) summed or averaged (weighted) to every level.
- ``rates``: rates, 95 % intervals (Wilson, exact Poisson/Byar), comparison with the whole area,
  reliability.
"""

from geo.stats.aggregate import aggregate
from geo.stats.measures import aggregate_measures
from geo.stats.rates import RELIABLE_MIN, VALUE_COLUMNS, compute_values

__all__ = ["RELIABLE_MIN", "VALUE_COLUMNS", "aggregate", "aggregate_measures", "compute_values"]

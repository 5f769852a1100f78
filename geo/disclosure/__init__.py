"""Disclosure control: primary suppression, secondary suppression and the attacker audit.

The model (see docs/DISCLOSURE.md). A *table* is one year and one group of variables linked
by declared sums. Its cells are (area, variable); its relations are "parent = sum of its
children" per variable and "sum total = sum of its parts" per area. Where pooled periods
(year ``"2010-2012"``) exist, all years and periods of the group are one table whose
pseudo-variables are (year or period, variable), with "period = sum of its years" per area.
Published cells are constants; withheld cells are unknowns >= 0. The attacker's knowledge of a
withheld cell is its feasible interval over all such solutions. A primary cell is protected
when that interval is at least ``protection`` wide. Large linked tables are split into one
tree per single year and base variable (``closure``); the audit eliminates withheld totals
(``reduced``).

Modules, in the order data flows through them:

- ``table``: the area tree, the cell cube and one table's relations (shared structures).
- ``primary``: the primary rule (small counts and their complements), ``MIN_COUNT``,
  ``PROTECTION``.
- ``tree``: the exact interval walk and the bottom-up secondary pass on tree tables.
- ``intervals``: exact feasible intervals of withheld cells (tree walk or LP per block).
- ``linked``: the cheap local and exact attacker checks on linked tables.
- ``repair``: the min-cost move LP that protects one under-protected cell.
- ``secondary``: secondary suppression of one table (start, repair, prune).
- ``basis``: base slots of a linked table and every slot as a sum of them.
- ``closure``: large linked tables slot by slot (one tree per base slot, then the closure).
- ``periods``: how a cube splits into tables; years and pooled periods as one linked table.
- ``protection``: ``protect`` and its result ``Protection``.
- ``optimal``: ``protect_optimal``, the exact MILP reference for small inputs.
- ``reduced``: exact intervals of a linked table by elimination (tree walks, LPs where coupled).
- ``audit``: ``audit``, ``audit_protected`` (``protect``'s result, reusing its cube) and
  ``AuditReport`` (``geo.release.audit_build`` audits a written release).
"""

from geo.disclosure.audit import AuditReport, audit, audit_protected
from geo.disclosure.optimal import protect_optimal
from geo.disclosure.primary import MIN_COUNT, PROTECTION
from geo.disclosure.protection import Protection, protect
from geo.disclosure.table import TOTAL

__all__ = [
    "MIN_COUNT",
    "PROTECTION",
    "TOTAL",
    "AuditReport",
    "Protection",
    "audit",
    "audit_protected",
    "protect",
    "protect_optimal",
]

"""Policy room: every rule of the pack, in one list.

`RULES` is what both adapters iterate: `policy/__main__.py` (the CrossGuard pack the
Pulumi CLI runs) and `policy/evaluator.py` (offline graphs, `berth preview`/`berth policy`).
"""

from __future__ import annotations

import policy.rules  # noqa: F401 - registers every rule module
from policy.core import Rule, registered

RULES: list[Rule] = sorted(registered(), key=lambda r: (r.service, r.id))
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def rule(rule_id: str) -> Rule:
    """The rule with this id (KeyError names the known ids)."""
    try:
        return BY_ID[rule_id]
    except KeyError:
        raise KeyError(f"no rule {rule_id!r}; known: {', '.join(sorted(BY_ID))}") from None

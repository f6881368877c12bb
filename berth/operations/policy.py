"""Operations room: the policy pack as the operations use it (promotion, rollback and DR gates)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from embedded_cloud.graph import Graph
from policy.evaluator import Report, evaluate

Evaluate = Callable[[Graph], Any]


def default_evaluator() -> Evaluate:
    """The pack's in-process evaluator (policy/evaluator.py); gates take another for tests."""
    return evaluate


def describe_violation(v: Any) -> str:
    """One line for a violation: rule, message and resource (a plain string passes through)."""
    if isinstance(v, str):
        return v
    name = next((getattr(v, a) for a in ("rule_id", "policy", "rule") if getattr(v, a, None)), None)
    msg = next((getattr(v, a) for a in ("message", "description", "reason") if getattr(v, a, None)), None)
    where = next((getattr(v, a) for a in ("name", "urn", "resource") if getattr(v, a, None)), None)
    parts = [str(x) for x in (name, msg) if x]
    text = ": ".join(parts) if parts else str(v)
    return f"{text} ({where})" if where else text


__all__ = ["Evaluate", "Report", "default_evaluator", "describe_violation", "evaluate"]

"""Kubernetes label selectors (``matchLabels`` + ``matchExpressions``), evaluated the API server's way.

An empty or missing selector matches everything, as in Kubernetes. A malformed selector raises
``PolicyError`` so that a bad CostPolicy is reported, never silently applied to everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cloudcostguard import errors

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_selector(selector: Any, where: str = "selector") -> None:
    if selector is None:
        return
    if not isinstance(selector, Mapping):
        raise errors.PolicyError(f"{where} must be an object with matchLabels/matchExpressions")
    match_labels = selector.get("matchLabels") or {}
    if not isinstance(match_labels, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in match_labels.items()
    ):
        raise errors.PolicyError(f"{where}.matchLabels must map strings to strings")
    expressions = selector.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise errors.PolicyError(f"{where}.matchExpressions must be a list")
    for position, expression in enumerate(expressions):
        here = f"{where}.matchExpressions[{position}]"
        if not isinstance(expression, Mapping) or not isinstance(expression.get("key"), str):
            raise errors.PolicyError(f"{here} needs a string key")
        operator = expression.get("operator")
        if operator not in OPERATORS:
            raise errors.PolicyError(f"{here}.operator must be one of {', '.join(OPERATORS)}")
        values = expression.get("values") or []
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise errors.PolicyError(f"{here}.values must be a list of strings")
        if operator in ("In", "NotIn") and not values:
            raise errors.PolicyError(f"{here}: operator {operator} needs values")
        if operator in ("Exists", "DoesNotExist") and values:
            raise errors.PolicyError(f"{here}: operator {operator} takes no values")


def matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """True when ``labels`` satisfy ``selector`` (call ``validate_selector`` first on untrusted input)."""
    if not selector:
        return True
    labels = labels or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values") or []
        present = key in labels
        if operator == "In" and (not present or labels[key] not in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True

"""CostPolicy status: committed spend per matching namespace, remaining budget, counts, conditions.

Pure: the handler passes the policy's spec and the cluster state (namespace labels, CostEstimate
spend), and writes what comes back (only when it differs from the current status, timestamps aside).
Committed spend of a namespace is the sum of ``status.monthlyCost`` over all its CostEstimates (the
same sum the admission webhook checks ``namespaceMonthlyBudget`` against).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pydantic

from cloudcostguard import errors
from cloudcostguard.estimation.model import money
from cloudcostguard.k8s.api import conditions as cond
from cloudcostguard.k8s.api.models import POLICY_NAMESPACES_MAX, CostPolicySpec
from cloudcostguard.k8s.cluster.indexes import plain
from cloudcostguard.k8s.cluster.state import ClusterState
from cloudcostguard.policy import selectors
from cloudcostguard.policy.model import parse_money

POLICY_INVALID = errors.PolicyError.reason  # "PolicyInvalid", as the webhook reports it

_COMPARED = (
    "observedGeneration",
    "matchedNamespaces",
    "matchedEstimates",
    "overBudgetNamespaces",
    "totalCommittedMonthlyCost",
    "namespaces",
)


def policy_status(
    spec: Mapping[str, Any],
    *,
    generation: int | None,
    cluster: ClusterState,
    previous: Mapping[str, Any],
    now: str,
) -> dict[str, Any]:
    previous_conditions = previous.get("conditions")
    try:
        policy = CostPolicySpec.model_validate(spec)
        selectors.validate_selector(plain(spec.get("namespaceSelector")), "spec.namespaceSelector")
        selectors.validate_selector(plain(spec.get("selector")), "spec.selector")
    except (pydantic.ValidationError, errors.PolicyError) as err:
        message = _describe(err)
        return {
            "observedGeneration": generation,
            # A merge-patch with None removes the numbers of the last valid spec: they no longer apply.
            **{name: None for name in _COMPARED if name != "observedGeneration"},
            "lastUpdatedTime": now,
            # Stalled as well as Ready=False: only a new spec can fix it, and kstatus reads Stalled=True
            # as Failed (a Flux sync fails at once with this message, instead of at its timeout). A
            # valid spec's status replaces the conditions, Stalled with them.
            "conditions": [
                cond.condition(
                    cond.READY,
                    cond.FALSE,
                    POLICY_INVALID,
                    message,
                    generation=generation,
                    now=now,
                    previous=previous_conditions,
                ),
                cond.condition(
                    cond.STALLED,
                    cond.TRUE,
                    POLICY_INVALID,
                    message,
                    generation=generation,
                    now=now,
                    previous=previous_conditions,
                ),
            ],
        }
    budget = (
        parse_money(policy.limits.namespace_monthly_budget, "spec.limits.namespaceMonthlyBudget")
        if policy.limits.namespace_monthly_budget is not None
        else None
    )
    namespace_selector = plain(spec.get("namespaceSelector"))
    # Namespaces known from the namespace index, plus any that only the spend index has seen.
    known = cluster.namespaces()
    rows = []
    for namespace in sorted(known):
        if not selectors.matches(namespace_selector, known[namespace]):
            continue
        spend = cluster.committed_spend(namespace)
        rows.append((namespace, sum(spend.values(), Decimal(0)), len(spend)))
    over = [row for row in rows if budget is not None and row[1] > budget]
    total = sum((row[1] for row in rows), Decimal(0))
    # The namespaces closest to (or beyond) their budget first; then by spend, then by name.
    rows.sort(key=lambda row: (-row[1], row[0]))
    entries = []
    for namespace, committed, count in rows[:POLICY_NAMESPACES_MAX]:
        entry: dict[str, Any] = {
            "namespace": namespace,
            "committedMonthlyCost": money(committed),
            "estimates": count,
            "overBudget": budget is not None and committed > budget,
        }
        if budget is not None:
            entry["remainingBudget"] = money(budget - committed)
        entries.append(entry)
    matched_estimates = sum(row[2] for row in rows)
    summary = f"{len(rows)} namespaces, {matched_estimates} CostEstimates, {money(total)} USD/month committed"
    if budget is None:
        budget_condition = cond.condition(
            cond.WITHIN_BUDGET,
            cond.UNKNOWN,
            "NoNamespaceBudget",
            "spec.limits.namespaceMonthlyBudget is not set",
            generation=generation,
            now=now,
            previous=previous_conditions,
        )
    elif over:
        names = ", ".join(row[0] for row in sorted(over, key=lambda row: row[0])[:10])
        budget_condition = cond.condition(
            cond.WITHIN_BUDGET,
            cond.FALSE,
            "BudgetExceeded",
            f"{len(over)} namespaces over {money(budget)} USD/month: {names}",
            generation=generation,
            now=now,
            previous=previous_conditions,
        )
    else:
        budget_condition = cond.condition(
            cond.WITHIN_BUDGET,
            cond.TRUE,
            "WithinBudget",
            f"every namespace within {money(budget)} USD/month",
            generation=generation,
            now=now,
            previous=previous_conditions,
        )
    return {
        "observedGeneration": generation,
        "matchedNamespaces": len(rows),
        "matchedEstimates": matched_estimates,
        "overBudgetNamespaces": len(over),
        "totalCommittedMonthlyCost": money(total),
        "namespaces": entries,
        "lastUpdatedTime": now,
        "conditions": [
            cond.condition(
                cond.READY,
                cond.TRUE,
                "StatusCurrent",
                summary,
                generation=generation,
                now=now,
                previous=previous_conditions,
            ),
            budget_condition,
        ],
    }


def status_changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when ``new`` says something ``old`` does not (timestamps aside)."""
    for name in _COMPARED:
        if plain(old.get(name)) != new.get(name):
            return True
    return cond.without_times(plain(old.get("conditions"))) != cond.without_times(new.get("conditions"))


def _describe(err: pydantic.ValidationError | errors.PolicyError) -> str:
    if isinstance(err, pydantic.ValidationError):
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "spec"
        return f"spec.{where}: {first['msg']}"
    return str(err)

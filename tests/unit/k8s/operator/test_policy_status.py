"""CostPolicy status: committed spend per matching namespace, remaining budget, counts, conditions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.k8s.cluster.state import KopfIndexState
from cloudcostguard.k8s.operator import policy_status

NOW = "2026-01-02T03:04:05Z"


def spend(**namespaces: list[tuple[str, str]]) -> dict[str, list[indexes.SpendEntry]]:
    return {
        namespace.replace("_", "-"): [indexes.SpendEntry(name, Decimal(cost), {}) for name, cost in entries]
        for namespace, entries in namespaces.items()
    }


LABELS = {
    "team-a": [{"tier": "prod"}],
    "team-b": [{"tier": "prod"}],
    "sandbox": [{"tier": "dev"}],
}
SPEND = spend(team_a=[("web", "120.50"), ("db", "300.00")], team_b=[("api", "80.25")], sandbox=[("x", "999")])


def cluster(spend_index: dict[str, list[indexes.SpendEntry]]) -> KopfIndexState:
    """The cluster state over the indexes as kopf hands them over (namespace → store of values)."""
    return KopfIndexState({indexes.NAMESPACE_LABELS: LABELS, indexes.COSTESTIMATE_SPEND: spend_index})


def status(spec: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    return policy_status.policy_status(
        spec,
        generation=3,
        cluster=cluster(SPEND),
        previous=previous or {},
        now=NOW,
    )


def test_committed_spend_and_remaining_budget_per_matching_namespace() -> None:
    result = status(
        {
            "enforcement": "Deny",
            "namespaceSelector": {"matchLabels": {"tier": "prod"}},
            "limits": {"namespaceMonthlyBudget": "400"},
        }
    )
    assert result["namespaces"] == [
        {"namespace": "team-a", "committedMonthlyCost": "420.50", "estimates": 2, "overBudget": True,
         "remainingBudget": "-20.50"},
        {"namespace": "team-b", "committedMonthlyCost": "80.25", "estimates": 1, "overBudget": False,
         "remainingBudget": "319.75"},
    ]  # fmt: skip
    assert (result["matchedNamespaces"], result["matchedEstimates"], result["overBudgetNamespaces"]) == (
        2,
        3,
        1,
    )
    assert result["totalCommittedMonthlyCost"] == "500.75"
    assert result["observedGeneration"] == 3
    conditions = {item["type"]: item for item in result["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Ready"]["message"] == "2 namespaces, 3 CostEstimates, 500.75 USD/month committed"
    assert (conditions["WithinBudget"]["status"], conditions["WithinBudget"]["reason"]) == (
        "False",
        "BudgetExceeded",
    )
    assert conditions["WithinBudget"]["message"] == "1 namespaces over 400.00 USD/month: team-a"


def test_no_namespace_selector_covers_every_namespace_and_no_budget_means_unknown() -> None:
    result = status({"enforcement": "Warn", "limits": {"maxMonthlyCost": "50"}})
    assert [row["namespace"] for row in result["namespaces"]] == ["sandbox", "team-a", "team-b"]
    assert all("remainingBudget" not in row for row in result["namespaces"])
    conditions = {item["type"]: item for item in result["conditions"]}
    assert (conditions["WithinBudget"]["status"], conditions["WithinBudget"]["reason"]) == (
        "Unknown",
        "NoNamespaceBudget",
    )


def test_invalid_policy_reports_policy_invalid_and_clears_the_numbers() -> None:
    result = status(
        {"enforcement": "Deny", "namespaceSelector": {"matchExpressions": [{"key": "x", "operator": "In"}]}}
    )
    ready, stalled = result["conditions"]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "False", "PolicyInvalid")
    assert "operator In needs values" in ready["message"]
    # Only a new spec fixes it: Stalled, so that kstatus reads Failed rather than InProgress.
    assert (stalled["type"], stalled["status"], stalled["reason"]) == ("Stalled", "True", "PolicyInvalid")
    assert stalled["message"] == ready["message"]
    assert result["namespaces"] is None and result["matchedNamespaces"] is None


def test_a_fixed_policy_is_no_longer_stalled() -> None:
    invalid = status({"enforcement": "Deny", "limits": {"maxMonthlyCost": 300}})
    assert [c["type"] for c in invalid["conditions"]] == ["Ready", "Stalled"]
    fixed = policy_status.policy_status(
        {"enforcement": "Deny", "limits": {"maxMonthlyCost": "300"}},
        generation=4,
        cluster=cluster(SPEND),
        previous=invalid,
        now="2026-02-01T00:00:00Z",
    )
    # The merge-patch replaces the list: no Stalled condition is left behind.
    assert [(c["type"], c["status"]) for c in fixed["conditions"]] == [
        ("Ready", "True"),
        ("WithinBudget", "Unknown"),
    ]
    assert fixed["conditions"][0]["lastTransitionTime"] == "2026-02-01T00:00:00Z"
    assert policy_status.status_changed(invalid, fixed)


def test_status_changes_only_when_something_but_time_changed() -> None:
    spec = {"enforcement": "Deny", "limits": {"namespaceMonthlyBudget": "1000"}}
    first = status(spec)
    later = policy_status.policy_status(
        spec,
        generation=3,
        cluster=cluster(SPEND),
        previous=first,
        now="2026-02-01T00:00:00Z",
    )
    assert not policy_status.status_changed(first, later)
    assert later["conditions"][0]["lastTransitionTime"] == NOW  # the condition did not transition
    more = dict(SPEND, team_b=[indexes.SpendEntry("api", Decimal("81"), {})])
    changed = policy_status.policy_status(spec, generation=3, cluster=cluster(more), previous=first, now=NOW)
    assert policy_status.status_changed(first, changed)

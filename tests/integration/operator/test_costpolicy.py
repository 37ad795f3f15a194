"""CostPolicy against KMock: the operator keeps its status current and records verdicts on estimates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import kmock
import pytest

from tests import kmock_support as ks
from tests.integration.operator.conftest import OperatorFactory, eventually
from tests.unit.k8s.plans import money, nat_monthly, nat_plan

pytestmark = pytest.mark.kmock


def policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return ks.k8s_object("cloudcostguard.io/v1alpha1", "CostPolicy", name, spec=spec)


def policy_status(kube: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    return dict(ks.live_object(kube, ks.COSTPOLICIES, None, name).get("status", {}))


def estimate_status(kube: kmock.KubernetesEmulator, namespace: str, name: str) -> dict[str, Any]:
    return dict(ks.live_object(kube, ks.COSTESTIMATES, namespace, name).get("status", {}))


async def test_policy_status_follows_committed_spend(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    kube.objects["v1/namespaces", None, "shop"] = ks.namespace("shop", {"tier": "prod"})
    kube.objects["v1/namespaces", None, "lab"] = ks.namespace("lab", {"tier": "dev"})
    budget = nat_monthly(2) + Decimal(1)
    kube.objects[ks.COSTPOLICIES, None, "prod-budget"] = policy(
        "prod-budget",
        {
            "enforcement": "Warn",
            "namespaceSelector": {"matchLabels": {"tier": "prod"}},
            "limits": {"namespaceMonthlyBudget": money(budget)},
        },
    )
    for namespace, name, gateways in (("shop", "web", 1), ("shop", "db", 2), ("lab", "toy", 5)):
        kube.objects[ks.COSTESTIMATES, namespace, name] = ks.costestimate(
            name, namespace, {"plan": {"inline": nat_plan(gateways)}}
        )
    async with operator(policy_status_interval=0.5):
        await eventually(lambda: policy_status(kube, "prod-budget").get("matchedEstimates") == 2)
        status = policy_status(kube, "prod-budget")
        committed = nat_monthly(1) + nat_monthly(2)
        assert status["namespaces"] == [
            {"namespace": "shop", "committedMonthlyCost": money(committed), "estimates": 2,
             "overBudget": True, "remainingBudget": money(budget - committed)},
        ]  # fmt: skip
        assert (status["matchedNamespaces"], status["overBudgetNamespaces"]) == (1, 1)

        # The namespace-budget verdict is recorded on the estimates too (Warn: admitted, flagged).
        await eventually(lambda: estimate_status(kube, "shop", "db").get("policy") is not None)
        conditions = {c["type"]: c for c in estimate_status(kube, "lab", "toy")["conditions"]}
        assert conditions["WithinBudget"]["reason"] == "NoPolicy"  # lab is not tier=prod

        # One estimate goes away: the committed spend drops and the namespace is within budget again.
        async with kube.delete(ks.url_of(ks.COSTESTIMATES, "shop", "db")) as response:
            assert response.status == 200
        await eventually(lambda: policy_status(kube, "prod-budget").get("matchedEstimates") == 1)
    status = policy_status(kube, "prod-budget")
    assert status["namespaces"][0]["committedMonthlyCost"] == money(nat_monthly(1))
    assert status["overBudgetNamespaces"] == 0
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True", "WithinBudget": "True"}

"""CostPolicy against KMock: the operator keeps its status current and records verdicts on estimates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import kmock
import pytest
from prometheus_client import REGISTRY

from tests import kmock_support as ks
from tests.integration.operator.conftest import OperatorFactory, eventually
from tests.integration.operator.test_costestimate import create, patch
from tests.plans import money, nat_monthly, nat_plan

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
            name, namespace, {"plan": {"inline": nat_plan(gateways, vpcs=1)}}
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


def status_writes(kube: kmock.KubernetesEmulator, namespace: str, name: str) -> int:
    path = ks.url_of(ks.COSTESTIMATES, namespace, name, "status")
    return sum(1 for request in kube if request.method == "PATCH" and request.url.path == path)


def within_budget(kube: kmock.KubernetesEmulator, namespace: str, name: str) -> tuple[str, str] | None:
    for item in estimate_status(kube, namespace, name).get("conditions", []):
        if item["type"] == "WithinBudget":
            return item["status"], item["reason"]
    return None


async def test_a_sibling_estimate_moves_the_namespace_budget_verdict_of_the_others(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    kube.objects["v1/namespaces", None, "shop"] = ks.namespace("shop", {"tier": "prod"})
    one = Decimal(money(nat_monthly(1)))
    budget = money(one + one / 2)  # room for one and a half NAT gateways
    kube.objects[ks.COSTPOLICIES, None, "shop-budget"] = policy(
        "shop-budget",
        {
            "enforcement": "Warn",
            "namespaceSelector": {"matchLabels": {"tier": "prod"}},
            "limits": {"namespaceMonthlyBudget": budget},
        },
    )
    async with operator() as memo:
        await create(
            kube, ks.COSTESTIMATES, ks.costestimate("web", "shop", {"plan": {"inline": nat_plan(1, vpcs=1)}})
        )
        await eventually(lambda: within_budget(kube, "shop", "web") == ("True", "WithinBudget"))
        first = estimate_status(kube, "shop", "web")
        estimated = estimates_made()

        # A second estimate in the namespace: together they are over budget. "web" did not change, but
        # its verdict did, and it says so without being estimated again.
        await create(
            kube, ks.COSTESTIMATES, ks.costestimate("db", "shop", {"plan": {"inline": nat_plan(1, vpcs=1)}})
        )
        await eventually(lambda: within_budget(kube, "shop", "web") == ("False", "BudgetExceeded"), within=30)
        status = estimate_status(kube, "shop", "web")
        assert status["policy"]["verdict"] == "Warn"
        excess = money(2 * one - Decimal(budget))
        assert status["policy"]["message"].startswith(
            f"CostPolicy shop-budget: namespace shop would spend {money(2 * one)} USD/month (this estimate "
            f"{money(one)} USD), over namespaceMonthlyBudget {budget} USD by {excess} USD"
        )
        unchanged = ("lastEstimatedTime", "planDigest", "monthlyCost", "observedGeneration", "topResources")
        assert {key: status[key] for key in unchanged} == {key: first[key] for key in unchanged}
        assert status_writes(kube, "shop", "web") == 2  # the estimate, then the verdict
        assert estimates_made() == estimated + 1  # db's: web was re-judged from its kept estimate
        assert memo.reconciler.state("shop", "web").basis is not None

        # The sibling goes: the namespace is within budget again.
        async with kube.delete(ks.url_of(ks.COSTESTIMATES, "shop", "db")) as response:
            assert response.status == 200
        await eventually(lambda: within_budget(kube, "shop", "web") == ("True", "WithinBudget"), within=30)
        assert estimates_made() == estimated + 1
    assert status_writes(kube, "shop", "web") == 3


def estimates_made() -> float:
    """Estimates written by this process (the counter behind cloudcostguard_estimates_total)."""
    return REGISTRY.get_sample_value("cloudcostguard_estimates_total", {"source": "inline"}) or 0.0


async def test_an_invalid_policy_is_stalled_until_its_spec_is_fixed(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    kube.objects["v1/namespaces", None, "shop"] = ks.namespace("shop")
    # A number where Kubernetes avoids floats: money limits are decimal strings.
    kube.objects[ks.COSTPOLICIES, None, "typo"] = policy(
        "typo", {"enforcement": "Deny", "limits": {"maxMonthlyCost": 300}}
    )

    def conditions() -> dict[str, tuple[str, str]]:
        return {
            c["type"]: (c["status"], c["reason"]) for c in policy_status(kube, "typo").get("conditions", [])
        }

    async with operator(policy_status_interval=0.5):
        await eventually(lambda: "Stalled" in conditions())
        assert conditions() == {"Ready": ("False", "PolicyInvalid"), "Stalled": ("True", "PolicyInvalid")}
        await patch(
            kube,
            ks.url_of(ks.COSTPOLICIES, None, "typo"),
            {"metadata": {"generation": 2}, "spec": {"limits": {"maxMonthlyCost": "300"}}},
        )
        await eventually(lambda: conditions().get("Ready") == ("True", "StatusCurrent"))
    assert conditions() == {
        "Ready": ("True", "StatusCurrent"),
        "WithinBudget": ("Unknown", "NoNamespaceBudget"),
    }
    assert policy_status(kube, "typo")["observedGeneration"] == 2

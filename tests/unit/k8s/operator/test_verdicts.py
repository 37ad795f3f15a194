"""Budget verdicts kept current: re-judged without re-estimating when the namespace's spend, the policies
or the labels change; spend bursts coalesced per namespace; wake-ups that ask for a verdict only."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.k8s.cluster import estimates as estimate_path
from cloudcostguard.k8s.operator import reconcile
from cloudcostguard.k8s.operator.loops import EstimateState
from cloudcostguard.k8s.testing import InMemoryClusterState
from tests.plans import money, nat_monthly, nat_plan
from tests.unit.k8s.operator.test_reconcile import NS, conditions, context, estimate_object

ONE = Decimal(money(nat_monthly(1)))  # what one NAT gateway costs a month, as status shows it


def policy(name: str, enforcement: str = "Warn", **limits: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"enforcement": enforcement, "limits": limits}}


def view(spend: dict[str, Decimal], policies: list[dict[str, Any]]) -> InMemoryClusterState:
    """The cluster: the namespace's CostEstimates with their status.monthlyCost, and the policies."""
    estimates = [
        {"metadata": {"name": name}, "status": {"monthlyCost": str(cost)}} for name, cost in spend.items()
    ]
    return InMemoryClusterState(
        policies=policies, labels_by_namespace={NS: {"env": "prod"}}, estimates={NS: estimates}
    )


def judged_context() -> reconcile.ReconcileContext:
    return dataclasses.replace(context(), judge=reconcile.EvaluationJudge())


class Estimates:
    """Counts estimates (and can forbid them) while delegating to the real estimator."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.allowed = True
        real: Callable[..., Any] = cloudcostguard.estimate

        def counted(*args: Any, **kwargs: Any) -> Any:
            assert self.allowed, "re-estimated although only the verdict could have changed"
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(estimate_path.cloudcostguard, "estimate", counted)


def budget(status: dict[str, Any]) -> tuple[str, str, str]:
    found = conditions(status)["WithinBudget"]
    return found["status"], found["reason"], found["message"]


async def test_a_sibling_pushing_the_namespace_over_budget_flips_the_verdict_without_re_estimating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    estimates = Estimates(monkeypatch)
    ctx, state = judged_context(), EstimateState()
    policies = [policy("team", namespaceMonthlyBudget="50")]
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})  # "web": one NAT gateway
    first = await reconcile.reconcile_estimate(obj, state, ctx, view({}, policies))
    assert first.result == "estimated" and estimates.count == 1
    assert budget(first.status)[:2] == ("True", "WithinBudget")
    assert state.budget_sensitive

    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the plan was read again")

    monkeypatch.setattr(ctx.resolver, "resolve", refuse)
    estimates.allowed = False
    stored = estimate_object(obj.spec, first.status)
    over = view({"web": ONE, "db": ONE}, policies)  # "db" was estimated: the namespace spends 2 × ONE
    refreshed = await reconcile.refresh_verdict(stored, state, ctx, over)
    assert refreshed.result == "verdict"
    assert set(refreshed.status) == {"policy", "conditions"}  # the estimate itself is not rewritten
    message = (
        f"CostPolicy team: namespace {NS} would spend {money(2 * ONE)} USD/month (this estimate "
        f"{money(ONE)} USD), over namespaceMonthlyBudget 50.00 USD by {money(2 * ONE - 50)} USD. "
        f"Top cost drivers: aws_nat_gateway.gw_new_0 {money(ONE)} USD"
    )
    assert budget(refreshed.status) == ("False", "BudgetExceeded", message)
    assert refreshed.status["policy"] == {
        "name": "team",
        "enforcement": "Warn",
        "verdict": "Warn",
        "message": message,
    }
    for kept in ("Ready", "Estimated"):
        assert conditions(refreshed.status)[kept] == conditions(first.status)[kept]

    stored = estimate_object(obj.spec, {**first.status, **refreshed.status})
    again = await reconcile.refresh_verdict(stored, state, ctx, over)
    assert (again.result, again.status) == ("unchanged", None)  # same verdict: no write

    back = await reconcile.refresh_verdict(stored, state, ctx, view({"web": ONE}, policies))  # db deleted
    assert back.result == "verdict"
    assert budget(back.status)[:2] == ("True", "WithinBudget")
    assert back.status["policy"]["verdict"] == "WithinBudget"
    assert estimates.count == 1


async def test_a_resync_with_unchanged_inputs_re_judges_too(monkeypatch: pytest.MonkeyPatch) -> None:
    estimates = Estimates(monkeypatch)
    ctx, state = judged_context(), EstimateState()
    policies = [policy("team", namespaceMonthlyBudget="50")]
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})
    first = await reconcile.reconcile_estimate(obj, state, ctx, view({}, policies))
    estimates.allowed = False
    stored = estimate_object(obj.spec, first.status)
    resync = await reconcile.reconcile_estimate(stored, state, ctx, view({"web": ONE, "db": ONE}, policies))
    assert resync.result == "verdict"
    assert budget(resync.status)[:2] == ("False", "BudgetExceeded")


async def test_an_edited_policy_is_judged_against_the_last_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    estimates = Estimates(monkeypatch)
    ctx, state = judged_context(), EstimateState()
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})
    first = await reconcile.reconcile_estimate(obj, state, ctx, view({}, [policy("cap", "Deny")]))
    assert budget(first.status)[:2] == ("True", "WithinBudget")
    assert not state.budget_sensitive  # no namespace budget: sibling spend cannot move this verdict
    estimates.allowed = False
    tightened = [policy("cap", "Deny", maxMonthlyCost="10")]
    outcome = await reconcile.refresh_verdict(
        estimate_object(obj.spec, first.status), state, ctx, view({}, tightened)
    )
    assert outcome.result == "verdict"
    assert outcome.status["policy"]["verdict"] == "Deny"
    assert budget(outcome.status) == (
        "False",
        "BudgetExceeded",
        f"CostPolicy cap: monthly cost {money(ONE)} USD exceeds maxMonthlyCost 10.00 USD by "
        f"{money(ONE - 10)} USD. Top cost drivers: aws_nat_gateway.gw_new_0 {money(ONE)} USD",
    )
    assert ctx.judge is not None and state.reconciled is not None
    applying = ctx.judge.applicable(obj, view({}, tightened))
    assert state.reconciled.policies == reconcile.policies_fingerprint(applying) is not None


async def test_without_an_estimate_of_the_current_generation_a_verdict_wake_up_estimates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    estimates = Estimates(monkeypatch)
    ctx, policies = judged_context(), [policy("team", namespaceMonthlyBudget="50")]
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})
    first = await reconcile.reconcile_estimate(obj, EstimateState(), ctx, view({}, policies))
    # A replica that just became the leader remembers nothing: it estimates (and writes only news).
    fresh = EstimateState()
    outcome = await reconcile.refresh_verdict(
        estimate_object(obj.spec, first.status), fresh, ctx, view({}, policies)
    )
    assert (outcome.result, estimates.count) == ("unchanged", 2)
    assert fresh.basis is not None
    # A new generation is never judged from the old estimate.
    bumped = estimate_object({"plan": {"inline": nat_plan(2, vpcs=1)}}, first.status, generation=2)
    outcome = await reconcile.refresh_verdict(bumped, fresh, ctx, view({}, policies))
    assert (outcome.result, estimates.count) == ("estimated", 3)
    assert outcome.status["monthlyCost"] == money(2 * ONE)


async def test_the_verdict_basis_keeps_totals_and_cost_drivers_only() -> None:
    ctx = context()
    obj = estimate_object({"plan": {"inline": nat_plan(25, vpcs=1)}})
    state = EstimateState()
    await reconcile.reconcile_estimate(obj, state, ctx, view({}, []))
    basis = state.basis
    assert basis is not None
    assert len(basis.resources) == 20  # TOP_RESOURCES_MAX of the 26 (25 gateways and a free VPC)
    assert basis.total_monthly_cost == 25 * nat_monthly(1)
    assert basis.past_total_monthly_cost == 0
    assert [r.address for r in basis.top_resources(3)] == [f"aws_nat_gateway.gw_new_{i}" for i in (0, 1, 10)]

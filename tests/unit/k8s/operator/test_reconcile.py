"""Reconcile rules without an API server: status content, idempotency, failures, backoff, events."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

import cloudcostguard
from cloudcostguard.k8s.api.models import COVERAGE_ADDRESSES_MAX, TOP_RESOURCES_MAX
from cloudcostguard.k8s.cluster.plan_sources import PlanResolver, digest_of
from cloudcostguard.k8s.operator import reconcile
from cloudcostguard.k8s.operator.loops import EstimateState
from cloudcostguard.k8s.testing import InMemoryClusterState
from cloudcostguard.policy.model import CostPolicy
from cloudcostguard.pricing.catalog import Price, PriceCatalog
from cloudcostguard.pricing.catalog_provider import CatalogStatus, StaticCatalogProvider
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings
from tests.plans import money, nat_monthly, nat_plan

NOW = "2026-01-02T03:04:05Z"
NS = "team-a"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RepricedCatalog:
    """The bundled prices under another version name (what a pricing store update looks like)."""

    def __init__(self, version: str, factor: Decimal = Decimal(1)) -> None:
        self._inner = load_bundled_catalog()
        self.version = version
        self.source = "test"
        self._factor = factor

    def lookup(self, service: str, region: str, /, **attributes: str) -> Price | None:
        price = self._inner.lookup(service, region, **attributes)
        if price is None or self._factor == 1:
            return price
        tiers = tuple(type(t)(t.start, t.end, t.unit_price * self._factor) for t in price.tiers)
        return Price(price.unit, tiers, price.origin, price.confidence)


class NotLoaded(StaticCatalogProvider):
    @property
    def ready(self) -> bool:
        return False


def context(
    catalog: PriceCatalog | None = None, clock: Clock | None = None, provider: Any = None, **settings: Any
) -> reconcile.ReconcileContext:
    config = Settings(retry_delay=2.0, retry_max_delay=10.0, **settings)
    return reconcile.ReconcileContext(
        settings=config,
        catalog_provider=provider or StaticCatalogProvider(catalog or load_bundled_catalog()),
        resolver=PlanResolver(config),
        clock=clock or Clock(),
        now=lambda: NOW,
    )


EMPTY_VIEW = InMemoryClusterState()


def estimate_object(spec: dict[str, Any], status: dict[str, Any] | None = None, generation: int = 1) -> Any:
    return reconcile.EstimateObject(NS, "web", generation, {}, spec, status or {})


async def run(obj: Any, state: EstimateState, ctx: reconcile.ReconcileContext, view: Any = EMPTY_VIEW) -> Any:
    return await reconcile.reconcile_estimate(obj, state, ctx, view)


def conditions(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["type"]: item for item in status["conditions"]}


async def test_estimate_status_has_every_contract_field() -> None:
    plan = nat_plan(2, vpcs=1)
    outcome = await run(estimate_object({"plan": {"inline": plan}}), EstimateState(), context())
    status = outcome.status
    expected = money(nat_monthly(2))
    raw = orjson.dumps(plan, option=orjson.OPT_SORT_KEYS)
    assert outcome.result == "estimated"
    assert {key: value for key, value in status.items() if key not in ("conditions", "topResources")} == {
        "observedGeneration": 1,
        "phase": "Estimated",
        "currency": "USD",
        "monthlyCost": expected,
        "pastMonthlyCost": "0.00",
        "diffMonthlyCost": expected,
        "planDigest": digest_of(raw),
        "pricingVersion": load_bundled_catalog().version,
        "lastEstimatedTime": NOW,
        "resourceCounts": {"total": 3, "priced": 2, "free": 1, "unsupported": 0},
        "unsupportedResourceTypes": [],
        "coverage": {
            "priced": 2,
            "free": 1,
            "unsupported": 0,
            "priceNotFound": 0,
            "unpricedAdded": 0,
            "unsupportedAddresses": [],
            "priceNotFoundAddresses": [],
        },
        "policy": None,
    }
    one = money(nat_monthly(1))
    assert status["topResources"] == [
        {"address": f"aws_nat_gateway.gw_new_{i}", "type": "aws_nat_gateway", "action": "create",
         "monthlyCost": one, "diffMonthlyCost": one}
        for i in range(2)
    ]  # fmt: skip
    ready = conditions(status)["Ready"]
    assert ready == {
        "type": "Ready",
        "status": "True",
        "reason": "Estimated",
        "message": f"{expected} USD/month (+{expected} USD) from spec.plan.inline, bundled "
        f"{load_bundled_catalog().version} prices",
        "lastTransitionTime": NOW,
        "observedGeneration": 1,
    }
    assert conditions(status)["WithinBudget"]["status"] == "Unknown"
    assert set(conditions(status)) == {"Ready", "Estimated", "WithinBudget"}
    assert outcome.event == (
        "Normal",
        "Estimated",
        f"Monthly cost {expected} USD (+{expected} USD); 2 priced, 1 free, 0 unsupported resources; "
        f"bundled {load_bundled_catalog().version} prices",
    )


async def test_unchanged_inputs_do_no_work_and_write_nothing() -> None:
    ctx, state = context(), EstimateState()
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})
    first = await run(obj, state, ctx)
    second = await run(estimate_object(obj.spec, first.status), state, ctx)
    assert (second.result, second.status, second.event) == ("unchanged", None, None)


async def test_a_restarted_operator_does_not_rewrite_a_current_status() -> None:
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})
    first = await run(obj, EstimateState(), context())
    restarted = await run(estimate_object(obj.spec, first.status), EstimateState(), context())
    assert (restarted.result, restarted.status) == ("unchanged", None)


async def test_new_prices_re_estimate_and_new_generation_too() -> None:
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})
    state = EstimateState()
    first = await run(obj, state, context())
    repriced = await run(
        estimate_object(obj.spec, first.status), state, context(RepricedCatalog("v2", Decimal(2)))
    )
    assert repriced.result == "estimated"
    assert repriced.status["pricingVersion"] == "v2"
    assert repriced.status["monthlyCost"] == money(2 * nat_monthly(1))
    bumped = await run(
        estimate_object({"plan": {"inline": nat_plan(3, vpcs=1)}}, repriced.status, generation=2),
        state,
        context(RepricedCatalog("v2", Decimal(2))),
    )
    assert bumped.status["observedGeneration"] == 2
    assert bumped.status["monthlyCost"] == money(2 * nat_monthly(3))


async def test_same_prices_under_a_new_version_update_status_without_an_event() -> None:
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})
    state = EstimateState()
    first = await run(obj, state, context())
    again = await run(estimate_object(obj.spec, first.status), state, context(RepricedCatalog("v3")))
    assert again.result == "estimated"
    assert again.status["pricingVersion"] == "v3"
    assert again.event is None  # the cost did not change


async def test_unreadable_plan_is_stalled_and_not_retried() -> None:
    ctx, state = context(), EstimateState()
    obj = estimate_object({"plan": {"inline": {"resource_changes": []}}})
    failed = await run(obj, state, ctx)
    assert failed.result == "failed"
    assert failed.retry_in is None
    assert failed.status["phase"] == "Failed"
    found = conditions(failed.status)
    assert (found["Stalled"]["status"], found["Stalled"]["reason"]) == ("True", "PlanInvalid")
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "PlanInvalid")
    assert failed.event is not None and failed.event[:2] == ("Warning", "PlanInvalid")
    again = await run(estimate_object(obj.spec, failed.status), state, ctx)
    assert (again.result, again.status, again.event) == ("stalled", None, None)


async def test_invalid_spec_is_stalled_with_spec_invalid() -> None:
    spec = {"plan": {"url": "https://example.com/p.json", "inline": nat_plan(1, vpcs=1)}}
    failed = await run(estimate_object(spec), EstimateState(), context())
    assert failed.reason == "SpecInvalid"
    assert "exactly one of inline, configMapKeyRef, secretKeyRef, terraformRef, url must be set" in str(
        conditions(failed.status)["Ready"]["message"]
    )


async def test_missing_plan_object_retries_with_growing_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile.random, "uniform", lambda low, high: 0.0)
    clock = Clock()
    ctx, state = context(clock=clock), EstimateState()
    obj = estimate_object({"plan": {"configMapKeyRef": {"name": "plans", "key": "plan.json"}}})
    first = await run(obj, state, ctx)
    assert (first.result, first.reason, first.retry_in) == ("retrying", "PlanNotFound", 2.0)
    assert first.status["phase"] == "Pending"
    assert "Stalled" not in conditions(first.status)
    assert conditions(first.status)["Ready"]["message"].endswith("(retrying)")

    too_early = await run(estimate_object(obj.spec, first.status), state, ctx)
    assert (too_early.result, too_early.status) == ("waiting", None)
    delays = []
    for _attempt in range(4):
        clock.now += 60
        outcome = await run(estimate_object(obj.spec, first.status), state, ctx)
        delays.append(outcome.retry_in)
        assert outcome.status is None  # the same failure: nothing new to write
        assert outcome.event is None  # and no repeated Event
    assert delays == [4.0, 8.0, 10.0, 10.0]

    plans = {"kind": "ConfigMap", "metadata": {"namespace": NS, "name": "plans"}}
    view = InMemoryClusterState(
        sources=[{**plans, "data": {"plan.json": orjson.dumps(nat_plan(1, vpcs=1)).decode()}}]
    )
    recovered = await run(estimate_object(obj.spec, first.status), state, ctx, view)
    assert recovered.result == "estimated"
    assert state.failure is None


async def test_prices_not_loaded_is_transient() -> None:
    provider = NotLoaded(load_bundled_catalog())
    outcome = await run(
        estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}}),
        EstimateState(),
        context(provider=provider),
    )
    assert (outcome.result, outcome.reason) == ("retrying", "PricingUnavailable")


def test_backoff_is_exponential_capped_and_jittered() -> None:
    settings = Settings(retry_delay=5, retry_max_delay=300)
    assert [reconcile.backoff_delay(n, settings, jitter=0) for n in (1, 2, 3, 7, 8, 20)] == [
        5,
        10,
        20,
        300,
        300,
        300,
    ]
    assert reconcile.backoff_delay(1, settings, jitter=0.1) == pytest.approx(5.5)
    for _ in range(50):
        assert 4.5 <= reconcile.backoff_delay(1, settings) <= 5.5


async def test_policy_judge_verdict_lands_in_status_and_budget_condition() -> None:
    class Judge:
        def applicable(self, obj: Any, cluster: Any) -> list[Any]:
            return []

        def judge(self, obj: Any, estimate: Any, policies: Any, cluster: Any) -> reconcile.PolicyOutcome:
            return reconcile.PolicyOutcome(
                False,
                "BudgetExceeded",
                "over maxMonthlyCost 10",
                {"name": "cap", "enforcement": "Warn", "verdict": "Warn", "message": "m"},
            )

    ctx = context()
    ctx = reconcile.ReconcileContext(
        ctx.settings, ctx.catalog_provider, ctx.resolver, judge=Judge(), now=lambda: NOW
    )
    outcome = await run(estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}}), EstimateState(), ctx)
    assert outcome.status["policy"] == {
        "name": "cap",
        "enforcement": "Warn",
        "verdict": "Warn",
        "message": "m",
    }
    budget = conditions(outcome.status)["WithinBudget"]
    assert (budget["status"], budget["reason"], budget["message"]) == (
        "False",
        "BudgetExceeded",
        "over maxMonthlyCost 10",
    )


def test_catalog_status_shape_is_what_metrics_read() -> None:
    status = StaticCatalogProvider(load_bundled_catalog()).status()
    assert isinstance(status, CatalogStatus)
    assert status.source == "bundled"


async def test_bad_usage_is_stalled_with_usage_invalid() -> None:
    spec = {
        "plan": {"inline": nat_plan(1, vpcs=1)},
        "usage": {"aws_nat_gateway.gw_new_0": {"monthly_data_processed_gb": -5}},
    }
    outcome = await run(estimate_object(spec), EstimateState(), context())
    assert (outcome.result, outcome.reason) == ("failed", "UsageInvalid")
    assert conditions(outcome.status)["Stalled"]["status"] == "True"


def _unpriced_plan(made_up: int) -> dict[str, Any]:
    document = nat_plan(1)
    document["resource_changes"] += [
        {
            "address": f"aws_made_up_thing.t{i}",
            "mode": "managed",
            "type": "aws_made_up_thing",
            "name": f"t{i}",
            "change": {"actions": ["create"], "before": None, "after": {}, "after_unknown": {}},
        }
        for i in range(made_up)
    ]
    return document


async def test_coverage_in_status_counts_everything_and_bounds_the_addresses() -> None:
    made_up = COVERAGE_ADDRESSES_MAX + 5
    outcome = await run(
        estimate_object({"plan": {"inline": _unpriced_plan(made_up)}}), EstimateState(), context()
    )
    coverage = outcome.status["coverage"]
    assert {k: v for k, v in coverage.items() if not k.endswith("Addresses")} == {
        "priced": 1,
        "free": 0,
        "unsupported": made_up,
        "priceNotFound": 0,
        "unpricedAdded": made_up,
    }
    assert coverage["unsupportedAddresses"] == [
        f"aws_made_up_thing.t{i}" for i in range(COVERAGE_ADDRESSES_MAX)
    ]


async def test_a_re_judged_verdict_still_sees_the_unpriced_additions() -> None:
    """The verdict basis keeps the unpriced resources a change adds, not only the top cost drivers."""
    document = _unpriced_plan(TOP_RESOURCES_MAX + 3)
    estimate = cloudcostguard.estimate(document)
    basis = reconcile.verdict_basis(estimate)
    assert [r.address for r in basis.unpriced_additions()] == [
        r.address for r in estimate.unpriced_additions()
    ]
    assert (basis.total_monthly_cost, basis.past_total_monthly_cost) == (
        estimate.total_monthly_cost,
        estimate.past_total_monthly_cost,
    )
    policy = CostPolicy.from_object({"metadata": {"name": "p"}, "spec": {"unpriced": "Deny"}})
    judge = reconcile.EvaluationJudge()
    obj = estimate_object({"plan": {"inline": document}})
    full, rejudged = (judge.judge(obj, e, [policy], EMPTY_VIEW) for e in (estimate, basis))
    assert full is not None and rejudged is not None
    assert (rejudged.within_budget, rejudged.reason, rejudged.message) == (
        full.within_budget,
        full.reason,
        full.message,
    )
    assert (full.within_budget, full.reason) == (False, "UnpricedResources")

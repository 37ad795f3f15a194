"""The one path from a CostEstimate spec to an Estimate: one validation, one offload threshold, and
unexpected failures mapped to our errors in one place."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest

from cloudcostguard import errors
from cloudcostguard.k8s.cluster import estimates
from cloudcostguard.k8s.cluster.estimates import OFFLOAD_PLAN_BYTES, estimate_spec, parse_spec
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings
from tests.plans import money, nat_monthly, nat_plan


def test_a_spec_of_the_wrong_shape_names_the_field() -> None:
    with pytest.raises(errors.SpecError) as caught:
        parse_spec({"plan": {"inline": {}, "url": "https://example.com/p.json"}})
    assert caught.value.reason == "SpecInvalid"
    assert str(caught.value).startswith("spec.plan: Value error, exactly one of inline, configMapKeyRef")
    with pytest.raises(errors.SpecError, match=r"^spec\.defaultRegion: String should match pattern"):
        parse_spec({"plan": {"inline": {}}, "defaultRegion": "Mars"})


async def test_the_spec_gives_usage_and_default_region() -> None:
    spec = parse_spec(
        {
            "plan": {"inline": {}},
            "usage": {"aws_nat_gateway.gw_new_0": {"monthly_data_processed_gb": 100}},
            "defaultRegion": "us-east-1",
        }
    )
    plan = {**nat_plan(1), "configuration": {}}  # no provider region: the spec's default applies
    estimate = await estimate_spec(
        plan,
        spec,
        catalog=load_bundled_catalog(),
        settings=Settings(default_region="eu-west-1"),
        max_plan_bytes=10**6,
    )
    assert money(estimate.total_monthly_cost) == money(nat_monthly(1, data_gb=100))


async def test_only_plans_above_the_threshold_leave_the_event_loop(estimate_threads: list[str]) -> None:
    threads = estimate_threads
    spec, catalog, settings = parse_spec({"plan": {"inline": {}}}), load_bundled_catalog(), Settings()
    small = orjson.dumps(nat_plan(1))
    large = orjson.dumps({**nat_plan(1), "padding": "x" * OFFLOAD_PLAN_BYTES})
    assert len(small) <= OFFLOAD_PLAN_BYTES < len(large)
    for plan in (small, large):
        await estimate_spec(
            plan, spec, catalog=catalog, settings=settings, max_plan_bytes=10 * OFFLOAD_PLAN_BYTES
        )
    assert threads[0] == threading.current_thread().name
    assert threads[1] != threading.current_thread().name


@pytest.mark.parametrize(
    ("failure", "error", "message"),
    [
        (RecursionError("deep"), errors.PlanError, "plan is nested too deeply"),
        (MemoryError(), errors.PlanTooLargeError, "plan is too large to estimate"),
        (KeyError("after"), errors.PlanError, "the plan could not be estimated: KeyError('after')"),
    ],
)
async def test_unexpected_failures_become_our_errors(
    monkeypatch: pytest.MonkeyPatch,
    failure: BaseException,
    error: type[errors.CloudCostGuardError],
    message: str,
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise failure

    monkeypatch.setattr(estimates.cloudcostguard, "estimate", broken)
    with pytest.raises(error) as caught:
        await estimate_spec(
            b"{}",
            parse_spec({"plan": {"inline": {}}}),
            catalog=load_bundled_catalog(),
            settings=Settings(),
            max_plan_bytes=100,
        )
    assert type(caught.value) is error and str(caught.value) == message

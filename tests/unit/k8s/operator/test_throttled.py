"""Throttled reconciles: Ready=False reason Throttled with a retry when nothing is estimated yet, the
status left alone when an estimate of this generation stands, never Stalled."""

from __future__ import annotations

import asyncio
from typing import Any

from cloudcostguard import errors
from cloudcostguard.k8s.cluster.plan_sources import PlanResolver
from cloudcostguard.k8s.cluster.throttling import FairLimiter
from cloudcostguard.k8s.operator import handlers, reconcile
from cloudcostguard.k8s.operator.loops import EstimateState
from cloudcostguard.pricing.catalog_provider import StaticCatalogProvider
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings
from tests.plans import nat_plan
from tests.unit.k8s.operator.test_reconcile import EMPTY_VIEW, NOW, Clock, conditions, estimate_object

URL_SPEC = {"plan": {"url": "https://plans.example/plan.json"}}


class ThrottledFetcher:
    """A URL fetcher whose namespace is over its rate."""

    async def fetch(self, url: str, *, namespace: str = "") -> bytes:
        raise errors.ThrottledError(f"namespace {namespace} is over its rate", retry_after=4.0)


def context(
    limiter: FairLimiter | None = None, fetcher: Any = None, **settings: Any
) -> reconcile.ReconcileContext:
    config = Settings(**{"retry_delay": 2.0, "retry_max_delay": 10.0, "throttle_max_wait": 0.05, **settings})
    return reconcile.ReconcileContext(
        settings=config,
        catalog_provider=StaticCatalogProvider(load_bundled_catalog()),
        resolver=PlanResolver(config, fetcher),
        limiter=limiter,
        clock=Clock(),
        now=lambda: NOW,
    )


async def test_no_free_reconcile_slot_reports_throttled_and_retries() -> None:
    limiter = FairLimiter(total=4, per_key=1, what="reconciles")
    await limiter.acquire("team-a", max_wait=1, retry_after=1)  # another CostEstimate of the namespace
    ctx = context(limiter)
    state = EstimateState()
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})

    outcome = await reconcile.reconcile_estimate(obj, state, ctx, EMPTY_VIEW)

    assert outcome.result == "throttled"
    assert outcome.reason == "Throttled"
    assert outcome.status is not None
    assert outcome.status["phase"] == "Pending"
    found = conditions(outcome.status)
    assert found["Ready"]["status"] == "False"
    assert found["Ready"]["reason"] == "Throttled"
    assert found["Ready"]["message"] == (
        "namespace team-a is at its limit of 1 concurrent reconciles (or the operator at its limit of 4): "
        "not started within 0.05 s (retrying)"
    )
    assert "Stalled" not in found
    assert outcome.retry_in is not None and 2.0 <= outcome.retry_in <= 2.4  # retry_delay, spread
    assert outcome.event == ("Normal", "Throttled", found["Estimated"]["message"])
    assert state.failure is None  # nothing is wrong with the object

    # Still throttled, status already says so: no second write, no second event.
    again = await reconcile.reconcile_estimate(
        estimate_object(obj.spec, status=outcome.status), state, ctx, EMPTY_VIEW
    )
    assert (again.result, again.status, again.event) == ("throttled", None, None)

    limiter.release("team-a")
    done = await reconcile.reconcile_estimate(
        estimate_object(obj.spec, status=outcome.status), state, ctx, EMPTY_VIEW
    )
    assert done.result == "estimated"
    assert done.status is not None
    assert conditions(done.status)["Ready"]["status"] == "True"


async def test_a_standing_estimate_is_not_marked_throttled() -> None:
    limiter = FairLimiter(total=4, per_key=1, what="reconciles")
    ctx = context(limiter)
    state = EstimateState()
    obj = estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}})
    first = await reconcile.reconcile_estimate(obj, state, ctx, EMPTY_VIEW)
    assert first.result == "estimated"

    await limiter.acquire("team-a", max_wait=1, retry_after=1)
    resync = await reconcile.reconcile_estimate(
        estimate_object(obj.spec, first.status), state, ctx, EMPTY_VIEW
    )
    assert (resync.result, resync.status, resync.event) == ("throttled", None, None)
    # A restarted operator (no memory) reads the same from the status.
    fresh = await reconcile.reconcile_estimate(
        estimate_object(obj.spec, first.status), EstimateState(), ctx, EMPTY_VIEW
    )
    assert (fresh.result, fresh.status) == ("throttled", None)
    # A new generation has no standing estimate: it says why it waits.
    newer = await reconcile.reconcile_estimate(
        estimate_object(obj.spec, first.status, generation=2), state, ctx, EMPTY_VIEW
    )
    assert newer.status is not None
    assert conditions(newer.status)["Ready"]["reason"] == "Throttled"


async def test_url_rate_limit_is_throttled_with_the_buckets_retry() -> None:
    ctx = context(fetcher=ThrottledFetcher())
    outcome = await reconcile.reconcile_estimate(estimate_object(URL_SPEC), EstimateState(), ctx, EMPTY_VIEW)
    assert outcome.result == "throttled"
    assert outcome.status is not None
    assert conditions(outcome.status)["Ready"]["message"] == "namespace team-a is over its rate (retrying)"
    assert outcome.retry_in is not None and 4.0 <= outcome.retry_in <= 4.8


class Stopped:
    """What the reconcile loop reads of kopf's ``stopped`` flag."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    async def wait(self) -> None:
        await self.event.wait()


async def test_a_reconcile_waiting_for_its_turn_does_not_hold_up_shutdown() -> None:
    limiter = FairLimiter(total=1, per_key=1, what="reconciles")
    await limiter.acquire("team-a", max_wait=1, retry_after=1)
    ctx = context(limiter, throttle_max_wait=30.0)
    stopped = Stopped()
    work = reconcile.reconcile_estimate(
        estimate_object({"plan": {"inline": nat_plan(1, vpcs=1)}}), EstimateState(), ctx, EMPTY_VIEW
    )
    task = asyncio.ensure_future(handlers._unless_stopped(work, stopped))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    assert limiter.waiting("team-a") == 1
    stopped.event.set()
    assert await asyncio.wait_for(task, 1) is None
    assert limiter.waiting() == 0  # the abandoned wait holds no place in the queue

"""Per-namespace fairness: slots granted round-robin between namespaces, caps, bounded waits, buckets."""

from __future__ import annotations

import asyncio

import pytest

from cloudcostguard import errors
from cloudcostguard.k8s.cluster.throttling import FairLimiter, TokenBuckets


async def test_one_namespace_cannot_take_more_than_its_share() -> None:
    limiter = FairLimiter(total=4, per_key=2, what="reconciles")
    for _ in range(2):
        await limiter.acquire("a", max_wait=1, retry_after=1)
    waiter = asyncio.ensure_future(limiter.acquire("a", max_wait=5, retry_after=1))
    await asyncio.sleep(0)
    assert not waiter.done()  # "a" is at its cap although 2 slots are free
    await limiter.acquire("b", max_wait=0.1, retry_after=1)  # another namespace gets in at once
    assert (limiter.in_use("a"), limiter.in_use("b"), limiter.in_use()) == (2, 1, 3)
    limiter.release("a")
    await asyncio.wait_for(waiter, 1)
    assert limiter.in_use("a") == 2


async def test_freed_slots_go_round_robin_between_namespaces() -> None:
    limiter = FairLimiter(total=1, per_key=1, what="URL fetches")
    await limiter.acquire("holder", max_wait=1, retry_after=1)
    order: list[str] = []

    async def take(namespace: str) -> None:
        await limiter.acquire(namespace, max_wait=5, retry_after=1)
        order.append(namespace)
        await asyncio.sleep(0)
        limiter.release(namespace)

    # Namespace a queues five times before b and c queue once each.
    tasks = [asyncio.ensure_future(take(ns)) for ns in ["a"] * 5 + ["b", "c"]]
    await asyncio.sleep(0)
    assert limiter.waiting() == 7
    limiter.release("holder")
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert order == ["a", "b", "c", "a", "a", "a", "a"]  # b and c wait one turn, not five


async def test_a_wait_beyond_the_bound_is_throttled_and_leaves_no_trace() -> None:
    limiter = FairLimiter(total=1, per_key=1, what="reconciles")
    await limiter.acquire("a", max_wait=1, retry_after=1)
    with pytest.raises(errors.ThrottledError) as caught:
        await limiter.acquire("a", max_wait=0.05, retry_after=7.5)
    assert caught.value.reason == "Throttled"
    assert caught.value.transient
    assert caught.value.retry_after == 7.5
    assert str(caught.value) == (
        "namespace a is at its limit of 1 concurrent reconciles (or the operator at its limit of 1): "
        "not started within 0.05 s"
    )
    assert limiter.waiting() == 0
    limiter.release("a")
    assert limiter.in_use() == 0
    await limiter.acquire("b", max_wait=0, retry_after=1)  # the given-up wait holds nothing


async def test_a_cancelled_waiter_hands_its_grant_on() -> None:
    limiter = FairLimiter(total=1, per_key=1, what="reconciles")
    await limiter.acquire("a", max_wait=1, retry_after=1)
    first = asyncio.ensure_future(limiter.acquire("b", max_wait=5, retry_after=1))
    second = asyncio.ensure_future(limiter.acquire("c", max_wait=5, retry_after=1))
    await asyncio.sleep(0)
    limiter.release("a")  # grants b ...
    first.cancel()  # ... which is cancelled before it runs: c must get the slot
    await asyncio.wait_for(second, 1)
    assert (limiter.in_use("b"), limiter.in_use("c"), limiter.in_use()) == (0, 1, 1)


async def test_slot_context_releases_on_errors() -> None:
    limiter = FairLimiter(total=1, per_key=1, what="reconciles")
    with pytest.raises(RuntimeError):
        async with limiter.slot("a", max_wait=1, retry_after=1):
            raise RuntimeError("boom")
    assert limiter.in_use() == 0


def test_bucket_allows_the_burst_then_the_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(rate=2.0, burst=3, what="URL fetches", clock=lambda: now[0])
    assert [buckets.reserve("a", max_wait=10) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.reserve("a", max_wait=10) == pytest.approx(0.5)  # waits behind the burst
    assert buckets.reserve("a", max_wait=10) == pytest.approx(1.0)  # and behind that reservation
    assert buckets.reserve("b", max_wait=0) == 0.0  # another namespace has its own bucket
    with pytest.raises(errors.ThrottledError) as caught:
        buckets.reserve("a", max_wait=1.0)
    assert caught.value.retry_after == pytest.approx(1.5)
    assert str(caught.value) == "namespace a is over its rate of 2 URL fetches/s (burst 3)"
    now[0] += 10  # refilled to the burst, not beyond
    assert [buckets.reserve("a", max_wait=0) for _ in range(3)] == [0.0, 0.0, 0.0]
    with pytest.raises(errors.ThrottledError):
        buckets.reserve("a", max_wait=0)


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        FairLimiter(total=0, per_key=1, what="x")
    with pytest.raises(ValueError, match="positive"):
        TokenBuckets(rate=0, burst=1, what="x")

"""The operator against a Kubernetes API that fails: 500s and 409s on status writes, 410 Gone on watches,
dropped watch streams, slow answers (``kube_faults.FaultyEmulator``).

What must hold: no status update is lost (the last one computed is the one written), no work storm
(each object is estimated once however often its write fails; one write attempt per backoff step),
the backoff between attempts grows and stays at most ``retry_max_delay`` (plus the loop's own pause),
the operator re-lists after a 410 or a cut stream and still reconciles new objects, and a slow answer
for one object delays no other.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import kmock
import pytest

from cloudcostguard.k8s.operator import handlers, reconcile, status_writes
from tests import kmock_support as ks
from tests.integration.operator.conftest import (
    OperatorFactory,
    eventually,
    operator,  # noqa: F401 - fixture
)
from tests.plans import money, nat_monthly, nat_plan
from tests.reliability.kube_faults import (
    Fault,
    FaultyEmulator,
    faulty_server,
    is_list,
    is_status_patch,
    is_watch,
)

pytestmark = pytest.mark.kmock

NS = "team-a"
# Backoff of these tests: 0.4 s doubling up to 1.6 s (the product's defaults are 5 s and 300 s).
RETRY_DELAY, RETRY_MAX_DELAY = 0.4, 1.6
JITTER = 0.1  # reconcile.backoff_delay spreads each delay by ±10%
SLACK = 1.0  # scheduling on a loaded 2-core machine: KMock, kopf and the test share one event loop


@pytest.fixture()
async def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FaultyEmulator]:
    async with faulty_server() as (emulator, url):
        monkeypatch.setenv("KUBECONFIG", str(ks.write_kubeconfig(tmp_path / "kubeconfig", url)))
        emulator.objects["v1/namespaces", None, NS] = ks.namespace(NS)
        yield emulator


@pytest.fixture()
def estimates(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every estimate the operator computes (one entry per computation, the plan's digest)."""
    computed: list[str] = []
    original = reconcile.estimate_spec

    async def counting(raw: bytes, *args: Any, **kwargs: Any) -> Any:
        estimate = await original(raw, *args, **kwargs)
        computed.append(estimate.plan_digest)
        return estimate

    monkeypatch.setattr(reconcile, "estimate_spec", counting)
    return computed


def named(name: str, match: Callable[[kmock.Request], bool]) -> Callable[[kmock.Request], bool]:
    return lambda request: request.name == name and match(request)


def status_of(kube: FaultyEmulator, name: str) -> dict[str, Any]:
    return dict(ks.live_object(kube, ks.COSTESTIMATES, NS, name).get("status", {}))


def estimated(kube: FaultyEmulator, *names: str) -> Callable[[], bool]:
    return lambda: all(status_of(kube, name).get("phase") == "Estimated" for name in names)


def status_patches(kube: FaultyEmulator, name: str) -> int:
    match = named(name, is_status_patch(ks.COSTESTIMATES))
    return sum(1 for request in kube if match(request))


def requests_matching(kube: FaultyEmulator, match: Callable[[kmock.Request], bool]) -> int:
    return sum(1 for request in kube if match(request))


async def create(kube: FaultyEmulator, name: str, gateways: int = 1) -> None:
    body = ks.costestimate(name, NS, {"plan": {"inline": nat_plan(gateways, vpcs=1)}})
    async with kube.post(ks.url_of(ks.COSTESTIMATES, NS), json=body) as response:
        assert response.status < 300, await response.text()


def gaps(times: list[float]) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(times)]


def backoff_bounds(attempt: int) -> tuple[float, float]:
    """Least and most time between write attempt ``attempt`` (failed) and the next one."""
    base = min(RETRY_DELAY * 2 ** (attempt - 1), RETRY_MAX_DELAY)
    least = max(base * (1 - JITTER), handlers.LOOP_PAUSE)
    return least - 0.05, base * (1 + JITTER) + handlers.LOOP_PAUSE + SLACK


async def test_conflicts_on_status_writes_are_retried_with_a_growing_bounded_backoff(
    kube: FaultyEmulator,
    operator: OperatorFactory,  # noqa: F811
    estimates: list[str],
) -> None:
    # A 409 on a status merge-patch: before the fix, kopf's timer ended on it, the estimate was never
    # written and the object never reconciled again by this process.
    conflicts = kube.inject(Fault(is_status_patch(ks.COSTESTIMATES), status=409, times=5))
    kube.objects[ks.COSTESTIMATES, NS, "egress"] = ks.costestimate(
        "egress", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}}
    )
    async with operator(retry_delay=RETRY_DELAY, retry_max_delay=RETRY_MAX_DELAY):
        await eventually(estimated(kube, "egress"), within=30)
        written_at = time.monotonic()
        await asyncio.sleep(1.5)  # room for a storm, were there one

    assert len(conflicts.hits) == 5
    assert status_of(kube, "egress")["monthlyCost"] == money(nat_monthly(1))
    assert len(estimates) == 1  # estimated once; only the write was repeated
    assert status_patches(kube, "egress") == 6  # 5 refused, 1 taken, none after
    intervals = gaps([*conflicts.hits, written_at])
    print("409 x5: seconds between write attempts", [round(gap, 2) for gap in intervals])
    for attempt, interval in enumerate(intervals, start=1):
        least, most = backoff_bounds(attempt)
        assert least <= interval <= most, (attempt, intervals)
    assert intervals[2] > intervals[0] + 0.5  # it grows: 0.4 → 1.6 s
    assert max(intervals) <= RETRY_MAX_DELAY * (1 + JITTER) + handlers.LOOP_PAUSE + SLACK


async def test_server_errors_on_status_writes_lose_no_update_and_start_no_storm(
    kube: FaultyEmulator,
    operator: OperatorFactory,  # noqa: F811
    estimates: list[str],
) -> None:
    names = [f"stack-{index}" for index in range(4)]
    faults = {
        name: kube.inject(Fault(named(name, is_status_patch(ks.COSTESTIMATES)), status=500, times=4))
        for name in names
    }
    for index, name in enumerate(names, start=1):
        kube.objects[ks.COSTESTIMATES, NS, name] = ks.costestimate(
            name, NS, {"plan": {"inline": nat_plan(index, vpcs=1)}}
        )
    async with operator(retry_delay=RETRY_DELAY, retry_max_delay=RETRY_MAX_DELAY):
        await eventually(estimated(kube, *names), within=40)
        await asyncio.sleep(1.5)

    for index, name in enumerate(names, start=1):
        assert len(faults[name].hits) == 4
        assert status_of(kube, name)["monthlyCost"] == money(nat_monthly(index))
        assert status_patches(kube, name) == 5, name
    assert len(estimates) == len(names)


async def test_an_update_computed_while_writes_fail_is_the_one_written(
    kube: FaultyEmulator,
    operator: OperatorFactory,  # noqa: F811
    estimates: list[str],
) -> None:
    """A new generation arrives while the first estimate's write keeps failing: the status ends with
    the newest estimate (merge-patches compose), and nothing older is written after it."""
    failing = kube.inject(Fault(is_status_patch(ks.COSTESTIMATES), status=500, times=3))
    kube.objects[ks.COSTESTIMATES, NS, "egress"] = ks.costestimate(
        "egress", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}}
    )
    async with operator(retry_delay=RETRY_DELAY, retry_max_delay=RETRY_MAX_DELAY):
        await eventually(lambda: len(failing.hits) >= 1)
        patch = {"metadata": {"generation": 2}, "spec": {"plan": {"inline": nat_plan(3, vpcs=1)}}}
        async with kube.patch(
            ks.url_of(ks.COSTESTIMATES, NS, "egress"),
            json=patch,
            headers={"Content-Type": "application/merge-patch+json"},
        ) as response:
            assert response.status < 300
        await eventually(lambda: status_of(kube, "egress").get("observedGeneration") == 2, within=30)
        await asyncio.sleep(1.5)

    status = status_of(kube, "egress")
    assert len(failing.hits) == 3
    assert (status["phase"], status["monthlyCost"]) == ("Estimated", money(nat_monthly(3)))
    assert len(estimates) == 2  # one per generation


async def test_a_410_gone_on_the_watch_makes_the_operator_re_list_and_keep_reconciling(
    kube: FaultyEmulator,
    operator: OperatorFactory,  # noqa: F811
) -> None:
    gone = kube.inject(Fault(is_watch(ks.COSTESTIMATES), watch_error=410, times=2))
    async with operator():
        await eventually(lambda: len(gone.hits) == 2)
        await create(kube, "after-gone")
        await eventually(estimated(kube, "after-gone"))
    # One listing at start, one after each 410 (kopf restarts the watch from a fresh list).
    assert requests_matching(kube, is_list(ks.COSTESTIMATES)) >= 3
    assert status_of(kube, "after-gone")["monthlyCost"] == money(nat_monthly(1))


async def test_dropped_watch_streams_are_reopened_and_new_objects_still_reconciled(
    kube: FaultyEmulator,
    operator: OperatorFactory,  # noqa: F811
) -> None:
    async with operator():
        await create(kube, "before")
        await eventually(estimated(kube, "before"))
        for round_ in range(3):  # three cuts in a row, as an API server restart would do
            watches = requests_matching(kube, is_watch(ks.COSTESTIMATES))
            assert kube.drop_watches() >= 1
            await eventually(lambda w=watches: requests_matching(kube, is_watch(ks.COSTESTIMATES)) > w)
            await create(kube, f"after-cut-{round_}", gateways=round_ + 2)
        await eventually(estimated(kube, *(f"after-cut-{n}" for n in range(3))))
    for round_ in range(3):
        assert status_of(kube, f"after-cut-{round_}")["monthlyCost"] == money(nat_monthly(round_ + 2))


async def test_a_slow_status_write_delays_no_other_object(
    kube: FaultyEmulator,
    operator: OperatorFactory,  # noqa: F811
) -> None:
    slow = kube.inject(Fault(named("slow", is_status_patch(ks.COSTESTIMATES)), delay=4.0, times=1))
    async with operator():
        await create(kube, "slow")
        await eventually(lambda: len(slow.hits) == 1)
        started = time.monotonic()
        await create(kube, "fast")
        await eventually(estimated(kube, "fast"), within=10)
        fast_took = time.monotonic() - started
        assert status_of(kube, "slow").get("phase") is None  # its write is still in flight
        await eventually(estimated(kube, "slow"), within=15)
    print(f"slow write (4 s) on one object: the other estimated and written in {fast_took:.2f} s")
    assert fast_took < 3.0  # well inside the 4 s the other object's write hangs


async def test_a_status_write_that_hangs_is_abandoned_at_its_timeout_and_retried(
    kube: FaultyEmulator,
    operator: OperatorFactory,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(status_writes, "WRITE_TIMEOUT", 1.0)
    # The first write hangs for 20 s (an overloaded API server). The client gives up after 1 s; this
    # emulator, like a real server, may still apply it late: the retry writes the same status anyway.
    hung = kube.inject(Fault(is_status_patch(ks.COSTESTIMATES), delay=20.0, times=1))
    async with operator(retry_delay=RETRY_DELAY, retry_max_delay=RETRY_MAX_DELAY):
        await create(kube, "egress")
        await eventually(lambda: len(hung.hits) == 1)
        await eventually(estimated(kube, "egress"), within=10)
        took = time.monotonic() - hung.hits[0]
    print(f"hung write (20 s): written by the retry {took:.2f} s after the first attempt")
    # Timeout (1 s) + one backoff step + the loop pause, not the 20 s the answer would have taken.
    assert took < status_writes.WRITE_TIMEOUT + backoff_bounds(1)[1]
    assert status_patches(kube, "egress") == 2
    assert status_of(kube, "egress")["monthlyCost"] == money(nat_monthly(1))

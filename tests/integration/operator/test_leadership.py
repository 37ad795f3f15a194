"""Replicas against KMock: the Lease decides who writes; a standby keeps watching (fresh indexes) and
writes nothing; it takes a released Lease at once and a silent one after the lease duration.

The other replica is played by the test: it holds, renews, releases or takes the Lease by patching it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import kmock
import pytest

from tests import kmock_support as ks
from tests.integration.operator.conftest import OperatorFactory, eventually
from tests.integration.operator.test_costestimate import (
    NS,
    create,
    events_for,
    patch,
    status_of,
    status_patches,
)
from tests.plans import money, nat_monthly, nat_plan

pytestmark = pytest.mark.kmock

LEASE_NAMESPACE = "cloudcostguard-system"
LEASE_NAME = "cloudcostguard-leader"
LEASE_PATH = ks.url_of(ks.LEASES, LEASE_NAMESPACE, LEASE_NAME)
# Short timings, in the proportions of client-go's defaults (15 s / 10 s / 2 s).
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 2, 1.5, 0.2
FAST = {
    "leader_election_lease_duration": LEASE_DURATION,
    "leader_election_renew_deadline": RENEW_DEADLINE,
    "leader_election_retry_period": RETRY_PERIOD,
    "operator_namespace": LEASE_NAMESPACE,
}


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lease_spec(kube: kmock.KubernetesEmulator) -> dict[str, Any]:
    return dict(ks.live_object(kube, ks.LEASES, LEASE_NAMESPACE, LEASE_NAME).get("spec", {}))


def seed_lease(kube: kmock.KubernetesEmulator, holder: str, *, transitions: int = 0) -> None:
    kube.objects[ks.LEASES, LEASE_NAMESPACE, LEASE_NAME] = {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": LEASE_NAME, "namespace": LEASE_NAMESPACE, "resourceVersion": "7"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": LEASE_DURATION,
            "acquireTime": stamp(),
            "renewTime": stamp(),
            "leaseTransitions": transitions,
        },
    }


class OtherReplica:
    """The other replica, holding the Lease: it renews it every 0.3 s until stopped."""

    def __init__(self, kube: kmock.KubernetesEmulator) -> None:
        self.kube = kube
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._renew())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def _renew(self) -> None:
        while True:
            await patch(self.kube, LEASE_PATH, {"spec": {"renewTime": stamp()}})
            await asyncio.sleep(0.3)


@contextlib.asynccontextmanager
async def other_replica_renewing(kube: kmock.KubernetesEmulator) -> AsyncIterator[OtherReplica]:
    other = OtherReplica(kube)
    other.start()
    try:
        yield other
    finally:
        await other.stop()


def events_posted(kube: kmock.KubernetesEmulator) -> int:
    return sum(1 for request in kube if request.method == "POST" and request.url.path.endswith("/events"))


def lease_reads(kube: kmock.KubernetesEmulator) -> int:
    """The operator's election attempts so far: each one starts by reading the Lease."""
    return sum(1 for request in kube if request.method == "GET" and request.url.path == LEASE_PATH)


async def election_rounds(kube: kmock.KubernetesEmulator, rounds: int) -> None:
    """Wait until the operator has tried ``rounds`` more times to win the Lease: counted, not timed."""
    seen = lease_reads(kube)
    await eventually(lambda: lease_reads(kube) >= seen + rounds, within=rounds * RETRY_PERIOD * 2 + 5)


async def test_a_standby_keeps_its_indexes_fresh_writes_nothing_and_takes_a_released_lease_at_once(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
) -> None:
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS, {"env": "prod"})
    seed_lease(kube, "other-replica", transitions=3)
    async with other_replica_renewing(kube) as other, operator(**FAST) as memo:
        elected = memo.leadership
        cluster = memo.cluster  # the view its webhook judges from, over kopf's live indexes
        await create(
            kube, ks.COSTESTIMATES, ks.costestimate("web", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}})
        )
        await eventually(lambda: elected.holder == "other-replica")

        # The leader (played here) estimates "web" and a namespace is relabelled: this standby's indexes,
        # which its admission webhook judges from, follow at once.
        await patch(
            kube, ks.url_of(ks.COSTESTIMATES, NS, "web", "status"), {"status": {"monthlyCost": "12.34"}}
        )
        await eventually(lambda: cluster.committed_spend(NS) == {"web": Decimal("12.34")})
        await patch(kube, ks.url_of("v1/namespaces", None, NS), {"metadata": {"labels": {"env": "dev"}}})
        await eventually(lambda: cluster.namespace_labels(NS) == {"env": "dev"})

        await election_rounds(kube, 5)  # several election rounds and loop turns as a standby
        assert not elected.is_leader()
        assert status_patches(kube, "web") == 1  # the test's own: the standby wrote no status
        assert events_posted(kube) == 0
        assert memo.reconciler.state(NS, "web").rounds == 0  # not even reconciled in memory
        # Its kopf did put the finalizer on: every replica agrees it belongs (handlers' docstring).
        assert ks.live_object(kube, ks.COSTESTIMATES, NS, "web")["metadata"]["finalizers"] == [
            "cloudcostguard.io/finalizer"
        ]

        # The other replica shuts down gracefully: it releases the Lease.
        await other.stop()
        released = time.monotonic()
        await patch(kube, LEASE_PATH, {"spec": {"holderIdentity": "", "leaseDurationSeconds": 1}})
        await eventually(elected.is_leader)
        assert time.monotonic() - released < 1.5  # about one retry period (0.2 s), not a lease duration
        spec = lease_spec(kube)
        assert (spec["holderIdentity"], spec["leaseTransitions"], spec["leaseDurationSeconds"]) == (
            elected.identity,
            4,
            LEASE_DURATION,
        )
        # Its write carried the resourceVersion it read: the API server's precondition against races.
        writes = [
            r.data for r in kube if r.method == "PATCH" and r.url.path == LEASE_PATH and "metadata" in r.data
        ]
        assert writes[0] == {
            "metadata": {"resourceVersion": "7"},
            "spec": {**spec, "renewTime": writes[0]["spec"]["renewTime"]},
        }
        # The new leader reconciles everything at once: the estimate replaces the number written above.
        await eventually(lambda: status_of(kube, "web").get("monthlyCost") == money(nat_monthly(1)))
    assert lease_spec(kube)["holderIdentity"] == ""  # released on the way out


async def test_a_crashed_holder_is_taken_over_one_lease_duration_after_its_last_renewal(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
) -> None:
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    seed_lease(kube, "crashed-replica")
    kube.objects[ks.COSTESTIMATES, NS, "web"] = ks.costestimate(
        "web", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}}
    )
    async with operator(**FAST) as memo:
        started = time.monotonic()
        elected = memo.leadership
        await eventually(lambda: elected.holder == "crashed-replica")
        assert status_of(kube, "web") == {}
        await eventually(elected.is_leader, within=10)
        took = time.monotonic() - started
        await eventually(lambda: status_of(kube, "web").get("phase") == "Estimated")
    # Not before the lease duration (counted from this replica's first sight of the Lease, after start),
    # and about one retry period after it.
    assert LEASE_DURATION <= took < LEASE_DURATION + 1.2 * RETRY_PERIOD + 1.5
    assert lease_spec(kube)["leaseTransitions"] == 1


async def test_a_leader_that_loses_the_lease_stops_writing_until_it_wins_it_back(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
) -> None:
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    async with operator(**FAST) as memo:
        elected = memo.leadership
        await eventually(elected.is_leader)
        assert lease_spec(kube)["holderIdentity"] == elected.identity
        await create(
            kube, ks.COSTESTIMATES, ks.costestimate("first", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}})
        )
        await eventually(lambda: status_of(kube, "first").get("phase") == "Estimated")

        # Another replica takes the Lease (as after a long pause of this one) and keeps renewing it.
        await patch(kube, LEASE_PATH, {"spec": {"holderIdentity": "intruder", "renewTime": stamp()}})
        async with other_replica_renewing(kube):
            await eventually(lambda: not elected.is_leader(), within=2 * RETRY_PERIOD + 1)
            await create(
                kube,
                ks.COSTESTIMATES,
                ks.costestimate("second", NS, {"plan": {"inline": nat_plan(2, vpcs=1)}}),
            )
            await election_rounds(kube, 5)  # several rounds as a standby, with "second" to reconcile
            assert status_of(kube, "second") == {}
            assert (status_patches(kube, "second"), events_for(kube, "second")) == (0, [])
        await patch(kube, LEASE_PATH, {"spec": {"holderIdentity": ""}})
        await eventually(lambda: status_of(kube, "second").get("monthlyCost") == money(nat_monthly(2)))
        assert elected.is_leader()
    assert status_patches(kube, "first") == 1  # re-reconciled as the new leader, not rewritten

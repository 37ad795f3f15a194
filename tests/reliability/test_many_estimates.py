"""Many CostEstimates reconciled while the PostgreSQL pricing version changes twice: every one ends with
the status of the latest version — its version id and its totals — and none is estimated more than once
per version.

The objects are put in KMock's store before the operator starts (KMock serves about four creates a second
while an operator watches; its store takes thousands at once). The version switches are real loads into
the store (NOTIFY reaches the operator's catalog provider, which wakes every reconcile loop). CI runs 200
objects; ``-m reliability_long`` runs 2,000.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import kmock
import pytest
from prometheus_client import REGISTRY

from cloudcostguard.k8s.operator import reconcile
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.pricing.store.bulk_load import import_snapshot_records
from tests import kmock_support as ks
from tests.integration.operator.conftest import (
    OperatorFactory,
    operator,  # noqa: F401 - fixture
)
from tests.integration.pricing.conftest import (
    database_url,  # noqa: F401 - fixture
    make_settings,
    store_url,  # noqa: F401 - fixture
)
from tests.plans import HOURS_PER_MONTH, money, nat_plan, nat_unit_price
from tests.reliability.kube_faults import FaultyEmulator, faulty_server

pytestmark = [pytest.mark.kmock, pytest.mark.postgres]

NS = "fleet"
SECONDS_PER_OBJECT = 0.25  # the wait allowed per object and version, generous for a shared 2-core host


@pytest.fixture()
async def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FaultyEmulator]:
    """KMock without its request log (``kube_faults``): its routing cost stays flat under load."""
    async with faulty_server(history=False) as (emulator, url):
        monkeypatch.setenv("KUBECONFIG", str(ks.write_kubeconfig(tmp_path / "kubeconfig", url)))
        yield emulator


def leadership_gains() -> float:
    return REGISTRY.get_sample_value("cloudcostguard_leadership_changes_total", {"change": "acquired"}) or 0.0


def gateways_of(index: int) -> int:
    return index % 4 + 1


def nat_hours_scaled(factor: int) -> list[Any]:
    records = load_bundled_catalog().records()
    return [
        dataclasses.replace(record, unit_price=record.unit_price * factor)
        if record.attributes.get("usagetype", "").endswith("NatGateway-Hours")
        else record
        for record in records
    ]


def count(kube: kmock.KubernetesEmulator, names: list[str], done: Callable[[dict[str, Any]], bool]) -> int:
    """How many of ``names`` have a status ``done`` accepts (read in KMock's memory, no API call)."""
    total = 0
    for name in names:
        stored = kube.objects[ks.COSTESTIMATES, NS, name]
        total += done(stored.raw.get("status") or {})
    return total


async def until(condition: Callable[[], bool], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {within:.0f} s waiting for {what}"
        await asyncio.sleep(0.5)


@pytest.mark.parametrize(
    "objects",
    [pytest.param(200, id="200"), pytest.param(2000, id="2000", marks=pytest.mark.reliability_long)],
)
async def test_every_estimate_ends_priced_by_the_latest_of_three_versions(
    kube: FaultyEmulator,
    operator: OperatorFactory,  # noqa: F811
    store_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    objects: int,
) -> None:
    # The loads share the event loop with the operator and KMock at full load: a generous connect bound.
    settings = make_settings(db_connect_timeout=30.0)
    computed: list[str] = []
    original = reconcile.estimate_spec

    async def counting(raw: bytes, *args: Any, **kwargs: Any) -> Any:
        estimate = await original(raw, *args, **kwargs)
        computed.append(estimate.pricing_version)
        return estimate

    monkeypatch.setattr(reconcile, "estimate_spec", counting)

    first = await import_snapshot_records(
        store_url, settings, nat_hours_scaled(1), source="t", digest="1" * 64
    )
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    names = [f"stack-{index:04d}" for index in range(objects)]
    for index, name in enumerate(names):
        spec = {"plan": {"inline": nat_plan(gateways_of(index), vpcs=1)}}
        kube.objects[ks.COSTESTIMATES, NS, name] = ks.costestimate(name, NS, spec)

    def at(version_id: int) -> Callable[[dict[str, Any]], bool]:
        prefix = f"pg-{version_id}-"
        return lambda status: (
            status.get("phase") == "Estimated" and str(status.get("pricingVersion")).startswith(prefix)
        )

    gains_before = leadership_gains()
    within = objects * SECONDS_PER_OBJECT + 60
    started = time.monotonic()
    async with operator(
        database_url=store_url,
        catalog_refresh_interval=3600,
        resync_interval=3600,
        stop_within=within,
        # KMock shares this event loop: at 2,000 objects a Lease renewal can wait longer than the
        # default 10 s renew deadline behind the reconciles, which no separate API server would make
        # it do. Longer timings keep the test about pricing versions, not about an overloaded loop.
        leader_election_lease_duration=120,
        leader_election_renew_deadline=90,
        leader_election_retry_period=5,
    ):
        # The first switch while a third is estimated, the second while a third is at the second version.
        await until(lambda: count(kube, names, at(first.version_id)) >= objects // 3, "a third at v1", within)
        at_first_switch = count(kube, names, at(first.version_id))
        second = await import_snapshot_records(
            store_url, settings, nat_hours_scaled(2), source="t", digest="2" * 64
        )
        await until(
            lambda: count(kube, names, at(second.version_id)) >= objects // 3, "a third at v2", within
        )
        at_second_switch = count(kube, names, at(second.version_id))
        third = await import_snapshot_records(
            store_url, settings, nat_hours_scaled(3), source="t", digest="3" * 64
        )
        await until(lambda: count(kube, names, at(third.version_id)) == objects, "every one at v3", within)
        took = time.monotonic() - started
        await asyncio.sleep(2)  # nothing more to do: nothing more may happen
        stopping = time.monotonic()
    stopped_in = time.monotonic() - stopping

    hourly = nat_unit_price("NatGateway-Hours") * 3
    for index, name in enumerate(names):
        status = kube.objects[ks.COSTESTIMATES, NS, name].raw["status"]
        assert status["pricingVersion"].startswith(f"pg-{third.version_id}-"), name
        assert status["monthlyCost"] == money(HOURS_PER_MONTH * hourly * Decimal(gateways_of(index))), name
        assert status["observedGeneration"] == 1
    # No storm: an object is estimated once per version, and once more per leadership gained while its
    # status was not yet written (a new leader forgets what it did not see written). The first
    # acquisition is the start itself.
    gains = leadership_gains() - gains_before
    by_version = {version: computed.count(version) for version in sorted(set(computed))}
    assert len(computed) <= objects * (2 + gains), (by_version, gains)
    print(
        f"{objects} CostEstimates, versions switched at {at_first_switch} and {at_second_switch} done: "
        f"all at the third in {took:.1f} s; estimates per version {list(by_version.values())}, "
        f"leadership gained {gains} times; stopped in {stopped_in:.1f} s"
    )

"""The operator against an API server that fails: 500s and 409s on status writes, 410 Gone and dropped
watch streams, slow answers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests import kmock_support as ks
from tests.integration.operator.conftest import OperatorFactory, eventually
from tests.integration.operator.conftest import operator as operator  # noqa: F401 - fixture
from tests.plans import money, nat_monthly, nat_plan
from tests.reliability.kube_faults import Fault, FaultyEmulator, faulty_server, is_status_patch

pytestmark = pytest.mark.kmock

NS = "team-a"


@pytest.fixture()
async def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FaultyEmulator]:
    async with faulty_server() as (emulator, url):
        monkeypatch.setenv("KUBECONFIG", str(ks.write_kubeconfig(tmp_path / "kubeconfig", url)))
        emulator.objects["v1/namespaces", None, NS] = ks.namespace(NS)
        yield emulator


def status_of(kube: FaultyEmulator, name: str) -> dict[str, Any]:
    return dict(ks.live_object(kube, ks.COSTESTIMATES, NS, name).get("status", {}))


async def test_conflicts_on_status_writes_are_retried_until_the_status_is_written(
    kube: FaultyEmulator, operator: OperatorFactory
) -> None:
    conflicts = kube.inject(Fault(is_status_patch(ks.COSTESTIMATES), status=409, times=3))
    kube.objects[ks.COSTESTIMATES, NS, "egress"] = ks.costestimate("egress", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}})
    async with operator():
        await eventually(lambda: status_of(kube, "egress").get("phase") == "Estimated", within=30)
    assert len(conflicts.hits) == 3
    assert status_of(kube, "egress")["monthlyCost"] == money(nat_monthly(1))

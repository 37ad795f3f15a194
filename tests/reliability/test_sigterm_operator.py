"""SIGTERM while reconciles are in flight: ``cloudcostguard run`` (leader election on, against KMock) exits
within the pod's grace period, releases its Lease, and a restarted process finishes every object with the
right status — nothing is lost.

In flight: CostEstimates whose ``spec.plan.url`` answers only after minutes (the fetch is under way when
the signal arrives), next to CostEstimates already estimated from inline plans.
"""

from __future__ import annotations

import asyncio
import os
import signal
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
import orjson
import pytest

from tests import kmock_support as ks
from tests.integration.operator.conftest import eventually
from tests.plans import money, nat_monthly, nat_plan
from tests.unit.k8s.admission.tls import make_tls

pytestmark = pytest.mark.kmock

ROOT = Path(__file__).resolve().parents[2]
NS = "team-a"
LEASE_NAMESPACE, LEASE_NAME = "cloudcostguard-system", "cloudcostguard-leader"
GRACE_PERIOD = 30.0  # terminationGracePeriodSeconds of config/manager and the Helm chart
SLOW, INLINE = 6, 4  # CostEstimates with a slow URL plan, and with an inline plan


class PlanServer:
    """HTTPS plan server: until ``released`` is set each answer waits (a stuck CI artifact store)."""

    def __init__(self, tls_dir: Path) -> None:
        self.tls = make_tls(tls_dir)
        self.released = asyncio.Event()  # set: answer at once
        self.started: list[str] = []
        self.port = ks.free_port()
        self._runner: aiohttp.web.AppRunner | None = None

    async def _serve(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        name = request.match_info["name"]
        self.started.append(name)
        await self.released.wait()
        gateways = int(name.rsplit("-", 1)[1]) + 1
        return aiohttp.web.Response(
            body=orjson.dumps(nat_plan(gateways, vpcs=1)), content_type="application/json"
        )

    async def __aenter__(self) -> PlanServer:
        app = aiohttp.web.Application()
        app.router.add_get("/plans/{name}.json", self._serve)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        self._runner = aiohttp.web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await aiohttp.web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=context).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.released.set()
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture()
async def kube() -> AsyncIterator[tuple[kmock.KubernetesEmulator, str]]:
    async with ks.emulator_server() as served:
        yield served


async def start_operator(tmp_path: Path, url: str, plans: PlanServer, run: int) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "KUBECONFIG": str(ks.write_kubeconfig(tmp_path / "kubeconfig", url)),
        "CCG_LOG_FORMAT": "json",
        "CCG_URL_ALLOW_PRIVATE": "true",
        "CCG_URL_CA_FILE": str(plans.tls.ca_file),
        "CCG_URL_TIMEOUT": "300",  # the fetch must still be under way when SIGTERM comes
        "CCG_OPERATOR_NAMESPACE": LEASE_NAMESPACE,
        # Every reconcile and fetch of the namespace at once (the defaults take 4 at a time): all the
        # fetches are in flight when the signal comes.
        "CCG_RECONCILE_MAX_CONCURRENCY_PER_NAMESPACE": str(SLOW + INLINE),
        "CCG_URL_MAX_CONCURRENCY_PER_NAMESPACE": str(SLOW),
        "CCG_LEADER_ELECTION_LEASE_DURATION": "4",
        "CCG_LEADER_ELECTION_RENEW_DEADLINE": "3",
        "CCG_LEADER_ELECTION_RETRY_PERIOD": "0.5",
    }
    with (tmp_path / f"operator-{run}.log").open("wb") as log:  # the child keeps its own descriptor
        return await ks.spawn_run(
            env, log, health=ks.free_port(), metrics=ks.free_port(), webhook=ks.free_port(), standalone=False
        )


def status_of(kube: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    return dict(ks.live_object(kube, ks.COSTESTIMATES, NS, name).get("status", {}))


def lease_spec(kube: kmock.KubernetesEmulator) -> dict[str, Any]:
    return dict(ks.live_object(kube, ks.LEASES, LEASE_NAMESPACE, LEASE_NAME).get("spec", {}))


async def stop(process: asyncio.subprocess.Process) -> float:
    """SIGTERM; seconds until the process exited (the test fails past the grace period)."""
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.wait(), timeout=GRACE_PERIOD)
    return time.monotonic() - sent


async def test_sigterm_during_reconciles_releases_the_lease_in_time_and_loses_nothing(
    kube: tuple[kmock.KubernetesEmulator, str], tmp_path: Path
) -> None:
    emulator, url = kube
    emulator.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    async with PlanServer(tmp_path) as plans:
        for index in range(SLOW):
            spec = {"plan": {"url": f"https://localhost:{plans.port}/plans/slow-{index}.json"}}
            emulator.objects[ks.COSTESTIMATES, NS, f"slow-{index}"] = ks.costestimate(
                f"slow-{index}", NS, spec
            )
        for index in range(INLINE):
            spec = {"plan": {"inline": nat_plan(index + 1, vpcs=1)}}
            emulator.objects[ks.COSTESTIMATES, NS, f"inline-{index}"] = ks.costestimate(
                f"inline-{index}", NS, spec
            )

        first = await start_operator(tmp_path, url, plans, 1)
        try:
            inline = [f"inline-{index}" for index in range(INLINE)]
            await eventually(
                lambda: all(status_of(emulator, name).get("phase") == "Estimated" for name in inline),
                within=60,
            )
            await eventually(lambda: len(set(plans.started)) == SLOW, within=30)  # every fetch in flight
            assert lease_spec(emulator).get("holderIdentity")
            took = await stop(first)
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        output = (tmp_path / "operator-1.log").read_text()
        assert first.returncode == 0, output[-3000:]
        print(f"SIGTERM to exit with {SLOW} fetches in flight: {took:.1f} s")
        assert took < GRACE_PERIOD
        assert lease_spec(emulator).get("holderIdentity") in ("", None)  # released, not left to expire
        assert '"message": "CloudCostGuard operator stopped"' in output
        for index in range(SLOW):
            assert status_of(emulator, f"slow-{index}").get("phase") != "Estimated"  # not finished yet

        # A new process (the restarted pod) takes the released Lease at once and finishes everything.
        plans.released.set()
        restarted_at = time.monotonic()
        second = await start_operator(tmp_path, url, plans, 2)
        try:
            names = [f"slow-{index}" for index in range(SLOW)] + inline
            await eventually(
                lambda: all(status_of(emulator, name).get("phase") == "Estimated" for name in names),
                within=60,
            )
            finished = time.monotonic() - restarted_at
            print(f"restart to every object estimated: {finished:.1f} s")
            await stop(second)
        finally:
            if second.returncode is None:
                second.kill()
                await second.wait()
    for index in range(SLOW):
        assert status_of(emulator, f"slow-{index}")["monthlyCost"] == money(nat_monthly(index + 1))
    for index in range(INLINE):
        assert status_of(emulator, f"inline-{index}")["monthlyCost"] == money(nat_monthly(index + 1))
    # Not one lease duration (4 s) of waiting for an expired holder: the Lease was free.
    assert finished < 45
    assert lease_spec(emulator).get("holderIdentity") in ("", None)
    for run in (1, 2):
        assert unexpected_errors(tmp_path / f"operator-{run}.log") == []


def unexpected_errors(log: Path) -> list[str]:
    """Error records and tracebacks in a JSON log, but KMock's 409 on Event names: it serves no
    ``generateName``, so kopf's Event names collide there (an API server makes them unique)."""
    found = []
    for line in log.read_text().splitlines():
        if "Failed to post an event" in line:
            continue
        record = orjson.loads(line) if line.startswith("{") else {"message": line}
        if record.get("severity") in ("error", "critical") or "Traceback" in line:
            found.append(line[:500])
    return found

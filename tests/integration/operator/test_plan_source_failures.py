"""Failing plan sources and per-namespace limits, with the operator against KMock.

- Fairness: namespace A points 20 CostEstimates at a slow HTTPS URL (2 s), namespace B one at a fast one;
  B is estimated within a bound while A is throttled (at most its share of fetches at once) and still
  estimated in the end, nothing failed.
- A plan ConfigMap deleted under an estimate: Ready=False PlanNotFound, the last numbers kept, and
  re-estimated when it comes back.
- tofu-controller chunks claiming one index twice: Ready=False and Stalled with PlanChunksInvalid; fixed
  by the Secrets, re-estimated.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
import orjson
import pytest

from cloudcostguard.k8s.api.models import PLAN_SOURCE_LABEL
from tests import kmock_support as ks
from tests.integration.operator.conftest import OperatorFactory, eventually
from tests.plans import money, nat_monthly, nat_plan
from tests.unit.k8s.admission.tls import make_tls

pytestmark = pytest.mark.kmock

# Slow enough that queueing behind team-a (20 fetches, 4 at a time: 10 s) would show in team-b's latency.
SLOW_SECONDS = 2.0


def status_of(kube: kmock.KubernetesEmulator, namespace: str, name: str) -> dict[str, Any]:
    return dict(ks.live_object(kube, ks.COSTESTIMATES, namespace, name).get("status", {}))


def ready_of(kube: kmock.KubernetesEmulator, namespace: str, name: str) -> dict[str, Any]:
    for item in status_of(kube, namespace, name).get("conditions", []):
        if item["type"] == "Ready":
            return dict(item)
    return {}


async def create(kube: kmock.KubernetesEmulator, resource: str, body: dict[str, Any]) -> None:
    async with kube.post(ks.url_of(resource, body["metadata"].get("namespace")), json=body) as response:
        assert response.status < 300, await response.text()


async def delete(kube: kmock.KubernetesEmulator, resource: str, namespace: str, name: str) -> None:
    async with kube.delete(ks.url_of(resource, namespace, name)) as response:
        assert response.status < 300, await response.text()


class PlanServer:
    """An HTTPS server with a slow and a fast plan, counting the slow requests in flight."""

    def __init__(self, tmp_path: Path) -> None:
        self.tls = make_tls(tmp_path)
        self.plan = orjson.dumps(nat_plan(1, vpcs=1))
        self.in_flight = 0
        self.most_in_flight = 0
        self.slow_served = 0
        self.runner: aiohttp.web.AppRunner | None = None
        self.port = 0

    async def slow(self, _: aiohttp.web.Request) -> aiohttp.web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(SLOW_SECONDS)
        finally:
            self.in_flight -= 1
        self.slow_served += 1
        return aiohttp.web.Response(body=self.plan)

    async def fast(self, _: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=gzip.compress(orjson.dumps(nat_plan(2, vpcs=1))))

    async def __aenter__(self) -> PlanServer:
        app = aiohttp.web.Application()
        app.router.add_get("/slow.json", self.slow)
        app.router.add_get("/fast.json", self.fast)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.tls.cert_file, self.tls.key_file)
        self.runner = aiohttp.web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        self.port = ks.free_port()
        await aiohttp.web.TCPSite(self.runner, "127.0.0.1", self.port, ssl_context=context).start()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


async def test_a_namespace_of_slow_urls_does_not_starve_another(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory, tmp_path: Path
) -> None:
    kube.objects["v1/namespaces", None, "team-a"] = ks.namespace("team-a")
    kube.objects["v1/namespaces", None, "team-b"] = ks.namespace("team-b")
    crowd = [f"slow-{index:02d}" for index in range(20)]
    async with PlanServer(tmp_path) as server:
        settings = {
            "url_allowed_networks": ["127.0.0.1/32"],
            "url_ca_file": server.tls.ca_file,
            "url_max_concurrency": 8,
            "url_max_concurrency_per_namespace": 4,
            "reconcile_max_concurrency": 8,
            "reconcile_max_concurrency_per_namespace": 4,
            "throttle_max_wait": 1.0,
        }
        async with operator(**settings):
            for name in crowd:
                spec = {"plan": {"url": f"https://127.0.0.1:{server.port}/slow.json"}}
                await create(kube, ks.COSTESTIMATES, ks.costestimate(name, "team-a", spec))
            await eventually(lambda: server.in_flight == 4)  # team-a holds its share

            started = time.perf_counter()
            spec = {"plan": {"url": f"https://127.0.0.1:{server.port}/fast.json"}}
            await create(kube, ks.COSTESTIMATES, ks.costestimate("fast", "team-b", spec))
            await eventually(lambda: status_of(kube, "team-b", "fast").get("phase") == "Estimated", within=5)
            fast_latency = time.perf_counter() - started

            throttled: set[str] = set()  # team-a objects seen saying Ready=False Throttled

            def crowd_estimated() -> bool:
                throttled.update(
                    name for name in crowd if ready_of(kube, "team-a", name).get("reason") == "Throttled"
                )
                return all(status_of(kube, "team-a", name).get("phase") == "Estimated" for name in crowd)

            await eventually(crowd_estimated, within=60)
            crowd_done = time.perf_counter() - started
        most_in_flight = server.most_in_flight
    print(  # the figures RELIABILITY.md quotes (pytest -s)
        f"\nfairness: team-b estimated in {fast_latency:.2f} s; team-a: {len(throttled)} of 20 seen "
        f"Throttled on the way, at most {most_in_flight} slow fetches at once, all 20 estimated after "
        f"{crowd_done:.1f} s"
    )
    assert fast_latency < 2.0  # less than one slow fetch: team-b queued behind none of team-a's
    assert most_in_flight == 4  # url_max_concurrency_per_namespace, although 8 connections were free
    assert throttled, "team-a's waiting estimates say why they wait"
    assert status_of(kube, "team-b", "fast")["monthlyCost"] == money(nat_monthly(2))
    for name in crowd:
        status = status_of(kube, "team-a", name)
        assert status["monthlyCost"] == money(nat_monthly(1))
        assert "Stalled" not in {item["type"] for item in status["conditions"]}


async def test_plan_configmap_deleted_then_restored(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    namespace = "team-a"
    kube.objects["v1/namespaces", None, namespace] = ks.namespace(namespace)

    def plan_configmap(vpcs_and_gateways: int) -> dict[str, Any]:
        return ks.k8s_object(
            "v1",
            "ConfigMap",
            "plans",
            namespace,
            labels={PLAN_SOURCE_LABEL: "true"},
            generation=None,
            data={"plan.json": orjson.dumps(nat_plan(vpcs_and_gateways, vpcs=1)).decode()},
        )

    await create(kube, "v1/configmaps", plan_configmap(1))
    spec = {"plan": {"configMapKeyRef": {"name": "plans", "key": "plan.json"}}}
    async with operator():
        await create(kube, ks.COSTESTIMATES, ks.costestimate("from-cm", namespace, spec))
        await eventually(lambda: status_of(kube, namespace, "from-cm").get("phase") == "Estimated")

        await delete(kube, "v1/configmaps", namespace, "plans")
        await eventually(lambda: ready_of(kube, namespace, "from-cm").get("reason") == "PlanNotFound")
        status = status_of(kube, namespace, "from-cm")
        assert status["phase"] == "Pending"  # retried, not failed
        assert status["monthlyCost"] == money(nat_monthly(1))  # the last estimate stays readable
        assert ready_of(kube, namespace, "from-cm")["message"] == (
            "ConfigMap team-a/plans not found (it must exist and carry the label cloudcostguard.io/plan) "
            "(retrying)"
        )

        await create(kube, "v1/configmaps", plan_configmap(3))
        await eventually(
            lambda: status_of(kube, namespace, "from-cm").get("monthlyCost") == money(nat_monthly(3))
        )
    assert ready_of(kube, namespace, "from-cm")["status"] == "True"


def tofu_secret(namespace: str, name: str, chunk: int, payload: bytes) -> dict[str, Any]:
    return ks.k8s_object(
        "v1",
        "Secret",
        name,
        namespace,
        generation=None,
        type="Opaque",
        labels={
            "infra.contrib.fluxcd.io/plan-name": "network.json",
            "infra.contrib.fluxcd.io/plan-workspace": "default",
        },
        annotations={
            "encoding": "gzip",
            "savedPlan": "plan-main-1",
            "infra.contrib.fluxcd.io/plan-chunk": str(chunk),
        },
        data={"tfplan": base64.b64encode(payload).decode()},
    )


async def test_tofu_chunk_claimed_twice_is_stalled_until_the_secrets_are_fixed(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    namespace = "team-a"
    kube.objects["v1/namespaces", None, namespace] = ks.namespace(namespace)
    compressed = gzip.compress(orjson.dumps(nat_plan(2, vpcs=1)))
    half = len(compressed) // 2
    base = "tfplan-default-network.json"
    for chunk, payload in enumerate((compressed[:half], compressed[half:])):
        await create(kube, "v1/secrets", tofu_secret(namespace, f"{base}-{chunk}", chunk, payload))
    # A Secret named like the unchunked plan but annotated as chunk 0: two Secrets claim chunk 0.
    await create(kube, "v1/secrets", tofu_secret(namespace, base, 0, compressed[:half]))
    spec = {"plan": {"terraformRef": {"name": "network"}}}
    async with operator():
        await create(kube, ks.COSTESTIMATES, ks.costestimate("network", namespace, spec))
        await eventually(lambda: status_of(kube, namespace, "network").get("phase") == "Failed")
        ready = ready_of(kube, namespace, "network")
        assert ready["reason"] == "PlanChunksInvalid"
        assert ready["message"] == (
            f"Secret team-a/{base}: chunk 0 is claimed by two Secrets ({base}, {base}-0)"
        )
        conditions = {item["type"]: item for item in status_of(kube, namespace, "network")["conditions"]}
        assert conditions["Stalled"]["status"] == "True"

        await delete(kube, "v1/secrets", namespace, base)
        await eventually(lambda: status_of(kube, namespace, "network").get("phase") == "Estimated")
    assert status_of(kube, namespace, "network")["monthlyCost"] == money(nat_monthly(2))

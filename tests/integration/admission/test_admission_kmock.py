"""The whole operator process (kopf, indexes, webhook server) against KMock, judged over HTTPS.

Here the state the webhook reads is not handed to it: kopf lists and watches Namespaces, CostPolicies,
CostEstimates and plan ConfigMaps from the emulated API into its indexes, the operator writes each
CostEstimate's status.monthlyCost, and the webhook answers from those indexes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import kopf
import orjson
import pytest

from cloudcostguard.k8s import process
from cloudcostguard.settings import Settings
from tests import kmock_support as ks
from tests.integration.admission.support import config_map, cost_estimate, cost_policy, nat_plan, review

pytestmark = pytest.mark.kmock

NS = "team-a"
TIMEOUT = 30.0


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll ``check`` until true (kopf and KMock are asynchronous); fails after TIMEOUT seconds."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)


@pytest.fixture()
async def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[kmock.KubernetesEmulator]:
    async with ks.emulator_server() as (emulator, url):
        monkeypatch.setenv("KUBECONFIG", str(ks.write_kubeconfig(tmp_path / "kubeconfig", url)))
        yield emulator


@contextlib.asynccontextmanager
async def running_operator(tmp_path: Path) -> AsyncIterator[tuple[str, ssl.SSLContext]]:
    """`cloudcostguard run` in-process: kopf with the operator's and the webhook's handlers."""
    port = ks.free_port()
    settings = Settings(
        metrics_listen="127.0.0.1:0",
        health_listen="127.0.0.1:0",
        webhook_listen=f"127.0.0.1:{port}",
        webhook_cert_dir=tmp_path / "certs",
        log_format="text",
    )
    memo = process.make_memo(settings)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        kopf.operator(clusterwide=True, standalone=True, memo=memo, stop_flag=stop, ready_flag=ready)
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            await ready.wait()
        yield (
            f"https://127.0.0.1:{port}",
            ssl.create_default_context(cafile=str(tmp_path / "certs" / "ca.pem")),
        )
    finally:
        stop.set()
        async with asyncio.timeout(TIMEOUT):
            await task


async def put(kube: kmock.KubernetesEmulator, resource: str, body: dict[str, Any]) -> None:
    async with kube.post(ks.url_of(resource, body["metadata"].get("namespace")), json=body) as response:
        assert response.status < 300, await response.text()


def with_identity(body: dict[str, Any]) -> dict[str, Any]:
    """KMock sets no uid/resourceVersion/generation; kopf keys its indexes by uid."""
    stored = ks.k8s_object(
        body["apiVersion"], body["kind"], body["metadata"]["name"], body["metadata"].get("namespace")
    )
    stored["metadata"].update(body["metadata"])
    return {**body, "metadata": stored["metadata"]}


async def test_budgets_are_judged_from_the_operators_indexes(
    kube: kmock.KubernetesEmulator, tmp_path: Path
) -> None:
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS, {"env": "prod"})
    await put(kube, ks.COSTPOLICIES, with_identity(cost_policy("team-budget", namespaceMonthlyBudget="150")))
    await put(
        kube,
        ks.COSTPOLICIES,
        with_identity(
            cost_policy("dev-only", namespace_selector={"matchLabels": {"env": "dev"}}, maxMonthlyCost="1")
        ),
    )
    plans = config_map("plans", {"web.json": orjson.dumps(nat_plan(1)).decode()}, namespace=NS)
    await put(kube, "v1/configmaps", with_identity(plans))
    await put(kube, ks.COSTESTIMATES, with_identity(cost_estimate("db", plan=nat_plan(2))))  # 65.70
    await put(
        kube, ks.COSTESTIMATES, with_identity(cost_estimate("web", config_map=("plans", "web.json")))
    )  # 32.85

    async with (
        running_operator(tmp_path) as (url, context),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
    ):

        async def ask(handler: str, body: dict[str, Any]) -> dict[str, Any]:
            async with session.post(f"{url}/{handler}", data=orjson.dumps(body), ssl=context) as response:
                assert response.status == 200, await response.text()
                answer: dict[str, Any] = (await response.json())["response"]
                return answer

        def monthly(name: str) -> str | None:
            status = ks.live_object(kube, ks.COSTESTIMATES, NS, name).get("status", {})
            return status.get("monthlyCost") if isinstance(status, dict) else None

        async def estimated() -> bool:
            return (monthly("db"), monthly("web")) == ("65.70", "32.85")

        await eventually(estimated)

        # 65.70 + 32.85 committed; a new 65.70 estimate would make 164.25 > 150.
        new = review(cost_estimate("api", plan=nat_plan(2)))

        async def denied_with_spend() -> bool:
            answer = await ask("validate-costestimate", new)
            return "would spend 164.25 USD/month" in answer.get("status", {}).get("message", "")

        await eventually(denied_with_spend)  # the spend index fills as status writes are watched
        fits = await ask("validate-costestimate", review(cost_estimate("api", plan=nat_plan(1))))
        assert fits["allowed"] is True

        # web's own 32.85 is replaced, not added: 65.70 + 65.70 = 131.40 fits.
        old_web = ks.live_object(kube, ks.COSTESTIMATES, NS, "web")
        grown = cost_estimate("web", plan=nat_plan(2))
        update = await ask("validate-costestimate", review(grown, operation="UPDATE", old=old_web))
        assert update["allowed"] is True

        # The plan ConfigMap web reads grows to 3 gateways: 65.70 + 98.55 = 164.25.
        over = config_map("plans", {"web.json": orjson.dumps(nat_plan(3)).decode()}, namespace=NS)
        answer = await ask("validate-plan-source", review(over, operation="UPDATE", old=plans))
        assert answer["allowed"] is False
        assert answer["status"]["message"].startswith(
            "CostPolicy team-budget: namespace team-a would spend 164.25 USD/month (this estimate 98.55 "
            "USD), over namespaceMonthlyBudget 150.00 USD by 14.25 USD."
        )

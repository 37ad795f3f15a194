"""Argo CD's server-side diff (and `kubectl apply --dry-run=server`, Flux's dry-run) sends the webhook
``dryRun: true`` reviews. With the whole operator running against KMock, a dry run gets exactly the
verdict of the real request and writes nothing: no object, status, Event or Lease changes."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import kmock
import orjson
import pytest

from tests import kmock_support as ks
from tests.integration.admission.support import config_map, cost_estimate, cost_policy, nat_plan, review
from tests.integration.admission.test_admission_kmock import (
    NS,
    TIMEOUT,
    answer_of,
    eventually,
    kube,  # noqa: F401 - the fixture
    put,
    running_operator,
    with_identity,
)

pytestmark = pytest.mark.kmock


def writes_so_far(emulator: kmock.KubernetesEmulator) -> dict[Any, int]:
    """Every stored object and how many versions it has had: a write of any kind changes this. The
    leader's Lease is left out: it is renewed every retry period, reviews or not."""
    return {
        key: len(stored.history)
        for key, stored in list(emulator.objects.items())
        if key[0].plural != "leases"
    }


async def test_dry_run_reviews_get_the_real_verdict_and_write_nothing(
    kube: kmock.KubernetesEmulator,  # noqa: F811 - the fixture
    tmp_path: Any,
) -> None:
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS, {"env": "prod"})
    await put(kube, ks.COSTPOLICIES, with_identity(cost_policy("team-budget", namespaceMonthlyBudget="100")))
    plans = config_map("plans", {"web.json": orjson.dumps(nat_plan(1)).decode()}, namespace=NS)
    await put(kube, "v1/configmaps", with_identity(plans))
    await put(kube, ks.COSTESTIMATES, with_identity(cost_estimate("web", config_map=("plans", "web.json"))))

    async with (
        running_operator(tmp_path) as (url, context),
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
    ):

        async def ask(handler: str, body: dict[str, Any]) -> dict[str, Any]:
            return await answer_of(session, url, context, handler, body)

        async def estimated() -> bool:
            status = ks.live_object(kube, ks.COSTESTIMATES, NS, "web").get("status") or {}
            return isinstance(status, dict) and status.get("monthlyCost") == "32.85"

        await eventually(estimated)
        over = review(cost_estimate("api", plan=nat_plan(3)))  # 32.85 + 98.55 > 100

        async def spend_indexed() -> bool:
            return (await ask("validate-costestimate", over))["allowed"] is False

        await eventually(spend_indexed)
        await asyncio.sleep(1.0)  # let the operator's own writes (status, Events) settle
        before = writes_so_far(kube)

        live_web = ks.live_object(kube, ks.COSTESTIMATES, NS, "web")
        grown_plans = config_map("plans", {"web.json": orjson.dumps(nat_plan(4)).decode()}, namespace=NS)
        cases = [
            ("validate-costestimate", review(cost_estimate("api", plan=nat_plan(3)))),  # Deny
            ("validate-costestimate", review(cost_estimate("api", plan=nat_plan(1)))),  # fits
            (
                "validate-costestimate",
                review(cost_estimate("web", plan=nat_plan(4)), operation="UPDATE", old=live_web),
            ),  # Deny: web grows to 4 gateways
            ("validate-plan-source", review(grown_plans, operation="UPDATE", old=plans)),  # Deny
        ]
        verdicts = []
        for handler, real in cases:
            dry = {**real, "request": {**real["request"], "dryRun": True}}
            real_answer, dry_answer = await ask(handler, real), await ask(handler, dry)
            real_answer.pop("uid"), dry_answer.pop("uid")
            assert dry_answer == real_answer, handler
            verdicts.append(dry_answer["allowed"])
        assert verdicts == [False, True, False, False]
        handler, real = cases[3]
        denied = await ask(handler, {**real, "request": {**real["request"], "dryRun": True}})
        assert denied["status"]["code"] == 403
        assert (
            "CostPolicy team-budget: namespace team-a would spend 131.40 USD/month"
            in (denied["status"]["message"])
        )

        await asyncio.sleep(1.0)  # a write caused by the reviews would have reached KMock by now
        assert writes_so_far(kube) == before

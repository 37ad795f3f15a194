"""The operator against KMock: CostEstimate create → status, edits, plan sources, failures, deletion."""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import ssl
from decimal import Decimal
from typing import Any

import aiohttp.web
import kmock
import orjson
import pytest
from prometheus_client import REGISTRY

from cloudcostguard.k8s.api.models import PLAN_SOURCE_LABEL
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from tests import kmock_support as ks
from tests.integration.operator.conftest import OperatorFactory, eventually
from tests.plans import money, nat_monthly, nat_plan
from tests.unit.k8s.admission.tls import make_tls

pytestmark = pytest.mark.kmock

NS = "team-a"


def conditions_of(obj: Any) -> dict[str, dict[str, Any]]:
    return {item["type"]: dict(item) for item in obj.get("status", {}).get("conditions", [])}


def status_of(kube: kmock.KubernetesEmulator, name: str) -> dict[str, Any]:
    return dict(ks.live_object(kube, ks.COSTESTIMATES, NS, name).get("status", {}))


async def create(kube: kmock.KubernetesEmulator, resource: str, body: dict[str, Any]) -> None:
    namespace = body["metadata"].get("namespace")
    async with kube.post(ks.url_of(resource, namespace), json=body) as response:
        assert response.status < 300, await response.text()


async def test_create_writes_the_estimate_into_status(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    plan = nat_plan(1, vpcs=1)
    spec = {
        "plan": {"inline": plan},
        "usage": {"aws_nat_gateway.gw_new_0": {"monthly_data_processed_gb": 100}},
    }
    async with operator():
        await create(kube, ks.COSTESTIMATES, ks.costestimate("egress", NS, spec))
        await eventually(lambda: status_of(kube, "egress").get("phase") == "Estimated")

    expected = money(nat_monthly(1, data_gb=Decimal(100)))
    status = status_of(kube, "egress")
    catalog = load_bundled_catalog()
    assert status["monthlyCost"] == expected
    assert status["diffMonthlyCost"] == expected
    assert status["pastMonthlyCost"] == "0.00"
    assert status["currency"] == "USD"
    assert status["observedGeneration"] == 1
    assert status["pricingVersion"] == catalog.version
    assert (
        status["planDigest"]
        == "sha256:" + hashlib.sha256(orjson.dumps(plan, option=orjson.OPT_SORT_KEYS)).hexdigest()
    )
    assert status["resourceCounts"] == {"total": 2, "priced": 1, "free": 1, "unsupported": 0}
    assert status["topResources"] == [
        {
            "address": "aws_nat_gateway.gw_new_0",
            "type": "aws_nat_gateway",
            "action": "create",
            "monthlyCost": expected,
            "diffMonthlyCost": expected,
        },
    ]
    conditions = conditions_of(kube.objects[ks.COSTESTIMATES, NS, "egress"])
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Estimated"]["status"] == "True"
    assert "Stalled" not in conditions
    assert kube.objects[ks.COSTESTIMATES, NS, "egress"]["metadata"]["finalizers"] == [
        "cloudcostguard.io/finalizer"
    ]


def status_patch_bodies(kube: kmock.KubernetesEmulator, name: str) -> list[dict[str, Any]]:
    path = ks.url_of(ks.COSTESTIMATES, NS, name, "status")
    return [dict(r.data) for r in kube if r.method == "PATCH" and r.url.path == path]


def condition_states(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


async def test_a_new_estimate_is_pending_before_its_first_estimate(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    """kstatus reads an object without conditions as Current: the operator marks it Reconciling first."""
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    async with operator(pending_status_after=0):
        await create(kube, ks.COSTESTIMATES, ks.costestimate("fresh", NS, {"plan": {"inline": nat_plan(1)}}))
        await eventually(lambda: status_of(kube, "fresh").get("phase") == "Estimated")

    pending, estimated = [body["status"] for body in status_patch_bodies(kube, "fresh")]
    assert (pending["observedGeneration"], pending["phase"]) == (1, "Pending")
    assert condition_states(pending) == {"Ready": ("False", "Pending"), "Reconciling": ("True", "Estimating")}
    assert estimated["phase"] == "Estimated"
    # The estimate replaced the conditions: Reconciling is gone from the live object.
    live = condition_states(status_of(kube, "fresh"))
    assert live == {
        "Ready": ("True", "Estimated"),
        "Estimated": ("True", "Estimated"),
        "WithinBudget": ("Unknown", "NoPolicy"),
    }


async def test_a_new_invalid_estimate_goes_from_pending_to_stalled(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    spec = {"plan": {"inline": nat_plan(1, format_version="9.0")}}
    async with operator(pending_status_after=0):
        await create(kube, ks.COSTESTIMATES, ks.costestimate("bad", NS, spec))
        await eventually(lambda: status_of(kube, "bad").get("phase") == "Failed")
    pending, failed = [body["status"] for body in status_patch_bodies(kube, "bad")]
    assert condition_states(pending)["Reconciling"] == ("True", "Estimating")
    assert condition_states(failed) == {
        "Ready": ("False", "PlanInvalid"),
        "Estimated": ("False", "PlanInvalid"),
        "Stalled": ("True", "PlanInvalid"),
    }
    assert "Reconciling" not in condition_states(status_of(kube, "bad"))


def digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


async def patch(kube: kmock.KubernetesEmulator, path: str, body: dict[str, Any]) -> None:
    headers = {"Content-Type": "application/merge-patch+json"}
    async with kube.patch(path, data=orjson.dumps(body), headers=headers) as response:
        assert response.status < 300, await response.text()


def events_for(kube: kmock.KubernetesEmulator, name: str) -> list[dict[str, Any]]:
    """Events posted about an object (from the request log: KMock ignores generateName, so it keeps
    only the first of the events kopf posts in a namespace)."""
    path = ks.url_of("v1/events", NS)
    return [
        dict(request.data)
        for request in kube
        if request.method == "POST"
        and request.url.path == path
        and request.data.get("involvedObject", {}).get("name") == name
    ]


def status_patches(kube: kmock.KubernetesEmulator, name: str) -> int:
    path = ks.url_of(ks.COSTESTIMATES, NS, name, "status")
    return sum(1 for request in kube if request.method == "PATCH" and request.url.path == path)


async def test_configmap_plan_edit_is_re_estimated(kube: kmock.KubernetesEmulator, operator: OperatorFactory):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    first = orjson.dumps(nat_plan(1, vpcs=1))
    kube.objects["v1/configmaps", NS, "plans"] = ks.k8s_object(
        "v1",
        "ConfigMap",
        "plans",
        NS,
        labels={PLAN_SOURCE_LABEL: "true"},
        generation=None,
        data={"plan.json": first.decode()},
    )
    spec = {"plan": {"configMapKeyRef": {"name": "plans", "key": "plan.json"}}}
    async with operator():
        await create(kube, ks.COSTESTIMATES, ks.costestimate("from-cm", NS, spec))
        await eventually(lambda: status_of(kube, "from-cm").get("monthlyCost") == money(nat_monthly(1)))
        assert status_of(kube, "from-cm")["planDigest"] == digest(first)

        second = orjson.dumps(nat_plan(3, vpcs=1))
        await patch(kube, ks.url_of("v1/configmaps", NS, "plans"), {"data": {"plan.json": second.decode()}})
        await eventually(lambda: status_of(kube, "from-cm").get("monthlyCost") == money(nat_monthly(3)))

    status = status_of(kube, "from-cm")
    assert status["planDigest"] == digest(second)
    assert status["observedGeneration"] == 1  # the CostEstimate itself did not change
    assert status["resourceCounts"] == {"total": 4, "priced": 3, "free": 1, "unsupported": 0}
    assert [e["reason"] for e in events_for(kube, "from-cm")] == ["Estimated", "Estimated"]


def tofu_chunk_secrets(
    plan: dict[str, Any], *, name: str, workspace: str, chunks: int
) -> list[dict[str, Any]]:
    """What tofu-controller writes for a JSON plan: gzip, then split into Secrets (runner/server_plan.go)."""
    compressed = gzip.compress(orjson.dumps(plan))
    size = -(-len(compressed) // chunks)
    base = f"tfplan-{workspace}-{name}.json"
    return [
        ks.k8s_object(
            "v1",
            "Secret",
            f"{base}-{index}",
            NS,
            generation=None,
            type="Opaque",
            labels={
                "infra.contrib.fluxcd.io/plan-name": f"{name}.json",
                "infra.contrib.fluxcd.io/plan-workspace": workspace,
            },
            annotations={
                "encoding": "gzip",
                "savedPlan": "plan-main-8f2c1d",
                "infra.contrib.fluxcd.io/plan-chunk": str(index),
            },
            data={"tfplan": base64.b64encode(compressed[index * size : (index + 1) * size]).decode()},
        )
        for index in range(chunks)
    ]


async def test_terraform_ref_reads_chunked_gzip_secrets_once_they_all_exist(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    plan = nat_plan(2, vpcs=1)
    spec = {"plan": {"terraformRef": {"name": "network", "workspace": "prod"}}}
    async with operator():
        await create(kube, ks.COSTESTIMATES, ks.costestimate("network", NS, spec))
        # tofu-controller has not written the plan yet (or is replacing it): retried, not stalled.
        await eventually(
            lambda: (
                conditions_of({"status": status_of(kube, "network")}).get("Ready", {}).get("reason")
                == "PlanNotFound"
            )
        )
        assert status_of(kube, "network")["phase"] == "Pending"
        assert "Stalled" not in conditions_of({"status": status_of(kube, "network")})

        for secret in tofu_chunk_secrets(plan, name="network", workspace="prod", chunks=3):
            await create(kube, "v1/secrets", secret)
        await eventually(lambda: status_of(kube, "network").get("phase") == "Estimated")

    status = status_of(kube, "network")
    assert status["monthlyCost"] == money(nat_monthly(2))
    assert status["planDigest"] == digest(orjson.dumps(plan))


async def test_url_source_is_fetched_over_https(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory, tmp_path: Any
):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    tls = make_tls(tmp_path)
    plan_bytes = orjson.dumps(nat_plan(2, vpcs=1))

    async def serve_plan(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=plan_bytes, content_type="application/json")

    app = aiohttp.web.Application()
    app.router.add_get("/plans/network.json", serve_plan)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    runner = aiohttp.web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    port = ks.free_port()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        # A local server is a private address: allowed here by configuration, refused by default.
        async with operator(url_allow_private=True, url_ca_file=tls.ca_file):
            spec = {"plan": {"url": f"https://localhost:{port}/plans/network.json"}}
            await create(kube, ks.COSTESTIMATES, ks.costestimate("remote", NS, spec))
            await eventually(lambda: status_of(kube, "remote").get("phase") == "Estimated")
    finally:
        await runner.cleanup()
    status = status_of(kube, "remote")
    assert status["monthlyCost"] == money(nat_monthly(2))
    assert status["planDigest"] == digest(plan_bytes)


async def test_unreadable_plan_is_stalled_with_its_reason(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    spec = {"plan": {"inline": nat_plan(1, format_version="9.0", vpcs=1)}}
    async with operator():
        await create(kube, ks.COSTESTIMATES, ks.costestimate("broken", NS, spec))
        await eventually(lambda: status_of(kube, "broken").get("phase") == "Failed")
        await eventually(lambda: any(e["type"] == "Warning" for e in events_for(kube, "broken")))

    conditions = conditions_of({"status": status_of(kube, "broken")})
    assert conditions["Stalled"]["status"] == "True"
    assert conditions["Stalled"]["reason"] == "PlanInvalid"
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "PlanInvalid"
    assert "unsupported plan format_version '9.0'" in conditions["Ready"]["message"]
    assert "monthlyCost" not in status_of(kube, "broken")
    [warning] = [e for e in events_for(kube, "broken") if e["type"] == "Warning"]
    assert warning["reason"] == "PlanInvalid"


async def test_unchanged_object_gets_no_status_write(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    async with operator(resync_interval=0.2) as memo:
        await create(
            kube, ks.COSTESTIMATES, ks.costestimate("steady", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}})
        )
        await eventually(lambda: status_of(kube, "steady").get("phase") == "Estimated")
        # A label change (no new generation) and several resyncs later: still the one status write.
        await patch(kube, ks.url_of(ks.COSTESTIMATES, NS, "steady"), {"metadata": {"labels": {"team": "a"}}})
        rounds = memo.reconciler.state(NS, "steady").rounds
        await eventually(lambda: memo.reconciler.state(NS, "steady").rounds >= rounds + 3)
    assert status_patches(kube, "steady") == 1


async def test_new_generation_is_re_estimated(kube: kmock.KubernetesEmulator, operator: OperatorFactory):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    async with operator():
        await create(
            kube, ks.COSTESTIMATES, ks.costestimate("grows", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}})
        )
        await eventually(lambda: status_of(kube, "grows").get("phase") == "Estimated")
        # The API server bumps metadata.generation on spec changes; KMock does not, so the test does.
        await patch(
            kube,
            ks.url_of(ks.COSTESTIMATES, NS, "grows"),
            {"metadata": {"generation": 2}, "spec": {"plan": {"inline": nat_plan(2, vpcs=1)}}},
        )
        await eventually(lambda: status_of(kube, "grows").get("observedGeneration") == 2)
    assert status_of(kube, "grows")["monthlyCost"] == money(nat_monthly(2))


async def test_delete_waits_for_the_finalizer(kube: kmock.KubernetesEmulator, operator: OperatorFactory):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    async with operator():
        await create(
            kube, ks.COSTESTIMATES, ks.costestimate("short", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}})
        )
        await eventually(lambda: status_of(kube, "short").get("phase") == "Estimated")
        assert ks.live_object(kube, ks.COSTESTIMATES, NS, "short")["metadata"]["finalizers"] == [
            "cloudcostguard.io/finalizer"
        ]
        async with kube.delete(ks.url_of(ks.COSTESTIMATES, NS, "short")) as response:
            assert response.status == 200
        await eventually(lambda: ks.live_object(kube, ks.COSTESTIMATES, NS, "short") == {})


def coverage_counts() -> dict[str, float]:
    """cloudcostguard_estimated_resources_total by coverage class (this process's registry)."""
    return {
        name: REGISTRY.get_sample_value("cloudcostguard_estimated_resources_total", {"coverage": name}) or 0.0
        for name in ("priced", "free", "unsupported", "priceNotFound")
    }


async def test_an_estimate_reports_its_coverage_in_status_and_in_the_metric(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory
):
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    plan = nat_plan(2, vpcs=1)
    plan["resource_changes"].append(
        {
            "address": "aws_made_up_thing.queue",
            "mode": "managed",
            "type": "aws_made_up_thing",
            "name": "queue",
            "change": {"actions": ["create"], "before": None, "after": {}, "after_unknown": {}},
        }
    )
    before = coverage_counts()
    async with operator():
        await create(kube, ks.COSTESTIMATES, ks.costestimate("partial", NS, {"plan": {"inline": plan}}))
        await eventually(lambda: status_of(kube, "partial").get("phase") == "Estimated")
    coverage = status_of(kube, "partial")["coverage"]
    assert (coverage["priced"], coverage["free"], coverage["unsupported"], coverage["priceNotFound"]) == (
        2,
        1,
        1,
        0,
    )
    assert coverage["unsupportedAddresses"] == ["aws_made_up_thing.queue"]
    grown = {name: value - before[name] for name, value in coverage_counts().items()}
    assert grown == {"priced": 2.0, "free": 1.0, "unsupported": 1.0, "priceNotFound": 0.0}


async def test_a_slow_first_estimate_is_pending_while_its_plan_is_fetched(
    kube: kmock.KubernetesEmulator, operator: OperatorFactory, tmp_path: Any
):
    """The default path: no Pending write for a fast estimate (the tests' operators wait 60 s), but one
    that takes longer than pending_status_after — here a plan URL answering after 1.5 s — is marked."""
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
    tls = make_tls(tmp_path)
    plan_bytes = orjson.dumps(nat_plan(2, vpcs=1))

    async def serve_slowly(_: aiohttp.web.Request) -> aiohttp.web.Response:
        await asyncio.sleep(1.5)
        return aiohttp.web.Response(body=plan_bytes, content_type="application/json")

    app = aiohttp.web.Application()
    app.router.add_get("/plan.json", serve_slowly)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    runner = aiohttp.web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    port = ks.free_port()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port, ssl_context=context).start()
    try:
        async with operator(url_allow_private=True, url_ca_file=tls.ca_file, pending_status_after=0.2):
            spec = {"plan": {"url": f"https://localhost:{port}/plan.json"}}
            await create(kube, ks.COSTESTIMATES, ks.costestimate("slow", NS, spec))
            await eventually(lambda: status_of(kube, "slow").get("phase") == "Pending")
            assert condition_states(status_of(kube, "slow"))["Reconciling"] == ("True", "Estimating")
            assert "monthlyCost" not in status_of(kube, "slow")
            await eventually(lambda: status_of(kube, "slow").get("phase") == "Estimated")
    finally:
        await runner.cleanup()
    assert status_of(kube, "slow")["monthlyCost"] == money(nat_monthly(2))
    assert "Reconciling" not in condition_states(status_of(kube, "slow"))
    assert status_patches(kube, "slow") == 2

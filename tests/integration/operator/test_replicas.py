"""Two ``cloudcostguard run`` processes against one KMock, as two replicas of the Deployment.

One writes (statuses, Events); the other keeps watching, and its admission webhook judges a namespace
budget from the spend the leader just wrote; killing the leader (SIGKILL: no release) hands the Lease to
the other within the lease duration; a SIGTERM releases it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import orjson
import pytest

from tests import kmock_support as ks
from tests.integration.admission.support import cost_estimate, review
from tests.integration.operator.conftest import eventually
from tests.plans import money, nat_monthly, nat_plan

pytestmark = pytest.mark.kmock

ROOT = Path(__file__).resolve().parents[3]
NS = "team-a"
LEASE_NAMESPACE = "cloudcostguard-system"
LEASE_DURATION, RENEW_DEADLINE, RETRY_PERIOD = 3, 2.0, 0.25
LEASE_PATH = ks.url_of(ks.LEASES, LEASE_NAMESPACE, "cloudcostguard-leader")


def lease_reads(kube: kmock.KubernetesEmulator) -> int:
    """Election attempts of every replica so far: each one starts by reading the Lease."""
    return sum(1 for request in kube if request.method == "GET" and request.url.path == LEASE_PATH)


TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass
class Replica:
    name: str
    process: asyncio.subprocess.Process
    metrics_port: int
    webhook_port: int
    cert_dir: Path
    log: Path

    async def metric(self, sample: str) -> float:
        """A sample from this process's /metrics (0 when absent: a labelled counter never incremented)."""
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.get(f"http://127.0.0.1:{self.metrics_port}/metrics") as response,
        ):
            text = await response.text()
        for line in text.splitlines():
            if line.startswith(sample + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    async def leads(self) -> bool:
        try:
            return await self.metric("cloudcostguard_leader") == 1.0
        except aiohttp.ClientError:
            return False  # not serving /metrics (yet)

    async def admit(self, obj: dict[str, Any]) -> dict[str, Any]:
        """This replica's webhook answer to a CostEstimate CREATE."""
        context = ssl.create_default_context(cafile=str(self.cert_dir / "ca.pem"))
        url = f"https://127.0.0.1:{self.webhook_port}/validate-costestimate"
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.post(url, data=orjson.dumps(review(obj)), ssl=context) as response,
        ):
            assert response.status == 200, await response.text()
            answer: dict[str, Any] = (await response.json())["response"]
            return answer


@contextlib.asynccontextmanager
async def replicas(tmp_path: Path, server: str, names: tuple[str, ...]) -> AsyncIterator[list[Replica]]:
    kubeconfig = ks.write_kubeconfig(tmp_path / "kubeconfig", server)
    started: list[Replica] = []
    logs = []
    try:
        for name in names:
            health, metrics_port, webhook = ks.free_port(), ks.free_port(), ks.free_port()
            env = {
                **os.environ,
                "KUBECONFIG": str(kubeconfig),
                "CCG_LOG_FORMAT": "json",
                "CCG_OPERATOR_NAMESPACE": LEASE_NAMESPACE,
                "CCG_WEBHOOK_CERT_DIR": str(tmp_path / name / "certs"),
                "CCG_LEADER_ELECTION_LEASE_DURATION": str(LEASE_DURATION),
                "CCG_LEADER_ELECTION_RENEW_DEADLINE": str(RENEW_DEADLINE),
                "CCG_LEADER_ELECTION_RETRY_PERIOD": str(RETRY_PERIOD),
                # Plain /metrics: leadership is read from it (the secure mode: test_metrics_auth.py).
                "CCG_METRICS_SECURE": "false",
            }
            log = tmp_path / f"{name}.log"
            output = log.open("wb")
            logs.append(output)
            process = await ks.spawn_run(
                env, output, health=health, metrics=metrics_port, webhook=webhook, standalone=False
            )
            started.append(Replica(name, process, metrics_port, webhook, tmp_path / name / "certs", log))
        yield started
    finally:
        for replica in started:
            if replica.process.returncode is None:
                replica.process.kill()
                await asyncio.wait_for(replica.process.wait(), timeout=30)
        for output in logs:
            output.close()


def estimate_phase(kube: kmock.KubernetesEmulator, name: str) -> str | None:
    phase = ks.live_object(kube, ks.COSTESTIMATES, NS, name).get("status", {}).get("phase")
    return phase if isinstance(phase, str) else None


async def test_two_replicas_one_writer_a_fresh_standby_and_failover(tmp_path: Path) -> None:
    async with ks.emulator_server() as (kube, server):
        kube.objects["v1/namespaces", None, NS] = ks.namespace(NS)
        kube.objects[ks.COSTPOLICIES, None, "team-budget"] = ks.k8s_object(
            "cloudcostguard.io/v1alpha1",
            "CostPolicy",
            "team-budget",
            spec={"enforcement": "Deny", "limits": {"namespaceMonthlyBudget": "50"}},
        )
        kube.objects[ks.COSTESTIMATES, NS, "web"] = ks.costestimate(
            "web", NS, {"plan": {"inline": nat_plan(1, vpcs=1)}}
        )
        async with replicas(tmp_path, server, ("a", "b")) as (a, b):
            await eventually(lambda: estimate_phase(kube, "web") == "Estimated", within=90)

            async def one_leads() -> bool:
                return [await a.leads(), await b.leads()].count(True) == 1

            await eventually(one_leads, within=30)
            leader, standby = (a, b) if await a.leads() else (b, a)
            # The standby goes on watching, and keeps still, for several election rounds of both (counted).
            reads = lease_reads(kube)
            await eventually(lambda: lease_reads(kube) >= reads + 8, within=30)
            writes = 'cloudcostguard_status_writes_total{kind="costestimate"}'
            assert await leader.metric(writes) >= 1
            assert await standby.metric(writes) == 0
            assert await standby.metric("cloudcostguard_events_posted_total") == 0

            # The standby's webhook judges the namespace budget from the spend the leader wrote:
            # 32.85 committed ("web") + 32.85 more is over 50.
            one = money(nat_monthly(1))
            answer: dict[str, Any] = {}

            async def standby_denies() -> bool:
                answer.update(
                    await standby.admit(cost_estimate("db", namespace=NS, plan=nat_plan(1, vpcs=1)))
                )
                return answer.get("allowed") is False

            await eventually(standby_denies, within=30)
            assert answer["status"]["code"] == 403
            assert (
                f"namespace {NS} would spend {money(2 * nat_monthly(1))} USD/month (this estimate {one} USD)"
                in answer["status"]["message"]
            )

            # The leader dies without a word: the standby takes over once the Lease went unrenewed for
            # the lease duration (counted from its last sight of a renewal, at most a retry period old).
            leader.process.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            await eventually(standby.leads, within=30)
            took = time.monotonic() - killed
            assert LEASE_DURATION - 2 * RETRY_PERIOD <= took < LEASE_DURATION + 2 * RETRY_PERIOD + 2.0, took
            await kube_create(kube, "api", nat_plan(2, vpcs=1))
            await eventually(lambda: estimate_phase(kube, "api") == "Estimated", within=30)
            assert await standby.metric(writes) >= 1

            # A graceful stop releases the Lease for the next replica.
            standby.process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(standby.process.wait(), timeout=30) == 0
        spec = ks.live_object(kube, ks.LEASES, LEASE_NAMESPACE, "cloudcostguard-leader")["spec"]
        assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("", 1)
        assert errors_logged(standby.log) == []


def errors_logged(log: Path) -> list[str]:
    """Messages logged at error level or above (JSON lines)."""
    found = []
    for line in log.read_text().splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            found.append(line)  # not a log record: a traceback printed by the interpreter
            continue
        if record.get("severity") in ("error", "fatal", "critical"):
            found.append(record.get("message", line))
    return found


async def kube_create(kube: kmock.KubernetesEmulator, name: str, plan: dict[str, Any]) -> None:
    body = ks.costestimate(name, NS, {"plan": {"inline": plan}})
    async with kube.post(ks.url_of(ks.COSTESTIMATES, NS), json=body) as response:
        assert response.status < 300, await response.text()

"""SIGTERM to a real ``cloudcostguard run`` (against KMock) while admission reviews are in flight.

Sixteen large reviews (3,000 resources of every priced type each, every one new) are sent at once to
a process whose one worker thread estimates every plan, so that most are in flight (being read,
waiting for the worker, or in it) when SIGTERM arrives: it is sent once 12 are. Each must get its
complete AdmissionReview answer (its uid, its verdict), and the process must exit 0 within the pod's
grace period (``terminationGracePeriodSeconds`` 30 in the chart): the listener closes at once, the
reviews in flight finish (bounded by the server's shutdown timeout, CCG_WEBHOOK_READ_TIMEOUT +
CCG_WEBHOOK_DECISION_TIMEOUT), then the workers and the rest stop.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import ssl
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from benchmarks.admission_latency import make_plan, plan_types

from tests import kmock_support as ks
from tests.integration.admission.support import cost_estimate, review
from tests.plans import nat_plan

pytestmark = pytest.mark.kmock

ROOT = Path(__file__).resolve().parents[2]
GRACE_PERIOD = 30.0  # the chart's terminationGracePeriodSeconds
IN_FLIGHT = 16


async def metric(port: int, name: str) -> float:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as response,
        ):
            text = await response.text()
    except aiohttp.ClientError:
        return -1.0
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    data = io.BytesIO(orjson.dumps(body))  # aiohttp warns about a large body as raw bytes
    async with session.post(url, data=data, headers={"Content-Type": "application/json"}) as response:
        return response.status, orjson.loads(await response.read())


async def test_sigterm_answers_every_review_in_flight_and_exits_within_the_grace_period(
    tmp_path: Path,
) -> None:
    async with ks.emulator_server() as (kube, url):
        kube.objects["v1/namespaces", None, "team-a"] = ks.namespace("team-a", {"team": "a"})
        kube.objects[ks.COSTPOLICIES, None, "cap"] = ks.k8s_object(
            f"{ks.GROUP}/{ks.VERSION}",
            "CostPolicy",
            "cap",
            spec={"enforcement": "Deny", "limits": {"maxMonthlyCost": "10000000"}},
        )
        health, metrics_port, webhook = ks.free_port(), ks.free_port(), ks.free_port()
        cert_dir = tmp_path / "certs"
        env = {
            **os.environ,
            "KUBECONFIG": str(ks.write_kubeconfig(tmp_path / "kubeconfig", url)),
            "CCG_LOG_FORMAT": "json",
            "CCG_METRICS_SECURE": "false",  # plain /metrics: the test reads the in-flight gauge
            "CCG_WEBHOOK_CERT_DIR": str(cert_dir),
            "CCG_WEBHOOK_WORKERS": "1",  # one worker: the reviews queue for it, all in flight together
            "CCG_WEBHOOK_INLINE_MAX_RESOURCES": "0",  # every plan to the worker
            "CCG_WEBHOOK_DECISION_TIMEOUT": "20",
        }
        log = (tmp_path / "operator.log").open("wb")
        process = await ks.spawn_run(env, log, health=health, metrics=metrics_port, webhook=webhook)
        endpoint = f"https://127.0.0.1:{webhook}/validate-costestimate"
        types = plan_types()
        try:
            deadline = time.monotonic() + 60
            while not (cert_dir / "ca.pem").exists():
                assert time.monotonic() < deadline, "no webhook certificate"
                await asyncio.sleep(0.1)
            context = ssl.create_default_context(cafile=str(cert_dir / "ca.pem"))
            connector = aiohttp.TCPConnector(ssl=context, limit=IN_FLIGHT + 1)
            async with aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=60)
            ) as session:
                while True:  # the webhook listens once kopf has scanned the resources
                    try:
                        status, _ = await post(
                            session, endpoint, review(cost_estimate("warm", plan=nat_plan(1)))
                        )
                        if status == 200:
                            break
                    except aiohttp.ClientError:
                        pass
                    assert time.monotonic() < deadline, "the webhook did not start"
                    await asyncio.sleep(0.2)

                requests = [
                    review(cost_estimate(f"big-{i}", plan=make_plan(types, 3000, variant=i)))
                    for i in range(IN_FLIGHT)
                ]
                tasks = [asyncio.create_task(post(session, endpoint, body)) for body in requests]
                # Signal once most are in flight (the first may be answered before the last arrives).
                while await metric(metrics_port, "cloudcostguard_admission_in_flight") < IN_FLIGHT - 4:
                    assert time.monotonic() < deadline + 60, "the reviews never were in flight together"
                    await asyncio.sleep(0.01)
                process.send_signal(signal.SIGTERM)
                signalled = time.monotonic()
                pending_at_sigterm = sum(not task.done() for task in tasks)
                answers = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), GRACE_PERIOD)
            returncode = await asyncio.wait_for(process.wait(), GRACE_PERIOD)
            exited_after = time.monotonic() - signalled
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            log.close()
    output = (tmp_path / "operator.log").read_text()
    print(
        f"\n{pending_at_sigterm} reviews in flight at SIGTERM; exit {returncode} after {exited_after:.2f} s"
    )
    # Still unanswered when the signal arrived (one or two may finish between the metric's reading and
    # the signal: the worker answers one every ~0.1 s).
    assert pending_at_sigterm >= IN_FLIGHT // 2
    for body, answer in zip(requests, answers, strict=True):
        assert not isinstance(answer, BaseException), f"{answer!r}\n{output[-3000:]}"
        status, payload = answer
        assert status == 200
        assert payload["response"]["uid"] == body["request"]["uid"]
        assert payload["response"]["allowed"] is True  # judged: estimated within budget
    assert returncode == 0, output[-3000:]
    assert exited_after < GRACE_PERIOD
    assert '"message": "CloudCostGuard operator stopped"' in output
    assert "Traceback" not in output

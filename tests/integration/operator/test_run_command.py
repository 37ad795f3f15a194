"""``cloudcostguard run`` as a process: kubeconfig login to a plain-HTTP API, probes, metrics, SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests import kmock_support as ks
from tests.integration.operator.conftest import eventually
from tests.plans import money, nat_monthly, nat_plan

pytestmark = pytest.mark.kmock

ROOT = Path(__file__).resolve().parents[3]


async def http_get(url: str) -> tuple[int, str]:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(url) as response,
        ):
            return response.status, await response.text()
    except aiohttp.ClientError:
        return 0, ""


async def test_run_serves_probes_and_metrics_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with ks.emulator_server() as (kube, url):
        kube.objects["v1/namespaces", None, "team-a"] = ks.namespace("team-a")
        kube.objects[ks.COSTESTIMATES, "team-a", "egress"] = ks.costestimate(
            "egress", "team-a", {"plan": {"inline": nat_plan(1, vpcs=1)}}
        )
        health, metrics_port, webhook = ks.free_port(), ks.free_port(), ks.free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(ks.write_kubeconfig(tmp_path / "kubeconfig", url)),
            "CCG_LOG_FORMAT": "json",
            # Plain /metrics here; the authenticated default is run in test_metrics_auth.py.
            "CCG_METRICS_SECURE": "false",
        }
        log = (tmp_path / "operator.log").open("wb")
        process = await ks.spawn_run(env, log, health=health, metrics=metrics_port, webhook=webhook)
        try:
            await eventually(
                lambda: (
                    ks.live_object(kube, ks.COSTESTIMATES, "team-a", "egress").get("status", {}).get("phase")
                    == "Estimated"
                ),
                within=60,
            )
            status = ks.live_object(kube, ks.COSTESTIMATES, "team-a", "egress")["status"]
            assert status["monthlyCost"] == money(nat_monthly(1))
            assert await http_get(f"http://127.0.0.1:{health}/healthz") == (200, "ok\n")
            assert await http_get(f"http://127.0.0.1:{health}/readyz") == (200, "ready\n")
            code, text = await http_get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert code == 200
            assert 'cloudcostguard_estimates_total{source="inline"} 1.0' in text
            assert 'cloudcostguard_costestimates{phase="Estimated"} 1.0' in text
            assert "cloudcostguard_catalog_age_seconds" in text
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            returncode = await asyncio.wait_for(process.wait(), timeout=30)
            log.close()
        # --standalone: no leader election, so no Lease was ever read or written.
        assert [request.url.path for request in kube if "/leases" in request.url.path] == []
    output = (tmp_path / "operator.log").read_text()
    assert returncode == 0, output[-3000:]
    assert '"message": "CloudCostGuard operator stopped"' in output
    assert "Traceback" not in output


async def test_run_with_a_bad_listen_address_exits_2_with_one_line(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cloudcostguard", "run", "--standalone", "--health-listen", "nowhere",
        env={**os.environ, "KUBECONFIG": str(tmp_path / "absent")}, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert stderr.decode().strip().splitlines()[-1] == (
        "cloudcostguard: error: invalid setting CCG_HEALTH_LISTEN: 'nowhere' is not HOST:PORT"
    )


async def test_run_with_an_invalid_setting_exits_2(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cloudcostguard", "run",
        env={**os.environ, "CCG_RETRY_DELAY": "-1"}, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert stderr.decode().strip() == (
        "cloudcostguard: error: invalid setting CCG_RETRY_DELAY: Input should be greater than 0"
    )


async def test_run_with_lease_timings_that_could_overlap_exits_2(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cloudcostguard", "run",
        env={**os.environ, "CCG_LEADER_ELECTION_RENEW_DEADLINE": "20", "KUBECONFIG": str(tmp_path / "x")},
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert stderr.decode().strip() == (
        "cloudcostguard: error: invalid setting CCG_LEADER_ELECTION_RENEW_DEADLINE: 20 s must be below "
        "CCG_LEADER_ELECTION_LEASE_DURATION (15 s), or an old leader could still write after a standby "
        "took over"
    )

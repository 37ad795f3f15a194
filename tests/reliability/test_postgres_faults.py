"""PostgreSQL stopped, restarted, black-holed and slowed while the operator, the webhook and the CLI serve.

The database is reached through ``TcpProxy`` (tests/integration/pricing/proxy.py): ``cut()`` is a
stopped server, ``pause()`` a network that drops every packet (only timeouts end a wait), ``delay`` a
slow one; a restart is ``pg_terminate_backend`` on every connection of the product (what clients see
when the server restarts). What must hold: estimates and admissions keep working from the in-process
catalog; staleness is reported (metric, ``/readyz``, ``status.pricingStaleSince``); reconnection is
automatic; no refresh or request waits longer than its timeout.
"""

from __future__ import annotations

import asyncio
import sys
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import kmock
import orjson
import pytest
from prometheus_client import REGISTRY

from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.pricing.store.bulk_load import import_snapshot_records, load_offer_files
from cloudcostguard.pricing.store.postgres_provider import PostgresCatalogProvider
from cloudcostguard.settings import Settings
from tests import kmock_support as ks
from tests.integration.admission.support import cost_estimate, cost_policy, review
from tests.integration.operator.conftest import (
    OperatorFactory,
    eventually,
    kube,  # noqa: F401 - fixture
    operator,  # noqa: F401 - fixture
)
from tests.integration.pricing.conftest import (
    database_url,  # noqa: F401 - fixture
    make_settings,
    store_url,  # noqa: F401 - fixture
)
from tests.integration.pricing.proxy import TcpProxy
from tests.plans import money, nat_monthly, nat_plan
from tests.unit.pricing.offers.samples import EC2_2017, S3_EXCERPT

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
CONNECT_TIMEOUT, COMMAND_TIMEOUT = 1.0, 1.5
# The longest one refresh may take with the database black-holed: a query's command timeout, then
# giving the connection back (bounded by the connect timeout), plus scheduling slack on a loaded host.
REFRESH_BOUND = COMMAND_TIMEOUT + 2 * CONNECT_TIMEOUT + 1.0
WAIT = 20.0


def via(url: str, port: int) -> str:
    parts = urllib.parse.urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


def target(url: str) -> tuple[str, int]:
    parts = urllib.parse.urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def fault_settings(**overrides: Any) -> Settings:
    return make_settings(db_connect_timeout=CONNECT_TIMEOUT, db_command_timeout=COMMAND_TIMEOUT, **overrides)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def until(condition: Callable[[], bool], what: str, within: float = WAIT) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@pytest.fixture()
async def proxy(store_url: str) -> AsyncIterator[TcpProxy]:  # noqa: F811
    tcp = TcpProxy(*target(store_url))
    await tcp.start()
    yield tcp
    tcp.resume()
    await tcp.cut()


async def timed(refresh: Callable[[], Any]) -> float:
    started = time.monotonic()
    await refresh()
    return time.monotonic() - started


async def restart_postgresql_sessions(database_url: str) -> int:  # noqa: F811
    """What clients see when PostgreSQL restarts: every session of the product is terminated."""
    connection = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'cloudcostguard' AND datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return len(rows)


# --- the catalog provider ------------------------------------------------------------------------------


async def test_a_black_holed_database_is_reported_stale_within_the_timeouts_and_recovered(
    store_url: str,  # noqa: F811
    proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    settings = fault_settings()
    first = await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3")])
    provider = PostgresCatalogProvider(
        via(store_url, proxy.port), settings, cache_file=tmp_path / "catalog.bin", refresh_interval=3600
    )
    await provider.start()
    try:
        served = provider.current()
        assert provider.version_id == first.version_id
        errors_before = metric("cloudcostguard_catalog_refreshes_total", result="error")

        proxy.pause()
        took = [await timed(provider.refresh_now) for _ in range(3)]
        print("black hole: seconds per refresh", [round(t, 2) for t in took])
        assert max(took) <= REFRESH_BOUND, took
        status = provider.status()
        assert status.stale and status.last_error is not None
        assert provider.current() is served  # the last good catalog, untouched
        assert metric("cloudcostguard_catalog_stale") == 1
        assert metric("cloudcostguard_catalog_refreshes_total", result="error") >= errors_before + 3

        second = await load_offer_files(store_url, settings, [(EC2_2017, "ec2")])  # switched meanwhile
        proxy.resume()
        await until(lambda: provider.version_id == second.version_id, "reconnection and the new version")
        assert (provider.status().stale, provider.status().last_error) == (False, None)
        assert metric("cloudcostguard_catalog_stale") == 0
        assert await timed(provider.refresh_now) < 1.0  # the pool is healthy again
    finally:
        await provider.stop()


async def test_a_slow_database_is_served_until_a_round_trip_exceeds_the_command_timeout(
    store_url: str,  # noqa: F811
    proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    settings = fault_settings()
    first = await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3")])
    provider = PostgresCatalogProvider(
        via(store_url, proxy.port), settings, cache_file=tmp_path / "catalog.bin", refresh_interval=3600
    )
    await provider.start()
    try:
        proxy.delay = 0.1  # 100 ms each way per chunk: slow, within every timeout
        await provider.refresh_now()
        assert not provider.status().stale

        proxy.delay = COMMAND_TIMEOUT + 1  # one round trip longer than a query may take
        assert await timed(provider.refresh_now) <= REFRESH_BOUND + proxy.delay
        assert provider.status().stale
        assert provider.version_id == first.version_id  # still serving

        proxy.delay = 0.0
        await until(lambda: not provider.status().stale, "recovery once the network is fast again")
    finally:
        await provider.stop()


async def test_after_a_postgresql_restart_the_listener_and_the_pool_reconnect(
    database_url: str,  # noqa: F811
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = fault_settings()
    await load_offer_files(store_url, settings, [(S3_EXCERPT, "s3")])
    # No interval refresh: only NOTIFY on the (re-established) listening connection, or the retries
    # after a failed refresh, can bring the next version in.
    provider = PostgresCatalogProvider(
        store_url, settings, cache_file=tmp_path / "catalog.bin", refresh_interval=3600, min_retry=0.2
    )
    await provider.start()
    try:
        for restart in range(3):
            assert await restart_postgresql_sessions(database_url) >= 1
            await until(lambda: not provider.status().stale, f"reconnection after restart {restart}")
            loaded = await load_offer_files(
                store_url, settings, [(EC2_2017 if restart % 2 else S3_EXCERPT, "x")]
            )
            await until(
                lambda v=loaded.version_id: provider.version_id == v, f"NOTIFY after restart {restart}"
            )
    finally:
        await provider.stop()


# --- the CLI ----------------------------------------------------------------------------------------------


async def test_cli_estimate_through_a_black_holed_database_fails_in_time_with_one_line(
    store_url: str,  # noqa: F811
    proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    """``estimate --database-url`` asks for those prices: no silent fallback to other prices (README,
    Prices), a one-line error and exit 2 within the connect timeout."""
    plan = tmp_path / "plan.json"
    plan.write_bytes(orjson.dumps(nat_plan(1, vpcs=1)))
    proxy.pause()
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cloudcostguard", "estimate", str(plan),
        "--database-url", via(store_url, proxy.port),
        env={"CCG_DB_CONNECT_TIMEOUT": "1", "PATH": "/usr/bin:/bin"}, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    took = time.monotonic() - started
    lines = stderr.decode().strip().splitlines()
    print(f"CLI through a black hole: exit {process.returncode} after {took:.1f} s: {lines}")
    assert process.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("cloudcostguard: error: cannot connect to PostgreSQL")
    assert lines[0].endswith("timed out")
    # Two connect timeouts at most (asyncpg's, then the whole-connect bound) + interpreter start-up.
    assert took < 2 * 1.0 + 15


# --- the operator and the webhook -------------------------------------------------------------------------


async def admit(port: int, obj: dict[str, Any]) -> tuple[bool, float]:
    started = time.monotonic()
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
        session.post(
            f"https://127.0.0.1:{port}/validate-costestimate", json=review(obj), ssl=False
        ) as response,
    ):
        answer = await response.json()
    return bool(answer["response"]["allowed"]), time.monotonic() - started


async def readyz(port: int, *, as_json: bool = False) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{port}/readyz" + ("?format=json" if as_json else "")
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url) as r,
    ):
        return r.status, (await r.json()) if as_json else await r.text()


async def test_the_operator_and_webhook_keep_serving_while_postgresql_is_black_holed(
    kube: kmock.KubernetesEmulator,  # noqa: F811
    operator: OperatorFactory,  # noqa: F811
    store_url: str,  # noqa: F811
    proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    settings = fault_settings()
    version = await import_snapshot_records(
        store_url, settings, load_bundled_catalog().records(), source="test", digest="c" * 64
    )
    kube.objects["v1/namespaces", None, "team-a"] = ks.namespace("team-a")
    kube.objects[ks.COSTPOLICIES, None, "cap"] = ks.k8s_object(
        "cloudcostguard.io/v1alpha1",
        "CostPolicy",
        "cap",
        **{"spec": cost_policy("cap", maxMonthlyCost="40")["spec"]},
    )

    kube.objects[ks.COSTESTIMATES, "team-a", "before"] = ks.costestimate(
        "before", "team-a", {"plan": {"inline": nat_plan(1, vpcs=1)}}
    )

    def status(name: str) -> dict[str, Any]:
        return dict(ks.live_object(kube, ks.COSTESTIMATES, "team-a", name).get("status", {}))

    async with operator(
        database_url=via(store_url, proxy.port),
        db_connect_timeout=CONNECT_TIMEOUT,
        db_command_timeout=COMMAND_TIMEOUT,
        catalog_refresh_interval=1.0,
        catalog_cache_file=tmp_path / "catalog.bin",
        resync_interval=2.0,
    ) as memo:
        health = memo.servers.addresses["health"][1]
        webhook = int(memo.settings.webhook_listen.rsplit(":", 1)[1])
        await eventually(lambda: status("before").get("phase") == "Estimated", within=30)
        assert status("before")["pricingVersion"].startswith(f"pg-{version.version_id}-")
        assert status("before").get("pricingStaleSince") is None
        assert await readyz(health) == (200, "ready\n")

        proxy.pause()
        await eventually(lambda: memo.catalog_provider.status().stale, within=WAIT)
        code, text = await readyz(health)
        assert code == 200  # still ready: it serves the last good catalog
        lines = text.splitlines()
        assert lines[0] == "ready"
        assert lines[1].startswith("price catalog stale since ") and f"pg-{version.version_id}-" in lines[1]
        code, detail = await readyz(health, as_json=True)
        assert (code, detail["ready"], detail["catalog"]["stale"]) == (200, True, True)
        assert detail["catalog"]["staleSince"] is not None and detail["catalog"]["lastError"]
        assert metric("cloudcostguard_catalog_stale") == 1

        # Estimates and admissions go on, priced from the in-process catalog, in their usual time.
        body = ks.costestimate("during", "team-a", {"plan": {"inline": nat_plan(2, vpcs=1)}})
        async with kube.post(ks.url_of(ks.COSTESTIMATES, "team-a"), json=body) as response:
            assert response.status < 300
        await eventually(lambda: status("during").get("phase") == "Estimated", within=30)
        assert status("during")["monthlyCost"] == money(nat_monthly(2))
        assert status("during")["pricingVersion"].startswith(f"pg-{version.version_id}-")
        assert status("during")["pricingStaleSince"] == detail["catalog"]["staleSince"]
        ready = {c["type"]: c for c in status("during")["conditions"]}["Ready"]
        assert "not confirmed current since" in ready["message"]
        latencies = []
        for _ in range(5):
            allowed, took = await admit(webhook, cost_estimate("one", plan=nat_plan(1)))
            assert allowed and took < 1.0
            denied, took_denied = await admit(webhook, cost_estimate("two", plan=nat_plan(2)))
            assert not denied and took_denied < 1.0
            latencies += [took, took_denied]
        print(f"admissions while black-holed: 10, slowest {max(latencies) * 1000:.0f} ms")

        proxy.resume()
        await eventually(lambda: not memo.catalog_provider.status().stale, within=WAIT)
        assert await readyz(health) == (200, "ready\n")
        assert metric("cloudcostguard_catalog_stale") == 0
        # The next look (resync) re-estimates from the confirmed catalog: the stale mark goes.
        await eventually(lambda: status("during").get("pricingStaleSince") is None, within=WAIT)
    assert status("during")["monthlyCost"] == money(nat_monthly(2))

"""Fixtures: a KMock API server, and the operator running in-process against it (kopf's operator runner
in a background task, connecting through a kubeconfig as it would to a cluster)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import kmock
import kopf
import pytest

from cloudcostguard.k8s import process
from cloudcostguard.settings import Settings
from tests import kmock_support

pytestmark = pytest.mark.kmock

OperatorFactory = Callable[..., contextlib.AbstractAsyncContextManager[Any]]


@pytest.fixture()
async def kube(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[kmock.KubernetesEmulator]:
    async with kmock_support.emulator_server() as (emulator, url):
        monkeypatch.setenv("KUBECONFIG", str(kmock_support.write_kubeconfig(tmp_path / "kubeconfig", url)))
        yield emulator


@pytest.fixture()
def operator(kube: kmock.KubernetesEmulator) -> OperatorFactory:
    """Start the operator: ``async with operator(resync_interval=1) as memo: ...``.

    As ``cloudcostguard run`` does, with every handler of this build registered (the admission
    webhook's too: kopf refuses to run validating handlers without the server they need), kopf without
    peering, and leader election on unless ``leader_election=False`` is given (alone, it takes the
    Lease in KMock at once). The operator must stop within ``stop_within`` seconds.
    """

    @contextlib.asynccontextmanager
    async def start(*, stop_within: float = 30.0, **overrides: Any) -> AsyncIterator[Any]:
        settings = Settings(
            **{
                "metrics_listen": "127.0.0.1:0",
                "health_listen": "127.0.0.1:0",
                "webhook_listen": f"127.0.0.1:{kmock_support.free_port()}",
                "retry_delay": 0.2,
                "retry_max_delay": 1.0,
                # Deterministic status-write counts on a loaded machine: no Pending status unless a
                # test asks for one (pending_status_after=0, or a small value with a slow plan source).
                "pending_status_after": 60.0,
                "log_format": "text",
                **overrides,
            }
        )
        memo = process.make_memo(settings)
        stop = asyncio.Event()
        ready = asyncio.Event()
        existing = asyncio.all_tasks()
        tasks = await kopf.spawn_tasks(
            clusterwide=True, standalone=True, memo=memo, stop_flag=stop, ready_flag=ready
        )
        task = asyncio.create_task(kopf.run_tasks(tasks, ignored=_ForeignTasks(existing)))
        try:
            async with asyncio.timeout(30):
                await ready.wait()
            yield memo
        finally:
            stop.set()
            async with asyncio.timeout(stop_within):
                await task

    return start


class _ForeignTasks(frozenset[asyncio.Task[Any]]):
    """Tasks kopf must not wait for at shutdown: those that existed before it started, and the KMock
    server's per-request tasks (in a cluster the API server is another process; here it shares the
    loop, and kopf would otherwise give its open watch requests 5 s to finish)."""

    def __contains__(self, task: object) -> bool:
        if super().__contains__(task):
            return True
        coro = task.get_coro() if isinstance(task, asyncio.Task) else None
        filename = getattr(getattr(coro, "cr_code", None), "co_filename", "")
        return "/kmock/" in filename or filename.endswith("aiohttp/web_protocol.py")


async def eventually(check: Callable[[], Awaitable[bool] | bool], *, within: float = 20.0) -> None:
    """Poll until ``check()`` is true (KMock and kopf are asynchronous), failing after ``within`` s."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = check()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.05)

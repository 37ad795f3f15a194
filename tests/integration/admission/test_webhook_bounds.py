"""The webhook's bounds over real HTTPS: reviews in flight, slow clients, idle connections.

- Over ``CCG_WEBHOOK_MAX_IN_FLIGHT`` reviews being decided, the next is answered 429 at once (a Status
  the API server reports, no ``Retry-After``: its failurePolicy decides), counted in a metric; the
  reviews in flight still get their verdicts, and the webhook takes new ones as soon as they are done.
- Slow clients (raw TLS sockets trickling bytes) are closed within their bound while other reviews are
  answered: a body within ``CCG_WEBHOOK_READ_TIMEOUT`` (else 408), a request head within
  ``CCG_WEBHOOK_IDLE_TIMEOUT`` (as an idle keep-alive connection), a TLS handshake within the read
  timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aiohttp
import orjson
from prometheus_client import REGISTRY

from cloudcostguard.k8s.admission import decision as admission
from cloudcostguard.k8s.testing import InMemoryClusterState
from cloudcostguard.settings import Settings
from tests.integration.admission.support import (
    NAMESPACE,
    WebhookHarness,
    cost_estimate,
    cost_policy,
    nat_plan,
    review,
)

CE = admission.HANDLER_COSTESTIMATE
SLACK = 1.0  # seconds of scheduling noise allowed on a shared 2-CPU machine


def state() -> InMemoryClusterState:
    # A policy applies, so every review is estimated (no "no policy" short cut).
    return InMemoryClusterState(
        policies=[cost_policy("cap", maxMonthlyCost="100000")],
        labels_by_namespace={NAMESPACE: {"team": "a"}},
    )


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def post_with_headers(
    harness: WebhookHarness, path: str, body: dict[str, Any]
) -> tuple[int, Any, dict[str, str], float]:
    """(status, parsed body, response headers, seconds taken)."""
    assert harness.session is not None
    started = time.perf_counter()
    async with harness.session.post(f"{harness.url}{path}", data=orjson.dumps(body)) as response:
        payload = orjson.loads(await response.read())
        return response.status, payload, dict(response.headers), time.perf_counter() - started


async def until(check: Any, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


# --- reviews in flight ---------------------------------------------------------------------------------


async def test_over_the_in_flight_limit_answers_429_at_once_and_recovers() -> None:
    gate = threading.Event()
    with ThreadPoolExecutor(1, thread_name_prefix="test-admission") as executor:
        # The only worker is busy: offloaded estimates wait in its queue, holding their slots.
        executor.submit(gate.wait, 30)
        # Every plan is estimated in a worker thread (more than 0 resource changes).
        settings = Settings(webhook_max_in_flight=2, webhook_inline_max_resources=0)
        try:
            async with WebhookHarness(state(), settings=settings, executor=executor) as harness:
                limit = harness.server.limit
                rejected = metric("cloudcostguard_admission_overload_rejections_total", handler=CE)
                held = [
                    asyncio.create_task(
                        harness.post(f"/{CE}", review(cost_estimate(f"big-{i}", plan=nat_plan(i + 1))))
                    )
                    for i in range(2)
                ]
                await until(lambda: limit.in_flight == 2)
                assert metric("cloudcostguard_admission_in_flight") >= 2

                for path in (f"/{CE}", f"/kopf/{CE}"):  # both ways in share the limit
                    status, body, headers, took = await post_with_headers(
                        harness, path, review(cost_estimate("one-more", plan=nat_plan(1)))
                    )
                    assert status == 429
                    print(f"\n429 from {path} in {took * 1000:.1f} ms")
                    assert took < SLACK  # at once, not queued behind the busy worker
                    assert body == {
                        "apiVersion": "v1",
                        "kind": "Status",
                        "status": "Failure",
                        "message": "the CloudCostGuard webhook is over its limit of 2 reviews in flight "
                        "(CCG_WEBHOOK_MAX_IN_FLIGHT): not judged, the webhook's failurePolicy applies",
                        "reason": "TooManyRequests",
                        "code": 429,
                    }
                    # Nothing that has the API server send the review again (see limits.py).
                    assert "Retry-After" not in headers
                    assert "details" not in body
                assert (
                    metric("cloudcostguard_admission_overload_rejections_total", handler=CE) == rejected + 2
                )
                assert all(not task.done() for task in held)

                gate.set()
                answers = await asyncio.wait_for(asyncio.gather(*held), 30)
                assert [(status, body["response"]["allowed"]) for status, body, _ in answers] == [
                    (200, True),
                    (200, True),
                ]
                assert limit.in_flight == 0
                # Full recovery: the next review is judged.
                status, body, _, _ = await post_with_headers(
                    harness, f"/{CE}", review(cost_estimate("after", plan=nat_plan(3)))
                )
                assert (status, body["response"]["allowed"]) == (200, True)
        finally:
            gate.set()


async def test_a_review_that_fails_to_parse_gives_its_slot_back() -> None:
    async with WebhookHarness(state(), settings=Settings(webhook_max_in_flight=1)) as harness:
        for _ in range(3):
            status, _body, _reason = await harness.post(f"/{CE}", b"{not json")
            assert status == 400
        assert harness.server.limit.in_flight == 0
        status, body, _ = await harness.post(f"/{CE}", review(cost_estimate("ok", plan=nat_plan(1))))
        assert (status, body["response"]["allowed"]) == (200, True)


# --- slow clients --------------------------------------------------------------------------------------


def client_context(harness: WebhookHarness) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(harness.ca_file))


@contextlib.asynccontextmanager
async def tls_connection(
    harness: WebhookHarness,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", harness.port, ssl=client_context(harness))
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


async def trickle(writer: asyncio.StreamWriter, data: bytes, interval: float) -> None:
    """Send ``data`` one byte every ``interval`` s, until done or the server closes the connection."""
    with contextlib.suppress(ConnectionError, ssl.SSLError, RuntimeError):
        for byte in data:
            if writer.is_closing():
                return
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(interval)


async def read_until_closed(reader: asyncio.StreamReader) -> bytes:
    received = b""
    with contextlib.suppress(ConnectionError, ssl.SSLError):
        while chunk := await reader.read(65536):
            received += chunk
    return received


async def answered_meanwhile(harness: WebhookHarness, seconds: float) -> list[float]:
    """Send reviews one after another for ``seconds``; every one must be judged. Their latencies."""
    latencies = []
    deadline = time.monotonic() + seconds
    index = 0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        status, body, _ = await harness.post(
            f"/{CE}", review(cost_estimate(f"meanwhile-{index}", plan=nat_plan(2)))
        )
        latencies.append(time.perf_counter() - started)
        assert (status, body["response"]["allowed"]) == (200, True)
        index += 1
        await asyncio.sleep(0.05)
    return latencies


async def test_a_slow_body_is_answered_408_and_closed_after_the_read_timeout() -> None:
    settings = Settings(webhook_read_timeout=0.5, webhook_idle_timeout=30)
    async with WebhookHarness(state(), settings=settings) as harness:
        timeouts = metric("cloudcostguard_admission_read_timeouts_total")
        async with tls_connection(harness) as (reader, writer):
            head = (
                f"POST /{CE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                "Content-Length: 100000\r\n\r\n"
            )
            writer.write(head.encode())
            await writer.drain()
            started = time.monotonic()
            sender = asyncio.create_task(trickle(writer, b'{"apiVersion": "admission.k8s.io/v1"' * 100, 0.05))
            received, latencies = await asyncio.gather(
                read_until_closed(reader), answered_meanwhile(harness, 0.6)
            )
            closed_after = time.monotonic() - started
            await sender
        print(
            f"\nslow body: 408 and closed after {closed_after:.2f} s; "
            f"meanwhile max {max(latencies) * 1000:.1f} ms"
        )
        assert received.startswith(b"HTTP/1.1 408 ")
        assert b'"reason":"Timeout"' in received and b"not received within 0.5 s" in received
        assert 0.5 <= closed_after < 0.5 + SLACK
        assert metric("cloudcostguard_admission_read_timeouts_total") == timeouts + 1
        assert latencies and max(latencies) < SLACK


async def test_slowloris_headers_are_closed_after_the_idle_timeout_while_others_are_answered() -> None:
    settings = Settings(webhook_idle_timeout=1.0, webhook_read_timeout=5)
    async with WebhookHarness(state(), settings=settings) as harness, contextlib.AsyncExitStack() as stack:
        connections, opened = [], []
        for _ in range(20):
            connections.append(await stack.enter_async_context(tls_connection(harness)))
            opened.append(time.monotonic())  # the server's timer runs from the end of the handshake
        head = f"POST /{CE} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: {'a' * 200}\r\n\r\n".encode()
        senders = [asyncio.create_task(trickle(writer, head, 0.05)) for _reader, writer in connections]

        async def closed_after(reader: asyncio.StreamReader, started: float) -> tuple[bytes, float]:
            received = await read_until_closed(reader)
            return received, time.monotonic() - started

        closing = asyncio.gather(
            *(
                closed_after(reader, started)
                for (reader, _writer), started in zip(connections, opened, strict=True)
            )
        )
        latencies = await answered_meanwhile(harness, 1.2)
        closed = await asyncio.wait_for(closing, 10)
        await asyncio.gather(*senders)
        afters = [after for _, after in closed]
        print(
            f"\nslowloris: 20 connections closed after {min(afters):.2f}-{max(afters):.2f} s; "
            f"{len(latencies)} reviews meanwhile, max {max(latencies) * 1000:.1f} ms"
        )
        # Each slow connection got nothing and was closed between 1 s and 1 s + slack, headers unfinished.
        assert all(received == b"" for received, _ in closed)
        assert all(0.9 <= after < 1.0 + SLACK for _, after in closed), [after for _, after in closed]
        assert len(latencies) >= 5 and max(latencies) < SLACK


async def test_idle_connections_and_stalled_handshakes_are_closed() -> None:
    settings = Settings(webhook_idle_timeout=0.5, webhook_read_timeout=0.5)
    async with WebhookHarness(state(), settings=settings) as harness:
        # Idle after the handshake: closed by the keep-alive timer.
        async with tls_connection(harness) as (reader, _writer):
            started = time.monotonic()
            assert await asyncio.wait_for(read_until_closed(reader), 10) == b""
            assert 0.5 <= time.monotonic() - started < 0.5 + SLACK
        # Connected, but no TLS ClientHello: closed by the handshake timeout.
        reader, writer = await asyncio.open_connection("127.0.0.1", harness.port)
        started = time.monotonic()
        assert await asyncio.wait_for(read_until_closed(reader), 10) == b""
        assert 0.5 <= time.monotonic() - started < 0.5 + SLACK
        writer.close()
        # Keep-alive still works within the bound: two reviews on one connection.
        connector = aiohttp.TCPConnector(ssl=client_context(harness), limit=1)
        async with aiohttp.ClientSession(connector=connector) as session:
            for name in ("first", "second"):
                body = orjson.dumps(review(cost_estimate(name, plan=nat_plan(1))))
                async with session.post(f"{harness.url}/{CE}", data=body) as response:
                    assert response.status == 200
            assert len(connector._conns) == 1  # the same connection, reused

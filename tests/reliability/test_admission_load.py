"""Admission under sustained load and overload: the webhook in its own process, this test as the client.

The server (``tests.reliability.admission_server``) is wired as ``cloudcostguard run`` wires it
(``configure_admission``: its worker threads, in-flight limit and timeouts from ``Settings``), judging
against a cluster state that grows during the run (one more committed CostEstimate a second, one more
CostPolicy every 30 of them). Reviews are CostEstimate CREATEs whose inline plan has 200 resources of
every priced type (``benchmarks/admission_latency.py``'s plans): four in five from 32 objects the
cluster keeps re-sending (the webhook's remembered estimates answer them), one in five from 128 others
(more than it remembers: estimated afresh each time). Every answer is checked: HTTP 200, the request's
uid, allowed (all policies are met); under overload an HTTP 429 Status is the one other answer allowed.

- sustained: ``RATE`` reviews/s, at most ``CONCURRENCY`` in flight: no error at all, p99 latency, and
  the server's RSS in the last minute against the first (a leak check);
- overload: 200 clients sending the same reviews as fast as they can: every review answered 200 or
  429, the 429s fast, the RSS bounded; then the sustained load again, with no error (full recovery).

The long cases (5 minutes sustained, 30 s of overload) are marked ``reliability_long`` (``make
reliability``); ``make test`` runs the short ones. Figures print with ``-s``; RELIABILITY.md ("Load")
has them with the commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
import pytest
from benchmarks.admission_latency import UID_PLACEHOLDER, make_plan, plan_types, review_template

ROOT = Path(__file__).resolve().parents[2]
MiB = 1024 * 1024
CLIENT_TIMEOUT = 30.0  # seconds per request: above the webhook's own bounds, never a hang
READY_TIMEOUT = 90.0
# p99 bound asserted (ms). The performance issue's figure is p99 ≤ 10 ms at c=1 on a quiet machine. The
# machine these tests run on is shared (2 CPUs, load average 5-8 from other work): the default bound is
# what such a machine must still meet, far below the API server's 10 s timeout, and the figures
# measured are printed. CCG_LOAD_P99_MS tightens it on a dedicated machine.
P99_MS = float(os.environ.get("CCG_LOAD_P99_MS", "2000"))


# --- reviews ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reviews:
    repeated: list[bytes]  # the objects the cluster keeps re-sending
    fresh: list[bytes]  # more than the webhook remembers: estimated every time

    def usual(self, index: int) -> bytes:
        return (
            self.fresh[index % len(self.fresh)]
            if index % 5 == 0
            else self.repeated[index % len(self.repeated)]
        )


def make_reviews() -> Reviews:
    types = plan_types()
    return Reviews(
        repeated=[review_template(make_plan(types, 200, variant=v), f"stack-{v}") for v in range(32)],
        fresh=[review_template(make_plan(types, 200, variant=v), f"fresh-{v}") for v in range(100, 228)],
    )


@pytest.fixture(scope="module")
def reviews() -> Reviews:
    return make_reviews()


# --- the server process ----------------------------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    metrics_port: int
    ca_file: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/validate-costestimate"

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (Linux /proc)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        assert found is not None
        return int(found.group(1)) * 1024

    async def metric(self, name: str, **labels: str) -> float:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(f"http://127.0.0.1:{self.metrics_port}/metrics") as response,
        ):
            text = await response.text()
        wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
        pattern = re.escape(name + (f"{{{wanted}}}" if wanted else "")) + r" ([0-9.e+-]+)$"
        found = re.search(pattern, text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0


@contextlib.contextmanager
def webhook_process(**env: str) -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="ccg-load-") as directory:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.admission_server", "--cert-dir", directory],
            cwd=ROOT,
            env={**os.environ, "CCG_LOG_LEVEL": "WARNING", **env},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            deadline = time.monotonic() + READY_TIMEOUT
            line = ""
            while not line.startswith("ready ") and time.monotonic() < deadline:
                line = process.stdout.readline()
                if not line and process.poll() is not None:
                    break
            assert line.startswith("ready "), f"webhook process did not start: {line!r}"
            _, port, metrics_port = line.split()
            yield Server(process, int(port), int(metrics_port), Path(directory) / "ca.pem")
        finally:
            if process.stdin is not None:
                process.stdin.close()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            assert process.stdout is not None
            print(process.stdout.read().strip())
            process.stdout.close()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with webhook_process() as running:
        yield running


# --- the client -------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    sent: float  # seconds since the start of the run
    latency: float  # seconds
    status: int  # HTTP status; 0: no answer (connection error or client timeout)
    valid: bool  # a complete, correct answer (a verdict for 200, a Status for 429)


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, bytes)
    cpu: list[tuple[float, float]] = field(default_factory=list)  # (seconds since start, server CPU s)
    elapsed: float = 0.0

    def latencies(self, status: int | None = None) -> list[float]:
        return [o.latency for o in self.outcomes if status is None or o.status == status]

    def errors(self, *allowed: int) -> list[Outcome]:
        return [o for o in self.outcomes if o.status not in (allowed or (200,)) or not o.valid]

    def quantile_ms(self, q: float, status: int | None = None) -> float:
        values = sorted(self.latencies(status))
        return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else 0.0

    def cpu_ms_per_review(self, start: float, stop: float) -> float:
        """Server CPU time per review answered between ``start`` and ``stop`` (s since the start)."""
        within = [cpu for at, cpu in self.cpu if start <= at <= stop]
        answered = sum(1 for o in self.outcomes if start <= o.sent + o.latency <= stop)
        return (within[-1] - within[0]) / max(answered, 1) * 1000

    def per_minute(self) -> str:
        lines = []
        for minute in range(int(self.elapsed // 60)):
            start, stop = minute * 60.0, minute * 60.0 + 60.0
            latencies = sorted(o.latency for o in self.outcomes if start <= o.sent < stop)
            p50 = latencies[len(latencies) // 2] * 1000
            p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000
            lines.append(
                f"  minute {minute + 1}: {len(latencies)} reviews, p50 {p50:.2f} ms, p99 {p99:.2f} ms, "
                f"server CPU {self.cpu_ms_per_review(start, stop):.2f} ms/review, "
                f"RSS median {self.rss_median(start, stop) / MiB:.1f} MiB"
            )
        return "\n".join(lines)

    def rss_median(self, start: float, stop: float) -> int:
        return int(statistics.median(rss for at, rss in self.rss if start <= at < stop))

    def summary(self, label: str) -> str:
        statuses: dict[int, int] = {}
        for outcome in self.outcomes:
            statuses[outcome.status] = statuses.get(outcome.status, 0) + 1
        parts = [
            f"{label}: {len(self.outcomes)} reviews in {self.elapsed:.1f} s "
            f"({len(self.outcomes) / self.elapsed:.1f}/s), statuses {dict(sorted(statuses.items()))}, "
            f"errors {len(self.errors(200, 429))}"
        ]
        for status in sorted(statuses):
            parts.append(
                f"  {status}: p50 {self.quantile_ms(0.5, status):.2f} ms, "
                f"p99 {self.quantile_ms(0.99, status):.2f} ms, "
                f"max {max(self.latencies(status)) * 1000:.2f} ms"
            )
        rss = [value for _, value in self.rss]
        parts.append(
            f"  server RSS: min {min(rss) / MiB:.1f} MiB, max {max(rss) / MiB:.1f} MiB, "
            f"load1 {os.getloadavg()[0]:.2f}"
        )
        return "\n".join(parts)


def check(body: bytes, status: int, uid: str) -> bool:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    if status == 200:
        response = answer.get("response", {})
        return bool(response.get("uid") == uid and response.get("allowed") is True)
    if status == 429:
        return bool(answer.get("kind") == "Status" and answer.get("reason") == "TooManyRequests")
    return False


async def load(
    server: Server,
    pick: Callable[[int], bytes],
    *,
    seconds: float,
    concurrency: int,
    rate: float | None,
) -> Run:
    """Send reviews for ``seconds``: ``rate`` per second (None: as fast as ``concurrency`` clients can),
    at most ``concurrency`` in flight. The server's RSS is sampled every 0.5 s."""
    run = Run()
    context = ssl.create_default_context(cafile=str(server.ca_file))
    connector = aiohttp.TCPConnector(ssl=context, limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    headers = {"Content-Type": "application/json"}
    next_index = 0
    started = time.perf_counter()
    stop = started + seconds

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal next_index
        while True:
            index = next_index
            next_index += 1
            if rate is not None:
                due = started + index / rate
                if due >= stop:
                    return
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            elif time.perf_counter() >= stop:
                return
            uid = str(uuid.uuid4())
            body = pick(index).replace(UID_PLACEHOLDER.encode(), uid.encode(), 1)
            sent = time.perf_counter()
            try:
                async with session.post(server.url, data=body, headers=headers) as response:
                    payload = await response.read()
                status = response.status
            except (aiohttp.ClientError, TimeoutError):
                status, payload = 0, b""
            latency = time.perf_counter() - sent
            run.outcomes.append(Outcome(sent - started, latency, status, check(payload, status, uid)))

    async def sample() -> None:
        while True:
            at = time.perf_counter() - started
            run.rss.append((at, server.rss()))
            run.cpu.append((at, server.cpu_seconds()))
            await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    try:
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            await asyncio.gather(*(client(session) for _ in range(concurrency)))
    finally:
        sampler.cancel()
    run.elapsed = time.perf_counter() - started
    run.rss.append((run.elapsed, server.rss()))
    run.cpu.append((run.elapsed, server.cpu_seconds()))
    return run


# --- sustained load ---------------------------------------------------------------------------------------


async def sustained(
    server: Server, reviews: Reviews, *, seconds: float, rate: float, concurrency: int
) -> Run:
    await load(server, reviews.usual, seconds=2, concurrency=concurrency, rate=rate)  # warm-up
    run = await load(server, reviews.usual, seconds=seconds, concurrency=concurrency, rate=rate)
    print(run.summary(f"\nsustained {rate:g}/s c={concurrency} for {seconds:g} s"))
    if run.elapsed >= 120:
        print(run.per_minute())
    assert run.errors() == []  # error rate 0: every review judged and answered correctly
    assert len(run.outcomes) >= 0.95 * rate * seconds  # the rate was delivered, not just attempted
    assert run.quantile_ms(0.99) <= P99_MS
    return run


async def test_sustained_load_short(server: Server, reviews: Reviews) -> None:
    await sustained(server, reviews, seconds=10, rate=20, concurrency=20)


@pytest.mark.reliability_long
async def test_sustained_load_five_minutes_without_errors_or_leaks(reviews: Reviews) -> None:
    with webhook_process() as server:  # its own process: the RSS is this run's alone
        single = await load(server, reviews.usual, seconds=30, concurrency=1, rate=50)
        print(single.summary("\nc=1 50/s for 30 s"))
        assert single.errors() == []
        run = await sustained(server, reviews, seconds=300, rate=50, concurrency=20)
        first, last = run.rss_median(0, 60), run.rss_median(run.elapsed - 60, run.elapsed + 1)
        print(f"  RSS median first minute {first / MiB:.1f} MiB, last minute {last / MiB:.1f} MiB")
        # Flat: the state grew by 300 CostEstimates and 10 policies (a few hundred KB); a leak of a
        # kilobyte per review (15,000 of them) would show.
        assert last - first < 16 * MiB
        # The cost of a review did not grow with the state: CPU per review, which the machine's other
        # load does not change the way it changes latency.
        first_cpu = run.cpu_ms_per_review(0, 60)
        last_cpu = run.cpu_ms_per_review(run.elapsed - 60, run.elapsed)
        assert last_cpu < 1.5 * first_cpu


# --- overload ---------------------------------------------------------------------------------------------


async def overload(server: Server, reviews: Reviews, *, seconds: float, recovery: float, rate: float) -> None:
    rejected_before = await server.metric(
        "cloudcostguard_admission_overload_rejections_total", handler="validate-costestimate"
    )
    baseline = server.rss()

    run = await load(server, reviews.usual, seconds=seconds, concurrency=200, rate=None)
    print(run.summary(f"\noverload c=200 for {seconds:g} s"))
    # Every review got an answer: its verdict, or a 429 the API server would apply failurePolicy to.
    assert run.errors(200, 429) == []
    rejections = len(run.latencies(429))
    assert rejections > 0  # the limit was reached: this was overload
    assert run.latencies(200)  # and work still got done
    # Rejections are answered before their body is read, after at most one round of admitted reviews
    # (CCG_WEBHOOK_MAX_IN_FLIGHT of them): never slower than a verdict, and well within the API
    # server's timeout (10 s in the chart) on a shared 2-CPU machine that also runs the 200 clients.
    assert run.quantile_ms(0.5, 429) <= run.quantile_ms(0.5, 200)
    assert run.quantile_ms(0.99, 429) < 5000
    assert max(run.latencies()) < 10
    peak = max(rss for _, rss in run.rss)
    print(f"  RSS before {baseline / MiB:.1f} MiB, peak {peak / MiB:.1f} MiB")
    assert peak - baseline < 512 * MiB  # bounded by the in-flight limit, not by the number of clients
    counted = await server.metric(
        "cloudcostguard_admission_overload_rejections_total", handler="validate-costestimate"
    )
    assert counted - rejected_before == rejections
    assert await server.metric("cloudcostguard_admission_in_flight") == 0

    # Full recovery: the sustained load again, with no error.
    after = await sustained(server, reviews, seconds=recovery, rate=rate, concurrency=20)
    assert after.errors() == []


async def test_overload_short(server: Server, reviews: Reviews) -> None:
    await overload(server, reviews, seconds=5, recovery=5, rate=20)


@pytest.mark.reliability_long
async def test_overload_thirty_seconds_then_recovery(reviews: Reviews) -> None:
    with webhook_process() as server:
        await sustained(server, reviews, seconds=10, rate=50, concurrency=20)
        await overload(server, reviews, seconds=30, recovery=30, rate=50)

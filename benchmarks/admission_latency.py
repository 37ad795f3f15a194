"""Benchmark: admission latency and throughput of the CostEstimate webhook over HTTPS on loopback.

One server process (the real ``AdmissionServer``: generated certificates, the lean path at
``/validate-costestimate``, kopf's machinery at ``/kopf/validate-costestimate``, and a trivial
always-allow kopf handler at ``/trivial-allow`` on the same server) and this script as a separate
client process. Each target gets ``--requests`` AdmissionReviews (CREATE of a CostEstimate whose inline
plan has ``--resources`` resources, about 107 KB, spread evenly over every pricer registered at run
time, each request with its own uid) at concurrency 1 and 20, after a
warm-up; the targets take turns in slices (``--rounds``) so that they share the machine's background
load alike. Reported per target: p50/p95/p99/max latency, throughput, and the server's CPU time per
request; plus the in-process cost of the estimate alone, and the machine's load average (the machine
is shared).

The physical floor runs in the same server process and takes its turns with the others: a minimal
HTTPS server (an asyncio protocol on the same SSL context, built by kopf's ``WebhookServer._build_ssl``
from the same certificate files) that answers every request with a fixed AdmissionReview response,
echoing only the request's uid, to the same request bytes. Every target is reported as a ratio to it
and to the trivial kopf handler on the same review.

The webhook remembers whole estimates per catalog (the API server re-sends the same objects): the
main targets cycle through 8 plans, so after the warm-up they are answered from that memo. The
"every plan new" target cycles through more plans than the webhook keeps, so every review is estimated
(its resources' priced sides still come from the catalog's memo).

The policies the server judges against apply to every request of namespace team-a and are all within
budget (so every request does the full work: estimate, three policies, a namespace budget over 20
committed estimates), read from the operator's ``KopfIndexState`` over indexes made once (as kopf's
indexes hold them); every answer is checked (allowed, uid echoed). A last, diagnostic target sends
the same reviews for a namespace no policy selects: the lean path then answers without estimating,
which isolates its HTTPS + parsing cost from the pricing.

    .venv/bin/python benchmarks/admission_latency.py [--requests 2000] [--resources 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.integration.admission.support wires kopf's webhook function

import aiohttp  # noqa: E402
import orjson  # noqa: E402

NAMESPACE = "team-a"
UNGOVERNED = "sandbox"  # a namespace no policy selects: the webhook answers without estimating
PAYMENTS = {"matchLabels": {"team": "payments"}}
TRIVIAL_ID = "trivial-allow"
SEED = 20261125
UID_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"
CLIENT_TIMEOUT = 30.0
READY_TIMEOUT = 60.0

# --- the plan ---------------------------------------------------------------------------------------

# Attributes as the AWS provider writes them, enough for each pricer to find a price.
ATTRIBUTES: dict[str, dict[str, Any]] = {
    "aws_nat_gateway": {"connectivity_type": "public", "allocation_id": "eipalloc-0a1b2c3d"},
    "aws_instance": {"instance_type": "m5.large", "tenancy": "default", "ebs_optimized": True},
    "aws_db_instance": {
        "instance_class": "db.t3.medium",
        "engine": "mysql",
        "allocated_storage": 100,
        "storage_type": "gp3",
        "multi_az": False,
    },
    "aws_ebs_volume": {"type": "gp3", "size": 200, "availability_zone": "us-east-1a"},
    "aws_ebs_snapshot": {"volume_id": "vol-0a1b2c3d"},
    "aws_lb": {"load_balancer_type": "application", "internal": False},
    "aws_alb": {"load_balancer_type": "application", "internal": False},
    "aws_elb": {"internal": False, "cross_zone_load_balancing": True},
    "aws_lambda_function": {"memory_size": 512, "runtime": "python3.12", "architectures": ["x86_64"]},
    "aws_dynamodb_table": {"billing_mode": "PROVISIONED", "read_capacity": 10, "write_capacity": 5},
    "aws_elasticache_cluster": {"node_type": "cache.t3.medium", "num_cache_nodes": 2, "engine": "redis"},
    "aws_elasticache_replication_group": {"node_type": "cache.t3.medium", "num_cache_clusters": 2},
    "aws_eks_cluster": {"version": "1.30"},
    "aws_eks_node_group": {
        "instance_types": ["m5.large"],
        "scaling_config": [{"desired_size": 3, "max_size": 5, "min_size": 1}],
        "disk_size": 50,
    },
    "aws_efs_file_system": {"performance_mode": "generalPurpose", "throughput_mode": "bursting"},
}


def _tags(rng: random.Random, index: int) -> dict[str, str]:
    return {
        "Name": f"svc-{index:04d}",
        "team": rng.choice(("payments", "search", "platform", "data")),
        "env": "prod",
        "cost-center": f"cc-{rng.randint(100, 999)}",
        "repository": "github.com/example/infrastructure",
    }


def plan_types() -> list[str]:
    """Every type with a registered pricer that estimates our attributes cleanly."""
    import cloudcostguard
    from cloudcostguard import errors
    from cloudcostguard.estimation.registry import PRICERS, load_all_pricers

    load_all_pricers()

    usable = []
    for resource_type in sorted(PRICERS):
        try:
            cloudcostguard.estimate(make_plan([resource_type], 1))
        except errors.CloudCostGuardError:
            continue
        usable.append(resource_type)
    return usable


def make_plan(types: list[str], resources: int, *, seed: int = SEED, variant: int = 0) -> dict[str, Any]:
    rng = random.Random(seed + variant)
    changes = []
    for index in range(resources):
        # Every usable priced type in turn: no one type dominates (an earlier mix was half NAT gateways,
        # the cheapest pricer, which flattered the estimate).
        resource_type = types[index % len(types)]
        after = {
            **ATTRIBUTES.get(resource_type, {}),
            "tags": _tags(rng, index),
        }
        module = f"module.stack_{index % 8}"
        changes.append(
            {
                "address": f"{module}.{resource_type}.r{index}",
                "module_address": module,
                "mode": "managed",
                "type": resource_type,
                "name": f"r{index}",
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": after,
                    "after_unknown": {"id": True, "arn": True, "tags_all": {}},
                    "after_sensitive": {"tags": {}, "tags_all": {}},
                },
            }
        )
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "resource_changes": changes,
        "configuration": {
            "provider_config": {
                "aws": {"name": "aws", "expressions": {"region": {"constant_value": "us-east-1"}}}
            }
        },
    }


def review_template(plan: dict[str, Any], name: str, namespace: str = NAMESPACE) -> bytes:
    """An AdmissionReview (CREATE) with a placeholder uid, replaced per request (bytes.replace, cheap)."""
    obj = {
        "apiVersion": "cloudcostguard.io/v1alpha1",
        "kind": "CostEstimate",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name, "team": "payments"}},
        "spec": {"plan": {"inline": plan}},
    }
    resource = {"group": "cloudcostguard.io", "version": "v1alpha1", "resource": "costestimates"}
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": UID_PLACEHOLDER,
            "kind": {"group": "cloudcostguard.io", "version": "v1alpha1", "kind": "CostEstimate"},
            "resource": resource,
            "requestKind": {"group": "cloudcostguard.io", "version": "v1alpha1", "kind": "CostEstimate"},
            "requestResource": resource,
            "name": name,
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:argocd:argocd-application-controller"},
            "object": obj,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }
    return orjson.dumps(review)


# --- the server process -----------------------------------------------------------------------------


def policies() -> list[dict[str, Any]]:
    """Three policies that apply to every request and are all met: the full decision, never a short cut."""

    def policy(name: str, enforcement: str, **limits: Any) -> dict[str, Any]:
        spec = {"enforcement": enforcement, "limits": limits, "namespaceSelector": PAYMENTS}
        return {"metadata": {"name": name}, "spec": spec}

    return [
        policy("org-cap", "Deny", maxMonthlyCost="1000000"),
        policy("team-budget", "Deny", namespaceMonthlyBudget="5000000"),
        policy("growth", "Warn", maxMonthlyIncrease="1000000", maxIncreasePercent=500),
    ]


async def serve(port: int, cert_dir: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    import kopf
    from tests.integration.admission.support import kopf_webhook_fn

    from cloudcostguard.k8s.admission import certificates
    from cloudcostguard.k8s.admission import server as webhook
    from cloudcostguard.k8s.admission.decision import AdmissionRuntime
    from cloudcostguard.k8s.admission.memo import AdmissionMemo
    from cloudcostguard.k8s.testing import InMemoryClusterState
    from cloudcostguard.pricing.catalog_provider import StaticCatalogProvider
    from cloudcostguard.pricing.snapshot import load_bundled_catalog
    from cloudcostguard.settings import Settings

    @kopf.on.validate("cloudcostguard.io", "v1alpha1", "costestimates", id=TRIVIAL_ID)
    def trivial_allow(**_: Any) -> None:
        """The same-run baseline: kopf's request handling around a handler that does nothing."""

    paths = certificates.generate_self_signed(cert_dir, ["127.0.0.1", "localhost"])
    catalog = load_bundled_catalog()
    state = InMemoryClusterState(
        policies=policies(),
        labels_by_namespace={NAMESPACE: {"team": "payments"}, UNGOVERNED: {}},
        estimates={
            NAMESPACE: [
                {"metadata": {"name": f"existing-{i}"}, "status": {"monthlyCost": f"{1000 + i}.25"}}
                for i in range(20)
            ]
        },
    )
    settings = Settings()
    with ThreadPoolExecutor(settings.webhook_workers, thread_name_prefix="ccg-admission") as executor:
        # Served from the product's KopfIndexState over indexes made once, as the operator's kopf
        # indexes hold the objects (the in-memory state itself parses every policy on every read).
        runtime = AdmissionRuntime(settings, state.indexed(), lambda: catalog, executor)
        memo = AdmissionMemo(
            settings=settings, catalog_provider=StaticCatalogProvider(catalog), admission=runtime
        )
        server = webhook.AdmissionServer(
            runtime=lambda: runtime,
            addr="127.0.0.1",
            port=port,
            certfile=str(paths.cert_file),
            pkeyfile=str(paths.key_file),
            cafile=str(paths.ca_file),
            max_body_bytes=settings.webhook_max_review_bytes,
        )
        floor = await start_https_floor(paths)
        webhook.settle_heap()  # as configure_admission does at the operator's startup
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with server:
            generator = server(kopf_webhook_fn(memo))
            await generator.__anext__()
            print("ready", flush=True)
            # Stop on SIGTERM or when the client closes our stdin (also when it dies).
            stdin_closed = asyncio.ensure_future(asyncio.to_thread(sys.stdin.read))
            stopped = asyncio.ensure_future(stop.wait())
            await asyncio.wait({stdin_closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            floor.close()
            await generator.aclose()


FLOOR_RESPONSE = (
    b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"%s","allowed":true}}'
)


class _FloorProtocol(asyncio.Protocol):
    """HTTP/1.1 keep-alive, Content-Length bodies only: read a request, answer a fixed review response."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buffer[:end]).lower()
            start = head.index(b"content-length:") + 15
            stop = head.find(b"\r\n", start)
            length = int(head[start : stop if stop > 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            del self.buffer[: end + 4 + length]
            at = body.find(b'"uid":"') + 7
            payload = FLOOR_RESPONSE % bytes(body[at : at + 36])
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(payload), payload)
            )


async def start_https_floor(paths: Any) -> asyncio.Server:
    """The physical floor: the same TLS context as the webhook, no HTTP framework, no decision."""
    import kopf

    context = kopf.WebhookServer(
        certfile=str(paths.cert_file), pkeyfile=str(paths.key_file), cafile=str(paths.ca_file)
    )._build_ssl()[1]
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_FloorProtocol, "127.0.0.1", 0, ssl=context)
    print(f"floor {server.sockets[0].getsockname()[1]}", flush=True)
    return server


# --- the client process -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def load(
    url: str, context: ssl.SSLContext, templates: list[bytes], requests: int, concurrency: int
) -> tuple[list[float], float, int]:
    """Send ``requests`` reviews with ``concurrency`` in flight; (latencies s, elapsed s, bad answers)."""
    latencies: list[float] = []
    bad = 0
    next_index = 0
    connector = aiohttp.TCPConnector(ssl=context, limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=CLIENT_TIMEOUT)
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal next_index, bad
            while next_index < requests:
                index = next_index
                next_index += 1
                uid = str(uuid.uuid4())
                body = templates[index % len(templates)].replace(UID_PLACEHOLDER.encode(), uid.encode(), 1)
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                latencies.append(time.perf_counter() - started)
                answer = orjson.loads(payload).get("response", {}) if response.status == 200 else {}
                if answer.get("uid") != uid or answer.get("allowed") is not True:
                    bad += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, elapsed, bad


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median_seconds(function: Callable[[], object], repeat: int = 30) -> float:
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


async def run_client(args: argparse.Namespace) -> None:
    import cloudcostguard
    from cloudcostguard.pricing.snapshot import load_bundled_catalog

    types = plan_types()
    plans = [make_plan(types, args.resources, variant=v) for v in range(8)]
    big = [review_template(plan, f"stack-{v}") for v, plan in enumerate(plans)]
    small = [review_template(make_plan(["aws_nat_gateway"], 15, variant=v), f"small-{v}") for v in range(8)]
    ungoverned = [review_template(plan, f"stack-{v}", UNGOVERNED) for v, plan in enumerate(plans)]
    # Reviews that never repeat within the webhook's remembered estimates (more variants than it
    # keeps): every one is estimated, its resources' priced sides still found in the catalog's memo.
    fresh = [
        review_template(make_plan(types, args.resources, variant=v), f"fresh-{v}")
        for v in range(100, 100 + args.fresh_variants)
    ]
    catalog = load_bundled_catalog()
    estimate = cloudcostguard.estimate(plans[0], catalog=catalog)
    print(f"plan: {args.resources} resources of {len(types)} types ({', '.join(types)})")
    print(
        f"review: {len(big[0]) / 1024:.1f} KiB (small review for the classic baseline: "
        f"{len(small[0]) / 1024:.1f} KiB); estimate {estimate.total_monthly_cost:.2f} USD/month"
    )
    estimate_ms = median_seconds(lambda: cloudcostguard.estimate(plans[0], catalog=catalog)) * 1000
    parse_ms = median_seconds(lambda: orjson.loads(big[0])) * 1000
    print(
        f"in-process, no HTTP: estimate {estimate_ms:.2f} ms median; orjson.loads(review) {parse_ms:.2f} ms\n"
    )

    with tempfile.TemporaryDirectory(prefix="ccg-bench-") as directory:
        port = _free_port()
        server = subprocess.Popen(  # noqa: ASYNC220 - started once, before any measurement
            [sys.executable, __file__, "--serve", "--port", str(port), "--cert-dir", directory],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            floor_line = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), READY_TIMEOUT)
            if not floor_line.startswith("floor "):
                raise SystemExit(f"server did not start: {floor_line!r}")
            floor_port = int(floor_line.split()[1])
            ready = await asyncio.wait_for(asyncio.to_thread(server.stdout.readline), READY_TIMEOUT)
            if ready.strip() != "ready":
                raise SystemExit(f"server did not start: {ready!r}")
            context = ssl.create_default_context(cafile=str(Path(directory) / "ca.pem"))
            base = f"https://127.0.0.1:{port}"
            floor_base = f"https://127.0.0.1:{floor_port}"
            targets = [
                ("floor", "HTTPS floor (fixed answer, same TLS)", "", big),
                ("lean", "lean path   /validate-costestimate", "/validate-costestimate", big),
                ("kopf", "kopf path   /kopf/validate-costestimate", "/kopf/validate-costestimate", big),
                ("trivial", f"trivial kopf /{TRIVIAL_ID} (same review)", f"/{TRIVIAL_ID}", big),
                ("trivial-small", f"trivial kopf /{TRIVIAL_ID} (small review)", f"/{TRIVIAL_ID}", small),
                ("lean-fresh", "lean path, every plan new to the webhook", "/validate-costestimate", fresh),
                (
                    "lean-no-policy",
                    "lean path, no policy applies (no estimate)",
                    "/validate-costestimate",
                    ungoverned,
                ),
            ]
            header = (
                f"{'target':44} {'c':>3} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8} "
                f"{'req/s':>8} {'srv CPU ms/req':>15} {'load1':>6} {'p50/floor':>9} {'rps/floor':>9} "
                f"{'rps/trivial':>11}"
            )
            print(header)
            print("-" * len(header))
            results: dict[tuple[str, int], tuple[float, float, float]] = {}
            for concurrency in args.concurrency:
                for key, _label, path, templates in targets:
                    url = floor_base + "/" if key == "floor" else base + path
                    await load(url, context, templates, args.warmup, concurrency)
                # Round-robin in slices, so that every target sees the same background load (the
                # machine is shared): each gets --requests in total, --rounds slices of them.
                latencies: dict[str, list[float]] = {key: [] for key, *_ in targets}
                elapsed = dict.fromkeys(latencies, 0.0)
                cpu = dict.fromkeys(latencies, 0.0)
                loads: dict[str, list[float]] = {key: [] for key in latencies}
                per_round = args.requests // args.rounds
                for _round in range(args.rounds):
                    for key, label, path, templates in targets:
                        url = floor_base + "/" if key == "floor" else base + path
                        cpu_before = cpu_seconds(server.pid)
                        got, took, bad = await load(url, context, templates, per_round, concurrency)
                        cpu[key] += cpu_seconds(server.pid) - cpu_before
                        if bad:
                            raise SystemExit(f"{label}: {bad} requests got an unexpected answer")
                        latencies[key] += got
                        elapsed[key] += took
                        loads[key].append(os.getloadavg()[0])
                for key, _label, _path, _templates in targets:
                    p50 = quantile(latencies[key], 0.50) * 1000
                    p99 = quantile(latencies[key], 0.99) * 1000
                    results[key, concurrency] = (p50, p99, len(latencies[key]) / elapsed[key])
                floor_p50, _, floor_rps = results["floor", concurrency]
                trivial_rps = results["trivial", concurrency][2]
                for key, label, _path, _templates in targets:
                    done = len(latencies[key])
                    p50, p95, p99 = (quantile(latencies[key], q) * 1000 for q in (0.50, 0.95, 0.99))
                    throughput = done / elapsed[key]
                    print(
                        f"{label:44} {concurrency:>3} {p50:8.2f} {p95:8.2f} {p99:8.2f} "
                        f"{max(latencies[key]) * 1000:8.2f} {throughput:8.1f} {cpu[key] / done * 1000:15.2f} "
                        f"{statistics.mean(loads[key]):6.2f} {p50 / floor_p50:8.2f}× "
                        f"{throughput / floor_rps:8.0%} {throughput / trivial_rps:10.2f}×"
                    )
                print()
        finally:
            if server.stdin is not None:
                server.stdin.close()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)

    if 1 in args.concurrency and 20 in args.concurrency:
        p50, p99, _ = results["lean", 1]
        floor_p50 = results["floor", 1][0]
        print(f"must: c=1 p50 <= 4 ms: {p50:.2f} ms -> {'yes' if p50 <= 4 else 'NO'}")
        print(f"must: c=1 p99 <= 10 ms: {p99:.2f} ms -> {'yes' if p99 <= 10 else 'NO'}")
        ratio = results["lean", 20][2] / results["trivial", 20][2]
        print(
            f"must: c=20 throughput >= 3x the trivial kopf handler's (same review): {ratio:.2f}x -> "
            f"{'yes' if ratio >= 3 else 'NO'}"
        )
        print(f"aim:  c=1 p50 <= 3x the HTTPS floor's: {p50 / floor_p50:.2f}x")
        share = results["lean", 20][2] / results["floor", 20][2]
        print(f"aim:  c=20 throughput >= 40% of the HTTPS floor's: {share:.0%}")


def _free_port() -> int:
    import socket

    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10, help="round-robin slices per target")
    parser.add_argument("--resources", type=int, default=200)
    parser.add_argument(
        "--fresh-variants", type=int, default=256, help="distinct plans of the 'every plan new' target"
    )
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 20])
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cert-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.port, args.cert_dir))
    else:
        asyncio.run(run_client(args))


if __name__ == "__main__":
    main()

"""Operator CPU per CostEstimate, against a trivial kopf operator on the same objects in the same run.

    .venv/bin/python benchmarks/reconcile_cost.py [--objects 300] [--resources 100]

Two KMock API servers run in their own processes, each holding the same N CostEstimates (inline plans of
R resources: EC2 instances, EBS volumes, NAT gateways, S3 buckets and free VPC resources), all created
before either operator starts. One after the other, each operator runs as its own process against its
own server (so that neither inherits the other's object history, which slows KMock down):

- trivial: a kopf operator with one async ``on.create`` handler writing one status field (Ready=True);
- cloudcostguard: ``cloudcostguard run --all-namespaces --standalone`` (the product process: operator,
  admission webhook with a generated certificate, metrics and probes).

The figure is the operator process's CPU seconds (user + system, from /proc) until every object is
Ready=True, divided by N. "after start-up" subtracts what the same command spends starting against an
empty API server (imports, catalog, certificates, discovery, watches) in the same run. KMock, not the
operators, bounds the wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import kmock_support as ks  # noqa: E402 - the repository root is on the path only now

GROUP, VERSION = "cloudcostguard.io", "v1alpha1"
NAMESPACE = "bench"
INSTANCE_TYPES = ("t3.micro", "t3.small", "t3.medium", "m5.large", "m5.xlarge", "c5.large", "r5.large")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POLL_SECONDS = 3.0
# A busy KMock answers slowly; a slow answer only delays the reading, the CPU figure stays exact.
POLL_TIMEOUT = 600.0
# Start-up is over well within this (the operator then idles: no objects, no timers due).
STARTUP_SECONDS = 15.0
JSON = {"Content-Type": "application/json"}


def plan_for(index: int, resources: int) -> dict[str, Any]:
    """``resources`` creates: 40% instances, 20% volumes, 10% NAT gateways, 10% buckets, 20% free."""
    changes = []
    for position in range(resources):
        slot = position % 10
        after: dict[str, Any]
        if slot < 4:
            kind, after = (
                "aws_instance",
                {
                    "instance_type": INSTANCE_TYPES[(index + position) % len(INSTANCE_TYPES)],
                    "ami": "ami-0123456789abcdef0",
                    "tenancy": "default",
                    "root_block_device": [{"volume_type": "gp3", "volume_size": 20}],
                    "tags": {"Name": f"app-{index}-{position}", "team": "payments"},
                },
            )
        elif slot < 6:
            kind, after = "aws_ebs_volume", {"type": "gp3", "size": 100 + position}
        elif slot == 6:
            kind, after = "aws_nat_gateway", {"connectivity_type": "public"}
        elif slot == 7:
            kind, after = "aws_s3_bucket", {"bucket": f"bucket-{index}-{position}"}
        elif slot == 8:
            kind, after = "aws_vpc", {"cidr_block": "10.0.0.0/16"}
        else:
            kind, after = "aws_subnet", {"cidr_block": "10.0.1.0/24"}
        change = {"actions": ["create"], "before": None, "after": after, "after_unknown": {"id": True}}
        changes.append(
            {
                "address": f"{kind}.r{position}",
                "mode": "managed",
                "type": kind,
                "name": f"r{position}",
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": change,
            }
        )
    region = {"region": {"constant_value": "us-east-1"}}
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.5",
        "resource_changes": changes,
        "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": region}}},
    }


# --- the trivial baseline operator (runs in its own process: --trivial) -------------------------------


def run_trivial() -> None:
    import kopf

    @kopf.on.create(GROUP, VERSION, "costestimates")
    async def ready(patch: kopf.Patch, **_: Any) -> None:
        patch.status["conditions"] = [{"type": "Ready", "status": "True"}]

    kopf.configure(verbose=False)
    asyncio.run(kopf.operator(clusterwide=True, standalone=True))


# --- measurement ------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


async def ready_count(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}{ks.READY_COUNT_PATH}", params={"namespace": NAMESPACE}) as response:
        counts = orjson.loads(await response.read())
    return int(counts["ready"])


@dataclass(frozen=True)
class Figures:
    cpu: float
    startup: float
    objects: int
    wall: float

    @property
    def per_object(self) -> float:
        return self.cpu / self.objects

    @property
    def after_startup(self) -> float:
        return (self.cpu - self.startup) / self.objects


@dataclass(frozen=True)
class Run:
    name: str
    command: list[str]
    url: str


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            process.kill()
            await process.wait()


async def startup_cpu(run: Run, env: dict[str, str], logs: Path) -> float:
    """CPU seconds the command spends starting up (then idling) against an empty API server."""
    with (logs / f"{run.name}-startup.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *run.command, env=env, stdout=log, stderr=log, cwd=ROOT
        )
        try:
            await asyncio.sleep(STARTUP_SECONDS)
            if process.returncode is not None:
                raise RuntimeError(f"{run.name} exited with {process.returncode} at start-up")
            return cpu_seconds(process.pid)
        finally:
            await stop(process)


async def measure(run: Run, env: dict[str, str], objects: int, logs: Path, startup: float) -> Figures:
    log_path = logs / f"{run.name}.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *run.command, env=env, stdout=log, stderr=log, cwd=ROOT
        )
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=POLL_TIMEOUT)) as session:
                while True:
                    await asyncio.sleep(POLL_SECONDS)
                    if process.returncode is not None:
                        raise RuntimeError(f"{run.name} exited with {process.returncode}; see {log_path}")
                    ready = await ready_count(session, run.url)
                    cpu = cpu_seconds(process.pid)
                    if ready >= objects:
                        break
                    if time.monotonic() - started > 3600:
                        raise RuntimeError(f"{run.name}: only {ready}/{objects} Ready after an hour")
        finally:
            await stop(process)
    return Figures(cpu, startup, objects, time.monotonic() - started)


async def populate(url: str, objects: int, resources: int) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=POLL_TIMEOUT)) as session:
        namespace = orjson.dumps(ks.namespace(NAMESPACE))
        async with session.post(f"{url}/api/v1/namespaces", data=namespace, headers=JSON) as response:
            response.raise_for_status()
        for index in range(objects):
            spec = {"plan": {"inline": plan_for(index, resources)}}
            estimate = ks.costestimate(f"stack-{index:04d}", NAMESPACE, spec)
            path = f"{url}/apis/{GROUP}/{VERSION}/namespaces/{NAMESPACE}/costestimates"
            async with session.post(path, data=orjson.dumps(estimate), headers=JSON) as response:
                response.raise_for_status()


async def wait_for_port(port: int, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)
        else:
            writer.close()
            await writer.wait_closed()
            return


async def start_kmock(log: Path) -> tuple[asyncio.subprocess.Process, str]:
    port = ks.free_port()
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.kmock_support",
            "--port",
            str(port),
            cwd=ROOT,
            stdout=output,
            stderr=output,
        )
    await wait_for_port(port)
    return process, f"http://127.0.0.1:{port}"


async def main(objects: int, resources: int) -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="ccg-bench-") as temporary:
        workdir = Path(temporary)
        servers = [await start_kmock(workdir / f"kmock-{n}.log") for n in (1, 2, 3)]
        empty_url = servers[2][1]
        try:
            started = time.monotonic()
            await asyncio.gather(*(populate(url, objects, resources) for _process, url in servers[:2]))
            size = len(orjson.dumps(plan_for(0, resources)))
            print(
                f"2 KMock servers with {objects} CostEstimates each ({resources} resources, "
                f"{size / 1024:.0f} KiB inline plan each), created in {time.monotonic() - started:.1f} s"
            )
            ports = [str(ks.free_port()) for _ in range(3)]
            product = [
                *(python, "-m", "cloudcostguard", "run", "--all-namespaces", "--standalone"),
                *("--metrics-listen", f"127.0.0.1:{ports[0]}", "--health-listen", f"127.0.0.1:{ports[1]}"),
                *("--webhook-listen", f"127.0.0.1:{ports[2]}"),
            ]
            runs = [
                Run("trivial kopf", [python, __file__, "--trivial"], servers[0][1]),
                Run("cloudcostguard", product, servers[1][1]),
            ]
            results = {}
            for run in runs:
                env = {**os.environ, "PYTHONPATH": str(ROOT / "operator")}
                env["KUBECONFIG"] = str(ks.write_kubeconfig(workdir / "kubeconfig-empty", empty_url))
                startup = await startup_cpu(run, env, workdir)
                env["KUBECONFIG"] = str(ks.write_kubeconfig(workdir / f"kubeconfig-{run.name[:4]}", run.url))
                results[run.name] = await measure(run, env, objects, workdir, startup)
        finally:
            for process, _url in servers:
                await stop(process)
    header = (
        f"{'operator':<16}{'CPU s':>8}{'start-up s':>12}{'ms/object':>11}{'after start-up':>16}{'wall s':>8}"
    )
    print(header)
    for name, figures in results.items():
        print(
            f"{name:<16}{figures.cpu:>8.2f}{figures.startup:>12.2f}{figures.per_object * 1000:>11.1f}"
            f"{figures.after_startup * 1000:>16.1f}{figures.wall:>8.1f}"
        )
    trivial, ours = results["trivial kopf"], results["cloudcostguard"]
    print(
        f"CPU per object: {ours.per_object / trivial.per_object:.2f}× the trivial operator "
        f"({ours.after_startup / trivial.after_startup:.2f}× after start-up); must be ≤ 3×, aim ≤ 1.5×"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", 1)[0])
    parser.add_argument("--objects", type=int, default=300)
    parser.add_argument("--resources", type=int, default=100)
    parser.add_argument("--trivial", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.trivial:
        run_trivial()
    else:
        asyncio.run(main(arguments.objects, arguments.resources))

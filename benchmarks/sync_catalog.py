"""Benchmark: ``pricing sync`` of a regional EC2 file at real scale, and estimating from the result.

    .venv/bin/python benchmarks/sync_catalog.py [--skus 100000] [--repeat 5]

A synthetic regional AmazonEC2 offer file in the official layout (``generate_offer_file.py``) is
served with the whole index chain (the real service index from tests/fixtures/offers, a region index
per priced service) by a local HTTP server in this process. Then, each in a new process:

- ``cloudcostguard pricing sync --region us-east-1``: wall and CPU time, peak memory, file size;
- ``pricing sync`` again: nothing changed, so nothing is downloaded;
- ``cloudcostguard estimate`` of a one-resource plan with ``--catalog`` that file, beside the same
  estimate from the bundled snapshot (``cli_first_price.py``'s measurement, medians of ``--repeat``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import orjson
from aiohttp import web

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from cli_first_price import PLAN, measure  # noqa: E402
from cloudcostguard.pricing.catalog_file import read_catalog_file  # noqa: E402
from cloudcostguard.pricing.offers.model import PRICED_SERVICES  # noqa: E402
from generate_offer_file import write_offer  # noqa: E402

SERVICE_INDEX = HERE.parent / "tests" / "fixtures" / "offers" / "offers-v1.0-aws-index.json"
VERSION = "20261201000000"
REGIONAL = f"/offers/v1.0/aws/AmazonEC2/{VERSION}/us-east-1/index.json"


def serve(files: dict[str, Path | bytes]) -> str:
    """Serve ``files`` on 127.0.0.1 (port 0) from a daemon thread; returns the base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    address: list[str] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        body = files.get(request.path)
        if body is None:
            return web.Response(status=404)
        if isinstance(body, Path):
            return web.FileResponse(body)
        return web.Response(body=body, content_type="application/json")

    async def start() -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        address.append(f"http://127.0.0.1:{port}")

    def run() -> None:
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    ready.wait(10)
    return address[0]


def region_index(service: str) -> bytes:
    regions = {"us-east-1": REGIONAL} if service == "AmazonEC2" else {}
    return orjson.dumps(
        {"regions": {r: {"regionCode": r, "currentVersionUrl": url} for r, url in regions.items()}}
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        offer = Path(folder) / "AmazonEC2-us-east-1.json"
        with offer.open("wb") as handle:
            write_offer(handle, args.skus)
        files: dict[str, Path | bytes] = {
            "/offers/v1.0/aws/index.json": SERVICE_INDEX.read_bytes(),
            REGIONAL: offer,
        }
        for service in PRICED_SERVICES:
            files[f"/offers/v1.0/aws/{service}/current/region_index.json"] = region_index(service)
        base = serve(files)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CCG_")}
        env.update(XDG_CACHE_HOME=folder, CCG_PRICING_BASE_URL=base)
        catalog = Path(folder) / "aws-prices.json.gz"
        sync = [sys.executable, "-m", "cloudcostguard", "pricing", "sync", "--region", "us-east-1"]
        sync += ["--catalog", str(catalog)]
        first = measure(sync, env)
        again = measure(sync, env)
        plan = Path(folder) / "plan.json"
        plan.write_bytes(orjson.dumps(PLAN))
        bare_env = {k: v for k, v in env.items() if not k.startswith("CCG_")}
        estimate = [sys.executable, "-m", "cloudcostguard", "estimate", str(plan), "--format", "json"]
        runs: dict[str, list[tuple[float, float, float]]] = {"bundled": [], "synced": []}
        for _ in range(args.repeat):
            runs["bundled"].append(measure(estimate, bare_env))
            runs["synced"].append(measure([*estimate, "--catalog", str(catalog)], bare_env))
        check = subprocess.run(
            [*estimate, "--catalog", str(catalog)], capture_output=True, env=bare_env, check=True
        )
        source = orjson.loads(check.stdout)["pricing"]["source"]
        print(
            f"offer file: {args.skus} SKUs, {offer.stat().st_size / 2**20:.0f} MiB; "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(f"{'':<34}{'wall ms':>9}{'CPU ms':>9}{'peak MB':>9}")
        print(f"{'pricing sync (download + read)':<34}{first[0]:9.0f}{first[1]:9.0f}{first[2]:9.1f}")
        print(f"{'pricing sync again (unchanged)':<34}{again[0]:9.0f}{again[1]:9.0f}{again[2]:9.1f}")
        for name, label in (
            ("bundled", "estimate, bundled snapshot"),
            ("synced", f"estimate, synced ({source})"),
        ):
            wall, cpu, peak = (statistics.median(c) for c in zip(*runs[name], strict=True))
            print(f"{label:<34}{wall:9.0f}{cpu:9.0f}{peak:9.1f}")
        kept = read_catalog_file(catalog).catalog.record_count
        print(f"catalog file: {catalog.stat().st_size / 2**20:.1f} MiB, {kept} prices")


if __name__ == "__main__":
    main()

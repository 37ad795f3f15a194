"""Benchmark: load an AWS offer file at real scale into PostgreSQL (``cloudcostguard pricing load``).

    .venv/bin/python benchmarks/ingest_offer_file.py [--skus 200000] [--offer-file PATH] [--gzip]
        [--database-url URL] [--keep-schema]

Generates a synthetic regional EC2 offer file in the official JSON layout (``generate_offer_file.py``,
≥ 200,000 SKUs, ~850 MB, written to a temporary folder and deleted afterwards), then measures, each in
its own process so that peak memory (max RSS) is the phase's own:

- baseline: reading the file and hashing it (sha256), the I/O floor of any loader;
- parse: the streaming reader alone (no database), SKUs/s and peak memory;
- load: the whole ``pricing load`` path into a fresh schema of the test database (COPY, index builds,
  switch), SKUs/s, peak memory, and the time of each step.

The issue asks for ≥ 10,000 SKUs/s (aim ≥ 50,000) and ≤ 300 MB peak memory (aim). The database is
``--database-url``, else CCG_TEST_DATABASE_URL, else the Makefile's test database; a schema
``ccg_bench_<pid>`` is created and dropped (``--keep-schema`` keeps it for ``catalog_load.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/cloudcostguard_test"


def database_url(given: str | None) -> str:
    return given or os.environ.get("CCG_TEST_DATABASE_URL") or DEFAULT_URL


def with_schema(url: str, schema: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = dict(urllib.parse.parse_qsl(parts.query)) | {"search_path": schema}
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def cpu_seconds() -> float:
    """This process's CPU time: less sensitive than wall time to other work on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"


# --- phases (each runs in a child process: `ingest_offer_file.py --phase NAME ...`) ----------------


def phase_baseline(path: Path) -> dict[str, Any]:
    started = time.monotonic()
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    seconds = time.monotonic() - started
    return {"seconds": seconds, "mb_per_s": size / seconds / 1e6, "peak_mib": peak_mib()}


def phase_parse(path: Path) -> dict[str, Any]:
    from cloudcostguard.pricing.offers.model import Selection
    from cloudcostguard.pricing.store.bulk_load import LoadProgress, read_offer_files

    progress = LoadProgress()
    started = time.monotonic()
    rows = {"products": 0, "prices": 0}
    for batch in read_offer_files([(path, path.name)], Selection.from_lists(), progress):
        rows[batch.kind] += len(batch.rows)
    seconds = time.monotonic() - started
    return {
        "seconds": seconds,
        "skus": progress.products_read,
        "skus_per_s": progress.products_read / seconds,
        "products_kept": rows["products"],
        "prices_kept": rows["prices"],
        "skipped": progress.files[0].stats.skipped,
        "cpu_seconds": cpu_seconds(),
        "peak_mib": peak_mib(),
    }


def phase_load(path: Path, url: str) -> dict[str, Any]:
    from cloudcostguard.pricing.store import bulk_load
    from cloudcostguard.settings import Settings

    steps: dict[str, float] = {}
    for name in ("_copy", "_tidy", "_prepare", "_switch"):
        original = getattr(bulk_load, name)

        async def timed(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            started = time.monotonic()
            try:
                return await _original(*args, **kwargs)
            finally:
                steps[_name.strip("_")] = time.monotonic() - started

        setattr(bulk_load, name, timed)
    settings = Settings()
    result = asyncio.run(bulk_load.load_offer_files(url, settings, [(path, path.name)]))
    return {
        "seconds": result.seconds,
        "skus": result.products_read,
        "skus_per_s": result.skus_per_second,
        "products": result.product_count,
        "prices": result.price_count,
        "version": result.version_id,
        "steps": steps,
        "cpu_seconds": cpu_seconds(),
        "peak_mib": peak_mib(),
    }


# --- orchestration -------------------------------------------------------------------------------


def run_phase(*arguments: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--phase", *arguments], check=True, capture_output=True, timeout=3600
    ).stdout
    result: dict[str, Any] = orjson.loads(output.splitlines()[-1])
    return result


async def _schema(url: str, schema: str, *, create: bool) -> None:
    import asyncpg

    from cloudcostguard.pricing.store import pool
    from cloudcostguard.pricing.store.migrate import migrate
    from cloudcostguard.settings import Settings

    connection = await asyncpg.connect(url, timeout=10)
    try:
        await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if create:
            await connection.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await connection.close()
    if create:
        scoped = await pool.connect(with_schema(url, schema), Settings())
        try:
            await migrate(scoped)
        finally:
            await scoped.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=200_000)
    parser.add_argument("--offer-file", type=Path, help="use this offer file instead of generating one")
    parser.add_argument("--gzip", action="store_true", help="generate the file gzipped")
    parser.add_argument("--database-url")
    parser.add_argument("--keep-schema", action="store_true")
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, path, *rest = args.phase
        phases = {"baseline": phase_baseline, "parse": phase_parse, "load": phase_load}
        print(orjson.dumps(phases[name](Path(path), *rest)).decode())  # type: ignore[operator]
        return

    url = database_url(args.database_url)
    schema = f"ccg_bench_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="ccg-offer-bench-") as folder:
        path = args.offer_file
        generated: dict[str, Any] = {}
        if path is None:
            path = Path(folder) / ("AmazonEC2-us-east-1.json" + (".gz" if args.gzip else ""))
            command = [
                sys.executable,
                str(HERE / "generate_offer_file.py"),
                "--skus",
                str(args.skus),
                "--out",
                str(path),
            ]
            command += ["--gzip"] if args.gzip else []
            generated = orjson.loads(
                subprocess.run(command, check=True, capture_output=True, timeout=3600).stdout
            )
        size = path.stat().st_size
        print(
            f"offer file: {path.name}, {size / 1e6:.0f} MB, {generated.get('skus', '?')} SKUs "
            f"({generated.get('with_reserved_terms', '?')} with Reserved terms), generated in "
            f"{generated.get('seconds', '?')} s"
        )
        print(f"machine load before measuring: {load_average()}")
        baseline = run_phase("baseline", str(path))
        parse = run_phase("parse", str(path))
        asyncio.run(_schema(url, schema, create=True))
        try:
            loaded = run_phase("load", str(path), with_schema(url, schema))
        finally:
            if not args.keep_schema:
                asyncio.run(_schema(url, schema, create=False))
        print(f"machine load after measuring:  {load_average()}")

    print()
    print(f"{'phase':<10} {'seconds':>8} {'CPU s':>7} {'SKUs/s':>10} {'peak MiB':>9}  notes")
    print(
        f"{'baseline':<10} {baseline['seconds']:>8.1f} {'':>7} {'':>10} {baseline['peak_mib']:>9.0f}  "
        f"read + sha256 at {baseline['mb_per_s']:.0f} MB/s (the floor)"
    )
    print(
        f"{'parse':<10} {parse['seconds']:>8.1f} {parse['cpu_seconds']:>7.1f} {parse['skus_per_s']:>10,.0f} "
        f"{parse['peak_mib']:>9.0f}  "
        f"{parse['products_kept']} products, {parse['prices_kept']} prices kept; skipped {parse['skipped']}"
    )
    steps = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in loaded["steps"].items())
    print(
        f"{'load':<10} {loaded['seconds']:>8.1f} {loaded['cpu_seconds']:>7.1f} "
        f"{loaded['skus_per_s']:>10,.0f} {loaded['peak_mib']:>9.0f}  "
        f"version {loaded['version']}: {loaded['products']} products, {loaded['prices']} prices; {steps}"
    )
    if args.keep_schema:
        print(f"\nkept the loaded store: {with_schema(url, schema)}")
    verdict = "meets" if loaded["skus_per_s"] >= 10_000 else "MISSES"
    print(
        f"\nload rate {loaded['skus_per_s']:,.0f} SKUs/s {verdict} the 10,000 SKUs/s floor (aim 50,000); "
        f"peak {loaded['peak_mib']:.0f} MiB (aim ≤ 300)"
    )


if __name__ == "__main__":
    main()

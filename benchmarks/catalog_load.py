"""Benchmark: the in-process catalog from PostgreSQL (cold load, memory, lookups), beside the bundled one.

    .venv/bin/python benchmarks/catalog_load.py [--skus 200000] [--store-url URL] [--repeat 3]

Without ``--store-url`` it generates a synthetic regional EC2 offer file (``generate_offer_file.py``)
and loads it into a fresh schema of the test database (as ``ingest_offer_file.py`` does), then drops
the schema at the end. Each measurement runs in a new process, so that "cold" means cold:

- fetch floor: connect and fetch the same rows with asyncpg, nothing built (taking turns with the
  cold loads);
- cold load: connect, fetch the current version's catalog blob and decode it into the
  ``InMemoryCatalog`` (what ``estimate --database-url`` and the operator's provider do at start);
  median of ``--repeat`` runs; resident memory added by the catalog, and the process's peak;
- blob fetch floor: the same connection and one query fetching the blob's bytes, nothing decoded;
- cold load from rows: the version's rows built into the catalog (the path of a version without a
  blob, and of every version before blobs), taking turns with the others;
- cache file: writing that catalog as the provider's last-good file, and reading it back (the cold
  start while PostgreSQL is down);
- lookups, on the PostgreSQL catalog and, in the same process, on the bundled snapshot: the first
  query with a new set of attribute names (builds an index over the region's products), a new query
  on an existing index, a repeated query (memoized);
- per resource: ``cloudcostguard.estimate`` of a plan of 1,000 ``aws_instance`` resources (instance
  types both catalogs price) with each catalog.

Issue 11: cold load ≤ 1.0 s (must), ≤ 2× the fetch floor (aim); cache-file cold start ≤ 0.5 s (must).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from ingest_offer_file import _schema, database_url, load_average, with_schema  # noqa: E402

INSTANCE_TYPES = [
    f"{family}.{size}"
    for family in ("t3", "t3a", "m5", "c5", "r5", "m6i", "c6i", "r6i")
    for size in ("large", "xlarge", "2xlarge")
]


def resident_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def cpu_seconds() -> float:
    """This process's CPU time: less sensitive than wall time to other work on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- child process phases ------------------------------------------------------------------------


def _measured_load(load: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
    """Time one cold catalog load in this (fresh) process: wall, CPU, what it holds, peak memory."""
    gc.collect()
    before = resident_mib()
    cpu_before = cpu_seconds()
    started = time.monotonic()
    catalog = asyncio.run(load())
    seconds = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
    gc.collect()
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "records": catalog.record_count,
        "products": catalog.product_count,
        "resident_added_mib": resident_mib() - before,
        "peak_mib": peak_mib(),
    }


def phase_cold(url: str) -> dict[str, Any]:
    import cloudcostguard.pricing.store.store  # noqa: F401 - imports are not part of the load
    from cloudcostguard.pricing.store.one_shot_catalog import load_catalog
    from cloudcostguard.settings import Settings

    return _measured_load(lambda: load_catalog(url, Settings()))


def phase_cold_rows(url: str) -> dict[str, Any]:
    """The cold load as it was before catalog blobs: the version's rows, built into a catalog."""
    import cloudcostguard.pricing.store.store  # noqa: F401 - imports are not part of the load
    from cloudcostguard.pricing.store import pool, store
    from cloudcostguard.settings import Settings

    async def load() -> Any:
        connection = await pool.connect(url, Settings())
        try:
            return await store.load_catalog(connection)
        finally:
            await pool.close_quietly(connection)

    return _measured_load(load)


def phase_floor_blob(url: str) -> dict[str, Any]:
    """The blob's fetch floor: the same connection and one query for the version's catalog blob."""
    from cloudcostguard.pricing.store import pool, store
    from cloudcostguard.settings import Settings

    async def fetch() -> int:
        connection = await pool.connect(url, Settings())
        try:
            info = await store.current_version(connection)
            assert info is not None, "the store has no current version"
            payload = await connection.fetchval(
                "SELECT bytes FROM ccg_catalog_blob WHERE version_id = $1", info.id
            )
            assert payload is not None, "the current version has no catalog blob"
            return len(payload)
        finally:
            await pool.close_quietly(connection)

    gc.collect()
    cpu_before = cpu_seconds()
    started = time.monotonic()
    size = asyncio.run(fetch())
    return {"seconds": time.monotonic() - started, "cpu_seconds": cpu_seconds() - cpu_before, "bytes": size}


def phase_floor(url: str) -> dict[str, Any]:
    """The fetch floor: the same connection and the same two queries as the cold load, rows only."""
    from cloudcostguard.pricing.store import pool, store
    from cloudcostguard.settings import Settings

    async def fetch() -> int:
        connection = await pool.connect(url, Settings())
        try:
            info = await store.current_version(connection)
            assert info is not None, "the store has no current version"
            async with connection.transaction(isolation="repeatable_read", readonly=True):
                prices = await connection.fetch(store._PRICES_QUERY, info.id)
                products = await connection.fetch(store._PRODUCTS_QUERY, info.id, None, None)
            return len(prices) + len(products)
        finally:
            await pool.close_quietly(connection)

    gc.collect()
    cpu_before = cpu_seconds()
    started = time.monotonic()
    rows = asyncio.run(fetch())
    return {"seconds": time.monotonic() - started, "cpu_seconds": cpu_seconds() - cpu_before, "rows": rows}


def phase_operator(url: str) -> dict[str, Any]:
    """Resident memory of an operator process serving the PostgreSQL catalog: the operator's modules
    (kopf, handlers, webhook) imported, the provider started as ``cloudcostguard run`` starts it."""
    import kopf  # noqa: F401 - what `cloudcostguard run` imports (cli/run.py)

    from cloudcostguard.k8s import process  # noqa: F401 - registers every kopf handler
    from cloudcostguard.k8s.operator import runtime  # noqa: F401
    from cloudcostguard.pricing.store.postgres_provider import PostgresCatalogProvider
    from cloudcostguard.settings import Settings

    before = resident_mib()

    async def serve() -> float:
        provider = PostgresCatalogProvider(url, Settings(), refresh_interval=3600)
        await provider.start()
        try:
            assert provider.status().source == "postgresql"
            gc.collect()
            return resident_mib()
        finally:
            await provider.stop()

    serving = asyncio.run(serve())
    return {"imports_mib": before, "serving_mib": serving, "peak_mib": peak_mib()}


def phase_cache(path: str) -> dict[str, Any]:
    """The provider's cold start from its cache file, in a fresh process."""
    from cloudcostguard.pricing.cache_file import read_cache_file

    gc.collect()
    cpu_before = cpu_seconds()
    started = time.monotonic()
    catalog = read_cache_file(Path(path))
    return {
        "seconds": time.monotonic() - started,
        "cpu_seconds": cpu_seconds() - cpu_before,
        "records": catalog.record_count,
    }


def _time(function: Any, repeat: int) -> float:
    """Median seconds of ``function()``."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _lookups(catalog: Any) -> dict[str, float]:
    """Seconds: first query on a new index, a new query on that index, a memoized query."""

    def query(instance_type: str, system: str = "Linux") -> dict[str, str]:
        return {
            "productFamily": "Compute Instance",
            "instanceType": instance_type,
            "operatingSystem": system,
            "tenancy": "Shared",
            "preInstalledSw": "NA",
            "capacitystatus": "Used",
            "licenseModel": "No License required",
        }

    started = time.perf_counter()
    found = catalog.lookup("AmazonEC2", "us-east-1", **query("m5.large"))
    first = time.perf_counter() - started
    assert found is not None, "the catalog has no m5.large"
    queries = [query(t, s) for t in INSTANCE_TYPES for s in ("Windows", "RHEL")]
    started = time.perf_counter()
    for attributes in queries:
        catalog.lookup("AmazonEC2", "us-east-1", **attributes)
    new_on_index = (time.perf_counter() - started) / len(queries)
    attributes = query("m5.large")
    memoized = _time(lambda: catalog.lookup("AmazonEC2", "us-east-1", **attributes), 2001)
    return {"first_s": first, "new_query_s": new_on_index, "memoized_s": memoized}


def _plan(resources: int) -> bytes:
    changes = []
    for number in range(resources):
        instance_type = INSTANCE_TYPES[number % len(INSTANCE_TYPES)]
        changes.append(
            {
                "address": f"aws_instance.web[{number}]",
                "mode": "managed",
                "type": "aws_instance",
                "name": "web",
                "index": number,
                "provider_name": "registry.terraform.io/hashicorp/aws",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"instance_type": instance_type, "ami": "ami-123", "tenancy": "default"},
                    "after_unknown": {"id": True},
                },
            }
        )
    return orjson.dumps(
        {
            "format_version": "1.2",
            "resource_changes": changes,
            "configuration": {
                "provider_config": {
                    "aws": {"name": "aws", "expressions": {"region": {"constant_value": "us-east-1"}}}
                }
            },
        }
    )


def phase_use(url: str, folder: str) -> dict[str, Any]:
    import cloudcostguard
    from cloudcostguard.pricing.cache_file import write_cache_file
    from cloudcostguard.pricing.snapshot import load_bundled_catalog
    from cloudcostguard.pricing.store.one_shot_catalog import load_catalog
    from cloudcostguard.settings import Settings

    catalog = asyncio.run(load_catalog(url, Settings()))
    bundled = load_bundled_catalog()
    result: dict[str, Any] = {"postgresql": _lookups(catalog), "bundled": _lookups(bundled)}
    plan = _plan(1000)
    cloudcostguard.estimate(plan, catalog=bundled)  # warm both catalogs' indexes the same way
    cloudcostguard.estimate(plan, catalog=catalog)
    per_resource = {}
    for name, chosen in (("postgresql", catalog), ("bundled", bundled)):
        estimate = cloudcostguard.estimate(plan, catalog=chosen)
        assert estimate.total_monthly_cost > 0, name
        per_resource[name] = (
            _time(lambda chosen=chosen: cloudcostguard.estimate(plan, catalog=chosen), 5) / 1000
        )
    result["estimate_per_resource_s"] = per_resource
    # The provider's last-good file: write it, then read it back as a cold start would.
    path = Path(folder) / "catalog.cache"
    started = time.monotonic()
    write_cache_file(path, catalog)
    result["cache_write_s"] = time.monotonic() - started
    result["cache_mb"] = path.stat().st_size / 1e6
    cold_start = run_child("cache", str(path))  # cold: a process of its own
    result["cache_read_s"], result["cache_read_cpu_s"] = cold_start["seconds"], cold_start["cpu_seconds"]
    return result


# --- orchestration -------------------------------------------------------------------------------


def run_child(*arguments: str) -> dict[str, Any]:
    output = subprocess.run(
        [sys.executable, __file__, "--phase", *arguments], check=True, capture_output=True, timeout=3600
    ).stdout
    result: dict[str, Any] = orjson.loads(output.splitlines()[-1])
    return result


def prepare_store(skus: int, url: str, schema: str, folder: Path) -> dict[str, Any]:
    path = folder / "AmazonEC2-us-east-1.json"
    subprocess.run(
        [sys.executable, str(HERE / "generate_offer_file.py"), "--skus", str(skus), "--out", str(path)],
        check=True,
        capture_output=True,
        timeout=3600,
    )
    asyncio.run(_schema(url, schema, create=True))
    output = subprocess.run(
        [
            sys.executable,
            str(HERE / "ingest_offer_file.py"),
            "--phase",
            "load",
            str(path),
            with_schema(url, schema),
        ],
        check=True,
        capture_output=True,
        timeout=3600,
    ).stdout
    path.unlink()
    loaded: dict[str, Any] = orjson.loads(output.splitlines()[-1])
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skus", type=int, default=200_000)
    parser.add_argument(
        "--store-url", help="a loaded pricing store (e.g. from ingest_offer_file.py --keep-schema)"
    )
    parser.add_argument("--database-url")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        name, *rest = args.phase
        phases = {
            "cold": phase_cold,
            "use": phase_use,
            "floor": phase_floor,
            "cold_rows": phase_cold_rows,
            "floor_blob": phase_floor_blob,
            "cache": phase_cache,
            "operator": phase_operator,
        }
        print(orjson.dumps(phases[name](*rest)).decode())  # type: ignore[operator]
        return

    base = database_url(args.database_url)
    schema = f"ccg_bench_catalog_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="ccg-catalog-bench-") as folder:
        created = args.store_url is None
        try:
            if created:
                loaded = prepare_store(args.skus, base, schema, Path(folder))
                print(
                    f"store: {args.skus} synthetic SKUs loaded as {loaded['products']} products, "
                    f"{loaded['prices']} prices"
                )
            url = args.store_url or with_schema(base, schema)
            print(f"machine load before measuring: {load_average()}")
            colds, floors, rows_colds, blob_floors = [], [], [], []
            for _ in range(args.repeat):  # in turns: all see the same background load
                floors.append(run_child("floor", url))
                colds.append(run_child("cold", url))
                blob_floors.append(run_child("floor_blob", url))
                rows_colds.append(run_child("cold_rows", url))
            use = run_child("use", url, folder)
            operator_memory = run_child("operator", url)
            print(f"machine load after measuring:  {load_average()}")
        finally:
            if created:
                asyncio.run(_schema(base, schema, create=False))

    cold = sorted(colds, key=lambda c: c["seconds"])[len(colds) // 2]
    floor = sorted(floors, key=lambda c: c["seconds"])[len(floors) // 2]
    rows_cold = sorted(rows_colds, key=lambda c: c["seconds"])[len(rows_colds) // 2]
    blob_floor = sorted(blob_floors, key=lambda c: c["seconds"])[len(blob_floors) // 2]
    print()
    print(
        f"fetch floor (asyncpg, the same two queries, rows only): median {floor['seconds']:.2f} s "
        f"of {[round(c['seconds'], 2) for c in floors]} ({floor['cpu_seconds']:.2f} s of CPU), "
        f"{floor['rows']} rows"
    )
    print(
        f"blob fetch floor (asyncpg, one query for the catalog blob): median {blob_floor['seconds']:.2f} s "
        f"of {[round(c['seconds'], 2) for c in blob_floors]} ({blob_floor['cpu_seconds']:.2f} s of CPU), "
        f"{blob_floor['bytes'] / 1e6:.1f} MB"
    )
    print(
        f"cold load from rows (no blob, as before): median {rows_cold['seconds']:.2f} s "
        f"of {[round(c['seconds'], 2) for c in rows_colds]} ({rows_cold['cpu_seconds']:.2f} s of CPU); "
        f"catalog resident +{rows_cold['resident_added_mib']:.0f} MiB, "
        f"process peak {rows_cold['peak_mib']:.0f} MiB"
    )
    print(
        f"cold load from PostgreSQL (catalog blob): median {cold['seconds']:.2f} s "
        f"of {[round(c['seconds'], 2) for c in colds]} "
        f"({cold['cpu_seconds']:.2f} s of CPU in this process) "
        f"for {cold['records']} price records ({cold['products']} products); "
        f"catalog resident +{cold['resident_added_mib']:.0f} MiB, process peak {cold['peak_mib']:.0f} MiB"
    )
    print(
        f"  cold load / rows fetch floor: {cold['seconds'] / floor['seconds']:.2f}×, "
        f"/ blob fetch floor: {cold['seconds'] / blob_floor['seconds']:.2f}× "
        f"(must: cold load ≤ 1.0 s; aim ≤ 2× the floor)"
    )
    print(
        f"cache file: written in {use['cache_write_s']:.2f} s ({use['cache_mb']:.0f} MB), "
        f"read back in {use['cache_read_s']:.2f} s ({use['cache_read_cpu_s']:.2f} s CPU; must ≤ 0.5 s, and "
        f"faster than PostgreSQL's "
        f"{cold['seconds']:.2f} s)"
    )
    print(
        f"operator process serving the PostgreSQL catalog: {operator_memory['serving_mib']:.0f} MiB "
        f"resident (modules alone {operator_memory['imports_mib']:.0f} MiB; peak "
        f"{operator_memory['peak_mib']:.0f} MiB; must ≤ 150 MiB)"
    )
    print()
    print(f"{'lookup (EC2 instance, 7 attributes)':<40} {'postgresql':>12} {'bundled':>12}")
    for key, label in (
        ("first_s", "first query (builds the index)"),
        ("new_query_s", "new query, existing index"),
        ("memoized_s", "repeated query (memo)"),
    ):
        pg, bundled = use["postgresql"][key], use["bundled"][key]
        print(f"{label:<40} {pg * 1e6:>10.1f}µs {bundled * 1e6:>10.1f}µs")
    per = use["estimate_per_resource_s"]
    print(
        f"{'estimate() per aws_instance resource':<40} "
        f"{per['postgresql'] * 1e6:>10.1f}µs {per['bundled'] * 1e6:>10.1f}µs"
    )
    verdict = "meets" if cold["seconds"] <= 3 else "misses"
    print(f"\ncold load {cold['seconds']:.2f} s {verdict} the 3 s aim")


if __name__ == "__main__":
    main()

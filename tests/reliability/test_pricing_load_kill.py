"""``cloudcostguard pricing load`` killed with SIGKILL at random points: the current version never becomes
a partial one, and the next load succeeds.

The store holds a complete version (S3 excerpt + 20,000 EC2 products). Each round starts a load of
another 20,000 EC2 products (other SKUs, replacing EC2 us-east-1) as a child process and kills it after a
delay drawn (seeded) from 0 to 1.2 × the time an uninterrupted load of the same size took, so kills land
in every phase: before the version row, while COPYing, verifying, building indexes, switching, and
after the commit. After each kill, once PostgreSQL has noticed the dead session:

- the current version is the previous one, or (killed after its commit) the new one complete;
- its tables hold exactly the rows its version row counts, with the same contents checksum as a
  reference load of the same files;
- the killed load is ``abandoned`` (never ``loading`` without a live loader, never current).

Then a last load runs to the end and becomes current, and ``prune`` removes every abandoned load and
its tables. CI kills 20 times (~25 s here); ``reliability_long`` 50 more times with another seed
(figures in RELIABILITY.md).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from cloudcostguard.pricing.store import pool, store
from cloudcostguard.settings import Settings
from tests.integration.pricing.conftest import database_url, make_settings, store_url  # noqa: F401 - fixtures
from tests.unit.pricing.offers.samples import S3_EXCERPT, synthetic_ec2_offer

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
PRODUCTS = 20_000  # ~1 s to load here: long enough for kills to land in every phase
SEED = 13


def load(url: str, *files: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CCG_DATABASE_URL": url, "CCG_DB_CONNECT_TIMEOUT": "5"}
    return subprocess.Popen(
        [sys.executable, "-m", "cloudcostguard", "pricing", "load", *map(str, files)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


def load_to_the_end(url: str, *files: Path) -> float:
    started = time.perf_counter()
    process = load(url, *files)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr.decode()
    return time.perf_counter() - started


async def snapshot(
    url: str, settings: Settings
) -> tuple[list[store.VersionInfo], tuple[int, int, str] | None]:
    """Every version, and the current one's actual rows: (products, prices, checksum of their contents)."""
    connection = await pool.connect(url, settings)
    try:
        versions = await store.list_versions(connection)
        current = next((v for v in versions if v.is_current), None)
        # Catalog blobs are written by the switch: only versions that became whole have one, and the
        # current version always has its own.
        blobs = {r["version_id"] for r in await connection.fetch("SELECT version_id FROM ccg_catalog_blob")}
        assert blobs <= {v.id for v in versions if v.state == "ready"}, (blobs, versions)
        if current is None:
            return versions, None
        assert current.id in blobs, f"the current version {current.id} has no catalog blob"
        products = store.product_table(current.id)
        prices = store.price_table(current.id)
        row = await connection.fetchrow(
            f"SELECT (SELECT count(*) FROM {products}) AS products,"
            f" (SELECT count(*) FROM {prices}) AS prices,"
            f" (SELECT md5(string_agg(sku || ':' || attributes::text, ',' ORDER BY sku)) FROM {products})"
            f" || (SELECT md5(string_agg(sku || ':' || usd_per_unit::text, ',' ORDER BY sku, rate_code))"
            f" FROM {prices}) AS checksum"
        )
        return versions, (row["products"], row["prices"], row["checksum"])
    finally:
        await connection.close()


async def settled(
    url: str, settings: Settings
) -> tuple[list[store.VersionInfo], tuple[int, int, str] | None]:
    """The store once PostgreSQL has ended the killed session (its advisory lock is then released)."""
    deadline = time.monotonic() + 30
    while True:
        versions, current = await snapshot(url, settings)
        if not any(v.state == "loading" for v in versions):
            return versions, current
        assert time.monotonic() < deadline, f"a killed load still looks alive: {versions}"
        await asyncio.sleep(0.05)


async def tables(url: str, settings: Settings) -> set[str]:
    connection = await pool.connect(url, settings)
    try:
        rows = await connection.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname ~ '^ccg_(product|price)_v'"
        )
        return {row["relname"] for row in rows}
    finally:
        await connection.close()


async def kill_loads(url: str, tmp_path: Path, kills: int, seed: int) -> dict[str, object]:
    settings = make_settings()
    first, second = tmp_path / "ec2-x.json", tmp_path / "ec2-y.json"
    first.write_bytes(orjson.dumps(synthetic_ec2_offer(PRODUCTS, sku_prefix="X")))
    second.write_bytes(orjson.dumps(synthetic_ec2_offer(PRODUCTS, sku_prefix="Y")))
    load_to_the_end(url, S3_EXCERPT)
    duration = load_to_the_end(url, first)
    versions, before = await snapshot(url, settings)
    old_current = next(v for v in versions if v.is_current)
    assert before is not None and before[:2] == (PRODUCTS + 2, PRODUCTS + 4)

    rng = random.Random(seed)
    outcomes: Counter[str] = Counter()
    new_current: tuple[int, int, str] | None = None
    for _ in range(kills):
        delay = rng.uniform(0, duration * 1.2)
        known = {v.id for v in versions}
        process = load(url, second)
        await asyncio.sleep(delay)
        finished_first = process.poll() is not None
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        if process.stderr:
            process.stderr.close()
        versions, current = await settled(url, settings)
        now = next(v for v in versions if v.is_current)
        assert current is not None
        assert [v.id for v in versions if v.is_current] == [now.id]
        started = [v for v in versions if v.id not in known]
        assert len(started) <= 1, started
        if now.id == old_current.id:
            assert current == before, "the current version's rows changed under a killed load"
            if started:
                assert started[0].state == "abandoned", started  # never "loading" without a loader
                outcomes["killed while loading: abandoned, previous version current"] += 1
            else:
                outcomes["killed before its version row: previous version current"] += 1
        else:
            # Killed after its commit (or done before the kill): the new version is current, and whole.
            assert now.state == "ready" and started == [now]
            assert current[:2] == (now.product_count, now.price_count) == (PRODUCTS + 2, PRODUCTS + 4)
            if new_current is not None:
                assert current == new_current
            new_current = current
            outcomes["finished before the kill" if finished_first else "killed after its commit"] += 1
            old_current, before = now, current

    # The next load runs to the end and becomes current, whatever the kills left behind.
    load_to_the_end(url, second)
    versions, final = await snapshot(url, settings)
    final_version = next(v for v in versions if v.is_current)
    assert final_version.id == versions[0].id and final_version.state == "ready"
    assert final is not None and final[:2] == (PRODUCTS + 2, PRODUCTS + 4)
    if new_current is not None:
        assert final == new_current  # a version made current by a killed load equals a whole one
    abandoned = [v.id for v in versions if v.state == "abandoned"]
    connection = await pool.connect(url, settings)
    try:
        removed = await store.prune(connection, keep=1)
    finally:
        await connection.close()
    assert set(abandoned) <= {v.id for v in removed}
    assert await tables(url, settings) == {
        store.product_table(final_version.id),
        store.price_table(final_version.id),
    }
    figures: dict[str, object] = {
        "kills": kills,
        "seed": seed,
        "load_seconds": round(duration, 2),
        "abandoned": len(abandoned),
        **outcomes,
    }
    print(f"pricing load killed: {figures}")
    return figures


async def test_a_load_killed_twenty_times_never_changes_the_current_version_to_a_partial_one(
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    figures = await kill_loads(store_url, tmp_path, kills=20, seed=SEED)
    assert figures["kills"] == 20


@pytest.mark.reliability_long
async def test_a_load_killed_fifty_more_times_never_changes_the_current_version_to_a_partial_one(
    store_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    figures = await kill_loads(store_url, tmp_path, kills=50, seed=SEED + 1)
    assert figures["kills"] == 50

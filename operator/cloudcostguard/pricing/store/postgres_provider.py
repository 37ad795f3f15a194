"""``PostgresCatalogProvider``: the in-process catalog of long-running processes, fed by PostgreSQL.

- Follows the current pricing version: wakes on ``NOTIFY cloudcostguard_pricing`` (sent by the
  switch transaction) and checks every ``catalog_refresh_interval`` seconds anyway (a notification
  is lost while the listening connection is down).
- Swaps atomically: a new ``InMemoryCatalog`` is built completely (in a worker thread, so the event
  loop keeps serving) before one assignment replaces the old one; readers hold whichever they got.
  It is decoded from the version's catalog blob (``catalog_blob``: written by ``pricing load``), or
  built from the version's rows when the version has no usable blob (logged).
- Keeps serving the last good catalog while PostgreSQL is unreachable, reports ``stale`` and its age
  (``CatalogStatus.loaded_at`` is when PostgreSQL last confirmed it is current), and retries with
  backoff.
- Persists each catalog it loads to ``catalog_cache_file`` (``pricing.cache_file``: binary,
  checksummed, atomic write); a cold start while the database is down serves that file (a damaged or
  older file is logged and skipped), and with no file the bundled snapshot.

Every change of what is served, or of the database's reachability, is logged once and exported as
metrics (``cloudcostguard.metrics``, CATALOG_*).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from cloudcostguard import errors, metrics
from cloudcostguard.pricing import cache_file
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceCatalog
from cloudcostguard.pricing.catalog_provider import CatalogStatus, VersionListener
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.pricing.store import catalog_blob, pool
from cloudcostguard.pricing.store.migrate import check_schema
from cloudcostguard.pricing.store.store import CATALOG_SOURCE, CHANNEL, catalog_version, current_version_id
from cloudcostguard.settings import Settings

log = logging.getLogger("cloudcostguard.pricing.catalog")

_PROBLEMS = {"PricingStoreUnavailable": "unreachable", "PricingStoreNotMigrated": "not-migrated"}
MIN_RETRY = 1.0  # first retry after a failure; doubles up to the refresh interval
STOP_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class _State:
    """What is logged when it changes."""

    source: str
    version: str
    stale: bool
    problem: str | None  # "unreachable", "not-migrated", "no-version", "load-failed"


class PostgresCatalogProvider:
    def __init__(
        self,
        dsn: str,
        settings: Settings,
        *,
        cache_file: Path | None = None,
        fallback: Callable[[], InMemoryCatalog] = load_bundled_catalog,
        refresh_interval: float | None = None,
        min_retry: float = MIN_RETRY,
    ) -> None:
        if not dsn:
            raise errors.ConfigurationError("no database URL: pass --database-url or set CCG_DATABASE_URL")
        self._dsn = dsn
        self._settings = settings
        self._cache_file = cache_file if cache_file is not None else settings.catalog_cache_file
        self._fallback = fallback
        self._interval = (
            refresh_interval if refresh_interval is not None else settings.catalog_refresh_interval
        )
        self._min_retry = min(min_retry, self._interval)
        self._services: Sequence[str] | None = list(settings.pricing_services) or None
        self._regions: Sequence[str] | None = list(settings.pricing_regions) or None
        self._database = pool.Database(dsn, settings)
        self._listener: asyncpg.Connection | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[VersionListener] = []
        self._catalog: InMemoryCatalog | None = None
        self._version_id: int | None = None
        self._confirmed_at = 0.0
        self._stale = False
        self._problem: str | None = None
        self._last_error: str | None = None
        self._logged: _State | None = None
        self._healthy = False

    # --- CatalogProvider ------------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is not None:
            return
        await self._cycle()
        if self._catalog is None:
            await self._cold_start()
        self._task = asyncio.create_task(self._run(), name="cloudcostguard-catalog-refresh")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=STOP_TIMEOUT)
        await self._close_listener()
        await self._database.close()

    def current(self) -> PriceCatalog:
        catalog = self._catalog
        if catalog is None:  # before start(): never price with nothing
            return self._fallback()
        return catalog

    def status(self) -> CatalogStatus:
        catalog = self.current()
        return CatalogStatus(
            source=catalog.source,
            version=catalog.version,
            loaded_at=self._confirmed_at,
            stale=self._stale,
            last_error=self._last_error,
        )

    @property
    def ready(self) -> bool:
        return self._catalog is not None

    def add_listener(self, listener: VersionListener) -> None:
        self._listeners.append(listener)

    # --- extra detail (status pages, tests) -----------------------------------------------------

    @property
    def version_id(self) -> int | None:
        """The PostgreSQL pricing version served (also for a cache-file catalog), if known."""
        return self._version_id

    async def refresh_now(self) -> None:
        """Check the current version now (tests; an admin endpoint)."""
        await self._cycle()
        if not self._healthy:
            # The loop may be in a long healthy wait: hand the failure over to its retry schedule.
            self._wake.set()

    # --- the loop -------------------------------------------------------------------------------

    async def _run(self) -> None:
        retry = self._min_retry
        while True:
            timeout = self._interval if self._healthy else retry
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            self._wake.clear()
            await self._cycle()
            retry = self._min_retry if self._healthy else min(retry * 2, self._interval)

    async def _cycle(self) -> None:
        """Listen (so no switch is missed after the check), then check the current version."""
        try:
            await self._ensure_listener()
            await self._refresh()
        except errors.PricingError as err:
            self._failed(_PROBLEMS.get(err.reason, "load-failed"), err)
        except pool.DATABASE_ERRORS as err:
            self._failed("unreachable", err)
        except Exception as err:  # a bug must not end the refresh loop: keep serving, say why
            log.exception("unexpected failure while refreshing the price catalog")
            self._failed("load-failed", err)
        self._report()

    async def _ensure_listener(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            return
        await self._close_listener()
        connection = await pool.connect(self._dsn, self._settings)
        try:
            await connection.add_listener(CHANNEL, self._on_notify)
        except BaseException:
            connection.terminate()
            raise
        connection.add_termination_listener(self._on_terminated)
        self._listener = connection

    async def _close_listener(self) -> None:
        connection, self._listener = self._listener, None
        await pool.close_quietly(connection, grace=2.0)

    def _on_notify(self, connection: object, pid: int, channel: str, payload: object) -> None:
        log.debug("pricing version switch notified", extra={"version": payload})
        self._wake.set()

    def _on_terminated(self, connection: object) -> None:
        # The listening connection died (database restarted, network cut): reconnect promptly.
        self._healthy = False
        self._wake.set()

    async def _refresh(self) -> None:
        async with self._database.acquire() as connection:
            await check_schema(connection)
            current = await current_version_id(connection)
            if current is None:
                self._no_version()
                return
            version_id, digest = current
            catalog = self._catalog
            if catalog is not None and version_id == self._version_id and catalog.source == CATALOG_SOURCE:
                metrics.CATALOG_REFRESHES.labels("unchanged").inc()
                self._confirmed(catalog)
                return
            started = time.monotonic()
            version = catalog_version(version_id, digest)
            # The indexes lookups asked the serving catalog for are built on the new one before it is
            # swapped in: no estimate pays for them after a refresh (on 100,000 products, one index
            # takes most of a second). Decoding (the version's catalog blob) or building (from its
            # rows, when it has no usable blob) and those indexes run in a thread: the event loop
            # keeps serving.
            warm = self._catalog.index_keys() if self._catalog is not None else []
            new_catalog = await catalog_blob.load_version_catalog(
                connection,
                version_id,
                version,
                services=self._services,
                regions=self._regions,
                warm=warm,
            )
        if not new_catalog.product_count:
            raise errors.PricingError(
                f"pricing version {version_id} has no prices for the configured services"
            )
        metrics.CATALOG_LOAD_SECONDS.labels(CATALOG_SOURCE).observe(time.monotonic() - started)
        previous = self._catalog
        self._catalog, self._version_id = new_catalog, version_id  # the swap: one assignment
        metrics.CATALOG_REFRESHES.labels("swapped").inc()
        self._confirmed(new_catalog)
        log.info(
            "price catalog loaded from PostgreSQL",
            extra={
                "version": version,
                "previous": previous.version if previous is not None else None,
                "records": new_catalog.record_count,
                "seconds": round(time.monotonic() - started, 3),
            },
        )
        await self._persist(new_catalog)
        # The first catalog of start() is no change; later swaps to another version are.
        if previous is not None and previous.version != new_catalog.version:
            self._notify_listeners(new_catalog)

    def _confirmed(self, catalog: InMemoryCatalog) -> None:
        self._healthy = True
        self._stale = False
        self._problem = None
        self._last_error = None
        self._confirmed_at = time.time()
        metrics.CATALOG_STALE.set(0)
        metrics.CATALOG_LAST_SUCCESS.set(self._confirmed_at)
        metrics.record_served(catalog.source, self._version_id, catalog.record_count)

    def _no_version(self) -> None:
        """PostgreSQL answers but holds no current version: keep what is served, say why."""
        self._healthy = True
        self._stale = False
        self._problem = "no-version"
        self._last_error = "the pricing store has no current version (run `cloudcostguard pricing load`)"
        metrics.CATALOG_STALE.set(0)
        metrics.record_error("no-version")
        metrics.CATALOG_REFRESHES.labels("error").inc()

    def _failed(self, problem: str, err: BaseException) -> None:
        self._healthy = False
        self._problem = problem
        detail = str(err) if isinstance(err, errors.CloudCostGuardError) else pool.describe_error(err)
        self._last_error = detail
        # Stale: the database could not confirm that what is served is current.
        self._stale = True
        metrics.CATALOG_STALE.set(1)
        metrics.record_error(problem)
        metrics.CATALOG_REFRESHES.labels("error").inc()

    async def _cold_start(self) -> None:
        """No catalog from PostgreSQL at start: the last good one from the cache file, else bundled."""
        path = self._cache_file
        if path is not None and path.exists():
            started = time.monotonic()
            try:
                catalog = await asyncio.to_thread(cache_file.read_cache_file, path, source="cache-file")
            except errors.PricingError as err:
                log.warning(
                    "price catalog cache file is unusable", extra={"path": str(path), "error": str(err)}
                )
            else:
                metrics.CATALOG_LOAD_SECONDS.labels("cache-file").observe(time.monotonic() - started)
                self._catalog = catalog
                self._version_id = _version_id_of(catalog.version)
                with contextlib.suppress(OSError):
                    self._confirmed_at = path.stat().st_mtime
                metrics.record_served(catalog.source, self._version_id, catalog.record_count)
                self._report()
                return
        catalog = self._fallback()
        self._catalog = catalog
        self._version_id = None
        self._confirmed_at = time.time()
        metrics.record_served(catalog.source, None, catalog.record_count)
        self._report()

    async def _persist(self, catalog: InMemoryCatalog) -> None:
        path = self._cache_file
        if path is None:
            return
        try:
            await asyncio.to_thread(cache_file.write_cache_file, path, catalog)
        except OSError as err:
            metrics.record_error("cache-write")
            log.warning(
                "cannot write the price catalog cache file", extra={"path": str(path), "error": str(err)}
            )

    def _notify_listeners(self, catalog: InMemoryCatalog) -> None:
        for listener in list(self._listeners):
            try:
                listener(catalog)
            except Exception:  # a listener's bug must not stop price updates
                log.exception("catalog listener failed")

    def _report(self) -> None:
        """Log the state when it changed (what is served, stale or not, and why)."""
        catalog = self._catalog
        if catalog is None:
            return
        state = _State(catalog.source, catalog.version, self._stale, self._problem)
        if state == self._logged:
            return
        previous, self._logged = self._logged, state
        fields = {
            "source": state.source,
            "version": state.version,
            "stale": state.stale,
            "problem": state.problem,
            "error": self._last_error,
        }
        if state.problem is None:
            message = "price catalog is current" if previous is not None else "price catalog ready"
            log.info(message, extra=fields)
        elif state.problem == "no-version":
            log.warning("pricing store has no current version; serving the fallback catalog", extra=fields)
        else:
            log.warning("pricing store unavailable; serving the last good catalog", extra=fields)


def _version_id_of(version: str) -> int | None:
    """``pg-<id>-<digest>`` → id (cache files written by this provider)."""
    parts = version.split("-")
    if len(parts) >= 2 and parts[0] == "pg" and parts[1].isdigit():
        return int(parts[1])
    return None

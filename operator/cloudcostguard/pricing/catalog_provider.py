"""Where long-running processes get their current price catalog.

The operator and the webhook ask a ``CatalogProvider`` for ``current()`` on every estimate: the returned
catalog is immutable, and a refresh swaps in a whole new one, so a reader never sees half a catalog.
``StaticCatalogProvider`` serves one fixed catalog (the bundled snapshot when no database is configured);
the PostgreSQL-backed provider (``pricing.store``) refreshes on LISTEN/NOTIFY and on an interval.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cloudcostguard.pricing.catalog import PriceCatalog


@dataclass(frozen=True, slots=True)
class CatalogStatus:
    source: str  # bundled | postgresql | cache-file
    version: str
    # time.time() when the catalog was last known current: loaded, or confirmed by PostgreSQL as still
    # the current version (for a cache-file catalog, the file's modification time). So age_seconds
    # measures staleness, not uptime.
    loaded_at: float
    stale: bool  # True while the database cannot be reached and an older catalog is served
    last_error: str | None = None

    @property
    def age_seconds(self) -> float:
        return max(0.0, time.time() - self.loaded_at)


VersionListener = Callable[[PriceCatalog], None]


class CatalogProvider(Protocol):
    async def start(self) -> None:
        """Load the first catalog (never raises for an unreachable database: falls back instead)."""

    async def stop(self) -> None:
        """Stop background refresh tasks and close connections."""

    def current(self) -> PriceCatalog:
        """The catalog to price with now."""

    def status(self) -> CatalogStatus: ...

    @property
    def ready(self) -> bool:
        """True once a catalog is loaded (readiness probe)."""

    def add_listener(self, listener: VersionListener) -> None:
        """Call ``listener(new_catalog)`` after every swap to a different version."""


class StaticCatalogProvider:
    """One catalog for the life of the process (bundled snapshot, tests)."""

    def __init__(self, catalog: PriceCatalog) -> None:
        self._catalog = catalog
        self._loaded_at = time.time()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def current(self) -> PriceCatalog:
        return self._catalog

    def status(self) -> CatalogStatus:
        return CatalogStatus(self._catalog.source, self._catalog.version, self._loaded_at, stale=False)

    @property
    def ready(self) -> bool:
        return True

    def add_listener(self, listener: VersionListener) -> None:
        return None  # the version never changes

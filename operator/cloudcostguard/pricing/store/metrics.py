"""Prometheus metrics of the in-process price catalog (prefix ``cloudcostguard_catalog_``).

Defined here, on the default registry, so that ``cloudcostguard.metrics`` (the operator's module)
can re-export or absorb them. Labels are bounded: ``source`` is one of three values, ``result`` of
three, ``reason`` of a handful. The version itself is exported as a number (its id), not a label.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SOURCES = ("postgresql", "cache-file", "bundled")

CATALOG_SOURCE = Gauge(
    "cloudcostguard_catalog_source",
    "1 for the source of the catalog being served (postgresql, cache-file, bundled), 0 for the others.",
    ["source"],
)
CATALOG_VERSION_ID = Gauge(
    "cloudcostguard_catalog_version_id",
    "Id of the PostgreSQL pricing version being served (0 when it did not come from PostgreSQL).",
)
CATALOG_RECORDS = Gauge(
    "cloudcostguard_catalog_records", "Price records (tiers) in the catalog being served."
)
CATALOG_STALE = Gauge(
    "cloudcostguard_catalog_stale",
    "1 while PostgreSQL cannot be reached and an older catalog (memory, cache file, bundled) is served.",
)
CATALOG_LAST_SUCCESS = Gauge(
    "cloudcostguard_catalog_last_success_timestamp_seconds",
    "Unix time when PostgreSQL last confirmed the served catalog is current (age = time() - this).",
)
CATALOG_REFRESHES = Counter(
    "cloudcostguard_catalog_refreshes_total",
    "Catalog refresh checks, by result: unchanged, swapped (a new version loaded), error.",
    ["result"],
)
CATALOG_LOAD_SECONDS = Histogram(
    "cloudcostguard_catalog_load_seconds",
    "Seconds to load a catalog, by source.",
    ["source"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
)
CATALOG_ERRORS = Counter(
    "cloudcostguard_catalog_errors_total",
    "Failures while keeping the catalog current, by reason.",
    ["reason"],
)
ERROR_REASONS = ("unreachable", "not-migrated", "no-version", "load-failed", "cache-write")


def record_served(source: str, version_id: int | None, records: int) -> None:
    for name in SOURCES:
        CATALOG_SOURCE.labels(name).set(1 if name == source else 0)
    CATALOG_VERSION_ID.set(version_id or 0)
    CATALOG_RECORDS.set(records)


def record_error(reason: str) -> None:
    CATALOG_ERRORS.labels(reason if reason in ERROR_REASONS else "load-failed").inc()

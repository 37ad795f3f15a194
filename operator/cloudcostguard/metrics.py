"""Every operator metric, prefix ``cloudcostguard_``, served at ``/metrics`` by ``cloudcostguard run``.

Labels are bounded by construction: plan source kinds (5), reconcile results (7), failure reasons (the
error classes' reasons), object kinds (2), leadership changes (3). No label carries a namespace, object
name or URL. Values that live elsewhere (catalog version and age, objects per phase, total estimated
spend, whether this replica leads) are read at scrape time by ``RuntimeCollector`` rather than copied
into gauges.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from cloudcostguard.version import __version__

PREFIX = "cloudcostguard"

# Reconciles take milliseconds for small plans and seconds for large plans or slow URLs.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

RECONCILES = Counter(
    f"{PREFIX}_reconciles",
    "CostEstimate reconciles by result (estimated, verdict, unchanged, stalled, retrying, failed, waiting, "
    "throttled); "
    "verdict: only the budget verdict was re-judged and written, without re-estimating.",
    ["result"],
)
ESTIMATES = Counter(
    f"{PREFIX}_estimates", "New estimates written to CostEstimate status, by plan source.", ["source"]
)
ESTIMATE_FAILURES = Counter(
    f"{PREFIX}_estimate_failures", "Failed CostEstimate reconciles by condition reason.", ["reason"]
)
ESTIMATED_RESOURCES = Counter(
    f"{PREFIX}_estimated_resources",
    "Resources in the estimates written to CostEstimate status, by coverage (priced, free, unsupported, "
    "priceNotFound; see status.coverage): a rising unsupported or priceNotFound rate is spend no "
    "budget counts.",
    ["coverage"],
)
COVERAGE_CLASSES = ("priced", "free", "unsupported", "priceNotFound")


def record_coverage(coverage: Any) -> None:
    """Count a written estimate's resources by ``status.coverage`` class (the label values are fixed)."""
    if not isinstance(coverage, dict):
        return
    for name in COVERAGE_CLASSES:
        count = coverage.get(name)
        if isinstance(count, int) and count > 0:
            ESTIMATED_RESOURCES.labels(name).inc(count)


RECONCILE_DURATION = Histogram(
    f"{PREFIX}_reconcile_duration_seconds",
    "Time to reconcile one CostEstimate (plan fetch, estimate, status), by plan source.",
    ["source"],
    buckets=DURATION_BUCKETS,
)
STATUS_WRITES = Counter(
    f"{PREFIX}_status_writes", "Status patches sent, by object kind (costestimate, costpolicy).", ["kind"]
)
STATUS_WRITE_FAILURES = Counter(
    f"{PREFIX}_status_write_failures",
    "Status patches the Kubernetes API did not take (409, 5xx, timeout), by object kind; each is sent "
    "again after a backoff (retry_delay doubling up to retry_max_delay).",
    ["kind"],
)
EVENTS_POSTED = Counter(f"{PREFIX}_events_posted", "Kubernetes Events posted, by type.", ["type"])
LEADERSHIP_CHANGES = Counter(
    f"{PREFIX}_leadership_changes",
    "Leader election on the Lease: this replica acquired, lost or released the leadership.",
    ["change"],
)
METRICS_AUTH_DECISIONS = Counter(
    f"{PREFIX}_metrics_auth_decisions",
    "Scrapes of the secure /metrics endpoint, by decision: allowed, unauthenticated (401), forbidden "
    "(403), unavailable (503: the API server could not be asked).",
    ["result"],
)


class RuntimeCollector(Collector):
    """Scrape-time gauges: catalog version/age/readiness, CostEstimates per phase, spend, leadership."""

    def __init__(
        self,
        catalog_status: Callable[[], Any | None],
        catalog_ready: Callable[[], bool],
        phase_counts: Callable[[], dict[str, int]],
        estimated_spend: Callable[[], float],
        is_leader: Callable[[], bool] | None = None,
    ) -> None:
        self._catalog_status = catalog_status
        self._catalog_ready = catalog_ready
        self._phase_counts = phase_counts
        self._estimated_spend = estimated_spend
        self._is_leader = is_leader

    def collect(self) -> Iterator[Metric]:
        yield InfoMetricFamily(f"{PREFIX}_build", "CloudCostGuard version.", value={"version": __version__})
        ready = GaugeMetricFamily(f"{PREFIX}_catalog_ready", "1 once a price catalog is loaded.")
        ready.add_metric([], 1.0 if self._catalog_ready() else 0.0)
        yield ready
        status = self._catalog_status()
        if status is not None:
            yield InfoMetricFamily(
                f"{PREFIX}_catalog",
                "The price catalog in use.",
                value={"source": str(status.source), "version": str(status.version)},
            )
            # Staleness, version id and refreshes of the PostgreSQL-backed catalog: the CATALOG_* metrics
            # below, set by the pricing store's provider when it is in use.
            age = GaugeMetricFamily(
                f"{PREFIX}_catalog_age_seconds",
                "Seconds since the catalog served was last known current: loaded, or confirmed by "
                "PostgreSQL as still the current version (grows while PostgreSQL is unreachable).",
            )
            age.add_metric([], float(status.age_seconds))
            yield age
        phases = GaugeMetricFamily(
            f"{PREFIX}_costestimates", "CostEstimates known, by phase.", labels=["phase"]
        )
        for phase, count in sorted(self._phase_counts().items()):
            phases.add_metric([phase], float(count))
        yield phases
        spend = GaugeMetricFamily(
            f"{PREFIX}_estimated_monthly_cost_usd", "Sum of status.monthlyCost over all CostEstimates."
        )
        spend.add_metric([], self._estimated_spend())
        yield spend
        if self._is_leader is not None:
            leader = GaugeMetricFamily(
                f"{PREFIX}_leader",
                "1 while this replica writes statuses and Events (holds the Lease, or runs standalone).",
            )
            leader.add_metric([], 1.0 if self._is_leader() else 0.0)
            yield leader


def register_runtime(collector: RuntimeCollector, registry: CollectorRegistry = REGISTRY) -> None:
    registry.register(collector)


def unregister_runtime(collector: RuntimeCollector, registry: CollectorRegistry = REGISTRY) -> None:
    with contextlib.suppress(KeyError):  # never registered (startup failed before it)
        registry.unregister(collector)


# --- admission webhook (k8s/admission/) -------------------------------------------------------------

ADMISSION_REQUESTS = Counter(
    "cloudcostguard_admission_requests",
    "Admission reviews answered, by handler, verdict and whether the request was a dry run.",
    ["handler", "verdict", "dry_run"],
)
ADMISSION_DURATION = Histogram(
    "cloudcostguard_admission_duration_seconds",
    "Time to answer one admission review (on the lean path: from the request body to the response).",
    ["handler"],
    # Kubernetes gives a webhook 10 s by default; Gatekeeper recommends a p99 below 100 ms.
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ADMISSION_DRY_RUN_VIOLATIONS = Counter(
    "cloudcostguard_admission_dry_run_violations",
    "Limits a DryRun CostPolicy saw exceeded at admission (admitted, recorded here).",
    ["policy", "limit"],
)
ADMISSION_PLAN_FAILURES = Counter(
    "cloudcostguard_admission_plan_failures",
    "Admissions whose plan could not be read or priced, by reason.",
    ["handler", "reason"],
)
ADMISSION_REJECTED_REVIEWS = Counter(
    "cloudcostguard_admission_rejected_reviews",
    "Requests answered with an HTTP 4xx because they were not a usable AdmissionReview.",
    ["status"],
)
ADMISSION_IN_FLIGHT = Gauge(
    "cloudcostguard_admission_in_flight",
    "Admission reviews in flight now: body being read, or being decided (at most CCG_WEBHOOK_MAX_IN_FLIGHT).",
)
ADMISSION_OVERLOAD_REJECTIONS = Counter(
    "cloudcostguard_admission_overload_rejections",
    "Admission reviews answered HTTP 429 at once because CCG_WEBHOOK_MAX_IN_FLIGHT were in flight "
    "(the webhook's failurePolicy decided them).",
    ["handler"],
)
ADMISSION_READ_TIMEOUTS = Counter(
    "cloudcostguard_admission_read_timeouts",
    "Requests whose body did not arrive within CCG_WEBHOOK_READ_TIMEOUT (answered 408, connection closed).",
)
ADMISSION_INVALID_POLICIES = Counter(
    "cloudcostguard_admission_invalid_policies",
    "CostPolicies skipped at admission because they are malformed (counted per request).",
    ["handler"],
)


# --- pricing store catalog (pricing/store/postgres_provider.py) -------------------------------------

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

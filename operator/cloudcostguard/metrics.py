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

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from cloudcostguard import __version__

PREFIX = "cloudcostguard"

# Reconciles take milliseconds for small plans and seconds for large plans or slow URLs.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

RECONCILES = Counter(
    f"{PREFIX}_reconciles",
    "CostEstimate reconciles by result (estimated, verdict, unchanged, stalled, retrying, failed, waiting); "
    "verdict: only the budget verdict was re-judged and written, without re-estimating.",
    ["result"],
)
ESTIMATES = Counter(
    f"{PREFIX}_estimates", "New estimates written to CostEstimate status, by plan source.", ["source"]
)
ESTIMATE_FAILURES = Counter(
    f"{PREFIX}_estimate_failures", "Failed CostEstimate reconciles by condition reason.", ["reason"]
)
RECONCILE_DURATION = Histogram(
    f"{PREFIX}_reconcile_duration_seconds",
    "Time to reconcile one CostEstimate (plan fetch, estimate, status), by plan source.",
    ["source"],
    buckets=DURATION_BUCKETS,
)
STATUS_WRITES = Counter(
    f"{PREFIX}_status_writes", "Status patches sent, by object kind (costestimate, costpolicy).", ["kind"]
)
EVENTS_POSTED = Counter(f"{PREFIX}_events_posted", "Kubernetes Events posted, by type.", ["type"])
LEADERSHIP_CHANGES = Counter(
    f"{PREFIX}_leadership_changes",
    "Leader election on the Lease: this replica acquired, lost or released the leadership.",
    ["change"],
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
            # Staleness, version id and refreshes of the PostgreSQL-backed catalog are the pricing store's
            # own metrics (cloudcostguard.pricing.store.metrics), exported when it is in use.
            age = GaugeMetricFamily(f"{PREFIX}_catalog_age_seconds", "Seconds since the catalog was loaded.")
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

"""Every metric in one place: the cloudcostguard_ prefix, bounded labels, and the scrape-time collector."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from cloudcostguard import metrics
from cloudcostguard.version import __version__

DEFINED = [value for value in vars(metrics).values() if isinstance(value, Counter | Gauge | Histogram)]

# Label names that would be unbounded (one series per object, namespace or URL) must never appear.
UNBOUNDED = {"namespace", "name", "url", "address", "plan", "uid", "object"}


def test_every_metric_has_the_prefix_and_bounded_labels() -> None:
    assert len(DEFINED) >= 20
    for metric in DEFINED:
        assert metric._name.startswith("cloudcostguard_"), metric._name
        assert not set(metric._labelnames) & UNBOUNDED, (metric._name, metric._labelnames)


def test_the_metrics_are_registered_with_the_default_registry() -> None:
    names = set(REGISTRY._names_to_collectors)
    for metric in DEFINED:
        assert metric._name in names or f"{metric._name}_total" in names, metric._name


def test_an_empty_runtime_collector_reports_the_build_and_no_catalog() -> None:
    registry = CollectorRegistry()
    collector = metrics.RuntimeCollector(
        catalog_status=lambda: None,
        catalog_ready=lambda: False,
        phase_counts=dict,
        estimated_spend=lambda: 0.0,
    )
    metrics.register_runtime(collector, registry)
    assert registry.get_sample_value("cloudcostguard_build_info", {"version": __version__}) == 1.0
    assert registry.get_sample_value("cloudcostguard_catalog_ready") == 0.0
    assert registry.get_sample_value("cloudcostguard_catalog_age_seconds") is None
    assert registry.get_sample_value("cloudcostguard_leader") is None  # no leadership given: not exported
    metrics.unregister_runtime(collector, registry)


def test_served_catalog_metrics_name_one_source_and_unknown_errors_count_as_load_failures() -> None:
    metrics.record_served("cache-file", None, 1234)
    served = {
        name: REGISTRY.get_sample_value("cloudcostguard_catalog_source", {"source": name})
        for name in metrics.SOURCES
    }
    assert served == {"postgresql": 0.0, "cache-file": 1.0, "bundled": 0.0}
    assert REGISTRY.get_sample_value("cloudcostguard_catalog_records") == 1234.0
    assert REGISTRY.get_sample_value("cloudcostguard_catalog_version_id") == 0.0
    labels = {"reason": "load-failed"}
    before = REGISTRY.get_sample_value("cloudcostguard_catalog_errors_total", labels) or 0.0
    metrics.record_error("something-new")  # an unknown reason must not create a new series
    assert REGISTRY.get_sample_value("cloudcostguard_catalog_errors_total", labels) == before + 1
    assert (
        REGISTRY.get_sample_value("cloudcostguard_catalog_errors_total", {"reason": "something-new"}) is None
    )


def test_coverage_counts_resources_by_their_fixed_class() -> None:
    def value(name: str) -> float:
        return (
            REGISTRY.get_sample_value("cloudcostguard_estimated_resources_total", {"coverage": name}) or 0.0
        )

    before = {name: value(name) for name in metrics.COVERAGE_CLASSES}
    metrics.record_coverage(
        {"priced": 3, "free": 1, "unsupported": 2, "priceNotFound": 0, "unpricedAdded": 2, "other": 9}
    )
    metrics.record_coverage(None)
    grown = {name: value(name) - before[name] for name in metrics.COVERAGE_CLASSES}
    assert grown == {"priced": 3.0, "free": 1.0, "unsupported": 2.0, "priceNotFound": 0.0}

"""Admission metrics (prefix ``cloudcostguard_admission_``), kept apart from the operator's ``metrics.py``.

Labels are bounded: ``handler`` is one of the registered handler ids, ``verdict`` one of the ``Verdict``
values (plus ``Rejected`` for malformed reviews), ``dry_run`` is ``true``/``false``; ``policy`` names a
CostPolicy (cluster-scoped objects written by administrators, so few).

They live in prometheus-client's default registry, which is what ``/metrics`` serves unless the operator
builds its own registry (then it registers ``COLLECTORS`` there).
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "cloudcostguard_admission_requests",
    "Admission reviews answered, by handler, verdict and whether the request was a dry run.",
    ["handler", "verdict", "dry_run"],
)
DURATION = Histogram(
    "cloudcostguard_admission_duration_seconds",
    "Time to answer one admission review (on the lean path: from the request body to the response).",
    ["handler"],
    # Kubernetes gives a webhook 10 s by default; Gatekeeper recommends a p99 below 100 ms.
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DRY_RUN_VIOLATIONS = Counter(
    "cloudcostguard_admission_dry_run_violations",
    "Limits a DryRun CostPolicy saw exceeded at admission (admitted, recorded here).",
    ["policy", "limit"],
)
PLAN_FAILURES = Counter(
    "cloudcostguard_admission_plan_failures",
    "Admissions whose plan could not be read or priced, by reason.",
    ["handler", "reason"],
)
REJECTED_REVIEWS = Counter(
    "cloudcostguard_admission_rejected_reviews",
    "Requests answered with an HTTP 4xx because they were not a usable AdmissionReview.",
    ["status"],
)
INVALID_POLICIES = Counter(
    "cloudcostguard_admission_invalid_policies",
    "CostPolicies skipped at admission because they are malformed (counted per request).",
    ["handler"],
)

COLLECTORS = (REQUESTS, DURATION, DRY_RUN_VIOLATIONS, PLAN_FAILURES, REJECTED_REVIEWS, INVALID_POLICIES)

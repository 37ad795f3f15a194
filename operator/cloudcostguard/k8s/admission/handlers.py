"""kopf's validating handlers: ``validate-costestimate`` and ``validate-plan-source`` (fixed ids; the
manifests in ``config/webhook/`` use the paths ``/<handler id>``), thin over ``decision.decide``."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import kopf

# Registers the indexes the decisions read (one set, shared with the operator).
import cloudcostguard.k8s.cluster.kopf_indexes  # noqa: F401
from cloudcostguard import metrics
from cloudcostguard.k8s.admission.decision import (
    HANDLER_COSTESTIMATE,
    HANDLER_PLAN_SOURCE,
    PLAN_LABEL,
    PLURAL,
    AdmissionRequest,
    AdmissionRuntime,
    decide,
)
from cloudcostguard.k8s.admission.memo import AdmissionMemo
from cloudcostguard.k8s.api.models import GROUP, VERSION
from cloudcostguard.k8s.cluster import indexes


def runtime_from_memo(memo: AdmissionMemo) -> AdmissionRuntime:
    runtime = memo.admission
    if runtime is None:
        # configure_admission() was not called: a wiring bug, not the object's fault.
        raise kopf.AdmissionError("the CloudCostGuard admission webhook is not configured", code=500)
    return runtime


async def _kopf_handler(handler: str, kwargs: Mapping[str, Any]) -> None:
    runtime = runtime_from_memo(kwargs["memo"])
    body, old = kwargs["body"], kwargs.get("old")
    metadata = indexes.mapping(body.get("metadata"))
    request = AdmissionRequest(
        handler=handler,
        operation=str(kwargs.get("operation") or ""),
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or metadata.get("generateName") or ""),
        new=body,
        old=old,
        dry_run=bool(kwargs.get("dryrun")),
    )
    started = time.perf_counter()
    decision = await decide(request, runtime)
    metrics.ADMISSION_DURATION.labels(handler).observe(time.perf_counter() - started)
    warnings: list[str] = kwargs["warnings"]
    warnings.extend(decision.warnings)
    if not decision.allowed:
        raise kopf.AdmissionError(decision.message, code=decision.code)


@kopf.on.validate(GROUP, VERSION, PLURAL, id=HANDLER_COSTESTIMATE, operations=["CREATE", "UPDATE"])
async def validate_costestimate(**kwargs: Any) -> None:
    """CostEstimate CREATE/UPDATE: estimate the inline or referenced plan, judge it against CostPolicies."""
    await _kopf_handler(HANDLER_COSTESTIMATE, kwargs)


@kopf.on.validate(
    "", "v1", "configmaps", id=HANDLER_PLAN_SOURCE, operations=["CREATE", "UPDATE"],
    labels={PLAN_LABEL: kopf.PRESENT},
)  # fmt: skip
@kopf.on.validate(
    "", "v1", "secrets", id=HANDLER_PLAN_SOURCE, operations=["CREATE", "UPDATE"],
    labels={PLAN_LABEL: kopf.PRESENT},
)  # fmt: skip
async def validate_plan_source(**kwargs: Any) -> None:
    """A labelled plan ConfigMap/Secret changes: re-judge the CostEstimates that use it with the new plan."""
    await _kopf_handler(HANDLER_PLAN_SOURCE, kwargs)

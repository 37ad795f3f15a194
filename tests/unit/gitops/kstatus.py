"""kstatus ``Compute`` (sigs.k8s.io/cli-utils pkg/kstatus/status), as Flux's health checks apply it.

The rules, in kstatus's order (status.go ``Compute``, generic.go ``checkGenericProperties``):

1. ``metadata.deletionTimestamp`` set → Terminating.
2. ``metadata.generation`` present and ``status.observedGeneration`` present but different →
   InProgress (reason LatestGenerationNotObserved). An absent observedGeneration skips this check.
3. The first condition, in list order, that is ``Reconciling=True`` → InProgress, or ``Stalled=True`` →
   Failed (message from that condition).
4. Built-in kinds have their own rules (``legacyTypes``); CostEstimate and CostPolicy are not among them.
5. A ``Ready`` condition: True → Current; False or Unknown → InProgress.
6. Otherwise → Current ("Resource is current"): kstatus cannot tell an object whose controller has not
   written status yet from one that never will.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CURRENT, IN_PROGRESS, FAILED, TERMINATING = "Current", "InProgress", "Failed", "Terminating"


@dataclass(frozen=True)
class Result:
    status: str
    message: str


def compute(obj: dict[str, Any]) -> Result:
    metadata = obj.get("metadata") or {}
    status = obj.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return Result(TERMINATING, "Resource scheduled for deletion")
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed is not None and observed != generation:
        kind = obj.get("kind", "")
        return Result(
            IN_PROGRESS, f"{kind} generation is {generation}, but latest observed generation is {observed}"
        )
    conditions = status.get("conditions") or []
    for condition in conditions:
        if condition.get("type") == "Reconciling" and condition.get("status") == "True":
            return Result(IN_PROGRESS, condition.get("message", ""))
        if condition.get("type") == "Stalled" and condition.get("status") == "True":
            return Result(FAILED, condition.get("message", ""))
    for condition in conditions:
        if condition.get("type") != "Ready":
            continue
        if condition.get("status") == "True":
            return Result(CURRENT, "Resource is Ready")
        if condition.get("status") in ("False", "Unknown"):
            return Result(IN_PROGRESS, condition.get("message", ""))
    return Result(CURRENT, "Resource is current")

"""Status conditions in the Kubernetes convention (``metav1.Condition``), read by kstatus and Argo CD.

CostEstimate conditions:

- ``Ready``: True once the current generation and plan are estimated; False while retrying or failed.
- ``Estimated``: True when status holds an estimate of the current plan with the current prices.
- ``WithinBudget``: the CostPolicy verdict (Unknown until a policy evaluation is available).
- ``Stalled``: True on a permanent failure (the operator stops retrying until the spec or plan changes);
  kstatus reads Stalled=True as "Failed" and Ready=False without Stalled as "InProgress".
- ``Reconciling``: True only in the Pending status of a new CostEstimate whose first estimate is taking
  a while (``Settings.pending_status_after``), until that estimate (or failure) replaces the
  conditions: without it a new object has no conditions, which kstatus reads as "Current".

CostPolicy conditions: ``Ready`` (False with reason PolicyInvalid for a spec the operator cannot use),
``WithinBudget`` (every matched namespace within ``namespaceMonthlyBudget``), and ``Stalled`` (True with
Ready=False for an invalid spec: kstatus "Failed", so a Flux sync fails at once instead of waiting for
its timeout; it goes when the spec is fixed).

``lastTransitionTime`` changes only when a condition's status changes, as the convention asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

READY = "Ready"
ESTIMATED = "Estimated"
WITHIN_BUDGET = "WithinBudget"
STALLED = "Stalled"
RECONCILING = "Reconciling"

TRUE: Literal["True"] = "True"
FALSE: Literal["False"] = "False"
UNKNOWN: Literal["Unknown"] = "Unknown"
ConditionStatus = Literal["True", "False", "Unknown"]

# Condition messages are one line and bounded: the API server allows 32 KiB, people read one line.
MESSAGE_MAX = 1024


def now_rfc3339() -> str:
    """Kubernetes timestamps: UTC, second precision, ``Z`` suffix."""
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def condition(
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str = "",
    *,
    generation: int | None,
    now: str,
    previous: Iterable[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """One condition; keeps the previous ``lastTransitionTime`` when the status did not change."""
    transition = now
    for old in previous or ():
        if old.get("type") == type_ and old.get("status") == status and old.get("lastTransitionTime"):
            transition = str(old["lastTransitionTime"])
            break
    document: dict[str, Any] = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": one_line(message),
        "lastTransitionTime": transition,
    }
    if generation is not None:
        document["observedGeneration"] = generation
    return document


def one_line(message: str) -> str:
    text = " ".join(message.split())
    return text if len(text) <= MESSAGE_MAX else text[: MESSAGE_MAX - 1] + "…"


def find(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> Mapping[str, Any] | None:
    for item in conditions or ():
        if item.get("type") == type_:
            return item
    return None


def is_true(conditions: Iterable[Mapping[str, Any]] | None, type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.get("status") == TRUE


def without_times(conditions: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Conditions minus their timestamps: to tell whether a new status says anything new."""
    return [
        {key: value for key, value in item.items() if key != "lastTransitionTime"}
        for item in conditions or ()
    ]

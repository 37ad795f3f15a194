"""kopf registrations of the operator: indexes, watchers and the per-object reconcile loops.

Thin by design (STYLE rule 2): each handler turns kopf's kwargs into plain values, calls ``reconcile`` /
``policy_status`` and applies the result to kopf's ``patch``. How the pieces fit:

- Indexes (``indexes``) keep namespaces, CostEstimate spend, plan references, plan ConfigMaps/Secrets,
  tofu-controller plan Secrets and CostPolicies in memory.
- Each CostEstimate has a kopf *timer* that is its reconcile loop: it waits until woken (spec change,
  referenced plan object change, new prices, policy change, retry due, periodic resync), reconciles, and
  returns so that kopf applies the status patch. Only the timer writes status, so reconciles of one
  object never race. The timer also makes kopf put its finalizer (``cloudcostguard.io/finalizer``) on
  the object: deletion waits for the loop to stop.
- ``on.event`` watchers only wake loops: on CostEstimate changes, on plan ConfigMap/Secret changes (via
  the ``plan_references`` index), on CostPolicy and Namespace changes.
- Each CostPolicy has a timer too, refreshing its status when spend changes (debounced) or periodically.

No changing handlers (on.create/update/resume) are used: they would make kopf store the whole spec —
an inline plan of up to megabytes — in a ``last-handled-configuration`` annotation.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import kopf

from cloudcostguard import metrics
from cloudcostguard.k8s import conditions as cond
from cloudcostguard.k8s import indexes, policy_status, reconcile
from cloudcostguard.k8s.models import GROUP, PLAN_SOURCE_LABEL, VERSION

logger = logging.getLogger(__name__)

COSTESTIMATES = (GROUP, VERSION, "costestimates")
COSTPOLICIES = (GROUP, VERSION, "costpolicies")
COST_POLICIES_INDEX = "cost_policies"  # CostPolicy name → {"metadata": {"name"}, "spec"} (raw document)

# kopf calls a timer again this long after it returns; the loop itself waits for wake-ups, so this is
# only a floor between two reconciles of one object (it batches bursts of changes).
LOOP_PAUSE = 0.5
# A burst of CostEstimate changes (e.g. a GitOps sync) refreshes a CostPolicy's status once.
POLICY_DEBOUNCE = 1.0


# --- indexes ------------------------------------------------------------------------------------------


@kopf.index("", "v1", "namespaces", id=indexes.NAMESPACE_LABELS)
def namespace_labels(name: str, labels: Mapping[str, str], **_: Any) -> dict[str, Mapping[str, str]]:
    return indexes.index_namespace_labels(name, labels)


@kopf.index(*COSTESTIMATES, id=indexes.COSTESTIMATE_SPEND)
def costestimate_spend(
    namespace: str | None,
    name: str,
    labels: Mapping[str, str],
    meta: Mapping[str, Any],
    status: Mapping[str, Any],
    **_: Any,
) -> dict[str, indexes.SpendEntry] | None:
    return indexes.index_costestimate_spend(namespace or "", name, labels, meta, status)


@kopf.index(*COSTESTIMATES, id=indexes.PLAN_REFERENCES)
def plan_references(
    namespace: str | None, name: str, spec: Mapping[str, Any], **_: Any
) -> dict[indexes.PlanRef, str] | None:
    return indexes.index_plan_references(namespace or "", name, spec)


@kopf.index("", "v1", "configmaps", id=indexes.PLAN_CONFIGMAPS, labels={PLAN_SOURCE_LABEL: kopf.PRESENT})
def plan_configmaps(
    namespace: str | None, name: str, body: Mapping[str, Any], **_: Any
) -> dict[tuple[str, str], indexes.PlanObject]:
    return indexes.index_plan_object(indexes.CONFIGMAP, namespace or "", name, body)


@kopf.index("", "v1", "secrets", id=indexes.PLAN_SECRETS, labels={PLAN_SOURCE_LABEL: kopf.PRESENT})
def plan_secrets(
    namespace: str | None, name: str, body: Mapping[str, Any], **_: Any
) -> dict[tuple[str, str], indexes.PlanObject]:
    return indexes.index_plan_object(indexes.SECRET, namespace or "", name, body)


def _is_tofu_plan(name: str, labels: Mapping[str, str], **_: Any) -> bool:
    return indexes.is_tofu_json_plan(name, labels)


@kopf.index("", "v1", "secrets", id=indexes.TOFU_PLANS, when=_is_tofu_plan)
def tofu_plans(
    namespace: str | None, name: str, annotations: Mapping[str, str], body: Mapping[str, Any], **_: Any
) -> dict[tuple[str, str], indexes.TofuPlanChunk]:
    return indexes.index_tofu_plan(namespace or "", name, annotations, body)


@kopf.index(*COSTPOLICIES, id=COST_POLICIES_INDEX)
def cost_policies(name: str, spec: Mapping[str, Any], **_: Any) -> dict[str, dict[str, Any]]:
    return {name: {"metadata": {"name": name}, "spec": reconcile._plain(spec)}}


def _view(kwargs: Mapping[str, Any]) -> reconcile.ClusterView:
    return reconcile.ClusterView(
        plan_configmaps=kwargs[indexes.PLAN_CONFIGMAPS],
        plan_secrets=kwargs[indexes.PLAN_SECRETS],
        tofu_plans=kwargs[indexes.TOFU_PLANS],
        namespace_labels=kwargs[indexes.NAMESPACE_LABELS],
        costestimate_spend=kwargs[indexes.COSTESTIMATE_SPEND],
        cost_policies=kwargs[COST_POLICIES_INDEX],
    )


# --- watchers: they only wake reconcile loops ------------------------------------------------------------


@kopf.on.event(*COSTESTIMATES, id="costestimate-changes")
def costestimate_changes(
    *,
    type: str | None,
    namespace: str | None,
    name: str,
    meta: Mapping[str, Any],
    status: Mapping[str, Any],
    memo: Any,
    **_: Any,
) -> None:
    reconciler: reconcile.Reconciler = memo.reconciler
    namespace = namespace or ""
    if type == "DELETED":
        state = reconciler.states.get((namespace, name))
        reconciler.forget(namespace, name)
        if state is not None and state.spend_seen is not None:
            reconciler.spend_changed.bump()
        return
    state = reconciler.state(namespace, name)
    generation = meta.get("generation")
    if meta.get("deletionTimestamp") or generation != state.generation_seen:
        state.wakeup.set()
    spend = status.get("monthlyCost")
    if spend != state.spend_seen:
        state.spend_seen = spend if isinstance(spend, str) else None
        reconciler.spend_changed.bump()


def _wake_referencing(memo: Any, namespace: str | None, kind: str, name: str, references: Any) -> None:
    reconciler: reconcile.Reconciler = memo.reconciler
    for estimate in references.get(indexes.PlanRef(namespace or "", kind, name), ()):
        reconciler.wake(namespace or "", estimate)


@kopf.on.event("", "v1", "configmaps", id="plan-configmap-changes", labels={PLAN_SOURCE_LABEL: kopf.PRESENT})
def plan_configmap_changes(namespace: str | None, name: str, memo: Any, **kwargs: Any) -> None:
    _wake_referencing(memo, namespace, indexes.CONFIGMAP, name, kwargs[indexes.PLAN_REFERENCES])


@kopf.on.event("", "v1", "secrets", id="plan-secret-changes", labels={PLAN_SOURCE_LABEL: kopf.PRESENT})
def plan_secret_changes(namespace: str | None, name: str, memo: Any, **kwargs: Any) -> None:
    _wake_referencing(memo, namespace, indexes.SECRET, name, kwargs[indexes.PLAN_REFERENCES])


@kopf.on.event("", "v1", "secrets", id="tofu-plan-changes", when=_is_tofu_plan)
def tofu_plan_changes(
    namespace: str | None, name: str, annotations: Mapping[str, str], memo: Any, **kwargs: Any
) -> None:
    for chunk_namespace, base in indexes.index_tofu_plan(namespace or "", name, annotations, {}):
        _wake_referencing(memo, chunk_namespace, indexes.TERRAFORM, base, kwargs[indexes.PLAN_REFERENCES])


@kopf.on.event(*COSTPOLICIES, id="costpolicy-changes")
def costpolicy_changes(memo: Any, **_: Any) -> None:
    # Which estimates a policy applies to can change with any edit: let every loop re-check its key.
    memo.reconciler.wake_all()


@kopf.on.event("", "v1", "namespaces", id="namespace-changes")
def namespace_changes(name: str, type: str | None, memo: Any, **_: Any) -> None:
    reconciler: reconcile.Reconciler = memo.reconciler
    if type == "MODIFIED":
        # Namespace labels decide which policies apply to the estimates in it.
        for namespace, estimate in list(reconciler.states):
            if namespace == name:
                reconciler.wake(namespace, estimate)
    # ... and which namespaces a CostPolicy's status covers.
    reconciler.spend_changed.bump()


# --- CostEstimate reconcile loop ----------------------------------------------------------------------


@kopf.timer(*COSTESTIMATES, id="reconcile", interval=LOOP_PAUSE)
async def reconcile_costestimate(
    *,
    namespace: str | None,
    name: str,
    body: Any,
    patch: kopf.Patch,
    memo: Any,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    stopped: kopf.DaemonStopped = kwargs["stopped"]
    reconciler: reconcile.Reconciler = memo.reconciler
    _exit_if_operator_stopped(reconciler)
    context: reconcile.ReconcileContext = memo.reconcile_context
    namespace = namespace or ""
    state = reconciler.state(namespace, name)
    if state.rounds:
        # Not the first round: wait for a reason to look again.
        await _wait(state, stopped, reconciler, state.next_check)
    if stopped or reconciler.stopping or body.get("metadata", {}).get("deletionTimestamp"):
        return
    state.wakeup.clear()
    obj = reconcile.EstimateObject(
        namespace=namespace,
        name=name,
        generation=body.get("metadata", {}).get("generation"),
        labels=dict(body.get("metadata", {}).get("labels") or {}),
        spec=body.get("spec") or {},
        status=body.get("status") or {},
    )
    started = time.perf_counter()
    state.rounds += 1
    try:
        outcome = await reconcile.reconcile_estimate(obj, state, context, _view(kwargs))
    except Exception:
        # A bug, not bad input: keep the loop alive and retry later; the traceback goes to the log only.
        logger.exception(
            "reconciling failed unexpectedly; retrying in %s s", context.settings.retry_max_delay
        )
        state.next_check = context.clock() + context.settings.retry_max_delay
        metrics.RECONCILES.labels("failed").inc()
        return
    metrics.RECONCILE_DURATION.labels(outcome.source).observe(time.perf_counter() - started)
    metrics.RECONCILES.labels(outcome.result).inc()
    if outcome.reason is not None and outcome.result in ("retrying", "failed"):
        metrics.ESTIMATE_FAILURES.labels(outcome.reason).inc()
    if outcome.status is not None:
        patch.status.update(outcome.status)
        metrics.STATUS_WRITES.labels("costestimate").inc()
        if outcome.result == "estimated":
            metrics.ESTIMATES.labels(outcome.source).inc()
    if outcome.event is not None:
        event_type, reason, message = outcome.event
        kopf.event(body, type=event_type, reason=reason, message=message)
        metrics.EVENTS_POSTED.labels(event_type).inc()
        log = logger.warning if event_type == "Warning" else logger.info
        log("%s: %s", reason, message)
    state.next_check = context.clock() + reconcile.next_wakeup(outcome, state, context)


def _exit_if_operator_stopped(reconciler: reconcile.Reconciler) -> None:
    """End a loop that kopf spawned after its shutdown began (an event processed late, after the daemon
    killer ran). Such a timer is never signalled to stop: returning would make kopf call it again and
    again until its 5-second grace for hung tasks runs out; a cancellation ends it at once."""
    if reconciler.stopping:
        raise asyncio.CancelledError


async def _wait(
    state: reconcile.EstimateState,
    stopped: kopf.DaemonStopped,
    reconciler: reconcile.Reconciler,
    until: float,
) -> None:
    """Sleep until woken, stopped or ``until`` (monotonic), whichever comes first."""
    timeout = until - time.monotonic()
    if state.wakeup.is_set() or timeout <= 0 or reconciler.stopping:
        return
    woken = asyncio.ensure_future(state.wakeup.wait())
    halted = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait((woken, halted), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        woken.cancel()
        halted.cancel()


# --- CostPolicy status loop ---------------------------------------------------------------------------


@kopf.timer(*COSTPOLICIES, id="policy-status", interval=POLICY_DEBOUNCE)
async def refresh_costpolicy_status(
    *, name: str, body: Any, patch: kopf.Patch, memo: Any, **kwargs: Any
) -> None:
    stopped: kopf.DaemonStopped = kwargs["stopped"]
    reconciler: reconcile.Reconciler = memo.reconciler
    _exit_if_operator_stopped(reconciler)
    seen: dict[str, int] = memo.policy_versions
    version = seen.get(name)
    if version is not None:
        interval = memo.reconcile_context.settings.policy_status_interval
        changed = asyncio.ensure_future(reconciler.spend_changed.wait_for_change(version, interval))
        halted = asyncio.ensure_future(stopped.wait())
        try:
            await asyncio.wait((changed, halted), return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            halted.cancel()
    if stopped or reconciler.stopping or body.get("metadata", {}).get("deletionTimestamp"):
        return
    seen[name] = reconciler.spend_changed.version
    new = policy_status.policy_status(
        body.get("spec") or {},
        generation=body.get("metadata", {}).get("generation"),
        namespace_labels=kwargs[indexes.NAMESPACE_LABELS],
        costestimate_spend=kwargs[indexes.COSTESTIMATE_SPEND],
        previous=body.get("status") or {},
        now=cond.now_rfc3339(),
    )
    if policy_status.status_changed(body.get("status") or {}, new):
        patch.status.update(new)
        metrics.STATUS_WRITES.labels("costpolicy").inc()


@kopf.on.event(*COSTPOLICIES, id="costpolicy-forget")
def costpolicy_forget(type: str | None, name: str, memo: Any, **_: Any) -> None:
    if type == "DELETED":
        memo.policy_versions.pop(name, None)

"""kopf registrations of the operator: indexes, watchers and the per-object reconcile loops.

Thin by design (STYLE rule 2): each handler turns kopf's kwargs into plain values, calls ``reconcile`` /
``policy_status`` and writes the resulting status (``status_writes``). How the pieces fit:

- Indexes (``cluster.kopf_indexes``, shared with the webhook) keep namespaces, CostEstimate spend, plan
  users, plan ConfigMaps/Secrets, tofu-controller plan Secrets and CostPolicies in memory; handlers read
  them through ``memo.cluster`` (``cluster.state.KopfIndexState``).
- Each CostEstimate has a kopf *timer* that is its reconcile loop: it waits until woken, reconciles and
  writes the status itself (``status_writes``: a write the API refuses is retried with backoff, where a
  patch left to kopf would end the timer for good). Only the timer writes status, so reconciles of one
  object never race. The Pending status of a CostEstimate seen for the first time
  (``reconcile.pending_status``) is written by the same timer in the middle of its first round, when
  that round takes longer than ``pending_status_after`` (``_noting_pending``), before the round's own.
  A wake-up asks either for a full reconcile (spec change, referenced plan object
  change, new prices, retry due, periodic resync, leadership gained) or only for a new budget verdict
  (the namespace's spend, a CostPolicy's spec, namespace or object labels changed), which re-judges the
  last estimate without reading the plan again (``reconcile.refresh_verdict``).
- ``on.event`` watchers only wake loops: on CostEstimate changes, on plan ConfigMap/Secret changes (via
  the ``plan_users`` index), on CostPolicy and Namespace changes.
- Each CostPolicy has a timer too, refreshing its status when spend changes (debounced) or periodically.

Replicas (``leadership``): every replica runs every watch, index and watcher — the admission webhook
on each replica judges from current indexes — but only the replica holding the Lease writes: a loop on
a standby waits for the leadership instead of reconciling, and one on a leader that lost the Lease
while reconciling drops its result. A new leader forgets what it remembered and wakes every loop.

Finalizer. The timers make kopf put ``cloudcostguard.io/finalizer`` on each CostEstimate and CostPolicy
and take it off once the object's timers stopped. Timers run on *every* replica, so every replica's kopf
agrees that the finalizer belongs there: adding it is idempotent (kopf's JSON patch carries a
resourceVersion test, so a second replica's add is refused and re-checked), and on deletion the first
replica whose loop stopped removes it. A leadership-only timer (a ``when=`` filter) would instead make
a standby's kopf see a finalizer no handler needs and remove it while the leader re-adds it, forever.
Releasing on the first stopped loop is safe: a loop holds nothing to clean up, and the leader's late
status patch to an object that is gone is a 404 ``status_writes`` ignores.

No changing handlers (on.create/update/resume) are used: they would make kopf store the whole spec —
an inline plan of up to megabytes — in a ``last-handled-configuration`` annotation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import aiohttp
import kopf

from cloudcostguard import errors, metrics
from cloudcostguard.k8s.api import conditions as cond
from cloudcostguard.k8s.api.models import PLAN_SOURCE_LABEL
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.k8s.cluster import kopf_indexes as registered
from cloudcostguard.k8s.cluster.indexes import plain
from cloudcostguard.k8s.operator import kopf_api, leadership, policy_status, reconcile, status_writes
from cloudcostguard.k8s.operator.loops import EstimateState, Reconciler
from cloudcostguard.k8s.operator.memo import OperatorMemo

logger = logging.getLogger(__name__)

COSTESTIMATES = registered.COSTESTIMATES
COSTPOLICIES = registered.COSTPOLICIES

# kopf calls a timer again this long after it returns; the loop itself waits for wake-ups, so this is
# only a floor between two reconciles of one object (it batches bursts of changes).
LOOP_PAUSE = 0.5
# A burst of CostEstimate changes (e.g. a GitOps sync) refreshes a CostPolicy's status once.
POLICY_DEBOUNCE = 1.0


# --- watchers: they only wake reconcile loops ------------------------------------------------------------
# Coroutines, so that kopf runs them on the event loop (it runs plain functions in worker threads): the
# wake-ups, the loop states and the debouncer's timers are only ever touched from the loop.


@kopf.on.event(*COSTESTIMATES, id="costestimate-changes")
async def costestimate_changes(
    *,
    type: str | None,
    namespace: str | None,
    name: str,
    meta: Mapping[str, Any],
    status: Mapping[str, Any],
    memo: OperatorMemo,
    **_: Any,
) -> None:
    reconciler = memo.reconciler
    namespace = namespace or ""
    if type == "DELETED":
        state = reconciler.states.get((namespace, name))
        reconciler.forget(namespace, name)
        if state is not None and state.spend_seen is not None:
            reconciler.namespace_spend_changed(namespace)
        return
    state = reconciler.state(namespace, name)
    generation = meta.get("generation")
    deleting = bool(meta.get("deletionTimestamp"))
    if deleting or generation != state.generation_seen:
        state.request_reconcile()
    labels = dict(meta.get("labels") or {})
    if labels != state.labels_seen:
        if state.labels_seen is not None:
            state.request_verdict()  # policy selectors read the object's labels
        state.labels_seen = labels
    # An object being deleted no longer counts (the spend index leaves it out too).
    spend = None if deleting else status.get("monthlyCost")
    spend = spend if isinstance(spend, str) else None
    if spend != state.spend_seen:
        state.spend_seen = spend
        reconciler.namespace_spend_changed(namespace)


def _wake_referencing(memo: OperatorMemo, namespace: str | None, kind: str, name: str) -> None:
    for user in memo.cluster.plan_users(indexes.PlanRef(namespace or "", kind, name)):
        memo.reconciler.wake(namespace or "", user.name)


@kopf.on.event("", "v1", "configmaps", id="plan-configmap-changes", labels={PLAN_SOURCE_LABEL: kopf.PRESENT})
async def plan_configmap_changes(namespace: str | None, name: str, memo: OperatorMemo, **_: Any) -> None:
    _wake_referencing(memo, namespace, indexes.CONFIGMAP, name)


@kopf.on.event("", "v1", "secrets", id="plan-secret-changes", labels={PLAN_SOURCE_LABEL: kopf.PRESENT})
async def plan_secret_changes(namespace: str | None, name: str, memo: OperatorMemo, **_: Any) -> None:
    _wake_referencing(memo, namespace, indexes.SECRET, name)


@kopf.on.event("", "v1", "secrets", id="tofu-plan-changes", when=registered.is_tofu_plan)
async def tofu_plan_changes(
    namespace: str | None, name: str, annotations: Mapping[str, str], memo: OperatorMemo, **_: Any
) -> None:
    for chunk_namespace, base in indexes.index_tofu_plan(namespace or "", name, annotations, {}):
        _wake_referencing(memo, chunk_namespace, indexes.TERRAFORM, base)


@kopf.on.event(*COSTPOLICIES, id="costpolicy-changes")
async def costpolicy_changes(
    type: str | None, name: str, spec: Mapping[str, Any], memo: OperatorMemo, **_: Any
) -> None:
    specs = memo.policy_specs
    if type == "DELETED":
        memo.policy_versions.pop(name, None)
        current = None
    else:
        current = reconcile.fingerprint(plain(spec))
    if specs.get(name) == current:
        return  # a status write (the operator's own) or a metadata change: no verdict moves
    if current is None:
        specs.pop(name, None)
    else:
        specs[name] = current
    # Which estimates a policy applies to, and its limits, can change with any spec edit.
    memo.reconciler.wake_verdicts()


@kopf.on.event("", "v1", "namespaces", id="namespace-changes")
async def namespace_changes(name: str, type: str | None, memo: OperatorMemo, **_: Any) -> None:
    # kopf calls watching handlers only after the initial listing of every indexed resource kind is done
    # (kopf/_core/reactor/processing.py waits on `operator_indexed`), and a cluster always has namespaces
    # (default, kube-system): the first call here means the indexes are complete, so readiness may pass.
    memo.process.indexed = True
    reconciler = memo.reconciler
    if type == "MODIFIED":
        # Namespace labels decide which policies apply to the estimates in it.
        reconciler.wake_verdicts(name)
    # ... and which namespaces a CostPolicy's status covers.
    reconciler.spend_changed.bump()


# --- CostEstimate reconcile loop ----------------------------------------------------------------------


@kopf.timer(*COSTESTIMATES, id="reconcile", interval=LOOP_PAUSE)
async def reconcile_costestimate(
    *,
    namespace: str | None,
    name: str,
    body: Any,
    resource: kopf.Resource,
    memo: OperatorMemo,
    logger: kopf.Logger,
    **kwargs: Any,
) -> None:
    stopped: kopf.DaemonStopped = kwargs["stopped"]
    reconciler = memo.reconciler
    _exit_if_operator_stopped(reconciler)
    elected = memo.leadership
    context = memo.reconcile_context
    namespace = namespace or ""
    state = reconciler.state(namespace, name)
    if not elected.is_leader():
        # A standby: indexes and webhook stay current here, but only the leader writes. Wake-ups stay
        # pending; a new leader reconciles every object anyway.
        if not await _wait_for_leadership(elected, stopped, reconciler, context.settings.resync_interval):
            return
    elif state.rounds:
        # Not the first round: wait for a reason to look again.
        await _wait(state, stopped, reconciler, state.next_check)
    if stopped or reconciler.stopping or body.get("metadata", {}).get("deletionTimestamp"):
        return
    if not elected.is_leader():
        return  # lost the Lease while waiting: the next call waits as a standby
    verdict_only = state.take_request(timed_out=context.clock() >= state.next_check)
    obj = reconcile.EstimateObject(
        namespace=namespace,
        name=name,
        generation=body.get("metadata", {}).get("generation"),
        labels=dict(body.get("metadata", {}).get("labels") or {}),
        spec=body.get("spec") or {},
        status=body.get("status") or {},
    )
    started = time.perf_counter()
    pending = None if verdict_only else reconcile.pending_status(obj, state, now=context.now())
    state.rounds += 1
    try:
        if verdict_only:
            work = reconcile.refresh_verdict(obj, state, context, memo.cluster)
        elif pending is None:
            work = reconcile.reconcile_estimate(obj, state, context, memo.cluster)
        else:
            status = pending

            async def write_pending() -> None:
                await _write_status_now(resource, namespace, name, status, memo=memo, logger=logger)

            work = _noting_pending(
                reconcile.reconcile_estimate(obj, state, context, memo.cluster),
                write_pending,
                after=context.settings.pending_status_after,
            )
        outcome = await _unless_stopped(work, stopped)
        if outcome is None:
            return  # stopping: a reconcile waiting for a slot or a slow URL must not hold up shutdown
    except Exception:
        # A bug, not bad input: keep the loop alive and retry later; the traceback goes to the log only.
        logger.exception(
            "reconciling failed unexpectedly; retrying in %s s", context.settings.retry_max_delay
        )
        state.next_check = context.clock() + context.settings.retry_max_delay
        metrics.RECONCILES.labels("failed").inc()
        return
    if not elected.is_leader():
        # The Lease was lost while reconciling: another replica may lead, and write, by now.
        state.forget_progress()
        return
    metrics.RECONCILE_DURATION.labels(outcome.source).observe(time.perf_counter() - started)
    metrics.RECONCILES.labels(outcome.result).inc()
    if outcome.reason is not None and outcome.result in ("retrying", "failed"):
        metrics.ESTIMATE_FAILURES.labels(outcome.reason).inc()
    if outcome.status is not None and outcome.result == "estimated":
        # Counted before the write, as when kopf wrote after the handler: whoever sees the status sees
        # the metric too. A write the API refuses is resent without counting the estimate again.
        metrics.ESTIMATES.labels(outcome.source).inc()
        metrics.record_coverage(outcome.status.get("coverage"))
    # What the API did not take last round goes with this round's patch (merge-patches compose).
    to_write = outcome.status
    if state.unwritten is not None:
        to_write = {**state.unwritten, **(outcome.status or {})}
    write_error = None
    if to_write is not None:
        write_error = await _write_estimate_status(
            memo, resource, namespace=namespace, name=name, status=to_write, state=state
        )
    if outcome.status is not None:
        budget_event = verdict_event(obj.status.get("policy"), outcome.status.get("policy"))
        if budget_event is not None:
            event_type, reason, message = budget_event
            kopf.event(body, type=event_type, reason=reason, message=message)
            metrics.EVENTS_POSTED.labels(event_type).inc()
    if outcome.event is not None:
        event_type, reason, message = outcome.event
        kopf.event(body, type=event_type, reason=reason, message=message)
        metrics.EVENTS_POSTED.labels(event_type).inc()
        log = logger.warning if event_type == "Warning" else logger.info
        log("%s: %s", reason, message)
    delay = reconcile.next_wakeup(outcome, state, context)
    if write_error is not None:
        delay = min(delay, reconcile.backoff_delay(state.write_failures, context.settings))
        logger.warning("%s; retrying in %.1f s", write_error, delay)
    state.next_check = context.clock() + delay


async def _write_estimate_status(
    memo: OperatorMemo,
    resource: kopf.Resource,
    *,
    namespace: str,
    name: str,
    status: dict[str, Any],
    state: EstimateState,
) -> str | None:
    """Write the status (``status_writes``); on failure keep it for the next round and say why."""
    metrics.STATUS_WRITES.labels("costestimate").inc()  # sent; the failures are counted apart
    try:
        await status_writes.write_status(memo.kopf_settings, resource, namespace, name, status)
    except errors.StatusWriteError as err:
        state.unwritten = status
        state.write_failures += 1
        metrics.STATUS_WRITE_FAILURES.labels("costestimate").inc()
        return str(err)
    state.unwritten = None
    state.write_failures = 0
    return None


async def _noting_pending(
    work: Coroutine[Any, Any, reconcile.Outcome],
    write_pending: Callable[[], Awaitable[None]],
    *,
    after: float,
) -> reconcile.Outcome:
    """Run the first reconcile of a new CostEstimate; when it has not finished ``after`` seconds in (a URL
    to fetch, a large plan; at once when 0), write the Pending status while it goes on.

    A fast estimate thus costs no extra status write (and no extra watch event for every replica to
    process); a slow one is InProgress to kstatus instead of Current. The Pending write always lands
    before the round's own status: the timer writes that only once this returns.
    """
    task = asyncio.ensure_future(work)
    try:
        if after > 0:
            await asyncio.wait((task,), timeout=after)
        if not task.done():
            await write_pending()
        return await task
    except BaseException:
        task.cancel()  # the timer was stopped (shutdown, deletion): the reconcile goes with it
        raise


async def _write_status_now(
    resource: kopf.Resource,
    namespace: str,
    name: str,
    status: Mapping[str, Any],
    *,
    memo: OperatorMemo,
    logger: kopf.Logger,
) -> None:
    """Merge-patch ``status`` at once, in the middle of a round: the round's own status is written only
    when the round ends, and the Pending status must be there while the estimate is being made.

    Best effort: when it fails, the round's own status write (the estimate or the failure) follows
    anyway, so it is logged, not retried. kopf's request timeout bounds it (``runtime.configure_kopf``).
    """
    settings = memo.kopf_settings
    if settings is None:  # before startup: cannot happen once kopf runs the timers
        return
    url = resource.get_url(namespace=kopf_api.NamespaceName(namespace), name=name, subresource="status")
    try:
        response = await kopf_api.request(
            "patch",
            url,
            settings=settings,
            payload={"status": status},
            headers={"Content-Type": "application/merge-patch+json"},
            backoffs=(),
            logger=logger,
        )
        async with response:
            pass
    except (kopf_api.APIError, aiohttp.ClientError, TimeoutError) as err:
        logger.warning("could not write the Pending status: %s", err)
        return
    metrics.STATUS_WRITES.labels("costestimate").inc()


# Verdicts worth an Event when an estimate moves into them: DryRun records a would-be denial (the point of
# DryRun), Warn and Deny say the committed change no longer fits its budget.
_VERDICT_EVENTS = {"DryRun": "Normal", "Warn": "Warning", "Deny": "Warning"}


def verdict_event(old_policy: Any, new_policy: Any) -> tuple[str, str, str] | None:
    """(type, reason, message) when the budget verdict changed into DryRun, Warn or Deny; else None."""
    if not isinstance(new_policy, Mapping):
        return None
    verdict = new_policy.get("verdict")
    old_verdict = old_policy.get("verdict") if isinstance(old_policy, Mapping) else None
    if verdict == old_verdict or verdict not in _VERDICT_EVENTS:
        return None
    message = str(new_policy.get("message") or f"CostPolicy {new_policy.get('name')}: {verdict}")
    return (_VERDICT_EVENTS[str(verdict)], f"Budget{verdict}", message[:1024])


def _exit_if_operator_stopped(reconciler: Reconciler) -> None:
    """End a loop that kopf spawned after its shutdown began (an event processed late, after the daemon
    killer ran). Such a timer is never signalled to stop: returning would make kopf call it again and
    again until its 5-second grace for hung tasks runs out; a cancellation ends it at once."""
    if reconciler.stopping:
        raise asyncio.CancelledError


async def _unless_stopped(
    work: Coroutine[Any, Any, reconcile.Outcome], stopped: kopf.DaemonStopped
) -> reconcile.Outcome | None:
    """``work``'s outcome, or None (``work`` cancelled) when the loop is told to stop first."""
    task = asyncio.ensure_future(work)
    halted = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait((task, halted), return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()  # the loop itself is cancelled: the reconcile goes with it
        raise
    finally:
        halted.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return None
    return task.result()


async def _wait_for_leadership(
    elected: leadership.Leadership,
    stopped: kopf.DaemonStopped,
    reconciler: Reconciler,
    within: float,
) -> bool:
    """Sleep until this replica leads (True), or stopped or ``within`` seconds passed (False)."""
    if reconciler.stopping:
        return False
    leading = asyncio.ensure_future(elected.wait_until_leader(within))
    halted = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait((leading, halted), return_when=asyncio.FIRST_COMPLETED)
    finally:
        leading.cancel()
        halted.cancel()
    return elected.is_leader() and not stopped and not reconciler.stopping


async def _wait(
    state: EstimateState,
    stopped: kopf.DaemonStopped,
    reconciler: Reconciler,
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
    *, name: str, body: Any, memo: OperatorMemo, logger: kopf.Logger, **kwargs: Any
) -> None:
    stopped: kopf.DaemonStopped = kwargs["stopped"]
    reconciler = memo.reconciler
    _exit_if_operator_stopped(reconciler)
    elected = memo.leadership
    seen = memo.policy_versions
    interval = memo.reconcile_context.settings.policy_status_interval
    if not elected.is_leader():
        if not await _wait_for_leadership(elected, stopped, reconciler, interval):
            return
        seen.pop(name, None)  # a new leader refreshes at once
    version = seen.get(name)
    if version is not None:
        changed = asyncio.ensure_future(reconciler.spend_changed.wait_for_change(version, interval))
        halted = asyncio.ensure_future(stopped.wait())
        try:
            await asyncio.wait((changed, halted), return_when=asyncio.FIRST_COMPLETED)
        finally:
            changed.cancel()
            halted.cancel()
    if stopped or reconciler.stopping or body.get("metadata", {}).get("deletionTimestamp"):
        return
    if not elected.is_leader():
        return
    seen[name] = reconciler.spend_changed.version
    new = policy_status.policy_status(
        body.get("spec") or {},
        generation=body.get("metadata", {}).get("generation"),
        cluster=memo.cluster,
        previous=body.get("status") or {},
        now=cond.now_rfc3339(),
    )
    if not policy_status.status_changed(body.get("status") or {}, new) or not elected.is_leader():
        return
    failures = memo.policy_write_failures
    metrics.STATUS_WRITES.labels("costpolicy").inc()  # sent; the failures are counted apart
    try:
        await status_writes.write_status(memo.kopf_settings, kwargs["resource"], None, name, new)
    except errors.StatusWriteError as err:
        # Not written: the next round refreshes again, after a backoff (no busy retry against the API).
        seen.pop(name, None)
        failures[name] = failures.get(name, 0) + 1
        delay = reconcile.backoff_delay(failures[name], memo.reconcile_context.settings)
        metrics.STATUS_WRITE_FAILURES.labels("costpolicy").inc()
        logger.warning("%s; retrying in %.1f s", err, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopped.wait(), timeout=delay)
        return
    failures.pop(name, None)

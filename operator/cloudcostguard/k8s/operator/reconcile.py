"""CostEstimate reconciliation: spec → plan bytes → estimate → status (the logic behind the kopf handlers).

No kopf here: the handlers pass plain mappings (the object and the indexes) and apply what comes back
(a status merge-patch, an Event to post, when to look again). That keeps the rules testable without an
API server:

- Idempotent. A reconcile key — (generation, plan digest, pricing version, fingerprint of the policies
  that apply) — names what an estimate was made from. When it is unchanged the reconcile does nothing
  and writes nothing; a status that already says the same (e.g. after a restart) is not rewritten.
- The budget verdict (``status.policy`` and the WithinBudget condition) also depends on the other
  CostEstimates of the namespace (``namespaceMonthlyBudget``) and on the policies. When only those
  changed, ``refresh_verdict`` re-judges the last estimate — kept in memory as a small ``basis``: totals
  and top resources — without reading the plan or estimating again, and writes ``policy`` and the
  conditions only when the verdict changed. Spend changes reach a namespace's estimates through
  ``SpendDebouncer``: one wake-up per burst (a GitOps sync of many estimates), not one per change.
- Failures become conditions with the error's reason. Transient ones (plan object missing, URL down,
  prices unavailable) retry with exponential backoff and Ready=False; permanent ones (plan not JSON,
  too large, forbidden URL, bad spec) set Stalled=True and phase Failed and are not retried until the key
  changes (a new generation, a changed plan object, new prices).
- Events are posted when the monthly cost changes and when a new failure appears (not on every retry).
- Per-namespace limits (``throttling``): reading, fetching and pricing a plan holds one of the
  namespace's reconcile slots (``ReconcileContext.limiter``), and URL fetches their own slots and rate.
  A limit not free within ``throttle_max_wait`` is no failure: the object is looked at again, and says
  Ready=False reason Throttled only if it has no estimate of its current generation (``_throttled``).
- A CostEstimate first seen without status gets a Pending status while its first estimate is made
  (``pending_status``: Ready=False, Reconciling=True; the handler writes it once that takes longer than
  ``Settings.pending_status_after``), so that kstatus reads it as InProgress rather than Current. The
  estimate (or failure) status replaces its conditions.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

import orjson

from cloudcostguard import errors
from cloudcostguard.estimation.model import Estimate, money
from cloudcostguard.k8s.api import conditions as cond
from cloudcostguard.k8s.api.models import (
    COVERAGE_ADDRESSES_MAX,
    TOP_RESOURCES_MAX,
    UNSUPPORTED_TYPES_MAX,
    CostEstimateSpec,
)
from cloudcostguard.k8s.cluster.estimates import estimate_spec, parse_spec
from cloudcostguard.k8s.cluster.indexes import plain
from cloudcostguard.k8s.cluster.plan_sources import PlanResolver, ResolvedPlan
from cloudcostguard.k8s.cluster.state import ClusterState
from cloudcostguard.k8s.cluster.throttling import FairLimiter
from cloudcostguard.k8s.operator.loops import (
    ESTIMATED,
    FAILED,
    PENDING,
    EstimateState,
    Failure,
    ReconcileKey,
)
from cloudcostguard.policy import evaluation
from cloudcostguard.policy.model import CostPolicy, applicable
from cloudcostguard.pricing.catalog import PriceCatalog
from cloudcostguard.pricing.catalog_provider import CatalogProvider
from cloudcostguard.settings import Settings

logger = logging.getLogger(__name__)

# Status fields a new estimate replaces; compared (minus timestamps) to decide whether to write at all.
_ESTIMATE_FIELDS = (
    "observedGeneration",
    "phase",
    "currency",
    "monthlyCost",
    "pastMonthlyCost",
    "diffMonthlyCost",
    "planDigest",
    "pricingVersion",
    "pricingStaleSince",
    "resourceCounts",
    "topResources",
    "unsupportedResourceTypes",
    "coverage",
    "policy",
)


@dataclass(frozen=True, slots=True)
class EstimateObject:
    namespace: str
    name: str
    generation: int | None
    labels: Mapping[str, str]
    spec: Mapping[str, Any]
    status: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    within_budget: bool | None  # None: no policy applies
    reason: str
    message: str
    policy: dict[str, str] | None  # status.policy
    budget_sensitive: bool = False  # a namespaceMonthlyBudget applied: sibling spend moves the verdict


class PolicyJudge(Protocol):
    def applicable(self, obj: EstimateObject, cluster: ClusterState) -> Sequence[CostPolicy]:
        """The policies that apply to ``obj`` now (selected once per round)."""

    def judge(
        self, obj: EstimateObject, estimate: Estimate, policies: Sequence[CostPolicy], cluster: ClusterState
    ) -> PolicyOutcome | None:
        """The verdict for the new estimate under ``policies`` (None: no evaluation available)."""


@dataclass(frozen=True, slots=True)
class ReconcileContext:
    settings: Settings
    catalog_provider: CatalogProvider
    resolver: PlanResolver
    judge: PolicyJudge | None = None
    # Reconcile slots, shared round-robin between namespaces (None: unlimited, as in unit tests).
    limiter: FairLimiter | None = None
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], str] = cond.now_rfc3339


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str  # estimated | verdict | unchanged | stalled | retrying | failed | waiting | throttled
    status: dict[str, Any] | None = None  # merge-patch of .status (None: write nothing)
    event: tuple[str, str, str] | None = None  # (type, reason, message) to post on the object
    retry_in: float | None = None  # seconds until the next attempt (transient failures)
    source: str = "unknown"
    reason: str | None = None  # failure reason, for metrics


def backoff_delay(attempts: int, settings: Settings, *, jitter: float | None = None) -> float:
    """Exponential backoff: retry_delay × 2^(attempts−1), at most retry_max_delay, ±10% jitter so that
    many objects failing together (prices unavailable) do not retry in lockstep."""
    base = min(settings.retry_delay * 2.0 ** max(attempts - 1, 0), settings.retry_max_delay)
    spread = random.uniform(-0.1, 0.1) if jitter is None else jitter  # noqa: S311 - not cryptographic
    return max(0.0, base * (1 + spread))


async def reconcile_estimate(
    obj: EstimateObject, state: EstimateState, ctx: ReconcileContext, cluster: ClusterState
) -> Outcome:
    """One reconcile of one CostEstimate. Never raises for bad input: failures become the outcome."""
    settings = ctx.settings
    state.generation_seen = obj.generation
    try:
        spec = parse_spec(obj.spec)
    except errors.SpecError as err:
        return _failed(obj, state, ctx, ReconcileKey(obj.generation, None, None), err, permanent=True)

    source = spec.plan.kind
    provider = ctx.catalog_provider
    if not provider.ready:
        error = errors.PricingError("the price catalog is not loaded yet")
        return _failed(obj, state, ctx, ReconcileKey(obj.generation, None, None), error, source=source)
    catalog = provider.current()
    limiter = ctx.limiter
    if limiter is None:
        return await _reconcile_plan(obj, state, ctx, cluster, spec=spec, catalog=catalog)
    try:
        async with limiter.slot(
            obj.namespace, max_wait=settings.throttle_max_wait, retry_after=settings.retry_delay
        ):
            return await _reconcile_plan(obj, state, ctx, cluster, spec=spec, catalog=catalog)
    except errors.ThrottledError as err:  # no reconcile slot came free in time
        return _throttled(obj, state, ctx, err, source=source)


async def _reconcile_plan(
    obj: EstimateObject,
    state: EstimateState,
    ctx: ReconcileContext,
    cluster: ClusterState,
    *,
    spec: CostEstimateSpec,
    catalog: PriceCatalog,
) -> Outcome:
    """Read the plan, estimate it, judge it: the part of a reconcile that holds a reconcile slot."""
    settings = ctx.settings
    source = spec.plan.kind
    stale_since = pricing_stale_since(ctx.catalog_provider)
    plan_indexes = cluster.plan_indexes()
    try:
        resolved = await ctx.resolver.resolve(
            obj.namespace,
            spec.plan,
            plan_configmaps=plan_indexes.plan_configmaps,
            plan_secrets=plan_indexes.plan_secrets,
            tofu_plans=plan_indexes.tofu_plans,
        )
    except errors.ThrottledError as err:  # the namespace's URL fetch rate or slots
        return _throttled(obj, state, ctx, err, source=source)
    except errors.CloudCostGuardError as err:
        key = ReconcileKey(obj.generation, None, catalog.version)
        return _failed(obj, state, ctx, key, err, permanent=not err.transient, source=source)

    policies = ctx.judge.applicable(obj, cluster) if ctx.judge is not None else ()
    key = ReconcileKey(
        obj.generation,
        resolved.digest,
        catalog.version,
        policies_fingerprint(policies),
        pricing_stale=stale_since is not None,
    )
    if state.reconciled is not None and state.failure is None and _same_inputs(state.reconciled, key):
        if state.basis is not None and state.written is not None and ctx.judge is not None:
            # The estimate stands; only the verdict may have moved (policies, spend of the namespace).
            return _rejudge(obj, state, ctx, cluster, key, policies=policies)
        if state.reconciled == key:
            return Outcome("unchanged", source=source)
    failure = state.failure
    if failure is not None and failure.key == key:
        if failure.permanent:
            return Outcome("stalled", source=source, reason=failure.reason)
        if ctx.clock() < failure.retry_at:
            return Outcome("waiting", retry_in=failure.retry_at - ctx.clock(), source=source)
    if failure is None and _status_matches(obj, key):
        # Estimated before (this process or a previous one) from exactly these inputs.
        state.reconciled = key
        return Outcome("unchanged", source=source)

    try:
        estimate = await estimate_spec(
            resolved.raw, spec, catalog=catalog, settings=settings, max_plan_bytes=settings.max_plan_bytes
        )
    except errors.CloudCostGuardError as err:
        return _failed(obj, state, ctx, key, err, permanent=not err.transient, source=source)

    outcome = ctx.judge.judge(obj, estimate, policies, cluster) if ctx.judge is not None else None
    status = estimate_status(obj, estimate, resolved, outcome, now=ctx.now(), pricing_stale_since=stale_since)
    state.reconciled = key
    state.failure = None
    state.basis = verdict_basis(estimate)
    state.written = status
    state.source = source
    state.budget_sensitive = outcome is not None and outcome.budget_sensitive
    event = _estimate_event(obj.status, status, estimate)
    if event is not None:
        state.last_event = (event[1], event[2])
    if _same_estimate(obj.status, status):
        return Outcome("unchanged", source=source)
    return Outcome("estimated", status=status, event=event, source=source)


# Why a new CostEstimate is not Ready yet (the Ready and Reconciling reasons of the Pending status).
PENDING_REASON = "Pending"
ESTIMATING_REASON = "Estimating"


def pending_status(obj: EstimateObject, state: EstimateState, *, now: str) -> dict[str, Any] | None:
    """The Pending status to write before the first estimate of a CostEstimate, or None.

    Only for an object with no conditions (nothing written yet, by any replica) on this process's first
    round: on a later round an empty ``obj.status`` may be a body older than this process's own last
    write, and writing Pending over an estimate would hide it. So at most one extra status write per
    new CostEstimate. ``observedGeneration`` is the generation being estimated: kstatus then reads the
    Reconciling condition (InProgress), and Argo CD's health check Ready=False (Progressing).
    """
    if state.rounds or obj.status.get("conditions"):
        return None
    generation = obj.generation
    return {
        "observedGeneration": generation,
        "phase": PENDING,
        "conditions": [
            cond.condition(
                cond.READY,
                cond.FALSE,
                PENDING_REASON,
                "waiting for the first estimate of the plan",
                generation=generation,
                now=now,
            ),
            cond.condition(
                cond.RECONCILING,
                cond.TRUE,
                ESTIMATING_REASON,
                "estimating the plan",
                generation=generation,
                now=now,
            ),
        ],
    }


def _same_inputs(old: ReconcileKey, new: ReconcileKey) -> bool:
    """The same estimate would come out (the policies only decide the verdict)."""
    return (old.generation, old.plan_digest, old.pricing_version, old.pricing_stale) == (
        new.generation,
        new.plan_digest,
        new.pricing_version,
        new.pricing_stale,
    )


def pricing_stale_since(provider: CatalogProvider) -> str | None:
    """When the catalog served was last confirmed current, if PostgreSQL cannot confirm it now."""
    status = provider.status()
    if not status.stale:
        return None
    return datetime.fromtimestamp(status.loaded_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def refresh_verdict(
    obj: EstimateObject, state: EstimateState, ctx: ReconcileContext, cluster: ClusterState
) -> Outcome:
    """Re-judge the last estimate against the policies and the namespace's spend as they are now.

    No plan read, no estimate: only a wake-up for the verdict (spend, policies, labels) comes here. When
    this process has no estimate of the current generation and prices to re-judge, it is a full
    reconcile instead.
    """
    key = state.reconciled
    provider = ctx.catalog_provider
    if (
        key is None
        or state.basis is None
        or state.written is None
        or state.failure is not None
        or ctx.judge is None
        or key.generation != obj.generation
        or not provider.ready
        or provider.current().version != key.pricing_version
        or provider.status().stale != key.pricing_stale
    ):
        return await reconcile_estimate(obj, state, ctx, cluster)
    policies = ctx.judge.applicable(obj, cluster)
    return _rejudge(
        obj, state, ctx, cluster, replace(key, policies=policies_fingerprint(policies)), policies=policies
    )


def _rejudge(
    obj: EstimateObject,
    state: EstimateState,
    ctx: ReconcileContext,
    cluster: ClusterState,
    key: ReconcileKey,
    *,
    policies: Sequence[CostPolicy],
) -> Outcome:
    judge, basis, written = ctx.judge, state.basis, state.written
    if judge is None or basis is None or written is None:
        raise RuntimeError("_rejudge() needs a judge, a basis and a written status")
    outcome = judge.judge(obj, basis, policies, cluster)
    state.reconciled = key
    state.budget_sensitive = outcome is not None and outcome.budget_sensitive
    previous = written.get("conditions")
    budget = budget_condition(outcome, generation=obj.generation, now=ctx.now(), previous=previous)
    conditions = [budget if item.get("type") == cond.WITHIN_BUDGET else item for item in previous or ()]
    if not any(item.get("type") == cond.WITHIN_BUDGET for item in conditions):
        conditions.append(budget)
    policy = outcome.policy if outcome is not None and outcome.policy else None
    if plain(written.get("policy")) == policy and cond.without_times(previous) == cond.without_times(
        conditions
    ):
        return Outcome("unchanged", source=state.source)
    verdict = {"policy": policy, "conditions": conditions}
    state.written = {**written, **verdict}
    return Outcome("verdict", status=verdict, source=state.source)


def verdict_basis(estimate: Estimate) -> Estimate:
    """What a verdict reads of an estimate — totals, currency, the top resources (the cost drivers
    named in messages) and the unpriced resources it adds (``spec.unpriced``) — without the rest: a
    plan's estimate can hold thousands of resources, and this is kept for every CostEstimate."""
    top = {id(resource) for resource in estimate.top_resources(TOP_RESOURCES_MAX)}
    basis = Estimate(
        # In plan order, as messages list the unpriced ones.
        resources=[r for r in estimate.resources if id(r) in top or r.adds_unpriced],
        pricing_source=estimate.pricing_source,
        pricing_version=estimate.pricing_version,
        plan_digest=estimate.plan_digest,
        currency=estimate.currency,
        hours_per_month=estimate.hours_per_month,
        as_of=estimate.as_of,
    )
    basis.total_monthly_cost = estimate.total_monthly_cost
    basis.past_total_monthly_cost = estimate.past_total_monthly_cost
    return basis


def _status_matches(obj: EstimateObject, key: ReconcileKey) -> bool:
    status = obj.status
    return (
        status.get("phase") == ESTIMATED
        and status.get("observedGeneration") == key.generation
        and status.get("planDigest") == key.plan_digest
        and status.get("pricingVersion") == key.pricing_version
        and (status.get("pricingStaleSince") is not None) == key.pricing_stale
        and key.policies is None
        and cond.is_true(status.get("conditions"), cond.READY)
    )


def estimate_status(
    obj: EstimateObject,
    estimate: Estimate,
    resolved: ResolvedPlan,
    outcome: PolicyOutcome | None,
    *,
    now: str,
    pricing_stale_since: str | None = None,
) -> dict[str, Any]:
    """The status after a successful estimate (DESIGN §4 field names)."""
    summary = estimate.summary()
    previous = obj.status.get("conditions")
    generation = obj.generation
    currency = estimate.currency
    monthly, diff = money(estimate.total_monthly_cost), money(estimate.diff_total_monthly_cost)
    message = (
        f"{monthly} {currency}/month ({_signed(estimate.diff_total_monthly_cost)} {currency}) "
        f"from {resolved.origin}, {catalog_label(estimate)} prices"
    )
    if pricing_stale_since is not None:
        message += f" (not confirmed current since {pricing_stale_since}: the pricing store is unreachable)"

    budget = budget_condition(outcome, generation=generation, now=now, previous=previous)
    top = [
        {
            "address": resource.address,
            "type": resource.resource_type,
            "action": resource.action,
            "monthlyCost": money(resource.monthly_cost),
            "diffMonthlyCost": money(resource.diff_monthly_cost),
        }
        for resource in estimate.top_resources(TOP_RESOURCES_MAX)
        if resource.monthly_cost or resource.diff_monthly_cost
    ]
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "phase": ESTIMATED,
        "currency": currency,
        "monthlyCost": monthly,
        "pastMonthlyCost": money(estimate.past_total_monthly_cost),
        "diffMonthlyCost": diff,
        "planDigest": resolved.digest,
        "pricingVersion": estimate.pricing_version,
        "lastEstimatedTime": now,
        "resourceCounts": {
            "total": summary["totalDetectedResources"],
            "priced": summary["totalSupportedResources"],
            "free": summary["totalFreeResources"],
            "unsupported": summary["totalUnsupportedResources"],
        },
        "topResources": top,
        "unsupportedResourceTypes": sorted(summary["unsupportedResourceCounts"])[:UNSUPPORTED_TYPES_MAX],
        "coverage": coverage_status(estimate),
        "policy": outcome.policy if outcome is not None and outcome.policy else None,
        "conditions": [
            cond.condition(
                cond.READY, cond.TRUE, "Estimated", message, generation=generation, now=now, previous=previous
            ),
            cond.condition(
                cond.ESTIMATED,
                cond.TRUE,
                "Estimated",
                message,
                generation=generation,
                now=now,
                previous=previous,
            ),
            budget,
        ],
    }
    if pricing_stale_since is not None or obj.status.get("pricingStaleSince") is not None:
        status["pricingStaleSince"] = pricing_stale_since  # None removes an earlier mark (merge-patch)
    return status


def coverage_status(estimate: Estimate) -> dict[str, Any]:
    """``status.coverage``: the count of every class, the unpriced addresses (bounded)."""
    coverage = estimate.coverage()
    return {
        "priced": len(coverage.priced),
        "free": len(coverage.free),
        "unsupported": len(coverage.unsupported),
        "priceNotFound": len(coverage.price_not_found),
        "unpricedAdded": len(estimate.unpriced_additions()),
        "unsupportedAddresses": coverage.unsupported[:COVERAGE_ADDRESSES_MAX],
        "priceNotFoundAddresses": coverage.price_not_found[:COVERAGE_ADDRESSES_MAX],
    }


def budget_condition(
    outcome: PolicyOutcome | None, *, generation: int | None, now: str, previous: Any
) -> dict[str, Any]:
    """The WithinBudget condition for a verdict (Unknown when no policy applies or none is evaluated)."""
    if outcome is None:
        return cond.condition(
            cond.WITHIN_BUDGET,
            cond.UNKNOWN,
            "NotEvaluated",
            "no policy evaluation in this operator",
            generation=generation,
            now=now,
            previous=previous,
        )
    if outcome.within_budget is None:
        status: cond.ConditionStatus = cond.UNKNOWN
    else:
        status = cond.TRUE if outcome.within_budget else cond.FALSE
    return cond.condition(
        cond.WITHIN_BUDGET,
        status,
        outcome.reason,
        outcome.message,
        generation=generation,
        now=now,
        previous=previous,
    )


def catalog_label(estimate: Estimate) -> str:
    return f"{estimate.pricing_source} {estimate.pricing_version}"


def _signed(amount: Decimal) -> str:
    text = money(amount) or "0.00"
    return text if text.startswith("-") else f"+{text}"


def _same_estimate(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when writing ``new`` would change nothing but timestamps."""
    for name in _ESTIMATE_FIELDS:
        if plain(old.get(name)) != plain(new.get(name)):
            return False
    return cond.without_times(plain(old.get("conditions"))) == cond.without_times(new.get("conditions"))


def _estimate_event(
    old: Mapping[str, Any], new: Mapping[str, Any], estimate: Estimate
) -> tuple[str, str, str] | None:
    if old.get("monthlyCost") == new["monthlyCost"] and old.get("diffMonthlyCost") == new["diffMonthlyCost"]:
        return None
    currency = estimate.currency
    counts = new["resourceCounts"]
    diff = _signed(estimate.diff_total_monthly_cost)
    message = (
        f"Monthly cost {new['monthlyCost']} {currency} ({diff} {currency}); "
        f"{counts['priced']} priced, {counts['free']} free, {counts['unsupported']} unsupported resources; "
        f"{catalog_label(estimate)} prices"
    )
    return ("Normal", "Estimated", message)


def _failed(
    obj: EstimateObject,
    state: EstimateState,
    ctx: ReconcileContext,
    key: ReconcileKey,
    error: errors.CloudCostGuardError,
    *,
    permanent: bool = False,
    source: str = "unknown",
) -> Outcome:
    settings = ctx.settings
    previous = state.failure
    same = previous is not None and previous.key == key and previous.reason == error.reason
    if same and previous is not None and previous.permanent and permanent:
        return Outcome("stalled", source=source, reason=error.reason)
    if same and previous is not None and not permanent and ctx.clock() < previous.retry_at:
        return Outcome(
            "waiting", retry_in=previous.retry_at - ctx.clock(), source=source, reason=error.reason
        )
    attempts = previous.attempts + 1 if same and previous is not None else 1
    delay = None if permanent else backoff_delay(attempts, settings)
    retry_at = float("inf") if delay is None else ctx.clock() + delay
    message = str(error)
    state.failure = Failure(key, error.reason, message, permanent, attempts, retry_at)
    state.reconciled = None
    state.basis = None
    state.written = None
    state.budget_sensitive = False
    status = failure_status(obj, error.reason, message, permanent=permanent, now=ctx.now())
    event: tuple[str, str, str] | None = None
    if state.last_event != (error.reason, message):
        event = ("Warning", error.reason, message)
        state.last_event = (error.reason, message)
    write = not _same_failure(obj.status, status)
    return Outcome(
        "failed" if permanent else "retrying",
        status=status if write else None,
        event=event,
        retry_in=delay,
        source=source,
        reason=error.reason,
    )


def _throttled(
    obj: EstimateObject,
    state: EstimateState,
    ctx: ReconcileContext,
    error: errors.ThrottledError,
    *,
    source: str,
) -> Outcome:
    """A per-namespace limit was not free in time: try again later, failing nothing.

    An object whose estimate of this generation stands (this process made it, or the status says so)
    keeps its status untouched: the refresh is only postponed. Any other gets Ready=False reason
    Throttled (phase Pending, never Stalled), so that ``kubectl get`` says why it has no estimate yet.
    """
    retry_in = error.retry_after * random.uniform(1.0, 1.2)  # noqa: S311 - spreads retries, not secret
    reconciled = state.reconciled
    if (
        state.failure is None and reconciled is not None and reconciled.generation == obj.generation
    ) or _estimated_at_generation(obj):
        return Outcome("throttled", retry_in=retry_in, source=source, reason=error.reason)
    message = str(error)
    status = failure_status(obj, error.reason, message, permanent=False, now=ctx.now())
    event: tuple[str, str, str] | None = None
    if state.last_event != (error.reason, message):
        event = ("Normal", error.reason, message)
        state.last_event = (error.reason, message)
    return Outcome(
        "throttled",
        status=None if _same_failure(obj.status, status) else status,
        event=event,
        retry_in=retry_in,
        source=source,
        reason=error.reason,
    )


def _estimated_at_generation(obj: EstimateObject) -> bool:
    status = obj.status
    return (
        status.get("phase") == ESTIMATED
        and status.get("observedGeneration") == obj.generation
        and cond.is_true(status.get("conditions"), cond.READY)
    )


def failure_status(
    obj: EstimateObject, reason: str, message: str, *, permanent: bool, now: str
) -> dict[str, Any]:
    """Conditions (and phase) for a failure. The last good numbers stay: a merge-patch leaves them."""
    previous = obj.status.get("conditions")
    generation = obj.generation
    retry_note = "" if permanent else " (retrying)"
    items = [
        cond.condition(
            cond.READY,
            cond.FALSE,
            reason,
            message + retry_note,
            generation=generation,
            now=now,
            previous=previous,
        ),
        cond.condition(
            cond.ESTIMATED, cond.FALSE, reason, message, generation=generation, now=now, previous=previous
        ),
    ]
    budget = cond.find(previous, cond.WITHIN_BUDGET)
    if budget is not None:
        items.append(dict(budget))
    if permanent:
        items.append(
            cond.condition(
                cond.STALLED, cond.TRUE, reason, message, generation=generation, now=now, previous=previous
            )
        )
    return {
        "observedGeneration": generation,
        "phase": FAILED if permanent else PENDING,
        "conditions": items,
    }


def _same_failure(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    return (
        old.get("observedGeneration") == new["observedGeneration"]
        and old.get("phase") == new["phase"]
        and cond.without_times(plain(old.get("conditions"))) == cond.without_times(new["conditions"])
    )


def next_wakeup(outcome: Outcome, state: EstimateState, ctx: ReconcileContext) -> float:
    """Seconds until this object should be looked at again without any event."""
    resync = ctx.settings.resync_interval
    if outcome.retry_in is not None:
        return max(0.0, min(outcome.retry_in, resync))
    return resync


def fingerprint(parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


# --- policy evaluation ---------------------------------------------------------------------------------


def policies_fingerprint(policies: Sequence[CostPolicy]) -> str | None:
    """Changes whenever the policies that apply change (None: no policy applies)."""
    return fingerprint([repr(policy) for policy in policies]) if policies else None


class EvaluationJudge:
    """``PolicyJudge`` over ``cloudcostguard.policy.evaluation``: the same verdict the webhook gives,
    recorded in ``status.policy`` and the WithinBudget condition."""

    def applicable(self, obj: EstimateObject, cluster: ClusterState) -> Sequence[CostPolicy]:
        # A malformed policy is not enforced (its selectors cannot say what it covers); its own status
        # says what is wrong with it.
        policies = [policy for policy in cluster.cost_policies() if isinstance(policy, CostPolicy)]
        return applicable(policies, _namespace_labels(cluster, obj.namespace), obj.labels)

    def judge(
        self, obj: EstimateObject, estimate: Estimate, policies: Sequence[CostPolicy], cluster: ClusterState
    ) -> PolicyOutcome | None:
        if not policies:
            return PolicyOutcome(None, "NoPolicy", "no CostPolicy applies", None)
        decision = evaluation.evaluate(
            namespace=obj.namespace,
            candidates=[evaluation.Candidate(name=obj.name, estimate=estimate, policies=policies)],
            committed=cluster.committed_spend(obj.namespace),
            # A status reports where the namespace stands now: over budget is over budget, whichever
            # estimate changed last (admission, instead, refuses only changes that add spend).
            growth_only=False,
        )
        return PolicyOutcome(
            decision.within_budget,
            decision.reason,
            decision.message,
            dict(decision.status_policy()),
            budget_sensitive=any(policy.limits.namespace_monthly_budget is not None for policy in policies),
        )


def _namespace_labels(cluster: ClusterState, namespace: str) -> Mapping[str, str]:
    labels = cluster.namespace_labels(namespace)
    return dict(labels) if labels is not None else {}

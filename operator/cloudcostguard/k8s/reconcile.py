"""CostEstimate reconciliation: spec → plan bytes → estimate → status (the logic behind the kopf handlers).

No kopf here: the handlers pass plain mappings (the object and the indexes) and apply what comes back
(a status merge-patch, an Event to post, when to look again). That keeps the rules testable without an
API server:

- Idempotent. A reconcile key — (generation, plan digest, pricing version, fingerprint of the policies
  that apply) — names what an estimate was made from. When it is unchanged the reconcile does nothing
  and writes nothing; a status that already says the same (e.g. after a restart) is not rewritten.
- Failures become conditions with the error's reason. Transient ones (plan object missing, URL down,
  prices unavailable) retry with exponential backoff and Ready=False; permanent ones (plan not JSON,
  too large, forbidden URL, bad spec) set Stalled=True and phase Failed and are not retried until the key
  changes (a new generation, a changed plan object, new prices).
- Events are posted when the monthly cost changes and when a new failure appears (not on every retry).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

import orjson
import pydantic

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.model import Estimate, money
from cloudcostguard.k8s import conditions as cond
from cloudcostguard.k8s.models import TOP_RESOURCES_MAX, UNSUPPORTED_TYPES_MAX, CostEstimateSpec
from cloudcostguard.k8s.plan_sources import PlanResolver, ResolvedPlan
from cloudcostguard.pricing.provider import CatalogProvider
from cloudcostguard.settings import Settings

logger = logging.getLogger(__name__)

# Plans above this size are estimated in a worker thread so the event loop (and with it the admission
# webhook in the same process) keeps answering; smaller ones cost less than the thread hop.
OFFLOAD_PLAN_BYTES = 512 * 1024

PENDING, ESTIMATED, FAILED = "Pending", "Estimated", "Failed"

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
    "resourceCounts",
    "topResources",
    "unsupportedResourceTypes",
    "policy",
)


@dataclass(frozen=True, slots=True)
class ReconcileKey:
    generation: int | None
    plan_digest: str | None
    pricing_version: str | None
    policies: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    key: ReconcileKey
    reason: str
    message: str
    permanent: bool
    attempts: int
    retry_at: float  # monotonic; +inf for permanent failures


@dataclass(slots=True)
class EstimateState:
    """What the operator remembers about one CostEstimate between reconciles (lost on restart: the
    status is the durable record, and a restart re-derives everything from it)."""

    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    reconciled: ReconcileKey | None = None
    failure: Failure | None = None
    last_event: tuple[str, str] | None = None
    generation_seen: int | None = None
    spend_seen: str | None = None  # status.monthlyCost last seen, to notice spend changes
    rounds: int = 0  # reconciles done by this process
    next_check: float = 0.0  # monotonic time of the next look without any wake-up


class Notifier:
    """A version counter that wakes every waiter when bumped (spend or policy changes)."""

    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait_for_change(self, seen: int, within: float) -> bool:
        """True when the version moved past ``seen`` within ``within`` seconds."""
        if self.version != seen:
            return True
        try:
            async with asyncio.timeout(within):
                await self._event.wait()
        except TimeoutError:
            return False
        return True


class Reconciler:
    """Per-process registry of CostEstimate states and wake-ups (lives in kopf's memo)."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], EstimateState] = {}
        self.spend_changed = Notifier()
        self.stopping = False

    def state(self, namespace: str, name: str) -> EstimateState:
        key = (namespace, name)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = EstimateState()
        return state

    def forget(self, namespace: str, name: str) -> None:
        self.states.pop((namespace, name), None)

    def wake(self, namespace: str, name: str) -> None:
        state = self.states.get((namespace, name))
        if state is not None:
            state.wakeup.set()

    def wake_all(self) -> None:
        for state in self.states.values():
            state.wakeup.set()

    def stop(self) -> None:
        self.stopping = True
        self.wake_all()

    def phase_counts(self) -> dict[str, int]:
        counts = {PENDING: 0, ESTIMATED: 0, FAILED: 0}
        for state in self.states.values():
            if state.failure is not None:
                counts[FAILED if state.failure.permanent else PENDING] += 1
            elif state.reconciled is not None:
                counts[ESTIMATED] += 1
            else:
                counts[PENDING] += 1
        return counts


@dataclass(frozen=True, slots=True)
class EstimateObject:
    namespace: str
    name: str
    generation: int | None
    labels: Mapping[str, str]
    spec: Mapping[str, Any]
    status: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ClusterView:
    """The kopf indexes a reconcile reads (see ``indexes`` for their shapes)."""

    plan_configmaps: Mapping[Any, Any]
    plan_secrets: Mapping[Any, Any]
    tofu_plans: Mapping[Any, Any]
    namespace_labels: Mapping[Any, Any]
    costestimate_spend: Mapping[Any, Any]
    cost_policies: Mapping[Any, Any]


@dataclass(frozen=True, slots=True)
class PolicyOutcome:
    within_budget: bool | None  # None: no policy applies
    reason: str
    message: str
    policy: dict[str, str] | None  # status.policy


class PolicyJudge(Protocol):
    def fingerprint(self, obj: EstimateObject, view: ClusterView) -> str | None:
        """Changes whenever the policies that apply to ``obj`` change (None: no policy applies)."""

    def judge(self, obj: EstimateObject, estimate: Estimate, view: ClusterView) -> PolicyOutcome | None:
        """The verdict for the new estimate (None: no evaluation available)."""


@dataclass(frozen=True, slots=True)
class ReconcileContext:
    settings: Settings
    catalog_provider: CatalogProvider
    resolver: PlanResolver
    judge: PolicyJudge | None = None
    clock: Callable[[], float] = time.monotonic
    now: Callable[[], str] = cond.now_rfc3339


@dataclass(frozen=True, slots=True)
class Outcome:
    result: str  # estimated | unchanged | stalled | retrying | failed | waiting
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
    obj: EstimateObject, state: EstimateState, ctx: ReconcileContext, view: ClusterView
) -> Outcome:
    """One reconcile of one CostEstimate. Never raises for bad input: failures become the outcome."""
    settings = ctx.settings
    state.generation_seen = obj.generation
    try:
        spec = CostEstimateSpec.model_validate(obj.spec)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "spec"
        error = errors.CloudCostGuardError(f"spec.{where}: {first['msg']}", reason="SpecInvalid")
        return _failed(obj, state, ctx, ReconcileKey(obj.generation, None, None), error, permanent=True)

    source = spec.plan.kind
    provider = ctx.catalog_provider
    if not provider.ready:
        error = errors.PricingError("the price catalog is not loaded yet")
        return _failed(obj, state, ctx, ReconcileKey(obj.generation, None, None), error, source=source)
    catalog = provider.current()

    try:
        resolved = await ctx.resolver.resolve(
            obj.namespace,
            spec.plan,
            plan_configmaps=view.plan_configmaps,
            plan_secrets=view.plan_secrets,
            tofu_plans=view.tofu_plans,
        )
    except errors.CloudCostGuardError as err:
        key = ReconcileKey(obj.generation, None, catalog.version)
        return _failed(obj, state, ctx, key, err, permanent=not err.transient, source=source)

    policies = ctx.judge.fingerprint(obj, view) if ctx.judge is not None else None
    key = ReconcileKey(obj.generation, resolved.digest, catalog.version, policies)
    if state.reconciled == key and state.failure is None:
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
        estimate = await _estimate(resolved, spec, settings, catalog)
    except errors.CloudCostGuardError as err:
        return _failed(obj, state, ctx, key, err, permanent=not err.transient, source=source)

    outcome = ctx.judge.judge(obj, estimate, view) if ctx.judge is not None else None
    status = estimate_status(obj, estimate, resolved, outcome, now=ctx.now())
    state.reconciled = key
    state.failure = None
    event = _estimate_event(obj.status, status, estimate)
    if event is not None:
        state.last_event = (event[1], event[2])
    if _same_estimate(obj.status, status):
        return Outcome("unchanged", source=source)
    return Outcome("estimated", status=status, event=event, source=source)


async def _estimate(
    resolved: ResolvedPlan, spec: CostEstimateSpec, settings: Settings, catalog: Any
) -> Estimate:
    def run() -> Estimate:
        return cloudcostguard.estimate(
            resolved.raw,
            usage=spec.usage,
            catalog=catalog,
            default_region=spec.default_region or settings.default_region,
            max_plan_bytes=settings.max_plan_bytes,
            hours_per_month=settings.hours_per_month,
        )

    try:
        if len(resolved.raw) > OFFLOAD_PLAN_BYTES:
            return await asyncio.to_thread(run)
        return run()
    except errors.CloudCostGuardError:
        raise
    except (ArithmeticError, ValueError, TypeError, KeyError) as err:
        # A bug or an input shape nobody anticipated: report it on the object rather than crash the loop.
        logger.exception("estimating %s failed unexpectedly", resolved.origin)
        raise errors.PlanError(f"the plan could not be estimated: {err!r}") from err


def _status_matches(obj: EstimateObject, key: ReconcileKey) -> bool:
    status = obj.status
    return (
        status.get("phase") == ESTIMATED
        and status.get("observedGeneration") == key.generation
        and status.get("planDigest") == key.plan_digest
        and status.get("pricingVersion") == key.pricing_version
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
    if outcome is None:
        budget = cond.condition(
            cond.WITHIN_BUDGET,
            cond.UNKNOWN,
            "NotEvaluated",
            "no policy evaluation in this operator",
            generation=generation,
            now=now,
            previous=previous,
        )
    elif outcome.within_budget is None:
        budget = cond.condition(
            cond.WITHIN_BUDGET,
            cond.UNKNOWN,
            outcome.reason,
            outcome.message,
            generation=generation,
            now=now,
            previous=previous,
        )
    else:
        budget = cond.condition(
            cond.WITHIN_BUDGET,
            cond.TRUE if outcome.within_budget else cond.FALSE,
            outcome.reason,
            outcome.message,
            generation=generation,
            now=now,
            previous=previous,
        )
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
    return {
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


def catalog_label(estimate: Estimate) -> str:
    return f"{estimate.pricing_source} {estimate.pricing_version}"


def _signed(amount: Decimal) -> str:
    text = money(amount) or "0.00"
    return text if text.startswith("-") else f"+{text}"


def _same_estimate(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when writing ``new`` would change nothing but timestamps."""
    for name in _ESTIMATE_FIELDS:
        if _plain(old.get(name)) != _plain(new.get(name)):
            return False
    return cond.without_times(_plain(old.get("conditions"))) == cond.without_times(new.get("conditions"))


def _plain(value: Any) -> Any:
    """kopf's body views → plain JSON values, for comparisons."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


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
        and cond.without_times(_plain(old.get("conditions"))) == cond.without_times(new["conditions"])
    )


def next_wakeup(outcome: Outcome, state: EstimateState, ctx: ReconcileContext) -> float:
    """Seconds until this object should be looked at again without any event."""
    resync = ctx.settings.resync_interval
    if outcome.retry_in is not None:
        return max(0.0, min(outcome.retry_in, resync))
    return resync


def fingerprint(parts: Any) -> str:
    return hashlib.sha256(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


# --- policy evaluation seam ---------------------------------------------------------------------------


class EvaluationJudge:
    """Adapter to ``cloudcostguard.policy.evaluation`` (the admission issue's pure evaluator): the same
    verdict the webhook gives, recorded in ``status.policy`` and the WithinBudget condition."""

    def __init__(self, evaluation: Any) -> None:
        self._evaluation = evaluation

    def _policies(self, obj: EstimateObject, view: ClusterView) -> list[Any]:
        documents = [document for store in view.cost_policies.values() for document in store]
        policies, _problems = self._evaluation.parse_policies(documents)
        labels = _namespace_labels(view, obj.namespace)
        return [policy for policy in policies if policy.selects(labels, obj.labels)]

    def fingerprint(self, obj: EstimateObject, view: ClusterView) -> str | None:
        if not view.cost_policies:
            return None
        labels = _namespace_labels(view, obj.namespace)
        documents = sorted(
            (document for store in view.cost_policies.values() for document in store),
            key=lambda document: document["metadata"]["name"],
        )
        policies, _problems = self._evaluation.parse_policies(documents)
        selected = [policy.name for policy in policies if policy.selects(labels, obj.labels)]
        if not selected:
            return None
        chosen = [document for document in documents if document["metadata"]["name"] in selected]
        return fingerprint(chosen)

    def judge(self, obj: EstimateObject, estimate: Estimate, view: ClusterView) -> PolicyOutcome | None:
        policies = self._policies(obj, view)
        if not policies:
            return PolicyOutcome(None, "NoPolicy", "no CostPolicy applies", None)
        committed = {
            entry.name: entry.monthly_cost for entry in view.costestimate_spend.get(obj.namespace, ())
        }
        decision = self._evaluation.evaluate(
            policies,
            namespace=obj.namespace,
            namespace_labels=_namespace_labels(view, obj.namespace),
            candidates=[
                self._evaluation.Candidate(name=obj.name, labels=dict(obj.labels), estimate=estimate)
            ],
            committed=committed,
        )
        return PolicyOutcome(
            decision.within_budget, decision.reason, decision.message, dict(decision.status_policy())
        )


def _namespace_labels(view: ClusterView, namespace: str) -> Mapping[str, str]:
    for labels in view.namespace_labels.get(namespace, ()):
        return dict(labels)
    return {}


def default_judge() -> PolicyJudge | None:
    """The evaluation adapter when the policy evaluator is part of this build, else None."""
    try:
        from cloudcostguard.policy import evaluation  # noqa: PLC0415 - optional subsystem
    except ImportError:
        return None
    if not all(hasattr(evaluation, name) for name in ("evaluate", "parse_policies", "Candidate")):
        return None
    return EvaluationJudge(evaluation)

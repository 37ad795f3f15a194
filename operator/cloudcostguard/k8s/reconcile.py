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
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
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
from cloudcostguard.pricing.catalog_provider import CatalogProvider
from cloudcostguard.settings import Settings

logger = logging.getLogger(__name__)

# Plans above this size are estimated in a worker thread so the event loop (and with it the admission
# webhook in the same process) keeps answering; smaller ones cost less than the thread hop.
OFFLOAD_PLAN_BYTES = 512 * 1024

PENDING, ESTIMATED, FAILED = "Pending", "Estimated", "Failed"

# A burst of spend changes in a namespace (a GitOps sync creating many estimates) re-judges the budget
# verdicts there once: this long after the last change, and at most this long after the first.
VERDICT_QUIET = 1.0
VERDICT_MAX_DELAY = 5.0

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
    reconcile_due: bool = False  # a full reconcile was asked for (spec, plan object, prices, leadership)
    verdict_due: bool = False  # only the budget verdict needs a new look (spend, policies, labels)
    reconciled: ReconcileKey | None = None
    failure: Failure | None = None
    basis: Estimate | None = None  # the last estimate, slimmed to what a verdict reads (verdict_basis)
    written: dict[str, Any] | None = None  # the estimate status last written (or found current)
    source: str = "unknown"  # plan source kind of the last estimate
    budget_sensitive: bool = False  # a policy with a namespaceMonthlyBudget applied at the last verdict
    last_event: tuple[str, str] | None = None
    generation_seen: int | None = None
    labels_seen: dict[str, str] | None = None  # metadata.labels last seen: policy selectors read them
    spend_seen: str | None = None  # status.monthlyCost last seen, to notice spend changes
    rounds: int = 0  # reconciles done by this process
    next_check: float = 0.0  # monotonic time of the next look without any wake-up

    def request_reconcile(self) -> None:
        self.reconcile_due = True
        self.wakeup.set()

    def request_verdict(self) -> None:
        self.verdict_due = True
        self.wakeup.set()

    def take_request(self, *, timed_out: bool) -> bool:
        """Clear the wake-up; True when only the verdict was asked for (no resync or retry due, and an
        earlier round of this process left something to re-judge)."""
        verdict_only = self.verdict_due and not self.reconcile_due and not timed_out and self.rounds > 0
        self.reconcile_due = self.verdict_due = False
        self.wakeup.clear()
        return verdict_only

    def forget_progress(self) -> None:
        """Forget what this process estimated and wrote: another replica may have written since."""
        self.reconciled = None
        self.failure = None
        self.basis = None
        self.written = None
        self.budget_sensitive = False


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


class Cancellable(Protocol):
    def cancel(self) -> None: ...


class SpendDebouncer:
    """Coalesces spend changes per namespace into one ``fire(namespace)``: ``quiet`` seconds after the
    last change, and at most ``max_delay`` seconds after the first change not yet fired (so that a steady
    trickle of changes still gets its verdicts refreshed). ``clock``/``call_later`` are injectable."""

    def __init__(
        self,
        fire: Callable[[str], None],
        *,
        quiet: float = VERDICT_QUIET,
        max_delay: float = VERDICT_MAX_DELAY,
        clock: Callable[[], float] = time.monotonic,
        call_later: Callable[[float, Callable[[], None]], Cancellable] | None = None,
    ) -> None:
        self._fire = fire
        self._quiet = quiet
        self._max_delay = max_delay
        self._clock = clock
        self._call_later = call_later
        self._pending: dict[str, tuple[float, Cancellable]] = {}  # namespace → (first change, timer)

    def changed(self, namespace: str) -> None:
        now = self._clock()
        first = now
        pending = self._pending.get(namespace)
        if pending is not None:
            first = pending[0]
            pending[1].cancel()
        delay = max(0.0, min(now + self._quiet, first + self._max_delay) - now)
        self._pending[namespace] = (first, self._schedule(delay, lambda: self._due(namespace)))

    def cancel(self) -> None:
        for _first, timer in self._pending.values():
            timer.cancel()
        self._pending.clear()

    def _due(self, namespace: str) -> None:
        self._pending.pop(namespace, None)
        self._fire(namespace)

    def _schedule(self, delay: float, callback: Callable[[], None]) -> Cancellable:
        if self._call_later is not None:
            return self._call_later(delay, callback)
        return asyncio.get_running_loop().call_later(delay, callback)


class Reconciler:
    """Per-process registry of CostEstimate states and wake-ups (lives in kopf's memo)."""

    def __init__(self) -> None:
        self.states: dict[tuple[str, str], EstimateState] = {}
        self.spend_changed = Notifier()
        self.stopping = False
        self._names: dict[str, set[str]] = {}  # namespace → names of its CostEstimates
        self.spend_debouncer = SpendDebouncer(self.wake_budget_verdicts)

    def state(self, namespace: str, name: str) -> EstimateState:
        key = (namespace, name)
        state = self.states.get(key)
        if state is None:
            state = self.states[key] = EstimateState()
            self._names.setdefault(namespace, set()).add(name)
        return state

    def forget(self, namespace: str, name: str) -> None:
        if self.states.pop((namespace, name), None) is not None:
            names = self._names.get(namespace)
            if names is not None:
                names.discard(name)
                if not names:
                    del self._names[namespace]

    def names_in(self, namespace: str) -> list[str]:
        return sorted(self._names.get(namespace, ()))

    def wake(self, namespace: str, name: str) -> None:
        state = self.states.get((namespace, name))
        if state is not None:
            state.request_reconcile()

    def wake_all(self) -> None:
        for state in self.states.values():
            state.request_reconcile()

    def wake_verdicts(self, namespace: str | None = None) -> None:
        """Re-judge the verdicts (of one namespace, or all): policies or namespace labels changed."""
        if namespace is None:
            for state in self.states.values():
                state.request_verdict()
            return
        for name in self._names.get(namespace, ()):
            self.states[namespace, name].request_verdict()

    def wake_budget_verdicts(self, namespace: str) -> None:
        """Re-judge the verdicts that a namespace budget made depend on the namespace's spend."""
        for name in self._names.get(namespace, ()):
            state = self.states[namespace, name]
            if state.budget_sensitive:
                state.request_verdict()

    def namespace_spend_changed(self, namespace: str) -> None:
        self.spend_changed.bump()
        self.spend_debouncer.changed(namespace)

    def resume_as_leader(self) -> None:
        """This replica starts writing: what it remembers may be stale (another replica wrote meanwhile),
        so every loop reconciles afresh — without a status write where the status is current."""
        for state in self.states.values():
            state.forget_progress()
            state.request_reconcile()
        self.spend_changed.bump()

    def stop(self) -> None:
        self.stopping = True
        self.spend_debouncer.cancel()
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
    budget_sensitive: bool = False  # a namespaceMonthlyBudget applied: sibling spend moves the verdict


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
    result: str  # estimated | verdict | unchanged | stalled | retrying | failed | waiting
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
    if state.reconciled is not None and state.failure is None and _same_inputs(state.reconciled, key):
        if state.basis is not None and state.written is not None and ctx.judge is not None:
            # The estimate stands; only the verdict may have moved (policies, spend of the namespace).
            return _rejudge(obj, state, ctx, view, key)
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
        estimate = await _estimate(resolved, spec, settings, catalog)
    except errors.CloudCostGuardError as err:
        return _failed(obj, state, ctx, key, err, permanent=not err.transient, source=source)

    outcome = ctx.judge.judge(obj, estimate, view) if ctx.judge is not None else None
    status = estimate_status(obj, estimate, resolved, outcome, now=ctx.now())
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


def _same_inputs(old: ReconcileKey, new: ReconcileKey) -> bool:
    """The same estimate would come out (the policies only decide the verdict)."""
    return (old.generation, old.plan_digest, old.pricing_version) == (
        new.generation,
        new.plan_digest,
        new.pricing_version,
    )


async def refresh_verdict(
    obj: EstimateObject, state: EstimateState, ctx: ReconcileContext, view: ClusterView
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
    ):
        return await reconcile_estimate(obj, state, ctx, view)
    return _rejudge(obj, state, ctx, view, replace(key, policies=ctx.judge.fingerprint(obj, view)))


def _rejudge(
    obj: EstimateObject, state: EstimateState, ctx: ReconcileContext, view: ClusterView, key: ReconcileKey
) -> Outcome:
    judge, basis, written = ctx.judge, state.basis, state.written
    if judge is None or basis is None or written is None:
        raise RuntimeError("_rejudge() needs a judge, a basis and a written status")
    outcome = judge.judge(obj, basis, view)
    state.reconciled = key
    state.budget_sensitive = outcome is not None and outcome.budget_sensitive
    previous = written.get("conditions")
    budget = budget_condition(outcome, generation=obj.generation, now=ctx.now(), previous=previous)
    conditions = [budget if item.get("type") == cond.WITHIN_BUDGET else item for item in previous or ()]
    if not any(item.get("type") == cond.WITHIN_BUDGET for item in conditions):
        conditions.append(budget)
    policy = outcome.policy if outcome is not None and outcome.policy else None
    if _plain(written.get("policy")) == policy and cond.without_times(previous) == cond.without_times(
        conditions
    ):
        return Outcome("unchanged", source=state.source)
    verdict = {"policy": policy, "conditions": conditions}
    state.written = {**written, **verdict}
    return Outcome("verdict", status=verdict, source=state.source)


def verdict_basis(estimate: Estimate) -> Estimate:
    """What a verdict reads of an estimate — totals, currency and the top resources (the cost drivers
    named in messages) — without the rest: a plan's estimate can hold thousands of resources, and this
    is kept for every CostEstimate."""
    basis = Estimate(
        resources=estimate.top_resources(TOP_RESOURCES_MAX),
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

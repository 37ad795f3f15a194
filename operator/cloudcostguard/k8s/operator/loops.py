"""The operator's per-CostEstimate memory and wake-ups: what each reconcile loop remembers between
rounds, and what wakes it (spec or plan object changes, new prices, spend and policy changes).

No kopf and no estimating here: ``handlers`` runs one loop per CostEstimate and waits on these wake-ups;
``reconcile`` decides what a round does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cloudcostguard.estimation.model import Estimate

PENDING, ESTIMATED, FAILED = "Pending", "Estimated", "Failed"

# A burst of spend changes in a namespace (a GitOps sync creating many estimates) re-judges the budget
# verdicts there once: this long after the last change, and at most this long after the first.
VERDICT_QUIET = 1.0
VERDICT_MAX_DELAY = 5.0


@dataclass(frozen=True, slots=True)
class ReconcileKey:
    generation: int | None
    plan_digest: str | None
    pricing_version: str | None
    policies: str | None = None
    # The catalog was served while PostgreSQL could not confirm it current: a flip either way is a new
    # estimate at the next look, so that status.pricingStaleSince says how the numbers were made.
    pricing_stale: bool = False


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
    unwritten: dict[str, Any] | None = None  # a status patch the API did not take: sent again next round
    write_failures: int = 0  # status writes failed in a row (the backoff's exponent)

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
        self.unwritten = None
        self.write_failures = 0


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

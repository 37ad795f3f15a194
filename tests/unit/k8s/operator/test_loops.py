"""The reconcile loops' memory and wake-ups: spend bursts coalesced per namespace, wake-ups that ask for a
verdict only, and what a new leader forgets."""

from __future__ import annotations

from collections.abc import Callable

from cloudcostguard.k8s.operator.loops import EstimateState, ReconcileKey, Reconciler, SpendDebouncer

NS = "team-a"


# --- wake-ups -----------------------------------------------------------------------------------------


class Timer:
    def __init__(self, due: float, callback: Callable[[], None]) -> None:
        self.due, self.callback, self.cancelled = due, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class Scheduler:
    """A fake event loop clock: ``advance`` runs the timers that fall due."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[Timer] = []

    def clock(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def advance(self, to: float) -> None:
        for timer in sorted(self.timers, key=lambda timer: timer.due):
            if not timer.cancelled and timer.due <= to:
                self.now = timer.due
                timer.cancelled = True
                timer.callback()
        self.now = to


def test_spend_changes_fire_once_a_namespace_is_quiet_or_at_the_latest_after_the_max_delay() -> None:
    scheduler, fired = Scheduler(), []
    debouncer = SpendDebouncer(
        fired.append, quiet=1.0, max_delay=5.0, clock=scheduler.clock, call_later=scheduler.call_later
    )
    for at in (0.0, 0.5, 0.9):  # a burst
        scheduler.advance(at)
        debouncer.changed("team-a")
    scheduler.advance(1.89)
    assert fired == []
    scheduler.advance(1.9)
    assert fired == ["team-a"]  # 1 s after the last change
    # A steady trickle (every 0.5 s for 12 s) still refreshes every 5 s.
    fired.clear()
    times = []
    for step in range(25):
        scheduler.advance(10.0 + step * 0.5)
        debouncer.changed("team-b")
        if fired:
            times.append(scheduler.now)
            fired.clear()
    assert times == [15.0, 20.0]  # 5 s after the first change not yet refreshed, each time
    debouncer.cancel()
    scheduler.advance(100.0)
    assert fired == []


def test_spend_wakes_only_the_estimates_a_namespace_budget_applies_to() -> None:
    reconciler = Reconciler()
    web, db, lab = reconciler.state(NS, "web"), reconciler.state(NS, "db"), reconciler.state("lab", "toy")
    web.budget_sensitive = lab.budget_sensitive = True
    reconciler.wake_budget_verdicts(NS)
    assert (web.verdict_due, db.verdict_due, lab.verdict_due) == (True, False, False)
    assert web.wakeup.is_set() and not db.wakeup.is_set()
    assert not web.reconcile_due
    reconciler.forget(NS, "web")
    assert reconciler.names_in(NS) == ["db"]


def test_a_verdict_only_wake_up_needs_an_earlier_round_and_no_other_reason() -> None:
    state = EstimateState()
    state.request_verdict()
    assert state.take_request(timed_out=False) is False  # the first round is always a full one
    state.rounds = 1
    state.request_verdict()
    assert state.take_request(timed_out=False) is True
    assert not state.wakeup.is_set() and not state.verdict_due
    state.request_verdict()
    state.request_reconcile()
    assert state.take_request(timed_out=False) is False
    state.request_verdict()
    assert state.take_request(timed_out=True) is False  # a resync or retry is due anyway


def test_a_new_leader_forgets_what_it_wrote_and_reconciles_everything() -> None:
    reconciler = Reconciler()
    state = reconciler.state(NS, "web")
    state.reconciled = ReconcileKey(1, "sha256:x", "v1")
    state.written, state.budget_sensitive = {"phase": "Estimated"}, True
    version = reconciler.spend_changed.version
    reconciler.resume_as_leader()
    assert (state.reconciled, state.written, state.basis, state.budget_sensitive) == (None, None, None, False)
    assert state.reconcile_due and state.wakeup.is_set()
    assert reconciler.spend_changed.version == version + 1  # CostPolicy loops refresh too

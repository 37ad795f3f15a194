"""Budget verdicts kept current: re-judged without re-estimating when the namespace's spend, the policies
or the labels change; spend bursts coalesced per namespace; wake-ups that ask for a verdict only."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.k8s import indexes, reconcile
from tests.unit.k8s.plans import money, nat_monthly, nat_plan
from tests.unit.k8s.test_reconcile import NS, conditions, context, estimate_object

ONE = Decimal(money(nat_monthly(1)))  # what one NAT gateway costs a month, as status shows it


def policy(name: str, enforcement: str = "Warn", **limits: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"enforcement": enforcement, "limits": limits}}


def view(spend: dict[str, Decimal], policies: list[dict[str, Any]]) -> reconcile.ClusterView:
    """The indexes as kopf hands them over: namespace → store of SpendEntry, policy name → [document]."""
    return reconcile.ClusterView(
        plan_configmaps={},
        plan_secrets={},
        tofu_plans={},
        namespace_labels={NS: [{"env": "prod"}]},
        costestimate_spend={NS: [indexes.SpendEntry(name, cost, {}) for name, cost in spend.items()]},
        cost_policies={document["metadata"]["name"]: [document] for document in policies},
    )


def judged_context() -> reconcile.ReconcileContext:
    judge = reconcile.default_judge()
    assert judge is not None, "the policy evaluator is part of this build"
    return dataclasses.replace(context(), judge=judge)


class Estimates:
    """Counts estimates (and can forbid them) while delegating to the real estimator."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        self.allowed = True
        real: Callable[..., Any] = cloudcostguard.estimate

        def counted(*args: Any, **kwargs: Any) -> Any:
            assert self.allowed, "re-estimated although only the verdict could have changed"
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(reconcile.cloudcostguard, "estimate", counted)


def budget(status: dict[str, Any]) -> tuple[str, str, str]:
    found = conditions(status)["WithinBudget"]
    return found["status"], found["reason"], found["message"]


async def test_a_sibling_pushing_the_namespace_over_budget_flips_the_verdict_without_re_estimating(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    estimates = Estimates(monkeypatch)
    ctx, state = judged_context(), reconcile.EstimateState()
    policies = [policy("team", namespaceMonthlyBudget="50")]
    obj = estimate_object({"plan": {"inline": nat_plan(1)}})  # "web": one NAT gateway
    first = await reconcile.reconcile_estimate(obj, state, ctx, view({}, policies))
    assert first.result == "estimated" and estimates.count == 1
    assert budget(first.status)[:2] == ("True", "WithinBudget")
    assert state.budget_sensitive

    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the plan was read again")

    monkeypatch.setattr(ctx.resolver, "resolve", refuse)
    estimates.allowed = False
    stored = estimate_object(obj.spec, first.status)
    over = view({"web": ONE, "db": ONE}, policies)  # "db" was estimated: the namespace spends 2 × ONE
    refreshed = await reconcile.refresh_verdict(stored, state, ctx, over)
    assert refreshed.result == "verdict"
    assert set(refreshed.status) == {"policy", "conditions"}  # the estimate itself is not rewritten
    message = (
        f"CostPolicy team: namespace {NS} would spend {money(2 * ONE)} USD/month (this estimate "
        f"{money(ONE)} USD), over namespaceMonthlyBudget 50.00 USD by {money(2 * ONE - 50)} USD. "
        f"Top cost drivers: aws_nat_gateway.egress0 {money(ONE)} USD"
    )
    assert budget(refreshed.status) == ("False", "BudgetExceeded", message)
    assert refreshed.status["policy"] == {
        "name": "team",
        "enforcement": "Warn",
        "verdict": "Warn",
        "message": message,
    }
    for kept in ("Ready", "Estimated"):
        assert conditions(refreshed.status)[kept] == conditions(first.status)[kept]

    stored = estimate_object(obj.spec, {**first.status, **refreshed.status})
    again = await reconcile.refresh_verdict(stored, state, ctx, over)
    assert (again.result, again.status) == ("unchanged", None)  # same verdict: no write

    back = await reconcile.refresh_verdict(stored, state, ctx, view({"web": ONE}, policies))  # db deleted
    assert back.result == "verdict"
    assert budget(back.status)[:2] == ("True", "WithinBudget")
    assert back.status["policy"]["verdict"] == "WithinBudget"
    assert estimates.count == 1


async def test_a_resync_with_unchanged_inputs_re_judges_too(monkeypatch: pytest.MonkeyPatch) -> None:
    estimates = Estimates(monkeypatch)
    ctx, state = judged_context(), reconcile.EstimateState()
    policies = [policy("team", namespaceMonthlyBudget="50")]
    obj = estimate_object({"plan": {"inline": nat_plan(1)}})
    first = await reconcile.reconcile_estimate(obj, state, ctx, view({}, policies))
    estimates.allowed = False
    stored = estimate_object(obj.spec, first.status)
    resync = await reconcile.reconcile_estimate(stored, state, ctx, view({"web": ONE, "db": ONE}, policies))
    assert resync.result == "verdict"
    assert budget(resync.status)[:2] == ("False", "BudgetExceeded")


async def test_an_edited_policy_is_judged_against_the_last_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    estimates = Estimates(monkeypatch)
    ctx, state = judged_context(), reconcile.EstimateState()
    obj = estimate_object({"plan": {"inline": nat_plan(1)}})
    first = await reconcile.reconcile_estimate(obj, state, ctx, view({}, [policy("cap", "Deny")]))
    assert budget(first.status)[:2] == ("True", "WithinBudget")
    assert not state.budget_sensitive  # no namespace budget: sibling spend cannot move this verdict
    estimates.allowed = False
    tightened = [policy("cap", "Deny", maxMonthlyCost="10")]
    outcome = await reconcile.refresh_verdict(
        estimate_object(obj.spec, first.status), state, ctx, view({}, tightened)
    )
    assert outcome.result == "verdict"
    assert outcome.status["policy"]["verdict"] == "Deny"
    assert budget(outcome.status) == (
        "False",
        "BudgetExceeded",
        f"CostPolicy cap: monthly cost {money(ONE)} USD exceeds maxMonthlyCost 10.00 USD by "
        f"{money(ONE - 10)} USD. Top cost drivers: aws_nat_gateway.egress0 {money(ONE)} USD",
    )
    assert ctx.judge is not None and state.reconciled is not None
    assert state.reconciled.policies == ctx.judge.fingerprint(obj, view({}, tightened))


async def test_without_an_estimate_of_the_current_generation_a_verdict_wake_up_estimates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    estimates = Estimates(monkeypatch)
    ctx, policies = judged_context(), [policy("team", namespaceMonthlyBudget="50")]
    obj = estimate_object({"plan": {"inline": nat_plan(1)}})
    first = await reconcile.reconcile_estimate(obj, reconcile.EstimateState(), ctx, view({}, policies))
    # A replica that just became the leader remembers nothing: it estimates (and writes only news).
    fresh = reconcile.EstimateState()
    outcome = await reconcile.refresh_verdict(
        estimate_object(obj.spec, first.status), fresh, ctx, view({}, policies)
    )
    assert (outcome.result, estimates.count) == ("unchanged", 2)
    assert fresh.basis is not None
    # A new generation is never judged from the old estimate.
    bumped = estimate_object({"plan": {"inline": nat_plan(2)}}, first.status, generation=2)
    outcome = await reconcile.refresh_verdict(bumped, fresh, ctx, view({}, policies))
    assert (outcome.result, estimates.count) == ("estimated", 3)
    assert outcome.status["monthlyCost"] == money(2 * ONE)


async def test_the_verdict_basis_keeps_totals_and_cost_drivers_only() -> None:
    ctx = context()
    obj = estimate_object({"plan": {"inline": nat_plan(25)}})
    state = reconcile.EstimateState()
    await reconcile.reconcile_estimate(obj, state, ctx, view({}, []))
    basis = state.basis
    assert basis is not None
    assert len(basis.resources) == 20  # TOP_RESOURCES_MAX of the 26 (25 gateways and a free VPC)
    assert basis.total_monthly_cost == 25 * nat_monthly(1)
    assert basis.past_total_monthly_cost == 0
    assert [r.address for r in basis.top_resources(3)] == [f"aws_nat_gateway.egress{i}" for i in (0, 1, 10)]


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
    debouncer = reconcile.SpendDebouncer(
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
    reconciler = reconcile.Reconciler()
    web, db, lab = reconciler.state(NS, "web"), reconciler.state(NS, "db"), reconciler.state("lab", "toy")
    web.budget_sensitive = lab.budget_sensitive = True
    reconciler.wake_budget_verdicts(NS)
    assert (web.verdict_due, db.verdict_due, lab.verdict_due) == (True, False, False)
    assert web.wakeup.is_set() and not db.wakeup.is_set()
    assert not web.reconcile_due
    reconciler.forget(NS, "web")
    assert reconciler.names_in(NS) == ["db"]


def test_a_verdict_only_wake_up_needs_an_earlier_round_and_no_other_reason() -> None:
    state = reconcile.EstimateState()
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
    reconciler = reconcile.Reconciler()
    state = reconciler.state(NS, "web")
    state.reconciled = reconcile.ReconcileKey(1, "sha256:x", "v1")
    state.written, state.budget_sensitive = {"phase": "Estimated"}, True
    version = reconciler.spend_changed.version
    reconciler.resume_as_leader()
    assert (state.reconciled, state.written, state.basis, state.budget_sensitive) == (None, None, None, False)
    assert state.reconcile_due and state.wakeup.is_set()
    assert reconciler.spend_changed.version == version + 1  # CostPolicy loops refresh too

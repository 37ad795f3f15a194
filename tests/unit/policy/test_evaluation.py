"""CostPolicy evaluation: selection, each limit with exact amounts, several policies, failures, warnings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.policy.evaluation import (
    Candidate,
    Decision,
    Subject,
    Verdict,
    combine,
    evaluate,
    evaluate_failure,
)
from cloudcostguard.policy.messages import MAX_WARNING_CHARS
from cloudcostguard.policy.model import CostPolicy, applicable
from tests.plans import nat_plan


def policy(name: str, enforcement: str = "Deny", **spec: Any) -> CostPolicy:
    limits = {k: v for k, v in spec.items() if k not in ("namespaceSelector", "selector", "message")}
    body: dict[str, Any] = {"enforcement": enforcement, "limits": limits}
    body.update({k: v for k, v in spec.items() if k in ("namespaceSelector", "selector", "message")})
    return CostPolicy.from_object({"metadata": {"name": name}, "spec": body})


def nat_estimate(created: int, *, kept: int = 0, deleted: int = 0) -> Estimate:
    return cloudcostguard.estimate(nat_plan(created, kept=kept, deleted=deleted))


def judge(
    policies: list[CostPolicy],
    estimate: Estimate,
    *,
    labels: dict[str, str] | None = None,
    namespace_labels: dict[str, str] | None = None,
    committed: dict[str, Decimal] | None = None,
    name: str = "web",
) -> Decision:
    return evaluate(
        namespace="team-a",
        candidates=[candidate(name, estimate, policies, labels=labels, namespace_labels=namespace_labels)],
        committed=committed,
    )


def candidate(
    name: str,
    estimate: Estimate,
    policies: list[CostPolicy],
    *,
    labels: dict[str, str] | None = None,
    namespace_labels: dict[str, str] | None = None,
) -> Candidate:
    """A candidate with the policies that select it, as callers select them (once)."""
    return Candidate(name, estimate, applicable(policies, namespace_labels or {}, labels or {}))


def subject(
    name: str, policies: list[CostPolicy], *, namespace_labels: dict[str, str] | None = None
) -> Subject:
    return Subject(name, applicable(policies, namespace_labels or {}, {}))


# --- selection -------------------------------------------------------------------------------------


def test_no_policy_applies_when_selectors_do_not_match() -> None:
    policies = [
        policy("prod-only", namespaceSelector={"matchLabels": {"env": "prod"}}, maxMonthlyCost="1"),
        policy("gpu-only", selector={"matchLabels": {"kind": "gpu"}}, maxMonthlyCost="1"),
    ]
    decision = judge(policies, nat_estimate(1), namespace_labels={"env": "dev"}, labels={"kind": "web"})
    assert (decision.verdict, decision.allowed, decision.message) == (
        Verdict.NO_POLICY,
        True,
        "no CostPolicy applies",
    )
    assert decision.within_budget is None


def test_a_policy_applies_when_both_selectors_match() -> None:
    selected = policy(
        "prod-web",
        namespaceSelector={"matchLabels": {"env": "prod"}},
        selector={"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]},
        maxMonthlyCost="10",
    )
    decision = judge([selected], nat_estimate(1), namespace_labels={"env": "prod"}, labels={"tier": "web"})
    assert decision.verdict is Verdict.DENY
    assert decision.policies == ("prod-web",)


def test_within_all_limits_names_the_policies() -> None:
    decision = judge([policy("b", maxMonthlyCost="100"), policy("a", maxMonthlyCost="40")], nat_estimate(1))
    assert (decision.verdict, decision.allowed, decision.within_budget) == (Verdict.WITHIN_BUDGET, True, True)
    assert decision.message == "within 2 CostPolicies (a, b)"
    assert decision.reason == "WithinBudget"


# --- limits, with exact amounts ------------------------------------------------------------------------


def test_max_monthly_cost_denial_names_policy_limit_estimate_excess_and_drivers() -> None:
    decision = judge([policy("team-cap", maxMonthlyCost="50", message="Ask #finops.")], nat_estimate(4))
    assert (decision.verdict, decision.allowed, decision.code) == (Verdict.DENY, False, 403)
    assert decision.message == (
        "CostPolicy team-cap: monthly cost 131.40 USD exceeds maxMonthlyCost 50.00 USD by 81.40 USD. "
        "Top cost drivers: aws_nat_gateway.gw_new_0 32.85 USD, aws_nat_gateway.gw_new_1 32.85 USD, "
        "aws_nat_gateway.gw_new_2 32.85 USD. Ask #finops."
    )
    (violation,) = decision.violations
    assert (violation.limit, violation.limit_value, violation.actual, violation.excess) == (
        "maxMonthlyCost",
        Decimal("50"),
        Decimal("131.40"),
        Decimal("81.40"),
    )


def test_a_cost_equal_to_the_limit_is_within_it() -> None:
    assert judge([policy("cap", maxMonthlyCost="65.70")], nat_estimate(2)).verdict is Verdict.WITHIN_BUDGET
    assert judge([policy("cap", maxMonthlyCost="65.69")], nat_estimate(2)).verdict is Verdict.DENY


def test_max_monthly_increase_uses_the_plan_diff() -> None:
    # 2 kept + 1 created: 98.55 now, 65.70 before, +32.85.
    decision = judge([policy("growth", maxMonthlyIncrease="30")], nat_estimate(1, kept=2))
    assert decision.message.startswith(
        "CostPolicy growth: monthly increase 32.85 USD (from 65.70 to 98.55 USD) exceeds maxMonthlyIncrease "
        "30.00 USD by 2.85 USD. Top cost drivers:"
    )
    assert judge([policy("growth", maxMonthlyIncrease="32.85")], nat_estimate(1, kept=2)).allowed


def test_max_increase_percent_is_relative_to_the_past_cost() -> None:
    decision = judge([policy("pct", maxIncreasePercent=40)], nat_estimate(1, kept=2))
    assert decision.message.startswith(
        "CostPolicy pct: monthly increase 50% (from 65.70 to 98.55 USD) exceeds maxIncreasePercent 40% "
        "by 10 points."
    )
    assert judge([policy("pct", maxIncreasePercent=50)], nat_estimate(1, kept=2)).allowed


def test_max_increase_percent_does_not_apply_to_new_spend_from_nothing() -> None:
    assert judge([policy("pct", maxIncreasePercent=0)], nat_estimate(3)).verdict is Verdict.WITHIN_BUDGET


def test_a_decrease_never_breaks_increase_limits() -> None:
    decision = judge(
        [policy("growth", maxMonthlyIncrease="0", maxIncreasePercent=0)], nat_estimate(0, kept=1, deleted=2)
    )
    assert decision.verdict is Verdict.WITHIN_BUDGET


def test_namespace_budget_sums_every_estimate_of_the_namespace() -> None:
    committed = {"db": Decimal("100"), "cache": Decimal("20.30")}
    decision = judge([policy("ns", namespaceMonthlyBudget="150")], nat_estimate(2), committed=committed)
    assert decision.message.startswith(
        "CostPolicy ns: namespace team-a would spend 186.00 USD/month (this estimate 65.70 USD), over "
        "namespaceMonthlyBudget 150.00 USD by 36.00 USD."
    )


def test_an_update_replaces_the_objects_own_previous_spend() -> None:
    # web costs 40 today; its new plan costs 65.70: the namespace goes from 140 to 165.70, not 205.70.
    committed = {"db": Decimal("100"), "web": Decimal("40")}
    within = judge([policy("ns", namespaceMonthlyBudget="170")], nat_estimate(2), committed=committed)
    assert within.verdict is Verdict.WITHIN_BUDGET
    over = judge([policy("ns", namespaceMonthlyBudget="160")], nat_estimate(2), committed=committed)
    assert "would spend 165.70 USD/month" in over.message
    assert "by 5.70 USD" in over.message


def test_shrinking_an_over_budget_namespace_is_allowed() -> None:
    # The namespace is at 200 against a budget of 100; web drops from 100 to 65.70.
    committed = {"db": Decimal("100"), "web": Decimal("100")}
    decision = judge([policy("ns", namespaceMonthlyBudget="100")], nat_estimate(2), committed=committed)
    assert decision.verdict is Verdict.WITHIN_BUDGET


def test_status_reports_an_over_budget_namespace_whatever_the_last_change_did() -> None:
    committed = {"db": Decimal("100"), "web": Decimal("65.70")}
    decision = evaluate(
        namespace="team-a",
        candidates=[candidate("web", nat_estimate(2), [policy("ns", namespaceMonthlyBudget="150")])],
        committed=committed,
        growth_only=False,
    )
    assert (decision.verdict, decision.within_budget) == (Verdict.DENY, False)
    assert "would spend 165.70 USD/month" in decision.message
    unchanged_at_admission = judge(
        [policy("ns", namespaceMonthlyBudget="150")], nat_estimate(2), committed=committed
    )
    assert unchanged_at_admission.verdict is Verdict.WITHIN_BUDGET


# --- several policies ------------------------------------------------------------------------------------


def test_every_violated_deny_policy_is_reported() -> None:
    policies = [
        policy("b-namespace", namespaceMonthlyBudget="100"),
        policy("a-cap", maxMonthlyCost="50"),
        policy("c-fine", maxMonthlyCost="1000"),
    ]
    decision = judge(policies, nat_estimate(2), committed={"db": Decimal("50")})
    assert decision.verdict is Verdict.DENY
    assert decision.deciding_policies == ("a-cap", "b-namespace")
    assert decision.message.startswith(
        "CostPolicy a-cap: monthly cost 65.70 USD exceeds maxMonthlyCost 50.00 USD by 15.70 USD. "
        "CostPolicy b-namespace: namespace team-a would spend 115.70 USD/month (this estimate 65.70 USD), "
        "over namespaceMonthlyBudget 100.00 USD by 15.70 USD. Top cost drivers:"
    )
    assert decision.status_policy() == {
        "name": "a-cap, b-namespace",
        "enforcement": "Deny",
        "verdict": "Deny",
        "message": decision.message,
    }


def test_deny_beats_warn_and_warn_policies_still_warn() -> None:
    policies = [policy("deny", maxMonthlyCost="50"), policy("warn", "Warn", maxMonthlyCost="60")]
    decision = judge(policies, nat_estimate(2))
    assert (decision.verdict, decision.allowed) == (Verdict.DENY, False)
    assert "CostPolicy warn" not in decision.message
    assert decision.warnings == (
        "CostPolicy warn: maxMonthlyCost 60.00 USD exceeded by 5.70 USD (cost 65.70 USD/month)",
        "top cost drivers: aws_nat_gateway.gw_new_0 32.85 USD, aws_nat_gateway.gw_new_1 32.85 USD",
    )


def test_warn_admits_with_warnings_and_beats_dry_run() -> None:
    policies = [policy("warn", "Warn", maxMonthlyCost="60"), policy("audit", "DryRun", maxMonthlyCost="1")]
    decision = judge(policies, nat_estimate(2))
    assert (decision.verdict, decision.allowed, decision.code) == (Verdict.WARN, True, 200)
    assert decision.status_policy()["name"] == "warn"
    assert [v.policy for v in decision.dry_run_violations()] == ["audit"]


def test_dry_run_admits_silently_and_records_what_would_be_denied() -> None:
    decision = judge([policy("audit", "DryRun", maxMonthlyCost="1")], nat_estimate(1))
    assert (decision.verdict, decision.allowed, decision.warnings) == (Verdict.DRY_RUN, True, ())
    assert decision.message.startswith(
        "DryRun, would be denied: CostPolicy audit: monthly cost 32.85 USD exceeds maxMonthlyCost 1.00 USD "
        "by 31.85 USD."
    )
    assert decision.within_budget is False
    assert decision.status_policy()["enforcement"] == "DryRun"


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=253),
    limit=st.decimals(min_value=0, max_value=10_000, places=2),
)
def test_warnings_never_exceed_120_characters(name: str, limit: Decimal) -> None:
    policies = [
        policy(
            name, "Warn", maxMonthlyCost=str(limit), maxMonthlyIncrease=str(limit), namespaceMonthlyBudget="0"
        )
    ]
    decision = judge(policies, nat_estimate(3), committed={"x" * 200: Decimal("1")})
    assert decision.warnings
    assert all(len(warning) <= MAX_WARNING_CHARS for warning in decision.warnings)


# --- plans that cannot be estimated, and several estimates ---------------------------------------------


def test_an_unreadable_plan_is_denied_when_a_deny_policy_applies() -> None:
    decision = evaluate_failure(
        subjects=[subject("web", [policy("cap", maxMonthlyCost="10"), policy("note", "Warn")])],
        error=errors.PlanError("plan is not valid JSON: unexpected character"),
    )
    assert (decision.verdict, decision.code, decision.error) == (Verdict.DENY, 403, "PlanInvalid")
    assert decision.message == (
        "plan cannot be estimated (PlanInvalid: plan is not valid JSON: unexpected character), "
        "and CostPolicy cap requires an estimate"
    )


def test_an_unreadable_plan_is_admitted_with_a_warning_otherwise() -> None:
    policies = [
        policy("note", "Warn"),
        policy("elsewhere", namespaceSelector={"matchLabels": {"env": "prod"}}),
    ]
    decision = evaluate_failure(
        subjects=[subject("web", policies, namespace_labels={"env": "dev"})],
        error=errors.PlanTooLargeError("plan is 9000000 bytes, larger than the limit of 8388608 bytes"),
    )
    assert (decision.verdict, decision.allowed) == (Verdict.WARN, True)
    assert decision.warnings == (
        "plan not estimated: plan is 9000000 bytes, larger than the limit of 8388608 bytes",
    )


def test_several_estimates_share_the_namespace_budget() -> None:
    policies = [policy("ns", namespaceMonthlyBudget="120")]
    candidates = [
        candidate("api", nat_estimate(2), policies),
        candidate("web", nat_estimate(1), policies),
    ]
    decision = evaluate(
        namespace="team-a",
        candidates=candidates,
        committed={"api": Decimal("10"), "web": Decimal("10"), "db": Decimal("30")},
    )
    assert decision.message.startswith(
        "CostPolicy ns: namespace team-a would spend 128.55 USD/month (these 2 estimates 98.55 USD), over "
        "namespaceMonthlyBudget 120.00 USD by 8.55 USD. Top cost drivers: api/aws_nat_gateway.gw_new_0"
    )


def test_combine_keeps_the_strongest_verdict_and_every_warning() -> None:
    warn = evaluate_failure(subjects=[Subject("a", ())], error=errors.PlanError("bad a"))
    deny = judge([policy("cap", maxMonthlyCost="1")], nat_estimate(1), name="b")
    combined = combine([warn, deny])
    assert combined.verdict is Verdict.DENY
    assert combined.message == deny.message
    assert combined.warnings == ("plan not estimated: bad a",)

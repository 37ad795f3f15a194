"""The words of a verdict: warnings cut visibly at 120 characters, percentages and cents as shown."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.policy import messages


def test_a_long_warning_is_cut_with_an_ellipsis_within_the_limit() -> None:
    text = "CostPolicy team: " + "word " * 40
    cut = messages.fit(text)
    assert len(cut) <= messages.MAX_WARNING_CHARS == 120 < len(text)
    assert cut.endswith("...") and cut.startswith("CostPolicy team: word word")
    assert messages.fit("  short \n warning ") == "short warning"


def test_percent_and_cents_round_half_up_as_shown() -> None:
    assert [messages.percent(Decimal(v)) for v in ("20", "20.05", "19.94", "0.04")] == [
        "20",
        "20.1",
        "19.9",
        "0",
    ]
    assert messages.cents(Decimal("0.005")) == Decimal("0.01")
    # A huge plan's total still rounds (a 28-digit context would make quantize() fail).
    assert messages.cents(Decimal("1e40") + Decimal("0.005")) == Decimal("1e40") + Decimal("0.01")


def test_each_limit_has_a_sentence_and_a_short_form() -> None:
    text, short = messages.monthly_cost_exceeded(Decimal("65.70"), Decimal("50"), "USD")
    assert text == "monthly cost 65.70 USD exceeds maxMonthlyCost 50.00 USD by 15.70 USD"
    assert short == "maxMonthlyCost 50.00 USD exceeded by 15.70 USD (cost 65.70 USD/month)"
    text, short = messages.namespace_budget_exceeded(
        "team-a", Decimal("128.55"), Decimal("98.55"), Decimal("120"), 2, usd="USD"
    )
    assert text == (
        "namespace team-a would spend 128.55 USD/month (these 2 estimates 98.55 USD), over "
        "namespaceMonthlyBudget 120.00 USD by 8.55 USD"
    )
    assert short == "namespaceMonthlyBudget 120.00 USD exceeded by 8.55 USD (namespace 128.55 USD)"
    assert messages.failure_message("", "PlanInvalid", "bad", ["cap"]) == (
        "plan cannot be estimated (PlanInvalid: bad), and CostPolicy cap requires an estimate"
    )

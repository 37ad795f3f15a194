"""The CostPolicy model: money limits as decimal strings, malformed policies explained, selection."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cloudcostguard import errors
from cloudcostguard.policy.model import CostPolicy, Enforcement, applicable, parse_money, parse_policies

# --- money and policy parsing ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "amount"), [("250", "250"), ("250.00", "250.00"), (" 0.5 ", "0.5")])
def test_money_is_read_from_decimal_strings(text: str, amount: str) -> None:
    assert parse_money(text, "x") == Decimal(amount)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (250, 'x must be a decimal string like "250.00" (quote it in YAML), not a number'),
        (250.5, 'x must be a decimal string like "250.00" (quote it in YAML), not a number'),
        (True, "x must be a decimal string"),
        ("-5", "x must be a non-negative decimal string"),
        ("1e3", "x must be a non-negative decimal string"),
        ("NaN", "x must be a non-negative decimal string"),
        ("12,50", "x must be a non-negative decimal string"),
        ("", "x must be a non-negative decimal string"),
    ],
)
def test_bad_money_is_a_policy_error(value: Any, message: str) -> None:
    with pytest.raises(errors.PolicyError) as caught:
        parse_money(value, "x")
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"metadata": {"name": "p"}, "spec": {"enforcement": "Block"}},
            "CostPolicy p: spec.enforcement must be",
        ),
        ({"metadata": {"name": "p"}, "spec": {"limits": {"maxCost": "1"}}}, "unknown limit 'maxCost'"),
        ({"metadata": {"name": "p"}, "spec": {"limits": {"maxIncreasePercent": -1}}}, "non-negative integer"),
        (
            {"metadata": {"name": "p"}, "spec": {"limits": {"maxIncreasePercent": True}}},
            "non-negative integer",
        ),
        (
            {"metadata": {"name": "p"}, "spec": {"limits": {"maxMonthlyCost": 10}}},
            "spec.limits.maxMonthlyCost",
        ),
        ({"metadata": {"name": "p"}, "spec": {"selector": "team=a"}}, "spec.selector must be an object"),
        ({"metadata": {}, "spec": {}}, "a CostPolicy needs metadata.name"),
        ({"kind": "ConfigMap", "metadata": {"name": "p"}}, "expected kind CostPolicy"),
    ],
)
def test_malformed_policies_say_what_is_wrong(document: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.PolicyError, match=message.replace("(", r"\(").replace(")", r"\)")):
        CostPolicy.from_object(document)


def test_parse_policies_keeps_the_good_ones_and_reports_the_bad() -> None:
    good = {"metadata": {"name": "good"}, "spec": {"enforcement": "Warn"}}
    bad = {"metadata": {"name": "bad"}, "spec": {"limits": {"maxMonthlyCost": "lots"}}}
    policies, problems = parse_policies([good, bad])
    assert [p.name for p in policies] == ["good"]
    assert [str(p) for p in problems] == [
        'CostPolicy bad: spec.limits.maxMonthlyCost must be a non-negative decimal string like "250" or '
        "\"250.00\", not 'lots'"
    ]


def test_enforcement_defaults_to_deny() -> None:
    assert CostPolicy.from_object({"metadata": {"name": "p"}}).enforcement is Enforcement.DENY


def test_money_has_at_most_twelve_digits_before_the_point_as_the_crd_says() -> None:
    assert parse_money("999999999999.999999", "x") == Decimal("999999999999.999999")
    for bad in ("1000000000000", "1.1234567", "NaN", "Infinity"):
        with pytest.raises(errors.PolicyError, match="x must be a non-negative decimal string"):
            parse_money(bad, "x")


def test_applicable_policies_are_selected_once_and_ordered_by_name() -> None:
    def policy(name: str, **spec: Any) -> CostPolicy:
        return CostPolicy.from_object({"metadata": {"name": name}, "spec": spec})

    policies = [
        policy("b"),
        policy("prod", namespaceSelector={"matchLabels": {"env": "prod"}}),
        policy("a", selector={"matchLabels": {"tier": "web"}}),
        policy("gpu", selector={"matchLabels": {"tier": "gpu"}}),
    ]
    chosen = applicable(policies, {"env": "prod"}, {"tier": "web"})
    assert [p.name for p in chosen] == ["a", "b", "prod"]
    assert [p.name for p in applicable(policies, {"env": "dev"}, {})] == ["b"]

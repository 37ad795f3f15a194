"""CostPolicy ``spec.unpriced``: what a change adds that cannot be priced, under each enforcement."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.policy.evaluation import UNPRICED, Candidate, Verdict, evaluate
from cloudcostguard.policy.messages import MAX_WARNING_CHARS, UNPRICED_WARNING_LINES, unpriced_warnings
from cloudcostguard.policy.model import CostPolicy, Enforcement, Unpriced
from tests.plans import change, nat_plan, plan, provider

GATEWAY = {"connectivity_type": "public"}


def policy(enforcement: str = "Deny", unpriced: str | None = None, **limits: str) -> CostPolicy:
    spec: dict[str, Any] = {"enforcement": enforcement, "limits": limits}
    if unpriced is not None:
        spec["unpriced"] = unpriced
    return CostPolicy.from_object({"metadata": {"name": "team"}, "spec": spec})


def judge(estimate: Estimate, *policies: CostPolicy, names: tuple[str, ...] = ("web",)) -> Any:
    return evaluate(
        namespace="team-a", candidates=[Candidate(name, estimate, list(policies)) for name in names]
    )


def mixed_plan(*extra: dict[str, Any]) -> dict[str, Any]:
    """Two priced NAT gateways, one new made-up type, one made-up type already there (no-op)."""
    base = nat_plan(2)
    base["resource_changes"] += [
        change("aws_made_up_thing.new", ["create"], after={}),
        change("aws_made_up_thing.old", ["no-op"], before={}, after={}),
        *extra,
    ]
    return base


def test_unpriced_defaults_to_warn_and_reads_every_mode() -> None:
    assert policy().unpriced is Unpriced.WARN
    assert [policy(unpriced=mode).unpriced for mode in ("Ignore", "Warn", "Deny")] == list(Unpriced)
    with pytest.raises(
        errors.PolicyError, match=r"CostPolicy team: spec\.unpriced must be Ignore, Warn or Deny"
    ):
        policy(unpriced="deny")


@pytest.mark.parametrize(
    ("enforcement", "unpriced", "effective"),
    [
        ("Deny", "Deny", Enforcement.DENY),
        ("Deny", "Warn", Enforcement.WARN),
        ("Warn", "Deny", Enforcement.WARN),
        ("Warn", "Warn", Enforcement.WARN),
        ("DryRun", "Deny", Enforcement.DRY_RUN),
        ("DryRun", "Warn", Enforcement.DRY_RUN),
        ("Deny", "Ignore", None),
        ("Warn", "Ignore", None),
        ("DryRun", "Ignore", None),
    ],
)
def test_the_weaker_of_enforcement_and_unpriced_decides(
    enforcement: str, unpriced: str, effective: Enforcement | None
) -> None:
    assert Unpriced(unpriced).effective(Enforcement(enforcement)) is effective


def test_only_what_the_change_adds_counts() -> None:
    estimate = cloudcostguard.estimate(
        mixed_plan(
            change("aws_made_up_thing.updated", ["update"], before={"a": 1}, after={"a": 2}),
            change("aws_made_up_thing.gone", ["delete"], before={}),
            change("aws_made_up_thing.swapped", ["delete", "create"], before={}, after={}),
        )
    )
    assert [r.address for r in estimate.unpriced_additions()] == [
        "aws_made_up_thing.new",
        "aws_made_up_thing.swapped",
    ]


def test_a_component_without_price_counts_when_created_or_when_an_update_loses_its_price() -> None:
    far = {"aws": provider("mx-central-1")}  # a region the bundled catalog has no NAT price for
    estimate = cloudcostguard.estimate(
        plan(
            change("aws_nat_gateway.far", ["create"], after=GATEWAY),
            change("aws_nat_gateway.kept", ["no-op"], before=GATEWAY, after=GATEWAY),
            providers=far,
        )
    )
    assert estimate.coverage().price_not_found == ["aws_nat_gateway.far", "aws_nat_gateway.kept"]
    assert [r.address for r in estimate.unpriced_additions()] == ["aws_nat_gateway.far"]
    # An update whose `after` side has no price for a component the `before` side had a price for.
    resource = estimate.resources[0]
    resource.action = "update"
    resource.past_components = [
        type(c)(c.name, c.unit, c.monthly_quantity, Decimal(1), c.monthly_cost) for c in resource.components
    ]
    assert resource.adds_unpriced
    resource.past_components = list(resource.components)  # the same components lacked a price before
    assert not resource.adds_unpriced


def test_deny_refuses_with_the_list_and_counts_it_as_a_broken_rule() -> None:
    decision = judge(cloudcostguard.estimate(mixed_plan()), policy("Deny", "Deny", maxMonthlyCost="1000"))
    assert (decision.verdict, decision.allowed, decision.code) == (Verdict.DENY, False, 403)
    assert decision.message == (
        "CostPolicy team: adds 1 resource that cannot be priced, so no limit counts them: "
        "aws_made_up_thing.new (type not supported). Top cost drivers: aws_nat_gateway.gw_new_0 32.85 USD, "
        "aws_nat_gateway.gw_new_1 32.85 USD"
    )
    (violation,) = decision.violations
    assert (violation.limit, violation.actual, violation.unpriced) == (
        UNPRICED,
        Decimal(1),
        ("aws_made_up_thing.new",),
    )
    assert (decision.reason, decision.within_budget, decision.warnings) == ("UnpricedResources", False, ())


def test_the_default_admits_with_warnings_naming_the_addresses() -> None:
    decision = judge(cloudcostguard.estimate(mixed_plan()), policy("Deny", maxMonthlyCost="1000"))
    assert (decision.verdict, decision.allowed) == (Verdict.WARN, True)
    assert decision.warnings == (
        "CostPolicy team: adds 1 resource that cannot be priced (not counted in its limits)",
        "not priced: aws_made_up_thing.new",
    )


def test_a_broken_limit_and_unpriced_resources_are_both_reported() -> None:
    decision = judge(cloudcostguard.estimate(mixed_plan()), policy("Deny", "Deny", maxMonthlyCost="10"))
    assert decision.verdict is Verdict.DENY
    assert [v.limit for v in decision.violations] == ["maxMonthlyCost", UNPRICED]
    assert decision.reason == "BudgetExceeded"
    assert decision.message.startswith(
        "CostPolicy team: monthly cost 65.70 USD exceeds maxMonthlyCost 10.00 USD by 55.70 USD; "
        "adds 1 resource that cannot be priced"
    )


def test_unpriced_deny_under_warn_enforcement_only_warns_and_under_dry_run_only_records() -> None:
    estimate = cloudcostguard.estimate(mixed_plan())
    warned = judge(estimate, policy("Warn", "Deny"))
    assert (warned.verdict, warned.allowed) == (Verdict.WARN, True)
    assert warned.warnings[-1] == "not priced: aws_made_up_thing.new"
    recorded = judge(estimate, policy("DryRun", "Deny"))
    assert (recorded.verdict, recorded.allowed, recorded.warnings) == (Verdict.DRY_RUN, True, ())
    assert recorded.message.startswith("DryRun, would be denied: CostPolicy team: adds 1 resource")
    assert [v.limit for v in recorded.dry_run_violations()] == [UNPRICED]
    would_warn = judge(estimate, policy("DryRun", "Warn"))
    assert would_warn.message.startswith("DryRun, would warn: CostPolicy team: adds 1 resource")


def test_ignore_and_fully_priced_changes_are_within_budget() -> None:
    ignored = judge(cloudcostguard.estimate(mixed_plan()), policy("Deny", "Ignore", maxMonthlyCost="1000"))
    assert (ignored.verdict, ignored.within_budget) == (Verdict.WITHIN_BUDGET, True)
    priced = judge(cloudcostguard.estimate(nat_plan(2)), policy("Deny", "Deny", maxMonthlyCost="1000"))
    assert priced.verdict is Verdict.WITHIN_BUDGET
    # The made-up type was already there: nothing is added, nothing to judge.
    kept_only = nat_plan(1)
    kept_only["resource_changes"].append(change("aws_made_up_thing.old", ["no-op"], before={}, after={}))
    assert judge(cloudcostguard.estimate(kept_only), policy("Deny", "Deny")).verdict is Verdict.WITHIN_BUDGET


def test_many_unpriced_resources_fit_in_bounded_warnings_and_message() -> None:
    document = nat_plan(0)
    document["resource_changes"] = [
        change(f"module.platform_services_{i}.aws_made_up_thing.queue_{i}", ["create"], after={},
               module_address=f"module.platform_services_{i}")
        for i in range(40)
    ]  # fmt: skip
    estimate = cloudcostguard.estimate(document)
    warned = judge(estimate, policy("Warn"), names=("web", "api"))
    lines = [w for w in warned.warnings if w.startswith("not priced")]
    assert len(lines) == 2 * UNPRICED_WARNING_LINES  # one set per CostEstimate
    assert all(len(w) <= MAX_WARNING_CHARS for w in warned.warnings)
    assert lines[0].startswith("not priced in CostEstimate web: module.platform_services_0.")
    assert lines[UNPRICED_WARNING_LINES - 1].startswith("not priced in CostEstimate web: and ")
    denied = judge(estimate, policy("Deny", "Deny"))
    last_listed = "module.platform_services_9.aws_made_up_thing.queue_9 (type not supported)"
    assert denied.message.endswith(f"{last_listed} and 30 more")


def test_unpriced_warnings_name_every_address_when_they_fit() -> None:
    addresses = [f"aws_made_up_thing.t{i}" for i in range(8)]
    lines = unpriced_warnings(addresses)
    assert all(len(line) <= MAX_WARNING_CHARS for line in lines)
    named = [item for line in lines for item in line.removeprefix("not priced: ").split(", ")]
    assert named == addresses
    long_address = "module." + "x" * 300 + ".aws_made_up_thing.t"
    (cut,) = unpriced_warnings([long_address])
    assert len(cut) == MAX_WARNING_CHARS and cut.endswith("...")
    left_out = unpriced_warnings([f"aws_made_up_thing.{'n' * 60}{i}" for i in range(10)])
    assert len(left_out) == UNPRICED_WARNING_LINES
    assert left_out[-1] == f"not priced: and {10 - (UNPRICED_WARNING_LINES - 1)} more"


def test_unpriced_warnings_pack_each_line_as_full_as_the_width_allows() -> None:
    # Addresses of mixed lengths: each line takes the next address while the joined line still fits,
    # exactly as joining the line again for every address would decide.
    addresses = [f"module.m{i}.aws_made_up_thing.{'q' * (i * 7 % 41)}{i}" for i in range(40)]
    head = "not priced: "
    width = MAX_WARNING_CHARS - len(head)
    expected: list[list[str]] = []
    for address in addresses:
        if expected and len(", ".join([*expected[-1], address])) <= width:
            expected[-1].append(address)
        else:
            expected.append([address])
    lines = unpriced_warnings(addresses)
    kept = expected[: UNPRICED_WARNING_LINES - 1]
    assert lines[:-1] == [head + ", ".join(items) for items in kept]
    assert lines[-1] == f"{head}and {len(addresses) - sum(len(items) for items in kept)} more"


def test_unpriced_additions_are_made_once_and_each_caller_gets_its_own_list() -> None:
    estimate = cloudcostguard.estimate(
        plan(change("aws_made_up_thing.a", ["create"]), change("aws_made_up_thing.b", ["create"]))
    )
    addresses = ["aws_made_up_thing.a", "aws_made_up_thing.b"]
    first = estimate.unpriced_additions()
    assert [r.address for r in first] == addresses
    first.clear()
    assert [r.address for r in estimate.unpriced_additions()] == addresses

"""Which aws_appautoscaling_target scales a resource: by reference, by literal id, each target once."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.aws import appautoscaling
from cloudcostguard.estimation.aws.appautoscaling import ScalingTarget
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PRICERS, PricingContext
from cloudcostguard.plan.references import PlanReferences
from tests.unit.estimation.aws.single_resource import linked_plan, ref

SPY_TYPE = "aws_ccgtest_scaled"
WRITES = "dynamodb:table:WriteCapacityUnits"


@pytest.fixture
def found() -> Iterator[dict[str, list[ScalingTarget]]]:
    """Register a pricer that records, per address, the targets scaling it (own id: ``table/<name>``)."""
    seen: dict[str, list[ScalingTarget]] = {}

    def spy(ctx: PricingContext) -> list[CostComponent]:
        seen[ctx.address] = appautoscaling.scaling_targets(ctx, "name", "table/")
        return []

    PRICERS[SPY_TYPE] = spy
    try:
        yield seen
    finally:
        del PRICERS[SPY_TYPE]


def _target(minimum: Any, resource_id: str | None = "table/scores") -> dict[str, Any]:
    values: dict[str, Any] = {"scalable_dimension": WRITES, "min_capacity": minimum}
    if resource_id is not None:
        values["resource_id"] = resource_id
    return values


LITERAL = {"resource_id": {"constant_value": "table/scores"}}
BY_REFERENCE = {"resource_id": ref(f"{SPY_TYPE}.scores.name")}


def test_targets_are_found_by_reference_and_by_literal_id_each_once(
    found: dict[str, list[ScalingTarget]],
) -> None:
    plan = linked_plan(
        [
            (f"{SPY_TYPE}.scores", {"name": "scores"}, {}, {}),
            (f"{SPY_TYPE}.twin", {"name": "scores"}, {}, {}),  # same name, not referenced
            ("aws_appautoscaling_target.referenced", _target(6), {}, BY_REFERENCE),
            ("aws_appautoscaling_target.literal", _target(7), {}, LITERAL),
            # resource_id = "table/${var.table}": no managed resource named, so matched by value.
            ("aws_appautoscaling_target.variable", _target(8), {}, {"resource_id": ref("var.table")}),
            ("aws_appautoscaling_target.other", _target(9, "table/other"), {}, LITERAL),
            ("aws_appautoscaling_target.unknown_id", _target(10, None), {"resource_id": True}, LITERAL),
        ]
    )

    cloudcostguard.estimate(plan)

    assert found[f"{SPY_TYPE}.scores"] == [
        ScalingTarget("aws_appautoscaling_target.referenced", WRITES, Decimal(6)),
        ScalingTarget("aws_appautoscaling_target.literal", WRITES, Decimal(7)),
        ScalingTarget("aws_appautoscaling_target.variable", WRITES, Decimal(8)),
    ]
    # A target linked by reference scales only what it names; literal ids match every holder.
    assert found[f"{SPY_TYPE}.twin"] == [
        ScalingTarget("aws_appautoscaling_target.literal", WRITES, Decimal(7)),
        ScalingTarget("aws_appautoscaling_target.variable", WRITES, Decimal(8)),
    ]


def test_a_plan_without_configuration_matches_every_target_by_value_once(
    found: dict[str, list[ScalingTarget]],
) -> None:
    plan = linked_plan(
        [
            (f"{SPY_TYPE}.scores", {"name": "scores"}, {}, {}),
            ('aws_appautoscaling_target.w["a"]', _target(6), {}, {}),
            ('aws_appautoscaling_target.w["b"]', _target(3, "table/other"), {}, {}),
        ]
    )
    del plan["configuration"]["root_module"]

    cloudcostguard.estimate(plan)

    assert found[f"{SPY_TYPE}.scores"] == [
        ScalingTarget('aws_appautoscaling_target.w["a"]', WRITES, Decimal(6))
    ]


def test_usage_capacity_overrides_the_minimum_and_a_negative_minimum_is_unknown(
    found: dict[str, list[ScalingTarget]],
) -> None:
    plan = linked_plan(
        [
            (f"{SPY_TYPE}.scores", {"name": "scores"}, {}, {}),
            ("aws_appautoscaling_target.used", _target(6), {}, BY_REFERENCE),
            ("aws_appautoscaling_target.negative", _target(-1), {}, LITERAL),
        ]
    )

    cloudcostguard.estimate(plan, usage={"aws_appautoscaling_target.used": {"capacity": 77}})

    assert [(t.address, t.capacity) for t in found[f"{SPY_TYPE}.scores"]] == [
        ("aws_appautoscaling_target.used", Decimal(77)),
        ("aws_appautoscaling_target.negative", None),
    ]


def test_a_negative_usage_capacity_is_a_usage_error_naming_the_target() -> None:
    plan = linked_plan(
        [
            (
                "aws_dynamodb_table.scores",
                {"name": "scores", "write_capacity": 1, "read_capacity": 1},
                {},
                {},
            ),
            ("aws_appautoscaling_target.used", _target(6), {}, LITERAL),
        ]
    )

    with pytest.raises(errors.UsageError, match=r"aws_appautoscaling_target\.used\.capacity"):
        cloudcostguard.estimate(plan, usage={"aws_appautoscaling_target.used": {"capacity": -5}})


def test_plans_without_targets_never_look_targets_up_by_type(
    found: dict[str, list[ScalingTarget]], monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(self: PlanReferences, resource_type: str) -> list[Any]:
        raise AssertionError(f"changes_of_type({resource_type}) on a plan without targets")

    monkeypatch.setattr(PlanReferences, "changes_of_type", forbidden)
    plan = linked_plan([(f"{SPY_TYPE}.scores", {"name": "scores"}, {}, {})])

    cloudcostguard.estimate(plan)

    assert found == {f"{SPY_TYPE}.scores": []}

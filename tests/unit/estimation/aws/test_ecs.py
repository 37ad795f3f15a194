"""aws_ecs_service beyond its golden: task sizes and launch types."""

from __future__ import annotations

from decimal import Decimal

import pytest

import cloudcostguard
from cloudcostguard.estimation.aws.ecs import task_size
from tests.unit.estimation.aws.single_resource import component, linked_plan, ref


@pytest.mark.parametrize(
    ("written", "size"),
    [
        ("1 vCPU", Decimal(1)),
        ("0.5 vcpu", Decimal("0.5")),
        ("2 GB", Decimal(2)),
        ("2048", Decimal(2)),
        ("256", Decimal("0.25")),
        ("lots", Decimal(0)),
        (None, Decimal(0)),
        ("-1024", Decimal(0)),
    ],
)
def test_task_sizes_read_with_or_without_units(written: str | None, size: Decimal) -> None:
    assert task_size(written) == size


def _service(service: dict[str, object], expressions: dict[str, object]) -> list[tuple[str, Decimal | None]]:
    plan = linked_plan(
        [
            ("aws_ecs_task_definition.task", {"cpu": "512", "memory": "1024"}, {}, {}),
            (
                "aws_ecs_service.svc",
                service,
                {},
                {"task_definition": ref("aws_ecs_task_definition.task.arn"), **expressions},
            ),
        ]
    )
    resources = cloudcostguard.estimate(plan).resources
    svc = next(r for r in resources if r.address == "aws_ecs_service.svc")
    assert next(r for r in resources if r.address == "aws_ecs_task_definition.task").support == "free"
    return [(c.name, c.monthly_quantity) for c in svc.components]


def test_a_fargate_service_holds_its_tasks_size_times_its_count() -> None:
    lines = _service({"launch_type": "FARGATE", "desired_count": 3}, {})
    assert lines == [("Per GB per hour", Decimal(3)), ("Per vCPU per hour", Decimal("1.5"))]


def test_a_spot_capacity_provider_counts_as_fargate() -> None:
    strategy = [{"capacity_provider": "FARGATE_SPOT", "weight": 1, "base": 0}]
    assert _service({"capacity_provider_strategy": strategy, "desired_count": 1}, {})[0] == (
        "Per GB per hour",
        Decimal(1),
    )


def test_a_service_on_ec2_has_no_components_of_its_own() -> None:
    assert _service({"launch_type": "EC2", "desired_count": 3}, {}) == []
    strategy = [{"capacity_provider": "my-asg-provider", "weight": 1, "base": 0}]
    assert _service({"capacity_provider_strategy": strategy, "desired_count": 3}, {}) == []


def test_a_task_definition_outside_the_plan_leaves_the_size_at_zero() -> None:
    plan = linked_plan([("aws_ecs_service.svc", {"launch_type": "FARGATE", "desired_count": 1}, {}, {})])
    (svc,) = cloudcostguard.estimate(plan).resources
    assert component(svc, "Per vCPU per hour").monthly_quantity == 0
    assert component(svc, "Per GB per hour").monthly_quantity == 0


def test_ephemeral_storage_above_the_free_20_gb_is_a_line_per_task() -> None:
    plan = linked_plan(
        [
            (
                "aws_ecs_task_definition.task",
                {"cpu": "1 vCPU", "memory": "2 GB", "ephemeral_storage": [{"size_in_gib": 50}]},
                {},
                {},
            ),
            (
                "aws_ecs_service.svc",
                {"launch_type": "FARGATE", "desired_count": 2},
                {},
                {"task_definition": ref("aws_ecs_task_definition.task.arn")},
            ),
        ]
    )
    svc = next(r for r in cloudcostguard.estimate(plan).resources if r.address == "aws_ecs_service.svc")
    storage = component(svc, "Ephemeral storage (above 20 GB)")
    assert storage.monthly_quantity == 60  # (50 - 20) GB × 2 tasks
    default = _service({"launch_type": "FARGATE", "desired_count": 2}, {})
    assert [name for name, _ in default] == ["Per GB per hour", "Per vCPU per hour"]

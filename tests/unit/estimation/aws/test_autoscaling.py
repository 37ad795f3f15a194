"""aws_autoscaling_group beyond its golden: spot splits, unknown templates, counts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import cloudcostguard
from cloudcostguard.estimation.model import ResourceCost
from tests.unit.estimation.aws.single_resource import HOURS, component, ec2_price, linked_plan, ref

T3_MICRO = {
    "productFamily": "Compute Instance",
    "instanceType": "t3.micro",
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}
TEMPLATE = "aws_launch_template.lt"


def _group(
    after: dict[str, Any], expressions: dict[str, Any], template: dict[str, Any] | None = None
) -> ResourceCost:
    resources = [("aws_autoscaling_group.asg", after, {}, expressions)]
    if template is not None:
        resources.insert(0, (TEMPLATE, template, {}, {}))
    estimate = cloudcostguard.estimate(linked_plan(resources))
    return next(r for r in estimate.resources if r.address == "aws_autoscaling_group.asg")


def _mixed(percent: int, base: int) -> dict[str, Any]:
    return {
        "desired_capacity": 4,
        "mixed_instances_policy": [
            {
                "launch_template": [{"launch_template_specification": [{}], "override": []}],
                "instances_distribution": [
                    {"on_demand_base_capacity": base, "on_demand_percentage_above_base_capacity": percent}
                ],
            }
        ],
    }


MIXED_REF = {
    "mixed_instances_policy": [
        {
            "launch_template": [
                {"launch_template_specification": [{"launch_template_id": ref(f"{TEMPLATE}.id")}]}
            ]
        }
    ]
}


def test_instances_distribution_splits_on_demand_and_spot_lines() -> None:
    group = _group(_mixed(percent=50, base=1), MIXED_REF, {"instance_type": "t3.micro"})
    on_demand = component(group, "Instance usage (Linux/UNIX, on-demand, t3.micro)", TEMPLATE)
    spot = component(group, "Instance usage (Linux/UNIX, spot, t3.micro)", TEMPLATE)
    # 1 base + ceil(50 % of the 3 others) = 3 on-demand, 1 spot.
    assert on_demand.monthly_quantity == 3 * HOURS
    assert on_demand.monthly_cost == 3 * HOURS * ec2_price(**T3_MICRO)
    assert spot.monthly_quantity == HOURS
    assert spot.price_not_found  # the catalog holds on-demand prices only


def test_all_spot_has_no_on_demand_line() -> None:
    group = _group(_mixed(percent=0, base=0), MIXED_REF, {"instance_type": "t3.micro"})
    instance_lines = [c.name for c in group.components if c.name.startswith("Instance usage")]
    assert instance_lines == ["Instance usage (Linux/UNIX, spot, t3.micro)"]


def test_a_template_outside_the_plan_is_an_unpriced_unknown_instance() -> None:
    group = _group({"desired_capacity": 2, "launch_template": [{"id": "lt-0123"}]}, {})
    (line,) = group.components
    assert line.name == "Instance usage (Linux/UNIX, on-demand, unknown)"
    assert line.monthly_quantity == 2 * HOURS
    assert line.price_not_found


def test_usage_instances_override_the_desired_capacity() -> None:
    resources = [
        (TEMPLATE, {"instance_type": "t3.micro"}, {}, {}),
        (
            "aws_autoscaling_group.asg",
            {"desired_capacity": 2, "launch_template": [{}]},
            {},
            {"launch_template": [{"id": ref(f"{TEMPLATE}.id")}]},
        ),
    ]
    usage = {"version": "0.1", "resource_usage": {"aws_autoscaling_group.asg": {"instances": 5}}}
    estimate = cloudcostguard.estimate(linked_plan(resources), usage=usage)
    group = next(r for r in estimate.resources if r.address == "aws_autoscaling_group.asg")
    line = component(group, "Instance usage (Linux/UNIX, on-demand, t3.micro)", TEMPLATE)
    assert line.monthly_quantity == 5 * HOURS
    assert line.monthly_cost == Decimal(5) * HOURS * ec2_price(**T3_MICRO)

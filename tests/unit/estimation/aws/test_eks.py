"""aws_eks_cluster (standard and extended support) and aws_eks_node_group."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.aws import eks
from tests.unit.estimation.aws.single_resource import (
    HOURS,
    bundled_price,
    component,
    ec2_price,
    linked_plan,
    names,
    price_resource,
    ref,
)

STANDARD_RATE = bundled_price(
    "AmazonEKS", productFamily="Compute", usagetypeBase="AmazonEKS-Hours:perCluster"
).unit_price
EXTENDED_RATE = bundled_price(
    "AmazonEKS", productFamily="Compute", usagetypeBase="AmazonEKS-Hours:extendedSupport"
).unit_price
T3_MEDIUM = ec2_price(
    productFamily="Compute Instance", instanceType="t3.medium", operatingSystem="Linux", tenancy="Shared"
)
M5_LARGE = ec2_price(
    productFamily="Compute Instance", instanceType="m5.large", operatingSystem="Linux", tenancy="Shared"
)
GP2 = ec2_price(productFamily="Storage", volumeApiName="gp2")


@pytest.mark.parametrize(
    ("version", "on", "extended"),
    [
        ("1.29", date(2025, 3, 22), False),  # the day before its end of standard support
        ("1.29", date(2025, 3, 23), True),  # standard support ends that day
        ("1.31.2", date(2025, 11, 26), True),
        ("1.34", date(2026, 12, 1), False),
        ("1.34", date(2026, 12, 2), True),
        ("1.21", date(2020, 1, 1), True),  # older than the calendar: long past standard support
        ("1.99", date(2030, 1, 1), False),  # newer than the calendar: not yet
        ("latest", date(2030, 1, 1), False),
        (None, date(2030, 1, 1), False),
    ],
)
def test_extended_support_follows_the_end_of_standard_support_dates(
    version: str | None, on: date, extended: bool
) -> None:
    assert eks.in_extended_support(version, on) is extended


def cluster(**after: Any) -> dict[str, Any]:
    return {"name": "main", "role_arn": "arn:aws:iam::123456789012:role/eks", **after}


def test_a_cluster_on_a_current_version_pays_the_standard_rate() -> None:
    main = price_resource("aws_eks_cluster.main", cluster(version="1.34"), as_of=date(2026, 11, 25))

    assert names(main) == [(None, "EKS cluster")]
    assert main.monthly_cost == 730 * STANDARD_RATE


def test_a_cluster_past_standard_support_pays_the_extended_rate() -> None:
    main = price_resource("aws_eks_cluster.main", cluster(version="1.34"), as_of=date(2026, 12, 2))

    (fee,) = main.components
    assert fee.name == "EKS cluster (extended support)"
    assert fee.monthly_cost == 730 * EXTENDED_RATE


def test_a_cluster_with_an_unknown_version_gets_the_default_version_at_the_standard_rate() -> None:
    main = price_resource("aws_eks_cluster.main", cluster(), unknown={"version": True})

    assert component(main, "EKS cluster").monthly_cost == 730 * STANDARD_RATE


def test_a_cluster_that_opted_out_of_extended_support_is_upgraded_so_pays_standard() -> None:
    main = price_resource(
        "aws_eks_cluster.main", cluster(version="1.25", upgrade_policy=[{"support_type": "STANDARD"}])
    )

    assert component(main, "EKS cluster").monthly_cost == 730 * STANDARD_RATE


def node_group(**after: Any) -> dict[str, Any]:
    return {"cluster_name": "main", "node_group_name": "workers", **after}


def test_a_node_group_prices_desired_size_nodes_and_their_default_disks() -> None:
    workers = price_resource(
        "aws_eks_node_group.workers",
        node_group(
            instance_types=["m5.large"], scaling_config=[{"desired_size": 3, "min_size": 1, "max_size": 5}]
        ),
        unknown={"disk_size": True},
    )

    assert names(workers) == [
        (None, "Instance usage (Linux/UNIX, on-demand, m5.large)"),
        (None, "Storage (general purpose SSD, gp2)"),
    ]
    hours = component(workers, "Instance usage (Linux/UNIX, on-demand, m5.large)")
    assert (hours.monthly_quantity, hours.monthly_cost) == (3 * HOURS, 3 * HOURS * M5_LARGE)
    disks = component(workers, "Storage (general purpose SSD, gp2)")
    assert (disks.monthly_quantity, disks.monthly_cost) == (60, 60 * GP2)


def test_usage_instances_override_desired_size() -> None:
    workers = price_resource(
        "aws_eks_node_group.workers",
        node_group(instance_types=["m5.large"], disk_size=50, scaling_config=[{"desired_size": 3}]),
        usage={"instances": 5},
    )

    assert (
        component(workers, "Instance usage (Linux/UNIX, on-demand, m5.large)").monthly_quantity == 5 * HOURS
    )
    assert component(workers, "Storage (general purpose SSD, gp2)").monthly_quantity == 250


def test_a_node_group_scaled_to_zero_costs_nothing() -> None:
    workers = price_resource(
        "aws_eks_node_group.workers",
        node_group(instance_types=["m5.large"], scaling_config=[{"desired_size": 0}]),
    )

    assert workers.monthly_cost == 0


def test_default_instance_type_is_t3_medium_with_unlimited_credits_per_node() -> None:
    workers = price_resource(
        "aws_eks_node_group.workers",
        node_group(scaling_config=[{"desired_size": 2}]),
        unknown={"instance_types": True},
        usage={"monthly_cpu_credit_hrs": 100},
    )

    assert component(workers, "Instance usage (Linux/UNIX, on-demand, t3.medium)").monthly_cost == (
        2 * HOURS * T3_MEDIUM
    )
    credits = component(workers, "CPU credits")
    assert credits.monthly_quantity == 400  # 100 h × 2 vCPUs × 2 nodes
    assert credits.monthly_cost == 400 * ec2_price(productFamily="CPU Credits", usagetypeBase="CPUCredits:t3")


def test_windows_node_groups_default_to_50_gb_disks_and_windows_prices() -> None:
    workers = price_resource(
        "aws_eks_node_group.win",
        node_group(
            ami_type="WINDOWS_CORE_2022_x86_64",
            instance_types=["m5.large"],
            scaling_config=[{"desired_size": 1}],
        ),
    )

    assert component(workers, "Instance usage (Windows, on-demand, m5.large)").price_not_found
    assert component(workers, "Storage (general purpose SSD, gp2)").monthly_quantity == 50


def test_spot_node_groups_are_named_spot_and_not_priced_on_demand() -> None:
    workers = price_resource(
        "aws_eks_node_group.spot",
        node_group(capacity_type="SPOT", instance_types=["m5.large"], scaling_config=[{"desired_size": 2}]),
    )

    assert component(workers, "Instance usage (Linux/UNIX, spot, m5.large)").price_not_found


def test_a_launch_template_node_group_without_instance_types_is_reported_and_adds_no_disk() -> None:
    workers = price_resource(
        "aws_eks_node_group.templated",
        node_group(
            launch_template=[{"name": "workers", "version": "1"}], scaling_config=[{"desired_size": 2}]
        ),
    )

    assert names(workers) == [(None, "Instance usage (Linux/UNIX, on-demand, unknown)")]
    assert workers.components[0].price_not_found


def test_node_group_usage_is_validated_like_an_instances() -> None:
    with pytest.raises(errors.UsageError, match="operating_system"):
        price_resource(
            "aws_eks_node_group.workers",
            node_group(scaling_config=[{"desired_size": 1}]),
            usage={"operating_system": "plan9"},
        )


def test_node_group_count_falls_back_to_min_size_then_one() -> None:
    from_min = price_resource(
        "aws_eks_node_group.a",
        node_group(instance_types=["m5.large"], scaling_config=[{"min_size": 2}]),
        unknown={"scaling_config": [{"desired_size": True}]},
    )
    nothing = price_resource("aws_eks_node_group.b", node_group(instance_types=["m5.large"]))

    assert from_min.components[0].monthly_quantity == 2 * HOURS
    assert nothing.components[0].monthly_quantity == HOURS
    assert nothing.monthly_cost == HOURS * M5_LARGE + Decimal(20) * GP2


def test_negative_counts_and_disks_are_ignored_never_refunded() -> None:
    workers = price_resource(
        "aws_eks_node_group.odd",
        node_group(
            instance_types=["m5.large"], disk_size=-10, scaling_config=[{"desired_size": -2, "min_size": 1}]
        ),
    )

    assert workers.components[0].monthly_quantity == HOURS
    assert component(workers, "Storage (general purpose SSD, gp2)").monthly_quantity == 20
    assert workers.monthly_cost > 0


# --- node groups launched from a launch template of the plan ---------------------------------------

LT = "aws_launch_template.workers"
GP3 = ec2_price(productFamily="Storage", volumeApiName="gp3")
T3_CREDIT = ec2_price(productFamily="CPU Credits", usagetypeBase="CPUCredits:t3")
MONITORING = bundled_price("AmazonCloudWatch", productFamily="Metric").unit_price


def templated_group(
    lt: dict[str, Any], *, by: str = "id", usage: dict[str, Any] | None = None, **group: Any
) -> Any:
    plan = linked_plan(
        [
            (LT, {"name": "workers", **lt}, {"id": True, "latest_version": True}, {}),
            (
                "aws_eks_node_group.workers",
                node_group(launch_template=[{"version": "1"}], scaling_config=[{"desired_size": 3}], **group),
                {"launch_template": [{"id": True, "name": True}]},
                {"launch_template": [{by: ref(f"{LT}.{by}")}]},
            ),
        ]
    )
    estimate = cloudcostguard.estimate(
        plan,
        usage={"version": "0.1", "resource_usage": {"aws_eks_node_group.workers": usage}} if usage else None,
    )
    return estimate.resources[1]


@pytest.mark.parametrize("by", ["id", "name"])
def test_a_node_group_runs_its_templates_type_and_disks_for_each_node(by: str) -> None:
    workers = templated_group(
        {
            "instance_type": "m5.large",
            "monitoring": [{"enabled": True}],
            "block_device_mappings": [
                {"device_name": "/dev/xvda", "ebs": [{"volume_type": "gp3", "volume_size": 40}]}
            ],
        },
        by=by,
    )

    assert names(workers) == [
        (LT, "Instance usage (Linux/UNIX, on-demand, m5.large)"),
        (LT, "EC2 detailed monitoring"),
        (f"{LT} › block_device_mapping[0]", "Storage (general purpose SSD, gp3)"),
    ]
    assert component(workers, "Instance usage (Linux/UNIX, on-demand, m5.large)", LT).monthly_cost == (
        3 * HOURS * M5_LARGE
    )
    assert component(workers, "EC2 detailed monitoring", LT).monthly_cost == 3 * 7 * MONITORING
    assert workers.monthly_cost == 3 * HOURS * M5_LARGE + 3 * 7 * MONITORING + 3 * 40 * GP3


def test_a_template_without_a_type_takes_the_node_groups_first_instance_type() -> None:
    workers = templated_group({"block_device_mappings": []}, instance_types=["m5.large", "c5.large"])

    assert names(workers) == [(LT, "Instance usage (Linux/UNIX, on-demand, m5.large)")]


def test_burstable_nodes_from_a_template_pay_credits_unless_the_template_says_standard() -> None:
    unlimited = templated_group({"instance_type": "t3.medium"}, usage={"monthly_cpu_credit_hrs": 10})
    standard = templated_group(
        {"instance_type": "t3.medium", "credit_specification": [{"cpu_credits": "standard"}]},
        usage={"monthly_cpu_credit_hrs": 10},
    )

    # 3 nodes × 10 hours × 2 vCPUs (t3.medium)
    assert component(unlimited, "CPU credits", LT).monthly_cost == 3 * 10 * 2 * T3_CREDIT
    assert [name for _, name in names(standard)] == ["Instance usage (Linux/UNIX, on-demand, t3.medium)"]


@pytest.mark.parametrize(
    ("lt", "group"),
    [
        ({"instance_type": "m5.large", "instance_market_options": [{"market_type": "spot"}]}, {}),
        ({"instance_type": "m5.large"}, {"capacity_type": "SPOT"}),
    ],
)
def test_spot_nodes_from_a_template_are_named_spot_without_an_on_demand_price(
    lt: dict[str, Any], group: dict[str, Any]
) -> None:
    workers = templated_group(lt, **group)

    assert component(workers, "Instance usage (Linux/UNIX, spot, m5.large)", LT).price_not_found


def test_a_template_outside_the_plan_leaves_the_node_group_as_before() -> None:
    plan = linked_plan(
        [
            (
                "aws_eks_node_group.workers",
                node_group(launch_template=[{"version": "1"}], scaling_config=[{"desired_size": 3}]),
                {"launch_template": [{"id": True}]},
                {"launch_template": [{"id": ref("data.aws_launch_template.shared.id")}]},
            )
        ]
    )

    (workers,) = cloudcostguard.estimate(plan).resources

    assert names(workers) == [(None, "Instance usage (Linux/UNIX, on-demand, unknown)")]

"""estimation/aws/linked.py: which instances of a referenced or referring resource are linked to the one
being priced, and their planned values; and every pricer that follows links survives odd values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.aws import linked
from cloudcostguard.estimation.registry import PricingContext
from cloudcostguard.estimation.usage import NO_USAGE
from cloudcostguard.plan.reader import read_plan
from tests.unit.estimation.aws.single_resource import BUNDLED, linked_plan, ref


def context(plan: dict[str, Any], address: str) -> PricingContext:
    """The after-side context the estimator would give the pricer of ``address``."""
    parsed = read_plan(plan, default_region="us-east-1")
    (change,) = [c for c in parsed.resource_changes if c.address == address]
    return PricingContext(
        change.address,
        change.resource_type,
        change.region,
        Attributes(change.after, change.after_unknown),
        NO_USAGE,
        BUNDLED,
        Decimal(730),
        references=parsed.references,
    )


def test_a_reference_inside_a_module_instance_links_to_that_instance_only() -> None:
    expressions = {"launch_template": [{"id": ref("aws_launch_template.lt.id")}]}
    plan = linked_plan(
        [
            ('module.app["a"].aws_launch_template.lt', {"instance_type": "m5.large"}, None, {}),
            ('module.app["b"].aws_launch_template.lt', {"instance_type": "c5.large"}, None, {}),
            ('module.app["a"].aws_instance.web', {"launch_template": [{}]}, None, expressions),
            ('module.app["b"].aws_instance.web', {"launch_template": [{}]}, None, expressions),
        ]
    )

    for key, instance_type in (("a", "m5.large"), ("b", "c5.large")):
        ctx = context(plan, f'module.app["{key}"].aws_instance.web')
        (template,) = linked.referred(ctx, "launch_template.id", "aws_launch_template")
        assert template.address == f'module.app["{key}"].aws_launch_template.lt'
        assert template.attrs.text("instance_type") == instance_type


def test_referred_keeps_to_the_requested_types_and_attribute() -> None:
    plan = linked_plan(
        [
            ("aws_launch_template.lt", {"instance_type": "m5.large"}, None, {}),
            ("aws_ebs_volume.data", {"size": 10}, None, {}),
            ("aws_instance.web", {}, None, {"launch_template": [{"id": ref("aws_launch_template.lt.id")}]}),
        ]
    )
    ctx = context(plan, "aws_instance.web")

    assert linked.referred(ctx, "launch_template.id", "aws_ebs_volume") == []
    assert linked.referred(ctx, "launch_template.name", "aws_launch_template") == []
    assert [t.via for t in linked.referred(ctx, "launch_template.id", "aws_launch_template")] == [
        "launch_template.id"
    ]


def test_referrers_list_each_referring_instance_once_per_attribute() -> None:
    nat = {"allocation_id": ref("aws_eip.ip.id"), "secondary_allocation_ids": ref("aws_eip.ip.id")}
    plan = linked_plan(
        [
            ("aws_eip.ip", {}, {"id": True}, {}),
            ("aws_nat_gateway.main[0]", {}, {"allocation_id": True}, nat),
            ("aws_nat_gateway.main[1]", {}, {"allocation_id": True}, nat),
        ]
    )
    ctx = context(plan, "aws_eip.ip")

    found = linked.referrers(
        ctx, ("aws_nat_gateway", "allocation_id"), ("aws_nat_gateway", "secondary_allocation_ids")
    )

    assert sorted((link.address, link.via) for link in found) == [
        ("aws_nat_gateway.main[0]", "allocation_id"),
        ("aws_nat_gateway.main[0]", "secondary_allocation_ids"),
        ("aws_nat_gateway.main[1]", "allocation_id"),
        ("aws_nat_gateway.main[1]", "secondary_allocation_ids"),
    ]


@pytest.mark.parametrize(
    ("values", "unknown", "path", "expected"),
    [
        ({"allocation_id": "eipalloc-1"}, {}, "allocation_id", ["eipalloc-1"]),
        ({}, {"allocation_id": True}, "allocation_id", None),
        ({"secondary_allocation_ids": ["a", "b"]}, {}, "secondary_allocation_ids", ["a", "b"]),
        ({"subnet_mapping": []}, {}, "subnet_mapping.allocation_id", []),
        (
            {"subnet_mapping": [{"allocation_id": "a"}, {"allocation_id": "b"}]},
            {},
            "subnet_mapping.allocation_id",
            ["a", "b"],
        ),
        # One of the two unknown: the known one alone must not pass for the whole list.
        (
            {"subnet_mapping": [{"allocation_id": "a"}, {"subnet_id": "s"}]},
            {"subnet_mapping": [{}, {"allocation_id": True}]},
            "subnet_mapping.allocation_id",
            None,
        ),
        ({"subnet_mapping": "oops"}, {}, "subnet_mapping.allocation_id", None),
        ({"allocation_id": None}, {}, "allocation_id", None),
    ],
)
def test_known_values_are_all_the_values_at_a_path_or_none(
    values: dict[str, Any], unknown: dict[str, Any], path: str, expected: list[str] | None
) -> None:
    link = linked.Linked("aws_lb.x", "aws_lb", path, Attributes(values, unknown), values, unknown)

    assert linked.known_values(link) == expected


ODD_VALUES: list[Any] = [None, 7, "x", [], [None], {"a": 1}, [{"size": []}], True]
TEMPLATE_FIELDS = (
    "instance_type",
    "placement",
    "monitoring",
    "credit_specification",
    "ebs_optimized",
    "block_device_mappings",
    "instance_market_options",
)
TARGET_FIELDS = ("resource_id", "scalable_dimension", "min_capacity")


@pytest.mark.parametrize("odd", ODD_VALUES)
def test_odd_values_of_linked_resources_never_raise(odd: Any) -> None:
    """Every pricer that follows a link, fed a linked resource whose values are all ``odd``."""
    plan = linked_plan(
        [
            ("aws_launch_template.lt", dict.fromkeys(TEMPLATE_FIELDS, odd), None, {}),
            (
                "aws_instance.web",
                {"launch_template": [{}]},
                {"tenancy": True, "host_id": True},
                {
                    "launch_template": [{"id": ref("aws_launch_template.lt.id")}],
                    "host_id": ref("aws_ec2_host.h.id"),
                },
            ),
            (
                "aws_eks_node_group.workers",
                {"launch_template": [{}], "scaling_config": odd},
                None,
                {"launch_template": [{"name": ref("aws_launch_template.lt.name")}]},
            ),
            ("aws_ebs_volume.data", {"size": odd}, None, {}),
            (
                "aws_ebs_snapshot.data",
                {},
                {"volume_size": True},
                {"volume_id": ref("aws_ebs_volume.data.id")},
            ),
            (
                "aws_db_instance.primary",
                dict.fromkeys(("engine", "engine_version", "license_model"), odd),
                None,
                {},
            ),
            (
                "aws_db_instance.replica",
                {"instance_class": "db.t3.large"},
                {"engine": True},
                {"replicate_source_db": ref("aws_db_instance.primary.id")},
            ),
            ("aws_eip.ip", {"allocation_id": "eipalloc-1"}, None, {}),
            (
                "aws_lb.public",
                {"subnet_mapping": odd},
                None,
                {"subnet_mapping": [{"allocation_id": ref("aws_eip.ip.id")}]},
            ),
            (
                "aws_dynamodb_table.t",
                {"billing_mode": "PROVISIONED", "name": odd, "write_capacity": 5},
                None,
                {},
            ),
            (
                "aws_elasticache_replication_group.g",
                {"node_type": "cache.m4.large", "replication_group_id": odd, "num_node_groups": 2},
                None,
                {},
            ),
            (
                "aws_appautoscaling_target.t",
                dict.fromkeys(TARGET_FIELDS, odd),
                None,
                {"resource_id": ref("aws_dynamodb_table.t.name")},
            ),
            (
                "aws_appautoscaling_target.g",
                dict.fromkeys(TARGET_FIELDS, odd),
                None,
                {"resource_id": ref("aws_elasticache_replication_group.g.replication_group_id")},
            ),
        ]
    )

    estimate = cloudcostguard.estimate(plan)

    assert {r.resource_type for r in estimate.resources if r.support == "priced"} >= {
        "aws_instance",
        "aws_ebs_snapshot",
        "aws_db_instance",
        "aws_eip",
        "aws_dynamodb_table",
        "aws_elasticache_replication_group",
    }

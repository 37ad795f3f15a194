"""aws_instance: compute, EBS-optimized surcharge, monitoring, CPU credits, tenancy, block devices."""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord
from tests.unit.estimation.aws.single_resource import (
    HOURS,
    bundled_price,
    component,
    ec2_price,
    linked_plan,
    names,
    plan_of,
    price_resource,
    ref,
)
from tests.unit.estimation.goldens import parse_golden

CENT = Decimal("0.01")
CMD_GOLDENS = Path(__file__).resolve().parent / "cmd_goldens"


def box_price(instance_type: str, region: str = "us-east-1") -> Decimal:
    return ec2_price(
        region,
        productFamily="Compute Instance",
        instanceType=instance_type,
        operatingSystem="Linux",
        tenancy="Shared",
        preInstalledSw="NA",
        capacitystatus="Used",
        licenseModel="No License required",
    )


GP2_PRICE = ec2_price(productFamily="Storage", volumeApiName="gp2")
CREDIT_PRICE_T3 = ec2_price(productFamily="CPU Credits", usagetypeBase="CPUCredits:t3")
MONITORING_PRICE = bundled_price("AmazonCloudWatch", productFamily="Metric").unit_price


def instance(instance_type: str | None = "m5.large", **after: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"ami": "ami-1", "root_block_device": [], "ebs_block_device": []}
    if instance_type is not None:
        values["instance_type"] = instance_type
    values.update(after)
    return values


NEW_INSTANCE_UNKNOWN = {
    "root_block_device": True,
    "ebs_block_device": True,
    "tenancy": True,
    "ebs_optimized": True,
}


def test_an_on_demand_instance_pays_its_hours_and_a_default_8_gb_gp2_root_volume() -> None:
    web = price_resource("aws_instance.web", instance(), unknown=NEW_INSTANCE_UNKNOWN)

    assert names(web) == [
        (None, "Instance usage (Linux/UNIX, on-demand, m5.large)"),
        ("root_block_device", "Storage (general purpose SSD, gp2)"),
    ]
    assert component(web, "Instance usage (Linux/UNIX, on-demand, m5.large)").monthly_cost == 730 * box_price(
        "m5.large"
    )
    assert web.monthly_cost == 730 * box_price("m5.large") + 8 * GP2_PRICE


def test_monthly_hours_from_usage_replace_the_full_month() -> None:
    web = price_resource("aws_instance.web", instance(), usage={"monthly_hrs": 100})

    hours = component(web, "Instance usage (Linux/UNIX, on-demand, m5.large)")
    assert (hours.monthly_quantity, hours.monthly_cost) == (100, 100 * box_price("m5.large"))


def test_block_devices_are_sub_resources_with_their_own_volume_prices() -> None:
    web = price_resource(
        "aws_instance.web",
        instance(
            root_block_device=[{"volume_size": 30, "volume_type": "gp3"}],
            ebs_block_device=[
                {"device_name": "xvdf", "volume_size": 100, "volume_type": "io1", "iops": 400},
                {"device_name": "xvdg", "volume_size": 500, "volume_type": "st1"},
            ],
        ),
    )

    assert names(web)[1:] == [
        ("root_block_device", "Storage (general purpose SSD, gp3)"),
        ("ebs_block_device[0]", "Storage (provisioned IOPS SSD, io1)"),
        ("ebs_block_device[0]", "Provisioned IOPS"),
        ("ebs_block_device[1]", "Storage (throughput optimized HDD, st1)"),
    ]
    iops = component(web, "Provisioned IOPS", "ebs_block_device[0]")
    assert iops.monthly_cost == 400 * ec2_price(
        productFamily="System Operation", volumeApiName="io1", usagetypeBase="EBS:VolumeP-IOPS.piops"
    )


def test_detailed_monitoring_adds_seven_metrics_at_the_first_tier_price() -> None:
    web = price_resource("aws_instance.web", instance(monitoring=True))

    monitoring = component(web, "EC2 detailed monitoring")
    assert (monitoring.unit, monitoring.monthly_quantity) == ("metrics", 7)
    assert monitoring.monthly_cost == 7 * MONITORING_PRICE


def test_t3_is_unlimited_by_default_and_its_credits_wait_for_usage() -> None:
    burst = price_resource("aws_instance.burst", instance("t3.medium"))

    credits = component(burst, "CPU credits")
    assert credits.usage_based and credits.monthly_cost is None
    assert credits.price == CREDIT_PRICE_T3


def test_cpu_credit_hours_multiply_the_instance_types_vcpus_when_usage_gives_none() -> None:
    burst = price_resource("aws_instance.burst", instance("t3.xlarge"), usage={"monthly_cpu_credit_hrs": 100})

    credits = component(burst, "CPU credits")
    assert credits.monthly_quantity == 400  # t3.xlarge has 4 vCPUs
    assert credits.monthly_cost == 400 * CREDIT_PRICE_T3


def test_vcpu_count_from_usage_wins() -> None:
    burst = price_resource(
        "aws_instance.burst", instance("t3.medium"), usage={"monthly_cpu_credit_hrs": 730, "vcpu_count": 2}
    )

    assert component(burst, "CPU credits").monthly_cost == 1460 * CREDIT_PRICE_T3


@pytest.mark.parametrize(
    ("instance_type", "credit_specification"),
    [
        ("t2.micro", []),
        ("t3.micro", [{"cpu_credits": "standard"}]),
        ("m5.large", [{"cpu_credits": "unlimited"}]),
    ],
)
def test_standard_mode_and_non_burstable_instances_have_no_credit_line(
    instance_type: str, credit_specification: list[dict[str, str]]
) -> None:
    resource = price_resource(
        "aws_instance.web",
        instance(instance_type, credit_specification=credit_specification),
        usage={"monthly_cpu_credit_hrs": 100},
    )

    assert "CPU credits" not in [c.name for c in resource.components]


def test_t2_in_unlimited_mode_pays_credits() -> None:
    burst = price_resource(
        "aws_instance.burst",
        instance("t2.medium", credit_specification=[{"cpu_credits": "unlimited"}]),
        usage={"monthly_cpu_credit_hrs": 300},
    )

    assert component(burst, "CPU credits").monthly_cost == 600 * ec2_price(
        productFamily="CPU Credits", usagetypeBase="CPUCredits:t2"
    )


def test_t3a_credits_without_a_price_are_reported_not_guessed_from_t3() -> None:
    burst = price_resource("aws_instance.burst", instance("t3a.large"), usage={"monthly_cpu_credit_hrs": 10})

    assert component(burst, "CPU credits").price_not_found


def test_ebs_optimized_is_free_on_types_optimized_by_default() -> None:
    web = price_resource("aws_instance.web", instance("m5.large", ebs_optimized=True))

    assert "EBS-optimized usage" not in [c.name for c in web.components]


def test_ebs_optimized_on_a_surcharged_type_without_a_price_is_reported() -> None:
    old = price_resource("aws_instance.old", instance("r3.xlarge", ebs_optimized=True))

    surcharge = component(old, "EBS-optimized usage")
    assert surcharge.price_not_found and surcharge.monthly_quantity == 730


def test_ebs_optimized_surcharge_is_charged_for_the_instances_hours_when_the_catalog_has_it() -> None:
    catalog = InMemoryCatalog(
        [
            PriceRecord(
                "AmazonEC2",
                "us-east-1",
                {
                    "productFamily": "Compute Instance",
                    "instanceType": "c3.xlarge",
                    "usagetype": "EBSOptimized:c3.xlarge",
                },
                "Hrs",
                Decimal("0.02"),
            )
        ],
        source="test",
        version="1",
    )

    old = price_resource(
        "aws_instance.old",
        instance("c3.xlarge", ebs_optimized=True),
        usage={"monthly_hrs": 100},
        catalog=catalog,
    )

    assert component(old, "EBS-optimized usage").monthly_cost == Decimal("2.00")


def test_dedicated_tenancy_asks_for_the_dedicated_price() -> None:
    catalog = InMemoryCatalog(
        [
            PriceRecord(
                "AmazonEC2",
                "us-east-1",
                {
                    "productFamily": "Compute Instance",
                    "instanceType": "m5.large",
                    "operatingSystem": "Linux",
                    "tenancy": tenancy,
                    "preInstalledSw": "NA",
                    "capacitystatus": "Used",
                    "licenseModel": "No License required",
                },
                "Hrs",
                Decimal(price),
            )
            for tenancy, price in (("Shared", "0.096"), ("Dedicated", "0.106"))
        ],
        source="test",
        version="1",
    )

    dedicated = price_resource("aws_instance.web", instance(tenancy="dedicated"), catalog=catalog)
    shared = price_resource("aws_instance.web", instance(tenancy="default"), catalog=catalog)

    assert dedicated.components[0].monthly_cost == Decimal("77.380")
    assert shared.components[0].monthly_cost == Decimal("70.080")
    assert price_resource("aws_instance.web", instance(tenancy="dedicated")).components[0].price_not_found


@pytest.mark.parametrize("placement", [{"host_id": "h-0123456789abcdef0"}, {"tenancy": "host"}])
def test_an_instance_on_a_dedicated_host_pays_no_compute(placement: dict[str, str]) -> None:
    hosted = price_resource("aws_instance.mac", instance("mac1.metal", **placement))

    assert names(hosted) == [("root_block_device", "Storage (general purpose SSD, gp2)")]


def test_spot_and_reserved_instances_are_named_so_and_have_no_on_demand_price() -> None:
    spot = price_resource("aws_instance.spot", instance(instance_market_options=[{"market_type": "spot"}]))
    reserved = price_resource(
        "aws_instance.ri",
        instance(),
        usage={
            "reserved_instance_type": "standard",
            "reserved_instance_term": "1_year",
            "reserved_instance_payment_option": "all_upfront",
        },
    )

    assert component(spot, "Instance usage (Linux/UNIX, spot, m5.large)").price_not_found
    assert component(reserved, "Instance usage (Linux/UNIX, reserved, m5.large)").price_not_found


def test_an_invalid_reservation_in_usage_is_a_usage_error() -> None:
    with pytest.raises(
        errors.UsageError, match="reserved_instance_term must be one of 1_year, 3_year, not '2_year'"
    ):
        price_resource(
            "aws_instance.ri",
            instance(),
            usage={
                "reserved_instance_type": "standard",
                "reserved_instance_term": "2_year",
                "reserved_instance_payment_option": "no_upfront",
            },
        )


def test_operating_system_comes_from_usage() -> None:
    windows = price_resource("aws_instance.win", instance(), usage={"operating_system": "Windows"})

    # The samples hold Linux prices only: Windows is named and reported, never priced as Linux.
    assert component(windows, "Instance usage (Windows, on-demand, m5.large)").price_not_found
    with pytest.raises(errors.UsageError, match="operating_system must be one of linux, windows, rhel, suse"):
        price_resource("aws_instance.win", instance(), usage={"operating_system": "beos"})


def test_an_instance_type_not_known_at_plan_time_is_reported_without_a_price() -> None:
    templated = price_resource(
        "aws_instance.from_template",
        instance(None, launch_template=[{"version": "$Default"}]),
        unknown={"instance_type": True, "launch_template": [{"id": True}]},
    )

    assert component(templated, "Instance usage (Linux/UNIX, on-demand, unknown)").price_not_found


def test_wrongly_typed_attributes_never_raise() -> None:
    odd = price_resource(
        "aws_instance.odd",
        instance(
            "t3.micro",
            monitoring="yes",
            ebs_optimized=1,
            credit_specification="unlimited",
            root_block_device={"volume_size": "ten"},
            ebs_block_device=["xvdf", {"volume_size": 5}],
        ),
    )

    assert names(odd) == [
        (None, "Instance usage (Linux/UNIX, on-demand, t3.micro)"),
        (None, "CPU credits"),
        ("root_block_device", "Storage (general purpose SSD, gp2)"),
        ("ebs_block_device[0]", "Storage (general purpose SSD, gp2)"),
    ]
    assert component(odd, "Storage (general purpose SSD, gp2)", "root_block_device").monthly_quantity == 8


def test_other_regions_are_priced_from_their_own_rows() -> None:
    eu = price_resource("aws_instance.eu", instance("t3.small"), region="eu-west-1")

    assert component(eu, "Instance usage (Linux/UNIX, on-demand, t3.small)").monthly_cost == 730 * box_price(
        "t3.small", "eu-west-1"
    )


# --- Infracost's CLI goldens ----------------------------------------------------------------------

WEB_APP = instance(
    "m5.4xlarge",
    root_block_device=[{"volume_size": 50}],
    ebs_block_device=[{"device_name": "my_data", "volume_type": "io1", "volume_size": 1000, "iops": 800}],
)
BLOCK_UNKNOWN = {"root_block_device": [{"volume_type": True}], "ebs_block_device": [{}], "tenancy": True}


def _json_golden() -> dict[str, Any]:
    text = (CMD_GOLDENS / "breakdown_format_json.golden").read_text()
    document, _ = json.JSONDecoder().raw_decode(text)
    assert isinstance(document, dict)
    return document


def test_breakdown_format_json_golden_instances_are_reproduced() -> None:
    golden = {r["name"]: r for r in _json_golden()["projects"][0]["breakdown"]["resources"]}
    estimate = cloudcostguard.estimate(
        plan_of(
            [
                ("aws_instance.web_app", WEB_APP, BLOCK_UNKNOWN),
                ("aws_instance.zero_cost_instance", WEB_APP, BLOCK_UNKNOWN),
            ]
        ),
        usage={
            "resource_usage": {
                "aws_instance.zero_cost_instance": {
                    "reserved_instance_type": "standard",
                    "reserved_instance_term": "1_year",
                    "reserved_instance_payment_option": "all_upfront",
                }
            }
        },
    )

    for resource in estimate.resources:
        expected = golden[resource.address]
        rows = [(None, c) for c in expected["costComponents"]] + [
            (sub["name"], c) for sub in expected["subresources"] for c in sub["costComponents"]
        ]
        assert len(rows) == len(resource.components)
        for subresource, row in rows:
            ours = component(resource, row["name"], subresource)
            assert (ours.unit, ours.monthly_quantity) == (row["unit"], Decimal(row["monthlyQuantity"]))
            if resource.address == "aws_instance.zero_cost_instance" and subresource is None:
                # Infracost prices the reservation; our catalog is on-demand only, so no price is claimed.
                assert ours.price_not_found
                continue
            assert (ours.price, ours.monthly_cost) == (Decimal(row["price"]), Decimal(row["monthlyCost"]))
    assert estimate.resources[0].monthly_cost == Decimal(golden["aws_instance.web_app"]["monthlyCost"])


def test_breakdown_with_multiple_providers_golden_aws_rows_are_reproduced_or_reported() -> None:
    golden = parse_golden(CMD_GOLDENS / "breakdown_with_multiple_providers.golden")
    plan = plan_of([("aws_instance.us_east_1", WEB_APP, BLOCK_UNKNOWN)])
    tokyo = plan_of([("aws_instance.ap_northeast_1", WEB_APP, BLOCK_UNKNOWN)], region="ap-northeast-1")
    plan["resource_changes"] += tokyo["resource_changes"]
    # Two providers: the default one in us-east-1, an alias for Tokyo.
    plan["configuration"]["provider_config"]["aws.tokyo"] = {
        "name": "aws",
        "alias": "tokyo",
        "expressions": {"region": {"constant_value": "ap-northeast-1"}},
    }
    plan["configuration"]["root_module"] = {
        "resources": [
            {
                "address": f"aws_instance.{name}",
                "mode": "managed",
                "type": "aws_instance",
                "name": name,
                "provider_config_key": provider,
                "expressions": {},
            }
            for name, provider in (("us_east_1", "aws"), ("ap_northeast_1", "aws.tokyo"))
        ]
    }

    estimate = cloudcostguard.estimate(plan)

    by_address = {r.address: r for r in estimate.resources}
    assert by_address["aws_instance.ap_northeast_1"].region == "ap-northeast-1"
    compared = 0
    for row in golden.rows:
        resource = by_address.get(row.resource)
        if resource is None:
            assert row.resource.startswith("google_")
            continue
        ours = component(resource, row.name, row.subresource)
        assert ours.monthly_quantity == row.monthly_quantity
        if resource.region == "ap-northeast-1":
            # No Tokyo prices in the samples: reported, never filled in from us-east-1.
            assert ours.price_not_found
        else:
            assert (
                ours.monthly_cost is not None
                and ours.monthly_cost.quantize(CENT, ROUND_HALF_UP) == row.monthly_cost
            )
        compared += 1
    assert compared == 8
    assert by_address["aws_instance.us_east_1"].monthly_cost == HOURS * box_price("m5.4xlarge") + Decimal(182)


# --- launched from a launch template of the plan ----------------------------------------------------

IO1_GB = ec2_price(productFamily="Storage", volumeApiName="io1")
IO1_IOPS = ec2_price(
    productFamily="System Operation", volumeApiName="io1", usagetypeBase="EBS:VolumeP-IOPS.piops"
)
GP3_GB = ec2_price(productFamily="Storage", volumeApiName="gp3")
# What a create-time plan leaves unknown on an instance launched from a template.
FROM_TEMPLATE_UNKNOWN = {**NEW_INSTANCE_UNKNOWN, "ami": True, "instance_type": True, "monitoring": True}
LT_UNKNOWN = {"id": True, "arn": True, "latest_version": True}


def from_template(**after: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"launch_template": [{"version": "$Default"}], "credit_specification": []}
    values.update(after)
    return values


def template(**after: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": "web",
        "image_id": "ami-1",
        "instance_type": "m5.large",
        "ebs_optimized": "",
        "monitoring": [],
        "credit_specification": [],
        "placement": [],
        "instance_market_options": [],
        "block_device_mappings": [],
    }
    values.update(after)
    return values


def priced_from_template(
    lt: dict[str, Any],
    after: dict[str, Any] | None = None,
    unknown: dict[str, Any] | None = None,
    *,
    by: str = "id",
    usage: dict[str, Any] | None = None,
) -> Any:
    plan = linked_plan(
        [
            ("aws_launch_template.web", lt, LT_UNKNOWN, {}),
            (
                "aws_instance.web",
                after if after is not None else from_template(),
                unknown if unknown is not None else FROM_TEMPLATE_UNKNOWN,
                {"launch_template": [{by: ref(f"aws_launch_template.web.{by}")}]},
            ),
        ]
    )
    estimate = cloudcostguard.estimate(
        plan, usage={"version": "0.1", "resource_usage": {"aws_instance.web": usage}} if usage else None
    )
    return estimate.resources[1]


@pytest.mark.parametrize("by", ["id", "name"])
def test_an_instance_takes_type_monitoring_and_settings_from_its_template(by: str) -> None:
    web = priced_from_template(template(ebs_optimized="true", monitoring=[{"enabled": True}]), by=by)

    assert names(web) == [
        (None, "Instance usage (Linux/UNIX, on-demand, m5.large)"),
        (None, "EC2 detailed monitoring"),  # m5 is EBS-optimized for free: no surcharge line
        ("root_block_device", "Storage (general purpose SSD, gp2)"),
    ]
    assert web.monthly_cost == 730 * box_price("m5.large") + 7 * MONITORING_PRICE + 8 * GP2_PRICE


@pytest.mark.parametrize(
    ("credits", "has_credit_line"), [("unlimited", True), ("standard", False), (None, True)]
)
def test_a_templates_credit_specification_applies_to_a_burstable_instance(
    credits: str | None, has_credit_line: bool
) -> None:
    spec = [{"cpu_credits": credits}] if credits else []
    web = priced_from_template(
        template(instance_type="t3.medium", credit_specification=spec),
        usage={"monthly_cpu_credit_hrs": 100},
    )

    if has_credit_line:
        # t3.medium has 2 vCPUs; without a specification T3 launches unlimited.
        assert component(web, "CPU credits").monthly_cost == 100 * 2 * CREDIT_PRICE_T3
    else:
        assert "CPU credits" not in [name for _, name in names(web)]


def test_the_instances_own_values_win_over_its_templates() -> None:
    web = priced_from_template(
        template(monitoring=[{"enabled": True}], placement=[{"tenancy": "dedicated"}]),
        from_template(instance_type="c5.large", monitoring=False, tenancy="default"),
        {"root_block_device": True, "ebs_block_device": True, "ebs_optimized": True},
    )

    assert names(web) == [
        (None, "Instance usage (Linux/UNIX, on-demand, c5.large)"),
        ("root_block_device", "Storage (general purpose SSD, gp2)"),
    ]
    assert web.components[0].monthly_cost == 730 * box_price("c5.large")


def test_a_templates_dedicated_tenancy_asks_for_the_dedicated_price() -> None:
    web = priced_from_template(template(placement=[{"tenancy": "dedicated"}]))

    # The bundled samples hold shared-tenancy prices only: reported, never priced as shared.
    assert component(web, "Instance usage (Linux/UNIX, on-demand, m5.large)").price_not_found


def test_a_templates_spot_market_makes_a_spot_instance() -> None:
    web = priced_from_template(template(instance_market_options=[{"market_type": "spot"}]))

    assert component(web, "Instance usage (Linux/UNIX, spot, m5.large)").price_not_found


def test_block_devices_merge_with_the_templates_mappings_by_device_name() -> None:
    lt = template(
        block_device_mappings=[
            {"device_name": "xvdc", "ebs": [{"volume_type": "io1", "volume_size": 10, "iops": 300}]},
            {"device_name": "xvdd", "ebs": [{"volume_type": "gp3", "volume_size": 50}]},
            {"device_name": "xvde", "ebs": [], "virtual_name": "ephemeral0"},  # instance store: no volume
        ]
    )
    own_devices = [{"device_name": "xvdb", "volume_size": 40}, {"device_name": "xvdc", "volume_size": 20}]
    web = priced_from_template(
        lt,
        from_template(ebs_block_device=own_devices),
        {**FROM_TEMPLATE_UNKNOWN, "ebs_block_device": [{"volume_type": True, "iops": True}] * 2},
    )

    assert names(web)[1:] == [
        ("root_block_device", "Storage (general purpose SSD, gp2)"),
        ("ebs_block_device[0]", "Storage (general purpose SSD, gp2)"),  # xvdb: the instance's alone
        ("ebs_block_device[1]", "Storage (provisioned IOPS SSD, io1)"),  # xvdc: its size, the template's type
        ("ebs_block_device[1]", "Provisioned IOPS"),
        ("ebs_block_device[2]", "Storage (general purpose SSD, gp3)"),  # xvdd: the template's
    ]
    assert (
        component(web, "Storage (provisioned IOPS SSD, io1)", "ebs_block_device[1]").monthly_cost
        == 20 * IO1_GB
    )
    assert component(web, "Provisioned IOPS", "ebs_block_device[1]").monthly_cost == 300 * IO1_IOPS
    assert (
        component(web, "Storage (general purpose SSD, gp3)", "ebs_block_device[2]").monthly_cost
        == 50 * GP3_GB
    )


def test_an_existing_instance_is_priced_from_its_state_without_doubling_the_templates_devices() -> None:
    state = instance(
        "c5.large",
        launch_template=[{"id": "lt-0123456789abcdef0", "name": "web", "version": "$Default"}],
        tenancy="default",
        monitoring=False,
        ebs_optimized=True,
        ebs_block_device=[{"device_name": "xvdc", "volume_type": "io1", "volume_size": 10, "iops": 300}],
    )
    lt = template(
        block_device_mappings=[
            {"device_name": "xvdc", "ebs": [{"volume_type": "io1", "volume_size": 10, "iops": 300}]},
        ]
    )
    plan = linked_plan(
        [
            ("aws_launch_template.web", {**lt, "id": "lt-0123456789abcdef0"}, None, {}),
            (
                "aws_instance.web",
                state,
                None,
                {"launch_template": [{"id": ref("aws_launch_template.web.id")}]},
            ),
        ],
        actions={"aws_launch_template.web": ["no-op"], "aws_instance.web": ["no-op"]},
    )

    web = cloudcostguard.estimate(plan).resources[1]

    assert names(web) == [
        (None, "Instance usage (Linux/UNIX, on-demand, c5.large)"),
        ("root_block_device", "Storage (general purpose SSD, gp2)"),
        ("ebs_block_device[0]", "Storage (provisioned IOPS SSD, io1)"),
        ("ebs_block_device[0]", "Provisioned IOPS"),
    ]


def test_counted_instances_take_the_template_with_their_own_index() -> None:
    # launch_template { id = aws_launch_template.web[count.index].id }
    expressions = {"launch_template": [{"id": ref("aws_launch_template.web.id")}]}
    plan = linked_plan(
        [
            ("aws_launch_template.web[0]", template(instance_type="m5.large"), LT_UNKNOWN, {}),
            ("aws_launch_template.web[1]", template(instance_type="c5.large"), LT_UNKNOWN, {}),
            ("aws_instance.web[0]", from_template(), FROM_TEMPLATE_UNKNOWN, expressions),
            ("aws_instance.web[1]", from_template(), FROM_TEMPLATE_UNKNOWN, expressions),
        ]
    )

    first, second = cloudcostguard.estimate(plan).resources[2:]

    assert first.components[0].name == "Instance usage (Linux/UNIX, on-demand, m5.large)"
    assert second.components[0].name == "Instance usage (Linux/UNIX, on-demand, c5.large)"


@pytest.mark.parametrize(
    "expressions",
    [
        {"launch_template": [{"id": ref("data.aws_launch_template.shared.id")}]},  # a data source
        {"launch_template": [{"id": ref("module.templates.web_id")}]},  # a module output
        {"launch_template": [{"id": ref("aws_launch_template.elsewhere.id")}]},  # not in this plan
        {},
    ],
)
def test_a_template_outside_the_plan_leaves_the_type_unknown(expressions: dict[str, Any]) -> None:
    plan = linked_plan([("aws_instance.web", from_template(), FROM_TEMPLATE_UNKNOWN, expressions)])

    (web,) = cloudcostguard.estimate(plan).resources

    assert component(web, "Instance usage (Linux/UNIX, on-demand, unknown)").price_not_found


def test_a_template_whose_type_is_unknown_leaves_the_type_unknown() -> None:
    lt = template()
    del lt["instance_type"]
    web = priced_from_template(lt, unknown=FROM_TEMPLATE_UNKNOWN)

    assert component(web, "Instance usage (Linux/UNIX, on-demand, unknown)").price_not_found


def test_oddly_shaped_template_values_never_raise() -> None:
    lt = template(
        ebs_optimized=7,
        monitoring="on",
        placement=[None],
        credit_specification={"cpu_credits": 1},
        block_device_mappings=[None, "xvdc", {"device_name": 3, "ebs": [{"volume_size": "big"}]}],
    )

    web = priced_from_template(lt)

    assert web.components[0].name == "Instance usage (Linux/UNIX, on-demand, m5.large)"
    assert component(web, "Storage (general purpose SSD, gp2)", "ebs_block_device[0]").monthly_quantity == 8


# --- on a Dedicated Host created in the same plan ---------------------------------------------------


def test_an_instance_placed_on_a_host_of_the_plan_pays_no_compute() -> None:
    plan = linked_plan(
        [
            ("aws_ec2_host.mac", {"instance_type": "mac1.metal"}, {"id": True}, {}),
            (
                "aws_instance.mac",
                instance("mac1.metal"),
                NEW_INSTANCE_UNKNOWN | {"host_id": True},
                {"host_id": ref("aws_ec2_host.mac.id")},
            ),
            ("aws_instance.web", instance("m5.large"), NEW_INSTANCE_UNKNOWN | {"host_id": True}, {}),
        ]
    )

    _, mac, web = cloudcostguard.estimate(plan).resources

    assert names(mac) == [("root_block_device", "Storage (general purpose SSD, gp2)")]
    assert web.components[0].name == "Instance usage (Linux/UNIX, on-demand, m5.large)"


def test_a_replaced_instance_costs_its_state_before_and_its_templates_type_after() -> None:
    # The template's new version changes the type: the instance is replaced.
    plan = linked_plan(
        [
            ("aws_launch_template.web", template(instance_type="m5.xlarge"), {"latest_version": True}, {}),
            (
                "aws_instance.web",
                from_template(),
                FROM_TEMPLATE_UNKNOWN,
                {"launch_template": [{"id": ref("aws_launch_template.web.id")}]},
            ),
        ],
        actions={"aws_launch_template.web": ["update"], "aws_instance.web": ["delete", "create"]},
    )
    plan["resource_changes"][0]["change"]["before"] = {**template(instance_type="m5.large"), "id": "lt-1"}
    plan["resource_changes"][1]["change"]["before"] = instance(
        "m5.large",
        tenancy="default",
        monitoring=False,
        ebs_optimized=False,
        launch_template=[{"id": "lt-1", "name": "web", "version": "1"}],
    )

    web = cloudcostguard.estimate(plan).resources[1]

    assert web.past_monthly_cost == 730 * box_price("m5.large") + 8 * GP2_PRICE
    assert web.monthly_cost == 730 * box_price("m5.xlarge") + 8 * GP2_PRICE


def test_a_spot_instance_request_names_its_compute_spot_and_prices_its_disks() -> None:
    from tests.unit.estimation.aws.single_resource import component, price_resource

    request = price_resource(
        "aws_spot_instance_request.worker",
        {"instance_type": "t3.micro", "spot_price": "0.01", "root_block_device": [{"volume_size": 20}]},
    )
    compute_line = component(request, "Instance usage (Linux/UNIX, spot, t3.micro)")
    assert compute_line.price_not_found  # spot prices are not in the on-demand catalog
    assert compute_line.monthly_quantity == 730
    disk = component(request, "Storage (general purpose SSD, gp2)", "root_block_device")
    assert disk.monthly_quantity == 20
    assert disk.monthly_cost is not None and disk.monthly_cost > 0

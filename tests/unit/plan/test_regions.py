"""Region of each resource: its own attributes, else its provider configuration's, else the default."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cloudcostguard.plan.reader import read_plan
from cloudcostguard.plan.regions import config_address, region_from_availability_zone
from tests.plans import change, config_resource, plan, provider


def _regions(document: dict[str, Any] | bytes, default_region: str = "us-east-1") -> dict[str, str]:
    return {r.address: r.region for r in read_plan(document, default_region=default_region).resource_changes}


def test_root_provider_region_applies_to_root_resources() -> None:
    document = plan(
        change("aws_nat_gateway.a", ["create"], after={}), providers={"aws": provider("eu-west-1")}
    )
    assert _regions(document) == {"aws_nat_gateway.a": "eu-west-1"}


def test_default_region_when_no_provider_sets_one() -> None:
    document = plan(change("aws_nat_gateway.a", ["create"], after={}), providers={})
    assert _regions(document, default_region="ap-south-1") == {"aws_nat_gateway.a": "ap-south-1"}
    unresolvable = plan(
        change("aws_nat_gateway.a", ["create"], after={}),
        providers={"aws": provider(reference="local.region")},
    )
    assert _regions(unresolvable, default_region="sa-east-1") == {"aws_nat_gateway.a": "sa-east-1"}


def test_provider_alias_is_followed_through_the_configuration() -> None:
    document = plan(
        change("aws_nat_gateway.east", ["create"], after={}),
        change("aws_nat_gateway.west", ["create"], after={}),
        providers={"aws": provider("us-east-1"), "aws.west": provider("us-west-2", alias="west")},
        root_module={
            "resources": [
                config_resource("aws_nat_gateway.east", "aws"),
                config_resource("aws_nat_gateway.west", "aws.west"),
            ]
        },
    )
    assert _regions(document) == {"aws_nat_gateway.east": "us-east-1", "aws_nat_gateway.west": "us-west-2"}


def _module_plan(resource_key: str, providers: dict[str, Any]) -> dict[str, Any]:
    return plan(
        change(
            'module.net["a"].aws_nat_gateway.gw[0]',
            ["create"],
            after={},
            module_address='module.net["a"]',
        ),
        providers=providers,
        root_module={
            "module_calls": {
                "net": {
                    "source": "./net",
                    "module": {"resources": [config_resource("aws_nat_gateway.gw", resource_key)]},
                }
            }
        },
    )


def test_module_provider_key_names_the_modules_own_provider() -> None:
    providers = {
        "aws": provider("us-east-1"),
        "module.net:aws": provider("eu-west-1", module_address="module.net"),
    }
    assert _regions(_module_plan("module.net:aws", providers)) == {
        'module.net["a"].aws_nat_gateway.gw[0]': "eu-west-1"
    }


def test_old_style_module_key_is_understood() -> None:
    # Terraform 0.12-era plans write the module part as the bare call name.
    providers = {"aws": provider("us-east-1"), "module.net:aws": provider("eu-west-1")}
    assert set(_regions(_module_plan("net:aws", providers)).values()) == {"eu-west-1"}
    same_key = {"aws": provider("us-east-1"), "net:aws": provider("us-west-2")}
    assert set(_regions(_module_plan("net:aws", same_key)).values()) == {"us-west-2"}


def test_module_without_its_own_provider_inherits_the_parents() -> None:
    # Older Terraform keeps "module.net:aws" without a region for an inherited provider.
    providers = {"aws": provider("us-west-2"), "module.net:aws": provider(module_address="module.net")}
    assert set(_regions(_module_plan("module.net:aws", providers)).values()) == {"us-west-2"}
    # Newer Terraform normalises the key to the parent's ("aws") and drops the module entry.
    assert set(_regions(_module_plan("aws", {"aws": provider("us-west-2")})).values()) == {"us-west-2"}


def test_passed_aliased_provider_is_used_in_the_module() -> None:
    # `module "net" { providers = { aws = aws.west } }`: Terraform writes the parent's key on the resource.
    providers = {"aws": provider("us-east-1"), "aws.west": provider("us-west-2", alias="west")}
    assert set(_regions(_module_plan("aws.west", providers)).values()) == {"us-west-2"}


def test_nested_module_walks_up_to_the_nearest_provider_with_a_region() -> None:
    document = plan(
        change(
            "module.a.module.b[1].aws_nat_gateway.gw",
            ["create"],
            after={},
            module_address="module.a.module.b[1]",
        ),
        change("module.c.aws_nat_gateway.gw", ["create"], after={}, module_address="module.c"),
        providers={
            "aws": provider("us-east-1"),
            "module.a:aws": provider("eu-west-1", module_address="module.a"),
        },
    )
    assert _regions(document) == {
        "module.a.module.b[1].aws_nat_gateway.gw": "eu-west-1",
        "module.c.aws_nat_gateway.gw": "us-east-1",
    }


def test_opentofu_provider_config_keys_list_takes_the_first() -> None:
    document = plan(
        change("aws_nat_gateway.a", ["create"], after={}),
        providers={"aws": provider("us-east-1"), "aws.b": provider("eu-west-1")},
        root_module={
            "resources": [
                {
                    "address": "aws_nat_gateway.a",
                    "type": "aws_nat_gateway",
                    "name": "a",
                    "provider_config_keys": ["aws.b", "aws"],
                }
            ]
        },
    )
    assert _regions(document) == {"aws_nat_gateway.a": "eu-west-1"}


def test_provider_region_from_a_root_variable() -> None:
    document = plan(
        change("aws_nat_gateway.a", ["create"], after={}),
        providers={"aws": provider(reference="var.region")},
        variables={"region": {"value": "ap-southeast-2"}},
    )
    assert _regions(document) == {"aws_nat_gateway.a": "ap-southeast-2"}


def test_module_provider_region_from_a_module_variable_set_by_the_caller() -> None:
    document = plan(
        change("module.net.aws_nat_gateway.gw", ["create"], after={}, module_address="module.net"),
        change("module.dr.aws_nat_gateway.gw", ["create"], after={}, module_address="module.dr"),
        change("module.dflt.aws_nat_gateway.gw", ["create"], after={}, module_address="module.dflt"),
        providers={
            "aws": provider("us-east-1"),
            "module.net:aws": provider(reference="var.region", module_address="module.net"),
            "module.dr:aws": provider(reference="var.region", module_address="module.dr"),
            "module.dflt:aws": provider(reference="var.region", module_address="module.dflt"),
        },
        variables={"dr_region": {"value": "eu-central-1"}},
        root_module={
            "module_calls": {
                # a constant argument
                "net": {"expressions": {"region": {"constant_value": "eu-west-1"}}, "module": {}},
                # an argument that is the root's variable
                "dr": {"expressions": {"region": {"references": ["var.dr_region"]}}, "module": {}},
                # no argument: the module variable's default
                "dflt": {"module": {"variables": {"region": {"default": "ca-central-1"}}}},
            }
        },
    )
    assert _regions(document) == {
        "module.net.aws_nat_gateway.gw": "eu-west-1",
        "module.dr.aws_nat_gateway.gw": "eu-central-1",
        "module.dflt.aws_nat_gateway.gw": "ca-central-1",
    }


def test_availability_zone_gives_the_region() -> None:
    document = plan(
        change("aws_nat_gateway.a", ["create"], after={"availability_zone": "us-west-2a"}),
        change("aws_nat_gateway.b", ["create"], after={"availability_zones": ["eu-west-1b", "eu-west-1c"]}),
        change("aws_nat_gateway.c", ["create"], after={"availability_zone": "use1-az1"}),  # a zone id: no
        providers={"aws": provider("ap-south-1")},
    )
    assert _regions(document) == {
        "aws_nat_gateway.a": "us-west-2",
        "aws_nat_gateway.b": "eu-west-1",
        "aws_nat_gateway.c": "ap-south-1",
    }


def test_resource_region_attribute_wins_over_the_provider() -> None:
    # AWS provider ≥ 6 gives every resource a `region` argument.
    document = plan(
        change(
            "aws_nat_gateway.a", ["create"], after={"region": "eu-north-1", "availability_zone": "us-west-2a"}
        ),
        providers={"aws": provider("us-east-1")},
    )
    assert _regions(document) == {"aws_nat_gateway.a": "eu-north-1"}


def test_each_side_of_a_change_has_its_own_region() -> None:
    document = plan(
        change(
            "aws_nat_gateway.moved",
            ["delete", "create"],
            before={"region": "us-west-2"},
            after={"region": "eu-west-1"},
        ),
        change(
            "aws_nat_gateway.same", ["update"], before={"region": "eu-west-1"}, after={"region": "eu-west-1"}
        ),
        change("aws_nat_gateway.gone", ["delete"], before={"availability_zone": "us-west-2b"}),
        change(
            "aws_nat_gateway.unknown",
            ["update"],
            before={"region": "us-west-2"},
            after={},
            after_unknown={"region": True},
        ),
        providers={"aws": provider("us-east-1")},
    )
    by_address = {r.address: r for r in read_plan(document).resource_changes}
    assert (
        by_address["aws_nat_gateway.moved"].region,
        by_address["aws_nat_gateway.moved"].before_region,
    ) == (
        "eu-west-1",
        "us-west-2",
    )
    assert by_address["aws_nat_gateway.same"].past_region is None
    assert by_address["aws_nat_gateway.gone"].region == "us-west-2"
    assert (
        by_address["aws_nat_gateway.unknown"].region,
        by_address["aws_nat_gateway.unknown"].before_region,
    ) == (
        "us-east-1",
        "us-west-2",
    )


@pytest.mark.parametrize(
    ("zone", "region"),
    [
        ("us-east-1a", "us-east-1"),
        ("eu-central-2c", "eu-central-2"),
        ("us-gov-west-1a", "us-gov-west-1"),
        ("ap-southeast-5b", "ap-southeast-5"),
        ("use1-az1", None),
        ("us-west-2-lax-1a", None),  # a Local Zone: its region is not in the name alone
        ("", None),
        (None, None),
        (7, None),
    ],
)
def test_region_from_availability_zone(zone: object, region: str | None) -> None:
    assert region_from_availability_zone(zone) == region


def test_config_address_drops_instance_keys() -> None:
    assert (
        config_address('module.a["x"].module.b[0]', "aws_instance", "web")
        == "module.a.module.b.aws_instance.web"
    )
    assert config_address(None, "aws_instance", "web") == "aws_instance.web"


def test_hostile_configuration_shapes_are_ignored() -> None:
    document = plan(
        change("aws_nat_gateway.a", ["create"], after={}), providers={"aws": provider("eu-west-1")}
    )
    document["configuration"]["root_module"] = {"resources": "nope", "module_calls": [1, 2]}
    document["configuration"]["provider_config"]["aws.x"] = "not an object"
    document["variables"] = ["not", "a", "mapping"]
    assert _regions(document) == {"aws_nat_gateway.a": "eu-west-1"}
    document["configuration"] = "nope"
    assert _regions(document, default_region="us-west-1") == {"aws_nat_gateway.a": "us-west-1"}


def test_very_deep_module_trees_are_bounded() -> None:
    # 300 nested module calls (900 JSON levels): read without recursing past the module depth bound.
    document = orjson.dumps(plan(change("aws_nat_gateway.a", ["create"], after={})))
    module = b'{"module_calls": {"m": {"module": ' * 300 + b"{}" + b"}}}" * 300
    raw = document.replace(b'"root_module":{}', b'"root_module":' + module)
    assert raw != document
    assert _regions(raw) == {"aws_nat_gateway.a": "us-east-1"}

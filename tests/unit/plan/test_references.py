"""Cross-resource references read from the plan's configuration expressions."""

from __future__ import annotations

from typing import Any

from cloudcostguard.plan.reader import read_plan
from cloudcostguard.plan.references import PlanReferences, Reference


def _change(address: str, after: dict[str, Any], module: str | None = None) -> dict[str, Any]:
    resource_type, name = address.split(".")[-2:]
    full = f"{module}.{address}" if module else address
    change = {"address": full, "mode": "managed", "type": resource_type, "name": name.split("[")[0]}
    if module:
        change["module_address"] = module
    change["change"] = {"actions": ["create"], "before": None, "after": after, "after_unknown": {}}
    return change


def _plan() -> dict[str, Any]:
    return {
        "format_version": "1.2",
        "resource_changes": [
            _change("aws_eip.nat", {"domain": "vpc"}),
            _change("aws_nat_gateway.gw", {}),
            _change("aws_launch_template.web", {"instance_type": "m5.large"}),
            _change("aws_instance.web[0]", {}),
            _change("aws_instance.web[1]", {}),
            _change("aws_eip.edge", {}, module="module.net"),
            _change("aws_eip_association.edge", {}, module="module.net"),
        ],
        "configuration": {
            "root_module": {
                "resources": [
                    {
                        "address": "aws_eip.nat",
                        "mode": "managed",
                        "type": "aws_eip",
                        "name": "nat",
                        "expressions": {"domain": {"constant_value": "vpc"}},
                    },
                    {
                        "address": "aws_nat_gateway.gw",
                        "mode": "managed",
                        "type": "aws_nat_gateway",
                        "name": "gw",
                        "expressions": {
                            "allocation_id": {"references": ["aws_eip.nat.id", "aws_eip.nat"]},
                            "subnet_id": {"references": ["var.subnet"]},
                        },
                    },
                    {
                        "address": "aws_instance.web",
                        "mode": "managed",
                        "type": "aws_instance",
                        "name": "web",
                        "expressions": {
                            "launch_template": [
                                {
                                    "id": {
                                        "references": [
                                            "aws_launch_template.web.id",
                                            "aws_launch_template.web",
                                        ]
                                    }
                                }
                            ]
                        },
                    },
                    {
                        "address": "data.aws_ami.x",
                        "mode": "data",
                        "type": "aws_ami",
                        "name": "x",
                        "expressions": {"owners": {"references": ["aws_eip.nat"]}},
                    },
                ],
                "module_calls": {
                    "net": {
                        "module": {
                            "resources": [
                                {
                                    "address": "aws_eip_association.edge",
                                    "mode": "managed",
                                    "type": "aws_eip_association",
                                    "name": "edge",
                                    "expressions": {"allocation_id": {"references": ["aws_eip.edge.id"]}},
                                },
                            ]
                        }
                    }
                },
            }
        },
    }


def _references() -> PlanReferences:
    document = _plan()
    plan = read_plan(document)
    return PlanReferences(document["configuration"], plan.resource_changes)


def test_a_nat_gateway_allocation_is_a_reference_to_its_eip_once() -> None:
    assert _references().referencing("aws_eip.nat") == [
        Reference("aws_nat_gateway.gw", "aws_nat_gateway", "allocation_id", "aws_eip.nat")
    ]


def test_references_inside_modules_resolve_to_the_same_module() -> None:
    [reference] = _references().referencing("module.net.aws_eip.edge")
    assert reference.source == "module.net.aws_eip_association.edge"
    assert _references().referencing("aws_eip.edge") == []


def test_nested_block_references_carry_their_dotted_path_and_reach_planned_values() -> None:
    references = _references()
    [template] = references.referenced_from("aws_instance.web", "launch_template")
    assert template.attribute == "launch_template.id"
    [change] = references.changes_of(template.target)
    assert change.after == {"instance_type": "m5.large"}
    assert len(references.changes_of("aws_instance.web")) == 2


def test_variables_data_sources_and_unreferenced_resources_are_not_references() -> None:
    references = _references()
    assert references.referenced_from("aws_nat_gateway.gw", "subnet_id") == []
    assert references.referencing("aws_launch_template.missing") == []
    assert all(r.source_type != "aws_ami" for r in references.referencing("aws_eip.nat"))


def test_malformed_configuration_is_ignored_not_raised() -> None:
    for configuration in (None, [], {"root_module": []}, {"root_module": {"resources": [1, {"address": 2}]}}):
        assert PlanReferences(configuration, []).referencing("aws_eip.nat") == []  # type: ignore[arg-type]


def test_changes_by_type_and_a_cheap_type_check() -> None:
    references = _references()
    assert references.has_type("aws_eip") and not references.has_type("aws_appautoscaling_target")
    assert [c.address for c in references.changes_of_type("aws_instance")] == [
        "aws_instance.web[0]",
        "aws_instance.web[1]",
    ]
    assert references.changes_of_type("aws_appautoscaling_target") == []

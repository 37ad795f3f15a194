"""The large-plan benchmark's plans (issue 10): the full mix holds every priced type, with planned
attributes; the original mix stays the 22 types earlier BENCHMARKS.md rows measured."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.estimation.registry import PRICERS

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "estimate_large_plan.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("estimate_large_plan", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def priced_types(plan: bytes) -> set[str]:
    return {r.resource_type for r in cloudcostguard.estimate(plan).resources if r.support == "priced"}


def test_the_full_mix_prices_every_registered_type(bench: ModuleType) -> None:
    plan = bench.generate_plan(5000, mix="full")
    assert priced_types(plan) == set(PRICERS)
    summary = cloudcostguard.estimate(plan).summary()
    assert set(summary["unsupportedResourceCounts"]) == {"aws_sns_topic_subscription"}
    # The types without a hand-written template draw planned attributes (aws_data_transfer, a
    # usage-only pseudo-resource, has no planned fixture: generic attributes serve it).
    untemplated = set(PRICERS) - set(bench.TEMPLATES)
    drawn = set(bench.fixture_attributes()) & untemplated
    assert len(drawn) >= 0.9 * len(untemplated)


def test_the_original_mix_is_the_22_types_of_the_earlier_rows(bench: ModuleType) -> None:
    plan = bench.generate_plan(2000, mix="original")
    assert priced_types(plan) == set(bench.MIX) & set(PRICERS)
    assert len(priced_types(plan)) == 22
    assert bench.generate_plan(300, mix="original") == bench.generate_plan(300, mix="original")  # seeded
    with pytest.raises(ValueError, match="unknown mix 'new'"):
        bench.mix_weights("new")


def test_the_terraform_shape_lays_the_plan_out_as_terraform_does_and_prices_alike(bench: ModuleType) -> None:
    import orjson

    terraform = bench.generate_plan(400, mix="full", shape="terraform")
    changes = bench.generate_plan(400, mix="full", shape="changes")
    document, lean = orjson.loads(terraform), orjson.loads(changes)
    sections = {"format_version", "terraform_version", "variables", "resource_changes", "configuration"}
    assert set(lean) == sections
    assert {"planned_values", "prior_state"} <= set(document)
    # The same resources and actions; planned values for what exists after, prior state for what did.
    assert [(c["address"], c["change"]["actions"]) for c in document["resource_changes"]] == [
        (c["address"], c["change"]["actions"]) for c in lean["resource_changes"]
    ]

    def addresses(module: dict[str, Any]) -> list[str]:
        found = [resource["address"] for resource in module["resources"]]
        for child in module["child_modules"]:
            assert child["address"].startswith(module.get("address", "module."))
            found += addresses(child)
        return found

    managed = [c for c in document["resource_changes"] if c["mode"] == "managed"]
    assert sorted(addresses(document["planned_values"]["root_module"])) == sorted(
        c["address"] for c in managed if c["change"]["after"] is not None
    )
    assert sorted(addresses(document["prior_state"]["values"]["root_module"])) == sorted(
        c["address"] for c in managed if c["change"]["before"] is not None
    )
    for change in managed:  # a known value is never also unknown
        after, unknown = change["change"]["after"], change["change"]["after_unknown"]
        assert not set(after or {}) & set(unknown)
    # planned_values' share of the bytes is within the Terraform-planned fixtures' (21-35 %).
    assert 0.15 <= len(orjson.dumps(document["planned_values"])) / len(terraform) <= 0.40
    assert len(terraform) > 2 * len(changes)
    priced = cloudcostguard.estimate(terraform).to_dict()["resources"]
    lean_priced = cloudcostguard.estimate(changes).to_dict()["resources"]
    assert len(priced) == len(lean_priced)
    for resource, lean_resource in zip(priced, lean_priced, strict=True):
        if resource["resourceType"] == "aws_vpc_endpoint":
            # Its fixture configuration references two subnets: two interfaces are counted, not one.
            assert resource["name"] == lean_resource["name"]
        else:
            assert resource == lean_resource
    with pytest.raises(ValueError, match="unknown shape 'hcl'"):
        bench.generate_plan(10, shape="hcl")

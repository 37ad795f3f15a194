"""The large-plan benchmark's plans (issue 10): the full mix holds every priced type, with planned
attributes; the original mix stays the 22 types earlier BENCHMARKS.md rows measured."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

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

"""Hostile plans are refused within limits, as a PlanError: 100 000 nested arrays anywhere in the
document (parsers recurse; a RecursionError or a crash would take the operator or webhook down),
unclosed nesting, oversized input."""

from __future__ import annotations

import time
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.k8s.api.models import PlanSource
from cloudcostguard.k8s.cluster.plan_sources import PlanResolver
from cloudcostguard.plan.reader import read_plan
from cloudcostguard.settings import Settings

DEPTH = 100_000
NESTED = b"[" * DEPTH + b"]" * DEPTH
HEAD = b'{"format_version":"1.0",'
CHANGE = b'{"address":"aws_instance.a","type":"aws_instance","change":{"actions":["create"],"after":'

PLACES = {
    "the document itself": NESTED,
    "configuration": HEAD + b'"configuration":' + NESTED + b',"resource_changes":[]}',
    "change.after": HEAD + b'"resource_changes":[' + CHANGE + b'{"tags":' + NESTED + b"}}}]}",
    "change.before": HEAD + b'"resource_changes":[' + CHANGE + b'null,"before":' + NESTED + b"}}]}",
    "planned_values (skipped by the decoder)": HEAD + b'"planned_values":' + NESTED + b"}",
    "a field nobody reads": HEAD + b'"zzz":' + NESTED + b',"resource_changes":[]}',
    "nested objects": HEAD + b'"variables":' + b'{"a":' * DEPTH + b"1" + b"}" * DEPTH + b"}",
    "unclosed": HEAD + b'"configuration":' + b"[" * (10 * DEPTH),
}


@pytest.mark.parametrize("raw", PLACES.values(), ids=PLACES.keys())
def test_deep_nesting_anywhere_is_a_plan_error(raw: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(errors.PlanError, match=r"nests values deeper than 1024 levels: not a Terraform plan"):
        read_plan(raw)
    with pytest.raises(errors.PlanError, match="deeper than 1024 levels"):
        cloudcostguard.estimate(raw)
    assert time.perf_counter() - started < 2.0


def test_oversized_plan_is_refused_before_parsing() -> None:
    raw = HEAD + b'"resource_changes":[' + b" " * 2048 + b"]}"
    with pytest.raises(errors.PlanTooLargeError, match="larger than the limit of 1024 bytes"):
        read_plan(raw, max_bytes=1024)


def deep_dict(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {}
    top = inner
    for _ in range(depth):
        inner["a"] = {}
        inner = inner["a"]
    return top


async def test_deep_inline_plan_is_a_plan_error() -> None:
    plan = {"format_version": "1.0", "resource_changes": [], "variables": deep_dict(600)}
    resolver = PlanResolver(Settings())
    with pytest.raises(errors.PlanError) as caught:
        await resolver.resolve(
            "team-a",
            PlanSource.model_validate({"inline": plan}),
            plan_configmaps={},
            plan_secrets={},
            tofu_plans={},
        )
    assert str(caught.value) == "spec.plan.inline nests values deeper than 254 levels: not a Terraform plan"

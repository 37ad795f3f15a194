"""aws_lambda_function beyond the golden: architectures, duration tiers, memory, storage, rounding."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import cloudcostguard
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.pricing.catalog import Price
from cloudcostguard.pricing.snapshot import load_bundled_catalog

D = Decimal
SNAPSHOT = load_bundled_catalog()


def _components(
    after: dict[str, Any], *, usage: dict[str, Any] | None = None, unknown: dict[str, Any] | None = None
) -> list[CostComponent]:
    plan = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "aws_lambda_function.f",
                "mode": "managed",
                "type": "aws_lambda_function",
                "name": "f",
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": {"function_name": "f", **after},
                    "after_unknown": unknown if unknown is not None else {"ephemeral_storage": True},
                },
            }
        ],
        "configuration": {
            "provider_config": {"aws": {"expressions": {"region": {"constant_value": "us-east-1"}}}}
        },
    }
    estimate = cloudcostguard.estimate(plan, usage={"aws_lambda_function.f": usage} if usage else None)
    [resource] = estimate.resources
    return resource.components


def _duration(suffix: str = "") -> Price:
    price = SNAPSHOT.lookup(
        "AWSLambda",
        "us-east-1",
        productFamily="Serverless",
        group=f"AWS-Lambda-Duration{suffix}",
        usagetypeBase=f"Lambda-GB-Second{suffix}",
    )
    assert price is not None
    return price


def test_gb_seconds_are_requests_times_memory_times_duration_rounded_up_to_the_millisecond() -> None:
    components = _components(
        {"memory_size": 1024}, usage={"monthly_requests": 2_000_000, "request_duration_ms": 99.2}
    )
    requests, duration = components
    assert (requests.name, requests.monthly_quantity, requests.monthly_cost) == ("Requests", D(2), D("0.40"))
    assert duration.name == "Duration (first 6B)"
    assert duration.monthly_quantity == D(2_000_000) * D("0.1")  # 1 GB × 100 ms
    assert duration.monthly_cost == D(200_000) * _duration().tiers[0].unit_price


def test_memory_defaults_to_128_mb_when_the_plan_does_not_say() -> None:
    components = _components({}, usage={"monthly_requests": 1_000_000, "request_duration_ms": 1000})
    assert components[-1].monthly_quantity == D(125_000)  # 1M × 0.125 GB × 1 s


def test_x86_duration_crossing_both_tier_boundaries_bills_each_tier_at_its_price() -> None:
    tiers = _duration().tiers
    # 10 GB × 1 s × 2B requests = 20B GB-seconds: 6B + 9B + 5B.
    components = _components(
        {"memory_size": 10240}, usage={"monthly_requests": 2_000_000_000, "request_duration_ms": 1000}
    )
    durations = {c.name: c for c in components if c.name.startswith("Duration")}
    assert list(durations) == ["Duration (first 6B)", "Duration (next 9B)", "Duration (over 15B)"]
    quantities = [D(6_000_000_000), D(9_000_000_000), D(5_000_000_000)]
    for component, quantity, tier in zip(durations.values(), quantities, tiers, strict=True):
        assert (component.monthly_quantity, component.price) == (quantity, tier.unit_price)
        assert component.monthly_cost == quantity * tier.unit_price
    assert sum(c.monthly_cost or 0 for c in durations.values()) == _duration().cost_for(D(20_000_000_000))


def test_arm64_uses_the_arm_prices_and_its_own_tier_boundaries() -> None:
    arm = _duration("-ARM")
    components = _components(
        {"memory_size": 2048, "architectures": ["arm64"]},
        usage={"monthly_requests": 2_000_000_000, "request_duration_ms": 2000},
    )
    names = [c.name for c in components]
    assert names == ["Requests", "Duration (first 7.5B)", "Duration (next 11.25B)"]
    _, first, second = components
    assert (first.monthly_quantity, first.price) == (D(7_500_000_000), arm.tiers[0].unit_price)
    assert (second.monthly_quantity, second.price) == (D(500_000_000), arm.tiers[1].unit_price)
    x86 = _components(
        {"memory_size": 2048}, usage={"monthly_requests": 2_000_000_000, "request_duration_ms": 2000}
    )
    assert sum(c.monthly_cost or 0 for c in components) < sum(c.monthly_cost or 0 for c in x86)


def test_ephemeral_storage_above_the_free_512_mb_is_billed_per_gb_second() -> None:
    storage_price = SNAPSHOT.lookup(
        "AWSLambda", "us-east-1", productFamily="Serverless", group="AWS-Lambda-Storage-Duration"
    )
    assert storage_price is not None
    components = {
        c.name: c
        for c in _components(
            {"memory_size": 512, "ephemeral_storage": [{"size": 2560}]},
            unknown={},
            usage={"monthly_requests": 1_000_000, "request_duration_ms": 200},
        )
    }
    gb_seconds = D(1_000_000) * D("0.5") * D("0.2")
    storage = components["Ephemeral storage"]
    assert storage.monthly_quantity == D(2) * gb_seconds  # (2560 − 512) MB = 2 GB
    assert storage.monthly_cost == D(2) * gb_seconds * storage_price.unit_price
    free = {c.name for c in _components({}, usage={"monthly_requests": 10})}
    assert "Ephemeral storage" not in free


def test_without_usage_every_line_shows_its_price_and_depends_on_usage() -> None:
    components = _components({}, unknown={"architectures": True, "ephemeral_storage": True})
    assert [c.name for c in components] == ["Requests", "Ephemeral storage", "Duration (first 6B)"]
    assert all(c.usage_based and c.monthly_cost is None for c in components)
    assert components[0].price == D("0.20")
    arm = _components({"architectures": ["arm64"]})
    assert [c.name for c in arm] == ["Requests", "Ephemeral storage", "Duration (first 7.5B)"]
    assert arm[1].price_not_found  # the snapshot has no arm64 ephemeral storage price


def test_a_nonsense_memory_size_falls_back_to_the_default() -> None:
    for memory in (-512, 0, "big"):
        components = _components(
            {"memory_size": memory}, usage={"monthly_requests": 1000, "request_duration_ms": 1000}
        )
        assert components[-1].monthly_quantity == D(125)  # 1000 × 0.125 GB × 1 s

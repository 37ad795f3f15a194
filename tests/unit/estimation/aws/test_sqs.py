"""aws_sqs_queue: requests counted in 64 KB chunks, standard and FIFO prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import cloudcostguard
from cloudcostguard.estimation.model import CostComponent

D = Decimal


def _requests(after: dict[str, Any], usage: dict[str, Any] | None = None) -> CostComponent:
    plan = {
        "format_version": "1.2",
        "resource_changes": [
            {
                "address": "aws_sqs_queue.q",
                "mode": "managed",
                "type": "aws_sqs_queue",
                "name": "q",
                "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": {}},
            }
        ],
        "configuration": {
            "provider_config": {"aws": {"expressions": {"region": {"constant_value": "us-east-1"}}}}
        },
    }
    estimate = cloudcostguard.estimate(plan, usage={"aws_sqs_queue.q": usage} if usage else None)
    [resource] = estimate.resources
    [component] = resource.components
    return component


def test_each_started_64_kb_chunk_counts_as_a_request() -> None:
    for size_kb, chunks in ((1, 1), (64, 1), (65, 2), (256, 4)):
        component = _requests(
            {"fifo_queue": False}, {"monthly_requests": 3_000_000, "request_size_kb": size_kb}
        )
        assert component.monthly_quantity == D(3 * chunks)
        assert component.monthly_cost == D(3 * chunks) * D("0.40")


def test_fifo_queues_use_the_fifo_price_and_the_account_free_tier_is_not_deducted() -> None:
    component = _requests({"fifo_queue": True}, {"monthly_requests": 1_000_000})
    assert (component.name, component.unit, component.price) == ("Requests", "1M requests", D("0.50"))
    assert component.monthly_cost == D("0.50")  # the first free million is per account, not per queue


def test_without_usage_the_queue_shows_its_price_per_million_and_a_wrong_flag_means_standard() -> None:
    component = _requests({"fifo_queue": "maybe"})
    assert (component.monthly_quantity, component.price, component.usage_based) == (None, D("0.40"), True)

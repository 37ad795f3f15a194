"""aws_sqs_queue: requests, counted in 64 KB chunks.

Usage keys (Infracost's): ``monthly_requests``, ``request_size_kb``.
"""

from __future__ import annotations

import math
from decimal import Decimal

from cloudcostguard.estimation.components import at_unit_price
from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AWSQueueService"

CHUNK_KB = Decimal(64)  # SQS bills each 64 KB chunk of a payload as one request
_MILLION = Decimal(1_000_000)


USAGE = (
    UsageKey("monthly_requests", FLOAT, "Monthly requests to the queue."),
    UsageKey("request_size_kb", FLOAT, "Size of a request (KB; billed in 64 KB chunks, default 64)."),
)


@pricer("aws_sqs_queue", usage=USAGE)
def price_sqs_queue(ctx: PricingContext) -> list[CostComponent]:
    fifo = ctx.attrs.flag("fifo_queue", False) is True
    price = ctx.prices(SERVICE).lookup(
        productFamily="API Request",
        queueType="FIFO (first-in, first-out)" if fifo else "Standard",
    )
    # The first million requests a month are free per account, not per queue, and the volume tiers
    # count the account's total too: a queue is priced at the first paid rate, as Infracost does.
    rate = None
    if price is not None:
        rate = next(
            (tier.unit_price for tier in price.tiers if tier.unit_price > 0), price.tiers[-1].unit_price
        )
    requests = ctx.usage.decimal("monthly_requests")
    quantity = None
    if requests is not None:
        size_kb = ctx.usage.decimal("request_size_kb") or CHUNK_KB
        quantity = Decimal(math.ceil(size_kb / CHUNK_KB)) * requests / _MILLION
    return [
        at_unit_price(
            "Requests",
            "1M requests",
            quantity,
            None if rate is None else rate * _MILLION,
            usage_based=True,
        )
    ]

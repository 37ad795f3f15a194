"""aws_lambda_function: requests, duration (GB-seconds, volume tiers) and ephemeral storage.

Usage keys (Infracost's): ``monthly_requests``, ``request_duration_ms``.
"""

from __future__ import annotations

import math
from decimal import Decimal

from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.kit import FLOAT, UsageKey, tier_lines
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price, PriceTier

SERVICE = "AWSLambda"

DEFAULT_MEMORY_MB = Decimal(128)  # the provider's default memory_size
FREE_EPHEMERAL_STORAGE_MB = Decimal(512)  # every function gets 512 MB of /tmp at no charge
# Infracost's duration when the usage gives requests but no duration: 1 ms, the billing granularity.
DEFAULT_DURATION_MS = Decimal(1)
_MB_PER_GB = Decimal(1024)
_MILLION = Decimal(1_000_000)

# Duration tier names when the catalog has no duration price to name them from (x86, arm64).
_FIRST_TIER_NAMES = {"x86_64": "Duration (first 6B)", "arm64": "Duration (first 7.5B)"}


USAGE = (
    UsageKey("monthly_requests", FLOAT, "Monthly requests to the function."),
    UsageKey("request_duration_ms", FLOAT, "Average duration of a request (ms; default 1)."),
)


@pricer("aws_lambda_function", usage=USAGE)
def price_lambda_function(ctx: PricingContext) -> list[CostComponent]:
    attrs, usage = ctx.attrs, ctx.usage
    architectures = [a for a in attrs.items("architectures") if isinstance(a, str)]
    arch = "arm64" if architectures and architectures[0] == "arm64" else "x86_64"
    suffix = "-ARM" if arch == "arm64" else ""
    memory_mb = attrs.decimal("memory_size")
    memory_gb = (memory_mb if memory_mb is not None and memory_mb > 0 else DEFAULT_MEMORY_MB) / _MB_PER_GB
    storage_mb = attrs.block("ephemeral_storage").decimal("size") or FREE_EPHEMERAL_STORAGE_MB

    prices = ctx.prices(SERVICE)
    requests = usage.decimal("monthly_requests")
    components = [
        prices.usage(
            "Requests",
            "1M requests",
            requests,
            {
                "productFamily": "Serverless",
                "group": f"AWS-Lambda-Requests{suffix}",
                "usagetypeBase": f"Request{suffix}",
            },
            scale=_MILLION,
        )
    ]
    duration_price = prices.lookup(
        productFamily="Serverless",
        group=f"AWS-Lambda-Duration{suffix}",
        usagetypeBase=f"Lambda-GB-Second{suffix}",
    )
    # The storage product's usage type varies between offer files; its group identifies it.
    storage_price = prices.lookup(productFamily="Serverless", group=f"AWS-Lambda-Storage-Duration{suffix}")
    if requests is None:
        components.append(priced("Ephemeral storage", "GB-seconds", None, storage_price, usage_based=True))
        name = _FIRST_TIER_NAMES[arch]
        if duration_price is not None:
            name = _tier_name(duration_price.tiers[0], duration_price)
        components.append(priced(name, "GB-seconds", None, duration_price, usage_based=True))
        return components

    duration_ms = usage.decimal("request_duration_ms") or DEFAULT_DURATION_MS
    # Lambda bills duration rounded up to the millisecond.
    gb_seconds = requests * memory_gb * Decimal(math.ceil(duration_ms)) / 1000
    storage_gb_seconds = (storage_mb - FREE_EPHEMERAL_STORAGE_MB) / _MB_PER_GB * gb_seconds
    if storage_gb_seconds > 0:
        components.append(
            priced("Ephemeral storage", "GB-seconds", storage_gb_seconds, storage_price, usage_based=True)
        )
    if duration_price is None:
        components.append(priced(_FIRST_TIER_NAMES[arch], "GB-seconds", gb_seconds, None, usage_based=True))
        return components
    # One line per volume tier reached, as AWS's bill and Infracost show them; the first always.
    components.extend(tier_lines(_tier_name, "GB-seconds", gb_seconds, duration_price))
    return components


def _tier_name(tier: PriceTier, price: Price) -> str:
    """``Duration (first 6B)``, ``Duration (next 9B)``, ``Duration (over 15B)`` from the tier bounds."""
    if len(price.tiers) == 1:
        return "Duration"
    if tier.start == 0 and tier.end is not None:
        return f"Duration (first {_billions(tier.end)})"
    if tier.end is None:
        return f"Duration (over {_billions(tier.start)})"
    return f"Duration (next {_billions(tier.end - tier.start)})"


def _billions(value: Decimal) -> str:
    return f"{(value / 1_000_000_000).normalize():f}B"

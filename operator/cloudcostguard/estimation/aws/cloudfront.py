"""aws_cloudfront_distribution: data transfer, requests, origin shield, invalidations and extras.

As Infracost prices it (AmazonCloudFront offer). Per edge-location group with usage (the US group
alone when no usage is given) a sub-resource named as AWS groups them ("US, Mexico, Canada", …) holds:
data transfer out to the internet in Infracost's buckets (first 10TB … over 5PB, priced at the tiers
starting at 0, 10,240, 51,200, 153,600, 512,000, 1,048,576 and 5,242,880 GB), data transfer out to the
origin, and HTTP and HTTPS requests (per 10k). On the distribution itself: field-level encryption
requests (with ``default_cache_behavior.field_level_encryption_id``), real-time log lines (with a
``logging_config`` bucket), dedicated-IP custom SSL certificates (``ssl_support_method = "vip"``; usage
``custom_ssl_certificates``, default 1), origin shield requests (``origin.origin_shield`` enabled, in its
``origin_shield_region``) and invalidation paths (first 1,000 free, the rest paid).

Usage keys are Infracost's: ``monthly_data_transfer_to_internet_gb``, ``monthly_data_transfer_to_origin_gb``,
``monthly_http_requests``, ``monthly_https_requests`` (each an object by group: ``us``, ``europe``,
``south_africa``, ``south_america``, ``japan``, ``australia``, ``asia_pacific``, ``india``),
``monthly_shield_requests`` (by shield region group), ``monthly_invalidation_requests``,
``monthly_encryption_requests``, ``monthly_log_lines``, ``custom_ssl_certificates``.

Products. Edge prices are global (the loader files edge-location products under ``global``): data
transfer by ``transferType`` and ``fromLocation`` (the group's name in the offer, e.g. "United States");
requests by the group's usage type (``US-Requests-Tier1`` for HTTP, ``US-Requests-Tier2-HTTPS`` for
HTTPS; Infracost selects them by ``requestType`` and ``location``, which the loader does not keep for
edge products); origin shield requests are regional (``requestDescription: Origin Shield Requests`` in
the shield's region).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines, tier_price
from cloudcostguard.estimation.components import at_unit_price, priced
from cloudcostguard.estimation.kit import FLOAT, INTEGER, MILLION, OBJECT, Prices, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.estimation.usage import ResourceUsage

SERVICE = "AmazonCloudFront"
GLOBAL_REGION = "global"
TEN_THOUSAND = Decimal(10_000)
FREE_INVALIDATIONS = Decimal(1000)


@dataclass(frozen=True, slots=True)
class _EdgeGroup:
    usage_key: str
    name: str  # the sub-resource, as AWS groups edge locations
    location: str  # the offer's fromLocation
    usagetype_prefix: str  # of the group's request usage types

    def http_query(self) -> dict[str, str]:
        return {"usagetype": f"{self.usagetype_prefix}-Requests-Tier1"}

    def https_query(self) -> dict[str, str]:
        return {"usagetype": f"{self.usagetype_prefix}-Requests-Tier2-HTTPS"}


_GROUPS = (
    _EdgeGroup("us", "US, Mexico, Canada", "United States", "US"),
    _EdgeGroup("europe", "Europe, Israel", "Europe", "EU"),
    _EdgeGroup("south_africa", "South Africa, Kenya, Middle East", "South Africa", "ZA"),
    _EdgeGroup("south_america", "South America", "South America", "SA"),
    _EdgeGroup("japan", "Japan", "Japan", "JP"),
    _EdgeGroup("australia", "Australia, New Zealand", "Australia", "AU"),
    _EdgeGroup("asia_pacific", "Hong Kong, Philippines, Asia Pacific", "Asia Pacific", "AP"),
    _EdgeGroup("india", "India", "India", "IN"),
)
_HTTP_QUERIES = {group.usage_key: group.http_query() for group in _GROUPS}
_HTTPS_QUERIES = {group.usage_key: group.https_query() for group in _GROUPS}
_OUTBOUND_QUERIES = {
    group.usage_key: {"transferType": "CloudFront Outbound", "fromLocation": group.location}
    for group in _GROUPS
}
_TO_ORIGIN_QUERIES = {
    group.usage_key: {"transferType": "CloudFront to Origin", "fromLocation": group.location}
    for group in _GROUPS
}
_OUTBOUND_BUCKETS = Buckets(
    tuple(
        f"Data transfer out to internet ({label})"
        for label in (
            "first 10TB",
            "next 40TB",
            "next 100TB",
            "next 350TB",
            "next 524TB",
            "next 4PB",
            "over 5PB",
        )
    ),
    tuple(Decimal(width) for width in (10_240, 40_960, 102_400, 358_400, 536_576, 4_194_304)),
    tuple(Decimal(start) for start in (0, 10_240, 51_200, 153_600, 512_000, 1_048_576, 5_242_880)),
)
_FIELD_LEVEL_ENCRYPTION = {"requestDescription": "HTTPS Proxy requests with Field Level Encryption"}
_REAL_TIME_LOGS = {"operation": "RealTimeLog"}
_CUSTOM_SSL = {"usagetype": "SSL-Cert-Custom"}
_INVALIDATIONS = {"usagetype": "Invalidations"}
_ORIGIN_SHIELD = {"requestDescription": "Origin Shield Requests"}

# Origin shield: the shield region's area (the part of its AWS display name before the parenthesis,
# which Infracost shows) and the usage group its requests are counted in.
_SHIELD_REGIONS: dict[str, tuple[str, str]] = {
    "us-gov-west-1": ("AWS GovCloud", "us"),
    "us-gov-east-1": ("AWS GovCloud", "us"),
    "us-east-1": ("US East", "us"),
    "us-east-2": ("US East", "us"),
    "us-west-1": ("US West", "us"),
    "us-west-2": ("US West", "us"),
    "ca-central-1": ("Canada", "us"),
    "ap-south-1": ("Asia Pacific", "india"),
    "me-south-1": ("Middle East", "india"),
    "ap-northeast-1": ("Asia Pacific", "japan"),
    "ap-northeast-2": ("Asia Pacific", "south_korea"),
    "ap-southeast-1": ("Asia Pacific", "singapore"),
    "ap-east-1": ("Asia Pacific", "singapore"),
    "ap-southeast-2": ("Asia Pacific", "australia"),
    "eu-central-1": ("EU", "europe"),
    "eu-west-1": ("EU", "europe"),
    "eu-west-2": ("EU", "europe"),
    "eu-south-1": ("EU", "europe"),
    "eu-west-3": ("EU", "europe"),
    "eu-north-1": ("EU", "europe"),
    "af-south-1": ("Africa", "europe"),
    "sa-east-1": ("South America", "south_america"),
    "me-central-1": ("Middle East", "middle_east"),
}

_GROUP_KEYS = tuple(UsageKey(group.usage_key, FLOAT, group.name) for group in _GROUPS)
_SHIELD_KEYS = tuple(
    UsageKey(key, INTEGER, f"Origin shield requests in the {key} group.")
    for key in (
        "us",
        "europe",
        "south_america",
        "japan",
        "australia",
        "singapore",
        "south_korea",
        "indonesia",
        "india",
        "middle_east",
    )
)
USAGE = (
    UsageKey(
        "monthly_data_transfer_to_internet_gb",
        OBJECT,
        "Data out to the internet by edge group (GB).",
        _GROUP_KEYS,
    ),
    UsageKey(
        "monthly_data_transfer_to_origin_gb",
        OBJECT,
        "Data out to the origin by edge group (GB).",
        _GROUP_KEYS,
    ),
    UsageKey("monthly_http_requests", OBJECT, "HTTP requests by edge group.", _GROUP_KEYS),
    UsageKey("monthly_https_requests", OBJECT, "HTTPS requests by edge group.", _GROUP_KEYS),
    UsageKey(
        "monthly_shield_requests", OBJECT, "Origin shield requests by shield region group.", _SHIELD_KEYS
    ),
    UsageKey("monthly_invalidation_requests", INTEGER, "Monthly invalidation paths."),
    UsageKey("monthly_encryption_requests", INTEGER, "Monthly field-level encryption requests."),
    UsageKey("monthly_log_lines", INTEGER, "Monthly real-time log lines."),
    UsageKey("custom_ssl_certificates", INTEGER, "Dedicated IP custom SSL certificates (default 1)."),
)
_BY_GROUP_KEYS = (
    "monthly_data_transfer_to_internet_gb",
    "monthly_data_transfer_to_origin_gb",
    "monthly_http_requests",
    "monthly_https_requests",
)


@pricer("aws_cloudfront_distribution", usage=USAGE)
def price_cloudfront_distribution(ctx: PricingContext) -> list[CostComponent]:
    attrs, usage = ctx.attrs, ctx.usage
    prices = ctx.prices(SERVICE, GLOBAL_REGION)
    components: list[CostComponent] = []
    if attrs.block("default_cache_behavior").text("field_level_encryption_id"):
        requests = usage.decimal("monthly_encryption_requests")
        components.append(
            prices.usage(
                "Field level encryption requests",
                "10k requests",
                requests,
                _FIELD_LEVEL_ENCRYPTION,
                scale=TEN_THOUSAND,
            )
        )
    if attrs.block("logging_config").text("bucket"):
        lines = usage.decimal("monthly_log_lines")
        components.append(
            prices.usage("Real-time log requests", "1M lines", lines, _REAL_TIME_LOGS, scale=MILLION)
        )
    if attrs.block("viewer_certificate").text("ssl_support_method") == "vip":
        certificates = usage.decimal("custom_ssl_certificates")
        components.append(
            priced(
                "Dedicated IP custom SSLs",
                "certificates",
                certificates if certificates is not None else Decimal(1),
                prices.find(_CUSTOM_SSL),
                usage_based=True,
            )
        )
    shield = _origin_shield(ctx, attrs.block("origin"), usage)
    if shield is not None:
        components.append(shield)
    components.extend(_invalidations(prices, usage.decimal("monthly_invalidation_requests")))

    by_group = [_group_usage(usage.raw(key), ctx.address) for key in _BY_GROUP_KEYS]
    groups = [g for g in _GROUPS if any(values.decimal(g.usage_key) is not None for values in by_group)]
    for group in groups or _GROUPS[:1]:
        components.extend(
            _group_components(prices, group, [values.decimal(group.usage_key) for values in by_group])
        )
    return components


def _group_components(
    prices: Prices, group: _EdgeGroup, quantities: list[Decimal | None]
) -> list[CostComponent]:
    """One edge group's lines; ``quantities`` in ``_BY_GROUP_KEYS`` order."""
    to_internet, to_origin, http, https = quantities
    key, name = group.usage_key, group.name
    lines = bucket_lines(_OUTBOUND_BUCKETS, "GB", to_internet, prices.find(_OUTBOUND_QUERIES[key]))
    lines.append(prices.usage("Data transfer out to origin", "GB", to_origin, _TO_ORIGIN_QUERIES[key]))
    lines.append(prices.usage("HTTP requests", "10k requests", http, _HTTP_QUERIES[key], scale=TEN_THOUSAND))
    lines.append(
        prices.usage("HTTPS requests", "10k requests", https, _HTTPS_QUERIES[key], scale=TEN_THOUSAND)
    )
    return [line._replace(subresource=name) for line in lines]


def _origin_shield(ctx: PricingContext, origin: Attributes, usage: ResourceUsage) -> CostComponent | None:
    shield = origin.block("origin_shield")
    if not shield.flag("enabled", False):
        return None
    region = shield.text("origin_shield_region") or ctx.region
    entry = _SHIELD_REGIONS.get(region)
    if entry is None:
        return None  # no origin shield price for this region (Infracost skips it too)
    area, usage_group = entry
    requests = _group_usage(usage.raw("monthly_shield_requests"), ctx.address).decimal(usage_group)
    return ctx.prices(SERVICE, region).usage(
        f"Origin shield HTTP requests ({area} {region})",
        "10k requests",
        requests,
        _ORIGIN_SHIELD,
        scale=TEN_THOUSAND,
    )


def _invalidations(prices: Prices, paths: Decimal | None) -> list[CostComponent]:
    price = prices.find(_INVALIDATIONS)
    free_price, paid_price = tier_price(price, Decimal(0)), tier_price(price, FREE_INVALIDATIONS)
    if paths is None:
        return [
            at_unit_price("Invalidation requests (first 1k)", "paths", None, free_price, usage_based=True)
        ]
    lines = [
        at_unit_price(
            "Invalidation requests (first 1k)",
            "paths",
            min(paths, FREE_INVALIDATIONS),
            free_price,
            usage_based=True,
        )
    ]
    if paths >= FREE_INVALIDATIONS:
        lines.append(
            at_unit_price(
                "Invalidation requests (over 1k)",
                "paths",
                paths - FREE_INVALIDATIONS,
                paid_price,
                usage_based=True,
            )
        )
    return lines


def _group_usage(value: Any, address: str) -> ResourceUsage:
    return ResourceUsage(value if isinstance(value, dict) else {}, address)

"""Route 53 beyond hosted zones: records (DNS queries), health checks and Resolver endpoints.

``aws_route53_record``: standard, latency-based and geo DNS queries (usage ``monthly_standard_queries``,
``monthly_latency_based_queries``, ``monthly_geo_queries``), each cut at 1 billion queries as Infracost
does ("first 1B" / "over 1B", priced at the offer's tier starting at 0 and at 1B). An alias record whose
``alias.name`` refers to another resource (a load balancer, a CloudFront distribution) is not charged
for queries (AWS: alias queries to AWS resources are free), so it has no components, as in Infracost;
an alias to another record is priced like a record.

``aws_route53_health_check``: one health check a month (usage ``endpoint_type``: ``aws``, the default,
or ``non_aws``), plus "Optional features", one a month for each of HTTPS, a 10-second interval, latency
measurement and string matching. AWS endpoints' health checks are free for an account's first 50:
Infracost prices the tier from the 50th on, and so do we (a plan alone cannot tell how many an account
has).

``aws_route53_resolver_endpoint``: one elastic network interface per ``ip_address`` block, hourly, and
DNS queries (usage ``monthly_queries``) cut at 1 billion. Resolver prices are regional.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines, tier_price
from cloudcostguard.estimation.components import at_unit_price
from cloudcostguard.estimation.kit import INTEGER, MILLION, STRING, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonRoute53"
GLOBAL_REGION = "global"  # records and health checks are priced once for every region
BILLION = Decimal(1_000_000_000)
_QUERY_TIER_STARTS = (Decimal(0), BILLION)


def _query_buckets(kind: str) -> Buckets:
    return Buckets((f"{kind} (first 1B)", f"{kind} (over 1B)"), (BILLION,), _QUERY_TIER_STARTS)


# (usage key, bucket labels, offer-file query) of each kind of record query.
_RECORD_QUERIES = (
    (
        "monthly_standard_queries",
        _query_buckets("Standard queries"),
        {"productFamily": "DNS Query", "usagetypeBase": "DNS-Queries"},
    ),
    (
        "monthly_latency_based_queries",
        _query_buckets("Latency based routing queries"),
        {"productFamily": "DNS Query", "usagetypeBase": "LBR-Queries"},
    ),
    (
        "monthly_geo_queries",
        _query_buckets("Geo DNS queries"),
        {"productFamily": "DNS Query", "usagetypeBase": "Geo-Queries"},
    ),
)
RECORD_USAGE = (
    UsageKey("monthly_standard_queries", INTEGER, "Monthly standard DNS queries answered for the record."),
    UsageKey("monthly_latency_based_queries", INTEGER, "Monthly latency-based routing queries."),
    UsageKey("monthly_geo_queries", INTEGER, "Monthly geolocation and geoproximity queries."),
)


@pricer("aws_route53_record", usage=RECORD_USAGE)
def price_route53_record(ctx: PricingContext) -> list[CostComponent]:
    if _is_alias_to_a_resource(ctx):
        return []
    prices = ctx.prices(SERVICE, GLOBAL_REGION)
    components: list[CostComponent] = []
    for key, buckets, query in _RECORD_QUERIES:
        components.extend(
            bucket_lines(buckets, "1M queries", ctx.usage.decimal(key), prices.find(query), MILLION)
        )
    return components


def _is_alias_to_a_resource(ctx: PricingContext) -> bool:
    references = ctx.references
    if references is None:
        return False
    return any(
        reference.target.split(".")[0] != "aws_route53_record"
        for reference in references.referenced_from(ctx.config_address, "alias.name")
    )


_HEALTH_CHECK = {"aws": "Health-Check-AWS", "non-aws": "Health-Check-Non-AWS"}
_HEALTH_CHECK_OPTION = {"aws": "Health-Check-Option-AWS", "non-aws": "Health-Check-Option-Non-AWS"}
_HEALTH_CHECK_QUERIES = {
    endpoint: {"productFamily": "DNS Health Check", "usagetypeBase": usagetype}
    for endpoint, usagetype in _HEALTH_CHECK.items()
}
_OPTION_QUERIES = {
    endpoint: {"productFamily": "DNS Health Check", "usagetypeBase": usagetype}
    for endpoint, usagetype in _HEALTH_CHECK_OPTION.items()
}
# AWS endpoints: the first 50 health checks of an account are free; Infracost prices the paid tier.
_PAID_TIER_START = {"aws": Decimal(50), "non-aws": Decimal(0)}
_ONE_MONTH = Decimal(1)
HEALTH_CHECK_USAGE = (
    UsageKey("endpoint_type", STRING, "What the health check probes: aws (default) or non_aws."),
)


@pricer("aws_route53_health_check", usage=HEALTH_CHECK_USAGE)
def price_route53_health_check(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    prices = ctx.prices(SERVICE, GLOBAL_REGION)
    endpoint = (ctx.usage.text("endpoint_type") or "aws").lower().replace("_", "-", 1)
    if endpoint not in _HEALTH_CHECK:
        endpoint = "aws"
    check_price = tier_price(prices.find(_HEALTH_CHECK_QUERIES[endpoint]), _PAID_TIER_START[endpoint])
    components = [at_unit_price("Health check", "months", _ONE_MONTH, check_price)]
    check_type = attrs.text("type") or ""
    options = sum(
        (
            check_type.startswith("HTTPS"),
            attrs.integer("request_interval") == 10,
            attrs.flag("measure_latency", False) is True,
            check_type.endswith("STR_MATCH"),
        )
    )
    if options:
        option_price = tier_price(prices.find(_OPTION_QUERIES[endpoint]), Decimal(0))
        components.append(at_unit_price("Optional features", "months", Decimal(options), option_price))
    return components


_RESOLVER_INTERFACE = {"productFamily": "DNS Query", "usagetypeBase": "ResolverNetworkInterface"}
_RESOLVER_QUERIES = {"productFamily": "DNS Query", "usagetypeBase": "DNS-Queries"}
_RESOLVER_BUCKETS = _query_buckets("DNS queries")
RESOLVER_USAGE = (UsageKey("monthly_queries", INTEGER, "Monthly DNS queries through the endpoint."),)


@pricer("aws_route53_resolver_endpoint", usage=RESOLVER_USAGE)
def price_route53_resolver_endpoint(ctx: PricingContext) -> list[CostComponent]:
    prices = ctx.prices(SERVICE)
    interfaces = Decimal(len(ctx.attrs.items("ip_address")))
    return [
        prices.hourly("Resolver endpoints", _RESOLVER_INTERFACE, count=interfaces),
        *bucket_lines(
            _RESOLVER_BUCKETS,
            "1M queries",
            ctx.usage.decimal("monthly_queries"),
            prices.find(_RESOLVER_QUERIES),
            MILLION,
        ),
    ]

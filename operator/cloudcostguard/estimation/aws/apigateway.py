"""API Gateway: REST APIs (requests), stages (cache memory) and HTTP/WebSocket APIs (v2).

As Infracost's ``APIGatewayRestAPI``, ``APIGatewayStage`` and ``APIGatewayV2API``:

* ``aws_api_gateway_rest_api``: requests (``monthly_requests``) in bands of 333M, 667M and 19B, then
  the rest, each at the tier starting there.
* ``aws_api_gateway_stage``: with ``cache_cluster_enabled``, one hour of cache every hour at the
  price of its ``cache_cluster_size`` (GB); without a cache a stage costs nothing.
* ``aws_apigatewayv2_api``: HTTP APIs bill requests in 512 KB steps (``request_size_kb``), first
  300M then the rest; WebSocket APIs bill messages in 32 KB steps (``message_size_kb``), first 1B then
  the rest, and connection minutes (``monthly_connection_mins``).
"""

from __future__ import annotations

import math
from decimal import Decimal

from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines
from cloudcostguard.estimation.kit import INTEGER, MILLION, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AmazonApiGateway"

REST_REQUESTS_QUERY = {"productFamily": "API Calls", "usagetypeBase": "ApiGatewayRequest"}
REST_BUCKETS = Buckets(
    ("Requests (first 333M)", "Requests (next 667M)", "Requests (next 19B)", "Requests (over 20B)"),
    (Decimal(333_000_000), Decimal(667_000_000), Decimal(19_000_000_000)),
    (Decimal(0), Decimal(333_000_000), Decimal(1_000_000_000), Decimal(20_000_000_000)),
)

HTTP_REQUESTS_QUERY = {"productFamily": "API Calls", "usagetypeBase": "ApiGatewayHttpRequest"}
HTTP_BUCKETS = Buckets(
    ("Requests (first 300M)", "Requests (over 300M)"),
    (Decimal(300_000_000),),
    (Decimal(0), Decimal(300_000_000)),
)
HTTP_BILLED_KB = Decimal(512)

MESSAGES_QUERY = {"productFamily": "WebSocket", "usagetypeBase": "ApiGatewayMessage"}
MINUTES_QUERY = {"productFamily": "WebSocket", "usagetypeBase": "ApiGatewayMinute"}
MESSAGE_BUCKETS = Buckets(
    ("Messages (first 1B)", "Messages (over 1B)"),
    (Decimal(1_000_000_000),),
    (Decimal(0), Decimal(1_000_000_000)),
)
MESSAGE_BILLED_KB = Decimal(32)

CACHE_FAMILY = "Amazon API Gateway Cache"

REST_USAGE = (UsageKey("monthly_requests", INTEGER, "Monthly requests to the REST API."),)
V2_USAGE = (
    UsageKey("monthly_requests", INTEGER, "HTTP API: monthly requests."),
    UsageKey("request_size_kb", INTEGER, "HTTP API: request size (KB; billed in 512 KB steps)."),
    UsageKey("monthly_messages", INTEGER, "WebSocket API: monthly messages."),
    UsageKey("message_size_kb", INTEGER, "WebSocket API: message size (KB; billed in 32 KB steps)."),
    UsageKey("monthly_connection_mins", INTEGER, "WebSocket API: monthly connection minutes."),
)


@pricer("aws_api_gateway_rest_api", usage=REST_USAGE)
def price_rest_api(ctx: PricingContext) -> list[CostComponent]:
    price = ctx.prices(SERVICE).find(REST_REQUESTS_QUERY)
    requests = ctx.usage.decimal("monthly_requests")
    return bucket_lines(REST_BUCKETS, "1M requests", requests, price, MILLION)


@pricer("aws_api_gateway_stage")
def price_stage(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    size = attrs.decimal("cache_cluster_size")
    if attrs.flag("cache_cluster_enabled", False) is not True or size is None:
        return []
    shown = f"{size.normalize():f}"  # "0.5", "237": as the provider (and Infracost) write sizes
    query = {"productFamily": CACHE_FAMILY, "cacheMemorySizeGb": shown}
    return [ctx.prices(SERVICE).hourly(f"Cache memory ({shown} GB)", query)]


def _billed(count: Decimal | None, size_kb: Decimal | None, billed_kb: Decimal) -> Decimal | None:
    """Requests or messages as billed: each counts once per started ``billed_kb``."""
    if count is None or size_kb is None or size_kb <= billed_kb:
        return count
    return count * math.ceil(size_kb / billed_kb)


@pricer("aws_apigatewayv2_api", usage=V2_USAGE)
def price_v2_api(ctx: PricingContext) -> list[CostComponent]:
    protocol = (ctx.attrs.text("protocol_type") or "").lower()
    usage = ctx.usage
    prices = ctx.prices(SERVICE)
    if protocol == "http":
        requests = _billed(
            usage.decimal("monthly_requests"), usage.decimal("request_size_kb"), HTTP_BILLED_KB
        )
        return bucket_lines(HTTP_BUCKETS, "1M requests", requests, prices.find(HTTP_REQUESTS_QUERY), MILLION)
    if protocol == "websocket":
        messages = _billed(
            usage.decimal("monthly_messages"), usage.decimal("message_size_kb"), MESSAGE_BILLED_KB
        )
        return [
            *bucket_lines(
                MESSAGE_BUCKETS,
                "1M messages",
                messages,
                prices.find(MESSAGES_QUERY),
                scale=MILLION,
            ),
            prices.usage(
                "Connection duration",
                "1M minutes",
                usage.decimal("monthly_connection_mins"),
                MINUTES_QUERY,
                scale=MILLION,
            ),
        ]
    return []

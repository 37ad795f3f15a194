"""API Gateway: request bands, billed request sizes, stage caches."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord
from tests.unit.estimation.aws.single_resource import component, names, price_resource

D = Decimal
HTTP = {"productFamily": "API Calls", "usagetype": "USE1-ApiGatewayHttpRequest"}
CATALOG = InMemoryCatalog(
    [
        PriceRecord(
            "AmazonApiGateway", "us-east-1", HTTP, "Requests", D("0.00000101234"), D(0), D(300_000_000)
        ),
        PriceRecord("AmazonApiGateway", "us-east-1", HTTP, "Requests", D("0.00000091234"), D(300_000_000)),
    ],
    source="test",
    version="test",
)


def test_http_requests_above_512_kb_count_once_per_started_512_kb() -> None:
    api = price_resource(
        "aws_apigatewayv2_api.a",
        {"protocol_type": "HTTP"},
        usage={"monthly_requests": 200_000_000, "request_size_kb": 1100},
        catalog=CATALOG,
    )
    # 1,100 KB bills as three requests: 600M, of which 300M in the first band and 300M beyond.
    first, over = component(api, "Requests (first 300M)"), component(api, "Requests (over 300M)")
    assert (first.monthly_quantity, first.price) == (D(300), D("1.01234"))
    assert (over.monthly_quantity, over.price) == (D(300), D("0.91234"))


def test_a_band_the_usage_does_not_reach_is_not_listed() -> None:
    api = price_resource(
        "aws_apigatewayv2_api.a",
        {"protocol_type": "HTTP"},
        usage={"monthly_requests": 1_000_000},
        catalog=CATALOG,
    )
    assert names(api) == [(None, "Requests (first 300M)")]


def test_a_stage_without_a_cache_costs_nothing() -> None:
    stage = price_resource(
        "aws_api_gateway_stage.s", {"cache_cluster_enabled": False, "cache_cluster_size": "0.5"}
    )
    assert stage.components == []
    cached = price_resource(
        "aws_api_gateway_stage.s", {"cache_cluster_enabled": True, "cache_cluster_size": "6.1"}
    )
    assert names(cached) == [(None, "Cache memory (6.1 GB)")]

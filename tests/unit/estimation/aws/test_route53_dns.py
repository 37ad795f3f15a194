"""Route 53 records: an alias to another AWS resource answers queries for free; other records do not."""

from __future__ import annotations

import cloudcostguard
from tests.unit.estimation.aws.single_resource import linked_plan, ref

ALIAS_TO_LB = {"alias": [{"name": ref("aws_lb.web.dns_name"), "zone_id": ref("aws_lb.web.zone_id")}]}
ALIAS_TO_RECORD = {"alias": [{"name": ref("aws_route53_record.origin.fqdn")}]}
STANDARD_FIRST_TIER = (
    "Standard queries (first 1B)",
    "Latency based routing queries (first 1B)",
    "Geo DNS queries (first 1B)",
)


def _components(plan: dict[str, object]) -> dict[str, list[str]]:
    estimate = cloudcostguard.estimate(plan)
    return {
        r.address: [c.name for c in r.components]
        for r in estimate.resources
        if r.resource_type == "aws_route53_record"
    }


def test_an_alias_to_a_load_balancer_has_no_query_charges() -> None:
    plan = linked_plan(
        [
            ("aws_lb.web", {"load_balancer_type": "application", "internal": False}, None, {}),
            ("aws_route53_record.www", {"name": "www", "type": "A", "alias": [{}]}, None, ALIAS_TO_LB),
        ]
    )
    assert _components(plan) == {"aws_route53_record.www": []}


def test_an_alias_to_another_record_and_a_plain_record_are_charged_for_queries() -> None:
    plan = linked_plan(
        [
            (
                "aws_route53_record.origin",
                {"name": "origin", "type": "A", "records": ["192.0.2.1"]},
                None,
                {},
            ),
            ("aws_route53_record.www", {"name": "www", "type": "A", "alias": [{}]}, None, ALIAS_TO_RECORD),
        ]
    )
    components = _components(plan)
    assert components["aws_route53_record.origin"] == list(STANDARD_FIRST_TIER)
    assert components["aws_route53_record.www"] == list(STANDARD_FIRST_TIER)


def test_query_usage_over_one_billion_splits_into_both_tiers() -> None:
    plan = linked_plan(
        [("aws_route53_record.api", {"name": "api", "type": "A", "records": ["192.0.2.1"]}, None, {})]
    )
    usage = {"aws_route53_record.api": {"monthly_standard_queries": 1_500_000_000}}
    estimate = cloudcostguard.estimate(plan, usage=usage)
    (record,) = estimate.resources
    lines = {c.name: c for c in record.components}
    first, over = lines["Standard queries (first 1B)"], lines["Standard queries (over 1B)"]
    assert (first.monthly_quantity, over.monthly_quantity) == (1000, 500)  # in millions
    # The bundled snapshot holds the first tier's price ($0.40 per million) only.
    assert first.monthly_cost == 400
    assert over.price_not_found

"""Every estimate reports what it could price: priced, free, unsupported and price-not-found resources."""

from __future__ import annotations

import orjson

import cloudcostguard
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.render import FOOTER_ADDRESSES, render_json, render_markdown, render_table
from tests.plans import change, plan, provider

# Real types against the bundled snapshot: t3.micro and a NAT gateway have prices there; an x99.large
# (a type no AWS catalog holds) and a reserved instance (on-demand prices only) do not.
PLAN = plan(
    change("aws_instance.web", ["create"], after={"instance_type": "t3.micro"}),
    change("aws_instance.old", ["create"], after={"instance_type": "x99.large"}),
    change("aws_nat_gateway.egress", ["create"], after={}),
    change("aws_vpc.main", ["create"], after={}),
    change("aws_made_up.thing[0]", ["create"], after={}),
    change("aws_made_up.thing[1]", ["delete"], before={}),
    change("aws_instance.gone", ["delete"], before={"instance_type": "x99.large"}),
    providers={"aws": provider("us-east-1")},
)


def _estimate() -> Estimate:
    return cloudcostguard.estimate(PLAN)


def test_each_resource_is_in_exactly_one_class() -> None:
    coverage = _estimate().coverage()
    assert coverage.priced == ["aws_instance.web", "aws_nat_gateway.egress"]
    assert coverage.free == ["aws_vpc.main"]
    assert coverage.unsupported == ["aws_made_up.thing[0]", "aws_made_up.thing[1]"]
    # A deleted resource's missing price counts too: the past cost, and so the diff, lacks it.
    assert coverage.price_not_found == ["aws_instance.old", "aws_instance.gone"]
    assert coverage.missing_prices == {
        "aws_instance.old": ["Instance usage (Linux/UNIX, on-demand, x99.large)"],
        "aws_instance.gone": ["Instance usage (Linux/UNIX, on-demand, x99.large)"],
    }
    assert coverage.unpriced == [
        "aws_made_up.thing[0]",
        "aws_made_up.thing[1]",
        "aws_instance.old",
        "aws_instance.gone",
    ]
    assert not coverage.complete


def test_a_reserved_instance_is_not_priced_coverage() -> None:
    usage = {
        "aws_instance.web": {
            "reserved_instance_type": "standard",
            "reserved_instance_term": "1_year",
            "reserved_instance_payment_option": "no_upfront",
        }
    }
    coverage = cloudcostguard.estimate(PLAN, usage=usage).coverage()
    assert "aws_instance.web" in coverage.price_not_found
    assert coverage.missing_prices["aws_instance.web"] == ["Instance usage (Linux/UNIX, reserved, t3.micro)"]


def test_a_fully_priced_plan_is_complete() -> None:
    estimate = cloudcostguard.estimate(plan(change("aws_nat_gateway.egress", ["create"], after={})))
    assert estimate.coverage().complete
    assert estimate.coverage().unpriced == []


def test_json_reports_counts_and_addresses() -> None:
    document = orjson.loads(render_json(_estimate()))
    assert document["coverage"] == {
        "priced": {"count": 2, "addresses": ["aws_instance.web", "aws_nat_gateway.egress"]},
        "free": {"count": 1, "addresses": ["aws_vpc.main"]},
        "unsupported": {"count": 2, "addresses": ["aws_made_up.thing[0]", "aws_made_up.thing[1]"]},
        "priceNotFound": {
            "count": 2,
            "addresses": ["aws_instance.old", "aws_instance.gone"],
            "components": {
                "aws_instance.old": ["Instance usage (Linux/UNIX, on-demand, x99.large)"],
                "aws_instance.gone": ["Instance usage (Linux/UNIX, on-demand, x99.large)"],
            },
        },
    }


def test_table_and_markdown_footers_name_the_unpriced() -> None:
    for rendered in (render_table(_estimate()), render_markdown(_estimate())):
        assert "Coverage: 2 priced, 1 free, 2 not supported, 2 price not found" in rendered
        assert (
            "Not priced: aws_made_up.thing[0], aws_made_up.thing[1], aws_instance.old, aws_instance.gone"
            in rendered
        )


def test_the_footer_lists_a_bounded_number_of_addresses() -> None:
    count = FOOTER_ADDRESSES + 5
    many = plan(*(change(f"aws_made_up.x[{i}]", ["create"], after={}) for i in range(count)))
    table = render_table(cloudcostguard.estimate(many))
    (line,) = [line for line in table.splitlines() if "Not priced:" in line]
    assert line.strip().endswith(f"aws_made_up.x[{FOOTER_ADDRESSES - 1}] and 5 more")
    assert line.count("aws_made_up.x[") == FOOTER_ADDRESSES

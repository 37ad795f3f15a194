"""The estimator on plan structure: actions, sides, regions, modules, unknowns, support and usage.

Prices come from the test catalog in ``tests.unit.plan.builders`` (see its table); a small server
there costs $0.10/h in us-east-1 = $73.00/month, plus its 20 GB root disk at $0.10 = $2.00.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.estimator import estimate_plan
from cloudcostguard.estimation.model import Estimate, ResourceCost
from cloudcostguard.estimation.registry import FREE_RESOURCE_TYPES, PRICERS, PricingContext
from cloudcostguard.estimation.usage import Usage
from cloudcostguard.plan.reader import read_plan
from cloudcostguard.pricing.catalog import InMemoryCatalog
from tests.plans import change, config_resource, plan, provider
from tests.unit.plan.builders import TEST_TYPE, make_catalog, registered_test_pricer, server

D = Decimal
SMALL = D("75.00")  # small server (73.00) + 20 GB root disk (2.00) in us-east-1
LARGE = D("732.00")  # large server (730.00) + 20 GB root disk (2.00) in us-east-1


@pytest.fixture(autouse=True)
def test_pricer() -> Iterator[None]:
    with registered_test_pricer():
        yield


@pytest.fixture
def catalog() -> InMemoryCatalog:
    return make_catalog()


def _estimate(
    document: dict[str, Any], catalog: InMemoryCatalog, usage: Any = None, **kwargs: Any
) -> Estimate:
    return cloudcostguard.estimate(document, usage=usage, catalog=catalog, **kwargs)


def _resource(estimate: Estimate, address: str) -> ResourceCost:
    [resource] = [r for r in estimate.resources if r.address == address]
    return resource


def _server(
    address: str, actions: list[str], before: Any = None, after: Any = None, **kw: Any
) -> dict[str, Any]:
    return change(address, actions, resource_type=TEST_TYPE, before=before, after=after, **kw)


# --- actions ------------------------------------------------------------------------------------


def test_create_prices_the_after_side_only(catalog: InMemoryCatalog) -> None:
    estimate = _estimate(plan(_server("aws_ccgtest_server.a", ["create"], after=server())), catalog)
    resource = _resource(estimate, "aws_ccgtest_server.a")
    assert (resource.monthly_cost, resource.past_monthly_cost) == (SMALL, 0)
    assert [(c.name, c.subresource, c.monthly_cost) for c in resource.components] == [
        ("Server (small)", None, D("73.00")),
        ("Storage", "root_disk", D("2.00")),
        ("Requests", None, None),
    ]
    assert resource.past_components == []
    assert (
        estimate.total_monthly_cost,
        estimate.past_total_monthly_cost,
        estimate.diff_total_monthly_cost,
    ) == (
        SMALL,
        0,
        SMALL,
    )


def test_delete_prices_the_past_only(catalog: InMemoryCatalog) -> None:
    estimate = _estimate(plan(_server("aws_ccgtest_server.a", ["delete"], before=server())), catalog)
    resource = _resource(estimate, "aws_ccgtest_server.a")
    assert (resource.monthly_cost, resource.past_monthly_cost, resource.diff_monthly_cost) == (
        0,
        SMALL,
        -SMALL,
    )
    assert resource.components == [] and len(resource.past_components) == 3
    assert (estimate.total_monthly_cost, estimate.past_total_monthly_cost) == (0, SMALL)


def test_forget_leaves_the_configuration_like_a_delete(catalog: InMemoryCatalog) -> None:
    estimate = _estimate(plan(_server("aws_ccgtest_server.a", ["forget"], before=server())), catalog)
    assert (estimate.total_monthly_cost, estimate.past_total_monthly_cost) == (0, SMALL)


def test_update_prices_both_sides(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server("aws_ccgtest_server.a", ["update"], before=server("small"), after=server("large"))
    )
    estimate = _estimate(document, catalog)
    resource = _resource(estimate, "aws_ccgtest_server.a")
    assert (resource.monthly_cost, resource.past_monthly_cost, resource.diff_monthly_cost) == (
        LARGE,
        SMALL,
        LARGE - SMALL,
    )
    assert resource.components[0].name == "Server (large)"
    assert resource.past_components[0].name == "Server (small)"
    assert estimate.diff_total_monthly_cost == D("657.00")


@pytest.mark.parametrize("actions", [["delete", "create"], ["create", "delete"], ["create", "forget"]])
def test_replace_in_either_order_prices_both_sides(catalog: InMemoryCatalog, actions: list[str]) -> None:
    document = plan(_server("aws_ccgtest_server.a", actions, before=server("large"), after=server("small")))
    estimate = _estimate(document, catalog)
    resource = _resource(estimate, "aws_ccgtest_server.a")
    assert resource.action == "replace"
    assert (resource.monthly_cost, resource.past_monthly_cost) == (SMALL, LARGE)
    assert estimate.diff_total_monthly_cost == SMALL - LARGE


@pytest.mark.parametrize("actions", [["no-op"], ["read"]])
def test_unchanged_resources_count_the_same_on_both_sides(
    catalog: InMemoryCatalog, actions: list[str]
) -> None:
    document = plan(
        _server("aws_ccgtest_server.same", actions, before=server(), after=server()),
        _server("aws_ccgtest_server.new", ["create"], after=server("large")),
    )
    estimate = _estimate(document, catalog)
    same = _resource(estimate, "aws_ccgtest_server.same")
    assert (same.monthly_cost, same.past_monthly_cost, same.diff_monthly_cost) == (SMALL, SMALL, 0)
    assert same.past_components == []  # listed once
    assert estimate.total_monthly_cost == SMALL + LARGE
    assert estimate.past_total_monthly_cost == SMALL
    assert estimate.diff_total_monthly_cost == LARGE


def test_a_plan_of_only_no_ops_has_equal_total_and_past(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server("aws_ccgtest_server.a", ["no-op"], before=server(), after=server()),
        _server("aws_ccgtest_server.b", ["no-op"], before=server("large"), after=server("large")),
    )
    estimate = _estimate(document, catalog)
    assert estimate.total_monthly_cost == estimate.past_total_monthly_cost == SMALL + LARGE
    assert estimate.diff_total_monthly_cost == 0


# --- unknowns -----------------------------------------------------------------------------------


def test_unknown_values_fall_back_to_the_pricers_default(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server(
            "aws_ccgtest_server.a",
            ["create"],
            after={"size": "small", "root_disk": [{}]},
            after_unknown={"root_disk": [{"size_gb": True}], "id": True},
        ),
        # a whole block unknown, and no block at all
        _server(
            "aws_ccgtest_server.b", ["create"], after={"size": "small"}, after_unknown={"root_disk": True}
        ),
    )
    estimate = _estimate(document, catalog)
    for address in ("aws_ccgtest_server.a", "aws_ccgtest_server.b"):
        storage = _resource(estimate, address).components[1]
        assert (storage.monthly_quantity, storage.monthly_cost) == (D(8), D("0.80"))


def test_unknown_values_are_not_applied_to_the_before_side(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server(
            "aws_ccgtest_server.a",
            ["update"],
            before=server(),
            after={"size": "small", "root_disk": [{"size_gb": 50}]},
            after_unknown={"root_disk": [{"size_gb": True}]},
        )
    )
    resource = _resource(_estimate(document, catalog), "aws_ccgtest_server.a")
    assert resource.components[1].monthly_quantity == D(8)  # after: unknown → default
    assert resource.past_components[1].monthly_quantity == D(20)  # before: known


# --- modules, count, for_each -----------------------------------------------------------------


def test_resources_in_modules_with_count_and_for_each_are_each_priced(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server("aws_ccgtest_server.web[0]", ["create"], after=server(), index=0),
        _server("aws_ccgtest_server.web[1]", ["create"], after=server(), index=1),
        _server(
            'module.app["blue"].aws_ccgtest_server.api',
            ["create"],
            after=server("large"),
            module_address='module.app["blue"]',
        ),
        _server(
            "module.app[0].module.db.aws_ccgtest_server.x",
            ["create"],
            after=server(),
            module_address="module.app[0].module.db",
        ),
    )
    estimate = _estimate(document, catalog)
    assert [r.monthly_cost for r in estimate.resources] == [SMALL, SMALL, LARGE, SMALL]
    assert estimate.total_monthly_cost == 3 * SMALL + LARGE


# --- regions ------------------------------------------------------------------------------------


def test_prices_follow_each_resources_region(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server("aws_ccgtest_server.default", ["create"], after=server()),
        _server("aws_ccgtest_server.aliased", ["create"], after=server()),
        _server("aws_ccgtest_server.zoned", ["create"], after=server(availability_zone="eu-west-1c")),
        _server(
            "aws_ccgtest_server.moved",
            ["delete", "create"],
            before=server(region="us-west-2"),
            after=server(),
        ),
        providers={"aws": provider("us-east-1"), "aws.west": provider("us-west-2")},
        root_module={"resources": [config_resource("aws_ccgtest_server.aliased", "aws.west")]},
    )
    estimate = _estimate(document, catalog)
    assert {r.address: (r.region, r.monthly_cost) for r in estimate.resources} == {
        "aws_ccgtest_server.default": ("us-east-1", SMALL),
        "aws_ccgtest_server.aliased": ("us-west-2", D("146.00") + D("2.40")),
        "aws_ccgtest_server.zoned": ("eu-west-1", D("219.00") + D("2.20")),
        "aws_ccgtest_server.moved": ("us-east-1", SMALL),
    }
    assert _resource(estimate, "aws_ccgtest_server.moved").past_monthly_cost == D(
        "148.40"
    )  # priced in us-west-2


def test_region_without_prices_reports_price_not_found(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server("aws_ccgtest_server.a", ["create"], after=server()), providers={"aws": provider("ap-south-1")}
    )
    estimate = _estimate(document, catalog)
    resource = _resource(estimate, "aws_ccgtest_server.a")
    assert [(c.price_not_found, c.monthly_cost) for c in resource.components[:2]] == [
        (True, None),
        (True, None),
    ]
    assert resource.monthly_cost == 0
    assert estimate.summary()["totalNoPriceResources"] == 1


def test_the_example_nat_gateway_pricer_uses_the_resolved_region(catalog: InMemoryCatalog) -> None:
    document = plan(
        change("aws_nat_gateway.east", ["create"], after={}),
        change("aws_nat_gateway.west", ["create"], after={"region": "us-west-2"}),
    )
    estimate = _estimate(document, catalog)
    assert _resource(estimate, "aws_nat_gateway.east").monthly_cost == D("32.85")  # 730 × 0.045
    assert _resource(estimate, "aws_nat_gateway.west").monthly_cost == D("35.04")  # 730 × 0.048


# --- support: priced, free, unsupported -------------------------------------------------------


def test_unsupported_types_are_counted_and_listed_and_free_types_are_free(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server("aws_ccgtest_server.a", ["create"], after=server()),
        change("aws_vpc.main", ["create"], after={"cidr_block": "10.0.0.0/16"}),
        change("aws_iam_role.r", ["create"], after={}),
        change("aws_made_up_thing.x[0]", ["create"], after={}),
        change("aws_made_up_thing.x[1]", ["create"], after={}),
        change("google_compute_instance.vm", ["delete"], before={}),
        change("data.aws_vpc.other", ["read"], mode="data", resource_type="aws_vpc", after={}),
    )
    estimate = _estimate(document, catalog)
    assert {r.address: r.support for r in estimate.resources} == {
        "aws_ccgtest_server.a": "priced",
        "aws_vpc.main": "free",
        "aws_iam_role.r": "free",
        "aws_made_up_thing.x[0]": "unsupported",
        "aws_made_up_thing.x[1]": "unsupported",
        "google_compute_instance.vm": "unsupported",
    }
    assert estimate.summary() == {
        "totalDetectedResources": 6,
        "totalSupportedResources": 1,
        "totalFreeResources": 2,
        "totalUnsupportedResources": 3,
        "unsupportedResourceCounts": {"aws_made_up_thing": 2, "google_compute_instance": 1},
        "totalUsageBasedResources": 1,
        "totalNoPriceResources": 0,
    }
    assert estimate.total_monthly_cost == SMALL


def test_no_type_is_both_free_and_priced() -> None:
    assert not FREE_RESOURCE_TYPES & set(PRICERS)


# --- usage --------------------------------------------------------------------------------------


def test_usage_prices_usage_based_components(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server("aws_ccgtest_server.api[0]", ["create"], after=server()),
        _server("aws_ccgtest_server.api[1]", ["create"], after=server()),
        _server("aws_ccgtest_server.other", ["create"], after=server()),
    )
    usage = """
version: 0.1
resource_type_default_usage:
  aws_ccgtest_server: {monthly_requests: 1000000}
resource_usage:
  aws_ccgtest_server.api[*]: {monthly_requests: 5000000}
  aws_ccgtest_server.api[1]: {monthly_requests: 10000000}
"""
    estimate = _estimate(document, catalog, usage)
    requests = {r.address: r.components[2] for r in estimate.resources}
    assert {a: (c.monthly_quantity, c.monthly_cost) for a, c in requests.items()} == {
        "aws_ccgtest_server.api[0]": (D(5), D("1.00")),
        "aws_ccgtest_server.api[1]": (D(10), D("2.00")),
        "aws_ccgtest_server.other": (D(1), D("0.20")),
    }
    assert all(c.usage_based and c.price == D("0.2") for c in requests.values())


def test_without_usage_usage_based_components_cost_nothing_and_are_flagged(catalog: InMemoryCatalog) -> None:
    estimate = _estimate(plan(_server("aws_ccgtest_server.a", ["create"], after=server())), catalog)
    requests = _resource(estimate, "aws_ccgtest_server.a").components[2]
    assert (requests.monthly_quantity, requests.monthly_cost, requests.usage_based) == (None, None, True)
    assert requests.price == D("0.2")
    assert estimate.summary()["totalUsageBasedResources"] == 1


def test_bad_usage_values_are_usage_errors_naming_the_resource(catalog: InMemoryCatalog) -> None:
    document = plan(_server("aws_ccgtest_server.a", ["create"], after=server()))
    with pytest.raises(errors.UsageError) as caught:
        _estimate(document, catalog, {"aws_ccgtest_server.a": {"monthly_requests": -5}})
    assert str(caught.value) == "usage aws_ccgtest_server.a.monthly_requests = -5 must not be negative"
    with pytest.raises(errors.UsageError, match="out of range"):
        _estimate(document, catalog, {"aws_ccgtest_server.a": {"monthly_requests": 1e300}})


# --- failure and configuration ---------------------------------------------------------------


def test_a_pricer_tripping_on_odd_attributes_gives_a_plan_error_naming_the_resource(
    catalog: InMemoryCatalog,
) -> None:
    def fragile(ctx: PricingContext) -> list[Any]:
        return [ctx.attrs.raw("size") + 1]

    PRICERS["ccg_test_fragile"] = fragile
    try:
        document = plan(change("ccg_test_fragile.x", ["create"], after={"size": "big"}))
        with pytest.raises(errors.PlanError) as caught:
            _estimate(document, catalog)
    finally:
        del PRICERS["ccg_test_fragile"]
    assert str(caught.value).startswith("ccg_test_fragile.x: cannot price its attributes (TypeError:")


def test_hours_per_month_is_configurable_and_must_be_positive(catalog: InMemoryCatalog) -> None:
    document = plan(_server("aws_ccgtest_server.a", ["create"], after=server()))
    assert _estimate(document, catalog, hours_per_month=D(720)).total_monthly_cost == D("74.00")
    for hours in (D(0), D(-1)):
        with pytest.raises(errors.ConfigurationError):
            _estimate(document, catalog, hours_per_month=hours)


def test_estimate_plan_is_pure_and_repeatable(catalog: InMemoryCatalog) -> None:
    parsed = read_plan(
        plan(_server("aws_ccgtest_server.a", ["update"], before=server(), after=server("large")))
    )
    first = estimate_plan(parsed, catalog, Usage())
    second = estimate_plan(parsed, catalog)
    assert first.to_dict() == second.to_dict()
    assert first.pricing_source == "test" and first.pricing_version == "test-1"
    assert first.plan_digest == parsed.plan_digest


def test_top_resources_are_the_biggest_cost_drivers(catalog: InMemoryCatalog) -> None:
    document = plan(
        _server("aws_ccgtest_server.b", ["create"], after=server()),
        _server("aws_ccgtest_server.c", ["create"], after=server("large")),
        _server("aws_ccgtest_server.a", ["create"], after=server()),
    )
    top = _estimate(document, catalog).top_resources(2)
    assert [r.address for r in top] == ["aws_ccgtest_server.c", "aws_ccgtest_server.a"]


def test_pricers_see_which_resources_refer_to_theirs(catalog: InMemoryCatalog) -> None:
    seen: dict[str, tuple[str, list[tuple[str, str]]]] = {}

    def recording(ctx: PricingContext) -> list[Any]:
        seen[ctx.address] = (ctx.config_address, [(r.source_type, r.attribute) for r in ctx.referenced_by()])
        return []

    PRICERS["aws_ccgtest_ip"] = recording
    try:
        document = plan(
            change(
                'module.net["a"].aws_ccgtest_ip.nat[0]',
                ["create"],
                after={},
                module_address='module.net["a"]',
            ),
            change("aws_ccgtest_ip.alone", ["delete"], before={}),
            root_module={
                "resources": [
                    {"address": "aws_ccgtest_ip.alone", "mode": "managed", "type": "aws_ccgtest_ip"}
                ],
                "module_calls": {
                    "net": {
                        "module": {
                            "resources": [
                                {
                                    "address": "aws_nat_gateway.gw",
                                    "mode": "managed",
                                    "type": "aws_nat_gateway",
                                    "name": "gw",
                                    "expressions": {
                                        "allocation_id": {
                                            "references": ["aws_ccgtest_ip.nat.id", "aws_ccgtest_ip.nat"]
                                        }
                                    },
                                }
                            ]
                        }
                    }
                },
            },
        )
        _estimate(document, catalog)
    finally:
        del PRICERS["aws_ccgtest_ip"]
    assert seen == {
        'module.net["a"].aws_ccgtest_ip.nat[0]': (
            "module.net.aws_ccgtest_ip.nat",
            [("aws_nat_gateway", "allocation_id")],
        ),
        "aws_ccgtest_ip.alone": ("aws_ccgtest_ip.alone", []),
    }


def test_pricers_can_read_another_resources_usage_and_scaling_targets_are_free() -> None:
    from cloudcostguard.estimation.model import CostComponent
    from cloudcostguard.estimation.registry import FREE_RESOURCE_TYPES, PRICERS
    from cloudcostguard.estimation.usage import Usage

    seen: list[object] = []

    def spy(ctx: PricingContext) -> list[CostComponent]:
        assert ctx.usage_of is not None
        seen.append(
            ctx.usage_of("aws_appautoscaling_target.t", "aws_appautoscaling_target").decimal("capacity")
        )
        return []

    PRICERS["test_usage_spy"] = spy
    try:
        document = {
            "format_version": "1.2",
            "resource_changes": [
                {
                    "address": "test_usage_spy.a",
                    "mode": "managed",
                    "type": "test_usage_spy",
                    "name": "a",
                    "change": {"actions": ["create"], "before": None, "after": {}},
                },
                {
                    "address": "aws_appautoscaling_target.t",
                    "mode": "managed",
                    "type": "aws_appautoscaling_target",
                    "name": "t",
                    "change": {"actions": ["create"], "before": None, "after": {"min_capacity": 5}},
                },
            ],
        }
        estimate = cloudcostguard.estimate(
            document, usage=Usage({"aws_appautoscaling_target.t": {"capacity": 77}})
        )
    finally:
        del PRICERS["test_usage_spy"]
    assert seen == [Decimal(77)]
    assert "aws_appautoscaling_target" in FREE_RESOURCE_TYPES
    assert [r.support for r in estimate.resources] == ["priced", "free"]

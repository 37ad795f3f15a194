"""Estimate values: Decimal money rounded half-up only when rendered, and the JSON contract (DESIGN §2)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import orjson
import pytest

import cloudcostguard
from cloudcostguard.estimation.model import (
    CostComponent,
    Estimate,
    ResourceCost,
    money,
    number,
    round_half_up,
)
from cloudcostguard.render import render
from tests.plans import change, plan
from tests.unit.plan.builders import TEST_TYPE, make_catalog, registered_test_pricer, server

D = Decimal
MONEY = re.compile(r"^-?\d+\.\d{2}$")


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("0", "0.00"),
        ("1.005", "1.01"),  # half-up, where banker's rounding would give 1.00
        ("2.675", "2.68"),
        ("0.125", "0.13"),
        ("-1.005", "-1.01"),
        ("-0.001", "0.00"),  # never "-0.00"
        ("1234567.891", "1234567.89"),
        ("1E+3", "1000.00"),
        ("123456789012345678901234567890.125", "123456789012345678901234567890.13"),  # beyond 28 digits
    ],
)
def test_money_is_two_decimals_half_up(value: str, rendered: str) -> None:
    assert money(D(value)) == rendered


def test_money_none_stays_none() -> None:
    assert money(None) is None and number(None) is None


@pytest.mark.parametrize(
    ("value", "rendered"),
    [("730", "730"), ("0.0450", "0.045"), ("1E+6", "1000000"), ("0E-8", "0"), ("0.0000002", "0.0000002")],
)
def test_number_is_exact_without_exponent_or_trailing_zeros(value: str, rendered: str) -> None:
    assert number(D(value)) == rendered


def test_round_half_up_to_other_steps() -> None:
    assert round_half_up(D("0.00005"), D("0.0001")) == D("0.0001")
    assert round_half_up(D("2.45"), D("0.1")) == D("2.5")


def test_totals_stay_exact_until_rendered() -> None:
    # Three components of a third of a cent each: rounding each first would lose the cent.
    third = D("0.01") / 3
    components = [CostComponent("x", "h", D(1), third, third) for _ in range(3)]
    resource = ResourceCost(
        "a.b",
        "a",
        "create",
        "us-east-1",
        "priced",
        components,
        [],
        sum((c.monthly_cost for c in components if c.monthly_cost is not None), D(0)),
    )
    estimate = Estimate([resource], "test", "1")
    assert estimate.total_monthly_cost == third * 3 != D("0.01")
    assert estimate.to_dict()["totalMonthlyCost"] == "0.01"


@pytest.fixture
def contract_document() -> Iterator[dict[str, Any]]:
    with registered_test_pricer():
        document = plan(
            change(f"{TEST_TYPE}.new", ["create"], after=server()),
            change(f"{TEST_TYPE}.up", ["update"], before=server(), after=server("large")),
            change(f"{TEST_TYPE}.gone", ["delete"], before=server()),
            change(f"{TEST_TYPE}.far", ["create"], after=server(region="ap-south-1")),
            change("aws_vpc.main", ["create"], after={}),
            change("aws_made_up.thing", ["create"], after={}),
        )
        estimate = cloudcostguard.estimate(
            document,
            catalog=make_catalog(),
            usage={f"{TEST_TYPE}.new": {"monthly_requests": 1500000}},
            as_of=date(2026, 3, 1),
        )
        yield orjson.loads(render(estimate, "json"))


def test_json_document_has_every_contract_field(contract_document: dict[str, Any]) -> None:
    document = contract_document
    assert {
        "version",
        "currency",
        "totalMonthlyCost",
        "pastTotalMonthlyCost",
        "diffTotalMonthlyCost",
        "totalHourlyCost",
        "pricing",
        "resources",
        "summary",
    } <= set(document)
    assert set(document["pricing"]) == {"source", "version", "asOf"}
    assert document["pricing"] == {"source": "test", "version": "test-1", "asOf": "2026-03-01"}
    assert document["currency"] == "USD"
    for resource in document["resources"]:
        assert {
            "name",
            "resourceType",
            "action",
            "region",
            "monthlyCost",
            "pastMonthlyCost",
            "costComponents",
        } <= set(resource)
        for component in resource["costComponents"]:
            assert {
                "name",
                "unit",
                "monthlyQuantity",
                "price",
                "monthlyCost",
                "usageBased",
                "priceNotFound",
            } <= set(component)
    assert set(document["summary"]) == {
        "totalDetectedResources",
        "totalSupportedResources",
        "totalFreeResources",
        "totalUnsupportedResources",
        "unsupportedResourceCounts",
        "totalUsageBasedResources",
        "totalNoPriceResources",
    }


def test_json_money_fields_are_two_decimal_strings(contract_document: dict[str, Any]) -> None:
    document = contract_document
    for key in ("totalMonthlyCost", "pastTotalMonthlyCost", "diffTotalMonthlyCost"):
        assert MONEY.match(document[key]), (key, document[key])
    for resource in document["resources"]:
        for key in ("monthlyCost", "pastMonthlyCost", "diffMonthlyCost"):
            assert MONEY.match(resource[key]), (resource["name"], key, resource[key])
        for component in resource["costComponents"] + resource.get("pastCostComponents", []):
            cost = component["monthlyCost"]
            assert cost is None or MONEY.match(cost), component
            for key in ("monthlyQuantity", "price"):
                assert component[key] is None or isinstance(component[key], str)


def test_json_values(contract_document: dict[str, Any]) -> None:
    document = contract_document
    # new: 73 + 2 + 1.5M requests × $0.20/M = 75.30; up: 732 (was 75); gone: 0 (was 75); far: no prices
    assert (
        document["totalMonthlyCost"],
        document["pastTotalMonthlyCost"],
        document["diffTotalMonthlyCost"],
    ) == (
        "807.30",
        "150.00",
        "657.30",
    )
    assert document["totalHourlyCost"] == "1.105890411"  # 807.30 / 730 = 1.10589041095…, half-up to 10 places
    by_name = {r["name"]: r for r in document["resources"]}
    new = by_name[f"{TEST_TYPE}.new"]
    assert (new["resourceType"], new["action"], new["region"], new["monthlyCost"]) == (
        TEST_TYPE,
        "create",
        "us-east-1",
        "75.30",
    )
    assert new["costComponents"] == [
        {
            "name": "Server (small)",
            "unit": "hours",
            "monthlyQuantity": "730",
            "price": "0.1",
            "monthlyCost": "73.00",
            "usageBased": False,
            "priceNotFound": False,
        },
        {
            "name": "Storage",
            "unit": "GB",
            "monthlyQuantity": "20",
            "price": "0.1",
            "monthlyCost": "2.00",
            "usageBased": False,
            "priceNotFound": False,
            "subresource": "root_disk",
        },
        {
            "name": "Requests",
            "unit": "1M requests",
            "monthlyQuantity": "1.5",
            "price": "0.2",
            "monthlyCost": "0.30",
            "usageBased": True,
            "priceNotFound": False,
        },
    ]
    up = by_name[f"{TEST_TYPE}.up"]
    assert (up["monthlyCost"], up["pastMonthlyCost"], up["diffMonthlyCost"]) == ("732.00", "75.00", "657.00")
    assert [c["name"] for c in up["pastCostComponents"]] == ["Server (small)", "Storage", "Requests"]
    gone = by_name[f"{TEST_TYPE}.gone"]
    assert (gone["action"], gone["monthlyCost"], gone["costComponents"]) == ("delete", "0.00", [])
    far = by_name[f"{TEST_TYPE}.far"]
    assert (
        far["costComponents"][0]["priceNotFound"] is True and far["costComponents"][0]["monthlyCost"] is None
    )
    assert by_name["aws_made_up.thing"]["support"] == "unsupported"
    assert document["summary"] == {
        "totalDetectedResources": 6,
        "totalSupportedResources": 4,
        "totalFreeResources": 1,
        "totalUnsupportedResources": 1,
        "unsupportedResourceCounts": {"aws_made_up": 1},
        "totalUsageBasedResources": 4,
        "totalNoPriceResources": 1,
    }
    assert document["planDigest"].startswith("sha256:")

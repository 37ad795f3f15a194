"""Types added with the pricer kit, priced from PostgreSQL loaded with real AWS offer-file excerpts.

The bundled snapshot lacks these prices (the unit goldens show them as price not found); here the
production path is proven: the official offer file is loaded into the store, and the expected price is
read from that same file, never typed.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

import cloudcostguard
from cloudcostguard.cli import main
from cloudcostguard.estimation.model import ResourceCost
from cloudcostguard.pricing.store.one_shot_catalog import load_catalog_once
from tests.integration.pricing.conftest import make_settings
from tests.unit.estimation.aws.single_resource import HOURS, component, linked_plan, ref
from tests.unit.pricing.offers.samples import EC2_2017, EC2_C4

pytestmark = pytest.mark.postgres


def _on_demand_price(offer: Path, usagetype: str) -> Decimal:
    """The on-demand price of the product with ``usagetype`` in an offer file."""
    document = orjson.loads(offer.read_bytes())
    (sku,) = [s for s, p in document["products"].items() if p["attributes"].get("usagetype") == usagetype]
    (term,) = document["terms"]["OnDemand"][sku].values()
    (dimension,) = term["priceDimensions"].values()
    return Decimal(dimension["pricePerUnit"]["USD"])


def _estimate_from(
    offer: Path, store_url: str, plan: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> list[ResourceCost]:
    with pytest.raises(SystemExit) as caught:
        main(["pricing", "load", str(offer), "--database-url", store_url])
    assert caught.value.code == 0, capsys.readouterr().err
    catalog = load_catalog_once(store_url, make_settings())
    estimate = cloudcostguard.estimate(plan, catalog=catalog)
    assert estimate.pricing_source == "postgresql"
    return estimate.resources


def test_a_dedicated_host_is_priced_from_the_offer_file(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = linked_plan(
        [("aws_ec2_host.storage", {"instance_family": "i2", "availability_zone": "us-east-2a"}, {}, {})]
    )
    (host,) = _estimate_from(EC2_2017, store_url, plan, capsys)
    line = component(host, "EC2 Dedicated Host (on-demand, i2)")
    hourly = _on_demand_price(EC2_2017, "USE2-HostUsage:i2")
    assert host.region == "us-east-2"
    assert not line.price_not_found
    assert line.price == hourly
    assert line.monthly_cost == hourly * HOURS


def test_an_autoscaling_group_is_priced_from_the_offer_file(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = linked_plan(
        [
            (
                "aws_launch_configuration.lc",
                {"instance_type": "c4.large", "enable_monitoring": False},
                {},
                {},
            ),
            (
                "aws_autoscaling_group.asg",
                {"desired_capacity": 3},
                {},
                {"launch_configuration": ref("aws_launch_configuration.lc.id")},
            ),
        ]
    )
    group = next(
        r for r in _estimate_from(EC2_C4, store_url, plan, capsys) if r.address == "aws_autoscaling_group.asg"
    )
    line = component(group, "Instance usage (Linux/UNIX, on-demand, c4.large)", "aws_launch_configuration.lc")
    hourly = _on_demand_price(EC2_C4, "BoxUsage:c4.large")
    assert not line.price_not_found
    assert line.monthly_quantity == 3 * HOURS
    assert line.monthly_cost == 3 * HOURS * hourly

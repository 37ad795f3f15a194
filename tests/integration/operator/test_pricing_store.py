"""The operator prices from the PostgreSQL store when configured, and re-estimates on a new version."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import kmock
import pytest

from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.pricing.store.bulk_load import import_snapshot_records
from tests import kmock_support as ks
from tests.integration.operator.conftest import OperatorFactory, eventually
from tests.integration.pricing.conftest import database_url, make_settings, store_url  # noqa: F401 - fixtures
from tests.plans import HOURS_PER_MONTH, money, nat_plan, nat_unit_price

pytestmark = [pytest.mark.kmock, pytest.mark.postgres]


async def test_new_pricing_version_re_estimates(
    kube: kmock.KubernetesEmulator,
    operator: OperatorFactory,
    store_url: str,  # noqa: F811
) -> None:
    records = load_bundled_catalog().records()
    first = await import_snapshot_records(store_url, make_settings(), records, source="test", digest="a" * 64)
    kube.objects["v1/namespaces", None, "team-a"] = ks.namespace("team-a")
    kube.objects[ks.COSTESTIMATES, "team-a", "egress"] = ks.costestimate(
        "egress", "team-a", {"plan": {"inline": nat_plan(1, vpcs=1)}}
    )

    def status() -> dict[str, str]:
        return dict(ks.live_object(kube, ks.COSTESTIMATES, "team-a", "egress").get("status", {}))

    hourly = nat_unit_price("NatGateway-Hours")
    async with operator(database_url=store_url, catalog_refresh_interval=3600) as memo:
        await eventually(lambda: status().get("phase") == "Estimated")
        assert status()["pricingVersion"].startswith(f"pg-{first.version_id}-")
        assert status()["monthlyCost"] == money(HOURS_PER_MONTH * hourly)

        # A new version doubles the NAT gateway hour: NOTIFY reaches the provider, the provider's listener
        # wakes every reconcile loop, and the estimate follows without any change to the object.
        doubled = [
            dataclasses.replace(r, unit_price=r.unit_price * 2)
            if r.attributes.get("usagetype", "").endswith("NatGateway-Hours")
            else r
            for r in records
        ]
        second = await import_snapshot_records(
            store_url, make_settings(), doubled, source="test", digest="b" * 64
        )
        await eventually(lambda: status().get("pricingVersion", "").startswith(f"pg-{second.version_id}-"))
        assert memo.catalog_provider.status().source == "postgresql"
    assert status()["monthlyCost"] == money(HOURS_PER_MONTH * hourly * Decimal(2))
    assert status()["observedGeneration"] == 1

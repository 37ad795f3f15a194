"""aws_efs_file_system: storage classes, infrequent-access traffic, provisioned throughput."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cloudcostguard.estimation.model import CostComponent
from tests.unit.estimation.aws.single_resource import price_resource

D = Decimal


def _components(
    after: dict[str, Any], usage: dict[str, Any] | None = None, unknown: dict[str, Any] | None = None
) -> dict[str, CostComponent]:
    resource = price_resource("aws_efs_file_system.fs", after, unknown=unknown, usage=usage)
    return {c.name: c for c in resource.components}


IA_POLICY = [{"transition_to_ia": "AFTER_30_DAYS", "transition_to_archive": None}]
USAGE = {
    "storage_gb": 500,
    "infrequent_access_storage_gb": 2000,
    "monthly_infrequent_access_read_gb": 300,
    "monthly_infrequent_access_write_gb": 40,
}


def test_regional_file_system_with_ia_lifecycle_prices_both_classes_and_ia_traffic() -> None:
    components = _components({"lifecycle_policy": IA_POLICY}, USAGE, unknown={"availability_zone_name": True})
    assert {name: c.monthly_cost for name, c in components.items()} == {
        "Storage (standard)": D("150.00"),
        "Storage (standard, infrequent access)": D("50.000"),
        "Read requests (infrequent access)": D("3.00"),
        "Write requests (infrequent access)": D("0.40"),
    }


def test_one_zone_file_system_uses_the_one_zone_classes() -> None:
    components = _components({"availability_zone_name": "us-east-1a", "lifecycle_policy": IA_POLICY}, USAGE)
    assert components["Storage (one zone)"].monthly_cost == D("80.00")
    assert components["Storage (one zone, infrequent access)"].monthly_cost == D("26.6000")
    without_policy = _components({"availability_zone_name": "us-east-1a"}, USAGE)
    assert list(without_policy) == ["Storage (one zone)"]


def test_provisioned_throughput_bills_only_what_exceeds_the_throughput_included_with_storage() -> None:
    # 400 GB stored include 400 / 20 = 20 MiB/s; 64 provisioned → 44 billed at $6.00.
    components = _components(
        {"provisioned_throughput_in_mibps": 64, "throughput_mode": "provisioned"}, {"storage_gb": 400}
    )
    throughput = components["Provisioned throughput"]
    assert (throughput.monthly_quantity, throughput.monthly_cost) == (D(44), D("264.00"))
    covered = _components({"provisioned_throughput_in_mibps": 10}, {"storage_gb": 400})
    assert covered["Provisioned throughput"].monthly_cost == D(0)
    bursting = _components({"throughput_mode": "bursting"}, {"storage_gb": 400})
    assert "Provisioned throughput" not in bursting

"""aws_ebs_volume and aws_ebs_snapshot: every volume type, gp3's free baseline, io2 tiers, usage."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord
from tests.unit.estimation.aws.single_resource import (
    component,
    ec2_price,
    linked_plan,
    names,
    price_resource,
    ref,
)

GP3_STORAGE = {"productFamily": "Storage", "volumeApiName": "gp3", "usagetypeBase": "EBS:VolumeUsage.gp3"}
GP3_IOPS = {
    "productFamily": "System Operation",
    "volumeApiName": "gp3",
    "usagetypeBase": "EBS:VolumeP-IOPS.gp3",
}
GP3_THROUGHPUT = {
    "productFamily": "Provisioned Throughput",
    "volumeApiName": "gp3",
    "usagetypeBase": "EBS:VolumeP-Throughput.gp3",
}


def io2_iops_price(usagetype: str) -> Decimal:
    return ec2_price(productFamily="System Operation", volumeApiName="io2", usagetypeBase=usagetype)


def test_gp3_above_its_baseline_pays_only_the_extra_iops_and_throughput() -> None:
    volume = price_resource(
        "aws_ebs_volume.fast",
        {"availability_zone": "us-east-1a", "type": "gp3", "size": 100, "iops": 5000, "throughput": 250},
    )

    assert component(volume, "Storage (general purpose SSD, gp3)").monthly_cost == 100 * ec2_price(
        **GP3_STORAGE
    )
    iops = component(volume, "Provisioned IOPS")
    assert iops.monthly_quantity == 2000
    assert iops.monthly_cost == 2000 * ec2_price(**GP3_IOPS)
    throughput = component(volume, "Provisioned throughput")
    assert (throughput.unit, throughput.monthly_quantity) == ("Mbps", 125)
    assert throughput.monthly_cost == 125 * ec2_price(**GP3_THROUGHPUT)


def test_gp3_at_its_baseline_pays_storage_only() -> None:
    volume = price_resource(
        "aws_ebs_volume.plain", {"type": "gp3", "size": 50}, unknown={"iops": True, "throughput": True}
    )

    assert names(volume) == [(None, "Storage (general purpose SSD, gp3)")]
    assert volume.monthly_cost == 50 * ec2_price(**GP3_STORAGE)


def test_unknown_type_and_size_fall_back_to_an_8_gb_gp2_volume() -> None:
    volume = price_resource("aws_ebs_volume.later", {}, unknown={"type": True, "size": True})

    storage = component(volume, "Storage (general purpose SSD, gp2)")
    assert storage.monthly_quantity == 8
    assert storage.monthly_cost == 8 * ec2_price(productFamily="Storage", volumeApiName="gp2")


def test_io2_iops_are_charged_per_tier() -> None:
    volume = price_resource("aws_ebs_volume.db", {"type": "io2", "size": 500, "iops": 70000})

    tiers = [(c.name, c.monthly_quantity, c.monthly_cost) for c in volume.components[1:]]
    assert tiers == [
        ("Provisioned IOPS", 32000, 32000 * io2_iops_price("EBS:VolumeP-IOPS.io2")),
        ("Provisioned IOPS (32K-64K)", 32000, 32000 * io2_iops_price("EBS:VolumeP-IOPS.io2.tier2")),
        ("Provisioned IOPS (over 64K)", 6000, 6000 * io2_iops_price("EBS:VolumeP-IOPS.io2.tier3")),
    ]


def test_io2_within_the_first_tier_has_a_single_iops_line() -> None:
    volume = price_resource("aws_ebs_volume.db", {"type": "io2", "size": 30, "iops": 300})

    assert names(volume) == [(None, "Storage (provisioned IOPS SSD, io2)"), (None, "Provisioned IOPS")]


def test_io1_with_iops_not_yet_known_is_charged_the_minimum_100_iops() -> None:
    volume = price_resource("aws_ebs_volume.db", {"type": "io1", "size": 30}, unknown={"iops": True})

    iops = component(volume, "Provisioned IOPS")
    assert iops.monthly_quantity == 100
    assert iops.monthly_cost == 100 * ec2_price(
        productFamily="System Operation", volumeApiName="io1", usagetypeBase="EBS:VolumeP-IOPS.piops"
    )


def test_magnetic_io_requests_come_from_usage_per_million() -> None:
    without = price_resource("aws_ebs_volume.old", {"type": "standard", "size": 20})
    with_usage = price_resource(
        "aws_ebs_volume.old",
        {"type": "standard", "size": 20},
        usage={"monthly_standard_io_requests": 3_500_000},
    )

    per_request = ec2_price(productFamily="System Operation", usagetypeBase="EBS:VolumeIOUsage")
    pending = component(without, "I/O requests")
    assert (pending.unit, pending.monthly_quantity, pending.monthly_cost) == ("1M request", None, None)
    assert pending.usage_based and pending.price == per_request * 1_000_000
    requests = component(with_usage, "I/O requests")
    assert requests.monthly_quantity == Decimal("3.5")
    assert requests.monthly_cost == 3_500_000 * per_request


def test_a_volume_type_aws_does_not_sell_is_reported_without_a_price() -> None:
    volume = price_resource("aws_ebs_volume.odd", {"type": "gp9", "size": 10})

    storage = component(volume, "Storage (gp9)")
    assert storage.price_not_found and storage.monthly_cost is None


def test_wrongly_typed_attributes_fall_back_to_defaults_instead_of_raising() -> None:
    volume = price_resource("aws_ebs_volume.odd", {"type": 3, "size": "big", "iops": [1], "throughput": {}})

    assert component(volume, "Storage (general purpose SSD, gp2)").monthly_quantity == 8


def test_other_regions_are_priced_from_their_own_rows() -> None:
    volume = price_resource("aws_ebs_volume.eu", {"type": "gp2", "size": 10}, region="eu-west-1")

    assert volume.region == "eu-west-1"
    assert volume.monthly_cost == 10 * ec2_price("eu-west-1", productFamily="Storage", volumeApiName="gp2")
    assert volume.monthly_cost != 10 * ec2_price(productFamily="Storage", volumeApiName="gp2")


def test_throughput_quoted_per_gibps_is_converted_to_mibps() -> None:
    storage = {"productFamily": "Storage", "volumeApiName": "gp3", "usagetype": "EBS:VolumeUsage.gp3"}
    throughput_product = {
        "productFamily": "Provisioned Throughput",
        "volumeApiName": "gp3",
        "usagetype": "EBS:VolumeP-Throughput.gp3",
    }
    records = [
        PriceRecord("AmazonEC2", "us-east-1", storage, "GB-Mo", Decimal("0.08")),
        PriceRecord("AmazonEC2", "us-east-1", throughput_product, "GiBps-mo", Decimal("40.96")),
    ]
    catalog = InMemoryCatalog(records, source="test", version="1")

    volume = price_resource(
        "aws_ebs_volume.fast", {"type": "gp3", "size": 10, "throughput": 135}, catalog=catalog
    )

    throughput = component(volume, "Provisioned throughput")
    assert throughput.price == Decimal("0.04")
    assert throughput.monthly_cost == Decimal("0.40")


def test_snapshot_of_an_unknown_size_is_8_gb_and_its_usage_lines_wait_for_usage() -> None:
    snapshot = price_resource("aws_ebs_snapshot.new", {"volume_id": "vol-1"}, unknown={"volume_size": True})

    storage = component(snapshot, "EBS snapshot storage")
    assert storage.monthly_quantity == 8
    assert storage.monthly_cost == 8 * ec2_price(
        productFamily="Storage Snapshot", usagetypeBase="EBS:SnapshotUsage"
    )
    usage_lines = [c for c in snapshot.components if c is not storage]
    assert [c.name for c in usage_lines] == [
        "Fast snapshot restore",
        "ListChangedBlocks & ListSnapshotBlocks API requests",
        "GetSnapshotBlock API requests",
        "PutSnapshotBlock API requests",
    ]
    assert all(c.usage_based and c.monthly_cost is None and not c.price_not_found for c in usage_lines)


def test_snapshot_usage_is_counted_in_thousands_of_requests() -> None:
    snapshot = price_resource(
        "aws_ebs_snapshot.busy",
        {"volume_id": "vol-1", "volume_size": 100},
        usage={"monthly_get_block_requests": 250_000, "fast_snapshot_restore_hours": 10},
    )

    get_blocks = component(snapshot, "GetSnapshotBlock API requests")
    per_unit = ec2_price(productFamily="EBS direct API Requests", group="GetSnapshotBlock")
    assert (get_blocks.unit, get_blocks.monthly_quantity) == ("1k SnapshotAPIUnits", 250)
    assert get_blocks.price == per_unit * 1000
    assert get_blocks.monthly_cost == 250_000 * per_unit
    restore = component(snapshot, "Fast snapshot restore")
    assert restore.monthly_cost == 10 * ec2_price(
        productFamily="Fast Snapshot Restore", usagetypeBase="EBS:FastSnapshotRestore"
    )
    assert component(snapshot, "EBS snapshot storage").monthly_quantity == 100


# --- a new snapshot's size comes from the volume its volume_id refers to -----------------------------

SNAPSHOT_GB = ec2_price(productFamily="Storage Snapshot", usagetypeBase="EBS:SnapshotUsage")
NEW_SNAPSHOT_UNKNOWN = {"volume_id": True, "volume_size": True, "id": True}


def snapshot_storage(plan: dict[str, Any], address: str = "aws_ebs_snapshot.data") -> CostComponent:
    (snapshot,) = [r for r in cloudcostguard.estimate(plan).resources if r.address == address]
    return component(snapshot, "EBS snapshot storage")


def test_a_new_snapshot_of_a_new_volume_is_the_volumes_planned_size() -> None:
    plan = linked_plan(
        [
            ("aws_ebs_volume.data", {"size": 250, "type": "gp3"}, {"id": True}, {}),
            ("aws_ebs_snapshot.data", {}, NEW_SNAPSHOT_UNKNOWN, {"volume_id": ref("aws_ebs_volume.data.id")}),
        ]
    )

    storage = snapshot_storage(plan)

    assert (storage.monthly_quantity, storage.monthly_cost) == (250, 250 * SNAPSHOT_GB)


def test_snapshots_of_counted_volumes_take_their_own_volumes_size() -> None:
    expressions = {"volume_id": ref("aws_ebs_volume.data.id")}  # aws_ebs_volume.data[count.index].id
    plan = linked_plan(
        [
            ("aws_ebs_volume.data[0]", {"size": 100}, {"id": True}, {}),
            ("aws_ebs_volume.data[1]", {"size": 300}, {"id": True}, {}),
            ("aws_ebs_snapshot.data[0]", {}, NEW_SNAPSHOT_UNKNOWN, expressions),
            ("aws_ebs_snapshot.data[1]", {}, NEW_SNAPSHOT_UNKNOWN, expressions),
        ]
    )

    assert snapshot_storage(plan, "aws_ebs_snapshot.data[0]").monthly_quantity == 100
    assert snapshot_storage(plan, "aws_ebs_snapshot.data[1]").monthly_quantity == 300


def test_the_snapshots_own_known_size_wins_over_its_volumes() -> None:
    plan = linked_plan(
        [
            ("aws_ebs_volume.data", {"size": 250}, {"id": True}, {}),
            (
                "aws_ebs_snapshot.data",
                {"volume_size": 40},
                {"id": True},
                {"volume_id": ref("aws_ebs_volume.data.id")},
            ),
        ]
    )

    assert snapshot_storage(plan).monthly_quantity == 40


@pytest.mark.parametrize(
    ("volume", "expressions"),
    [
        ({"size": 250}, {"volume_id": ref("data.aws_ebs_volume.data.id")}),  # a data source
        (
            {"snapshot_id": "snap-1"},
            {"volume_id": ref("aws_ebs_volume.data.id")},
        ),  # size from a snapshot: unknown
        ({"size": "big"}, {"volume_id": ref("aws_ebs_volume.data.id")}),
        ({"size": 250}, {}),
    ],
)
def test_a_volume_size_the_plan_does_not_know_falls_back_to_8_gb(
    volume: dict[str, Any], expressions: dict[str, Any]
) -> None:
    plan = linked_plan(
        [
            ("aws_ebs_volume.data", volume, {"id": True, "size": "size" not in volume}, {}),
            ("aws_ebs_snapshot.data", {}, NEW_SNAPSHOT_UNKNOWN, expressions),
        ]
    )

    assert snapshot_storage(plan).monthly_quantity == 8

"""aws_dynamodb_table beyond the goldens (the golden case runs in the shared Infracost harness)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import cloudcostguard
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceCatalog, PriceRecord
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from tests.unit.estimation.aws.single_resource import linked_plan, price_resource, ref

D = Decimal
HOURS = D(730)
SNAPSHOT = load_bundled_catalog()


def _components(
    after: dict[str, Any],
    *,
    unknown: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
    catalog: PriceCatalog | None = None,
    region: str = "us-east-1",
) -> dict[str, CostComponent]:
    resource = price_resource(
        "aws_dynamodb_table.t", after, unknown=unknown, usage=usage, catalog=catalog, region=region
    )
    return {(f"{c.subresource} › {c.name}" if c.subresource else c.name): c for c in resource.components}


def _rate(region: str = "us-east-1", **attributes: str) -> Decimal:
    price = SNAPSHOT.lookup("AmazonDynamoDB", region, **attributes)
    assert price is not None, attributes
    return price.unit_price


def test_provisioned_capacity_is_billed_every_hour_of_the_month() -> None:
    components = _components({"billing_mode": "PROVISIONED", "write_capacity": 20, "read_capacity": 30})
    wcu, rcu = components["Write capacity unit (WCU)"], components["Read capacity unit (RCU)"]
    wcu_rate = _rate(productFamily="Provisioned IOPS", usagetypeBase="WriteCapacityUnit-Hrs")
    rcu_rate = _rate(productFamily="Provisioned IOPS", usagetypeBase="ReadCapacityUnit-Hrs")
    assert (wcu.monthly_quantity, wcu.price, wcu.monthly_cost) == (
        D(20),
        wcu_rate * HOURS,
        20 * HOURS * wcu_rate,
    )
    assert rcu.monthly_cost == 30 * HOURS * rcu_rate == D("2.8470")
    assert "Write request unit (WRU)" not in components
    assert "Read request unit (RRU)" not in components


def test_on_demand_tables_bill_request_units_from_usage_instead_of_capacity() -> None:
    components = _components(
        {"billing_mode": "PAY_PER_REQUEST"},
        unknown={"write_capacity": True, "read_capacity": True},
        usage={"monthly_write_request_units": 4_000_000, "monthly_read_request_units": 10_000_000},
    )
    assert not any("capacity unit" in name for name in components)
    wru_rate = _rate(
        productFamily="Amazon DynamoDB PayPerRequest Throughput", usagetypeBase="WriteRequestUnits"
    )
    rru_rate = _rate(
        productFamily="Amazon DynamoDB PayPerRequest Throughput", usagetypeBase="ReadRequestUnits"
    )
    assert components["Write request unit (WRU)"].monthly_cost == 4_000_000 * wru_rate == D("2.500000000")
    assert components["Read request unit (RRU)"].monthly_cost == 10_000_000 * rru_rate
    no_usage = _components({"billing_mode": "PAY_PER_REQUEST"})
    assert no_usage["Write request unit (WRU)"].usage_based
    assert no_usage["Write request unit (WRU)"].monthly_cost is None


def test_storage_and_backups_come_from_usage_and_pitr_only_when_enabled() -> None:
    components = _components(
        {"write_capacity": 1, "read_capacity": 1, "point_in_time_recovery": [{"enabled": True}]},
        usage={"storage_gb": 100, "pitr_backup_storage_gb": 50, "on_demand_backup_storage_gb": 10},
    )
    storage_rate = _rate(productFamily="Database Storage", usagetypeBase="TimedStorage-ByteHrs")
    assert components["Data storage"].monthly_cost == 100 * storage_rate == D("25.00")
    pitr_rate = _rate(productFamily="Database Storage", usagetypeBase="TimedPITRStorage-ByteHrs")
    assert components["Point-In-Time Recovery (PITR) backup storage"].monthly_cost == 50 * pitr_rate
    assert components["On-demand backup storage"].monthly_cost == D("1.00")
    without_pitr = _components(
        {"write_capacity": 1, "read_capacity": 1, "point_in_time_recovery": [{"enabled": False}]}
    )
    assert "Point-In-Time Recovery (PITR) backup storage" not in without_pitr


def test_account_wide_free_tiers_do_not_reduce_a_single_tables_price() -> None:
    # Offer files list DynamoDB storage as 0-25 GB at $0 and then $0.25: the 25 free GB are per account.
    catalog = InMemoryCatalog(
        [
            PriceRecord(
                "AmazonDynamoDB",
                "us-east-1",
                {"productFamily": "Database Storage", "usagetype": "TimedStorage-ByteHrs"},
                "GB-Mo",
                D(price),
                D(start),
                None if end is None else D(end),
            )
            for price, start, end in (("0", "0", "25"), ("0.25", "25", None))
        ],
        source="test",
        version="test",
    )
    components = _components({"billing_mode": "PAY_PER_REQUEST"}, usage={"storage_gb": 40}, catalog=catalog)
    storage = components["Data storage"]
    assert (storage.price, storage.monthly_cost) == (D("0.25"), D("10.00"))


def test_replicas_are_priced_in_their_own_region_as_global_tables() -> None:
    components = _components(
        {
            "write_capacity": 20,
            "read_capacity": 5,
            "replica": [{"region_name": "us-west-1"}, {"region_name": "eu-west-3"}],
        }
    )
    west = components["Global table (us-west-1) › Replicated write capacity unit (rWCU)"]
    replicated_rate = _rate(
        "us-west-1", productFamily="DDB-Operation-ReplicatedWrite", usagetypeBase="ReplWriteCapacityUnit-Hrs"
    )
    assert (west.monthly_quantity, west.monthly_cost) == (D(20), 20 * HOURS * replicated_rate)
    assert west.monthly_cost == D("10.585")
    paris = components["Global table (eu-west-3) › Replicated write capacity unit (rWCU)"]
    assert paris.price_not_found  # no eu-west-3 prices in the snapshot: never borrowed from elsewhere


def test_on_demand_replicas_replicate_every_write_request() -> None:
    catalog = InMemoryCatalog(
        [
            PriceRecord(
                "AmazonDynamoDB",
                "us-west-1",
                {
                    "productFamily": "Amazon DynamoDB PayPerRequest Throughput",
                    "group": "DDB-ReplicatedWriteUnits",
                },
                "ReplicatedWriteRequestUnits",
                D("0.000000697"),
            )
        ],
        source="test",
        version="test",
    )
    components = _components(
        {"billing_mode": "PAY_PER_REQUEST", "replica": [{"region_name": "us-west-1"}]},
        usage={"monthly_write_request_units": 3_000_000},
        catalog=catalog,
    )
    replicated = components["Global table (us-west-1) › Replicated write request unit (rWRU)"]
    # Infracost's display: writes per hour of the month, at the price of a month of hours.
    assert replicated.monthly_quantity is not None
    assert round(replicated.monthly_quantity, 4) == D("4109.5890")
    assert round(replicated.monthly_cost or 0, 12) == D("2.091000000000")


def test_standard_ia_tables_ask_for_the_ia_usage_types() -> None:
    catalog = InMemoryCatalog(
        [
            PriceRecord(
                "AmazonDynamoDB",
                "us-east-2",
                {"productFamily": "Provisioned IOPS", "group": "DDB-WriteUnits", "usagetype": usagetype},
                "WriteCapacityUnit-Hrs",
                D(rate),
            )
            for usagetype, rate in (
                ("USE2-WriteCapacityUnit-Hrs", "0.00065"),
                ("USE2-IA-WriteCapacityUnit-Hrs", "0.00081"),
            )
        ],
        source="test",
        version="test",
    )
    components = _components(
        {"table_class": "STANDARD_INFREQUENT_ACCESS", "write_capacity": 10, "read_capacity": 10},
        catalog=catalog,
        region="us-east-2",
    )
    assert components["Write capacity unit (WCU)"].monthly_cost == 10 * HOURS * D("0.00081")


def test_unknown_capacity_is_left_to_usage_and_wrong_types_do_not_fail() -> None:
    components = _components(
        {"billing_mode": 7, "replica": "us-west-1", "point_in_time_recovery": "yes"},
        unknown={"write_capacity": True, "read_capacity": True},
    )
    assert components["Write capacity unit (WCU)"].monthly_quantity is None
    assert components["Write capacity unit (WCU)"].monthly_cost is None
    assert not any(name.startswith("Global table") for name in components)


def test_a_negative_capacity_counts_as_unknown_rather_than_as_a_negative_cost() -> None:
    components = _components({"write_capacity": -20, "read_capacity": 5})
    assert components["Write capacity unit (WCU)"].monthly_cost is None
    assert components["Read capacity unit (RCU)"].monthly_quantity == D(5)


# --- scaled by an aws_appautoscaling_target of the plan ------------------------------------------------

WCU_RATE = _rate(productFamily="Provisioned IOPS", usagetypeBase="WriteCapacityUnit-Hrs")
RCU_RATE = _rate(productFamily="Provisioned IOPS", usagetypeBase="ReadCapacityUnit-Hrs")
TABLE = {"billing_mode": "PROVISIONED", "name": "scores", "write_capacity": 20, "read_capacity": 30}
TARGET_UNKNOWN = {"id": True, "arn": True}


def target(dimension: str, minimum: Any, resource_id: str | None = "table/scores") -> dict[str, Any]:
    values: dict[str, Any] = {
        "service_namespace": "dynamodb",
        "scalable_dimension": f"dynamodb:table:{dimension}",
        "min_capacity": minimum,
        "max_capacity": 100,
    }
    if resource_id is not None:
        values["resource_id"] = resource_id
    return values


def scaled_table(
    *targets: tuple[str, dict[str, Any]],
    values: dict[str, Any] | None = None,
    usage: dict[str, Any] | None = None,
) -> dict[str, CostComponent]:
    expressions = {"resource_id": ref("aws_dynamodb_table.scores.name")}
    plan = linked_plan(
        [("aws_dynamodb_table.scores", values or TABLE, {"id": True}, {})]
        + [(address, after, TARGET_UNKNOWN, expressions) for address, after in targets]
    )
    table = cloudcostguard.estimate(plan, usage=usage).resources[0]
    return {c.name: c for c in table.components}


def test_a_table_scaled_by_targets_of_the_plan_pays_their_minimum_capacity() -> None:
    components = scaled_table(
        ("aws_appautoscaling_target.writes", target("WriteCapacityUnits", 6)),
        ("aws_appautoscaling_target.reads", target("ReadCapacityUnits", 5)),
    )

    wcu = components["Write capacity unit (WCU, autoscaling)"]
    rcu = components["Read capacity unit (RCU, autoscaling)"]
    assert (wcu.monthly_quantity, wcu.monthly_cost, wcu.usage_based) == (D(6), 6 * HOURS * WCU_RATE, True)
    assert (rcu.monthly_quantity, rcu.monthly_cost, rcu.usage_based) == (D(5), 5 * HOURS * RCU_RATE, True)
    assert "Write capacity unit (WCU)" not in components


def test_only_the_scaled_dimension_changes() -> None:
    components = scaled_table(("aws_appautoscaling_target.reads", target("ReadCapacityUnits", 56)))

    assert components["Write capacity unit (WCU)"].monthly_cost == 20 * HOURS * WCU_RATE
    assert components["Read capacity unit (RCU, autoscaling)"].monthly_cost == 56 * HOURS * RCU_RATE


def test_a_minimum_unknown_at_plan_time_keeps_the_tables_own_capacity() -> None:
    components = scaled_table(("aws_appautoscaling_target.writes", target("WriteCapacityUnits", None)))

    assert components["Write capacity unit (WCU, autoscaling)"].monthly_quantity == 20


def test_known_resource_ids_pair_targets_with_their_own_table() -> None:
    # for_each over tables and dimensions: the targets' keys are not the tables'.
    expressions = {"resource_id": ref("aws_dynamodb_table.t.name")}
    plan = linked_plan(
        [
            ('aws_dynamodb_table.t["a"]', {**TABLE, "name": "a"}, {"id": True}, {}),
            ('aws_dynamodb_table.t["b"]', {**TABLE, "name": "b"}, {"id": True}, {}),
            (
                'aws_appautoscaling_target.w["a-w"]',
                target("WriteCapacityUnits", 7, "table/a"),
                TARGET_UNKNOWN,
                expressions,
            ),
            (
                'aws_appautoscaling_target.w["b-w"]',
                target("WriteCapacityUnits", 9, "table/b"),
                TARGET_UNKNOWN,
                expressions,
            ),
        ]
    )

    a, b = cloudcostguard.estimate(plan).resources[:2]

    assert [c.monthly_quantity for c in a.components if c.name.startswith("Write")] == [7]
    assert [c.monthly_quantity for c in b.components if c.name.startswith("Write")] == [9]


def test_on_demand_tables_ignore_scaling_targets() -> None:
    components = scaled_table(
        ("aws_appautoscaling_target.writes", target("WriteCapacityUnits", 6)),
        values={"billing_mode": "PAY_PER_REQUEST", "name": "scores"},
    )

    assert "Write capacity unit (WCU, autoscaling)" not in components
    assert "Write request unit (WRU)" in components


def test_targets_of_other_services_or_tables_outside_the_plan_change_nothing() -> None:
    plan = linked_plan(
        [
            ("aws_dynamodb_table.scores", TABLE, {"id": True}, {}),
            # A table's index is its own scalable resource: Infracost prices the table's dimensions.
            (
                "aws_appautoscaling_target.index",
                target("WriteCapacityUnits", 50, "table/scores/index/by_user")
                | {"scalable_dimension": "dynamodb:index:WriteCapacityUnits"},
                TARGET_UNKNOWN,
                {"resource_id": ref("aws_dynamodb_table.scores.name")},
            ),
            # resource_id = "table/${data.aws_dynamodb_table.shared.name}": not a table of this plan.
            (
                "aws_appautoscaling_target.shared",
                target("WriteCapacityUnits", 40, None),
                {**TARGET_UNKNOWN, "resource_id": True},
                {"resource_id": ref("data.aws_dynamodb_table.shared.name")},
            ),
        ]
    )

    table = cloudcostguard.estimate(plan).resources[0]

    assert [c.name for c in table.components][:2] == ["Write capacity unit (WCU)", "Read capacity unit (RCU)"]


# --- a target's usage `capacity`; targets naming their table by a literal resource_id -------------------

LITERAL = {"resource_id": {"constant_value": "table/scores"}}


def test_a_targets_usage_capacity_overrides_its_minimum() -> None:
    components = scaled_table(
        ("aws_appautoscaling_target.writes", target("WriteCapacityUnits", 7)),
        ("aws_appautoscaling_target.reads", target("ReadCapacityUnits", 8)),
        usage={"aws_appautoscaling_target.writes": {"capacity": 77}},
    )

    wcu = components["Write capacity unit (WCU, autoscaling)"]
    assert (wcu.monthly_quantity, wcu.monthly_cost) == (D(77), 77 * HOURS * WCU_RATE)
    assert wcu.monthly_cost == D("36.53650")
    # The other target has no usage: its minimum stands.
    assert components["Read capacity unit (RCU, autoscaling)"].monthly_cost == 8 * HOURS * RCU_RATE


def test_a_usage_capacity_counts_even_when_the_minimum_is_unknown_at_plan_time() -> None:
    components = scaled_table(
        ("aws_appautoscaling_target.writes", target("WriteCapacityUnits", None)),
        usage={"aws_appautoscaling_target.writes": {"capacity": 12}},
    )

    assert components["Write capacity unit (WCU, autoscaling)"].monthly_cost == 12 * HOURS * WCU_RATE


def test_a_target_naming_its_table_by_a_literal_id_is_matched_by_value() -> None:
    plan = linked_plan(
        [
            ("aws_dynamodb_table.scores", TABLE, {"id": True}, {}),
            ("aws_dynamodb_table.other", {**TABLE, "name": "other"}, {"id": True}, {}),
            ("aws_appautoscaling_target.reads", target("ReadCapacityUnits", 56), TARGET_UNKNOWN, LITERAL),
        ]
    )

    scores, other = cloudcostguard.estimate(plan).resources[:2]

    rcu = {c.name: c for c in scores.components}["Read capacity unit (RCU, autoscaling)"]
    assert (rcu.monthly_quantity, rcu.monthly_cost, rcu.usage_based) == (D(56), D("5.31440"), True)
    assert {c.name: c for c in scores.components}["Write capacity unit (WCU)"].monthly_quantity == 20
    assert [c.name for c in other.components][:2] == ["Write capacity unit (WCU)", "Read capacity unit (RCU)"]


def test_a_literal_target_takes_its_usage_capacity_too() -> None:
    plan = linked_plan(
        [
            ("aws_dynamodb_table.scores", TABLE, {"id": True}, {}),
            ("aws_appautoscaling_target.reads", target("ReadCapacityUnits", 56), TARGET_UNKNOWN, LITERAL),
        ]
    )

    estimate = cloudcostguard.estimate(plan, usage={"aws_appautoscaling_target.reads": {"capacity": 3}})

    rcu = {c.name: c for c in estimate.resources[0].components}["Read capacity unit (RCU, autoscaling)"]
    assert (rcu.monthly_quantity, rcu.monthly_cost) == (D(3), 3 * HOURS * RCU_RATE)


def test_a_target_linked_by_reference_scales_only_the_table_it_names_even_if_others_share_the_name() -> None:
    # Infracost's own test has four tables named "GameScores": a reference decides, not the name.
    plan = linked_plan(
        [
            ("aws_dynamodb_table.scores", TABLE, {"id": True}, {}),
            ("aws_dynamodb_table.twin", TABLE, {"id": True}, {}),
            (
                "aws_appautoscaling_target.writes",
                target("WriteCapacityUnits", 6),
                TARGET_UNKNOWN,
                {"resource_id": ref("aws_dynamodb_table.scores.name")},
            ),
        ]
    )

    scores, twin = cloudcostguard.estimate(plan).resources[:2]

    assert [(c.name, c.monthly_quantity) for c in scores.components][:1] == [
        ("Write capacity unit (WCU, autoscaling)", D(6))
    ]
    assert [(c.name, c.monthly_quantity) for c in twin.components][:1] == [
        ("Write capacity unit (WCU)", D(20))
    ]


def test_a_deleted_literal_target_no_longer_scales_its_table() -> None:
    plan = linked_plan(
        [
            ("aws_dynamodb_table.scores", TABLE, {"id": True}, {}),
            ("aws_appautoscaling_target.reads", target("ReadCapacityUnits", 56), TARGET_UNKNOWN, LITERAL),
        ],
        actions={"aws_appautoscaling_target.reads": ["delete"]},
    )
    plan["resource_changes"][1]["change"] |= {"before": plan["resource_changes"][1]["change"]["after"]}
    plan["resource_changes"][1]["change"]["after"] = None

    table = cloudcostguard.estimate(plan).resources[0]

    assert {c.name: c.monthly_quantity for c in table.components}["Read capacity unit (RCU)"] == 30

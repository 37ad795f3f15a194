"""aws_db_instance beyond the goldens: deployments, storage minimums and baselines, engines, add-ons.

Prices are read from the bundled snapshot, so the expected figures follow the data, not a copy of it;
engines the snapshot lacks are checked against a small test catalog with offer-file attributes.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

import cloudcostguard
from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.aws import rds
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext
from cloudcostguard.estimation.usage import ResourceUsage
from cloudcostguard.pricing.catalog import InMemoryCatalog, Price, PriceCatalog, PriceRecord
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
    as_of: date | None = None,
) -> dict[str, CostComponent]:
    resource = price_resource(
        "aws_db_instance.db", after, unknown=unknown, usage=usage, catalog=catalog, as_of=as_of
    )
    return {component.name: component for component in resource.components}


def _price(**attributes: str) -> Price:
    price = SNAPSHOT.lookup("AmazonRDS", "us-east-1", **attributes)
    assert price is not None, attributes
    return price


def _instance_rate(instance_class: str, engine: str, deployment: str) -> Decimal:
    return _price(
        productFamily="Database Instance",
        instanceType=instance_class,
        databaseEngine=engine,
        deploymentOption=deployment,
    ).unit_price


def _storage_rate(usagetype: str) -> Decimal:
    return _price(productFamily="Database Storage", usagetypeBase=usagetype).unit_price


def test_single_az_mysql_prices_instance_hours_and_default_gp2_storage_of_20_gb() -> None:
    components = _components(
        {"engine": "mysql", "instance_class": "db.t3.large"},
        unknown={"allocated_storage": True, "storage_type": True, "multi_az": True},
    )
    instance = components["Database instance (on-demand, Single-AZ, db.t3.large)"]
    assert instance.monthly_cost == HOURS * _instance_rate("db.t3.large", "MySQL", "Single-AZ")
    storage = components["Storage (general purpose SSD, gp2)"]
    assert storage.monthly_quantity == D(20)
    assert storage.monthly_cost == D(20) * _storage_rate("RDS:GP2-Storage")
    assert set(components) == {instance.name, storage.name}  # no backup line without retention or usage


def test_multi_az_uses_the_multi_az_instance_and_storage_prices_twice_the_single_az_ones() -> None:
    single = _components({"engine": "mysql", "instance_class": "db.t3.large", "allocated_storage": 30})
    multi = _components(
        {"engine": "mysql", "instance_class": "db.t3.large", "allocated_storage": 30, "multi_az": True}
    )
    single_instance = single["Database instance (on-demand, Single-AZ, db.t3.large)"].monthly_cost
    multi_instance = multi["Database instance (on-demand, Multi-AZ, db.t3.large)"].monthly_cost
    assert multi_instance == HOURS * _instance_rate("db.t3.large", "MySQL", "Multi-AZ") == D("198.56")
    assert single_instance is not None and multi_instance == 2 * single_instance
    storage_name = "Storage (general purpose SSD, gp2)"
    assert multi[storage_name].monthly_cost == D(30) * _storage_rate("RDS:Multi-AZ-GP2-Storage") == D("6.90")
    assert multi[storage_name].monthly_cost == 2 * (single[storage_name].monthly_cost or 0)


def test_io1_bills_at_least_100_gb_and_1000_iops() -> None:
    components = _components(
        {
            "engine": "postgres",
            "instance_class": "db.t3.large",
            "storage_type": "io1",
            "allocated_storage": 50,
            "iops": 500,
        }
    )
    storage = components["Storage (provisioned IOPS SSD, io1)"]
    iops = components["Provisioned IOPS"]
    assert (storage.monthly_quantity, iops.monthly_quantity) == (D(100), D(1000))
    assert storage.monthly_cost == D(100) * _storage_rate("RDS:PIOPS-Storage")
    assert (
        iops.monthly_cost
        == D(1000) * _price(productFamily="Provisioned IOPS", usagetypeBase="RDS:PIOPS").unit_price
    )


def test_io1_above_the_minimums_bills_what_is_asked() -> None:
    components = _components(
        {
            "engine": "mysql",
            "instance_class": "db.t3.large",
            "storage_type": "io1",
            "allocated_storage": 300,
            "iops": 3000,
        }
    )
    assert components["Storage (provisioned IOPS SSD, io1)"].monthly_quantity == D(300)
    assert components["Provisioned IOPS"].monthly_cost == D(3000) * D("0.10")


def test_storage_type_defaults_to_io1_when_iops_are_given_and_gp2_otherwise() -> None:
    with_iops = _components(
        {"engine": "mysql", "instance_class": "db.t3.large", "iops": 2000}, unknown={"storage_type": True}
    )
    assert "Storage (provisioned IOPS SSD, io1)" in with_iops
    assert with_iops["Provisioned IOPS"].monthly_quantity == D(2000)
    without = _components({"engine": "mysql", "instance_class": "db.t3.large"}, unknown={"iops": True})
    assert "Storage (general purpose SSD, gp2)" in without


def test_gp3_bills_only_iops_above_its_baseline_of_3000_below_400_gb_and_12000_from_400_gb() -> None:
    gp3_iops_rate = _price(productFamily="Provisioned IOPS", usagetypeBase="RDS:GP3-PIOPS").unit_price

    def gp3(storage: int, iops: int) -> dict[str, CostComponent]:
        return _components(
            {
                "engine": "mysql",
                "instance_class": "db.t4g.small",
                "storage_type": "gp3",
                "allocated_storage": storage,
                "iops": iops,
            }
        )

    small_within = gp3(20, 3000)
    assert [name for name in small_within if "IOPS" in name] == []
    small_above = gp3(20, 4000)["Provisioned GP3 IOPS (above 3,000)"]
    assert (small_above.monthly_quantity, small_above.monthly_cost) == (D(1000), D(1000) * gp3_iops_rate)
    assert [name for name in gp3(399, 11000) if "IOPS" in name] == ["Provisioned GP3 IOPS (above 3,000)"]
    assert [name for name in gp3(400, 11000) if "IOPS" in name] == []
    large_above = gp3(400, 14000)["Provisioned GP3 IOPS (above 12,000)"]
    assert large_above.monthly_cost == D(2000) * gp3_iops_rate == D("40.00")
    storage = gp3(400, 14000)["Storage (general purpose SSD, gp3)"]
    assert storage.monthly_cost == D(400) * _storage_rate("RDS:GP3-Storage")


def test_magnetic_storage_adds_io_requests_per_million_from_usage() -> None:
    components = _components(
        {
            "engine": "mysql",
            "instance_class": "db.t3.large",
            "storage_type": "standard",
            "allocated_storage": 40,
        },
        usage={"monthly_standard_io_requests": 25_000_000},
    )
    io = components["I/O requests"]
    io_rate = _price(productFamily="System Operation", usagetypeBase="RDS:StorageIOUsage").unit_price
    assert (io.unit, io.monthly_quantity, io.price) == ("1M requests", D(25), io_rate * 1_000_000)
    assert io.monthly_cost == D(25_000_000) * io_rate == D("2.50")
    assert components["Storage (magnetic)"].monthly_cost == D(40) * _storage_rate("RDS:StorageUsage")


def test_backup_storage_is_listed_with_a_retention_period_and_priced_from_usage() -> None:
    backup_rate = _price(productFamily="Storage Snapshot", usagetypeBase="RDS:ChargedBackupUsage").unit_price
    retained = _components({"engine": "mysql", "instance_class": "db.t3.large", "backup_retention_period": 7})
    assert retained["Additional backup storage"].monthly_quantity is None
    assert retained["Additional backup storage"].usage_based
    assert retained["Additional backup storage"].price == backup_rate
    with_usage = _components(
        {"engine": "mysql", "instance_class": "db.t3.large"},
        unknown={"backup_retention_period": True},
        usage={"additional_backup_storage_gb": 250},
    )
    assert with_usage["Additional backup storage"].monthly_cost == D(250) * backup_rate


def _catalog(*records: tuple[dict[str, str], str, str]) -> InMemoryCatalog:
    return InMemoryCatalog(
        [
            PriceRecord("AmazonRDS", "us-east-1", attributes, unit, D(price))
            for attributes, unit, price in records
        ],
        source="test",
        version="test",
    )


def _instance_record(engine: str, **extra: str) -> tuple[dict[str, str], str, str]:
    attributes = {
        "productFamily": "Database Instance",
        "instanceType": "db.m5.large",
        "databaseEngine": engine,
        "deploymentOption": "Single-AZ",
        **extra,
    }
    return attributes, "Hrs", "1.5"


def test_commercial_engines_ask_for_their_edition_and_license_model() -> None:
    cases = {
        ("sqlserver-ex", None): ("SQL Server", "Express", "License included"),
        ("sqlserver-web", None): ("SQL Server", "Web", "License included"),
        ("sqlserver-se", None): ("SQL Server", "Standard", "License included"),
        ("sqlserver-ee", None): ("SQL Server", "Enterprise", "License included"),
        ("oracle-se2", None): ("Oracle", "Standard Two", "License included"),
        ("oracle-se2-cdb", None): ("Oracle", "Standard Two", "License included"),
        ("oracle-ee", None): ("Oracle", "Enterprise", "Bring your own license"),
        ("oracle-se2", "bring-your-own-license"): ("Oracle", "Standard Two", "Bring your own license"),
    }
    for (engine, license_model), (database_engine, edition, license_name) in cases.items():
        catalog = _catalog(
            _instance_record(database_engine, databaseEdition=edition, licenseModel=license_name),
            # A decoy with the other license model: the lookup must not pick it.
            (
                {
                    **_instance_record(database_engine)[0],
                    "databaseEdition": edition,
                    "licenseModel": "Bring your own license"
                    if license_name == "License included"
                    else "License included",
                },
                "Hrs",
                "9.9",
            ),
        )
        after = {"engine": engine, "instance_class": "db.m5.large"}
        if license_model is not None:
            after["license_model"] = license_model
        components = _components(after, catalog=catalog)
        instance = components["Database instance (on-demand, Single-AZ, db.m5.large)"]
        assert instance.monthly_cost == HOURS * D("1.5"), (engine, license_model)


def test_sql_server_se_is_priced_from_the_snapshot_record_with_offer_file_attributes() -> None:
    # The reference table's row was relabelled to offer-file attributes by scripts/build_price_snapshot.py.
    price = SNAPSHOT.lookup(
        "AmazonRDS",
        "us-east-1",
        instanceType="db.m5.xlarge",
        databaseEngine="SQL Server",
        databaseEdition="Standard",
        licenseModel="License included",
        deploymentOption="Single-AZ",
    )
    assert price is not None
    components = _components({"engine": "sqlserver-se", "instance_class": "db.m5.xlarge"})
    instance = components["Database instance (on-demand, Single-AZ, db.m5.xlarge)"]
    assert instance.monthly_cost == HOURS * price.unit_price
    assert components["Storage (general purpose SSD, gp2)"].monthly_cost == D("2.30")


def test_reserved_usage_names_the_reservation_and_reports_its_price_missing() -> None:
    components = _components(
        {"engine": "mysql", "instance_class": "db.t3.large"},
        usage={"reserved_instance_term": "1_year", "reserved_instance_payment_option": "no_upfront"},
    )
    instance = components["Database instance (reserved, Single-AZ, db.t3.large)"]
    assert instance.price_not_found
    assert instance.monthly_quantity == HOURS


def test_a_replica_with_an_unknown_engine_reports_the_instance_price_missing_and_prices_storage() -> None:
    components = _components(
        {"instance_class": "db.t3.large"},
        unknown={"engine": True, "allocated_storage": True, "replicate_source_db": True},
    )
    assert components["Database instance (on-demand, Single-AZ, db.t3.large)"].price_not_found
    assert components["Storage (general purpose SSD, gp2)"].monthly_cost == D(20) * _storage_rate(
        "RDS:GP2-Storage"
    )


def test_wrongly_typed_attributes_fall_back_to_defaults_instead_of_failing() -> None:
    components = _components(
        {
            "engine": "mysql",
            "instance_class": "db.t3.large",
            "allocated_storage": "lots",
            "multi_az": "yes",
            "iops": [1000],
            "storage_type": 5,
            "backup_retention_period": "7 days",
            "performance_insights_enabled": "true",
        }
    )
    assert set(components) == {
        "Database instance (on-demand, Single-AZ, db.t3.large)",
        "Storage (general purpose SSD, gp2)",
    }
    assert components["Storage (general purpose SSD, gp2)"].monthly_quantity == D(20)


def test_performance_insights_long_retention_and_cpu_credits_scale_with_vcpus() -> None:
    catalog = _catalog(
        _instance_record("MySQL", licenseModel="No license required"),
        ({"productFamily": "Performance Insights", "usagetype": "PI_LTR:M5"}, "vCPU-Mo", "3.125"),
        ({"productFamily": "Performance Insights", "usagetype": "PI_API"}, "API Calls", "0.00001"),
    )
    components = _components(
        {
            "engine": "mysql",
            "instance_class": "db.m5.large",
            "performance_insights_enabled": True,
            "performance_insights_retention_period": 731,
        },
        usage={"monthly_additional_performance_insights_requests": 50_000},
        catalog=catalog,
    )
    retention = components["Performance Insights Long Term Retention (db.m5.large)"]
    assert (retention.monthly_quantity, retention.monthly_cost) == (D(2), D(2) * D("3.125"))
    api = components["Performance Insights API"]
    assert (api.unit, api.monthly_quantity, api.monthly_cost) == ("1000 requests", D(50), D("0.50000"))

    burstable = _components(
        {"engine": "mysql", "instance_class": "db.t3.xlarge"}, usage={"monthly_cpu_credit_hrs": 10}
    )
    credits = burstable["CPU credits"]
    assert credits.monthly_quantity == D(40)  # 4 vCPUs × 10 h
    assert credits.price_not_found  # the snapshot has no RDS CPU credit price
    fixed = _components(
        {"engine": "mysql", "instance_class": "db.m5.large"}, usage={"monthly_cpu_credit_hrs": 10}
    )
    assert "CPU credits" not in fixed


def test_extended_support_bills_vcpu_hours_for_versions_past_standard_support() -> None:
    catalog = _catalog(
        _instance_record("MySQL", licenseModel="No license required"),
        ({"usagetype": "ExtendedSupport:Yr1-Yr2:MySQL5.7"}, "vCPU-Hours", "0.1"),
    )
    components = _components(
        {"engine": "mysql", "engine_version": "5.7.44", "instance_class": "db.m5.large"},
        catalog=catalog,
        as_of=date(2025, 9, 1),  # year 1 of MySQL 5.7's Extended Support
    )
    extended = components["Extended support (year 1)"]
    assert (extended.monthly_quantity, extended.monthly_cost) == (D(2) * HOURS, D("146.0"))
    current = _components(
        {"engine": "mysql", "engine_version": "8.0.36", "instance_class": "db.m5.large"},
        as_of=date(2025, 9, 1),
    )
    assert not any(name.startswith("Extended support") for name in current)


def test_extended_support_moves_to_the_year_3_price_on_its_date() -> None:
    def extended(as_of: date) -> list[str]:
        context = PricingContext(
            address="aws_db_instance.db",
            resource_type="aws_db_instance",
            region="us-east-1",
            attrs=Attributes(
                {"engine": "postgres", "engine_version": "11.22", "instance_class": "db.r5.xlarge"}
            ),
            usage=ResourceUsage({}),
            catalog=SNAPSHOT,
            hours_per_month=HOURS,
            as_of=as_of,
        )
        return [c.name for c in rds.price_db_instance(context) if c.name.startswith("Extended")]

    assert extended(date(2024, 3, 31)) == []
    assert extended(date(2024, 4, 1)) == ["Extended support (year 1)"]
    assert extended(date(2026, 4, 1)) == ["Extended support (year 3)"]


def test_negative_sizes_count_as_unset_rather_than_as_negative_costs() -> None:
    components = _components(
        {"engine": "mysql", "instance_class": "db.t3.large", "allocated_storage": -50, "iops": -100}
    )
    assert components["Storage (general purpose SSD, gp2)"].monthly_quantity == D(20)
    assert all((c.monthly_cost or 0) >= 0 for c in components.values())


# --- read replicas of an instance in the plan ---------------------------------------------------------

REPLICA_UNKNOWN = {
    "engine": True,
    "engine_version": True,
    "license_model": True,
    "allocated_storage": True,
    "replicate_source_db": True,
}
SOURCE_REFERENCE = {"replicate_source_db": ref("aws_db_instance.primary.id")}


def _replica_components(
    source: dict[str, Any],
    *,
    replica: dict[str, Any] | None = None,
    expressions: dict[str, Any] | None = None,
    catalog: PriceCatalog | None = None,
    as_of: date | None = None,
) -> dict[str, CostComponent]:
    plan = linked_plan(
        [
            ("aws_db_instance.primary", source, {"id": True}, {}),
            (
                "aws_db_instance.replica",
                replica if replica is not None else {"instance_class": "db.t3.large"},
                REPLICA_UNKNOWN,
                SOURCE_REFERENCE if expressions is None else expressions,
            ),
        ]
    )
    resources = cloudcostguard.estimate(plan, catalog=catalog, as_of=as_of).resources
    return {component.name: component for component in resources[1].components}


def test_a_replica_runs_its_sources_engine() -> None:
    components = _replica_components({"engine": "mysql", "instance_class": "db.m5.xlarge"})

    instance = components["Database instance (on-demand, Single-AZ, db.t3.large)"]
    assert instance.monthly_cost == HOURS * _instance_rate("db.t3.large", "MySQL", "Single-AZ")
    # Its own storage (unknown: 20 GB), not the source's.
    assert components["Storage (general purpose SSD, gp2)"].monthly_quantity == D(20)


def test_a_replica_of_a_replica_follows_the_chain_to_the_engine() -> None:
    plan = linked_plan(
        [
            (
                "aws_db_instance.primary",
                {"engine": "postgres", "instance_class": "db.t3.large"},
                {"id": True},
                {},
            ),
            ("aws_db_instance.first", {"instance_class": "db.t3.large"}, REPLICA_UNKNOWN, SOURCE_REFERENCE),
            (
                "aws_db_instance.second",
                {"instance_class": "db.t3.large"},
                REPLICA_UNKNOWN,
                {"replicate_source_db": ref("aws_db_instance.first.arn")},
            ),
        ]
    )

    second = cloudcostguard.estimate(plan).resources[2]

    instance = second.components[0]
    assert instance.monthly_cost == HOURS * _instance_rate("db.t3.large", "PostgreSQL", "Single-AZ")


def test_a_replica_takes_its_sources_engine_version_for_extended_support() -> None:
    catalog = _catalog(
        _instance_record("MySQL", licenseModel="No license required"),
        ({"usagetype": "ExtendedSupport:Yr1-Yr2:MySQL5.7"}, "vCPU-Hours", "0.1"),
    )

    components = _replica_components(
        {"engine": "mysql", "engine_version": "5.7.44", "instance_class": "db.m5.large"},
        replica={"instance_class": "db.m5.large"},
        catalog=catalog,
        as_of=date(2025, 9, 1),
    )

    extended = components["Extended support (year 1)"]
    assert (extended.monthly_quantity, extended.monthly_cost) == (D(2) * HOURS, D("146.0"))


def test_a_replica_takes_its_sources_license_model() -> None:
    # Only the bring-your-own-license product exists here: a license-included query finds nothing.
    catalog = _catalog(
        _instance_record("Oracle", databaseEdition="Standard Two", licenseModel="Bring your own license")
    )
    name = "Database instance (on-demand, Single-AZ, db.m5.large)"

    byol = _replica_components(
        {"engine": "oracle-se2", "license_model": "bring-your-own-license", "instance_class": "db.m5.large"},
        replica={"instance_class": "db.m5.large"},
        catalog=catalog,
    )
    included = _replica_components(
        {"engine": "oracle-se2", "instance_class": "db.m5.large"},
        replica={"instance_class": "db.m5.large"},
        catalog=catalog,
    )

    assert byol[name].monthly_cost == HOURS * D("1.5")
    assert included[name].price_not_found  # oracle-se2 defaults to license included


def test_a_replicas_own_known_engine_wins() -> None:
    components = _replica_components(
        {"engine": "mysql", "instance_class": "db.t3.large"},
        replica={"engine": "postgres", "instance_class": "db.t3.large"},
    )

    instance = components["Database instance (on-demand, Single-AZ, db.t3.large)"]
    assert instance.monthly_cost == HOURS * _instance_rate("db.t3.large", "PostgreSQL", "Single-AZ")


@pytest.mark.parametrize(
    "expressions",
    [
        {"replicate_source_db": ref("data.aws_db_instance.shared.id")},  # a data source
        {"replicate_source_db": ref("aws_db_instance.elsewhere.id")},  # not in this plan
        {"replicate_source_db": {"constant_value": "arn:aws:rds:us-west-2:123456789012:db:main"}},
    ],
)
def test_a_source_the_plan_does_not_hold_leaves_the_engine_unknown(expressions: dict[str, Any]) -> None:
    components = _replica_components(
        {"engine": "mysql", "instance_class": "db.t3.large"}, expressions=expressions
    )

    assert components["Database instance (on-demand, Single-AZ, db.t3.large)"].price_not_found

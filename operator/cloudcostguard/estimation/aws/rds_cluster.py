"""Aurora: aws_rds_cluster (storage, I/O, backups, backtrack, snapshot export, Serverless v1) and
aws_rds_cluster_instance (provisioned instances, Serverless v2, CPU credits, Performance Insights,
Extended Support), AmazonRDS offer, as Infracost prices them.

**Cluster.** Engine ``aurora``/``aurora-mysql`` (the default) → "Aurora MySQL", ``aurora-postgresql`` →
"Aurora PostgreSQL". ``storage_type = "aurora-iopt1"`` (I/O-optimized) prices storage as
"Storage (I/O-optimized)". Usage: ``storage_gb``; I/O from ``read_requests_per_sec`` +
``write_requests_per_sec`` (both needed) × 730 h × 3,600 s; backup storage (only with
``backup_retention_period`` > 1) = ``backup_snapshot_size_gb`` × (retention − 1), the first copy being
free; backtrack (Aurora MySQL, not serverless) = ``average_statements_per_hr`` × 730 ×
``change_records_per_statement`` × ``backtrack_window_hrs`` change records; ``snapshot_export_size_gb``;
Serverless v1 (``engine_mode = "serverless"``) ``capacity_units_per_hr`` × 730 ACU-hours. Backtrack is not
sold in every region: where the catalog has no backtrack price the line is left out (Infracost's
``IgnoreIfMissingPrice``). Aurora MySQL storage and I/O products carry ``databaseEngine`` "Aurora MySQL"
or, in older offers, "Any": both are asked, in that order.

**Instance.** ``instance_class`` hours (usage type ``InstanceUsage:<class>``, or
``InstanceUsageIOOptimized:<class>`` when the cluster named by ``cluster_identifier`` is I/O-optimized);
``db.serverless`` is Serverless v2, ``capacity_units_per_hr`` × 730 ACU-hours. The engine is the
instance's, else its cluster's (an instance's ``engine`` often refers to the cluster's). A reservation
(usage ``reserved_instance_term``) is named and reported without a price: the catalog holds on-demand
prices only. CPU credits (db.t3/db.t4g, usage ``monthly_cpu_credit_hrs`` > 0) × vCPUs (usage
``vcpu_count`` or the class's). Performance Insights when enabled: long-term retention (retention over 7
days) per vCPU-month, or per ACU for Serverless v2; API requests beyond the free tier (usage
``monthly_additional_performance_insights_requests``). Extended Support as for ``aws_db_instance``.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws import linked, rds
from cloudcostguard.estimation.aws.docdb import burstable_family
from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.kit import FLOAT, INTEGER, MILLION, STRING, THOUSAND, Prices, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price

SERVICE = "AmazonRDS"
IO_OPTIMIZED_STORAGE = "aurora-iopt1"
SERVERLESS_CLASS = "db.serverless"
SECONDS_PER_HOUR = Decimal(3600)
PI_FREE_RETENTION_DAYS = 7
AURORA_MYSQL, AURORA_POSTGRESQL = "Aurora MySQL", "Aurora PostgreSQL"
_ENGINES = {"aurora": AURORA_MYSQL, "aurora-mysql": AURORA_MYSQL, "aurora-postgresql": AURORA_POSTGRESQL}
# Older offers file Aurora MySQL storage and I/O under databaseEngine "Any".
_STORAGE_ENGINES = {AURORA_MYSQL: (AURORA_MYSQL, "Any"), AURORA_POSTGRESQL: (AURORA_POSTGRESQL,)}

_BACKTRACK = {"productFamily": "System Operation", "usagetypeBase": "Aurora:BacktrackUsage"}
_PI_API = {"productFamily": "Performance Insights", "usagetypeBase": "PI_API"}

CLUSTER_USAGE = (
    UsageKey("storage_gb", FLOAT, "Data stored in the cluster (GB)."),
    UsageKey("write_requests_per_sec", INTEGER, "Average storage write I/O requests per second."),
    UsageKey("read_requests_per_sec", INTEGER, "Average storage read I/O requests per second."),
    UsageKey(
        "backup_snapshot_size_gb", FLOAT, "Size of one backup snapshot (GB); retention decides how many."
    ),
    UsageKey("average_statements_per_hr", INTEGER, "Average SQL statements per hour (backtrack)."),
    UsageKey("change_records_per_statement", FLOAT, "Change records per statement (backtrack)."),
    UsageKey("backtrack_window_hrs", INTEGER, "Backtrack window (hours)."),
    UsageKey("snapshot_export_size_gb", FLOAT, "Monthly snapshot data exported to S3 (GB)."),
    UsageKey("capacity_units_per_hr", FLOAT, "Average Aurora capacity units (Serverless v1)."),
)


def _engine(engine: str | None) -> str:
    return _ENGINES.get((engine or "aurora").lower(), AURORA_MYSQL)


def _first(prices: Prices, engines: tuple[str, ...], family: str, usagetype: str) -> Price | None:
    for engine in engines:
        found = prices.lookup(productFamily=family, databaseEngine=engine, usagetypeBase=usagetype)
        if found is not None:
            return found
    return None


@pricer("aws_rds_cluster", usage=CLUSTER_USAGE)
def price_rds_cluster(ctx: PricingContext) -> list[CostComponent]:
    attrs, usage = ctx.attrs, ctx.usage
    prices = ctx.prices(SERVICE)
    engine_name = (attrs.text("engine") or "aurora").lower()
    engine = _engine(engine_name)
    serverless = (attrs.text("engine_mode") or "provisioned").lower() == "serverless"
    io_optimized = attrs.text("storage_type") == IO_OPTIMIZED_STORAGE
    hours = ctx.hours_per_month
    components: list[CostComponent] = []
    if serverless:
        capacity = usage.decimal("capacity_units_per_hr")
        components.append(
            priced(
                "Aurora serverless",
                "ACU-hours",
                None if capacity is None else capacity * hours,
                prices.lookup(productFamily="Serverless", databaseEngine=engine),
                usage_based=True,
            )
        )
    storage_engines = _STORAGE_ENGINES[engine]
    storage_usagetype = "Aurora:IO-OptimizedStorageUsage" if io_optimized else "Aurora:StorageUsage"
    components.append(
        priced(
            "Storage (I/O-optimized)" if io_optimized else "Storage",
            "GB",
            usage.decimal("storage_gb"),
            _first(prices, storage_engines, "Database Storage", storage_usagetype),
            usage_based=True,
        )
    )
    reads, writes = usage.decimal("read_requests_per_sec"), usage.decimal("write_requests_per_sec")
    io_requests = None if reads is None or writes is None else (reads + writes) * hours * SECONDS_PER_HOUR
    components.append(
        priced(
            "I/O requests",
            "1M requests",
            None if io_requests is None else io_requests / MILLION,
            _first(prices, storage_engines, "System Operation", "Aurora:StorageIOUsage"),
            usage_based=True,
            unit_scale=MILLION,
        )
    )
    retention = attrs.integer("backup_retention_period", 1) or 1
    if retention > 1:
        snapshot = usage.decimal("backup_snapshot_size_gb")
        components.append(
            priced(
                "Backup storage",
                "GB",
                None if snapshot is None else snapshot * (retention - 1),
                prices.lookup(
                    productFamily="Storage Snapshot",
                    databaseEngine=engine,
                    usagetypeBase="Aurora:BackupUsage",
                ),
                usage_based=True,
            )
        )
    if not serverless and "postgresql" not in engine_name:
        backtrack_price = prices.find(_BACKTRACK)
        if backtrack_price is not None:
            statements = usage.decimal("average_statements_per_hr")
            records = usage.decimal("change_records_per_statement")
            window = usage.decimal("backtrack_window_hrs")
            change_records = (
                None
                if statements is None or records is None or window is None
                else statements * hours * records * window
            )
            components.append(
                priced(
                    "Backtrack",
                    "1M change-records",
                    None if change_records is None else change_records / MILLION,
                    backtrack_price,
                    usage_based=True,
                    unit_scale=MILLION,
                )
            )
    components.append(
        priced(
            "Snapshot export",
            "GB",
            usage.decimal("snapshot_export_size_gb"),
            prices.lookup(
                productFamily="System Operation",
                databaseEngine=engine,
                usagetypeBase="Aurora:SnapshotExportToS3",
            ),
            usage_based=True,
        )
    )
    return components


INSTANCE_USAGE = (
    UsageKey(
        "monthly_cpu_credit_hrs", INTEGER, "Monthly CPU credit hours above the baseline (db.t3/db.t4g)."
    ),
    UsageKey("vcpu_count", INTEGER, "vCPUs of the instance class (default: the class's)."),
    UsageKey(
        "monthly_additional_performance_insights_requests",
        INTEGER,
        "Monthly Performance Insights API requests beyond the free tier.",
    ),
    UsageKey("reserved_instance_term", STRING, "Reserved instance term: 1_year or 3_year."),
    UsageKey(
        "reserved_instance_payment_option",
        STRING,
        "Reserved instance payment option: no_upfront, partial_upfront or all_upfront.",
    ),
    UsageKey("capacity_units_per_hr", FLOAT, "Average Aurora capacity units (Serverless v2)."),
)


@pricer("aws_rds_cluster_instance", usage=INSTANCE_USAGE)
def price_rds_cluster_instance(ctx: PricingContext) -> list[CostComponent]:
    attrs, usage = ctx.attrs, ctx.usage
    prices = ctx.prices(SERVICE)
    cluster = linked.referred(ctx, "cluster_identifier", "aws_rds_cluster")
    cluster_attrs = cluster[0].attrs if cluster else None
    engine_name = attrs.text("engine") or (cluster_attrs.text("engine") if cluster_attrs else None)
    version = attrs.text("engine_version") or (
        cluster_attrs.text("engine_version") if cluster_attrs else None
    )
    engine = AURORA_POSTGRESQL if (engine_name or "").lower() == "aurora-postgresql" else AURORA_MYSQL
    io_optimized = cluster_attrs is not None and cluster_attrs.text("storage_type") == IO_OPTIMIZED_STORAGE
    instance_class = attrs.text("instance_class") or ""
    serverless = instance_class.lower() == SERVERLESS_CLASS
    capacity = usage.decimal("capacity_units_per_hr")
    hours = ctx.hours_per_month

    components: list[CostComponent] = []
    if serverless:
        usagetype = "Aurora:ServerlessV2IOOptimizedUsage" if io_optimized else "Aurora:ServerlessV2Usage"
        components.append(
            priced(
                "Aurora serverless v2 (I/O-optimized)" if io_optimized else "Aurora serverless v2",
                "ACU-hours",
                None if capacity is None else capacity * hours,
                prices.lookup(productFamily="ServerlessV2", databaseEngine=engine, usagetypeBase=usagetype),
                usage_based=True,
            )
        )
    elif usage.text("reserved_instance_term") is not None:
        # On-demand prices only: a reservation is named, and its price reported missing.
        components.append(priced(f"Database instance (reserved, {instance_class})", "hours", hours, None))
    else:
        prefix = "InstanceUsageIOOptimized" if io_optimized else "InstanceUsage"
        query = {
            "productFamily": "Database Instance",
            "instanceType": instance_class,
            "databaseEngine": engine,
            "usagetypeBase": f"{prefix}:{instance_class}",
        }
        components.append(prices.hourly(f"Database instance (on-demand, {instance_class})", query))

    # rds.py's vCPU table and support calendar serve Aurora instances too (same offer, same rules);
    # they are private there, and used as they are so that the existing pricer stays untouched.
    vcpus = rds.instance_vcpus(instance_class, usage.decimal("vcpu_count"))
    family = burstable_family(instance_class)
    credit_hours = usage.decimal("monthly_cpu_credit_hrs")
    if family is not None and credit_hours is not None and credit_hours > 0:
        components.append(
            priced(
                "CPU credits",
                "vCPU-hours",
                (vcpus or Decimal(0)) * credit_hours,
                prices.lookup(
                    productFamily="CPU Credits", databaseEngine=engine, usagetypeBase=f"CPUCredits:{family}"
                ),
                usage_based=True,
            )
        )

    if attrs.flag("performance_insights_enabled", False):
        retention = attrs.integer("performance_insights_retention_period", 0) or 0
        if retention > PI_FREE_RETENTION_DAYS:
            components.append(
                _pi_long_term(
                    prices,
                    instance_class,
                    engine=engine,
                    serverless=serverless,
                    capacity=capacity,
                    vcpus=vcpus,
                )
            )
        api_requests = usage.decimal("monthly_additional_performance_insights_requests")
        if api_requests is None or api_requests > 0:
            components.append(
                priced(
                    "Performance Insights API",
                    "1000 requests",
                    None if api_requests is None else api_requests / THOUSAND,
                    prices.find(_PI_API),
                    usage_based=True,
                    unit_scale=THOUSAND,
                )
            )

    extended = rds.extended_support(ctx, prices, (engine_name or "").lower(), version, vcpus)
    if extended is not None:
        components.append(extended)
    return components


def _pi_long_term(
    prices: Prices,
    instance_class: str,
    *,
    engine: str,
    serverless: bool,
    capacity: Decimal | None,
    vcpus: Decimal | None,
) -> CostComponent:
    if serverless:
        return priced(
            "Performance Insights Long Term Retention (serverless)",
            "ACUs",
            capacity if capacity is not None else Decimal(0),
            prices.lookup(
                productFamily="Performance Insights",
                databaseEngine=engine,
                usagetypeBase="PI_LTR_FMR:Serverless",
            ),
        )
    family = instance_class.lower().removeprefix("db.").split(".")[0].upper()
    return priced(
        f"Performance Insights Long Term Retention ({instance_class.lower()})",
        "vCPU-month",
        vcpus if vcpus is not None else Decimal(0),
        prices.lookup(productFamily="Performance Insights", usagetypeBase=f"PI_LTR:{family}"),
    )

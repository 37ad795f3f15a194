"""aws_db_instance: instance hours, storage, provisioned IOPS, backups and RDS add-ons.

Usage keys (Infracost's): ``additional_backup_storage_gb``, ``monthly_standard_io_requests`` (magnetic
storage), ``monthly_additional_performance_insights_requests``, ``monthly_cpu_credit_hrs`` and
``vcpu_count`` (db.t3/db.t4g unlimited mode), ``reserved_instance_term`` and
``reserved_instance_payment_option``.

**Read replicas.** A replica's ``engine`` is unknown at plan time (it comes from its source): when
``replicate_source_db`` refers to an ``aws_db_instance`` of the plan, the engine is the source's
planned one (a replica of a replica follows the chain), as Infracost does. Beyond Infracost, which
takes the engine alone, an unknown ``engine_version`` and ``license_model`` come from the source too:
AWS creates a replica with its source's version and license, and the version decides Extended
Support. Storage and Multi-AZ stay the replica's own (20 GB when unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.aws import compute, linked
from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.kit import FLOAT, Prices, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price

SERVICE = "AmazonRDS"

# The AWS provider's default when allocated_storage is unknown at plan time (a replica's comes from its
# source); Infracost uses the same figure.
DEFAULT_STORAGE_GB = Decimal(20)
# Provisioned IOPS SSD volumes cannot be smaller than 100 GB nor have fewer than 1,000 IOPS: AWS bills
# the minimum even when a plan asks for less.
PIOPS_MIN_STORAGE_GB = Decimal(100)
PIOPS_MIN_IOPS = Decimal(1000)
# gp3 includes 3,000 IOPS below 400 GB and 12,000 from 400 GB (RDS user guide, "gp3 storage").
GP3_BASELINE_THRESHOLD_GB = Decimal(400)
GP3_SMALL_BASELINE_IOPS = Decimal(3000)
GP3_LARGE_BASELINE_IOPS = Decimal(12000)
# Performance Insights keeps 7 days for free; a longer retention is billed per vCPU.
PI_FREE_RETENTION_DAYS = 7
# How far a chain of replicas is followed to its source (AWS allows replicas of replicas, a few deep).
MAX_REPLICA_HOPS = 4

# Terraform engine name → (offer-file databaseEngine, databaseEdition or None).
_ENGINES: dict[str, tuple[str, str | None]] = {
    "mysql": ("MySQL", None),
    "postgres": ("PostgreSQL", None),
    "mariadb": ("MariaDB", None),
    "aurora": ("Aurora MySQL", None),
    "aurora-mysql": ("Aurora MySQL", None),
    "aurora-postgresql": ("Aurora PostgreSQL", None),
    "oracle-se": ("Oracle", "Standard"),
    "oracle-se1": ("Oracle", "Standard One"),
    "oracle-se2": ("Oracle", "Standard Two"),
    "oracle-se2-cdb": ("Oracle", "Standard Two"),
    "oracle-ee": ("Oracle", "Enterprise"),
    "oracle-ee-cdb": ("Oracle", "Enterprise"),
    "sqlserver-ex": ("SQL Server", "Express"),
    "sqlserver-web": ("SQL Server", "Web"),
    "sqlserver-se": ("SQL Server", "Standard"),
    "sqlserver-ee": ("SQL Server", "Enterprise"),
}
_OPEN_SOURCE = frozenset({"MySQL", "PostgreSQL", "MariaDB"})
# Engines AWS sells with the license included by default; Oracle EE (and the legacy SE) are BYOL only.
_LICENSE_INCLUDED_ENGINES = frozenset(
    {
        "oracle-se1",
        "oracle-se2",
        "oracle-se2-cdb",
        "sqlserver-ex",
        "sqlserver-web",
        "sqlserver-se",
        "sqlserver-ee",
    }
)
_LICENSE_MODELS = {"license-included": "License included", "bring-your-own-license": "Bring your own license"}


@dataclass(frozen=True, slots=True)
class _Storage:
    name: str
    volume_type: str  # offer-file volumeType of the storage product
    usagetype: str | None  # usagetypeBase where volumeType alone is ambiguous (gp3, io2)
    iops_usagetype: str | None  # the provisioned-IOPS product, for types that bill IOPS


_STORAGE = {
    "gp2": _Storage("Storage (general purpose SSD, gp2)", "General Purpose", None, None),
    "gp3": _Storage("Storage (general purpose SSD, gp3)", "General Purpose-GP3", "GP3-Storage", "GP3-PIOPS"),
    "io1": _Storage("Storage (provisioned IOPS SSD, io1)", "Provisioned IOPS", None, "PIOPS"),
    "io2": _Storage(
        "Storage (provisioned IOPS SSD, io2)", "Provisioned IOPS-IO2", "IO2-Storage", "IO2-PIOPS"
    ),
    "standard": _Storage("Storage (magnetic)", "Magnetic", None, None),
}


USAGE = (
    UsageKey("additional_backup_storage_gb", FLOAT, "Backup storage beyond the free allowance (GB)."),
    UsageKey("monthly_standard_io_requests", FLOAT, "Monthly I/O requests (magnetic storage)."),
    UsageKey(
        "monthly_additional_performance_insights_requests",
        FLOAT,
        "Monthly Performance Insights API requests beyond the free tier.",
    ),
    *compute.CPU_CREDIT_USAGE,
    *compute.RESERVATION_USAGE,
)


@pricer("aws_db_instance", usage=USAGE)
def price_db_instance(ctx: PricingContext) -> list[CostComponent]:
    attrs, usage = ctx.attrs, ctx.usage
    prices = ctx.prices(SERVICE)
    instance_class = attrs.text("instance_class")
    engine_name = attrs.text("engine")
    engine_version = attrs.text("engine_version")
    license_value = attrs.text("license_model")
    if engine_name is None:
        source = replica_source(ctx)
        if source is not None:
            engine_name = source.text("engine")
            engine_version = engine_version or source.text("engine_version")
            license_value = license_value or source.text("license_model")
    engine = (engine_name or "").lower()
    multi_az = attrs.flag("multi_az", False) is True
    deployment = "Multi-AZ" if multi_az else "Single-AZ"
    database_engine, edition = _ENGINES.get(engine, (None, None))
    vcpus = instance_vcpus(instance_class, usage.decimal("vcpu_count"))

    components = [
        _instance(
            ctx,
            prices,
            instance_class=instance_class,
            engine=engine,
            database_engine=database_engine,
            edition=edition,
            deployment=deployment,
            license_value=license_value,
        )
    ]

    # Negative sizes are not valid Terraform; they count as unset rather than as negative costs.
    iops = _positive(attrs.decimal("iops")) or Decimal(0)
    storage_type = (attrs.text("storage_type") or "").lower()
    if storage_type not in _STORAGE:
        # The provider's default: io1 when IOPS are given, else gp2.
        storage_type = "io1" if iops > 0 else "gp2"
    storage = _STORAGE[storage_type]
    storage_gb = _positive(attrs.decimal("allocated_storage")) or DEFAULT_STORAGE_GB
    if storage_type in ("io1", "io2"):
        storage_gb = max(storage_gb, PIOPS_MIN_STORAGE_GB)
        iops = max(iops, PIOPS_MIN_IOPS)
    components.append(
        priced(storage.name, "GB", storage_gb, _storage_price(prices, storage, deployment, multi_az))
    )

    if storage_type == "standard":
        io_requests = usage.decimal("monthly_standard_io_requests")
        components.append(
            priced(
                "I/O requests",
                "1M requests",
                None if io_requests is None else io_requests / 1_000_000,
                _rds_price(prices, "System Operation", "RDS:StorageIOUsage"),
                usage_based=True,
                unit_scale=Decimal(1_000_000),
            )
        )
    if storage.iops_usagetype is not None:
        iops_price = _rds_price(
            prices, "Provisioned IOPS", _multi_az_usagetype(storage.iops_usagetype, multi_az)
        )
        if storage_type == "gp3":
            small = storage_gb < GP3_BASELINE_THRESHOLD_GB
            baseline = GP3_SMALL_BASELINE_IOPS if small else GP3_LARGE_BASELINE_IOPS
            if iops > baseline:
                components.append(
                    priced(f"Provisioned GP3 IOPS (above {baseline:,})", "IOPS", iops - baseline, iops_price)
                )
        else:
            components.append(priced("Provisioned IOPS", "IOPS", iops, iops_price))

    backup_gb = usage.decimal("additional_backup_storage_gb")
    retention = attrs.integer("backup_retention_period", 0) or 0
    if retention > 0 or (backup_gb is not None and backup_gb > 0):
        components.append(
            priced(
                "Additional backup storage",
                "GB",
                backup_gb,
                _backup_price(prices, database_engine),
                usage_based=True,
            )
        )

    if attrs.flag("performance_insights_enabled", False):
        retention_days = attrs.integer("performance_insights_retention_period", 0) or 0
        if retention_days > PI_FREE_RETENTION_DAYS and instance_class:
            family = instance_class.removeprefix("db.").split(".")[0].upper()
            components.append(
                priced(
                    f"Performance Insights Long Term Retention ({instance_class.lower()})",
                    "vCPU-month",
                    vcpus if vcpus is not None else Decimal(0),
                    prices.lookup(
                        productFamily="Performance Insights",
                        usagetypeBase=f"PI_LTR:{family}",
                    ),
                )
            )
        api_requests = usage.decimal("monthly_additional_performance_insights_requests")
        if api_requests is None or api_requests > 0:
            components.append(
                priced(
                    "Performance Insights API",
                    "1000 requests",
                    None if api_requests is None else api_requests / 1000,
                    prices.lookup(productFamily="Performance Insights", usagetypeBase="PI_API"),
                    usage_based=True,
                    unit_scale=Decimal(1000),
                )
            )

    credit_hours = usage.decimal("monthly_cpu_credit_hrs")
    burstable = _burstable_family(instance_class)
    if (
        burstable is not None
        and credit_hours is not None
        and credit_hours > 0
        and database_engine is not None
    ):
        components.append(
            priced(
                "CPU credits",
                "vCPU-hours",
                (vcpus or Decimal(0)) * credit_hours,
                prices.lookup(
                    productFamily="CPU Credits",
                    databaseEngine=database_engine,
                    usagetypeBase=f"CPUCredits:{burstable}",
                ),
                usage_based=True,
            )
        )

    extended = extended_support(ctx, prices, engine, engine_version, vcpus)
    if extended is not None:
        components.append(extended)
    return components


def _instance(
    ctx: PricingContext,
    prices: Prices,
    *,
    instance_class: str | None,
    engine: str,
    database_engine: str | None,
    edition: str | None,
    deployment: str,
    license_value: str | None,
) -> CostComponent:
    reserved = ctx.usage.text("reserved_instance_term") is not None
    name = f"Database instance ({'reserved' if reserved else 'on-demand'}, {deployment}, {instance_class})"
    if reserved or instance_class is None or database_engine is None:
        # The catalog holds on-demand prices only: a reservation's price is reported missing rather than
        # replaced by the on-demand one. An unknown engine (a replica's comes from its source) or class
        # leaves nothing to look up.
        return priced(name, "hours", ctx.hours_per_month, None)
    query = {
        "productFamily": "Database Instance",
        "instanceType": instance_class,
        "databaseEngine": database_engine,
        "deploymentOption": deployment,
    }
    if edition is not None:
        query["databaseEdition"] = edition
    license_model = _LICENSE_MODELS.get((license_value or "").lower())
    if license_model is None and database_engine in _OPEN_SOURCE:
        license_model = "No license required"
    elif license_model is None and database_engine in ("Oracle", "SQL Server"):
        included = engine in _LICENSE_INCLUDED_ENGINES
        license_model = "License included" if included else "Bring your own license"
    if license_model is not None:
        query["licenseModel"] = license_model
    if database_engine.startswith("Aurora"):
        # Aurora instances come as standard and I/O-optimized products with the same attributes otherwise.
        query["usagetypeBase"] = f"InstanceUsage:{instance_class}"
    return priced(name, "hours", ctx.hours_per_month, prices.find(query))


def replica_source(ctx: PricingContext) -> Attributes | None:
    """The planned values of the instance whose engine this replica runs: the one
    ``replicate_source_db`` refers to, or its own source when that is a replica too."""
    current = ctx
    for _ in range(MAX_REPLICA_HOPS):
        found = linked.referred(current, "replicate_source_db", "aws_db_instance")
        if not found:
            return None
        source = found[0]
        if source.attrs.text("engine") is not None:
            return source.attrs
        current = ctx._replace(address=source.address, attrs=source.attrs)
    return None


def _storage_price(prices: Prices, storage: _Storage, deployment: str, multi_az: bool) -> Price | None:
    if storage.usagetype is not None:
        return _rds_price(prices, "Database Storage", _multi_az_usagetype(storage.usagetype, multi_az))
    query = {
        "productFamily": "Database Storage",
        "volumeType": storage.volume_type,
        "deploymentOption": deployment,
    }
    # Offer files mark instance storage "databaseEngine: Any" (Aurora's has its own engine); the bundled
    # snapshot lacks that attribute on some rows, so ask without it when the precise query finds nothing.
    return prices.lookup(databaseEngine="Any", **query) or prices.find(query)


def _backup_price(prices: Prices, database_engine: str | None) -> Price | None:
    if database_engine is not None and database_engine.startswith("Aurora"):
        return prices.lookup(
            productFamily="Storage Snapshot",
            databaseEngine=database_engine,
            usagetypeBase="Aurora:BackupUsage",
        )
    return _rds_price(prices, "Storage Snapshot", "RDS:ChargedBackupUsage")


def _positive(value: Decimal | None) -> Decimal | None:
    return value if value is not None and value > 0 else None


def _rds_price(prices: Prices, product_family: str, usagetype: str) -> Price | None:
    return prices.lookup(productFamily=product_family, usagetypeBase=usagetype)


def _multi_az_usagetype(suffix: str, multi_az: bool) -> str:
    return f"RDS:Multi-AZ-{suffix}" if multi_az else f"RDS:{suffix}"


def _burstable_family(instance_class: str | None) -> str | None:
    """``db.t3.large`` → ``db.t3``: the instance families with CPU credits (unlimited mode)."""
    if instance_class is None:
        return None
    family = ".".join(instance_class.split(".")[:2])
    return family if family in ("db.t3", "db.t4g") else None


# vCPUs per instance size. Burstable sizes up to large have 2 vCPUs (t2 micro/small: 1); from xlarge on
# every family doubles per size step: xlarge 4, 2xlarge 8, … Nxlarge 4N.
_SMALL_SIZES = {"nano": 2, "micro": 2, "small": 2, "medium": 2, "large": 2}
_T2_SIZES = {"micro": 1, "small": 1, "medium": 2, "large": 2}


def instance_vcpus(instance_class: str | None, override: Decimal | None) -> Decimal | None:
    if override is not None:
        return override
    if instance_class is None:
        return None
    parts = instance_class.lower().removeprefix("db.").split(".")
    if len(parts) != 2:
        return None
    family, size = parts
    if family == "t2" and size in _T2_SIZES:
        return Decimal(_T2_SIZES[size])
    if size == "medium" and not family.startswith("t"):
        return Decimal(1)
    if size in _SMALL_SIZES:
        return Decimal(_SMALL_SIZES[size])
    if size == "xlarge":
        return Decimal(4)
    if size.endswith("xlarge") and size[:-6].isdigit():
        return Decimal(4 * int(size[:-6]))
    return None


# RDS Extended Support (RDS user guide "RDS Extended Support", Aurora version policy): per engine, the
# major version → (usage-type version, first day of year 1 pricing, first day of year 3 pricing or None).
_EXTENDED_SUPPORT: dict[str, tuple[str, dict[str, tuple[str, date, date | None]]]] = {
    "mysql": (
        "MySQL",
        {
            "5.7": ("5.7", date(2024, 3, 1), date(2026, 3, 1)),
            "8": ("8", date(2026, 8, 1), date(2028, 8, 1)),
        },
    ),
    "postgres": (
        "PostgreSQL",
        {
            "11": ("11", date(2024, 4, 1), date(2026, 4, 1)),
            "12": ("12", date(2025, 3, 1), date(2027, 3, 1)),
            "13": ("13", date(2026, 3, 1), date(2028, 3, 1)),
            "14": ("14", date(2027, 3, 1), date(2029, 3, 1)),
            "15": ("15", date(2028, 3, 1), date(2030, 3, 1)),
            "16": ("16", date(2029, 3, 1), date(2031, 3, 1)),
        },
    ),
    "aurora-mysql": (
        "AuroraMySQL",
        {
            "5.7": ("2", date(2024, 12, 1), None),
            "8": ("3", date(2027, 5, 1), None),
        },
    ),
    "aurora-postgresql": (
        "AuroraPostgreSQL",
        {
            "11": ("11", date(2024, 4, 1), date(2026, 4, 1)),
            "12": ("12", date(2025, 3, 1), date(2027, 3, 1)),
            "13": ("13", date(2026, 3, 1), date(2028, 3, 1)),
            "14": ("14", date(2027, 3, 1), date(2029, 3, 1)),
            "15": ("15", date(2028, 3, 1), date(2030, 3, 1)),
        },
    ),
}
_EXTENDED_SUPPORT["aurora"] = _EXTENDED_SUPPORT["aurora-mysql"]

# Extended Support's price depends on the day the instance runs: the estimate's pricing date
# (``PricingContext.pricing_date``: ``estimate(as_of=...)``, default today in UTC).


def extended_support(
    ctx: PricingContext, prices: Prices, engine: str, version: str | None, vcpus: Decimal | None
) -> CostComponent | None:
    entry = _EXTENDED_SUPPORT.get(engine)
    if entry is None or not version:
        return None
    usage_engine, versions = entry
    parts = version.lower().split(".")
    # "5.7.44" → "5.7" → "5": the most specific major version the calendar knows.
    for length in range(len(parts), 0, -1):
        dates = versions.get(".".join(parts[:length]))
        if dates is not None:
            break
    else:
        return None
    usage_version, year1, year3 = dates
    today = ctx.pricing_date
    if year3 is not None and today >= year3:
        name, period = "Extended support (year 3)", "Yr3"
    elif today >= year1:
        name, period = "Extended support (year 1)", "Yr1-Yr2"
    else:
        return None
    # Infracost's fallback for an unknown size: one vCPU.
    quantity = (vcpus if vcpus is not None else Decimal(1)) * ctx.hours_per_month
    return priced(
        name,
        "vCPU-hours",
        quantity,
        prices.lookup(usagetypeBase=f"ExtendedSupport:{period}:{usage_engine}{usage_version}"),
    )

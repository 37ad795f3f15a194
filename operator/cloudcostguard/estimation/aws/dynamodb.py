"""aws_dynamodb_table: provisioned or on-demand throughput, storage, backups, streams, global tables.

Usage keys (Infracost's): ``monthly_write_request_units``, ``monthly_read_request_units``, ``storage_gb``,
``pitr_backup_storage_gb``, ``on_demand_backup_storage_gb``, ``monthly_data_restored_gb``,
``monthly_streams_read_request_units``.

DynamoDB's free tier (25 WCU, 25 RCU, 25 GB, 2.5M stream reads) is per account and region, not per
table, so a table is priced at the first paid rate, as Infracost does.

A provisioned table scaled by an ``aws_appautoscaling_target`` of the plan (dimension
``dynamodb:table:WriteCapacityUnits`` or ``ReadCapacityUnits``; linked by reference, or by a
literal ``resource_id = "table/<name>"``) is priced at the target's usage key ``capacity``, else its
``min_capacity``, under "Write capacity unit (WCU, autoscaling)" / "Read capacity unit (RCU,
autoscaling)", flagged usage-based, as Infracost does (see ``appautoscaling.py``). Global table
replicas keep the table's configured write capacity, as in Infracost.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from cloudcostguard.estimation.aws import appautoscaling
from cloudcostguard.estimation.components import at_unit_price
from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price

SERVICE = "AmazonDynamoDB"
ON_DEMAND_THROUGHPUT = "Amazon DynamoDB PayPerRequest Throughput"


USAGE = (
    UsageKey("monthly_write_request_units", FLOAT, "Monthly write request units (on-demand tables)."),
    UsageKey("monthly_read_request_units", FLOAT, "Monthly read request units (on-demand tables)."),
    UsageKey("storage_gb", FLOAT, "Table data stored (GB)."),
    UsageKey("pitr_backup_storage_gb", FLOAT, "Point-in-time recovery backup storage (GB)."),
    UsageKey("on_demand_backup_storage_gb", FLOAT, "On-demand backup storage (GB)."),
    UsageKey("monthly_data_restored_gb", FLOAT, "Monthly data restored from backups (GB)."),
    UsageKey("monthly_streams_read_request_units", FLOAT, "Monthly DynamoDB Streams read request units."),
)


@pricer("aws_dynamodb_table", usage=USAGE)
def price_dynamodb_table(ctx: PricingContext) -> list[CostComponent]:
    attrs, usage = ctx.attrs, ctx.usage
    on_demand = (attrs.text("billing_mode") or "PROVISIONED").upper() == "PAY_PER_REQUEST"
    # Standard-IA tables have their own usage types, prefixed "IA-".
    ia = (attrs.text("table_class") or "").upper() == "STANDARD_INFREQUENT_ACCESS"
    prefix = "IA-" if ia else ""
    hours = ctx.hours_per_month
    lookup = ctx.prices(SERVICE).lookup

    def rate(product_family: str, usagetype: str | None = None, **extra: str) -> Decimal | None:
        if usagetype is None:
            return paid_rate(lookup(**extra, productFamily=product_family))
        return paid_rate(lookup(**extra, productFamily=product_family, usagetypeBase=usagetype))

    def per_month(rate_per_hour: Decimal | None) -> Decimal | None:
        return None if rate_per_hour is None else rate_per_hour * hours

    write_capacity = _capacity(attrs.decimal("write_capacity"))
    components: list[CostComponent] = []
    if on_demand:
        components += [
            at_unit_price(
                "Write request unit (WRU)",
                "WRUs",
                usage.decimal("monthly_write_request_units"),
                rate(ON_DEMAND_THROUGHPUT, f"{prefix}WriteRequestUnits", group="DDB-WriteUnits"),
                usage_based=True,
            ),
            at_unit_price(
                "Read request unit (RRU)",
                "RRUs",
                usage.decimal("monthly_read_request_units"),
                rate(ON_DEMAND_THROUGHPUT, f"{prefix}ReadRequestUnits", group="DDB-ReadUnits"),
                usage_based=True,
            ),
        ]
    else:
        writes, reads = _scaled_capacity(ctx, write_capacity, _capacity(attrs.decimal("read_capacity")))
        components += [
            at_unit_price(
                "Write capacity unit (WCU, autoscaling)"
                if writes.autoscaled
                else "Write capacity unit (WCU)",
                "WCU",
                writes.units,
                per_month(rate("Provisioned IOPS", f"{prefix}WriteCapacityUnit-Hrs", group="DDB-WriteUnits")),
                usage_based=writes.autoscaled,
            ),
            at_unit_price(
                "Read capacity unit (RCU, autoscaling)" if reads.autoscaled else "Read capacity unit (RCU)",
                "RCU",
                reads.units,
                per_month(rate("Provisioned IOPS", f"{prefix}ReadCapacityUnit-Hrs", group="DDB-ReadUnits")),
                usage_based=reads.autoscaled,
            ),
        ]
    components.append(
        at_unit_price(
            "Data storage",
            "GB",
            usage.decimal("storage_gb"),
            rate("Database Storage", f"{prefix}TimedStorage-ByteHrs"),
            usage_based=True,
        )
    )
    if attrs.block("point_in_time_recovery").flag("enabled", False):
        components.append(
            at_unit_price(
                "Point-In-Time Recovery (PITR) backup storage",
                "GB",
                usage.decimal("pitr_backup_storage_gb"),
                rate("Database Storage", "TimedPITRStorage-ByteHrs"),
                usage_based=True,
            )
        )
    components += [
        at_unit_price(
            "On-demand backup storage",
            "GB",
            usage.decimal("on_demand_backup_storage_gb"),
            rate("Amazon DynamoDB On-Demand Backup Storage", "TimedBackupStorage-ByteHrs"),
            usage_based=True,
        ),
        at_unit_price(
            "Table data restored",
            "GB",
            usage.decimal("monthly_data_restored_gb"),
            rate("Amazon DynamoDB Restore Data Size"),
            usage_based=True,
        ),
        at_unit_price(
            "Streams read request unit (sRRU)",
            "sRRUs",
            usage.decimal("monthly_streams_read_request_units"),
            rate("API Request", "Streams-Requests", group="DDB-StreamsReadRequests"),
            usage_based=True,
        ),
    ]

    write_requests = usage.decimal("monthly_write_request_units")
    for replica in attrs.blocks("replica"):
        replica_region = replica.text("region_name")
        if replica_region is None:
            continue
        subresource = f"Global table ({replica_region})"
        if on_demand:
            replicated = paid_rate(
                ctx.catalog.lookup(
                    SERVICE,
                    replica_region,
                    productFamily=ON_DEMAND_THROUGHPUT,
                    group="DDB-ReplicatedWriteUnits",
                )
            )
            # Infracost shows replicated writes per hour of the month (WRUs ÷ 730) at the price of 730
            # rWRUs; the cost is the same: every write is replicated once to each replica.
            components.append(
                at_unit_price(
                    "Replicated write request unit (rWRU)",
                    "rWRU",
                    None if write_requests is None else write_requests / hours,
                    per_month(replicated),
                    usage_based=True,
                    subresource=subresource,
                )
            )
        else:
            replicated = paid_rate(
                ctx.catalog.lookup(
                    SERVICE,
                    replica_region,
                    productFamily="DDB-Operation-ReplicatedWrite",
                    usagetypeBase=f"{prefix}ReplWriteCapacityUnit-Hrs",
                )
            )
            components.append(
                at_unit_price(
                    "Replicated write capacity unit (rWCU)",
                    "rWCU",
                    write_capacity,
                    per_month(replicated),
                    subresource=subresource,
                )
            )
    return components


@dataclass(frozen=True, slots=True)
class Capacity:
    units: Decimal | None
    autoscaled: bool = False


WRITE_DIMENSION = "dynamodb:table:WriteCapacityUnits"
READ_DIMENSION = "dynamodb:table:ReadCapacityUnits"


def _scaled_capacity(
    ctx: PricingContext, writes: Decimal | None, reads: Decimal | None
) -> tuple[Capacity, Capacity]:
    """The table's write and read capacity: an autoscaling target's where one scales it."""
    write, read = Capacity(writes), Capacity(reads)
    for target in appautoscaling.scaling_targets(ctx, "name", "table/"):
        # A capacity unknown at plan time (no usage, minimum unknown) leaves the table's own figure.
        if target.dimension == WRITE_DIMENSION:
            write = Capacity(target.capacity if target.capacity is not None else writes, True)
        elif target.dimension == READ_DIMENSION:
            read = Capacity(target.capacity if target.capacity is not None else reads, True)
    return write, read


def _capacity(value: Decimal | None) -> Decimal | None:
    """A negative capacity is not valid Terraform: treat it as unknown rather than as a negative cost."""
    return value if value is not None and value >= 0 else None


def paid_rate(price: Price | None) -> Decimal | None:
    """The first non-free tier's unit price: free tiers are account-wide, not per resource."""
    if price is None:
        return None
    for tier in price.tiers:
        if tier.unit_price > 0:
            return tier.unit_price
    return price.tiers[-1].unit_price

"""EBS: volumes (``aws_ebs_volume`` and the block devices of instances and node groups) and snapshots.

Volume pricing (AWS EBS pricing page; Infracost's component names and units):

* every type pays for its size (GB-month); an unknown size is 8 GB and an unknown type gp2, the
  defaults Infracost and the AWS console use for a root volume;
* gp3 includes 3,000 IOPS and 125 MiB/s: only what is provisioned above that baseline is charged;
* io1 pays for every provisioned IOPS; io2 too, in three tiers (up to 32,000, 32,001-64,000, above
  64,000), each a separate product in the offer files;
* ``standard`` (magnetic) pays per million I/O requests (usage ``monthly_standard_io_requests``).

Snapshots pay for their storage and, from usage, fast snapshot restore hours and EBS direct API
requests. A new snapshot's ``volume_size`` is unknown until it exists: it is then the size planned
for the ``aws_ebs_volume`` its ``volume_id`` refers to (the plan's configuration references, as
Infracost does), else 8 GB.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws import linked
from cloudcostguard.estimation.components import at_unit_price, priced
from cloudcostguard.estimation.kit import FLOAT, INTEGER, Prices, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price

SERVICE = "AmazonEC2"  # EBS is sold under EC2's offer

DEFAULT_VOLUME_TYPE = "gp2"
DEFAULT_VOLUME_SIZE_GB = Decimal(8)
# gp3's included performance (AWS EBS volume types page).
GP3_BASELINE_IOPS = Decimal(3000)
GP3_BASELINE_THROUGHPUT_MIBPS = Decimal(125)
# io1/io2 accept 100 IOPS at least: the charge we assume when the plan does not know the IOPS yet.
MINIMUM_PROVISIONED_IOPS = Decimal(100)
# io2 IOPS tiers (AWS EBS pricing page), each its own usage type in the offer files.
IO2_TIER_LIMITS = (Decimal(32000), Decimal(64000))
IO2_IOPS_USAGETYPES = ("EBS:VolumeP-IOPS.io2", "EBS:VolumeP-IOPS.io2.tier2", "EBS:VolumeP-IOPS.io2.tier3")
IO2_TIER_NAMES = ("Provisioned IOPS", "Provisioned IOPS (32K-64K)", "Provisioned IOPS (over 64K)")
MEBIBYTES_PER_GIBIBYTE = Decimal(1024)

# volumeApiName → (component name, storage usage type without region prefix)
VOLUME_TYPES: dict[str, tuple[str, str]] = {
    "gp2": ("Storage (general purpose SSD, gp2)", "EBS:VolumeUsage.gp2"),
    "gp3": ("Storage (general purpose SSD, gp3)", "EBS:VolumeUsage.gp3"),
    "io1": ("Storage (provisioned IOPS SSD, io1)", "EBS:VolumeUsage.piops"),
    "io2": ("Storage (provisioned IOPS SSD, io2)", "EBS:VolumeUsage.io2"),
    "st1": ("Storage (throughput optimized HDD, st1)", "EBS:VolumeUsage.st1"),
    "sc1": ("Storage (cold HDD, sc1)", "EBS:VolumeUsage.sc1"),
    "standard": ("Storage (magnetic)", "EBS:VolumeUsage"),
}

ONE_MILLION = Decimal(1_000_000)
ONE_THOUSAND = Decimal(1000)


def volume_components(
    prices: Prices,
    *,
    volume_type: str | None,
    size_gb: Decimal | None,
    iops: Decimal | None = None,
    throughput_mibps: Decimal | None = None,
    monthly_io_requests: Decimal | None = None,
    subresource: str | None = None,
    count: Decimal = Decimal(1),
) -> list[CostComponent]:
    """The components of ``count`` identical volumes (a node group's nodes each have one).

    An unknown type falls back to gp2 and an unknown size to 8 GB; a type AWS does not sell is
    reported as a storage line without a price rather than guessed.
    """
    kind = (volume_type or DEFAULT_VOLUME_TYPE).lower()
    size = size_gb if size_gb is not None and size_gb > 0 else DEFAULT_VOLUME_SIZE_GB
    if kind not in VOLUME_TYPES:
        return [priced(f"Storage ({kind})", "GB", size * count, None, subresource=subresource)]
    name, storage_usagetype = VOLUME_TYPES[kind]
    # The usage type names the volume type on its own; offer files before ~2020 have no volumeApiName.
    lookup = prices.lookup

    components = [
        priced(
            name,
            "GB",
            size * count,
            lookup(productFamily="Storage", usagetypeBase=storage_usagetype),
            subresource=subresource,
        )
    ]
    if kind == "gp3":
        throughput = throughput_mibps if throughput_mibps is not None else GP3_BASELINE_THROUGHPUT_MIBPS
        if throughput > GP3_BASELINE_THROUGHPUT_MIBPS:
            components.append(
                at_unit_price(
                    "Provisioned throughput",
                    "Mbps",
                    (throughput - GP3_BASELINE_THROUGHPUT_MIBPS) * count,
                    _per_mibps(
                        lookup(
                            productFamily="Provisioned Throughput", usagetypeBase="EBS:VolumeP-Throughput.gp3"
                        )
                    ),
                    subresource=subresource,
                )
            )
        provisioned = iops if iops is not None else GP3_BASELINE_IOPS
        if provisioned > GP3_BASELINE_IOPS:
            components.append(
                priced(
                    "Provisioned IOPS",
                    "IOPS",
                    (provisioned - GP3_BASELINE_IOPS) * count,
                    lookup(productFamily="System Operation", usagetypeBase="EBS:VolumeP-IOPS.gp3"),
                    subresource=subresource,
                )
            )
    elif kind == "io1":
        provisioned = iops if iops is not None and iops > 0 else MINIMUM_PROVISIONED_IOPS
        components.append(
            priced(
                "Provisioned IOPS",
                "IOPS",
                provisioned * count,
                lookup(productFamily="System Operation", usagetypeBase="EBS:VolumeP-IOPS.piops"),
                subresource=subresource,
            )
        )
    elif kind == "io2":
        provisioned = iops if iops is not None and iops > 0 else MINIMUM_PROVISIONED_IOPS
        for tier_name, usagetype, quantity in zip(
            IO2_TIER_NAMES, IO2_IOPS_USAGETYPES, _io2_tier_split(provisioned), strict=True
        ):
            if quantity > 0 or usagetype == IO2_IOPS_USAGETYPES[0]:
                price = lookup(productFamily="System Operation", usagetypeBase=usagetype)
                # Each tier is its own product: its price applies to the IOPS in that tier, whatever
                # range the product's price dimension states.
                components.append(
                    at_unit_price(
                        tier_name,
                        "IOPS",
                        quantity * count,
                        price.unit_price if price else None,
                        subresource=subresource,
                    )
                )
    elif kind == "standard":
        requests = None if monthly_io_requests is None else monthly_io_requests * count / ONE_MILLION
        components.append(
            priced(
                "I/O requests",
                "1M request",
                requests,
                lookup(productFamily="System Operation", usagetypeBase="EBS:VolumeIOUsage"),
                usage_based=True,
                unit_scale=ONE_MILLION,
                subresource=subresource,
            )
        )
    return components


def _io2_tier_split(iops: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    first, second = IO2_TIER_LIMITS
    return (
        min(iops, first),
        max(min(iops, second) - first, Decimal(0)),
        max(iops - second, Decimal(0)),
    )


def _per_mibps(price: Price | None) -> Decimal | None:
    """gp3 throughput per MiB/s-month; some offer files quote it per GiB/s-month."""
    if price is None:
        return None
    if price.unit.lower().startswith("gibps"):
        return price.unit_price / MEBIBYTES_PER_GIBIBYTE
    return price.unit_price


@pricer(
    "aws_ebs_volume",
    usage=(UsageKey("monthly_standard_io_requests", FLOAT, "Monthly I/O requests (magnetic volumes)."),),
)
def price_ebs_volume(ctx: PricingContext) -> list[CostComponent]:
    attrs = ctx.attrs
    return volume_components(
        ctx.prices(SERVICE),
        volume_type=attrs.text("type"),
        size_gb=attrs.decimal("size"),
        iops=attrs.decimal("iops"),
        throughput_mibps=attrs.decimal("throughput"),
        monthly_io_requests=ctx.usage.decimal("monthly_standard_io_requests"),
    )


def snapshot_size(ctx: PricingContext) -> Decimal:
    """The snapshot's own size; else its source volume's planned size; else the 8 GB default."""
    size = ctx.attrs.decimal("volume_size")
    if size is None or size <= 0:
        for volume in linked.referred(ctx, "volume_id", "aws_ebs_volume"):
            size = volume.attrs.decimal("size")
    return size if size is not None and size > 0 else DEFAULT_VOLUME_SIZE_GB


_DIRECT_API = "EBS direct API Requests"
# (name, unit, usage key, usage type, group): EBS direct API products are also identified by their
# group alone, which older offers use instead of the usage type.
_DIRECT_API_LINES = (
    (
        "ListChangedBlocks & ListSnapshotBlocks API requests",
        "1k requests",
        "monthly_list_block_requests",
        "EBS:directAPI.snapshot.List",
        "ListChangedBlocks & ListSnapshotBlocks",
    ),
    (
        "GetSnapshotBlock API requests",
        "1k SnapshotAPIUnits",
        "monthly_get_block_requests",
        "EBS:directAPI.snapshot.Get",
        "GetSnapshotBlock",
    ),
    (
        "PutSnapshotBlock API requests",
        "1k SnapshotAPIUnits",
        "monthly_put_block_requests",
        "EBS:directAPI.snapshot.Put",
        "PutSnapshotBlock",
    ),
)
SNAPSHOT_USAGE = (
    UsageKey("fast_snapshot_restore_hours", FLOAT, "Monthly hours of fast snapshot restore (DSU-hours)."),
    UsageKey(
        "monthly_list_block_requests", INTEGER, "Monthly ListChangedBlocks and ListSnapshotBlocks requests."
    ),
    UsageKey("monthly_get_block_requests", INTEGER, "Monthly GetSnapshotBlock requests."),
    UsageKey("monthly_put_block_requests", INTEGER, "Monthly PutSnapshotBlock requests."),
)


@pricer("aws_ebs_snapshot", usage=SNAPSHOT_USAGE)
def price_ebs_snapshot(ctx: PricingContext) -> list[CostComponent]:
    prices, usage = ctx.prices(SERVICE), ctx.usage
    components = [
        priced(
            "EBS snapshot storage",
            "GB",
            snapshot_size(ctx),
            prices.lookup(productFamily="Storage Snapshot", usagetypeBase="EBS:SnapshotUsage"),
        ),
        priced(
            "Fast snapshot restore",
            "DSU-hours",
            usage.decimal("fast_snapshot_restore_hours"),
            prices.lookup(productFamily="Fast Snapshot Restore", usagetypeBase="EBS:FastSnapshotRestore"),
            usage_based=True,
        ),
    ]
    for name, unit, key, usagetype, group in _DIRECT_API_LINES:
        price = prices.lookup(productFamily=_DIRECT_API, usagetypeBase=usagetype) or prices.lookup(
            productFamily=_DIRECT_API, group=group
        )
        requests = usage.decimal(key)
        components.append(
            priced(
                name,
                unit,
                None if requests is None else requests / ONE_THOUSAND,
                price,
                usage_based=True,
                unit_scale=ONE_THOUSAND,
            )
        )
    return components

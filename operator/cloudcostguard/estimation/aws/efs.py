"""aws_efs_file_system: storage per class, infrequent-access traffic and provisioned throughput.

Usage keys (Infracost's): ``storage_gb``, ``infrequent_access_storage_gb``,
``monthly_infrequent_access_read_gb``, ``monthly_infrequent_access_write_gb``.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.kit import FLOAT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.pricing.catalog import Price

SERVICE = "AmazonEFS"

# Bursting throughput included with storage: 50 KiB/s per GiB stored, i.e. 1 MiB/s per 20 GiB; only
# provisioned throughput above it is billed (EFS pricing page).
INCLUDED_GB_PER_MIBPS = Decimal(20)


USAGE = (
    UsageKey("storage_gb", FLOAT, "Data stored in the standard (or one zone) class (GB)."),
    UsageKey("infrequent_access_storage_gb", FLOAT, "Data stored in the infrequent access class (GB)."),
    UsageKey("monthly_infrequent_access_read_gb", FLOAT, "Monthly data read from infrequent access (GB)."),
    UsageKey("monthly_infrequent_access_write_gb", FLOAT, "Monthly data written to infrequent access (GB)."),
)


@pricer("aws_efs_file_system", usage=USAGE)
def price_efs_file_system(ctx: PricingContext) -> list[CostComponent]:
    attrs, usage = ctx.attrs, ctx.usage
    # A One Zone file system names its zone; Regional ones leave it unset (unknown in a plan).
    one_zone = attrs.text("availability_zone_name") is not None
    prices = ctx.prices(SERVICE)

    def storage_price(storage_class: str, usagetype: str) -> Price | None:
        return prices.lookup(productFamily="Storage", storageClass=storage_class, usagetypeBase=usagetype)

    storage_gb = usage.decimal("storage_gb")
    if one_zone:
        storage = priced(
            "Storage (one zone)",
            "GB",
            storage_gb,
            storage_price("One Zone-General Purpose", "TimedStorage-Z-ByteHrs"),
            usage_based=True,
        )
    else:
        storage = priced(
            "Storage (standard)",
            "GB",
            storage_gb,
            storage_price("General Purpose", "TimedStorage-ByteHrs"),
            usage_based=True,
        )
    components = [storage]

    throughput = attrs.decimal("provisioned_throughput_in_mibps")
    if throughput is not None and throughput > 0:
        included = (storage_gb or Decimal(0)) / INCLUDED_GB_PER_MIBPS
        components.append(
            priced(
                "Provisioned throughput",
                "MBps",
                max(throughput - included, Decimal(0)),
                prices.lookup(productFamily="Provisioned Throughput", usagetypeBase="ProvisionedTP-MiBpsHrs"),
                usage_based=True,
            )
        )

    if any(policy.text("transition_to_ia") for policy in attrs.blocks("lifecycle_policy")):
        ia_gb = usage.decimal("infrequent_access_storage_gb")
        if one_zone:
            components.append(
                priced(
                    "Storage (one zone, infrequent access)",
                    "GB",
                    ia_gb,
                    storage_price("One Zone-Infrequent Access", "IATimedStorage-Z-ByteHrs"),
                    usage_based=True,
                )
            )
        else:
            components.append(
                priced(
                    "Storage (standard, infrequent access)",
                    "GB",
                    ia_gb,
                    storage_price("Infrequent Access", "IATimedStorage-ByteHrs"),
                    usage_based=True,
                )
            )
        for name, key, access_type in (
            ("Read requests (infrequent access)", "monthly_infrequent_access_read_gb", "Read"),
            ("Write requests (infrequent access)", "monthly_infrequent_access_write_gb", "Write"),
        ):
            query = {"productFamily": "Storage", "accessType": access_type}
            # Offer files tell IA access from Archive access by storageClass; the bundled snapshot's rows
            # lack it, so ask without it when the precise query finds nothing.
            price = prices.lookup(storageClass="Infrequent Access", **query) or prices.find(query)
            components.append(priced(name, "GB", usage.decimal(key), price, usage_based=True))
    return components

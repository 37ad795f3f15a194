"""aws_data_transfer: data transfer of a region, from usage alone (Infracost's usage-only type).

A usage file entry ``aws_data_transfer.<name>`` with ``region`` adds a resource to the estimate (see
``estimation/usage_only.py``); it has no Terraform counterpart. As Infracost prices it (AWSDataTransfer
offer, family "Data Transfer", products filed under the region the data leaves):

* ``monthly_intra_region_gb``: intra-region transfer, charged on both sides (× 2);
* ``monthly_outbound_internet_gb``: out to the internet in Infracost's buckets (first 10TB, next 40TB,
  next 100TB, over 150TB), priced at the tiers starting at 0, 10,240, 51,200 and 153,600 GB, whole GB;
* ``monthly_outbound_us_east_to_us_east_gb``: to the other US East region (us-east-1 ↔ us-east-2);
* ``monthly_outbound_other_regions_gb``: to another region, priced as Infracost does at the rate to
  us-west-2 from us-east-1 and us-west-1, else to us-west-1 (China regions: to each other).

Each line appears only when its usage key is given. Infracost matches the destination by its display
name (``toLocation``); the offer's ``toRegionCode`` names the same product without the display names.
"""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.aws.usage_tiers import Buckets, bucket_lines
from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.kit import FLOAT, STRING, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer

SERVICE = "AWSDataTransfer"
FAMILY = "Data Transfer"
_INTRA_REGION = {
    "productFamily": FAMILY,
    "transferType": "IntraRegion",
    "usagetypeBase": "DataTransfer-Regional-Bytes",
}
_TO_INTERNET = {"productFamily": FAMILY, "transferType": "AWS Outbound"}
_INTERNET_BUCKETS = Buckets(
    tuple(
        f"Outbound data transfer to Internet ({label})"
        for label in ("first 10TB", "next 40TB", "next 100TB", "over 150TB")
    ),
    (Decimal(10_240), Decimal(40_960), Decimal(102_400)),
    (Decimal(0), Decimal(10_240), Decimal(51_200), Decimal(153_600)),
)
# The destination Infracost prices "other regions" traffic at, by source region (default us-west-1).
_OTHER_REGION = {
    "us-east-1": "us-west-2",
    "us-west-1": "us-west-2",
    "cn-north-1": "cn-northwest-1",
    "cn-northwest-1": "cn-north-1",
}
_BOTH_SIDES = Decimal(2)

USAGE = (
    UsageKey("region", STRING, "The region whose data transfer this entry describes."),
    UsageKey("monthly_intra_region_gb", FLOAT, "Monthly data between availability zones of the region (GB)."),
    UsageKey("monthly_outbound_internet_gb", FLOAT, "Monthly data out to the internet (GB)."),
    UsageKey(
        "monthly_outbound_us_east_to_us_east_gb", FLOAT, "Monthly data to the other US East region (GB)."
    ),
    UsageKey("monthly_outbound_other_regions_gb", FLOAT, "Monthly data to other regions (GB)."),
)


_INTER_REGION = {
    destination: {
        "productFamily": FAMILY,
        "transferType": "InterRegion Outbound",
        "toRegionCode": destination,
    }
    for destination in ("us-east-1", "us-east-2", "us-west-1", "us-west-2", "cn-north-1", "cn-northwest-1")
}


@pricer("aws_data_transfer", usage=USAGE)
def price_data_transfer(ctx: PricingContext) -> list[CostComponent]:
    usage, region = ctx.usage, ctx.region
    prices = ctx.prices(SERVICE)
    components: list[CostComponent] = []
    intra = usage.decimal("monthly_intra_region_gb")
    if intra is not None:
        components.append(
            priced(
                "Intra-region data transfer",
                "GB",
                intra * _BOTH_SIDES,
                prices.find(_INTRA_REGION),
                usage_based=True,
            )
        )
    internet = usage.decimal("monthly_outbound_internet_gb")
    if internet is not None:
        whole_gb = Decimal(int(internet))  # Infracost counts whole GB
        components.extend(bucket_lines(_INTERNET_BUCKETS, "GB", whole_gb, prices.find(_TO_INTERNET)))
    us_east = usage.decimal("monthly_outbound_us_east_to_us_east_gb")
    if us_east is not None:
        destination = "us-east-2" if region == "us-east-1" else "us-east-1"
        components.append(
            priced(
                "Outbound data transfer to US East regions",
                "GB",
                us_east,
                prices.find(_INTER_REGION[destination]),
                usage_based=True,
            )
        )
    other = usage.decimal("monthly_outbound_other_regions_gb")
    if other is not None:
        destination = _OTHER_REGION.get(region, "us-west-1")
        components.append(
            priced(
                "Outbound data transfer to other regions",
                "GB",
                other,
                prices.find(_INTER_REGION[destination]),
                usage_based=True,
            )
        )
    return components

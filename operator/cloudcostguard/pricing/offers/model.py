"""What the offer-file readers produce and the rules deciding what is kept.

Readers yield ``Batch``es of ``ProductRow``s and ``PriceRow``s in whatever order the file holds them;
the loader streams each kind into its own COPY. Rows are plain tuples (cheap to make by the hundred
thousand, and what asyncpg's COPY takes).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from cloudcostguard import errors
from cloudcostguard.pricing.offers.locations import GLOBAL_REGION

# The offer codes whose prices the estimator reads (FORMAT.md §1 and the bundled snapshot). Loading
# is limited to these unless CCG_PRICING_SERVICES names others.
PRICED_SERVICES: frozenset[str] = frozenset(
    {
        "AmazonEC2",
        "AmazonRDS",
        "AmazonS3",
        "AmazonS3GlacierDeepArchive",
        "AWSLambda",
        "AmazonDynamoDB",
        "AmazonVPC",
        "AWSELB",
        "AmazonEKS",
        "AmazonCloudWatch",
        "AmazonEFS",
        "AWSQueueService",
        "AmazonRoute53",
        "AmazonElastiCache",
    }
)

# Attributes not kept: the service and region are columns of their own, and the rest describe the
# hardware or the service level (CPU model, clock, memory, network, instruction sets, durability)
# that no price lookup selects on: the estimator selects instances by instanceType, volumes by
# volumeApiName, and so on. Dropping them shrinks an EC2 product from ~35 attributes to ~11, which is
# what makes a catalog of a hundred thousand products load in seconds. Every other attribute is kept
# under its offer-file name.
DROPPED_ATTRIBUTES: frozenset[str] = frozenset(
    {
        "servicecode",
        "servicename",
        "location",
        "locationType",
        "regionCode",
        "physicalProcessor",
        "clockSpeed",
        "processorFeatures",
        "processorArchitecture",
        "intelAvxAvailable",
        "intelAvx2Available",
        "intelTurboAvailable",
        "dedicatedEbsThroughput",
        "enhancedNetworkingSupported",
        "classicnetworkingsupport",
        "vpcnetworkingsupport",
        "normalizationSizeFactor",
        "instancesku",
        "ecu",
        "networkPerformance",
        "currentGeneration",
        "instanceFamily",
        "vcpu",
        "memory",
        "storage",
        "gpu",
        "gpuMemory",
        "physicalCores",
        "elasticGraphicsType",
        "availabilityzone",
        "maxIopsvolume",
        "maxThroughputvolume",
        "maxVolumeSize",
        "maxIopsBurstPerformance",
        "durability",
        "availability",
        "groupDescription",
    }
)
# Dedicated hosts list how many instances of each size fit: "instanceCapacity10xlarge", …
DROPPED_PREFIXES = ("instanceCapacity",)

# Capacity-reservation accounting rows ($0 "used reservation" and surcharge rows) are never what an
# estimate prices (FORMAT.md §4), and they triple the number of EC2 instance products.
EXCLUDED_CAPACITY_STATUS: frozenset[str] = frozenset(
    {"UnusedCapacityReservation", "AllocatedCapacityReservation"}
)

ON_DEMAND = "OnDemand"
CURRENCY = "USD"


class ProductRow(NamedTuple):
    sku: str
    service: str
    region: str
    product_family: str | None
    attributes: dict[str, str]


class PriceRow(NamedTuple):
    sku: str
    rate_code: str
    unit: str
    usd_per_unit: Decimal
    tier_start: Decimal
    tier_end: Decimal | None


@dataclass(slots=True)
class Batch:
    kind: Literal["products", "prices"]
    rows: list[Any]


@dataclass(slots=True)
class OfferHeader:
    offer_code: str | None = None
    version: str | None = None
    publication_date: str | None = None
    format_version: str | None = None
    file_format: str = "json"


@dataclass(slots=True)
class ReadStats:
    products_seen: int = 0
    products_kept: int = 0
    prices_seen: int = 0
    prices_kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str, count: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + count


@dataclass(frozen=True, slots=True)
class Selection:
    """Which services and regions a load keeps (``Settings.pricing_services`` / ``pricing_regions``)."""

    services: frozenset[str] = PRICED_SERVICES
    regions: frozenset[str] | None = None  # None: every region

    @classmethod
    def from_lists(cls, services: Iterable[str] = (), regions: Iterable[str] = ()) -> Selection:
        service_set = frozenset(s.strip() for s in services if s.strip())
        region_set = frozenset(r.strip() for r in regions if r.strip())
        return cls(services=service_set or PRICED_SERVICES, regions=region_set or None)

    def check_service(self, offer_code: str) -> None:
        if offer_code not in self.services:
            raise errors.OfferFileError(
                f"offer file is for {offer_code}, which is not a priced service "
                f"(loading {', '.join(sorted(self.services))}; set CCG_PRICING_SERVICES to add it)",
                reason="OfferServiceUnknown",
            )

    def keeps_region(self, region: str) -> bool:
        # Global products (Route 53 zones, …) serve every region, so a region filter never drops them.
        return self.regions is None or region in self.regions or region == GLOBAL_REGION


def decimal_or_error(text: object, what: str, where: str) -> Decimal:
    try:
        value = Decimal(text if type(text) is str else str(text))
    except ArithmeticError as err:  # decimal.InvalidOperation
        raise errors.OfferFileError(f"{where}: {what} {text!r} is not a number") from err
    if not value.is_finite():
        raise errors.OfferFileError(f"{where}: {what} {text!r} is not a finite number")
    return value


def tier_end_or_none(text: object, where: str) -> Decimal | None:
    if text in (None, "", "Inf", "inf"):
        return None
    return decimal_or_error(text, "endRange", where)


def keep_attributes(attributes: dict[str, Any], drop: Collection[str] = DROPPED_ATTRIBUTES) -> dict[str, str]:
    """The attributes worth keeping, in place (the caller's dict came from the parser and is its own).

    Empty values are dropped: the CSV variant cannot tell an empty value from a column that does not
    apply to the product, and both formats must load the same rows.
    """
    for key in drop:
        attributes.pop(key, None)
    doomed = [key for key, value in attributes.items() if value == "" or key.startswith(DROPPED_PREFIXES)]
    for key in doomed:
        del attributes[key]
    for key, value in attributes.items():
        if type(value) is not str:
            attributes[key] = str(value)
    return attributes

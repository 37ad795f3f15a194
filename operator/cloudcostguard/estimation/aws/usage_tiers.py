"""Usage split into Infracost's fixed buckets, each bucket priced at one tier of the offer's price.

Infracost prices several usage charges (Route 53 queries, VPC endpoint data, resolver queries) by
cutting the usage into buckets of fixed widths (``CalculateTierBuckets``: first 1B queries, the rest)
and pricing each bucket at the price tier that starts at a given amount (``StartUsageAmount``). The
buckets' widths and the tiers' starts differ in places (a VPC endpoint's "first 1PB" bucket is
1,000,000 GB, its second price tier starts at 1,048,576 GB): both are Infracost's, kept as they are so
the figures match. Without usage only the first bucket is shown, with its price; with usage every
non-empty bucket is. A bucket whose tier the offer lacks has no price (``priceNotFound``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from cloudcostguard.estimation.components import at_unit_price
from cloudcostguard.estimation.kit import ONE
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.pricing.catalog import Price

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Buckets:
    """``labels[i]`` names bucket i; ``widths`` are the sizes of every bucket but the last (open)
    one, in catalog units; ``starts[i]`` is where bucket i's price tier begins, in catalog units."""

    labels: tuple[str, ...]
    widths: tuple[Decimal, ...]
    starts: tuple[Decimal, ...]


def tier_price(price: Price | None, start: Decimal) -> Decimal | None:
    """The unit price of ``price``'s tier beginning at ``start`` (None when there is no such tier)."""
    if price is None:
        return None
    for tier in price.tiers:
        if tier.start == start:
            return tier.unit_price
    return None


def split(quantity: Decimal, widths: Sequence[Decimal]) -> list[Decimal]:
    """``quantity`` cut into consecutive buckets of ``widths``, the remainder in a last bucket."""
    parts = []
    rest = quantity
    for width in widths:
        part = min(rest, width) if rest > 0 else ZERO
        parts.append(part)
        rest -= part
    parts.append(max(rest, ZERO))
    return parts


def bucket_lines(
    buckets: Buckets, unit: str, quantity: Decimal | None, price: Price | None, scale: Decimal = ONE
) -> list[CostComponent]:
    """Usage-based lines for ``quantity`` (catalog units; ``scale`` of them make one ``unit``)."""
    if quantity is None:
        first = tier_price(price, buckets.starts[0])
        shown = None if first is None else first * scale
        return [at_unit_price(buckets.labels[0], unit, None, shown, usage_based=True)]
    lines: list[CostComponent] = []
    for label, start, part in zip(
        buckets.labels, buckets.starts, split(quantity, buckets.widths), strict=True
    ):
        if part > 0 or not lines:
            unit_price = tier_price(price, start)
            shown = None if unit_price is None else unit_price * scale
            lines.append(at_unit_price(label, unit, part / scale, shown, usage_based=True))
    return lines

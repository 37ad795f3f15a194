"""Volume bands as Infracost names them: a usage quantity split into fixed, named bands, each priced
at the catalog tier where the band starts.

Where AWS prices a usage by volume (API Gateway requests, Config rule evaluations, Private CA
certificates, Firehose ingestion), Infracost does not list the catalog's tiers: it splits the
quantity into bands of fixed sizes (``CalculateTierBuckets``), names each band ("Requests (first
333M)", "(next 667M)", …) and prices it at the tier starting where the band starts. Its goldens hold
those names, so we split the same way. A band is listed when it holds some quantity (the first always);
with no usage, the first band alone, at its price.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from cloudcostguard.estimation.components import at_unit_price
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.pricing.catalog import Price

ZERO = Decimal(0)
ONE = Decimal(1)


def split(quantity: Decimal, sizes: Sequence[Decimal]) -> list[Decimal]:
    """``quantity`` over consecutive bands of ``sizes``; the rest falls in one more, open band."""
    amounts = []
    remaining = max(quantity, ZERO)
    for size in sizes:
        taken = min(remaining, size)
        amounts.append(taken)
        remaining -= taken
    amounts.append(remaining)
    return amounts


def rate_at(price: Price | None, start: Decimal) -> Decimal | None:
    """The unit price of ``price``'s tier holding the quantity ``start`` (None without a price)."""
    if price is None:
        return None
    for tier in price.tiers:
        if tier.start <= start and (tier.end is None or start < tier.end):
            return tier.unit_price
    return None


def band_lines(
    labels: Sequence[str],
    sizes: Sequence[Decimal],
    unit: str,
    quantity: Decimal | None,
    price: Price | None,
    *,
    scale: Decimal = ONE,
) -> list[CostComponent]:
    """Usage-based lines for ``quantity`` catalog units (None: no usage) over bands of ``sizes``
    (``len(labels) - 1`` of them), shown in ``unit`` of ``scale`` catalog units each."""
    if quantity is None:
        first = rate_at(price, ZERO)
        return [
            at_unit_price(labels[0], unit, None, None if first is None else first * scale, usage_based=True)
        ]
    lines = []
    start = ZERO
    for position, amount in enumerate(split(quantity, sizes)):
        if position == 0 or amount > 0:
            rate = rate_at(price, start)
            lines.append(
                at_unit_price(
                    labels[position],
                    unit,
                    amount / scale,
                    None if rate is None else rate * scale,
                    usage_based=True,
                )
            )
        if position < len(sizes):
            start += sizes[position]
    return lines


def over_free_allowance(
    name: str,
    unit: str,
    quantity: Decimal | None,
    price: Price | None,
    *,
    allowance: Decimal,
    scale: Decimal,
) -> CostComponent:
    """The part of ``quantity`` (catalog units; None: no usage) above a free ``allowance``, priced at
    the tier that starts there (SNS: "API requests (over 1M)")."""
    rate = rate_at(price, allowance)
    shown = None if quantity is None else max(quantity - allowance, ZERO) / scale
    return at_unit_price(name, unit, shown, None if rate is None else rate * scale, usage_based=True)

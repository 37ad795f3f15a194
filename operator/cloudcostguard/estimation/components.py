"""Builders for cost components, so pricers say what they price, not how a component is assembled."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.performance import new_tuple as _new
from cloudcostguard.pricing.catalog import Price


def priced(
    name: str,
    unit: str,
    monthly_quantity: Decimal | None,
    price: Price | None,
    *,
    usage_based: bool = False,
    unit_scale: Decimal = Decimal(1),
    subresource: str | None = None,
) -> CostComponent:
    """A component of ``monthly_quantity`` units at the catalog's ``price``.

    ``monthly_quantity`` None means usage-based with no usage given: no cost, flagged. ``unit_scale``
    is how many catalog units make one displayed unit (``1M requests`` → 1,000,000), so quantities
    and prices read the way people quote them; tiers still apply to the catalog's units.
    """
    if price is None:
        return _new(CostComponent, (name, unit, monthly_quantity, None, None, usage_based, True, subresource))
    display_price = price.unit_price * unit_scale
    if monthly_quantity is None:
        return _new(CostComponent, (name, unit, None, display_price, None, True, False, subresource))
    cost = price.cost_for(monthly_quantity * unit_scale)
    return _new(
        CostComponent, (name, unit, monthly_quantity, display_price, cost, usage_based, False, subresource)
    )


def at_unit_price(
    name: str,
    unit: str,
    monthly_quantity: Decimal | None,
    unit_price: Decimal | None,
    *,
    usage_based: bool = False,
    subresource: str | None = None,
) -> CostComponent:
    """A component with an already-resolved unit price (one tier of a tiered price, a derived rate)."""
    if unit_price is None:
        return _new(CostComponent, (name, unit, monthly_quantity, None, None, usage_based, True, subresource))
    if monthly_quantity is None:
        return _new(CostComponent, (name, unit, None, unit_price, None, True, False, subresource))
    cost = monthly_quantity * unit_price
    return _new(
        CostComponent, (name, unit, monthly_quantity, unit_price, cost, usage_based, False, subresource)
    )

"""The pricer kit: bound price lookups, declarative component shapes and usage-key declarations.

How to add a resource type is written down in ``estimation/aws/README.md``. In short, a pricer is
either a table entry (``table_pricer``: a service and a few component shapes) or a function
(``@pricer("aws_x", usage=...)``) that reads attributes and returns cost components, using
``ctx.prices(SERVICE)`` for lookups bound to the service and the resource's region.

Shapes, for the components most AWS prices have:

* ``Hourly``: a charge for every hour of the month (``hours`` × the hourly price), e.g. a NAT gateway;
* ``Monthly``: a fixed quantity a month (a hosted zone: 1 month);
* ``PerUnit``: a quantity read from an attribute (GB of ``allocated_storage``, shards, nodes);
* ``UsageBased``: a quantity read from a usage key (GB processed, requests), no cost without usage;
* ``TieredUsage``: a usage quantity split over the price's volume tiers, one line per tier.

Every shape is a frozen value built once, at import; pricing a resource asks the catalog (one memoised
dict access per query) and builds the component: no per-resource dict copies or closures.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Protocol

from cloudcostguard.estimation.components import at_unit_price, priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.pricing.catalog import Price, PriceCatalog, PriceTier

if TYPE_CHECKING:
    from cloudcostguard.estimation.registry import PricingContext

ONE = Decimal(1)
THOUSAND = Decimal(1000)
MILLION = Decimal(1_000_000)
BILLION = Decimal(1_000_000_000)

# Usage value kinds, as Infracost's usage schema names them.
FLOAT, INTEGER, STRING, OBJECT = "float", "int", "string", "object"


@dataclass(frozen=True, slots=True)
class UsageKey:
    """One key a pricer reads from a resource's usage: its name, kind and what it means.

    ``keys`` are the nested keys of an ``object`` (S3's per-storage-class mappings).
    """

    name: str
    kind: str
    meaning: str
    keys: tuple[UsageKey, ...] = ()


class Prices:
    """Lookups bound to one service and region (``ctx.prices(SERVICE)``), with component builders.

    ``query`` arguments are the offer files' product attributes (``productFamily``, ``usagetypeBase``,
    ``instanceType``, ...), passed as a mapping so that no attribute name can clash with an option.
    """

    __slots__ = ("hours", "lookup", "region", "service")

    lookup: Callable[..., Price | None]
    """``lookup(**attributes)``: the catalog's lookup with service and region bound. A C-level
    ``partial`` passes the keywords straight through: a Python method in between would cost as much as
    the (memoised) lookup itself."""

    def __init__(self, catalog: PriceCatalog, service: str, region: str, hours: Decimal) -> None:
        self.service = service
        self.region = region
        self.hours = hours
        self.lookup = partial(catalog.lookup, service, region)

    def find(self, query: Mapping[str, str]) -> Price | None:
        return self.lookup(**query)

    def hourly(
        self,
        name: str,
        query: Mapping[str, str],
        *,
        count: Decimal = ONE,
        unit: str = "hours",
        subresource: str | None = None,
    ) -> CostComponent:
        """``count`` × every hour of the month at the hourly price."""
        return priced(name, unit, self.hours * count, self.find(query), subresource=subresource)

    def quantity(
        self,
        name: str,
        unit: str,
        quantity: Decimal | None,
        query: Mapping[str, str],
        *,
        scale: Decimal = ONE,
        subresource: str | None = None,
    ) -> CostComponent:
        """A known quantity (from attributes) of ``unit``; ``scale`` catalog units make one ``unit``."""
        return priced(name, unit, quantity, self.find(query), unit_scale=scale, subresource=subresource)

    def usage(
        self,
        name: str,
        unit: str,
        quantity: Decimal | None,
        query: Mapping[str, str],
        *,
        scale: Decimal = ONE,
        subresource: str | None = None,
    ) -> CostComponent:
        """A usage-based quantity (None: no usage given) of ``unit``, in catalog units × ``scale``."""
        if quantity is not None and scale is not ONE:
            quantity = quantity / scale
        return priced(
            name,
            unit,
            quantity,
            self.find(query),
            usage_based=True,
            unit_scale=scale,
            subresource=subresource,
        )


class Shape(Protocol):
    """A declarative component: builds its cost component for one side of one resource."""

    def component(self, ctx: PricingContext, prices: Prices) -> CostComponent | None: ...


@dataclass(frozen=True, slots=True)
class Hourly:
    name: str
    query: Mapping[str, str]
    unit: str = "hours"

    def component(self, ctx: PricingContext, prices: Prices) -> CostComponent:
        return priced(self.name, self.unit, prices.hours, prices.find(self.query))


@dataclass(frozen=True, slots=True)
class Monthly:
    """A fixed ``quantity`` of ``unit`` a month (a hosted zone: 1 month)."""

    name: str
    query: Mapping[str, str]
    quantity: Decimal = ONE
    unit: str = "months"

    def component(self, ctx: PricingContext, prices: Prices) -> CostComponent:
        return priced(self.name, self.unit, self.quantity, prices.find(self.query))


@dataclass(frozen=True, slots=True)
class PerUnit:
    """A quantity from a numeric attribute (``default`` when unset, unknown or not positive)."""

    name: str
    unit: str
    attribute: str
    query: Mapping[str, str]
    default: Decimal | None = None
    scale: Decimal = ONE

    def component(self, ctx: PricingContext, prices: Prices) -> CostComponent | None:
        quantity = ctx.attrs.decimal(self.attribute)
        if quantity is None or quantity <= 0:
            quantity = self.default
        if quantity is None:
            return None
        if self.scale is not ONE:
            quantity = quantity / self.scale
        return priced(self.name, self.unit, quantity, prices.find(self.query), unit_scale=self.scale)


@dataclass(frozen=True, slots=True)
class UsageBased:
    """A quantity from the usage key ``key``; ``scale`` catalog units make one displayed ``unit``
    (``1M requests``: scale one million, the usage value is in requests)."""

    name: str
    unit: str
    key: str
    query: Mapping[str, str]
    scale: Decimal = ONE

    def component(self, ctx: PricingContext, prices: Prices) -> CostComponent:
        return prices.usage(self.name, self.unit, ctx.usage.decimal(self.key), self.query, scale=self.scale)


@dataclass(frozen=True, slots=True)
class TieredUsage:
    """A usage quantity over the price's volume tiers: one line per tier, named ``labels[i]``.

    Without usage every tier is listed with its price (what Infracost's goldens show); with usage the
    first tier always and the others where the quantity reaches them. A missing price gives the first
    label without a price.
    """

    labels: tuple[str, ...]
    unit: str
    key: str
    query: Mapping[str, str]
    scale: Decimal = ONE

    def component(self, ctx: PricingContext, prices: Prices) -> CostComponent | None:
        raise TypeError("TieredUsage gives several components: use components()")

    def components(self, ctx: PricingContext, prices: Prices) -> list[CostComponent]:
        return tier_lines(
            self.labels, self.unit, ctx.usage.decimal(self.key), prices.find(self.query), self.scale
        )


def tier_lines(
    labels: Sequence[str] | Callable[[PriceTier, Price], str],
    unit: str,
    quantity: Decimal | None,
    price: Price | None,
    scale: Decimal = ONE,
) -> list[CostComponent]:
    """Usage-based lines, one per tier of ``price``: ``quantity`` (in catalog units, ``scale`` of them
    per displayed ``unit``) split over the tiers. ``labels`` names tiers by position or from the
    tier's bounds."""

    def label(position: int, tier: PriceTier, found: Price) -> str:
        if callable(labels):
            return labels(tier, found)
        return labels[min(position, len(labels) - 1)]

    if price is None:
        first = labels[0] if not callable(labels) else "Usage"
        shown = None if quantity is None else quantity / scale
        return [at_unit_price(first, unit, shown, None, usage_based=True)]
    if quantity is None:
        return [
            at_unit_price(label(i, tier, price), unit, None, tier.unit_price * scale, usage_based=True)
            for i, tier in enumerate(price.tiers)
        ]
    lines = []
    for i, (tier, in_tier) in enumerate(price.tier_quantities(quantity)):
        if i == 0 or in_tier > 0:
            lines.append(
                at_unit_price(
                    label(i, tier, price), unit, in_tier / scale, tier.unit_price * scale, usage_based=True
                )
            )
    return lines


@dataclass(frozen=True, slots=True)
class TablePricer:
    """A pricer stated as data: every shape priced against one service (and, for global services
    such as Route 53, one fixed region)."""

    service: str
    shapes: tuple[Shape | TieredUsage, ...]
    region: str | None = None

    def __call__(self, ctx: PricingContext) -> list[CostComponent]:
        prices = ctx.prices(self.service, self.region)
        components: list[CostComponent] = []
        for shape in self.shapes:
            if isinstance(shape, TieredUsage):
                components.extend(shape.components(ctx, prices))
                continue
            component = shape.component(ctx, prices)
            if component is not None:
                components.append(component)
        return components

"""Values the estimator produces: cost components, per-resource costs and the whole estimate."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Any, NamedTuple

ZERO = Decimal(0)
CENT = Decimal("0.01")
HOURS_PER_MONTH = Decimal(730)
_HOURLY_STEP = Decimal("0.0000000001")
# How nested sub-resources are written in ``CostComponent.subresource`` (Infracost's tree; the renderers
# split on it): "aws_launch_template.lt › block_device_mapping[0]".
SUBRESOURCE_SEPARATOR = " › "


# Wide enough for any amount below 10^24 rounded to 10^-4 (the estimator bounds its inputs far lower);
# wider numbers get a context of their own. Built once: a Context per call shows in large plans' output.
_ROUNDING = Context(prec=28, rounding=ROUND_HALF_UP)
_EXACT = Context(prec=100)


def round_half_up(value: Decimal, step: Decimal = CENT) -> Decimal:
    """``value`` rounded half-up to ``step``, never "-0.00".

    The context is as wide as the number needs: a too narrow one would make quantize() fail on a
    large amount instead of rounding it.
    """
    digits = value.adjusted() - step.adjusted() + 2
    context = _ROUNDING if digits <= 28 else Context(prec=digits, rounding=ROUND_HALF_UP)
    rounded = value.quantize(step, context=context)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def money(value: Decimal | None) -> str | None:
    """Render money: two decimals, half-up; None stays None (the contract's decimal strings)."""
    if value is None:
        return None
    return str(round_half_up(value))


def number(value: Decimal | None) -> str | None:
    """Render a quantity or unit price exactly, without exponent or trailing zeros."""
    if value is None:
        return None
    if value.is_zero():
        return "0"
    # 100 digits keep every number exact: inputs are at most 100 characters, products carry 28 digits.
    return format(value.normalize(_EXACT), "f")


class CostComponent(NamedTuple):
    """One priced line of a resource: ``monthly_quantity`` × ``price`` = ``monthly_cost``.

    ``monthly_quantity`` is None for usage-based lines with no usage given (no cost, flagged
    ``usage_based``); ``price`` is None when the catalog has no price (``price_not_found``).

    A named tuple, not a frozen dataclass: immutable all the same (the memo shares components between
    resources), and the builders in ``components`` make one with ``tuple.__new__`` in C — 0.17 µs
    against 0.52 µs for the dataclass's ``__init__``, on the ~1,000 components of a 500-resource plan.
    ``_replace`` makes a changed copy.
    """

    name: str
    unit: str
    monthly_quantity: Decimal | None
    price: Decimal | None
    monthly_cost: Decimal | None
    usage_based: bool = False
    price_not_found: bool = False
    subresource: str | None = None  # e.g. "root_block_device", "ebs_block_device[0]"

    def to_dict(self) -> dict[str, Any]:
        document = {
            "name": self.name,
            "unit": self.unit,
            "monthlyQuantity": number(self.monthly_quantity),
            "price": number(self.price),
            "monthlyCost": money(self.monthly_cost),
            "usageBased": self.usage_based,
            "priceNotFound": self.price_not_found,
        }
        if self.subresource is not None:
            document["subresource"] = self.subresource
        return document


def components_cost(components: list[CostComponent]) -> Decimal:
    total = ZERO
    for component in components:
        if component.monthly_cost is not None:
            total += component.monthly_cost
    return total


# What the estimator knows about a resource type.
PRICED, FREE, UNSUPPORTED = "priced", "free", "unsupported"
# The actions (plan.model's names) that bring a new resource into being.
ADDING_ACTIONS = frozenset({"create", "replace"})


@dataclass(slots=True)
class ResourceCost:
    address: str
    resource_type: str
    action: str
    region: str
    support: str  # PRICED | FREE | UNSUPPORTED
    components: list[CostComponent] = field(default_factory=list)  # the `after` side
    past_components: list[CostComponent] = field(default_factory=list)  # the `before` side
    monthly_cost: Decimal = ZERO
    past_monthly_cost: Decimal = ZERO

    @property
    def diff_monthly_cost(self) -> Decimal:
        return self.monthly_cost - self.past_monthly_cost

    @property
    def usage_based(self) -> bool:
        return any(c.usage_based for c in self.components or self.past_components)

    @property
    def price_not_found(self) -> bool:
        return any(c.price_not_found for c in self.components or self.past_components)

    def missing_price_names(self, *, past: bool = False) -> list[str]:
        """Names of the components of one side (``after``, or ``before`` with ``past``) whose cost the
        totals miss for want of a price: a usage-based line with no usage given costs nothing priced or
        not, so it is not among them."""
        side = self.past_components if past else self.components
        return list(
            dict.fromkeys(c.name for c in side if c.price_not_found and c.monthly_quantity is not None)
        )

    @property
    def adds_unpriced(self) -> bool:
        """Whether this change brings cost the totals cannot hold: it creates (or replaces) a resource of
        an unsupported type or with a component we have no price for, or it updates a resource so that
        a component gets no price it had before. Unchanged and deleted resources never do: they were
        there already (a budget, like a ResourceQuota, judges what a change adds)."""
        if self.action in ADDING_ACTIONS:
            return self.support == UNSUPPORTED or bool(self.missing_price_names())
        if self.action == "update" and self.support == PRICED:
            before = set(self.missing_price_names(past=True))
            return any(name not in before for name in self.missing_price_names())
        return False

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.address,
            "resourceType": self.resource_type,
            "action": self.action,
            "region": self.region,
            "support": self.support,
            "monthlyCost": money(self.monthly_cost),
            "pastMonthlyCost": money(self.past_monthly_cost),
            "diffMonthlyCost": money(self.diff_monthly_cost),
            "costComponents": [c.to_dict() for c in self.components],
        }
        if self.past_components:
            document["pastCostComponents"] = [c.to_dict() for c in self.past_components]
        return document


# Coverage classes: every resource of an estimate is in exactly one.
COVERAGE_CLASSES = ("priced", "free", "unsupported", "priceNotFound")


@dataclass(frozen=True, slots=True)
class Coverage:
    """What an estimate could price, by resource address (plan order).

    ``priced``: a pricer, and every component of both sides has a price; ``price_not_found``: a pricer,
    but at least one component has no price (its cost is missing from the totals); ``free``: known to
    cost nothing; ``unsupported``: no pricer (not in the totals). A budget that only sees the totals
    misses what ``unpriced`` lists.
    """

    priced: list[str]
    free: list[str]
    unsupported: list[str]
    price_not_found: list[str]
    # address → names of its components without a price (both sides), for messages
    missing_prices: dict[str, list[str]]

    @property
    def unpriced(self) -> list[str]:
        """Addresses whose cost the totals do not hold, in whole or in part."""
        return [*self.unsupported, *self.price_not_found]

    @property
    def complete(self) -> bool:
        return not self.unsupported and not self.price_not_found

    def to_dict(self) -> dict[str, Any]:
        classes = zip(
            COVERAGE_CLASSES, (self.priced, self.free, self.unsupported, self.price_not_found), strict=True
        )
        document: dict[str, Any] = {
            name: {"count": len(found), "addresses": found} for name, found in classes
        }
        document["priceNotFound"]["components"] = self.missing_prices
        return document


@dataclass(slots=True)
class Estimate:
    resources: list[ResourceCost]
    pricing_source: str
    pricing_version: str
    plan_digest: str = ""
    currency: str = "USD"
    hours_per_month: Decimal = HOURS_PER_MONTH
    as_of: date | None = None  # the day prices applied on (support calendars)
    # Problems worth a word that do not stop the estimate: usage keys no pricer reads (typos).
    warnings: list[str] = field(default_factory=list)
    # When AWS published the catalog's prices (ISO date or timestamp), when the catalog says.
    pricing_published_at: str | None = None
    # The regions the catalog holds any price for (None: not known), so that a hint can tell a region
    # the catalog lacks from a product it lacks.
    pricing_regions: frozenset[str] | None = None
    total_monthly_cost: Decimal = ZERO
    past_total_monthly_cost: Decimal = ZERO
    # The resources by cost, made on first use: the webhook asks for the top drivers several times
    # per decision (messages, warnings), and a remembered estimate answers many decisions.
    _ranked: list[ResourceCost] | None = field(default=None, init=False, repr=False, compare=False)
    # The unpriced additions, made on first use: every policy of every decision asks (see ``_ranked``).
    _unpriced: list[ResourceCost] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.total_monthly_cost = sum((r.monthly_cost for r in self.resources), ZERO)
        self.past_total_monthly_cost = sum((r.past_monthly_cost for r in self.resources), ZERO)

    @property
    def diff_total_monthly_cost(self) -> Decimal:
        return self.total_monthly_cost - self.past_total_monthly_cost

    @property
    def total_hourly_cost(self) -> Decimal:
        return self.total_monthly_cost / self.hours_per_month

    def no_price_components_by_region(self) -> dict[str, int]:
        """Components that have no price in the catalog, counted by the region they were looked up in."""
        counts: dict[str, int] = {}
        for resource in self.resources:
            if resource.support != PRICED:
                continue
            for component in (*resource.components, *resource.past_components):
                if component.price_not_found:
                    counts[resource.region] = counts.get(resource.region, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def incomplete(self) -> bool:
        """True when some component has no price: the totals are lower bounds, not the bill."""
        return any(r.price_not_found for r in self.resources if r.support == PRICED)

    def unsupported_resource_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for resource in self.resources:
            if resource.support == UNSUPPORTED:
                counts[resource.resource_type] = counts.get(resource.resource_type, 0) + 1
        return dict(sorted(counts.items()))

    def summary(self) -> dict[str, Any]:
        supported = [r for r in self.resources if r.support == PRICED]
        unsupported = self.unsupported_resource_counts()
        return {
            "totalDetectedResources": len(self.resources),
            "totalSupportedResources": len(supported),
            "totalFreeResources": sum(1 for r in self.resources if r.support == FREE),
            "totalUnsupportedResources": sum(unsupported.values()),
            "unsupportedResourceCounts": unsupported,
            "totalUsageBasedResources": sum(1 for r in supported if r.usage_based),
            "totalNoPriceResources": sum(1 for r in supported if r.price_not_found),
            "totalNoPriceComponents": sum(self.no_price_components_by_region().values()),
            "incomplete": self.incomplete,
        }

    def coverage(self) -> Coverage:
        priced: list[str] = []
        free: list[str] = []
        unsupported: list[str] = []
        not_found: list[str] = []
        missing: dict[str, list[str]] = {}
        for resource in self.resources:
            if resource.support == FREE:
                free.append(resource.address)
            elif resource.support == UNSUPPORTED:
                unsupported.append(resource.address)
            else:
                names = [
                    c.name for c in (*resource.components, *resource.past_components) if c.price_not_found
                ]
                if names:
                    not_found.append(resource.address)
                    missing[resource.address] = list(dict.fromkeys(names))
                else:
                    priced.append(resource.address)
        return Coverage(priced, free, unsupported, not_found, missing)

    def unpriced_additions(self) -> list[ResourceCost]:
        """The resources this change adds that we cannot price (``ResourceCost.adds_unpriced``), in plan
        order: what ``CostPolicy.spec.unpriced`` judges."""
        unpriced = self._unpriced
        if unpriced is None:
            unpriced = self._unpriced = [resource for resource in self.resources if resource.adds_unpriced]
        return list(unpriced)

    def top_resources(self, limit: int = 20) -> list[ResourceCost]:
        """The biggest cost drivers: by monthly cost, then by the size of their change."""
        ranked = self._ranked
        if ranked is None:
            ranked = self._ranked = sorted(
                self.resources,
                key=lambda r: (-r.monthly_cost, -abs(r.diff_monthly_cost), r.address),
            )
        return ranked[:limit]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": "0.2",
            "currency": self.currency,
            "totalMonthlyCost": money(self.total_monthly_cost),
            "pastTotalMonthlyCost": money(self.past_total_monthly_cost),
            "diffTotalMonthlyCost": money(self.diff_total_monthly_cost),
            "totalHourlyCost": number(round_half_up(self.total_hourly_cost, _HOURLY_STEP)),
            "pricing": {
                "source": self.pricing_source,
                "version": self.pricing_version,
                "asOf": self.as_of.isoformat() if self.as_of else None,
                "publishedAt": self.pricing_published_at,
            },
            "planDigest": self.plan_digest,
            "resources": [r.to_dict() for r in self.resources],
            "summary": self.summary(),
            "coverage": self.coverage().to_dict(),
            **({"warnings": self.warnings} if self.warnings else {}),
        }

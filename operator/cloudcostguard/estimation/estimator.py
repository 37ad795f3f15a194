"""The pure estimator: a read plan + a price catalog + usage → an ``Estimate``. No I/O happens here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, cast

from cloudcostguard import errors
from cloudcostguard.estimation import memo
from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.kit import Prices
from cloudcostguard.estimation.model import (
    FREE,
    HOURS_PER_MONTH,
    PRICED,
    UNSUPPORTED,
    ZERO,
    CostComponent,
    Estimate,
    ResourceCost,
    components_cost,
)
from cloudcostguard.estimation.registry import (
    FREE_RESOURCE_TYPES,
    PRICERS,
    USAGE_KEYS,
    Pricer,
    PricingContext,
    load_pricers,
)
from cloudcostguard.estimation.usage import ResourceUsage, Usage
from cloudcostguard.estimation.usage_only import usage_only_changes
from cloudcostguard.performance import new_tuple as _new
from cloudcostguard.performance import paused_gc
from cloudcostguard.plan.model import PRICES_AFTER, PRICES_BEFORE, UNCHANGED, Plan, ResourceChange
from cloudcostguard.plan.references import PlanReferences
from cloudcostguard.plan.regions import strip_indexes
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceCatalog

# What a pricer may raise on attribute shapes nobody anticipated; reported as a plan problem naming the
# resource, so one odd resource gives a clear error instead of a traceback.
_SHAPE_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    ArithmeticError,
    IndexError,
    RecursionError,
)


def estimate_plan(
    plan: Plan,
    catalog: PriceCatalog,
    usage: Usage | None = None,
    *,
    hours_per_month: Decimal = HOURS_PER_MONTH,
    as_of: date | None = None,
    memoise: bool = True,
) -> Estimate:
    """Price every resource change; ``memoise=False`` prices every side afresh (see ``memo``)."""
    if not hours_per_month > 0:
        raise errors.ConfigurationError(f"hours per month must be positive, not {hours_per_month}")
    usage = usage if usage is not None else Usage()
    as_of = as_of if as_of is not None else datetime.now(UTC).date()
    references = plan.references
    side_memo = memo.memo_for(catalog, hours_per_month, as_of, references is not None) if memoise else None
    changes = plan.resource_changes
    # Per (type, region), as the memo keeps its schemas: counted in C.
    side_counts = Counter(map(_TYPE_AND_REGION, changes))
    # The pricers of the types met, the usage file's too (its usage-only types and unknown keys).
    load_pricers({resource_type for resource_type, _ in side_counts} | usage.resource_types())
    # What the memo may record from this plan's own repeats: none in small plans (see memo).
    in_plan_counts = side_counts if len(changes) >= memo.RECORD_IN_PLAN_FROM else {}
    pricing = _Pricing(
        catalog=catalog,
        usage=usage,
        hours_per_month=hours_per_month,
        references=references,
        as_of=as_of,
        side_memo=side_memo,
        side_counts=in_plan_counts,
    )
    with paused_gc():
        resources = [pricing.resource(change) for change in changes]
        # Usage-only types (aws_data_transfer): resources a usage file adds to the plan.
        resources.extend(pricing.resource(change) for change in usage_only_changes(plan, usage))
    if side_memo is not None:
        side_memo.note_sides(side_counts)
    return Estimate(
        resources=resources,
        pricing_source=catalog.source,
        pricing_version=catalog.version,
        plan_digest=plan.plan_digest,
        hours_per_month=hours_per_month,
        as_of=as_of,
        warnings=usage.unknown_keys(USAGE_KEYS) if usage else [],
        # Not part of the PriceCatalog protocol: catalogs that know their publication date carry it.
        pricing_published_at=getattr(catalog, "published_at", None),
        pricing_regions=catalog.covered_regions() if isinstance(catalog, InMemoryCatalog) else None,
    )


class _Pricing:
    """What stays the same for every resource of one estimate."""

    __slots__ = ("as_of", "bound", "catalog", "hours_per_month", "memo", "references", "side_counts", "usage")

    def __init__(
        self,
        *,
        catalog: PriceCatalog,
        usage: Usage,
        hours_per_month: Decimal,
        references: PlanReferences | None,
        as_of: date,
        side_memo: memo.SideMemo | None,
        side_counts: Mapping[tuple[str, str], int],
    ) -> None:
        self.catalog = catalog
        self.usage = usage
        self.hours_per_month = hours_per_month
        self.references = references
        self.as_of = as_of
        self.memo = side_memo
        self.side_counts = side_counts
        self.bound: dict[tuple[str, str], Prices] = {}  # the contexts' shared Prices (PricingContext.bound)

    def resource(self, change: ResourceChange) -> ResourceCost:
        # Positional arguments throughout: this runs once per resource of plans with thousands of them.
        resource_type = change.resource_type
        pricer = PRICERS.get(resource_type)
        if pricer is None:
            support = FREE if resource_type in FREE_RESOURCE_TYPES else UNSUPPORTED
            return ResourceCost(change.address, resource_type, change.action, change.region, support, [], [])
        address = change.address
        resource_usage = self.usage.for_resource(address, resource_type)
        action = change.action
        after: list[CostComponent] = []
        before: list[CostComponent] = []
        after_cost = before_cost = ZERO
        if action in PRICES_AFTER:
            after, after_cost = self.side(
                pricer,
                address,
                resource_type,
                change.region,
                change.after,
                change.after_unknown,
                resource_usage,
            )
        if action in UNCHANGED:
            # Unchanged: the same cost on both sides, priced once; the output lists the components once.
            before_cost = after_cost
        elif action in PRICES_BEFORE:
            before, before_cost = self.side(
                pricer, address, resource_type, change.before_region, change.before, None, resource_usage
            )
        return ResourceCost(
            address, resource_type, action, change.region, PRICED, after, before, after_cost, before_cost
        )

    def side(  # noqa: PLR0917 - positional: runs once per priced side
        self,
        pricer: Pricer,
        address: str,
        resource_type: str,
        region: str,
        values: dict[str, Any] | None,
        unknown: dict[str, Any] | None,
        resource_usage: ResourceUsage,
    ) -> tuple[list[CostComponent], Decimal]:
        side_memo = self.memo
        plan = (
            memo.PLAIN
            if side_memo is None
            else side_memo.plan_side(resource_type, region, self.side_counts.get((resource_type, region), 0))
        )
        if plan == memo.PLAIN or side_memo is None:
            components = _price_side(
                pricer,
                self.context(address, resource_type, region, Attributes(values, unknown), resource_usage),
            )
            return components, components_cost(components)
        references = self.references
        if plan == memo.LOOKUP:
            found = side_memo.lookup(
                resource_type, region, address, values, unknown, resource_usage, references
            )
            if found is not None:
                return list(found[0]), found[1]
        reads = memo.Reads()
        context = self.context(
            address,
            resource_type,
            region,
            memo.RecordingAttributes(values, unknown, reads),
            memo.RecordingUsage(resource_usage, reads),
            reads,
        )
        components = _price_side(pricer, context)
        priced = (components, components_cost(components))
        side_memo.store(
            resource_type, region, address, reads, values, unknown, resource_usage, references, priced
        )
        return list(components), priced[1]

    def context(  # noqa: PLR0917 - positional: runs once per priced side
        self,
        address: str,
        resource_type: str,
        region: str,
        attrs: Attributes,
        resource_usage: ResourceUsage,
        reads: memo.Reads | None = None,
    ) -> PricingContext:
        references = self.references
        usage_of: Callable[[str, str], ResourceUsage] = self.usage.for_resource
        if reads is not None:
            if references is not None:
                recording = memo.RecordingReferences(references, reads, strip_indexes(address))
                references = cast("PlanReferences", recording)
            usage_of = memo.recording_usage_of(usage_of, reads)
        return _new(
            PricingContext,
            (
                address,
                resource_type,
                region,
                attrs,
                resource_usage,
                self.catalog,
                self.hours_per_month,
                references,
                self.as_of,
                usage_of,
                self.bound,
            ),
        )


_TYPE_AND_REGION = attrgetter("resource_type", "region")


def _price_side(pricer: Pricer, context: PricingContext) -> list[CostComponent]:
    try:
        return pricer(context)
    except _SHAPE_ERRORS as err:
        raise errors.PlanError(
            f"{context.address}: cannot price its attributes ({type(err).__name__}: {str(err)[:120]})"
        ) from err

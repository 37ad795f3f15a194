"""The pure estimator: a read plan + a price catalog + usage → an ``Estimate``. No I/O happens here."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, date, datetime
from decimal import Decimal

from cloudcostguard import errors
from cloudcostguard.estimation import aws
from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.model import (
    FREE,
    HOURS_PER_MONTH,
    PRICED,
    UNSUPPORTED,
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
)
from cloudcostguard.estimation.usage import Usage
from cloudcostguard.estimation.usage_only import usage_only_changes
from cloudcostguard.performance import paused_gc
from cloudcostguard.plan.model import PRICES_AFTER, PRICES_BEFORE, UNCHANGED, Plan, ResourceChange
from cloudcostguard.plan.references import PlanReferences
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceCatalog

# Importing every module of the aws package registers its pricers.
for _module in pkgutil.iter_modules(aws.__path__):
    importlib.import_module(f"{aws.__name__}.{_module.name}")

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
) -> Estimate:
    if not hours_per_month > 0:
        raise errors.ConfigurationError(f"hours per month must be positive, not {hours_per_month}")
    usage = usage if usage is not None else Usage()
    as_of = as_of if as_of is not None else datetime.now(UTC).date()
    with paused_gc():
        resources = [
            _estimate_resource(change, catalog, usage, hours_per_month, plan.references, as_of=as_of)
            for change in plan.resource_changes
        ]
        # Usage-only types (aws_data_transfer): resources a usage file adds to the plan.
        resources.extend(
            _estimate_resource(change, catalog, usage, hours_per_month, plan.references, as_of=as_of)
            for change in usage_only_changes(plan, usage)
        )
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


def _estimate_resource(
    change: ResourceChange,
    catalog: PriceCatalog,
    usage: Usage,
    hours_per_month: Decimal,
    references: PlanReferences | None,
    *,
    as_of: date,
) -> ResourceCost:
    # Positional arguments throughout: this runs once per resource of plans with thousands of them.
    resource_type = change.resource_type
    pricer = PRICERS.get(resource_type)
    if pricer is None:
        support = FREE if resource_type in FREE_RESOURCE_TYPES else UNSUPPORTED
        return ResourceCost(change.address, resource_type, change.action, change.region, support, [], [])
    address = change.address
    resource_usage = usage.for_resource(address, resource_type)
    action = change.action
    after: list[CostComponent] = []
    before: list[CostComponent] = []
    if action in PRICES_AFTER:
        after = _price_side(
            pricer,
            PricingContext(
                address,
                resource_type,
                change.region,
                Attributes(change.after, change.after_unknown),
                resource_usage,
                catalog,
                hours_per_month,
                references=references,
                as_of=as_of,
                usage_of=usage.for_resource,
            ),
        )
    after_cost = components_cost(after)
    if action in UNCHANGED:
        # Unchanged: the same cost on both sides, priced once; the output lists the components once.
        before_cost = after_cost
    else:
        if action in PRICES_BEFORE:
            before = _price_side(
                pricer,
                PricingContext(
                    address,
                    resource_type,
                    change.before_region,
                    Attributes(change.before),
                    resource_usage,
                    catalog,
                    hours_per_month,
                    references=references,
                    as_of=as_of,
                    usage_of=usage.for_resource,
                ),
            )
        before_cost = components_cost(before)
    return ResourceCost(
        address, resource_type, action, change.region, PRICED, after, before, after_cost, before_cost
    )


def _price_side(pricer: Pricer, context: PricingContext) -> list[CostComponent]:
    try:
        return pricer(context)
    except _SHAPE_ERRORS as err:
        raise errors.PlanError(
            f"{context.address}: cannot price its attributes ({type(err).__name__}: {str(err)[:120]})"
        ) from err

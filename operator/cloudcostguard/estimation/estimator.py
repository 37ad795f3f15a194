"""The pure estimator: a read plan + a price catalog + usage → an ``Estimate``. No I/O happens here."""

from __future__ import annotations

import importlib
import pkgutil
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
from cloudcostguard.estimation.registry import FREE_RESOURCE_TYPES, PRICERS, PricingContext
from cloudcostguard.estimation.usage import Usage
from cloudcostguard.plan.model import Plan, ResourceChange
from cloudcostguard.pricing.catalog import PriceCatalog

# Importing every module of the aws package registers its pricers.
for _module in pkgutil.iter_modules(aws.__path__):
    importlib.import_module(f"{aws.__name__}.{_module.name}")

# What a pricer may raise on attribute shapes nobody anticipated; reported as a plan problem.
_SHAPE_ERRORS = (TypeError, ValueError, KeyError, AttributeError, ArithmeticError, IndexError)


def estimate_plan(
    plan: Plan,
    catalog: PriceCatalog,
    usage: Usage | None = None,
    *,
    hours_per_month: Decimal = HOURS_PER_MONTH,
) -> Estimate:
    usage = usage or Usage()
    resources = [
        _estimate_resource(change, catalog, usage, hours_per_month) for change in plan.resource_changes
    ]
    return Estimate(
        resources=resources,
        pricing_source=catalog.source,
        pricing_version=catalog.version,
        plan_digest=plan.plan_digest,
        hours_per_month=hours_per_month,
    )


def _estimate_resource(
    change: ResourceChange, catalog: PriceCatalog, usage: Usage, hours_per_month: Decimal
) -> ResourceCost:
    resource_type = change.resource_type
    pricer = PRICERS.get(resource_type)
    if pricer is None:
        support = FREE if resource_type in FREE_RESOURCE_TYPES else UNSUPPORTED
        return ResourceCost(change.address, resource_type, change.action, change.region, support)
    resource_usage = usage.for_resource(change.address, resource_type)

    def price_side(
        values: dict[str, object] | None, unknown: dict[str, object] | None
    ) -> list[CostComponent]:
        context = PricingContext(
            address=change.address,
            resource_type=resource_type,
            region=change.region,
            attrs=Attributes(values, unknown),
            usage=resource_usage,
            catalog=catalog,
            hours_per_month=hours_per_month,
        )
        try:
            return pricer(context)
        except _SHAPE_ERRORS as err:
            raise errors.PlanError(f"{change.address}: cannot price its attributes ({err!r})") from err

    after: list[CostComponent] = []
    before: list[CostComponent] = []
    if change.prices_after:
        after = price_side(change.after, change.after_unknown)
    if change.action in ("no-op", "read"):
        before = after  # unchanged: the same cost on both sides, priced once
    elif change.prices_before:
        before = price_side(change.before, None)
    return ResourceCost(
        address=change.address,
        resource_type=resource_type,
        action=change.action,
        region=change.region,
        support=PRICED,
        components=after,
        past_components=[] if change.action in ("no-op", "read") else before,
        monthly_cost=components_cost(after),
        past_monthly_cost=components_cost(before),
    )

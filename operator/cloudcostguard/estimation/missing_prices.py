"""Which components of a plan would have no price, and why (``pricing coverage --plan``). Pure.

Each resource is priced on its own against a catalog that records every lookup; a lookup that finds
nothing is explained by narrowing the catalog's products one asked attribute at a time: the first
attribute no remaining product has the asked value of is the one missing. "AmazonEC2 has no prices
in eu-central-1" and "no AmazonEC2 eu-central-1 product has instanceType=m5.4xlarge (12 products
match the other attributes so far)" are different fixes (sync the region; the product does not exist
or is not on-demand).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from cloudcostguard.estimation.estimator import estimate_plan
from cloudcostguard.estimation.usage import Usage
from cloudcostguard.plan.model import Plan
from cloudcostguard.pricing.catalog import DERIVED_USAGETYPE, InMemoryCatalog, Price, usagetype_base


@dataclass(frozen=True, slots=True)
class MissedLookup:
    service: str
    region: str
    attributes: tuple[tuple[str, str], ...]
    reason: str


@dataclass(frozen=True, slots=True)
class MissingPrice:
    address: str
    region: str
    components: tuple[str, ...]  # names of the components with no price
    lookups: tuple[MissedLookup, ...]  # the catalog queries that found nothing while pricing it


class _RecordingCatalog:
    """Delegates to a catalog and remembers the lookups that found nothing."""

    def __init__(self, inner: InMemoryCatalog) -> None:
        self._inner = inner
        self.missed: list[tuple[str, str, tuple[tuple[str, str], ...]]] = []

    @property
    def source(self) -> str:
        return self._inner.source

    @property
    def version(self) -> str:
        return self._inner.version

    def lookup(self, service: str, region: str, /, **attributes: str) -> Price | None:
        price = self._inner.lookup(service, region, **attributes)
        if price is None:
            self.missed.append((service, region, tuple(attributes.items())))
        return price


def missing_prices(
    plan: Plan,
    catalog: InMemoryCatalog,
    usage: Usage | None = None,
    *,
    hours_per_month: Decimal = Decimal(730),
) -> list[MissingPrice]:
    """Every priced resource of ``plan`` with components the catalog has no price for."""
    found: list[MissingPrice] = []
    for change in plan.resource_changes:
        recorder = _RecordingCatalog(catalog)
        single = dataclasses.replace(plan, resource_changes=[change])
        estimate = estimate_plan(single, recorder, usage, hours_per_month=hours_per_month)
        for resource in estimate.resources:
            names = tuple(
                c.name if c.subresource is None else f"{c.subresource} › {c.name}"
                for c in (*resource.components, *resource.past_components)
                if c.price_not_found
            )
            if not names:
                continue
            lookups = tuple(
                MissedLookup(service, region, attributes, explain(catalog, service, region, dict(attributes)))
                for service, region, attributes in dict.fromkeys(recorder.missed)
            )
            found.append(MissingPrice(resource.address, resource.region, names, lookups))
    return found


def explain(catalog: InMemoryCatalog, service: str, region: str, attributes: Mapping[str, str]) -> str:
    """Why ``lookup(service, region, **attributes)`` finds nothing, in one line."""
    products = catalog.products(service, region)
    if not products:
        regions = sorted(catalog.regions(service))
        if not regions:
            return f"the catalog has no {service} prices at all"
        shown = ", ".join(regions[:5]) + (", …" if len(regions) > 5 else "")
        return f"the catalog has no {service} prices for {region} (it has {shown})"
    remaining = [product for product, _ in products]
    for name, value in attributes.items():
        matching = [p for p in remaining if _value(p, name) == value]
        if not matching:
            seen = sorted({v for p in remaining if (v := _value(p, name)) is not None})
            sample = ", ".join(seen[:4]) + (", …" if len(seen) > 4 else "")
            others = f" ({len(remaining)} products match the attributes before it"
            return (
                f"no {service} {region} product has {name}={value}{others}; {name} there: {sample or 'none'})"
            )
        remaining = matching
    return f"{service} {region} has no product with exactly these attributes"


def _value(product: Mapping[str, str], name: str) -> str | None:
    if name == DERIVED_USAGETYPE and name not in product and "usagetype" in product:
        return usagetype_base(product["usagetype"])
    return product.get(name)

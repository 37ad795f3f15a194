"""The pricer kit: bound lookups and the declarative component shapes, against a catalog built here."""

from __future__ import annotations

from decimal import Decimal

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.kit import (
    MILLION,
    Hourly,
    Monthly,
    PerUnit,
    TablePricer,
    TieredUsage,
    UsageBased,
)
from cloudcostguard.estimation.registry import PricingContext
from cloudcostguard.estimation.usage import ResourceUsage
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord

SERVICE = "AmazonTest"
# Prices of a made-up service: the shapes' arithmetic is what is under test, not AWS's prices.
CATALOG = InMemoryCatalog(
    [
        PriceRecord(SERVICE, "eu-west-1", {"usagetype": "EU-Hours"}, "Hrs", Decimal("0.045")),
        PriceRecord(SERVICE, "global", {"usagetype": "Zone"}, "Month", Decimal("0.50")),
        PriceRecord(SERVICE, "eu-west-1", {"usagetype": "EU-Storage"}, "GB-Mo", Decimal("0.10")),
        PriceRecord(SERVICE, "eu-west-1", {"usagetype": "EU-Requests"}, "Requests", Decimal("0.0000004")),
        PriceRecord(
            SERVICE,
            "eu-west-1",
            {"usagetype": "EU-Tiered"},
            "Requests",
            Decimal("0.0000035"),
            tier_end=Decimal(333_000_000),
        ),
        PriceRecord(
            SERVICE,
            "eu-west-1",
            {"usagetype": "EU-Tiered"},
            "Requests",
            Decimal("0.0000028"),
            tier_start=Decimal(333_000_000),
        ),
    ],
    source="test",
    version="1",
)
HOURS = {"usagetypeBase": "Hours"}
STORAGE = {"usagetypeBase": "Storage"}
REQUESTS = {"usagetypeBase": "Requests"}
TIERED = {"usagetypeBase": "Tiered"}


def _context(
    attrs: dict[str, object] | None = None, usage: dict[str, object] | None = None
) -> PricingContext:
    return PricingContext(
        "aws_test.one",
        "aws_test",
        "eu-west-1",
        Attributes(attrs or {}),
        ResourceUsage(usage or {}, "aws_test.one"),
        CATALOG,
        Decimal(730),
    )


def test_bound_prices_look_up_in_the_context_region_or_the_one_given() -> None:
    ctx = _context()
    assert ctx.prices(SERVICE).find(HOURS) is not None
    assert ctx.prices(SERVICE).find({"usagetypeBase": "Zone"}) is None
    zone = ctx.prices(SERVICE, "global").lookup(usagetypeBase="Zone")
    assert zone is not None
    assert zone.unit_price == Decimal("0.50")


def test_hourly_charges_every_hour_of_the_month() -> None:
    (line,) = TablePricer(SERVICE, (Hourly("Widget", HOURS),))(_context())
    assert (line.name, line.unit, line.monthly_quantity, line.monthly_cost) == (
        "Widget",
        "hours",
        Decimal(730),
        Decimal("32.850"),
    )
    assert not line.usage_based


def test_a_missing_price_is_reported_not_zero() -> None:
    (line,) = TablePricer(SERVICE, (Hourly("Widget", {"usagetypeBase": "Nothing"}),))(_context())
    assert line.price_not_found
    assert line.monthly_cost is None
    assert line.monthly_quantity == Decimal(730)


def test_monthly_charge_in_a_global_region() -> None:
    (line,) = TablePricer(SERVICE, (Monthly("Zone", {"usagetypeBase": "Zone"}),), "global")(_context())
    assert (line.monthly_quantity, line.monthly_cost) == (Decimal(1), Decimal("0.50"))


def test_per_unit_reads_the_attribute_and_falls_back_to_its_default() -> None:
    shape = PerUnit("Storage", "GB", "size", STORAGE, default=Decimal(20))
    (sized,) = TablePricer(SERVICE, (shape,))(_context({"size": 100}))
    (unsized,) = TablePricer(SERVICE, (shape,))(_context({"size": None}))
    assert sized.monthly_cost == Decimal("10.00")
    assert unsized.monthly_quantity == Decimal(20)
    assert unsized.monthly_cost == Decimal("2.00")
    assert TablePricer(SERVICE, (PerUnit("Storage", "GB", "size", STORAGE),))(_context()) == []


def test_usage_based_is_flagged_without_usage_and_scaled_with_it() -> None:
    shape = UsageBased("Requests", "1M requests", "monthly_requests", REQUESTS, MILLION)
    (without,) = TablePricer(SERVICE, (shape,))(_context())
    (with_usage,) = TablePricer(SERVICE, (shape,))(_context(usage={"monthly_requests": 5_000_000}))
    assert without.usage_based
    assert without.monthly_quantity is None
    assert without.price == Decimal("0.4")
    assert (with_usage.monthly_quantity, with_usage.monthly_cost) == (Decimal(5), Decimal("2.0"))


def test_tiered_usage_gives_a_line_per_tier_reached() -> None:
    shape = TieredUsage(
        ("Requests (first 333M)", "Requests (over 333M)"), "1M requests", "monthly_requests", TIERED, MILLION
    )
    no_usage = TablePricer(SERVICE, (shape,))(_context())
    assert [(c.name, c.price, c.monthly_quantity) for c in no_usage] == [
        ("Requests (first 333M)", Decimal("3.5"), None),
        ("Requests (over 333M)", Decimal("2.8"), None),
    ]
    small = TablePricer(SERVICE, (shape,))(_context(usage={"monthly_requests": 1_000_000}))
    assert [(c.name, c.monthly_cost) for c in small] == [("Requests (first 333M)", Decimal("3.5"))]
    large = TablePricer(SERVICE, (shape,))(_context(usage={"monthly_requests": 400_000_000}))
    assert [(c.name, c.monthly_quantity, c.monthly_cost) for c in large] == [
        ("Requests (first 333M)", Decimal(333), Decimal("1165.5")),
        ("Requests (over 333M)", Decimal(67), Decimal("187.6")),
    ]

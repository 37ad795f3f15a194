"""The price catalog: what the estimator asks for prices, and the in-memory implementation behind it.

Records are AWS Price List products reduced to what pricing needs: offer code (``service``), region
code, product attributes with the offer files' names (``instanceType``, ``volumeApiName``, ``usagetype``,
…), unit, and one or more tiers (``beginRange``/``endRange``). Lookups name the service, region and a
few attributes. The first lookup with a given set of attribute names builds an index on those names;
after that, and for any repeated query, a lookup is one dict access.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from operator import itemgetter
from typing import Any, Protocol, runtime_checkable

from cloudcostguard.performance import fast_init

ZERO = Decimal(0)

# Lower sorts first: when several products match a query, the better-sourced one wins.
CONFIDENCE_RANK = {"official": 0, "high": 1, "medium": 2, "low": 3}


@fast_init
@dataclass(frozen=True, slots=True)
class PriceTier:
    start: Decimal
    end: Decimal | None  # None: open-ended ("Inf")
    unit_price: Decimal


@fast_init
@dataclass(frozen=True, slots=True)
class Price:
    """One product's on-demand price: a unit and its tiers, sorted by start."""

    unit: str
    tiers: tuple[PriceTier, ...]
    origin: str = ""
    confidence: str = "official"

    @property
    def unit_price(self) -> Decimal:
        """The first tier's price: the whole price for untiered products."""
        return self.tiers[0].unit_price

    def cost_for(self, quantity: Decimal) -> Decimal:
        """Cost of ``quantity`` units walking the tiers (S3 storage, Lambda duration, free tiers)."""
        if len(self.tiers) == 1 and self.tiers[0].start == ZERO:
            return quantity * self.tiers[0].unit_price
        total = ZERO
        for tier in self.tiers:
            if quantity <= tier.start:
                break
            upper = quantity if tier.end is None else min(quantity, tier.end)
            total += (upper - tier.start) * tier.unit_price
        return total

    def tier_quantities(self, quantity: Decimal) -> list[tuple[PriceTier, Decimal]]:
        """How much of ``quantity`` falls into each tier (for one cost component per tier)."""
        split = []
        for tier in self.tiers:
            upper = quantity if tier.end is None else min(quantity, tier.end)
            split.append((tier, max(upper - tier.start, ZERO)))
        return split


@dataclass(frozen=True, slots=True)
class PriceRecord:
    """One tier of one product, as stored (snapshot file, PostgreSQL, cache file)."""

    service: str
    region: str
    attributes: Mapping[str, str]
    unit: str
    unit_price: Decimal
    tier_start: Decimal = ZERO
    tier_end: Decimal | None = None
    origin: str = ""
    confidence: str = "official"


@dataclass(slots=True)
class CoverageRow:
    service: str
    region: str
    product_family: str
    products: int = 0
    prices: int = 0
    origins: set[str] = field(default_factory=set)


@runtime_checkable
class PriceCatalog(Protocol):
    """What the estimator needs: on-demand prices by service, region and product attributes."""

    @property
    def source(self) -> str:
        """Where prices come from: ``bundled``, ``postgresql``, ``cache-file``."""

    @property
    def version(self) -> str:
        """Identifies the prices used; equal versions give equal estimates."""

    def lookup(self, service: str, region: str, /, **attributes: str) -> Price | None:
        """The product matching every given attribute, or None when there is none."""


# A product as the catalog holds it: its attribute names (one tuple shared by every product with the
# same names: its *shape*), its values in that order, and its price. A dict per product took four times
# the memory (85,714 products: ~40 MB of dicts), and lookups read the values by position anyway.
_Shape = tuple[str, ...]
_Product = tuple[_Shape, tuple[str, ...], Price]
# Products that share their attribute names: (service, names, [(region, values in names' order, price)]).
ShapedGroup = tuple[str, _Shape, list[tuple[str, tuple[str, ...], Price]]]
# Products of one (service, region) not built yet: what builds them, as a ShapedGroup.
PendingGroup = Callable[[], ShapedGroup]

# AWS prefixes usage types with a region code everywhere but us-east-1: "USE2-NatGateway-Hours",
# "EU-BoxUsage:t3.micro", "APN1-EBS:VolumeUsage.gp3". Pricers match the region-free part. Region codes
# end in a digit, except eu-west-1's "EU"; other capital prefixes are part of the usage type itself
# (DynamoDB Standard-IA's "IA-TimedStorage-ByteHrs" must not collapse into "TimedStorage-ByteHrs").
DERIVED_USAGETYPE = "usagetypeBase"
_REGION_PREFIX = re.compile(r"^(?:[A-Z]{2,4}[0-9]|EU)-(?=[A-Za-z])")


def usagetype_base(usagetype: str) -> str:
    return _REGION_PREFIX.sub("", usagetype, count=1)


class ShapedAttributes(Mapping[str, str]):
    """A product's attributes as names and values (the names tuple shared by products of one shape):
    what the catalog keeps, handed over without a dict per product."""

    __slots__ = ("names", "ordered_values")

    def __init__(self, names: tuple[str, ...], ordered_values: tuple[str, ...]) -> None:
        self.names = names
        self.ordered_values = ordered_values

    def __getitem__(self, name: str) -> str:
        try:
            return self.ordered_values[self.names.index(name)]
        except ValueError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


class InMemoryCatalog:
    """An immutable catalog held in memory; swap whole instances to refresh (readers never see a mix)."""

    # When AWS published the prices (ISO date or timestamp), where the catalog's file says: the
    # estimate's footer shows the catalog's age from it. None when unknown.
    published_at: str | None

    def __init__(
        self, records: Iterable[PriceRecord], *, source: str, version: str, published_at: str | None = None
    ) -> None:
        grouped: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], list[PriceRecord]] = {}
        for record in records:
            key = (record.service, record.region, record.unit, tuple(sorted(record.attributes.items())))
            grouped.setdefault(key, []).append(record)
        products: list[tuple[str, str, Mapping[str, str], Price]] = []
        for (service, region, unit, attributes), tiers in grouped.items():
            tiers.sort(key=lambda r: r.tier_start)
            first = tiers[0]
            price = Price(
                unit=unit,
                tiers=tuple(PriceTier(r.tier_start, r.tier_end, r.unit_price) for r in tiers),
                origin=first.origin,
                confidence=first.confidence,
            )
            products.append((service, region, dict(attributes), price))
        self._setup(source, version, {}, ordered=False, record_count=0, published_at=published_at)
        self._add_products(products)
        self._order()

    def _setup(
        self,
        source: str,
        version: str,
        products: dict[tuple[str, str], list[_Product]],
        *,
        ordered: bool,
        record_count: int,
        published_at: str | None = None,
    ) -> None:
        self._source = source
        self._version = version
        self.published_at = published_at
        self._products = products
        self._ordered = ordered
        self._record_count = record_count
        self._indexes: dict[tuple[str, str, tuple[str, ...]], dict[tuple[str, ...], Price]] = {}
        self._memo: dict[tuple[str, str, tuple[tuple[str, str], ...]], Price | None] = {}
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], list[PendingGroup]] = {}
        self._pending_lock = threading.Lock()

    def _add_products(self, products: Iterable[tuple[str, str, Mapping[str, str], Price]]) -> None:
        grouped = self._products
        shapes: dict[_Shape, _Shape] = {}  # one names tuple per distinct shape
        bases: dict[str, str] = {}  # usage types repeat across products: derive each once
        count = 0
        for service, region, attributes, price in products:
            if type(attributes) is ShapedAttributes:
                names, values = attributes.names, attributes.ordered_values
            else:
                names, values = tuple(attributes), tuple(attributes.values())
            usagetype = values[names.index("usagetype")] if "usagetype" in names else None
            if usagetype is not None:
                base = bases.get(usagetype)
                if base is None:
                    base = bases[usagetype] = usagetype_base(usagetype)
                names += (DERIVED_USAGETYPE,)
                values += (base,)
            shape = shapes.get(names)
            if shape is None:
                shape = shapes[names] = names
            group = grouped.get((service, region))
            if group is None:
                group = grouped[service, region] = []
            group.append((shape, values, price))
            count += len(price.tiers)
        self._record_count += count

    @classmethod
    def from_products(
        cls,
        products: Iterable[tuple[str, str, Mapping[str, str], Price]],
        *,
        source: str,
        version: str,
        published_at: str | None = None,
        consume: bool = False,
    ) -> InMemoryCatalog:
        """The catalog the constructor would build, from products already grouped into ``Price``s.

        For large catalogs (the PostgreSQL store groups tiers by SKU). Nothing is sorted here: which
        product answers a query when several match (the constructor's order: confidence, then the
        sorted attribute items) is decided when an index meets two of them, which few do; the whole
        order is made only for ``records()`` and ``shaped_products()``.

        ``consume``: ``products`` is a list the caller no longer needs; each entry is dropped once
        added, so its attribute dict is freed while the catalog grows and its memory serves the
        catalog's own objects (the process's resident memory keeps a load's high-water mark).
        """
        catalog = cls.__new__(cls)
        catalog._setup(source, version, {}, ordered=False, record_count=0, published_at=published_at)
        if consume and isinstance(products, list):
            catalog._add_products(_consumed(products))
        else:
            catalog._add_products(products)
        return catalog

    @classmethod
    def from_shaped_groups(
        cls,
        groups: Iterable[ShapedGroup],
        *,
        source: str,
        version: str,
        published_at: str | None = None,
    ) -> InMemoryCatalog:
        """The catalog ``from_products`` builds from the same products, given by groups that share
        attribute names (the v2 snapshot's): each group's shape, and where its usage type sits, is
        worked out once instead of per product (the bundled snapshot loads in half the time)."""
        catalog = cls.__new__(cls)
        catalog._setup(source, version, {}, ordered=False, record_count=0, published_at=published_at)
        bases: dict[str, str] = {}
        catalog._record_count = sum(catalog._add_group(*group, bases) for group in groups)
        return catalog

    @classmethod
    def from_pending_groups(
        cls,
        pending: dict[tuple[str, str], list[PendingGroup]],
        *,
        source: str,
        version: str,
        record_count: int,
        published_at: str | None = None,
    ) -> InMemoryCatalog:
        """The ``from_shaped_groups`` catalog, each (service, region) built when first asked for: a
        one-resource plan's estimate needs one of the bundled snapshot's 22 (its EC2 prices in one
        region are half of them). ``pending`` lists them in the order the eager catalog would hold
        them, each one's parts in order; ``record_count`` is what they will hold."""
        catalog = cls.__new__(cls)
        products: dict[tuple[str, str], list[_Product]] = {key: [] for key in pending}
        catalog._setup(
            source, version, products, ordered=False, record_count=record_count, published_at=published_at
        )
        catalog._pending = dict(pending)
        return catalog

    def _add_group(
        self,
        service: str,
        names: _Shape,
        products: list[tuple[str, tuple[str, ...], Price]],
        bases: dict[str, str],
    ) -> int:
        """Add products of these attribute names (one shape for all, with the derived usage type when
        they have a usage type); returns how many prices (tiers) they hold."""
        grouped = self._products
        usagetype_at = names.index("usagetype") if "usagetype" in names else None
        shape = names if usagetype_at is None else (*names, DERIVED_USAGETYPE)
        count = 0
        for region, own, price in products:
            values = own
            if usagetype_at is not None:
                usagetype = own[usagetype_at]
                base = bases.get(usagetype)
                if base is None:
                    base = bases[usagetype] = usagetype_base(usagetype)
                values = (*own, base)
            group = grouped.get((service, region))
            if group is None:
                group = grouped[service, region] = []
            group.append((shape, values, price))
            count += len(price.tiers)
        return count

    def _group(self, service: str, region: str) -> list[_Product]:
        """The (service, region) products, built first if they are still pending."""
        if self._pending:
            self._build_pending((service, region))
        return self._products.get((service, region), [])

    def _build_pending(self, key: tuple[str, str] | None = None) -> None:
        """Build the pending products of ``key`` (None: all of them). Under its own lock: a lookup
        holding the index lock builds its group, and no reader sees a group half built."""
        if not self._pending:
            return
        with self._pending_lock:
            bases: dict[str, str] = {}
            for pending_key in list(self._pending) if key is None else [key]:
                for build in self._pending.get(pending_key, ()):
                    self._add_group(*build(), bases)
                self._pending.pop(pending_key, None)

    @classmethod
    def from_shaped_products(
        cls,
        grouped: dict[tuple[str, str], list[_Product]],
        *,
        source: str,
        version: str,
        record_count: int,
    ) -> InMemoryCatalog:
        """A catalog over what ``shaped_products`` gave (the cache file), taken as is: products grouped
        by (service, region), best-first, each (shape, values with the derived ones, price)."""
        catalog = cls.__new__(cls)
        catalog._setup(source, version, grouped, ordered=True, record_count=record_count)
        return catalog

    def shaped_products(self) -> list[tuple[tuple[str, str], list[_Product]]]:
        """(service, region) → its products best-first, each (attribute names, values, price)."""
        self._order()
        return list(self._products.items())

    def _order(self) -> None:
        """Put every group best-first (once): what the constructor does at once."""
        if self._ordered:
            return
        self._build_pending()
        with self._lock:
            if not self._ordered:
                orders: _Orders = {}
                for items in self._products.values():
                    items.sort(key=lambda product: _flat_sort_key(product, orders))
                self._ordered = True

    @property
    def source(self) -> str:
        return self._source

    @property
    def version(self) -> str:
        return self._version

    @property
    def record_count(self) -> int:
        return self._record_count

    @property
    def product_count(self) -> int:
        self._build_pending()
        return sum(len(products) for products in self._products.values())

    def index_keys(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """The (service, region, attribute names) indexes built so far: what lookups have asked for."""
        return list(self._indexes)

    def build_indexes(self, keys: Iterable[tuple[str, str, tuple[str, ...]]]) -> None:
        """Build these indexes now (a refreshed catalog, before it replaces one that had them), so
        that no lookup pays for building one."""
        for service, region, names in keys:
            if (service, region, names) not in self._indexes:
                self._build_index(service, region, names)

    def regions(self, service: str) -> set[str]:
        return {region for (svc, region) in self._products if svc == service}

    def covered_regions(self) -> frozenset[str]:
        """Every region with at least one price, of any service."""
        return frozenset(region for (_, region) in self._products)

    def products(self, service: str, region: str) -> list[tuple[Mapping[str, str], Price]]:
        """The (service, region) products, best-sourced first (attributes include derived ones)."""
        self._order()
        return [
            (ShapedAttributes(names, values), price)
            for names, values, price in self._products.get((service, region), ())
        ]

    def coverage(self) -> list[CoverageRow]:
        """Per service, region and product family: what the catalog can price, and from where."""
        rows: dict[tuple[str, str, str], CoverageRow] = {}
        self._build_pending()
        for (service, region), products in self._products.items():
            for names, values, price in products:
                family = (values[names.index("productFamily")] if "productFamily" in names else None) or (
                    "(no product family)"
                )
                row = rows.get((service, region, family))
                if row is None:
                    row = rows[(service, region, family)] = CoverageRow(service, region, family)
                row.products += 1
                row.prices += len(price.tiers)
                row.origins.add(price.origin)
        return [rows[key] for key in sorted(rows)]

    def records(self) -> list[PriceRecord]:
        """Every record, back in storage shape (for export and the cache file)."""
        out: list[PriceRecord] = []
        self._order()
        for (service, region), products in sorted(self._products.items()):
            for names, values, price in products:
                attributes = {k: v for k, v in zip(names, values, strict=True) if k != DERIVED_USAGETYPE}
                out.extend(
                    PriceRecord(
                        service=service,
                        region=region,
                        attributes=attributes,
                        unit=price.unit,
                        unit_price=tier.unit_price,
                        tier_start=tier.start,
                        tier_end=tier.end,
                        origin=price.origin,
                        confidence=price.confidence,
                    )
                    for tier in price.tiers
                )
        return out

    def lookup(self, service: str, region: str, /, **attributes: str) -> Price | None:
        # A call site passes its keywords in the same order every time, so the unsorted items are a
        # stable memo key: repeated queries (the hot path) skip sorting.
        memo_key = (service, region, tuple(attributes.items()))
        try:
            return self._memo[memo_key]
        except KeyError:
            pass
        query = sorted(memo_key[2])
        names = tuple(name for name, _ in query)
        index = self._indexes.get((service, region, names))
        if index is None:
            index = self._build_index(service, region, names)
        price = index.get(tuple(value for _, value in query))
        self._memo[memo_key] = price
        return price

    def _build_index(self, service: str, region: str, names: tuple[str, ...]) -> dict[tuple[str, ...], Price]:
        # itemgetter reads the values by position in C, one getter per shape: building an index over
        # ~100,000 real products stays well under a second, paid by the first lookup of a new query.
        with self._lock:
            # Best-first products: the first one met wins. Otherwise the best of those that meet wins
            # (the smaller sort key; on a tie the first, as a stable sort would have kept it).
            ordered = self._ordered
            winners: dict[tuple[str, ...], _Product] = {}
            orders: _Orders = {}
            readers: dict[_Shape, Callable[[tuple[str, ...]], tuple[str, ...]] | None] = {}
            for product in self._group(service, region):
                shape = product[0]
                try:
                    read = readers[shape]
                except KeyError:
                    read = readers[shape] = _reader(shape, names)
                if read is None:
                    continue  # a product without one of the names matches no such query
                values = read(product[1])
                held = winners.setdefault(values, product)
                if (
                    held is not product
                    and not ordered
                    and _flat_sort_key(product, orders) < _flat_sort_key(held, orders)
                ):
                    winners[values] = product
            index = {values: product[2] for values, product in winners.items()}
            self._indexes[(service, region, names)] = index
            return index


def _consumed(items: list[Any]) -> Iterator[Any]:
    for position, item in enumerate(items):
        items[position] = None
        yield item
    items.clear()


_Orders = dict[_Shape, tuple[_Shape, Callable[[tuple[str, ...]], tuple[str, ...]]]]


def _reader(shape: _Shape, names: tuple[str, ...]) -> Callable[[tuple[str, ...]], tuple[str, ...]] | None:
    """``values of a product of this shape → its values of names``, or None when it lacks a name."""
    try:
        positions = [shape.index(name) for name in names]
    except ValueError:
        return None
    return _values_getter(positions)


def _flat_sort_key(product: _Product, orders: _Orders) -> tuple[object, ...]:
    """(confidence rank, k1, v1, k2, v2, …) with the keys sorted: compares exactly like
    (rank, sorted(attributes.items())) — pair by pair, a shorter prefix first — but is cheaper to build."""
    shape, values, price = product
    entry = orders.get(shape)
    if entry is None:
        order = tuple(sorted(shape))
        entry = orders[shape] = (order, _values_getter([shape.index(name) for name in order]))
    order, sorted_values = entry
    rank = CONFIDENCE_RANK.get(price.confidence, 9)
    return (rank, *chain.from_iterable(zip(order, sorted_values(values), strict=True)))


def _values_getter(positions: list[int]) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    """``values → (values[p] for p in positions)`` as a tuple, in C when there are several."""
    if len(positions) > 1:
        return itemgetter(*positions)
    if positions:
        single = itemgetter(positions[0])
        return lambda values: (single(values),)
    return lambda values: ()

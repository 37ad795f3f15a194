"""The catalog cache file: the last good catalog of a long-running process, for cold starts.

It must load faster than PostgreSQL (else it defeats its purpose), so it holds the catalog as built,
in columns, rather than records to group, sort and index again:

    b"CCGCATALOG" | format (u16) | Python's marshal version (u16) | sha256 of the body (32 bytes) | body

The body is one ``marshal`` dump of plain lists: a string table (every name, value, unit, number as
text, origin…, each once), distinct price tiers and prices as rows of string numbers, attribute-name
shapes, and per product its shape, value numbers and price number, with the products in the catalog's
own order (best-first per service and region, so no sort on reading). Reading builds each distinct
string, tier and price once. A file of another format or marshal version, a wrong checksum, or a body
that does not decode is a ``PricingError``: the provider logs it and serves what comes next.
"""

from __future__ import annotations

import hashlib
import marshal
import struct
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from cloudcostguard import errors
from cloudcostguard.performance import paused_gc
from cloudcostguard.pricing.catalog import InMemoryCatalog, Price, PriceTier
from cloudcostguard.pricing.snapshot import write_snapshot_file

MAGIC = b"CCGCATALOG"
FORMAT = 1
_HEADER = struct.Struct(">HH32s")
# marshal's own format follows the Python version: a file from another one is not read, only replaced.
_MARSHAL_VERSION = marshal.version
# What a reader must match, in words: PostgreSQL keeps it beside each version's blob (store/catalog_blob.py).
FORMAT_TAG = f"{MAGIC.decode()}/{FORMAT}/marshal {_MARSHAL_VERSION}"

# Which (service, region) groups to keep when reading (the operator's CCG_PRICING_SERVICES/REGIONS).
GroupFilter = Callable[[str, str], bool]


class _Strings:
    """A string table: each distinct string once, referred to by number."""

    def __init__(self) -> None:
        self.numbers: dict[str, int] = {}
        self.table: list[str] = []

    def __call__(self, text: str) -> int:
        number = self.numbers.get(text)
        if number is None:
            number = self.numbers[text] = len(self.table)
            self.table.append(text)
        return number


def dump_catalog(catalog: InMemoryCatalog) -> bytes:
    strings = _Strings()
    # Keyed by text, not value: Decimal("1.0") == Decimal("1"), but a reloaded catalog must write the
    # very numbers it was built from.
    tier_numbers: dict[tuple[str, str | None, str], int] = {}
    tiers: list[tuple[int, int, int]] = []
    price_numbers: dict[tuple[str, tuple[int, ...], str, str], int] = {}
    prices: list[tuple[int, int, int, list[int]]] = []
    shape_numbers: dict[tuple[str, ...], int] = {}
    shapes: list[list[int]] = []
    groups: list[tuple[int, int, int]] = []
    product_shapes: list[int] = []
    product_prices: list[int] = []
    values: list[int] = []
    for (service, region), products in catalog.shaped_products():
        groups.append((strings(service), strings(region), len(products)))
        for names, attribute_values, price in products:
            shape = shape_numbers.get(names)
            if shape is None:
                shape = shape_numbers[names] = len(shapes)
                shapes.append([strings(name) for name in names])
            product_shapes.append(shape)
            values.extend(map(strings, attribute_values))
            row = []
            for tier in price.tiers:
                tier_key = (
                    str(tier.start),
                    None if tier.end is None else str(tier.end),
                    str(tier.unit_price),
                )
                tier_number = tier_numbers.get(tier_key)
                if tier_number is None:
                    tier_number = tier_numbers[tier_key] = len(tiers)
                    start, end, unit_price = tier_key
                    tiers.append((strings(start), -1 if end is None else strings(end), strings(unit_price)))
                row.append(tier_number)
            price_key = (price.unit, tuple(row), price.origin, price.confidence)
            number = price_numbers.get(price_key)
            if number is None:
                number = price_numbers[price_key] = len(prices)
                prices.append((strings(price.unit), strings(price.origin), strings(price.confidence), row))
            product_prices.append(number)
    body = marshal.dumps(
        [
            catalog.source,
            catalog.version,
            catalog.record_count,
            strings.table,
            tiers,
            prices,
            shapes,
            groups,
            product_shapes,
            product_prices,
            values,
        ]
    )
    return MAGIC + _HEADER.pack(FORMAT, _MARSHAL_VERSION, hashlib.sha256(body).digest()) + body


def write_cache_file(path: Path, catalog: InMemoryCatalog) -> None:
    """Write atomically (a reader, or a crash, never sees half a file)."""
    write_snapshot_file(path, dump_catalog(catalog))


def read_cache_file(path: Path, *, source: str = "cache-file") -> InMemoryCatalog:
    try:
        payload = path.read_bytes()
    except OSError as err:
        raise errors.PricingError(
            f"cannot read the catalog cache file {path}: {err.strerror or err}"
        ) from err
    return load_catalog(payload, source=source, where=str(path))


def load_catalog(
    payload: bytes | bytearray,
    *,
    source: str,
    where: str = "catalog cache file",
    version: str | None = None,
    keep: GroupFilter | None = None,
) -> InMemoryCatalog:
    """Decode ``dump_catalog``'s bytes. ``version``: the version the caller expects (a payload of
    another one is refused); ``keep``: only the (service, region) groups it accepts."""
    header_end = len(MAGIC) + _HEADER.size
    if not payload.startswith(MAGIC) or len(payload) < header_end:
        raise errors.PricingError(f"{where} is not a catalog cache file (or one of an older format)")
    file_format, marshal_version, checksum = _HEADER.unpack_from(payload, len(MAGIC))
    if (file_format, marshal_version) != (FORMAT, _MARSHAL_VERSION):
        raise errors.PricingError(
            f"{where} has format {file_format}/marshal {marshal_version}, "
            f"this version reads {FORMAT}/marshal {_MARSHAL_VERSION}"
        )
    # Views released before returning: a caller may empty its buffer once the catalog is built.
    with memoryview(payload) as whole, whole[header_end:] as body:
        if hashlib.sha256(body).digest() != checksum:
            raise errors.PricingError(f"{where} is damaged (its checksum does not match)")
        try:
            with paused_gc():  # a hundred thousand products: all new, none in a cycle
                # Our own file, checksummed; marshal builds plain data only (nothing in it is ever called).
                return _build(marshal.loads(body), source, version, keep, where)  # noqa: S302
        except (ValueError, TypeError, IndexError, KeyError, EOFError, InvalidOperation) as err:
            raise errors.PricingError(f"{where} does not decode: {type(err).__name__}") from err


def _build(
    body: list[Any], source: str, expected_version: str | None, keep: GroupFilter | None, where: str
) -> InMemoryCatalog:
    (
        _source,
        version,
        record_count,
        strings,
        tier_rows,
        price_rows,
        shape_rows,
        groups,
        product_shapes,
        product_prices,
        values,
    ) = body
    if expected_version is not None and version != expected_version:
        raise errors.PricingError(f"{where} holds catalog {version}, not {expected_version}")
    number = {text: Decimal(text) for text in {strings[i] for row in tier_rows for i in row if i >= 0}}
    tiers = [
        PriceTier(number[strings[start]], None if end < 0 else number[strings[end]], number[strings[price]])
        for start, end, price in tier_rows
    ]
    prices = [
        Price(strings[unit], tuple([tiers[t] for t in row]), strings[origin], strings[confidence])
        for unit, origin, confidence, row in price_rows
    ]
    shapes = [tuple([strings[i] for i in row]) for row in shape_rows]
    text = strings.__getitem__
    grouped: dict[tuple[str, str], list[tuple[tuple[str, ...], tuple[str, ...], Price]]] = {}
    product = 0
    position = 0
    kept_records = 0
    for service, region, count in groups:
        if keep is not None and not keep(strings[service], strings[region]):
            for _ in range(count):  # skipped, but the columns still advance past its products
                position += len(shapes[product_shapes[product]])
                product += 1
            continue
        products = grouped[strings[service], strings[region]] = []
        for _ in range(count):
            names = shapes[product_shapes[product]]
            end = position + len(names)
            products.append((names, tuple(map(text, values[position:end])), prices[product_prices[product]]))
            position = end
            product += 1
        if keep is not None:
            kept_records += sum(len(price.tiers) for _, _, price in products)
    if product != len(product_shapes) or position != len(values):
        raise ValueError("column lengths differ")
    return InMemoryCatalog.from_shaped_products(
        grouped, source=source, version=version, record_count=record_count if keep is None else kept_records
    )

"""The price snapshot file formats: the bundled default prices, ``pricing export``, ``pricing sync`` and
the catalog cache file.

**v1** (``pricing export``, the provider's cache file): one JSON document ``{"format", "version",
"source", "generatedAt", "records": [...]}``; each record is ``{"service", "region", "attributes",
"unit", "usdPerUnit", "tierStart", "tierEnd", "origin", "confidence"}`` with every number a decimal
string (``tierEnd`` null when open-ended).

**v2** (compact: the bundled snapshot and ``pricing sync``'s catalog file), gzip'd JSON, columnar::

    {"format", "version", "source", "generatedAt", "publishedAt",
     "origins": [{"origin", "confidence", "asOf"}],
     "groups": [{"service", "unit", "fixed": {attribute: value}, "columns": [attribute, ...],
                 "rows": [[region, origin index, value, ..., usdPerUnit(, tierStart, tierEnd)], ...]}]}

Records that share a service, unit and attribute names form a group; attributes with one value across
the group are written once (``fixed``), the rest as columns. A product's tiers are consecutive rows
with the same region and values (its origin is its first tier's). The bundled 2,846 prices take 31 kB
instead of 2.2 MB as v1, and reading skips v1's per-record dictionaries. Readers accept both formats
(told apart by gzip's magic bytes and ``format``).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import itertools
import os
import pkgutil
import sys
import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

from cloudcostguard import errors

if TYPE_CHECKING:
    from pathlib import Path

from cloudcostguard.pricing.catalog import (
    ZERO,
    InMemoryCatalog,
    PendingGroup,
    Price,
    PriceRecord,
    PriceTier,
    ShapedGroup,
)

SNAPSHOT_FORMAT = "cloudcostguard-price-snapshot/v1"
COMPACT_FORMAT = "cloudcostguard-price-snapshot/v2"
BUNDLED_RESOURCE = "aws-prices.json.gz"
GZIP_MAGIC = b"\x1f\x8b"


def record_to_json(record: PriceRecord) -> dict[str, Any]:
    return {
        "service": record.service,
        "region": record.region,
        "attributes": dict(sorted(record.attributes.items())),
        "unit": record.unit,
        "usdPerUnit": str(record.unit_price),
        "tierStart": str(record.tier_start),
        "tierEnd": None if record.tier_end is None else str(record.tier_end),
        "origin": record.origin,
        "confidence": record.confidence,
    }


def record_from_json(item: Any) -> PriceRecord:
    if not isinstance(item, dict):
        raise errors.PricingError("snapshot record is not an object")
    try:
        attributes = item["attributes"]
        if not isinstance(attributes, dict):
            raise TypeError("attributes")
        tier_end = item.get("tierEnd")
        return PriceRecord(
            service=str(item["service"]),
            region=str(item["region"]),
            attributes={str(k): str(v) for k, v in attributes.items()},
            unit=str(item["unit"]),
            unit_price=Decimal(item["usdPerUnit"]),
            tier_start=Decimal(item.get("tierStart") or "0"),
            tier_end=None if tier_end is None else Decimal(tier_end),
            origin=str(item.get("origin", "")),
            confidence=str(item.get("confidence", "official")),
        )
    except (KeyError, TypeError, InvalidOperation) as err:
        raise errors.PricingError(f"snapshot record is malformed: {err!r}") from err


def records_digest(records: Iterable[PriceRecord]) -> str:
    digest = hashlib.sha256()
    for item in sorted(orjson.dumps(record_to_json(r), option=orjson.OPT_SORT_KEYS) for r in records):
        digest.update(item)
        digest.update(b"\n")
    return digest.hexdigest()


def dump_snapshot(
    records: list[PriceRecord],
    *,
    version: str,
    source: str,
    generated_at: str,
    extra: dict[str, Any] | None = None,
) -> bytes:
    document = {
        "format": SNAPSHOT_FORMAT,
        "version": version,
        "source": source,
        "generatedAt": generated_at,
        **(extra or {}),
        "records": [record_to_json(r) for r in records],
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def write_snapshot_file(path: Path, payload: bytes) -> None:
    """Write atomically: a reader (or a crash) never sees half a file."""
    import tempfile  # noqa: PLC0415 - ≈ 4 ms to import (random, shutil): only writers pay it

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def parse_snapshot(payload: bytes, *, source: str) -> InMemoryCatalog:
    """A catalog from a snapshot in either format (v2 may be gzip'd)."""
    return parse_snapshot_document(payload, source=source)[0]


def parse_snapshot_document(
    payload: bytes, *, source: str, lazy: bool = False
) -> tuple[InMemoryCatalog, dict[str, Any]]:
    """The catalog and the document's header fields (everything but the prices). ``lazy`` (v2 only):
    each (service, region)'s prices are built on first use, and a malformed row is reported then: for
    the bundled snapshot, which the tests read in full."""
    if payload[:2] == GZIP_MAGIC:
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError, zlib.error) as err:
            raise errors.PricingError(f"price snapshot is corrupt or truncated (gzip: {err})") from err
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise errors.PricingError(f"price snapshot is not valid JSON: {err}") from err
    if not isinstance(document, dict):
        raise errors.PricingError(f"price snapshot is not in the {SNAPSHOT_FORMAT} format")
    header = {k: v for k, v in document.items() if k not in ("records", "groups", "origins")}
    origins = document.get("origins")
    if isinstance(origins, list):  # v2: when each origin's prices date from
        header["originDates"] = {
            str(o.get("origin")): o.get("asOf") for o in origins if isinstance(o, dict) and o.get("asOf")
        }
    if document.get("format") == COMPACT_FORMAT:
        return _parse_compact(document, source=source, lazy=lazy), header
    if document.get("format") != SNAPSHOT_FORMAT:
        raise errors.PricingError(f"price snapshot is not in the {SNAPSHOT_FORMAT} format")
    records = document.get("records")
    if not isinstance(records, list):
        raise errors.PricingError("price snapshot has no records list")
    catalog = InMemoryCatalog(
        [record_from_json(item) for item in records], source=source, version=str(document.get("version"))
    )
    return catalog, header


def dump_compact_snapshot(
    records: Iterable[PriceRecord],
    *,
    version: str,
    source: str,
    generated_at: str,
    published_at: str | None,
    origin_dates: Mapping[str, str | None] | None = None,
    extra: dict[str, Any] | None = None,
) -> bytes:
    """The v2 document, gzip'd; byte-for-byte the same for the same records (mtime 0)."""
    dates = origin_dates or {}
    origins: dict[tuple[str, str], int] = {}
    grouped: dict[tuple[str, str, tuple[str, ...]], list[PriceRecord]] = {}
    for record in records:
        origins[(record.origin, record.confidence)] = 0
        names = tuple(sorted(record.attributes))
        grouped.setdefault((record.service, record.unit, names), []).append(record)
    origins = {origin: index for index, origin in enumerate(sorted(origins))}  # order-independent
    groups = []
    for (service, unit, names), members in sorted(grouped.items()):
        fixed = {
            name: members[0].attributes[name]
            for name in names
            if all(m.attributes[name] == members[0].attributes[name] for m in members)
        }
        columns = [name for name in names if name not in fixed]
        members.sort(key=lambda r: (r.region, [r.attributes[c] for c in columns], r.tier_start))
        rows = []
        for record in members:
            origin = origins[(record.origin, record.confidence)]
            row: list[str | int | None] = [record.region, origin, *(record.attributes[c] for c in columns)]
            row.append(str(record.unit_price))
            if record.tier_start != ZERO or record.tier_end is not None:
                row += [str(record.tier_start), None if record.tier_end is None else str(record.tier_end)]
            rows.append(row)
        groups.append({"service": service, "unit": unit, "fixed": fixed, "columns": columns, "rows": rows})
    document = {
        "format": COMPACT_FORMAT,
        "version": version,
        "source": source,
        "generatedAt": generated_at,
        "publishedAt": published_at,
        **(extra or {}),
        "origins": [
            {"origin": text, "confidence": confidence, "asOf": dates.get(text)}
            for (text, confidence), _ in sorted(origins.items(), key=lambda item: item[1])
        ],
        "groups": groups,
    }
    return gzip.compress(orjson.dumps(document), compresslevel=9, mtime=0)


def _parse_compact(document: dict[str, Any], *, source: str, lazy: bool = False) -> InMemoryCatalog:
    intern = sys.intern
    version = str(document.get("version"))
    published = document.get("publishedAt")
    published_at = str(published) if published else None
    try:
        origins = [(str(o["origin"]), intern(str(o["confidence"]))) for o in document["origins"]]
        if lazy:
            pending, count = _pending_groups(document["groups"], origins)
            return InMemoryCatalog.from_pending_groups(
                pending, source=source, version=version, record_count=count, published_at=published_at
            )
        groups = [_compact_group(group, origins) for group in document["groups"]]
    except _MALFORMED as err:
        raise errors.PricingError(f"price snapshot has a malformed group: {err!r}") from err
    return InMemoryCatalog.from_shaped_groups(
        groups, source=source, version=version, published_at=published_at
    )


_MALFORMED = (KeyError, TypeError, IndexError, ValueError, ArithmeticError, AttributeError)


def _pending_groups(
    groups: list[dict[str, Any]], origins: list[tuple[str, str]]
) -> tuple[dict[tuple[str, str], list[PendingGroup]], int]:
    """Each (service, region)'s parts — a group's consecutive rows of that region — in document
    order, each built when the catalog first needs it; and how many prices (rows) they hold."""
    pending: dict[tuple[str, str], list[PendingGroup]] = {}
    count = 0
    for group in groups:
        service, rows = sys.intern(group["service"]), group["rows"]
        count += len(rows)
        for region, part in itertools.groupby(rows, itemgetter(0)):
            build = functools.partial(_built_later, group, origins, list(part))
            pending.setdefault((service, region), []).append(build)
    return pending, count


def _built_later(group: dict[str, Any], origins: list[tuple[str, str]], rows: list[Any]) -> ShapedGroup:
    try:
        return _compact_group(group, origins, rows)
    except _MALFORMED as err:
        raise errors.PricingError(f"price snapshot has a malformed group: {err!r}") from err


def _compact_group(
    group: dict[str, Any], origins: list[tuple[str, str]], rows: list[Any] | None = None
) -> ShapedGroup:
    """One group's products (or those of ``rows``, some of its rows) as (region, attribute values,
    price), its attribute names once: every product of a group has the group's names, in the same order
    (``fixed``'s, then the columns)."""
    intern = sys.intern
    service, unit = intern(group["service"]), intern(group["unit"])
    fixed = {intern(k): intern(v) for k, v in group["fixed"].items()}
    columns = [intern(c) for c in group["columns"]]
    width = len(columns) + 2  # region, origin, the columns' values
    names = tuple({**fixed, **dict.fromkeys(columns)})
    fixed_values = tuple(fixed.values())
    products: list[tuple[str, tuple[str, ...], Price]] = []

    def add(first: list[Any], values: list[Any], tiers: list[PriceTier]) -> None:
        origin, confidence = origins[first[1]]
        ordered = tuple(map(intern, values))
        if len(names) == len(fixed) + len(columns):
            ordered = fixed_values + ordered
        else:  # a column that is fixed as well (no writer makes one): the column's value wins
            ordered = tuple({**fixed, **dict(zip(columns, ordered, strict=True))}.values())
        products.append((first[0], ordered, Price(unit, tuple(tiers), origin, confidence)))

    # A product's tiers are consecutive rows with the same region and values.
    first: list[Any] | None = None
    values: list[Any] = []
    tiers: list[PriceTier] = []
    for row in group["rows"] if rows is None else rows:
        tier = PriceTier(
            Decimal(row[width + 1]) if len(row) > width + 1 else ZERO,
            Decimal(row[width + 2]) if len(row) > width + 2 and row[width + 2] is not None else None,
            Decimal(row[width]),
        )
        if first is not None and row[0] == first[0] and row[2:width] == values:
            tiers.append(tier)
            continue
        if first is not None:
            add(first, values, tiers)
        first, values, tiers = row, row[2:width], [tier]
    if first is not None:
        add(first, values, tiers)
    return service, names, products


def read_snapshot_file(path: Path, *, source: str = "cache-file") -> InMemoryCatalog:
    try:
        payload = path.read_bytes()
    except OSError as err:
        raise errors.PricingError(f"cannot read price snapshot {path}: {err.strerror}") from err
    return parse_snapshot(payload, source=source)


_bundled: tuple[InMemoryCatalog, dict[str, Any]] | None = None


def _bundled_bytes() -> bytes:
    """The bundled snapshot file, read through the package's loader (a folder or a zip archive alike):
    ``pkgutil.get_data`` rather than ``importlib.resources``, whose import (tempfile, zipfile) took
    ≈ 4 ms of pricing a one-resource plan."""
    payload = pkgutil.get_data("cloudcostguard.pricing", f"data/{BUNDLED_RESOURCE}")
    if payload is None:
        raise errors.PricingError(
            f"the bundled price snapshot {BUNDLED_RESOURCE} is missing from the package"
        )
    return payload


def load_bundled_catalog() -> InMemoryCatalog:
    """The snapshot shipped inside the package (loaded once per process; it never changes)."""
    return load_bundled_document()[0]


def load_bundled_document() -> tuple[InMemoryCatalog, dict[str, Any]]:
    """The bundled catalog and its file's header (sources, overlaps, origin dates)."""
    global _bundled  # noqa: PLW0603 - one immutable catalog per process, built on first use
    if _bundled is None:
        payload = _bundled_bytes()
        _bundled = parse_snapshot_document(payload, source="bundled", lazy=True)
    return _bundled

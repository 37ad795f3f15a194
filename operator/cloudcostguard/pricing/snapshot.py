"""The price snapshot file format: the bundled default prices, ``pricing export`` and the catalog cache file.

One JSON document: ``{"format", "version", "source", "generatedAt", "records": [...]}``; each record is
``{"service", "region", "attributes", "unit", "usdPerUnit", "tierStart", "tierEnd", "origin",
"confidence"}`` with every number a decimal string (``tierEnd`` null when open-ended).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from cloudcostguard import errors
from cloudcostguard.pricing.catalog import InMemoryCatalog, PriceRecord

SNAPSHOT_FORMAT = "cloudcostguard-price-snapshot/v1"
BUNDLED_RESOURCE = "aws-prices.json"


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parse_snapshot(payload: bytes, *, source: str) -> InMemoryCatalog:
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as err:
        raise errors.PricingError(f"price snapshot is not valid JSON: {err}") from err
    if not isinstance(document, dict) or document.get("format") != SNAPSHOT_FORMAT:
        raise errors.PricingError(f"price snapshot is not in the {SNAPSHOT_FORMAT} format")
    records = document.get("records")
    if not isinstance(records, list):
        raise errors.PricingError("price snapshot has no records list")
    return InMemoryCatalog(
        [record_from_json(item) for item in records], source=source, version=str(document.get("version"))
    )


def read_snapshot_file(path: Path, *, source: str = "cache-file") -> InMemoryCatalog:
    try:
        payload = path.read_bytes()
    except OSError as err:
        raise errors.PricingError(f"cannot read price snapshot {path}: {err.strerror}") from err
    return parse_snapshot(payload, source=source)


_bundled: InMemoryCatalog | None = None


def load_bundled_catalog() -> InMemoryCatalog:
    """The snapshot shipped inside the package (loaded once per process; it never changes)."""
    global _bundled  # noqa: PLW0603 - one immutable catalog per process, built on first use
    if _bundled is None:
        payload = resources.files("cloudcostguard.pricing").joinpath("data", BUNDLED_RESOURCE).read_bytes()
        _bundled = parse_snapshot(payload, source="bundled")
    return _bundled

"""Build the bundled price snapshot from the reference price table in ../shared/pricing-samples/.

    python scripts/build_price_snapshot.py [--csv PATH] [--out PATH]

Every record keeps its origin (the CSV's ``source`` column) and its confidence tag. When the table
holds the same product tier more than once, the better-sourced row wins ([high] over [medium] over
[low]). Prices are copied as written: nothing is derived or invented here. The production way to
refresh the snapshot is ``cloudcostguard pricing export`` from a PostgreSQL store loaded with AWS's
own offer files.
"""

from __future__ import annotations

import argparse
import csv
import re
from decimal import Decimal
from pathlib import Path

from cloudcostguard.pricing.catalog import CONFIDENCE_RANK, PriceRecord
from cloudcostguard.pricing.snapshot import dump_snapshot, records_digest

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT.parent / "shared" / "pricing-samples" / "aws_prices_reference.csv"
DEFAULT_OUT = ROOT / "operator" / "cloudcostguard" / "pricing" / "data" / "aws-prices.json"
_CONFIDENCE = re.compile(r"^\[(high|medium|low)\]\s*")

# Attribute corrections, keyed by the CSV's product_key. Prices are never touched: these rows carry
# attribute values that no real offer file uses, so no pricer querying real attributes could match them.
ATTRIBUTE_CORRECTIONS: dict[str, tuple[dict[str, str], str]] = {
    "AmazonRDS|InstanceUsage:db.m5.xlarge|SQL Server SE (license included)": (
        {"databaseEngine": "SQL Server", "databaseEdition": "Standard", "licenseModel": "License included"},
        "AmazonRDS offer files name SQL Server editions with databaseEngine=SQL Server + databaseEdition",
    ),
}
# Rows whose evidence names another product as well: the extra record keeps the same price and origin.
ALSO_EVIDENCE_FOR: dict[str, tuple[dict[str, str], str]] = {
    "AmazonElastiCache|NodeUsage:cache.m4.large": (
        {"cacheEngine": "Memcached"},
        "the cited golden line is a memcached node; README: Memcached equals Redis for these nodes",
    ),
}


def parse_attributes(text: str) -> dict[str, str]:
    """``a=1;b=2;note=x; y`` → {a: 1, b: 2, note: "x; y"}: a part without '=' continues the last value."""
    attributes: dict[str, str] = {}
    last = None
    for part in text.split(";"):
        if "=" in part:
            last, value = part.split("=", 1)
            attributes[last.strip()] = value
        elif last is not None:
            attributes[last] += ";" + part
    attributes.pop("note", None)  # a human note, not a product attribute
    return attributes


def read_reference_csv(path: Path) -> list[PriceRecord]:
    best: dict[tuple[object, ...], PriceRecord] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            match = _CONFIDENCE.match(row["source"])
            if not match:
                raise SystemExit(f"{path}: row without a confidence tag: {row['product_key']}")
            attributes = parse_attributes(row["attributes"])
            attributes.pop("termType", None)  # every row is OnDemand; lookups never ask for it
            origin = row["source"][match.end() :]
            if row["product_key"] in ATTRIBUTE_CORRECTIONS:
                corrected, why = ATTRIBUTE_CORRECTIONS[row["product_key"]]
                attributes.update(corrected)
                origin += f" [attributes corrected: {why}]"
            variants = [(attributes, origin)]
            if row["product_key"] in ALSO_EVIDENCE_FOR:
                extra, why = ALSO_EVIDENCE_FOR[row["product_key"]]
                variants.append(({**attributes, **extra}, origin + f" [also recorded as {extra}: {why}]"))
            for variant_attributes, variant_origin in variants:
                _keep_best(best, row, match.group(1), variant_attributes, variant_origin)
    return sorted(
        best.values(),
        key=lambda r: (r.service, r.region, sorted(r.attributes.items()), r.unit, r.tier_start),
    )


def _keep_best(
    best: dict[tuple[object, ...], PriceRecord],
    row: dict[str, str],
    confidence: str,
    attributes: dict[str, str],
    origin: str,
) -> None:
    """Keep the better-sourced record when the table holds the same product tier twice."""
    record = PriceRecord(
        service=row["service"],
        region=row["region"],
        attributes=attributes,
        unit=row["unit"],
        unit_price=Decimal(row["usd_per_unit"]),
        tier_start=Decimal(row["tier_start"] or "0"),
        tier_end=None if row["tier_end"] in ("", "Inf") else Decimal(row["tier_end"]),
        origin=origin,
        confidence=confidence,
    )
    key = (
        record.service,
        record.region,
        record.unit,
        tuple(sorted(attributes.items())),
        record.tier_start,
    )
    kept = best.get(key)
    if kept is None or CONFIDENCE_RANK[record.confidence] < CONFIDENCE_RANK[kept.confidence]:
        best[key] = record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    records = read_reference_csv(args.csv)
    version = "reference-" + records_digest(records)[:12]
    args.out.write_bytes(
        dump_snapshot(
            records,
            version=version,
            source="shared/pricing-samples/aws_prices_reference.csv",
            generated_at="2026-11-25",
        )
    )
    print(f"wrote {len(records)} records, version {version}, to {args.out}")


if __name__ == "__main__":
    main()

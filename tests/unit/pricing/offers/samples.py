"""Helpers for the pricing-store tests: reading fixtures through the readers, writing offer files."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from cloudcostguard.pricing.catalog import PriceRecord
from cloudcostguard.pricing.offers.model import PriceRow, ProductRow, Selection
from cloudcostguard.pricing.offers.offer_csv import OfferCsvReader
from cloudcostguard.pricing.offers.offer_json import OfferJsonReader
from cloudcostguard.pricing.offers.source import OfferSource, open_offer_file, open_offer_stream

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "offers"
S3_EXCERPT = FIXTURES / "epam-cloud-pipeline_AmazonS3_us-east-1_2023-01_excerpt.json"
DEEP_ARCHIVE = FIXTURES / "epam-cloud-pipeline_AmazonS3GlacierDeepArchive_us-east-1_2023-02_excerpt.json"
EC2_2017 = FIXTURES / "lyft-awspricing-pr13_AmazonEC2_multi-family_2017.json"
EC2_C4 = FIXTURES / "lyft-awspricing-2018_AmazonEC2_c4.large.json"
RDS_2018 = FIXTURES / "lyft-awspricing-2018_AmazonRDS.json"
EC2_CSV = FIXTURES / "AmazonEC2-20250912225308-sample.csv"
SERVICE_INDEX = FIXTURES / "offers-v1.0-aws-index.json"
EC2_VERSION_INDEX = FIXTURES / "AmazonEC2-version-index.json"


class Read:
    """Everything one reader produced."""

    def __init__(self, source: OfferSource, reader: OfferJsonReader | OfferCsvReader) -> None:
        self.products: list[ProductRow] = []
        self.prices: list[PriceRow] = []
        for batch in reader.batches():
            (self.products if batch.kind == "products" else self.prices).extend(batch.rows)
        while source.stream.read(1 << 20):
            pass
        self.header = reader.header
        self.stats = reader.stats
        self.digest = source.digest
        self.prices_before_products = reader.prices_before_products

    def product(self, sku: str) -> ProductRow:
        return next(p for p in self.products if p.sku == sku)

    def prices_of(self, sku: str) -> list[PriceRow]:
        return sorted((p for p in self.prices if p.sku == sku), key=lambda p: p.tier_start)


def read_path(path: Path, selection: Selection | None = None, chunk_size: int | None = None) -> Read:
    with open_offer_file(path) as source:
        return _read(source, selection or Selection.from_lists(), chunk_size)


def read_bytes(payload: bytes, selection: Selection | None = None, chunk_size: int | None = None) -> Read:
    with open_offer_stream(io.BytesIO(payload), "test-offer") as source:
        return _read(source, selection or Selection.from_lists(), chunk_size)


def _read(source: OfferSource, selection: Selection, chunk_size: int | None) -> Read:
    if source.file_format == "json":
        kwargs: dict[str, Any] = {} if chunk_size is None else {"chunk_size": chunk_size}
        return Read(source, OfferJsonReader(source.stream, name=source.name, selection=selection, **kwargs))
    return Read(source, OfferCsvReader(source.stream, name=source.name, selection=selection))


def gzipped(payload: bytes) -> bytes:
    return gzip.compress(payload, mtime=0)


# --- writing offer files from price records (the bundled snapshot) --------------------------------

GLOBAL_LOCATION = "Global"


def offer_documents(records: Iterable[PriceRecord]) -> dict[str, dict[str, Any]]:
    """One offer-file document per service, in the official JSON layout, holding ``records``' prices.

    Each (service, region, unit, attributes) product gets a SKU; its tiers become price dimensions
    with beginRange/endRange. Global records get ``location: Global`` and no regionCode.
    """
    documents: dict[str, dict[str, Any]] = {}
    skus: dict[tuple[Any, ...], str] = {}
    for record in records:
        document = documents.setdefault(
            record.service,
            {
                "formatVersion": "v1.0",
                "disclaimer": "test data",
                "offerCode": record.service,
                "version": "20260101000000",
                "publicationDate": "2026-01-01T00:00:00Z",
                "products": {},
                "terms": {"OnDemand": {}},
            },
        )
        key = (record.service, record.region, record.unit, tuple(sorted(record.attributes.items())))
        sku = skus.get(key)
        if sku is None:
            sku = f"S{len(skus):015d}"
            skus[key] = sku
            attributes = {k: v for k, v in record.attributes.items() if k != "productFamily"}
            attributes["servicecode"] = record.service
            if record.region == "global":
                attributes["location"] = GLOBAL_LOCATION
            else:
                attributes["regionCode"] = record.region
            product: dict[str, Any] = {"sku": sku, "attributes": attributes}
            if "productFamily" in record.attributes:
                product["productFamily"] = record.attributes["productFamily"]
            document["products"][sku] = product
            term_code = f"{sku}.JRTCKXETXF"
            document["terms"]["OnDemand"][sku] = {
                term_code: {
                    "offerTermCode": "JRTCKXETXF",
                    "sku": sku,
                    "priceDimensions": {},
                    "termAttributes": {},
                }
            }
        dimensions = document["terms"]["OnDemand"][sku][f"{sku}.JRTCKXETXF"]["priceDimensions"]
        rate_code = f"{sku}.JRTCKXETXF.R{len(dimensions):09d}"
        dimensions[rate_code] = {
            "rateCode": rate_code,
            "description": "test",
            "beginRange": _range(record.tier_start),
            "endRange": "Inf" if record.tier_end is None else _range(record.tier_end),
            "unit": record.unit,
            "pricePerUnit": {"USD": str(record.unit_price)},
            "appliesTo": [],
        }
    return documents


def _range(value: Decimal) -> str:
    return format(value, "f")


def write_offer_files(records: Iterable[PriceRecord], folder: Path) -> list[Path]:
    paths = []
    for service, document in sorted(offer_documents(records).items()):
        path = folder / f"{service}.json"
        path.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        paths.append(path)
    return paths


def synthetic_ec2_offer(products: int, *, region: str = "us-east-1", sku_prefix: str = "X") -> dict[str, Any]:
    """An EC2-shaped offer document with ``products`` Linux instance products, one price each."""
    document: dict[str, Any] = {
        "formatVersion": "v1.0",
        "disclaimer": "synthetic",
        "offerCode": "AmazonEC2",
        "version": "20260101000000",
        "publicationDate": "2026-01-01T00:00:00Z",
        "products": {},
        "terms": {"OnDemand": {}},
    }
    for number in range(products):
        sku = f"{sku_prefix}{number:015d}"
        instance = f"t9.size{number}"
        document["products"][sku] = {
            "sku": sku,
            "productFamily": "Compute Instance",
            "attributes": {
                "servicecode": "AmazonEC2",
                "regionCode": region,
                "instanceType": instance,
                "operatingSystem": "Linux",
                "tenancy": "Shared",
                "preInstalledSw": "NA",
                "capacitystatus": "Used",
                "usagetype": f"BoxUsage:{instance}",
            },
        }
        rate = f"{sku}.JRTCKXETXF.6YS6EN2CT7"
        document["terms"]["OnDemand"][sku] = {
            f"{sku}.JRTCKXETXF": {
                "offerTermCode": "JRTCKXETXF",
                "sku": sku,
                "priceDimensions": {
                    rate: {
                        "rateCode": rate,
                        "beginRange": "0",
                        "endRange": "Inf",
                        "unit": "Hrs",
                        "pricePerUnit": {"USD": f"{number / 1000:.10f}"},
                        "appliesTo": [],
                    }
                },
                "termAttributes": {},
            }
        }
    return document

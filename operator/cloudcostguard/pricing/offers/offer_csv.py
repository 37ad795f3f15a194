"""A streaming reader of AWS Price List offer files in CSV (FORMAT.md §5).

Five metadata rows, a header, then one row per price dimension (product × term × rate code). The
leading columns are fixed (SKU … Location Type); the rest are product attributes under display
names ("Instance Type", "Pre Installed S/W", "usageType"), mapped back to the JSON keys the catalog
is queried with by ``attribute_key``. Rows stream through the csv module: memory holds one batch and
the set of SKUs already seen.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Iterator

from cloudcostguard import errors
from cloudcostguard.pricing.offers.locations import region_of
from cloudcostguard.pricing.offers.model import (
    CURRENCY,
    DROPPED_ATTRIBUTES,
    DROPPED_PREFIXES,
    EXCLUDED_CAPACITY_STATUS,
    ON_DEMAND,
    Batch,
    OfferHeader,
    PriceRow,
    ProductRow,
    ReadStats,
    Selection,
    decimal_or_error,
    tier_end_or_none,
)
from cloudcostguard.pricing.offers.source import HashingReader

BATCH_ROWS = 5000
CSV_BUFFER = 1024 * 1024
METADATA_ROWS_MAX = 10
REQUIRED_COLUMNS = (
    "SKU",
    "OfferTermCode",
    "RateCode",
    "TermType",
    "StartingRange",
    "EndingRange",
    "Unit",
    "PricePerUnit",
    "Currency",
)
# Fixed columns that are not product attributes (term and price fields).
PRICE_COLUMNS = frozenset(
    {
        *REQUIRED_COLUMNS,
        "PriceDescription",
        "EffectiveDate",
        "RelatedTo",
        "LeaseContractLength",
        "PurchaseOption",
        "OfferingClass",
    }
)
# Display names whose JSON key the generic rule below does not produce. The rule covers the rest:
# "Instance Type" → instanceType, "Volume API Name" → volumeApiName, "Region Code" → regionCode,
# one-word names lower-cased ("CapacityStatus" → capacitystatus, "usageType" → usagetype).
ATTRIBUTE_KEYS = {
    "Product Family": "productFamily",
    "Pre Installed S/W": "preInstalledSw",
    "serviceCode": "servicecode",
    "serviceName": "servicename",
    "Location": "location",
    "Location Type": "locationType",
}
_NON_ALNUM = re.compile(r"[^0-9A-Za-z]")

# Attribute cells are long (EC2's header has ~90 columns); allow large fields but keep a bound.
csv.field_size_limit(min(sys.maxsize, 16 * 1024 * 1024))


def attribute_key(display_name: str) -> str:
    """The JSON attribute key for a CSV column's display name."""
    known = ATTRIBUTE_KEYS.get(display_name)
    if known is not None:
        return known
    words = display_name.split()
    if len(words) == 1:
        return _NON_ALNUM.sub("", display_name).lower()
    head, *rest = words
    key = head.lower() + "".join(word[:1].upper() + word[1:].lower() for word in rest)
    return _NON_ALNUM.sub("", key)


class OfferCsvReader:
    """Iterate ``batches()`` once; ``header`` and ``stats`` are complete when it is exhausted."""

    def __init__(self, stream: HashingReader, *, name: str, selection: Selection) -> None:
        self._stream = stream
        self._name = name
        self._selection = selection
        self.header = OfferHeader(file_format="csv")
        self.stats = ReadStats()
        self.prices_before_products = False

    def batches(self) -> Iterator[Batch]:
        text = io.TextIOWrapper(io.BufferedReader(self._stream, CSV_BUFFER), encoding="utf-8-sig", newline="")
        reader = csv.reader(text, strict=True)
        line = 0
        try:
            columns = self._read_preamble(reader)
            line = reader.line_num
            yield from self._rows(reader, columns)
        except csv.Error as err:
            raise errors.OfferFileError(
                f"{self._name}: malformed CSV near line {reader.line_num}: {err}"
            ) from err
        except UnicodeDecodeError as err:
            raise errors.OfferFileError(
                f"{self._name}: not UTF-8 text near line {reader.line_num or line}"
            ) from err
        finally:
            text.detach()

    def _read_preamble(self, reader: Iterator[list[str]]) -> list[str]:
        metadata: dict[str, str] = {}
        for _ in range(METADATA_ROWS_MAX):
            row = next(reader, None)
            if row is None:
                break
            if row and row[0] == "SKU":
                self._apply_metadata(metadata)
                missing = [c for c in REQUIRED_COLUMNS if c not in row]
                if missing:
                    raise errors.OfferFileError(
                        f"{self._name}: not an AWS offer CSV: the header lacks {', '.join(missing)}"
                    )
                return row
            if len(row) >= 2:
                metadata[row[0]] = row[1]
        raise errors.OfferFileError(f"{self._name}: not an AWS offer CSV: no header row starting with SKU")

    def _apply_metadata(self, metadata: dict[str, str]) -> None:
        header = self.header
        header.format_version = metadata.get("FormatVersion")
        header.publication_date = metadata.get("Publication Date")
        header.version = metadata.get("Version")
        header.offer_code = metadata.get("OfferCode")
        if header.format_version is not None and not header.format_version.startswith("v1"):
            raise errors.OfferFileError(
                f"{self._name}: unsupported offer file FormatVersion {header.format_version!r}"
            )
        if header.offer_code:
            self._selection.check_service(header.offer_code)

    def _rows(self, reader: Iterator[list[str]], columns: list[str]) -> Iterator[Batch]:
        index = {name: i for i, name in enumerate(columns)}
        i_sku, i_term, i_rate = index["SKU"], index["TermType"], index["RateCode"]
        i_start, i_end, i_unit = index["StartingRange"], index["EndingRange"], index["Unit"]
        i_price, i_currency = index["PricePerUnit"], index["Currency"]
        attribute_columns = [
            (i, key)
            for i, name in enumerate(columns)
            if name not in PRICE_COLUMNS
            and (key := attribute_key(name)) not in DROPPED_ATTRIBUTES
            and not key.startswith(DROPPED_PREFIXES)
        ]
        region_columns = [
            (i, key)
            for i, name in enumerate(columns)
            if (key := attribute_key(name)) in ("regionCode", "location", "locationType", "fromLocation")
            or key in ("fromRegionCode", "toLocation", "toRegionCode")
        ]
        i_service = index.get("serviceCode")
        width = len(columns)
        offer_code = self.header.offer_code
        selection = self._selection
        stats = self.stats
        seen: dict[str, bool] = {}  # SKU → kept
        products: list[ProductRow] = []
        prices: list[PriceRow] = []
        for row in reader:
            if len(row) != width:
                if not row:
                    continue
                raise errors.OfferFileError(
                    f"{self._name}: line {reader.line_num} has {len(row)} fields, the header {width}"  # type: ignore[attr-defined]
                )
            if row[i_term] != ON_DEMAND:
                continue
            sku = row[i_sku]
            kept = seen.get(sku)
            if kept is None:
                stats.products_seen += 1
                kept = False
                service = offer_code or (row[i_service] if i_service is not None else "")
                if not service:
                    raise errors.OfferFileError(
                        f"{self._name}: the file names no OfferCode and no serviceCode"
                    )
                if service != offer_code:
                    selection.check_service(service)
                region = region_of({key: row[i] for i, key in region_columns if row[i]})
                if region is None:
                    stats.skip("location unknown")
                elif not selection.keeps_region(region):
                    stats.skip("region not selected")
                else:
                    attributes = {key: row[i] for i, key in attribute_columns if row[i]}
                    if attributes.get("capacitystatus") in EXCLUDED_CAPACITY_STATUS:
                        stats.skip("capacity reservation")
                    else:
                        attributes["sku"] = sku
                        family = attributes.get("productFamily")
                        products.append(ProductRow(sku, service, region, family, attributes))
                        kept = True
                seen[sku] = kept
            stats.prices_seen += 1
            if not kept:
                stats.skip("price of a product not kept")
                continue
            if row[i_currency] != CURRENCY:
                stats.skip("not priced in USD")
                continue
            where = f"{self._name}: line {reader.line_num}"  # type: ignore[attr-defined]
            prices.append(
                PriceRow(
                    sku,
                    row[i_rate],
                    row[i_unit],
                    decimal_or_error(row[i_price], "PricePerUnit", where),
                    decimal_or_error(row[i_start] or "0", "StartingRange", where),
                    tier_end_or_none(row[i_end], where),
                )
            )
            if len(prices) >= BATCH_ROWS:
                yield from self._flush(products, prices)
                products, prices = [], []
        yield from self._flush(products, prices)

    def _flush(self, products: list[ProductRow], prices: list[PriceRow]) -> Iterator[Batch]:
        self.stats.products_kept += len(products)
        self.stats.prices_kept += len(prices)
        if products:
            yield Batch("products", products)
        if prices:
            yield Batch("prices", prices)

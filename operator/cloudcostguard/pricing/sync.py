"""``cloudcostguard pricing sync``: AWS's public Price List into a local catalog file, no database.

For every service the pricers read (``PRICED_SERVICES``) and every region asked for, the chain of the
Bulk API (FORMAT.md §1-3) is followed by ``offers.download.PriceListClient``: service index →
the service's current region index → the regional offer file (JSON, or CSV with ``--format csv``),
whose URL names its version
(``/offers/v1.0/aws/AmazonEC2/20250912225308/eu-central-1/index.json``). Each file is streamed through
the same readers as ``pricing load`` (``offers.reading``), and the products with their on-demand
prices are written as one compact catalog file (``pricing.catalog_file``), atomically and checksummed.

- **Unchanged files are skipped**: the catalog file records each regional file's URL. A file whose
  URL (so version) is the same as last time is not downloaded again; its prices are taken from the
  catalog file. When nothing changed the file is left as it is.
- **Restartable**: downloads go to ``<catalog>.partial/``; a file downloaded and read completely is
  kept there (with its URL beside it) until the catalog is written, so a sync interrupted halfway
  (Ctrl-C, a lost connection) does not download the finished files again when it is run again.
- **Nothing half-done is ever used**: a truncated download, a corrupt file, a network failure or an
  interruption leaves the previous catalog file untouched. Every request has a timeout
  (``CCG_DOWNLOAD_TIMEOUT``), every file a size limit (``CCG_DOWNLOAD_MAX_BYTES``).
- Regions already in the catalog file stay in it (and are refreshed too), so ``sync --region X``
  adds X.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TextIO

from cloudcostguard import errors
from cloudcostguard.pricing.catalog import PriceRecord
from cloudcostguard.pricing.catalog_file import CatalogFile, read_catalog_file, write_catalog_file
from cloudcostguard.pricing.offers.download import PriceListClient, PriceListUnreachable, RegionalFile
from cloudcostguard.pricing.offers.locations import GLOBAL_REGION
from cloudcostguard.pricing.offers.model import PRICED_SERVICES, PriceRow, ProductRow, Selection
from cloudcostguard.pricing.offers.reading import LoadProgress, read_offer_files
from cloudcostguard.pricing.snapshot import dump_compact_snapshot, records_digest
from cloudcostguard.settings import Settings

SYNC_FORMAT_NOTE = "AWS Price List Bulk API"
_DONE_SUFFIX = ".url"  # beside a finished download: the URL it came from


@dataclass(frozen=True, slots=True)
class SyncedFile:
    service: str
    region: str
    url: str
    version: str | None
    publication_date: str | None
    sha256: str
    products: int
    prices: int
    reused: bool  # True: unchanged since the last sync, not downloaded

    def to_json(self) -> dict[str, object]:
        return {
            "service": self.service,
            "region": self.region,
            "url": self.url,
            "version": self.version,
            "publicationDate": self.publication_date,
            "sha256": self.sha256,
            "products": self.products,
            "prices": self.prices,
        }


@dataclass(slots=True)
class SyncResult:
    path: Path
    changed: bool
    files: list[SyncedFile] = field(default_factory=list)
    # (service, region) pairs for which AWS lists no offer file
    not_offered: list[tuple[str, str]] = field(default_factory=list)
    record_count: int = 0
    published_at: str | None = None
    sha256: str = ""


async def sync_catalog(
    settings: Settings,
    regions: Sequence[str],
    path: Path,
    *,
    services: Iterable[str] = PRICED_SERVICES,
    file_format: Literal["json", "csv"] = "json",
    progress_stream: TextIO | None = None,
    show_progress: bool | None = None,
) -> SyncResult:
    """Bring the catalog file at ``path`` up to date with the AWS Price List for ``regions``."""
    stream = progress_stream if progress_stream is not None else sys.stderr
    if show_progress is None:
        show_progress = bool(getattr(stream, "isatty", lambda: False)())
    previous = _previous_catalog(path)
    wanted = sorted(set(regions) | _regions_of(previous))
    if not wanted:
        raise errors.ConfigurationError(
            "no region to sync: pass --region REGION (repeatable) or --plan PLAN, or set CCG_PRICING_REGIONS"
        )
    known = {(f["service"], f["region"]): f for f in (previous.files if previous else [])}
    partial = path.with_name(path.name + ".partial")
    try:
        partial.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise errors.PricingError(f"cannot create {partial}: {err.strerror or err}") from err

    result = SyncResult(path=path, changed=False)
    records: list[PriceRecord] = []
    kept: dict[tuple[str, str], list[PriceRecord]] | None = None  # the previous file's, when needed
    try:
        async with PriceListClient(settings, progress_stream=stream, show_progress=show_progress) as client:
            for service in sorted(services):
                missing: list[str] = []
                offers = await client.resolve(
                    service, [*wanted, GLOBAL_REGION], file_format=file_format, missing=missing
                )
                result.not_offered += [(service, r) for r in missing if r != GLOBAL_REGION]
                for offer in offers:
                    before = known.get((offer.service, offer.region))
                    if previous is not None and before is not None and before.get("url") == offer.url:
                        if kept is None:
                            kept = _records_by_file(previous)
                        records += kept.get((offer.service, offer.region), [])
                        # A regional file also holds the service's global products (Route 53 zones).
                        records += kept.get((offer.service, GLOBAL_REGION), [])
                        result.files.append(_reused(before))
                        continue
                    synced, file_records = await _download_and_read(client, offer, partial)
                    records += file_records
                    result.files.append(synced)
                    result.changed = True
    except PriceListUnreachable as err:
        raise errors.PricingError(
            f"cannot reach the AWS Price List at {settings.pricing_base_url} ({err}); "
            + _fallback(path, previous),
            reason="PriceListUnreachable",
        ) from err
    except errors.CloudCostGuardError as err:
        raise errors.PricingError(f"{err}; {_fallback(path, previous)}", reason=err.reason) from err
    if previous is None or {(f.service, f.region) for f in result.files} != set(known):
        result.changed = True
    if not result.files:
        raise errors.PricingError(
            f"the AWS Price List offers none of the priced services in {', '.join(wanted)}"
        )
    records = _unique(records)
    result.published_at = min((f.publication_date for f in result.files if f.publication_date), default=None)
    result.record_count = len(records)
    if result.changed:
        payload = dump_compact_snapshot(
            records,
            version="aws-" + records_digest(records)[:12],
            source=f"{SYNC_FORMAT_NOTE} {settings.pricing_base_url}",
            generated_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            published_at=result.published_at,
            extra={"regions": wanted, "files": [f.to_json() for f in result.files]},
        )
        result.sha256 = write_catalog_file(path, payload)
    shutil.rmtree(partial, ignore_errors=True)
    return result


def _fallback(path: Path, previous: CatalogFile | None) -> str:
    if previous is not None:
        return f"the catalog file {path} is unchanged and still used"
    return "the bundled prices are still used"


def _previous_catalog(path: Path) -> CatalogFile | None:
    """The catalog file as it is now; None when there is none or it cannot be read (it is replaced)."""
    if not path.exists():
        return None
    with contextlib.suppress(errors.PricingError):
        return read_catalog_file(path)
    return None


def _regions_of(previous: CatalogFile | None) -> set[str]:
    regions = previous.header.get("regions") if previous is not None else None
    return {str(r) for r in regions} if isinstance(regions, list) else set()


def _records_by_file(previous: CatalogFile) -> dict[tuple[str, str], list[PriceRecord]]:
    """The previous catalog's records by (service, region), read once for every unchanged file."""
    grouped: dict[tuple[str, str], list[PriceRecord]] = {}
    for record in previous.catalog.records():
        grouped.setdefault((record.service, record.region), []).append(record)
    return grouped


def _unique(records: list[PriceRecord]) -> list[PriceRecord]:
    """Each product tier once: global products appear in every regional file of their service."""
    seen: set[tuple[object, ...]] = set()
    unique = []
    for record in records:
        key = (record.service, record.region, record.attributes.get("sku"), record.unit, record.tier_start)
        if key not in seen:
            seen.add(key)
            unique.append(record)
    return unique


def _reused(entry: dict[str, object]) -> SyncedFile:
    return SyncedFile(
        service=str(entry["service"]),
        region=str(entry["region"]),
        url=str(entry["url"]),
        version=None if entry.get("version") is None else str(entry["version"]),
        publication_date=None if entry.get("publicationDate") is None else str(entry["publicationDate"]),
        sha256=str(entry.get("sha256", "")),
        products=int(str(entry.get("products", 0))),
        prices=int(str(entry.get("prices", 0))),
        reused=True,
    )


async def _download_and_read(
    client: PriceListClient, offer: RegionalFile, partial: Path
) -> tuple[SyncedFile, list[PriceRecord]]:
    destination = partial / offer.file_name
    marker = destination.with_name(destination.name + _DONE_SUFFIX)
    finished = destination.exists() and marker.exists() and marker.read_text().strip() == offer.url
    try:
        if not finished:
            marker.unlink(missing_ok=True)
            await client.download(offer.url, destination, label=f"{offer.service} {offer.region}")
        synced, records = _read(destination, offer)
    except BaseException:
        # A file not downloaded or read to the end is not kept: the next run downloads it afresh.
        destination.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
        raise
    marker.write_text(offer.url + "\n")
    return synced, records


def _read(destination: Path, offer: RegionalFile) -> tuple[SyncedFile, list[PriceRecord]]:
    selection = Selection.from_lists([offer.service], [offer.region])
    progress = LoadProgress()
    products: dict[str, ProductRow] = {}
    prices: list[PriceRow] = []
    label = f"{offer.service} {offer.region} ({offer.url})"
    for batch in read_offer_files([(destination, label)], selection, progress):
        if batch.kind == "products":
            products.update((row.sku, row) for row in batch.rows)
        else:
            prices.extend(batch.rows)
    summary = progress.files[-1]
    if summary.offer_code not in (None, offer.service):
        raise errors.OfferFileError(f"{label} is an offer file for {summary.offer_code}, not {offer.service}")
    origin = (
        f"AWS Price List {offer.service} {summary.offer_version or '?'} {offer.region}"
        f" (published {summary.publication_date or '?'}; {offer.url})"
    )
    records = []
    priced: set[str] = set()
    for price in prices:
        product = products.get(price.sku)
        if product is None:
            continue  # a price without a product in this file (the loader reports these too)
        priced.add(price.sku)
        attributes = dict(product.attributes)
        if product.product_family:
            attributes["productFamily"] = product.product_family
        attributes["sku"] = product.sku
        records.append(
            PriceRecord(
                service=product.service,
                region=product.region,
                attributes=attributes,
                unit=price.unit,
                unit_price=price.usd_per_unit,
                tier_start=price.tier_start,
                tier_end=price.tier_end,
                origin=origin,
                confidence="official",
            )
        )
    if not records:
        raise errors.OfferFileError(f"{label} holds no on-demand price: not a usable offer file")
    synced = SyncedFile(
        service=offer.service,
        region=offer.region,
        url=offer.url,
        version=summary.offer_version,
        publication_date=summary.publication_date,
        sha256=summary.digest,
        products=len(priced),
        prices=len(records),
        reused=False,
    )
    return synced, records


def describe(result: SyncResult) -> list[str]:
    """The lines ``pricing sync`` prints: one per regional file, then the outcome."""
    lines = []
    for synced in result.files:
        state = "unchanged" if synced.reused else "downloaded"
        lines.append(
            f"{synced.service} {synced.region}: version {synced.version or '?'} "
            f"(published {synced.publication_date or '?'}), {synced.products} products, "
            f"{synced.prices} prices, {state}"
        )
    for service, region in result.not_offered:
        lines.append(f"{service} {region}: AWS lists no offer file for this region")
    if result.changed:
        lines.append(
            f"wrote {result.record_count} prices to {result.path} (sha256 {result.sha256[:12]}, "
            f"published {result.published_at or '?'})"
        )
    else:
        lines.append(f"{result.path} is up to date ({result.record_count} prices)")
    return lines

"""Reading offer files one after another into row batches, with a summary of each file.

``pricing.store.bulk_load`` streams these batches into PostgreSQL; ``pricing.sync`` builds a catalog
file from them. Both see the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudcostguard.pricing.offers.model import Batch, ReadStats, Selection
from cloudcostguard.pricing.offers.offer_csv import OfferCsvReader
from cloudcostguard.pricing.offers.offer_json import OfferJsonReader
from cloudcostguard.pricing.offers.source import open_offer_file


@dataclass(slots=True)
class FileSummary:
    source: str
    file_format: str
    offer_code: str | None
    offer_version: str | None
    publication_date: str | None
    digest: str
    bytes_read: int
    stats: ReadStats

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.file_format,
            "offerCode": self.offer_code,
            "offerVersion": self.offer_version,
            "publicationDate": self.publication_date,
            "digest": self.digest,
            "bytes": self.bytes_read,
            "productsRead": self.stats.products_seen,
            "productsKept": self.stats.products_kept,
            "pricesRead": self.stats.prices_seen,
            "pricesKept": self.stats.prices_kept,
            "skipped": self.stats.skipped,
        }


@dataclass(slots=True)
class LoadProgress:
    """What the row stream has seen so far (read by the loader after the COPYs finish)."""

    files: list[FileSummary] = field(default_factory=list)
    covered: set[tuple[str, str]] = field(default_factory=set)
    prices_before_products: bool = False
    products_sent: int = 0
    prices_sent: int = 0
    products_read: int = 0
    publication_dates: list[str] = field(default_factory=list)


def read_offer_files(
    paths: Sequence[tuple[Path, str]], selection: Selection, progress: LoadProgress
) -> Iterator[Batch]:
    """Every file's batches in turn; each file's summary is recorded when it has been read to the end."""
    for path, label in paths:
        with open_offer_file(path, name=label) as source:
            reader: OfferJsonReader | OfferCsvReader
            if source.file_format == "json":
                reader = OfferJsonReader(source.stream, name=label, selection=selection)
            else:
                reader = OfferCsvReader(source.stream, name=label, selection=selection)
            for batch in reader.batches():
                if batch.kind == "products":
                    progress.covered.update((row[1], row[2]) for row in batch.rows)
                yield batch
            # Read to the very end so the digest covers the whole content.
            while source.stream.read(1024 * 1024):
                pass
            header = reader.header
            progress.prices_before_products |= reader.prices_before_products
            progress.products_read += reader.stats.products_seen
            if header.publication_date:
                progress.publication_dates.append(header.publication_date)
            progress.files.append(
                FileSummary(
                    source=label,
                    file_format=source.file_format,
                    offer_code=header.offer_code,
                    offer_version=header.version,
                    publication_date=header.publication_date,
                    digest=source.digest,
                    bytes_read=source.stream.bytes_read,
                    stats=reader.stats,
                )
            )

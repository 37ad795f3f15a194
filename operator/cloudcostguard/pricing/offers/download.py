"""Fetching offer files from the AWS Price List Bulk API (``pricing load --from-aws SERVICE --region R``).

Resolution (FORMAT.md §1-3), every URL relative to ``Settings.pricing_base_url``:
    /offers/v1.0/aws/index.json                      → offers[SERVICE].currentRegionIndexUrl
    (with --version V: offers[SERVICE].versionIndexUrl → versions[V].offerVersionUrl, whose folder
     holds that version's region_index.json)
    region_index.json                                → regions[R].currentVersionUrl (or versionUrl)
    /offers/v1.0/aws/SERVICE/VERSION/R/index.json    → the regional offer file (index.csv for CSV)

Downloads go to a file (the loader then streams it from disk), with a per-read timeout
(``download_timeout``: seconds without progress), a size limit (``download_max_bytes``), retries
with exponential backoff and jitter for transient failures (connection errors, timeouts, 429, 5xx),
and a progress bar on stderr. Only URLs on the configured host are followed.
"""

from __future__ import annotations

import asyncio
import difflib
import random
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import aiohttp
import orjson

from cloudcostguard import errors
from cloudcostguard.settings import Settings

INDEX_PATH = "/offers/v1.0/aws/index.json"
MAX_INDEX_BYTES = 64 * 1024 * 1024  # the service index is ~80 kB, region indexes smaller
CHUNK = 1024 * 1024
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BACKOFF_CAP = 30.0


class DownloadError(errors.PricingError):
    reason = "PriceListDownloadFailed"
    transient = True


class _Retryable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class RegionalFile:
    service: str
    region: str
    url: str
    file_format: Literal["json", "csv"]

    @property
    def file_name(self) -> str:
        return f"{self.service}-{self.region}.{self.file_format}"


class ProgressBar:
    """Bytes received, on a terminal redrawn in place; elsewhere a line at each quarter."""

    WIDTH = 30

    def __init__(self, label: str, total: int | None, stream: TextIO | None = None) -> None:
        self._label = label
        self._total = total
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._done = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0
        self._quarter = 0

    def update(self, count: int) -> None:
        self._done += count
        now = time.monotonic()
        if self._tty:
            if now - self._drawn_at >= 0.1:
                self._drawn_at = now
                self._stream.write("\r" + self._line())
                self._stream.flush()
        elif self._total:
            quarter = min(4, self._done * 4 // self._total)
            if quarter > self._quarter and quarter < 4:
                self._quarter = quarter
                self._stream.write(self._line() + "\n")

    def finish(self) -> None:
        self._stream.write(("\r" if self._tty else "") + self._line(final=True) + "\n")
        self._stream.flush()

    def _line(self, final: bool = False) -> str:
        mib = self._done / (1024 * 1024)
        seconds = max(time.monotonic() - self._started, 1e-6)
        rate = f"{mib / seconds:.1f} MiB/s"
        if self._total:
            fraction = min(1.0, self._done / self._total)
            filled = int(fraction * self.WIDTH)
            bar = "#" * filled + "-" * (self.WIDTH - filled)
            total = self._total / (1024 * 1024)
            text = f"{self._label} [{bar}] {fraction:4.0%} {mib:.1f}/{total:.1f} MiB {rate}"
        else:
            text = f"{self._label} {mib:.1f} MiB {rate}"
        return text + (" done" if final else "")


class PriceListClient:
    """One aiohttp session for a resolution and its downloads (``async with``)."""

    def __init__(
        self,
        settings: Settings,
        *,
        base_url: str | None = None,
        backoff: float = 1.0,
        progress_stream: TextIO | None = None,
        show_progress: bool = True,
    ) -> None:
        self._settings = settings
        self._base = (base_url or settings.pricing_base_url).rstrip("/")
        base = urllib.parse.urlsplit(self._base)
        if base.scheme not in ("http", "https") or not base.netloc:
            raise errors.ConfigurationError(f"CCG_PRICING_BASE_URL is not an http(s) URL: {self._base}")
        self._host = base.netloc
        self._backoff = backoff
        self._progress_stream = progress_stream
        self._show_progress = show_progress
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PriceListClient:
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self._settings.download_timeout,
            sock_connect=self._settings.download_timeout,
            sock_read=self._settings.download_timeout,
        )
        self._session = aiohttp.ClientSession(timeout=timeout, raise_for_status=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def url(self, reference: str) -> str:
        """An index's (relative) URL made absolute, refusing other hosts."""
        absolute = urllib.parse.urljoin(self._base + "/", reference)
        if urllib.parse.urlsplit(absolute).netloc != self._host:
            raise DownloadError(f"the price list points outside {self._host}: {reference}")
        return absolute

    # --- resolution -----------------------------------------------------------------------------

    async def resolve(
        self,
        service: str,
        regions: list[str],
        *,
        version: str | None = None,
        file_format: Literal["json", "csv"] = "json",
    ) -> list[RegionalFile]:
        index = await self.fetch_json(self.url(INDEX_PATH))
        offers = index.get("offers") if isinstance(index, dict) else None
        if not isinstance(offers, dict):
            raise DownloadError(f"{self.url(INDEX_PATH)} is not the price list's service index")
        offer = offers.get(service)
        if not isinstance(offer, dict):
            close = difflib.get_close_matches(service, list(offers), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise errors.OfferFileError(
                f"unknown service {service}: not in the AWS price list index{hint}",
                reason="OfferServiceUnknown",
            )
        if version is None:
            region_index_ref = offer.get("currentRegionIndexUrl") or _sibling(
                str(offer.get("currentVersionUrl", "")), "region_index.json"
            )
        else:
            version_index = await self.fetch_json(self.url(str(offer.get("versionIndexUrl", ""))))
            versions = version_index.get("versions") if isinstance(version_index, dict) else None
            entry = versions.get(version) if isinstance(versions, dict) else None
            if not isinstance(entry, dict) or not entry.get("offerVersionUrl"):
                raise errors.OfferFileError(f"{service} has no price list version {version}")
            region_index_ref = _sibling(str(entry["offerVersionUrl"]), "region_index.json")
        region_index = await self.fetch_json(self.url(str(region_index_ref)))
        entries = _region_entries(region_index)
        files = []
        for region in regions:
            reference = entries.get(region)
            if reference is None:
                close = difflib.get_close_matches(region, list(entries), n=3)
                hint = f" (did you mean {', '.join(close)}?)" if close else ""
                raise errors.OfferFileError(f"{service} has no price list for region {region}{hint}")
            if file_format == "csv":
                reference = reference.removesuffix(".json") + ".csv"
            files.append(RegionalFile(service, region, self.url(reference), file_format))
        return files

    # --- transfers ------------------------------------------------------------------------------

    async def fetch_json(self, url: str) -> Any:
        payload = await self._with_retries(url, lambda: self._get_bytes(url, MAX_INDEX_BYTES))
        try:
            return orjson.loads(payload)
        except orjson.JSONDecodeError as err:
            raise DownloadError(f"{url} is not valid JSON: {err}") from err

    async def download(self, url: str, destination: Path, *, label: str | None = None) -> int:
        """Download ``url`` to ``destination`` (replaced on retry); returns the bytes written."""
        written: int = await self._with_retries(url, lambda: self._get_file(url, destination, label or url))
        return written

    async def _with_retries(self, url: str, attempt: Any) -> Any:
        retries = self._settings.download_retries
        for number in range(retries + 1):
            try:
                return await attempt()
            except _Retryable as err:
                if number == retries:
                    raise DownloadError(f"cannot download {url} after {retries + 1} attempts: {err}") from err
                delay = min(BACKOFF_CAP, self._backoff * 2**number) * (1 + random.random() / 10)  # noqa: S311
                print(f"retrying {url} in {delay:.1f}s: {err}", file=self._progress_stream or sys.stderr)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _get_bytes(self, url: str, limit: int) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async with self._request(url) as response:
            await self._check(response, url, limit)
            try:
                async for chunk in response.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise DownloadError(f"{url} is larger than the limit of {limit} bytes")
                    chunks.append(chunk)
            except (aiohttp.ClientError, TimeoutError) as err:
                raise _Retryable(_describe(err)) from err
        return b"".join(chunks)

    async def _get_file(self, url: str, destination: Path, label: str) -> int:
        limit = self._settings.download_max_bytes
        size = 0
        async with self._request(url) as response:
            await self._check(response, url, limit)
            bar = (
                ProgressBar(label, response.content_length, self._progress_stream)
                if self._show_progress
                else None
            )
            try:
                with destination.open("wb") as handle:
                    async for chunk in response.content.iter_chunked(CHUNK):
                        size += len(chunk)
                        if size > limit:
                            raise DownloadError(f"{url} is larger than the limit of {limit} bytes")
                        handle.write(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
            except (aiohttp.ClientError, TimeoutError) as err:
                raise _Retryable(_describe(err)) from err
            except OSError as err:
                raise DownloadError(f"cannot write {destination}: {err.strerror or err}") from err
            if bar is not None:
                bar.finish()
        return size

    def _request(self, url: str) -> Any:
        assert self._session is not None, "use PriceListClient in `async with`"
        return _RetryingRequest(self._session, url)

    async def _check(self, response: aiohttp.ClientResponse, url: str, limit: int) -> None:
        if response.status in RETRY_STATUSES:
            raise _Retryable(f"HTTP {response.status}")
        if response.status != 200:
            raise DownloadError(f"{url}: HTTP {response.status} {response.reason or ''}".rstrip())
        if response.content_length is not None and response.content_length > limit:
            raise DownloadError(f"{url} is {response.content_length} bytes, over the limit of {limit}")


class _RetryingRequest:
    """``session.get`` whose connection failures are retryable (an async context manager)."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self._session = session
        self._url = url
        self._response: aiohttp.ClientResponse | None = None

    async def __aenter__(self) -> aiohttp.ClientResponse:
        try:
            self._response = await self._session.get(self._url)
        except (aiohttp.ClientError, TimeoutError) as err:
            raise _Retryable(_describe(err)) from err
        return self._response

    async def __aexit__(self, *exc: object) -> None:
        if self._response is not None:
            self._response.release()


def _describe(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return "no data within the download timeout"
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _sibling(reference: str, name: str) -> str:
    if not reference:
        raise DownloadError("the price list index names no URL for this offer")
    return reference.rsplit("/", 1)[0] + "/" + name


def _region_entries(region_index: Any) -> dict[str, str]:
    """{region: offer file URL} from either region index shape (object of objects, or array)."""
    regions = region_index.get("regions") if isinstance(region_index, dict) else None
    entries: dict[str, str] = {}
    items: list[Any]
    if isinstance(regions, dict):
        items = list(regions.values())
    elif isinstance(regions, list):
        items = regions
    else:
        raise DownloadError("not a price list region index (no regions)")
    for item in items:
        if isinstance(item, dict) and item.get("regionCode"):
            url = item.get("currentVersionUrl") or item.get("versionUrl")
            if url:
                entries[str(item["regionCode"])] = str(url)
    return entries

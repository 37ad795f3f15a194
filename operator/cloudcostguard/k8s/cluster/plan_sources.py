"""Fetch the plan bytes a CostEstimate points at: inline, ConfigMap/Secret key, tofu-controller Secret, URL.

ConfigMaps, Secrets and tofu-controller Secrets are read from kopf indexes (no API call per reconcile);
only URLs cause network traffic. Every failure is a ``CloudCostGuardError`` whose ``transient`` flag says
whether retrying can help: a missing object or a network error is transient (retried with backoff), a
plan that is not JSON, too large or behind a forbidden address is permanent (Stalled until it changes).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import socket
import ssl
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import aiohttp
import aiohttp.abc
import orjson

from cloudcostguard import errors
from cloudcostguard.k8s.api.models import PLAN_SOURCE_LABEL, PlanSource
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.settings import Settings

GZIP_MAGIC = b"\x1f\x8b"
# Redirects followed for spec.plan.url; each hop must again be https and pass the address check.
MAX_REDIRECTS = 3
_READ_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class ResolvedPlan:
    raw: bytes
    digest: str  # "sha256:<hex>" of ``raw``, as status.planDigest
    source: str  # inline | configMapKeyRef | secretKeyRef | terraformRef | url
    origin: str  # for messages: "ConfigMap team/plans key plan.json"


def digest_of(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def gunzip(payload: bytes, *, max_bytes: int, what: str) -> bytes:
    """Decompress gzip without ever holding more than ``max_bytes`` (a small bomb stays small)."""
    output = bytearray()
    remaining = payload
    while remaining:
        decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            output += decompressor.decompress(remaining, max_bytes + 1 - len(output))
        except zlib.error as err:
            raise errors.PlanError(f"{what} is not valid gzip: {err}") from err
        if len(output) > max_bytes:
            raise errors.PlanTooLargeError(f"{what} decompresses to more than {max_bytes} bytes")
        if not decompressor.eof:
            raise errors.PlanError(f"{what} is a truncated gzip stream")
        remaining = decompressor.unused_data  # gzip allows several concatenated members
    return bytes(output)


def maybe_gunzip(payload: bytes, *, max_bytes: int, what: str) -> bytes:
    if payload[:2] == GZIP_MAGIC:
        return gunzip(payload, max_bytes=max_bytes, what=what)
    if len(payload) > max_bytes:
        raise errors.PlanTooLargeError(f"{what} is {len(payload)} bytes, more than the limit of {max_bytes}")
    return payload


class PlanResolver:
    """Turns a validated ``spec.plan`` into plan bytes, reading the indexes it is given."""

    def __init__(self, settings: Settings, url_fetcher: UrlFetcher | None = None) -> None:
        self._settings = settings
        self._url_fetcher = url_fetcher

    async def resolve(
        self,
        namespace: str,
        source: PlanSource,
        *,
        plan_configmaps: Mapping[Any, Any],
        plan_secrets: Mapping[Any, Any],
        tofu_plans: Mapping[Any, Any],
    ) -> ResolvedPlan:
        max_bytes = self._settings.max_plan_bytes
        if source.inline is not None:
            try:
                # Sorted keys: the same plan gives the same digest however the API server ordered it.
                raw = orjson.dumps(source.inline, option=orjson.OPT_SORT_KEYS)
            except (TypeError, orjson.JSONEncodeError) as err:
                raise errors.PlanError(f"spec.plan.inline is not JSON-serialisable: {err}") from err
            if len(raw) > max_bytes:
                raise errors.PlanTooLargeError(
                    f"spec.plan.inline is {len(raw)} bytes, more than the limit of {max_bytes}"
                )
            return ResolvedPlan(raw, digest_of(raw), "inline", "spec.plan.inline")
        if source.config_map_key_ref is not None:
            ref = source.config_map_key_ref
            raw = _read_key(
                plan_configmaps,
                indexes.CONFIGMAP,
                namespace=namespace,
                name=ref.name,
                key=ref.key,
                max_bytes=max_bytes,
            )
            return ResolvedPlan(
                raw, digest_of(raw), "configMapKeyRef", f"ConfigMap {namespace}/{ref.name} key {ref.key}"
            )
        if source.secret_key_ref is not None:
            ref = source.secret_key_ref
            raw = _read_key(
                plan_secrets,
                indexes.SECRET,
                namespace=namespace,
                name=ref.name,
                key=ref.key,
                max_bytes=max_bytes,
            )
            return ResolvedPlan(
                raw, digest_of(raw), "secretKeyRef", f"Secret {namespace}/{ref.name} key {ref.key}"
            )
        if source.terraform_ref is not None:
            base = indexes.tofu_base_name(source.terraform_ref.workspace, source.terraform_ref.name)
            raw = read_tofu_plan(tofu_plans.get((namespace, base), ()), namespace, base, max_bytes)
            return ResolvedPlan(raw, digest_of(raw), "terraformRef", f"Secret {namespace}/{base}")
        if source.url is not None:
            if self._url_fetcher is None:
                raise errors.PlanSourceError("spec.plan.url is not available in this process")
            raw = await self._url_fetcher.fetch(source.url)
            return ResolvedPlan(raw, digest_of(raw), "url", source.url)
        raise errors.PlanError("spec.plan has no source")  # unreachable: the model validates it


def _read_key(
    index: Mapping[Any, Any], kind: str, *, namespace: str, name: str, key: str, max_bytes: int
) -> bytes:
    store = index.get((namespace, name))
    plan_object = next(iter(store), None) if store is not None else None
    what = f"{kind} {namespace}/{name}"
    if plan_object is None:
        raise errors.PlanSourceError(
            f"{what} not found (it must exist and carry the label {PLAN_SOURCE_LABEL})"
        )
    try:
        payload = plan_object.value(key)
    except ValueError as err:
        raise errors.PlanError(str(err)) from err
    if payload is None:
        known = ", ".join(plan_object.keys()) or "none"
        raise errors.PlanSourceError(f"{what} has no key {key!r} (keys: {known})")
    return maybe_gunzip(payload, max_bytes=max_bytes, what=f"{what} key {key}")


def read_tofu_plan(chunks: Any, namespace: str, base: str, max_bytes: int) -> bytes:
    """Reassemble tofu-controller's plan Secret(s): base64 → concatenated gzip slices → JSON bytes.

    tofu-controller deletes the old Secrets before writing new ones, and writes chunks one by one, so a
    missing, partial or mixed set is transient: the next index event (the Secret written) retries it.
    """
    what = f"Secret {namespace}/{base}"
    items: list[indexes.TofuPlanChunk] = list(chunks)
    if not items:
        raise errors.PlanSourceError(
            f"{what} not found (tofu-controller writes it with spec.storeReadablePlan: json)"
        )
    plan_ids = {item.plan_id for item in items}
    if len(plan_ids) > 1:
        raise errors.PlanSourceError(
            f"{what} is being replaced (chunks of plans {sorted(map(str, plan_ids))})"
        )
    single = [item for item in items if item.chunk is None]
    if single and len(items) > 1:
        raise errors.PlanSourceError(f"{what} is being replaced (both a whole plan and chunks exist)")
    ordered = sorted(items, key=lambda item: item.chunk or 0)
    expected = list(range(len(ordered)))
    if not single and [item.chunk for item in ordered] != expected:
        present = ", ".join(str(item.chunk) for item in ordered)
        raise errors.PlanSourceError(f"{what} is incomplete (chunks present: {present})")
    compressed = bytearray()
    for item in ordered:
        if item.encoded is None:
            raise errors.PlanSourceError(
                f"Secret {namespace}/{item.name} has no key {indexes.TOFU_PLAN_KEY!r}"
            )
        try:
            compressed += base64.b64decode(item.encoded, validate=True)
        except ValueError as err:
            raise errors.PlanError(f"Secret {namespace}/{item.name} is not base64") from err
        if len(compressed) > max_bytes:
            raise errors.PlanTooLargeError(f"{what} is more than the limit of {max_bytes} bytes")
    try:
        return gunzip(bytes(compressed), max_bytes=max_bytes, what=what)
    except errors.PlanTooLargeError:
        raise
    except errors.PlanError as err:
        # A truncated stream is what a last chunk not yet written looks like: retry rather than stall.
        raise errors.PlanSourceError(f"{err} (a chunk may still be being written)") from err


# --- URL ---------------------------------------------------------------------------------------------


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Only globally routable addresses, unless private ones are allowed by configuration.

    ``is_global`` is False for loopback, RFC 1918, link-local (cloud metadata at 169.254.169.254),
    carrier-grade NAT, unique-local IPv6, multicast, reserved and unspecified addresses; an IPv4-mapped
    IPv6 address is judged by its IPv4 address.
    """
    if allow_private:
        return True
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class ForbiddenAddressError(Exception):
    """Raised by the resolver, deliberately not an OSError, so that aiohttp does not wrap it."""


class CheckedResolver(aiohttp.abc.AbstractResolver):
    """Resolves, then refuses the connection when any address is not allowed.

    Checking the addresses aiohttp actually connects to (not a separate lookup) closes the DNS
    rebinding gap between a check and the connection.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = aiohttp.ThreadedResolver()
        self._allow_private = allow_private

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> Any:
        infos = await self._inner.resolve(host, port, family)
        for info in infos:
            if not address_allowed(info["host"], allow_private=self._allow_private):
                raise ForbiddenAddressError(
                    f"{host} resolves to {info['host']}, which is not a public address"
                )
        return infos

    async def close(self) -> None:
        await self._inner.close()


class UrlFetcher:
    """Fetches ``spec.plan.url``: https only, bounded size and time, public addresses only (by default)."""

    def __init__(
        self, settings: Settings, *, session_factory: Callable[[], aiohttp.ClientSession] | None = None
    ):
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._session_factory = session_factory or self._default_session
        self._lock = asyncio.Lock()

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self._settings.url_ca_file is not None:
            context.load_verify_locations(cafile=str(self._settings.url_ca_file))
        return context

    def _default_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=CheckedResolver(allow_private=self._settings.url_allow_private),
            ssl=self._ssl_context(),
            limit=8,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._settings.url_timeout),
            auto_decompress=False,  # the size limit applies to what is decompressed, see maybe_gunzip
            trust_env=False,
            headers={"Accept": "application/json", "User-Agent": "cloudcostguard"},
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _get_session(self) -> aiohttp.ClientSession:
        async with self._lock:
            if self._session is None or self._session.closed:
                self._session = self._session_factory()
            return self._session

    async def fetch(self, url: str) -> bytes:
        settings = self._settings
        try:
            async with asyncio.timeout(settings.url_timeout):
                return await self._fetch(url)
        except TimeoutError as err:
            raise errors.PlanSourceError(
                f"fetching {url} took longer than {settings.url_timeout:g} s", reason="PlanFetchFailed"
            ) from err

    async def _fetch(self, url: str) -> bytes:
        settings = self._settings
        session = await self._get_session()
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            _check_url(current, allow_private=settings.url_allow_private)
            try:
                async with session.get(current, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                        current = urljoin(current, response.headers["Location"])
                        continue
                    if response.status in (404, 410):
                        raise errors.PlanSourceError(f"{url} answered HTTP {response.status}")
                    if response.status >= 400:
                        raise errors.PlanSourceError(
                            f"{url} answered HTTP {response.status}", reason="PlanFetchFailed"
                        )
                    length = response.content_length
                    if length is not None and length > settings.url_max_bytes:
                        raise errors.PlanTooLargeError(
                            f"{url} is {length} bytes, more than the limit of {settings.url_max_bytes}"
                        )
                    payload = bytearray()
                    async for block in response.content.iter_chunked(_READ_CHUNK):
                        payload += block
                        if len(payload) > settings.url_max_bytes:
                            raise errors.PlanTooLargeError(
                                f"{url} is more than the limit of {settings.url_max_bytes} bytes"
                            )
            except ForbiddenAddressError as err:
                raise errors.PlanError(f"{url}: {err}", reason="PlanURLForbidden") from err
            except aiohttp.ClientConnectorError as err:
                cause = getattr(err, "os_error", None)
                if isinstance(cause, ForbiddenAddressError):
                    raise errors.PlanError(f"{url}: {cause}", reason="PlanURLForbidden") from err
                raise errors.PlanSourceError(
                    f"cannot connect to {urlsplit(url).netloc}: {_describe(err)}", reason="PlanFetchFailed"
                ) from err
            except aiohttp.ClientError as err:
                raise errors.PlanSourceError(
                    f"fetching {url} failed: {_describe(err)}", reason="PlanFetchFailed"
                ) from err
            return maybe_gunzip(bytes(payload), max_bytes=settings.max_plan_bytes, what=url)
        raise errors.PlanSourceError(
            f"{url} redirects more than {MAX_REDIRECTS} times", reason="PlanFetchFailed"
        )


def _check_url(url: str, *, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise errors.PlanError(
            f"spec.plan.url must use https, not {parts.scheme or 'no scheme'}: {url}", reason="PlanURLInvalid"
        )
    if not parts.hostname:
        raise errors.PlanError(f"spec.plan.url has no host: {url}", reason="PlanURLInvalid")
    # aiohttp connects to literal IP addresses without asking the resolver, so they are checked here.
    try:
        ipaddress.ip_address(parts.hostname.strip("[]"))
    except ValueError:
        return
    if not address_allowed(parts.hostname.strip("[]"), allow_private=allow_private):
        raise errors.PlanError(f"{url}: {parts.hostname} is not a public address", reason="PlanURLForbidden")


def _describe(err: BaseException) -> str:
    return " ".join((str(err) or type(err).__name__).split())

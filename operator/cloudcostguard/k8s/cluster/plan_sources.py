"""Fetch the plan bytes a CostEstimate points at: inline, ConfigMap/Secret key, tofu-controller Secret, URL.

ConfigMaps, Secrets and tofu-controller Secrets are read from kopf indexes (no API call per reconcile);
only URLs cause network traffic. Every failure is a ``CloudCostGuardError`` whose ``transient`` flag says
whether retrying can help: a missing object or a network error is transient (retried with backoff), a
plan that is not JSON, too large or behind a forbidden address is permanent (Stalled until it changes).

URLs are hostile input (docs/security.md): https only, public addresses only — judged on the URL as
aiohttp parses it, on every DNS answer and on the socket before it connects — redirects judged like the
first URL, bounded size, time, and per-namespace concurrency and rate (``throttling``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import re
import socket
import ssl
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
import aiohttp.abc
import orjson
import yarl

from cloudcostguard import errors
from cloudcostguard.k8s.api.models import PLAN_SOURCE_LABEL, PlanSource
from cloudcostguard.k8s.cluster import indexes, throttling
from cloudcostguard.settings import Settings

GZIP_MAGIC = b"\x1f\x8b"
# Redirects followed for spec.plan.url; each hop must again be https and pass the address check.
MAX_REDIRECTS = 3
# tofu-controller and `gzip` write one member; `cat a.gz b.gz` a few. Bounds the work per payload.
MAX_GZIP_MEMBERS = 64
_READ_CHUNK = 64 * 1024
# Condition reasons of tofu-controller chunk sets (transient and permanent, see read_tofu_plan).
INCOMPLETE = "PlanIncomplete"
CHUNKS_INVALID = "PlanChunksInvalid"


@dataclass(frozen=True, slots=True)
class ResolvedPlan:
    raw: bytes
    digest: str  # "sha256:<hex>" of ``raw``, as status.planDigest
    source: str  # inline | configMapKeyRef | secretKeyRef | terraformRef | url
    origin: str  # for messages: "ConfigMap team/plans key plan.json"


def digest_of(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def gunzip(payload: bytes, *, max_bytes: int, what: str) -> bytes:
    """Decompress gzip without ever holding more than ``max_bytes`` (a small bomb stays small).

    Several concatenated members are allowed (gzip's own ``cat a.gz b.gz``), at most
    ``MAX_GZIP_MEMBERS``: each member costs a copy of what follows it, and a payload of a million empty
    members would otherwise keep the event loop busy for minutes.
    """
    output = bytearray()
    remaining = payload
    members = 0
    while remaining:
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise errors.PlanError(f"{what} has more than {MAX_GZIP_MEMBERS} concatenated gzip members")
        chunk, remaining = _inflate_member(remaining, max_bytes=max_bytes - len(output), what=what)
        output += chunk
    return bytes(output)


class TruncatedGzipError(errors.PlanError):
    """The gzip stream ends before its end marker (a partial upload, a chunk not yet written)."""

    reason = "PlanInvalid"


def _inflate_member(payload: bytes, *, max_bytes: int, what: str) -> tuple[bytes, bytes]:
    """One gzip member of at most ``max_bytes``, and the bytes after it."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        output = decompressor.decompress(payload, max_bytes + 1)
    except zlib.error as err:
        raise errors.PlanError(f"{what} is not valid gzip: {err}") from err
    if len(output) > max_bytes:
        raise errors.PlanTooLargeError(f"{what} decompresses to more than {max_bytes} bytes")
    if not decompressor.eof:
        raise TruncatedGzipError(f"{what} is a truncated gzip stream")
    return output, decompressor.unused_data


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
                if "Recursion limit" in str(err):
                    # orjson writes at most 254 levels; real plans nest a few dozen.
                    message = "spec.plan.inline nests values deeper than 254 levels: not a Terraform plan"
                    raise errors.PlanError(message) from err
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
            raw = await self._url_fetcher.fetch(source.url, namespace=namespace)
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
    missing, partial or mixed set is transient (reason PlanIncomplete or PlanNotFound): the next index
    event (the Secret written) retries it. A set it never writes — two Secrets claiming one chunk index,
    data after the end of the plan (an extra chunk) — is permanent (PlanChunksInvalid) until a Secret
    changes.
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
    ordered = sorted(items, key=lambda item: (item.chunk or 0, item.name))
    present = ", ".join(str(item.chunk) for item in ordered)
    if not single:
        seen: dict[int, str] = {}
        for item in ordered:
            index = item.chunk or 0
            if index in seen:
                raise errors.PlanError(
                    f"{what}: chunk {index} is claimed by two Secrets ({seen[index]}, {item.name})",
                    reason=CHUNKS_INVALID,
                )
            seen[index] = item.name
        missing = [index for index in range(len(ordered)) if index not in seen]
        if missing:
            raise errors.PlanSourceError(
                f"{what} is incomplete: chunk {missing[0]} is missing (chunks present: {present})",
                reason=INCOMPLETE,
            )
    compressed = bytearray()
    ends: list[int] = []  # offset where each chunk's bytes end, to name the chunk of a problem
    for item in ordered:
        if item.encoded is None:
            raise errors.PlanSourceError(
                f"Secret {namespace}/{item.name} has no key {indexes.TOFU_PLAN_KEY!r}"
            )
        try:
            compressed += base64.b64decode(item.encoded, validate=True)
        except ValueError as err:
            raise errors.PlanError(f"Secret {namespace}/{item.name} is not base64") from err
        ends.append(len(compressed))
        if len(compressed) > max_bytes:
            raise errors.PlanTooLargeError(f"{what} is more than the limit of {max_bytes} bytes")
    try:
        plan, rest = _inflate_member(bytes(compressed), max_bytes=max_bytes, what=what)
    except TruncatedGzipError as err:
        # What a last chunk not yet written looks like: retry rather than stall.
        raise errors.PlanSourceError(
            f"{what} ends before its gzip stream does: a chunk may still be being written, or the last "
            f"one is missing (chunks present: {present})",
            reason=INCOMPLETE,
        ) from err
    if rest:
        offset = len(compressed) - len(rest)
        extra = next(position for position, end in enumerate(ends) if end > offset)
        raise errors.PlanError(
            f"{what} has {len(rest)} bytes after the end of the plan, from chunk "
            f"{ordered[extra].chunk or 0} ({ordered[extra].name}) on: an extra chunk? "
            f"(chunks present: {present})",
            reason=CHUNKS_INVALID,
        )
    return plan


# --- URL ---------------------------------------------------------------------------------------------

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Cloud metadata and credential endpoints: refused even where private addresses are allowed
# (CCG_URL_ALLOW_PRIVATE, CCG_URL_ALLOWED_NETWORKS). They serve the node's or the pod's credentials,
# never a plan, and are the first target of a server-side request forgery.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OCI, OpenStack instance metadata
        "169.254.170.2",  # Amazon ECS task metadata and credentials
        "169.254.170.23",  # Amazon EKS Pod Identity agent
        "fd00:ec2::254",  # AWS instance metadata over IPv6 (Nitro)
        "fd00:ec2::23",  # Amazon EKS Pod Identity agent over IPv6
        "100.100.100.200",  # Alibaba Cloud instance metadata
    )
)
# Refused besides what ``is_global`` refuses: Python before 3.12.4 (CVE-2024-4032) counts some of these
# as global, and the IPv4-compatible and -translated forms reach IPv4 hosts through IPv6.
_NOT_PUBLIC: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",  # "this network"; 0.0.0.0 reaches the local host on Linux
        "100.64.0.0/10",  # carrier-grade NAT (EKS custom networking, Tailscale)
        "192.0.0.0/24",  # IETF protocol assignments
        "198.18.0.0/15",  # benchmarking
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/96",  # IPv4-compatible (deprecated): ::127.0.0.1
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b:1::/48",  # local-use NAT64 prefix
        "fec0::/10",  # site-local (deprecated)
        "3fff::/20",  # documentation
    )
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are IPv4


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches through a translator (6to4, NAT64), if any."""
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(ip: IPAddress) -> bool:
    if not ip.is_global or ip.is_multicast:
        return False
    return not any(ip in network for network in _NOT_PUBLIC if network.version == ip.version)


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses spec.plan.url may connect to: public ones; private ones only when allowed."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> AddressPolicy:
        networks = tuple(ipaddress.ip_network(item, strict=False) for item in settings.url_allowed_networks)
        return cls(settings.url_allow_private, networks)

    def refusal(self, address: str) -> str | None:
        """Why ``address`` may not be connected to; None when it may."""
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])  # a zone (fe80::1%eth0) is link-local
        except ValueError:
            return "is not an IP address"
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped  # ::ffff:a.b.c.d is a.b.c.d to the kernel
        judged: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(ip)
            if embedded is not None:
                judged.append(embedded)
        if any(item in METADATA_ADDRESSES for item in judged):
            return "is a cloud metadata address"
        if self.allow_private:
            return None
        if any(ip in network for network in self.allowed_networks if network.version == ip.version):
            return None
        if not all(_public(item) for item in judged):
            return "is not a public address"
        return None


def address_allowed(address: str, *, allow_private: bool) -> bool:
    """Only globally routable addresses, unless private ones are allowed by configuration.

    Refused: loopback, RFC 1918, link-local (cloud metadata at 169.254.169.254), carrier-grade NAT,
    unique-local IPv6 (fd00:ec2::254), multicast, reserved and unspecified addresses; IPv4-mapped,
    -compatible, 6to4 and NAT64 IPv6 addresses by the IPv4 address they reach too. Metadata addresses
    are refused even when private ones are allowed.
    """
    return AddressPolicy(allow_private).refusal(address) is None


class ForbiddenAddressError(Exception):
    """Raised by the resolver, deliberately not an OSError, so that aiohttp does not wrap it."""


class CheckedResolver(aiohttp.abc.AbstractResolver):
    """Resolves, then refuses the connection when any address is not allowed.

    Checking the addresses aiohttp actually connects to (not a separate lookup) closes the DNS
    rebinding gap between a check and the connection. ``inner`` is the resolver asked (tests: a fake).
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        policy: AddressPolicy | None = None,
        inner: aiohttp.abc.AbstractResolver | None = None,
    ) -> None:
        self._inner = inner or aiohttp.ThreadedResolver()
        self._policy = policy or AddressPolicy(allow_private)

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> Any:
        infos = await self._inner.resolve(host, port, family)
        for info in infos:
            refusal = self._policy.refusal(info["host"])
            if refusal is not None:
                raise ForbiddenAddressError(f"{host} resolves to {info['host']}, which {refusal}")
        return infos

    async def close(self) -> None:
        await self._inner.close()


def guarded_socket_factory(policy: AddressPolicy) -> Callable[[Any], socket.socket]:
    """The last gate: the socket for each address aiohttp is about to connect to, whichever way it got
    the address (resolved, or a literal in the URL that aiohttp never resolves)."""

    def factory(addr_info: Any) -> socket.socket:
        family, type_, proto, _name, sockaddr = addr_info
        refusal = policy.refusal(str(sockaddr[0]))
        if refusal is not None:
            raise ForbiddenAddressError(f"connecting to {sockaddr[0]}, which {refusal}")
        return socket.socket(family, type_, proto)

    return factory


class UrlFetcher:
    """Fetches ``spec.plan.url``: https only, bounded size and time, public addresses only (by default),
    and per namespace at most ``url_max_concurrency_per_namespace`` at once and
    ``url_rate_per_namespace`` per second (``throttling``), so that one namespace's slow URLs cannot
    hold the connections every other namespace needs."""

    def __init__(
        self,
        settings: Settings,
        *,
        session_factory: Callable[[], aiohttp.ClientSession] | None = None,
        resolver: aiohttp.abc.AbstractResolver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._settings = settings
        self._policy = AddressPolicy.from_settings(settings)
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._session_factory = session_factory or self._default_session
        self._lock = asyncio.Lock()
        self._clock = clock
        self.slots = throttling.FairLimiter(
            settings.url_max_concurrency, settings.url_max_concurrency_per_namespace, what="URL fetches"
        )
        self.rate = throttling.TokenBuckets(
            settings.url_rate_per_namespace,
            settings.url_burst_per_namespace,
            what="URL fetches",
            clock=clock,
        )

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self._settings.url_ca_file is not None:
            context.load_verify_locations(cafile=str(self._settings.url_ca_file))
        return context

    def _default_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            resolver=CheckedResolver(policy=self._policy, inner=self._resolver),
            socket_factory=guarded_socket_factory(self._policy),
            ssl=self._ssl_context(),
            # The fair limiter decides who fetches; the pool must not queue (in arrival order) on its own.
            limit=self._settings.url_max_concurrency,
        )
        return aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self._settings.url_timeout),
            auto_decompress=False,  # the size limit applies to what is decompressed, see maybe_gunzip
            trust_env=False,
            # gzip or nothing: any other encoding would reach the JSON parser still compressed.
            headers={"Accept": "application/json", "Accept-Encoding": "gzip", "User-Agent": "cloudcostguard"},
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

    async def fetch(self, url: str, *, namespace: str = "") -> bytes:
        """The plan bytes at ``url`` (gunzipped), fetched for a CostEstimate of ``namespace``.

        A refused URL fails before waiting for any limit. Waiting for the namespace's rate and slots
        takes at most ``throttle_max_wait`` seconds (then ``ThrottledError``); the fetch itself
        ``url_timeout``, redirects included.
        """
        settings = self._settings
        target = check_url(url, self._policy)
        started = self._clock()
        await self.rate.acquire(namespace, max_wait=settings.throttle_max_wait)
        waited = self._clock() - started
        async with self.slots.slot(
            namespace,
            max_wait=max(0.0, settings.throttle_max_wait - waited),
            retry_after=settings.retry_delay,
        ):
            try:
                async with asyncio.timeout(settings.url_timeout):
                    return await self._fetch(url, target)
            except TimeoutError as err:
                raise errors.PlanSourceError(
                    f"fetching {url} took longer than {settings.url_timeout:g} s", reason="PlanFetchFailed"
                ) from err

    async def _fetch(self, url: str, target: yarl.URL) -> bytes:
        settings = self._settings
        session = await self._get_session()
        current = target
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                async with session.get(current, allow_redirects=False) as response:
                    if response.status in (301, 302, 303, 307, 308) and "Location" in response.headers:
                        current = _redirect_target(url, current, response.headers["Location"], self._policy)
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
                where = url if current is target else f"{url} redirects to {current}"
                raise errors.PlanError(f"{where}: {err}", reason="PlanURLForbidden") from err
            except aiohttp.ClientConnectorCertificateError as err:
                raise errors.PlanSourceError(
                    f"cannot connect to {current.host}: certificate not trusted: {_describe(err)}",
                    reason="PlanURLCertificateInvalid",
                ) from err
            except aiohttp.ClientConnectorError as err:
                cause = getattr(err, "os_error", None)
                if isinstance(cause, ForbiddenAddressError):
                    where = url if current is target else f"{url} redirects to {current}"
                    raise errors.PlanError(f"{where}: {cause}", reason="PlanURLForbidden") from err
                raise errors.PlanSourceError(
                    f"cannot connect to {current.host}: {_describe(err)}", reason="PlanFetchFailed"
                ) from err
            except aiohttp.ClientError as err:
                raise errors.PlanSourceError(
                    f"fetching {url} failed: {_describe(err)}", reason="PlanFetchFailed"
                ) from err
            return maybe_gunzip(bytes(payload), max_bytes=settings.max_plan_bytes, what=url)
        raise errors.PlanSourceError(
            f"{url} redirects more than {MAX_REDIRECTS} times", reason="PlanFetchFailed"
        )


def _redirect_target(url: str, current: yarl.URL, location: str, policy: AddressPolicy) -> yarl.URL:
    try:
        joined = current.join(yarl.URL(location))
    except (ValueError, TypeError) as err:
        raise errors.PlanError(f"{url} redirects to an invalid URL: {err}", reason="PlanURLInvalid") from err
    try:
        return check_url(str(joined), policy)
    except errors.PlanError as err:
        raise errors.PlanError(f"{url} redirects to {joined}: {err}", reason=err.reason) from err


# WHATWG URL: a host whose last label is a number is an IPv4 address in some spelling (2130706433,
# 0177.0.0.1, 0x7f.1, 127.1), which getaddrinfo and inet_aton accept and ``ipaddress`` does not.
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0[xX][0-9a-fA-F]*)$")


def check_url(url: str, policy: AddressPolicy) -> yarl.URL:
    """The URL as aiohttp will request it, refused unless https to a host that may be reached.

    Judged on yarl's parse — the one aiohttp connects with — not urllib's: the two disagree, e.g. on
    ``https://①②⑦.0.0.1/``, which yarl's IDNA step turns into ``127.0.0.1``, a literal address aiohttp
    connects to without asking the resolver.
    """
    try:
        parsed = yarl.URL(url)
    except (ValueError, TypeError) as err:
        raise errors.PlanError(f"spec.plan.url is not a valid URL: {err}", reason="PlanURLInvalid") from err
    if parsed.scheme != "https":
        raise errors.PlanError(
            f"spec.plan.url must use https, not {parsed.scheme or 'no scheme'}: {url}",
            reason="PlanURLInvalid",
        )
    host = parsed.raw_host
    if not host:
        raise errors.PlanError(f"spec.plan.url has no host: {url}", reason="PlanURLInvalid")
    if ":" in host:  # IPv6 literal (yarl strips the brackets); a zone is percent-encoded
        address = host.replace("%25", "%")
    else:
        try:
            address = str(ipaddress.IPv4Address(host))
        except ValueError:
            if _NUMERIC_LABEL.match(host.rstrip(".").rsplit(".", 1)[-1]):
                spelled = _legacy_ipv4(host)
                meaning = f" (it means {spelled})" if spelled else ""
                raise errors.PlanError(
                    f"{url}: {host} is not a standard IP address or host name{meaning}",
                    reason="PlanURLForbidden",
                ) from None
            return parsed  # a host name: the resolver and the socket gate judge its addresses
    refusal = policy.refusal(address)
    if refusal is not None:
        raise errors.PlanError(f"{url}: {host} {refusal}", reason="PlanURLForbidden")
    return parsed


def _legacy_ipv4(host: str) -> str | None:
    """What inet_aton makes of a numeric host (decimal, octal with 0, hex with 0x; 1 to 4 parts)."""
    parts = host.rstrip(".").split(".")
    try:
        numbers = [
            int(part, 16)
            if part[:2].lower() == "0x"
            else int(part, 8 if part[:1] == "0" and len(part) > 1 else 10)
            for part in parts
        ]
    except ValueError:
        return None
    if not 1 <= len(numbers) <= 4:
        return None
    *head, last = numbers
    if any(number > 255 for number in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for position, number in enumerate(head):
        value |= number << (8 * (3 - position))
    return str(ipaddress.IPv4Address(value))


def _describe(err: BaseException) -> str:
    return " ".join((str(err) or type(err).__name__).split())

"""Plan sources: index reads, gzip and chunk reassembly, URL rules (scheme, addresses, size, time)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import ipaddress
import re
import socket
import ssl
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp.abc
import aiohttp.web
import orjson
import pytest

from cloudcostguard import errors
from cloudcostguard.k8s.api.models import PlanSource
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.k8s.cluster.plan_sources import (
    AddressPolicy,
    CheckedResolver,
    ForbiddenAddressError,
    PlanResolver,
    UrlFetcher,
    address_allowed,
    check_url,
    digest_of,
    guarded_socket_factory,
    gunzip,
    read_tofu_plan,
)
from cloudcostguard.settings import Settings
from tests.plans import nat_plan
from tests.unit.k8s.admission.tls import make_tls

PLAN = orjson.dumps(nat_plan(1, vpcs=1))
NS = "team-a"


def configmap(name: str, data: dict[str, str] | None = None, binary: dict[str, bytes] | None = None) -> Any:
    body = {
        "data": data or {},
        "binaryData": {k: base64.b64encode(v).decode() for k, v in (binary or {}).items()},
    }
    return indexes.index_plan_object(indexes.CONFIGMAP, NS, name, body)


def secret(name: str, data: dict[str, bytes]) -> Any:
    body = {"data": {k: base64.b64encode(v).decode() for k, v in data.items()}}
    return indexes.index_plan_object(indexes.SECRET, NS, name, body)


def index_of(*entries: dict[Any, Any]) -> dict[Any, list[Any]]:
    """What a kopf index looks like to a handler: key → store (an iterable of values)."""
    merged: dict[Any, list[Any]] = {}
    for entry in entries:
        for key, value in entry.items():
            merged.setdefault(key, []).append(value)
    return merged


async def resolve(source: dict[str, Any], settings: Settings | None = None, **indexes_: Any) -> Any:
    resolver = PlanResolver(settings or Settings())
    views = {"plan_configmaps": {}, "plan_secrets": {}, "tofu_plans": {}, **indexes_}
    return await resolver.resolve(NS, PlanSource.model_validate(source), **views)


async def test_inline_plan_digest_is_of_its_canonical_json() -> None:
    plan = nat_plan(1, vpcs=1)
    resolved = await resolve({"inline": plan})
    assert resolved.raw == orjson.dumps(plan, option=orjson.OPT_SORT_KEYS)
    assert resolved.digest == digest_of(resolved.raw)
    assert resolved.source == "inline"


async def test_configmap_text_and_binary_keys_are_read() -> None:
    index = index_of(
        configmap("plans", data={"a.json": PLAN.decode()}, binary={"b.json": gzip.compress(PLAN)})
    )
    text = await resolve({"configMapKeyRef": {"name": "plans", "key": "a.json"}}, plan_configmaps=index)
    binary = await resolve({"configMapKeyRef": {"name": "plans", "key": "b.json"}}, plan_configmaps=index)
    assert text.raw == PLAN
    assert binary.raw == PLAN  # gzip is detected by its magic bytes
    assert text.origin == "ConfigMap team-a/plans key a.json"


async def test_secret_plain_and_gzip_values_are_read() -> None:
    index = index_of(secret("plans", {"plain": PLAN, "zipped": gzip.compress(PLAN)}))
    for key in ("plain", "zipped"):
        resolved = await resolve({"secretKeyRef": {"name": "plans", "key": key}}, plan_secrets=index)
        assert resolved.raw == PLAN
        assert resolved.digest == digest_of(PLAN)


async def test_missing_object_is_a_transient_plan_not_found() -> None:
    with pytest.raises(errors.PlanSourceError) as caught:
        await resolve({"configMapKeyRef": {"name": "absent", "key": "plan.json"}})
    assert caught.value.transient
    assert caught.value.reason == "PlanNotFound"
    assert str(caught.value) == (
        "ConfigMap team-a/absent not found (it must exist and carry the label cloudcostguard.io/plan)"
    )


async def test_missing_key_names_the_keys_there_are() -> None:
    index = index_of(secret("plans", {"other.json": PLAN}))
    with pytest.raises(errors.PlanSourceError, match=r"has no key 'plan.json' \(keys: other.json\)"):
        await resolve({"secretKeyRef": {"name": "plans", "key": "plan.json"}}, plan_secrets=index)


async def test_corrupt_gzip_is_a_permanent_plan_error() -> None:
    index = index_of(secret("plans", {"plan": gzip.compress(PLAN)[:-8] + b"garbage!"}))
    with pytest.raises(errors.PlanError) as caught:
        await resolve({"secretKeyRef": {"name": "plans", "key": "plan"}}, plan_secrets=index)
    assert not caught.value.transient


async def test_configmap_gone_from_the_index_mid_read_is_plan_not_found() -> None:
    """kopf leaves a key with an empty store when the object is deleted: read as not found (retried,
    and re-estimated when the ConfigMap is back), not as an error of the reader."""
    with pytest.raises(errors.PlanSourceError) as caught:
        await resolve(
            {"configMapKeyRef": {"name": "plans", "key": "plan.json"}}, plan_configmaps={(NS, "plans"): []}
        )
    assert (caught.value.reason, caught.value.transient) == ("PlanNotFound", True)


async def test_secret_gzip_bomb_is_refused_at_the_plan_limit() -> None:
    bomb = gzip.compress(b"{" * (32 * 1024 * 1024))  # 32 MiB in ~32 KiB: fits a Secret
    index = index_of(secret("plans", {"plan": bomb}))
    tracemalloc.start()
    try:
        with pytest.raises(errors.PlanTooLargeError) as caught:
            await resolve(
                {"secretKeyRef": {"name": "plans", "key": "plan"}},
                Settings(max_plan_bytes=1024 * 1024),
                plan_secrets=index,
            )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value) == "Secret team-a/plans key plan decompresses to more than 1048576 bytes"
    assert peak < 4 * 1024 * 1024


def test_gzip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(b"0" * (10 * 1024 * 1024))
    with pytest.raises(errors.PlanTooLargeError, match="decompresses to more than 1000 bytes"):
        gunzip(bomb, max_bytes=1000, what="plan")
    assert gunzip(gzip.compress(b"ab") + gzip.compress(b"cd"), max_bytes=10, what="plan") == b"abcd"


def tofu_chunks(payload: bytes, chunks: int, *, plan_id: str = "plan-main-1") -> list[indexes.TofuPlanChunk]:
    compressed = gzip.compress(payload)
    size = -(-len(compressed) // chunks)
    base = "tfplan-default-infra.json"
    return [
        indexes.TofuPlanChunk(
            name=f"{base}-{index}",
            chunk=index,
            plan_id=plan_id,
            encoded=base64.b64encode(compressed[index * size : (index + 1) * size]).decode(),
        )
        for index in range(chunks)
    ]


def test_tofu_chunks_are_joined_in_chunk_order() -> None:
    chunks = tofu_chunks(PLAN, 3)
    assert read_tofu_plan(reversed(chunks), NS, "tfplan-default-infra.json", 10**6) == PLAN


def test_tofu_single_secret_is_read() -> None:
    single = indexes.TofuPlanChunk(
        "tfplan-default-infra.json", None, "p1", base64.b64encode(gzip.compress(PLAN)).decode()
    )
    assert read_tofu_plan([single], NS, "tfplan-default-infra.json", 10**6) == PLAN


def tofu_chunk(index: int, payload: bytes, *, plan_id: str = "plan-main-1", name: str | None = None) -> Any:
    return indexes.TofuPlanChunk(
        name=name or f"tfplan-default-infra.json-{index}",
        chunk=index,
        plan_id=plan_id,
        encoded=base64.b64encode(payload).decode(),
    )


@pytest.mark.parametrize(
    ("chunks", "reason", "message"),
    [
        ([], "PlanNotFound", "Secret team-a/tfplan-default-infra.json not found"),
        (
            tofu_chunks(PLAN, 3)[:1] + tofu_chunks(PLAN, 3)[2:],
            "PlanIncomplete",
            "Secret team-a/tfplan-default-infra.json is incomplete: chunk 1 is missing "
            "(chunks present: 0, 2)",
        ),
        (
            tofu_chunks(PLAN, 3)[1:],
            "PlanIncomplete",
            "is incomplete: chunk 0 is missing (chunks present: 1, 2)",
        ),
        (
            tofu_chunks(PLAN, 3)[:2],
            "PlanIncomplete",
            "ends before its gzip stream does: a chunk may still be being written, or the last one is "
            "missing (chunks present: 0, 1)",
        ),
        (
            tofu_chunks(PLAN, 2)[:1] + tofu_chunks(PLAN, 2, plan_id="plan-main-2")[1:],
            "PlanNotFound",
            "is being replaced (chunks of plans ['plan-main-1', 'plan-main-2'])",
        ),
    ],
    ids=["absent", "gap", "first-missing", "last-chunk-missing", "mixed-plans"],
)
def test_tofu_plan_in_transition_is_transient(
    chunks: list[indexes.TofuPlanChunk], reason: str, message: str
) -> None:
    with pytest.raises(errors.PlanSourceError, match=re.escape(message)) as caught:
        read_tofu_plan(chunks, NS, "tfplan-default-infra.json", 10**6)
    assert caught.value.transient
    assert caught.value.reason == reason


def test_tofu_chunk_index_claimed_twice_is_a_permanent_error_naming_both_secrets() -> None:
    chunks = tofu_chunks(PLAN, 2)
    duplicate = tofu_chunk(1, b"\x00" * 10, name="tfplan-default-infra.json-1-copy")
    with pytest.raises(errors.PlanError) as caught:
        read_tofu_plan([*chunks, duplicate], NS, "tfplan-default-infra.json", 10**6)
    assert not caught.value.transient
    assert caught.value.reason == "PlanChunksInvalid"
    assert str(caught.value) == (
        "Secret team-a/tfplan-default-infra.json: chunk 1 is claimed by two Secrets "
        "(tfplan-default-infra.json-1, tfplan-default-infra.json-1-copy)"
    )


def test_tofu_extra_chunk_after_the_end_of_the_plan_is_named() -> None:
    chunks = tofu_chunks(PLAN, 2)
    leftover = tofu_chunk(2, gzip.compress(b"an older plan's last slice")[10:])
    with pytest.raises(errors.PlanError) as caught:
        read_tofu_plan([*chunks, leftover], NS, "tfplan-default-infra.json", 10**6)
    assert caught.value.reason == "PlanChunksInvalid"
    assert not caught.value.transient
    assert "bytes after the end of the plan, from chunk 2 (tfplan-default-infra.json-2) on" in str(
        caught.value
    )
    assert "(chunks present: 0, 1, 2)" in str(caught.value)


def test_tofu_chunks_that_are_a_gzip_bomb_stop_at_the_limit() -> None:
    bomb = gzip.compress(b"[" * (16 * 1024 * 1024))  # 16 MiB in ~16 KiB
    size = -(-len(bomb) // 3)
    chunks = [tofu_chunk(index, bomb[index * size : (index + 1) * size]) for index in range(3)]
    with pytest.raises(errors.PlanTooLargeError, match="decompresses to more than 1048576 bytes"):
        read_tofu_plan(chunks, NS, "tfplan-default-infra.json", 1024 * 1024)


def test_tofu_chunk_that_is_not_base64_is_permanent() -> None:
    chunks = tofu_chunks(PLAN, 2)
    broken = indexes.TofuPlanChunk(chunks[1].name, 1, "plan-main-1", "not base64!")
    with pytest.raises(
        errors.PlanError, match=re.escape("Secret team-a/tfplan-default-infra.json-1 is not base64")
    ):
        read_tofu_plan([chunks[0], broken], NS, "tfplan-default-infra.json", 10**6)


def test_tofu_plan_over_the_limit_is_permanent() -> None:
    with pytest.raises(errors.PlanTooLargeError):
        read_tofu_plan(tofu_chunks(PLAN, 2), NS, "tfplan-default-infra.json", 100)


async def test_terraform_ref_finds_the_workspace_secret() -> None:
    index = index_of(*({(NS, "tfplan-prod-infra.json"): chunk} for chunk in tofu_chunks(PLAN, 2)))
    resolved = await resolve({"terraformRef": {"name": "infra", "workspace": "prod"}}, tofu_plans=index)
    assert resolved.raw == PLAN
    assert resolved.origin == "Secret team-a/tfplan-prod-infra.json"
    with pytest.raises(errors.PlanSourceError):
        await resolve({"terraformRef": {"name": "infra"}}, tofu_plans=index)  # workspace "default"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("127.0.0.1", False),
        ("127.255.255.254", False),
        ("169.254.1.1", False),  # link-local
        ("100.64.0.1", False),  # carrier-grade NAT
        ("100.127.255.254", False),
        ("0.0.0.0", False),
        ("0.1.2.3", False),
        ("192.0.0.9", False),  # IETF protocol assignments (global in Python < 3.12.4)
        ("198.18.0.1", False),  # benchmarking
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("224.0.0.1", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("fec0::1", False),  # site-local (global in Python < 3.12.4)
        ("ff0e::1", False),  # global-scope multicast
        ("::ffff:10.0.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("::127.0.0.1", False),  # IPv4-compatible
        ("::ffff:0:7f00:1", False),  # IPv4-translated
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b:1::1", False),  # local-use NAT64
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2001:db8::1", False),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("not-an-address", False),
    ],
)
def test_only_public_addresses_are_allowed_by_default(address: str, allowed: bool) -> None:
    assert address_allowed(address, allow_private=False) is allowed
    assert address_allowed(address, allow_private=True) is (address != "not-an-address")


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "2002:a9fe:a9fe::",
        "fd00:ec2::254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::23",
        "100.100.100.200",
    ],
)
def test_cloud_metadata_is_refused_even_when_private_addresses_are_allowed(address: str) -> None:
    for policy in (
        AddressPolicy(),
        AddressPolicy(allow_private=True),
        AddressPolicy(allowed_networks=(ipaddress.ip_network("::/0"), ipaddress.ip_network("0.0.0.0/0"))),
    ):
        assert policy.refusal(address) == "is a cloud metadata address"


def test_allowed_networks_open_only_those_private_addresses() -> None:
    policy = AddressPolicy.from_settings(Settings(url_allowed_networks=["10.20.0.0/16", "fd12::/16"]))
    assert policy.refusal("10.20.3.4") is None
    assert policy.refusal("fd12::5") is None
    assert policy.refusal("::ffff:10.20.3.4") is None  # the same address, mapped
    assert policy.refusal("10.21.0.1") == "is not a public address"
    assert policy.refusal("127.0.0.1") == "is not a public address"


@pytest.mark.parametrize(
    ("url", "reason", "message"),
    [
        ("http://example.com/plan.json", "PlanURLInvalid", "must use https, not http"),
        ("ftp://example.com/plan.json", "PlanURLInvalid", "must use https, not ftp"),
        ("example.com/plan.json", "PlanURLInvalid", "must use https, not no scheme"),
        ("https:///plan.json", "PlanURLInvalid", "has no host"),
        ("https://127.0.0.1\\@example.com/", "PlanURLInvalid", "is not a valid URL"),
        ("https://127.0.0.1/", "PlanURLForbidden", "127.0.0.1 is not a public address"),
        ("https://user@127.0.0.1/", "PlanURLForbidden", "127.0.0.1 is not a public address"),
        ("https://[::1]:8443/", "PlanURLForbidden", "::1 is not a public address"),
        ("https://0.0.0.0/", "PlanURLForbidden", "0.0.0.0 is not a public address"),
        ("https://100.64.0.10/", "PlanURLForbidden", "100.64.0.10 is not a public address"),
        ("https://[fd00::1]/", "PlanURLForbidden", "fd00::1 is not a public address"),
        ("https://[fe80::1%25eth0]/", "PlanURLForbidden", "is not a public address"),
        ("https://[::ffff:127.0.0.1]/", "PlanURLForbidden", "is not a public address"),
        ("https://[::ffff:169.254.169.254]/", "PlanURLForbidden", "is a cloud metadata address"),
        ("https://169.254.169.254/latest/meta-data/", "PlanURLForbidden", "is a cloud metadata address"),
        ("https://[fd00:ec2::254]/", "PlanURLForbidden", "is a cloud metadata address"),
        (
            "https://2130706433/",
            "PlanURLForbidden",
            "2130706433 is not a standard IP address or host name (it means 127.0.0.1)",
        ),
        ("https://0177.0.0.1/", "PlanURLForbidden", "(it means 127.0.0.1)"),
        ("https://0x7f.0.0.1/", "PlanURLForbidden", "(it means 127.0.0.1)"),
        ("https://0x7f000001/", "PlanURLForbidden", "(it means 127.0.0.1)"),
        ("https://127.1/", "PlanURLForbidden", "(it means 127.0.0.1)"),
        ("https://0251.0376.0251.0376/", "PlanURLForbidden", "(it means 169.254.169.254)"),
        ("https://127.0.0.1./", "PlanURLForbidden", "(it means 127.0.0.1)"),
        ("https://134744072/", "PlanURLForbidden", "(it means 8.8.8.8)"),  # even a public one: ambiguous
        ("https://①②⑦.0.0.1/", "PlanURLForbidden", "127.0.0.1 is not a public address"),  # IDNA folds digits
    ],
)
def test_url_check_refuses_schemes_and_address_spellings(url: str, reason: str, message: str) -> None:
    with pytest.raises(errors.PlanError) as caught:
        check_url(url, AddressPolicy())
    assert caught.value.reason == reason
    assert not caught.value.transient
    assert message in str(caught.value)


def test_url_check_passes_host_names_and_public_literals() -> None:
    for url in ("https://plans.example.com/a.json", "https://8.8.8.8/a", "https://[2001:4860:4860::8888]/a"):
        assert str(check_url(url, AddressPolicy())) == url


class FakeResolver(aiohttp.abc.AbstractResolver):
    """DNS answers from a table: what a hostile or rebinding DNS server could answer."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> Any:
        self.asked.append(host)
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.answers[host]
        ]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (["10.0.0.7"], "plans.example resolves to 10.0.0.7, which is not a public address"),
        (["8.8.8.8", "127.0.0.1"], "resolves to 127.0.0.1, which is not a public address"),  # any answer
        (["::ffff:127.0.0.1"], "which is not a public address"),
        (["169.254.169.254"], "which is a cloud metadata address"),
        (["fd00:ec2::254"], "which is a cloud metadata address"),
        (["100.64.3.2"], "which is not a public address"),
    ],
)
async def test_resolver_refuses_private_answers(answers: list[str], message: str) -> None:
    resolver = CheckedResolver(inner=FakeResolver({"plans.example": answers}))
    with pytest.raises(ForbiddenAddressError, match=re.escape(message)):
        await resolver.resolve("plans.example", 443)


async def test_resolver_passes_public_answers() -> None:
    resolver = CheckedResolver(inner=FakeResolver({"plans.example": ["8.8.8.8", "2001:4860:4860::8888"]}))
    infos = await resolver.resolve("plans.example", 443)
    assert [info["host"] for info in infos] == ["8.8.8.8", "2001:4860:4860::8888"]


@pytest.mark.parametrize("host", ["2130706433", "0177.0.0.1", "0x7f.1", "127.1"])
async def test_resolver_judges_what_getaddrinfo_makes_of_numeric_spellings(host: str) -> None:
    """The URL check refuses these hosts; were one to reach the system resolver, what it answers
    (inet_aton's reading, 127.0.0.1) is refused there as well."""
    resolver = CheckedResolver()  # the real ThreadedResolver: getaddrinfo
    with pytest.raises(
        ForbiddenAddressError, match=re.escape("resolves to 127.0.0.1, which is not a public address")
    ):
        await resolver.resolve(host, 443)


async def test_url_fetch_of_a_name_resolving_to_a_private_address_is_refused_before_connecting() -> None:
    fake = FakeResolver({"plans.example": ["10.1.2.3"]})
    fetcher = UrlFetcher(Settings(), resolver=fake)
    try:
        with pytest.raises(errors.PlanError) as caught:
            await fetcher.fetch("https://plans.example/plan.json", namespace=NS)
    finally:
        await fetcher.close()
    assert caught.value.reason == "PlanURLForbidden"
    assert str(caught.value) == (
        "https://plans.example/plan.json: plans.example resolves to 10.1.2.3, which is not a public address"
    )
    assert fake.asked == ["plans.example"]


def test_socket_gate_refuses_forbidden_addresses_whatever_reached_it() -> None:
    factory = guarded_socket_factory(AddressPolicy())
    with pytest.raises(
        ForbiddenAddressError, match=re.escape("connecting to 127.0.0.1, which is not a public address")
    ):
        factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 443)))
    with pytest.raises(ForbiddenAddressError, match="which is a cloud metadata address"):
        factory((socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fd00:ec2::254", 443, 0, 0)))
    sock = factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", 443)))
    sock.close()


# --- URL fetching against a local HTTPS server -------------------------------------------------------------

Handler = Callable[[aiohttp.web.Request], Awaitable[aiohttp.web.StreamResponse]]


async def serve(tmp_path: Path, routes: dict[str, Handler]) -> tuple[aiohttp.web.AppRunner, int, Path]:
    tls = make_tls(tmp_path)
    app = aiohttp.web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    runner = aiohttp.web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = int(runner.addresses[0][1])
    return runner, port, tls.ca_file


async def fetch(settings: Settings, url: str) -> bytes:
    fetcher = UrlFetcher(settings)
    try:
        return await fetcher.fetch(url)
    finally:
        await fetcher.close()


async def test_url_plan_is_fetched_when_private_addresses_are_allowed(tmp_path: Path) -> None:
    async def plan(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=gzip.compress(PLAN))

    runner, port, ca = await serve(tmp_path, {"/plan": plan})
    try:
        settings = Settings(url_allow_private=True, url_ca_file=ca)
        assert await fetch(settings, f"https://localhost:{port}/plan") == PLAN
    finally:
        await runner.cleanup()


async def test_url_resolving_to_a_private_address_is_refused_permanently(tmp_path: Path) -> None:
    async def plan(_: aiohttp.web.Request) -> aiohttp.web.Response:
        raise AssertionError("must not be reached")

    runner, port, ca = await serve(tmp_path, {"/plan": plan})
    try:
        for url in (f"https://localhost:{port}/plan", f"https://127.0.0.1:{port}/plan"):
            with pytest.raises(errors.PlanError) as caught:
                await fetch(Settings(url_ca_file=ca), url)
            assert caught.value.reason == "PlanURLForbidden"
            assert not caught.value.transient
    finally:
        await runner.cleanup()


async def test_url_answers_map_to_reasons(tmp_path: Path) -> None:
    async def big(_: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse()
        await response.prepare(_)
        for _chunk in range(64):
            await response.write(b" " * 1024)
        return response

    async def missing(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(status=404)

    async def broken(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(status=503)

    async def downgrade(_: aiohttp.web.Request) -> aiohttp.web.Response:
        raise aiohttp.web.HTTPFound("http://localhost/plan")

    answer_slow = asyncio.Event()  # set once the fetch has given up: no fixed sleep to outlast

    async def slow(_: aiohttp.web.Request) -> aiohttp.web.Response:
        await answer_slow.wait()
        return aiohttp.web.Response(body=PLAN)

    routes = {"/big": big, "/missing": missing, "/broken": broken, "/downgrade": downgrade, "/slow": slow}
    runner, port, ca = await serve(tmp_path, routes)
    settings = Settings(url_allow_private=True, url_ca_file=ca, url_max_bytes=32 * 1024, url_timeout=0.5)
    expected = {
        "/big": (errors.PlanTooLargeError, "PlanTooLarge", False),
        "/missing": (errors.PlanSourceError, "PlanNotFound", True),
        "/broken": (errors.PlanSourceError, "PlanFetchFailed", True),
        "/downgrade": (errors.PlanError, "PlanURLInvalid", False),
        "/slow": (errors.PlanSourceError, "PlanFetchFailed", True),
    }
    try:
        for path, (kind, reason, transient) in expected.items():
            with pytest.raises(kind) as caught:
                await fetch(settings, f"https://localhost:{port}{path}")
            assert (caught.value.reason, caught.value.transient) == (reason, transient), path
    finally:
        answer_slow.set()
        await runner.cleanup()


async def test_untrusted_certificate_is_a_transient_certificate_failure(tmp_path: Path) -> None:
    async def plan(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=PLAN)

    runner, port, _ca = await serve(tmp_path, {"/plan": plan})
    try:
        with pytest.raises(errors.PlanSourceError) as caught:
            await fetch(Settings(url_allow_private=True), f"https://localhost:{port}/plan")
    finally:
        await runner.cleanup()
    assert caught.value.reason == "PlanURLCertificateInvalid"
    assert caught.value.transient  # a certificate can be fixed: retried with backoff
    assert "certificate not trusted" in str(caught.value)
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)


async def test_certificate_for_another_host_is_refused(tmp_path: Path) -> None:
    """The server's certificate names localhost and 127.0.0.1; reached as plans.example it is refused."""

    async def plan(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=PLAN)

    runner, port, ca = await serve(tmp_path, {"/plan": plan})
    fake = FakeResolver({"plans.example": ["127.0.0.1"]})
    settings = Settings(url_allowed_networks=["127.0.0.1/32"], url_ca_file=ca)
    fetcher = UrlFetcher(settings, resolver=fake)
    try:
        with pytest.raises(errors.PlanSourceError) as caught:
            await fetcher.fetch(f"https://plans.example:{port}/plan", namespace=NS)
        assert await fetcher.fetch(f"https://127.0.0.1:{port}/plan", namespace=NS) == PLAN
    finally:
        await fetcher.close()
        await runner.cleanup()
    assert caught.value.reason == "PlanURLCertificateInvalid"
    assert "Hostname mismatch" in str(caught.value) or "doesn't match" in str(caught.value)


@pytest.mark.parametrize(
    ("location", "reason", "message"),
    [
        ("https://127.0.0.2:{port}/plan", "PlanURLForbidden", "127.0.0.2 is not a public address"),
        ("https://[::1]:{port}/plan", "PlanURLForbidden", "::1 is not a public address"),
        ("https://169.254.169.254/latest/meta-data/", "PlanURLForbidden", "is a cloud metadata address"),
        ("https://[::ffff:169.254.169.254]/", "PlanURLForbidden", "is a cloud metadata address"),
        ("https://2130706433:{port}/plan", "PlanURLForbidden", "(it means 127.0.0.1)"),
        ("https://internal.example:{port}/plan", "PlanURLForbidden", "internal.example resolves to 10.0.0.5"),
        ("http://127.0.0.1:{port}/plan", "PlanURLInvalid", "must use https, not http"),
        ("//169.254.169.254/x", "PlanURLForbidden", "is a cloud metadata address"),  # scheme-relative
    ],
)
async def test_redirects_are_judged_like_the_first_url(
    tmp_path: Path, location: str, reason: str, message: str
) -> None:
    reached: list[str] = []

    async def hop(request: aiohttp.web.Request) -> aiohttp.web.Response:
        reached.append(request.path)
        raise aiohttp.web.HTTPFound(location.format(port=request.url.port))

    runner, port, ca = await serve(tmp_path, {"/hop": hop})
    settings = Settings(url_allowed_networks=["127.0.0.1/32"], url_ca_file=ca)
    fetcher = UrlFetcher(settings, resolver=FakeResolver({"internal.example": ["10.0.0.5"]}))
    try:
        with pytest.raises(errors.PlanError) as caught:
            await fetcher.fetch(f"https://127.0.0.1:{port}/hop", namespace=NS)
    finally:
        await fetcher.close()
        await runner.cleanup()
    assert (caught.value.reason, caught.value.transient) == (reason, False)
    assert str(caught.value).startswith(f"https://127.0.0.1:{port}/hop redirects to ")
    assert message in str(caught.value)
    assert reached == ["/hop"]  # the first hop only: the refused target was never requested


async def test_allowed_redirects_are_followed_up_to_the_limit(tmp_path: Path) -> None:
    async def hop(request: aiohttp.web.Request) -> aiohttp.web.Response:
        left = int(request.match_info["left"])
        if left == 0:
            return aiohttp.web.Response(body=PLAN)
        raise aiohttp.web.HTTPFound(f"/hop/{left - 1}")

    runner, port, ca = await serve(tmp_path, {"/hop/{left}": hop})
    settings = Settings(url_allowed_networks=["127.0.0.1/32"], url_ca_file=ca)
    try:
        assert await fetch(settings, f"https://127.0.0.1:{port}/hop/3") == PLAN
        with pytest.raises(errors.PlanSourceError, match="redirects more than 3 times"):
            await fetch(settings, f"https://127.0.0.1:{port}/hop/4")
    finally:
        await runner.cleanup()


async def test_truncated_and_bomb_bodies(tmp_path: Path) -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))  # 64 MiB of spaces in ~64 KiB

    async def truncated(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=gzip.compress(PLAN)[:-12])

    async def bombed(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=bomb)

    async def many_members(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=gzip.compress(b"") * 100_000)

    routes = {"/truncated": truncated, "/bomb": bombed, "/members": many_members}
    runner, port, ca = await serve(tmp_path, routes)
    settings = Settings(url_allow_private=True, url_ca_file=ca, max_plan_bytes=1024 * 1024)
    try:
        with pytest.raises(errors.PlanError) as caught:
            await fetch(settings, f"https://localhost:{port}/truncated")
        assert (caught.value.reason, caught.value.transient) == ("PlanInvalid", False)
        assert str(caught.value).endswith("/truncated is a truncated gzip stream")

        tracemalloc.start()
        try:
            with pytest.raises(errors.PlanTooLargeError, match="decompresses to more than 1048576 bytes"):
                await fetch(settings, f"https://localhost:{port}/bomb")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        print(f"\nbomb: 64 MiB in {len(bomb)} bytes refused at 1 MiB, peak {peak / 2**20:.1f} MiB traced")
        assert peak < 8 * 1024 * 1024  # the 64 MiB never existed: at most the limit, plus the client

        started = time.perf_counter()
        with pytest.raises(errors.PlanError, match="more than 64 concatenated gzip members"):
            await fetch(settings, f"https://localhost:{port}/members")
        assert time.perf_counter() - started < 2.0
    finally:
        await runner.cleanup()


class RawServers:
    """Scripted TCP/TLS servers for the failures aiohttp's server will not produce; every connection is
    closed at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self.tls = make_tls(tmp_path)
        self._servers: list[asyncio.Server] = []
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self, *, tls: bool, head: bytes | None, stall: bool) -> int:
        """A server that reads a request (when ``head`` is not None) and writes ``head``; then closes,
        or with ``stall`` stays silent. ``head=None, tls=False``: accepts and never speaks TLS."""
        context = None
        if tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.tls.cert_file, self.tls.key_file)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self._writers.append(writer)
            if tls:
                await reader.readuntil(b"\r\n\r\n")
            if head is not None:
                writer.write(head)
                await writer.drain()
            if stall:
                await asyncio.sleep(30)
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
        self._servers.append(server)
        return int(server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        for server in self._servers:
            server.close()
            await server.wait_closed()


async def test_body_cut_short_is_a_transient_fetch_failure(tmp_path: Path) -> None:
    servers = RawServers(tmp_path)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n" + PLAN[:100]
    port = await servers.start(tls=True, head=head, stall=False)
    try:
        with pytest.raises(errors.PlanSourceError) as caught:
            await fetch(
                Settings(url_allow_private=True, url_ca_file=servers.tls.ca_file),
                f"https://localhost:{port}/p",
            )
    finally:
        await servers.close()
    assert (caught.value.reason, caught.value.transient) == ("PlanFetchFailed", True)
    assert "Response payload is not completed" in str(caught.value)


@pytest.mark.parametrize(
    ("tls", "head"),
    [
        (False, None),  # accepts the connection, never answers the TLS handshake
        (True, None),  # handshakes, reads the request, never answers
        (True, b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n{"),  # headers, then a stalled body
    ],
    ids=["no-handshake", "no-answer", "stalled-body"],
)
async def test_every_way_of_being_slow_ends_at_the_timeout(
    tmp_path: Path, tls: bool, head: bytes | None
) -> None:
    servers = RawServers(tmp_path)
    port = await servers.start(tls=tls, head=head, stall=True)
    settings = Settings(url_allow_private=True, url_ca_file=servers.tls.ca_file, url_timeout=0.5)
    started = time.perf_counter()
    try:
        with pytest.raises(errors.PlanSourceError) as caught:
            await fetch(settings, f"https://localhost:{port}/p")
    finally:
        await servers.close()
    elapsed = time.perf_counter() - started
    assert (caught.value.reason, caught.value.transient) == ("PlanFetchFailed", True)
    assert "took longer than 0.5 s" in str(caught.value) or "Timeout" in str(caught.value)
    assert 0.45 < elapsed < 1.5


async def test_plain_http_is_refused_before_any_connection() -> None:
    with pytest.raises(errors.PlanError) as caught:
        await fetch(Settings(url_allow_private=True), "http://example.com/plan.json")
    assert caught.value.reason == "PlanURLInvalid"

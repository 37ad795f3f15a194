"""Plan sources: index reads, gzip and chunk reassembly, URL rules (scheme, addresses, size, time)."""

from __future__ import annotations

import asyncio
import base64
import gzip
import re
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp.web
import orjson
import pytest

from cloudcostguard import errors
from cloudcostguard.k8s.api.models import PlanSource
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.k8s.cluster.plan_sources import (
    PlanResolver,
    UrlFetcher,
    address_allowed,
    digest_of,
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


@pytest.mark.parametrize(
    ("chunks", "message"),
    [
        ([], "not found"),
        (tofu_chunks(PLAN, 3)[:1] + tofu_chunks(PLAN, 3)[2:], "incomplete (chunks present: 0, 2)"),
        (tofu_chunks(PLAN, 3)[:2], "a chunk may still be being written"),
        (tofu_chunks(PLAN, 2)[:1] + tofu_chunks(PLAN, 2, plan_id="plan-main-2")[1:], "is being replaced"),
    ],
    ids=["absent", "gap", "last-chunk-missing", "mixed-plans"],
)
def test_tofu_plan_in_transition_is_transient(chunks: list[indexes.TofuPlanChunk], message: str) -> None:
    with pytest.raises(errors.PlanSourceError, match=re.escape(message)) as caught:
        read_tofu_plan(chunks, NS, "tfplan-default-infra.json", 10**6)
    assert caught.value.transient


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
        ("169.254.169.254", False),  # cloud instance metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:10.0.0.1", False),
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("::ffff:8.8.8.8", True),
        ("not-an-address", False),
    ],
)
def test_only_public_addresses_are_allowed_by_default(address: str, allowed: bool) -> None:
    assert address_allowed(address, allow_private=False) is allowed
    assert address_allowed(address, allow_private=True) is True


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


async def test_untrusted_certificate_is_a_transient_fetch_failure(tmp_path: Path) -> None:
    async def plan(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(body=PLAN)

    runner, port, _ca = await serve(tmp_path, {"/plan": plan})
    try:
        with pytest.raises(errors.PlanSourceError) as caught:
            await fetch(Settings(url_allow_private=True), f"https://localhost:{port}/plan")
        assert caught.value.reason == "PlanFetchFailed"
    finally:
        await runner.cleanup()


async def test_plain_http_is_refused_before_any_connection() -> None:
    with pytest.raises(errors.PlanError) as caught:
        await fetch(Settings(url_allow_private=True), "http://example.com/plan.json")
    assert caught.value.reason == "PlanURLInvalid"

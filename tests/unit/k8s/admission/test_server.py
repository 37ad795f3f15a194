"""configure_admission / stop_admission: certificates, server, runtime in kopf's memo, cleanup."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import orjson
import pytest

from cloudcostguard import errors
from cloudcostguard.k8s.admission import certificates
from cloudcostguard.k8s.admission import server as webhook
from cloudcostguard.k8s.admission.decision import HANDLER_IDS, AdmissionRuntime
from cloudcostguard.k8s.admission.memo import AdmissionMemo
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.pricing.catalog_provider import StaticCatalogProvider
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings
from tests.integration.admission.support import cost_estimate, cost_policy, kopf_webhook_fn, nat_plan, review
from tests.unit.k8s.cluster.test_state import index_of

TIMEOUT = 30


def memo_for(settings: Settings) -> AdmissionMemo:
    return AdmissionMemo(settings=settings, catalog_provider=StaticCatalogProvider(load_bundled_catalog()))


def configured(settings: Settings) -> tuple[kopf.OperatorSettings, AdmissionMemo]:
    kopf_settings, memo = kopf.OperatorSettings(), memo_for(settings)
    webhook.configure_admission(kopf_settings, settings, memo)
    return kopf_settings, memo


async def test_self_signed_mode_writes_a_ca_and_serves_through_kopfs_server_slot(tmp_path: Path) -> None:
    settings = Settings(webhook_listen="127.0.0.1:0", webhook_cert_dir=tmp_path, webhook_host="ccg.local")
    kopf_settings, memo = configured(settings)
    server = kopf_settings.admission.server
    assert isinstance(server, webhook.AdmissionServer)
    assert (server.addr, server.host, server.lean_handlers) == (
        "127.0.0.1",
        "ccg.local",
        HANDLER_IDS,
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.pem", "tls.crt", "tls.key"]  # noqa: ASYNC240
    assert isinstance(memo.admission, AdmissionRuntime)
    assert memo.admission.state is memo.cluster  # judged from the indexes the operator keeps

    # As the process's startup does: the cluster state bound to kopf's indexes.
    policy = cost_policy("cap", maxMonthlyCost="40")
    missing = memo.cluster.bind(
        {
            indexes.NAMESPACE_LABELS: {},
            indexes.COSTESTIMATE_SPEND: {},
            indexes.PLAN_CONFIGMAPS: {},
            indexes.PLAN_SECRETS: {},
            indexes.COST_POLICIES: index_of([indexes.index_cost_policy("cap", policy["spec"])]),
        }
    )
    assert missing == []
    async with server:
        generator = server(kopf_webhook_fn(memo))
        client_config = await asyncio.wait_for(generator.__anext__(), TIMEOUT)
        host, port = client_config["url"].removeprefix("https://").split(":")
        assert host == "ccg.local"  # the name the API server would use
        assert client_config["caBundle"]  # the generated CA, for a managed webhook configuration
        context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        url = f"https://127.0.0.1:{port}"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
            for path in ("/validate-costestimate", "/kopf/validate-costestimate"):
                body = orjson.dumps(review(cost_estimate("web", plan=nat_plan(2))))
                async with session.post(url + path, data=body, ssl=context) as response:
                    answer = await response.json()
                assert answer["response"]["status"]["message"].startswith(
                    "CostPolicy cap: monthly cost 65.70 USD exceeds maxMonthlyCost 40.00 USD by 25.70 USD"
                )
        await generator.aclose()

    await webhook.stop_admission(memo)
    assert memo.admission is None
    assert (tmp_path / "ca.pem").exists()  # a configured directory is the user's: kept


async def test_a_generated_pair_in_a_temporary_directory_is_removed_at_stop() -> None:
    kopf_settings, memo = configured(Settings(webhook_listen="127.0.0.1:9443"))
    server = kopf_settings.admission.server
    assert isinstance(server, webhook.AdmissionServer)
    cert_dir = Path(str(server.certfile)).parent
    assert cert_dir.exists()
    runtime = memo.admission
    assert runtime is not None and runtime.executor is not None
    await webhook.stop_admission(memo)
    assert not cert_dir.exists()
    with pytest.raises(RuntimeError):
        runtime.executor.submit(print)  # shut down


def test_given_certificate_files_are_used_as_they_are(tmp_path: Path) -> None:
    paths = certificates.generate_self_signed(tmp_path, ["cloudcostguard-webhook.cloudcostguard-system.svc"])
    settings = Settings(
        webhook_cert_file=paths.cert_file, webhook_key_file=paths.key_file, webhook_fast_path=False
    )
    kopf_settings, _memo = configured(settings)
    server = kopf_settings.admission.server
    assert isinstance(server, webhook.AdmissionServer)
    assert (server.certfile, server.pkeyfile, server.cafile) == (
        str(paths.cert_file),
        str(paths.key_file),
        None,
    )
    assert server.lean_handlers == ()
    assert (server.addr, server.port) == ("0.0.0.0", 9443)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"webhook_cert_file": Path("/x.crt")},
            "CCG_WEBHOOK_CERT_FILE/CCG_WEBHOOK_KEY_FILE: give both or neither",
        ),
        ({"webhook_listen": "9443"}, "invalid setting CCG_WEBHOOK_LISTEN: '9443' is not HOST:PORT"),
        ({"webhook_listen": "0.0.0.0:99999"}, "invalid setting CCG_WEBHOOK_LISTEN"),
    ],
)
def test_bad_webhook_settings_fail_fast(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.ConfigurationError, match=message.replace("(", r"\(")):
        configured(Settings(**overrides))


def test_the_catalog_comes_from_the_operators_provider_once_it_is_ready() -> None:
    class NotReady(StaticCatalogProvider):
        @property
        def ready(self) -> bool:
            return False

    memo = memo_for(Settings())
    current = webhook._catalog_getter(memo)
    assert current() is load_bundled_catalog()
    memo.catalog_provider = NotReady(load_bundled_catalog())
    with pytest.raises(errors.PricingError, match="the price catalog is not loaded yet"):
        current()


async def test_renewed_certificate_files_restart_the_listener_with_them(tmp_path: Path) -> None:
    """cert-manager renews the Secret in place; the server must pick the new pair up without a restart."""
    paths = certificates.generate_self_signed(tmp_path, ["127.0.0.1"])
    memo = memo_for(Settings())
    server = webhook.AdmissionServer(
        runtime=lambda: None,
        addr="127.0.0.1",
        port=0,
        certfile=str(paths.cert_file),
        pkeyfile=str(paths.key_file),
        cafile=str(paths.ca_file),
        file_check_interval=0.05,
    )
    async with server:
        generator = server(kopf_webhook_fn(memo))
        first = await asyncio.wait_for(generator.__anext__(), TIMEOUT)
        old_ca = first["caBundle"]
        certificates.generate_self_signed(tmp_path, ["127.0.0.1"])  # a new CA and pair, same files
        second = await asyncio.wait_for(generator.__anext__(), TIMEOUT)
        assert second["caBundle"] != old_ca
        context = ssl.create_default_context(cafile=str(paths.ca_file))  # the new CA
        url = f"{second['url']}/validate-costestimate"
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
            session.post(url, data=b"{}", ssl=context) as answer,
        ):
            assert answer.status == 503  # served with the new certificate (no runtime configured here)
        await generator.aclose()


async def test_the_webhook_bounds_come_from_the_settings(tmp_path: Path) -> None:
    client_ca = certificates.generate_self_signed(tmp_path / "client", ["kube-apiserver"]).ca_file
    settings = Settings(
        webhook_listen="127.0.0.1:0",
        webhook_cert_dir=tmp_path / "serving",
        webhook_max_in_flight=7,
        webhook_read_timeout=2.5,
        webhook_idle_timeout=12,
        webhook_decision_timeout=6,
        webhook_client_ca_file=client_ca,
    )
    kopf_settings, memo = configured(settings)
    await webhook.stop_admission(memo)
    server = kopf_settings.admission.server
    assert isinstance(server, webhook.AdmissionServer)
    assert (server.limit.limit, server.read_timeout, server.idle_timeout) == (7, 2.5, 12)
    assert server.shutdown_timeout == 2.5 + 6  # a body, then its decision
    assert (server.verify_cafile, server.verify_mode) == (str(client_ca), ssl.CERT_REQUIRED)
    # Without a client CA, none is asked for.
    plain, plain_memo = configured(Settings(webhook_listen="127.0.0.1:0", webhook_cert_dir=tmp_path / "p"))
    await webhook.stop_admission(plain_memo)
    assert isinstance(plain.admission.server, webhook.AdmissionServer)
    assert (plain.admission.server.verify_cafile, plain.admission.server.verify_mode) == (None, None)

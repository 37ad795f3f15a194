"""Process plumbing: login, kopf settings, catalog provider choice, probes, metrics."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import pytest
from prometheus_client import CollectorRegistry

from cloudcostguard import errors, metrics
from cloudcostguard.k8s import process
from cloudcostguard.k8s.operator import runtime
from cloudcostguard.k8s.operator.loops import ReconcileKey, Reconciler
from cloudcostguard.pricing.catalog_provider import StaticCatalogProvider
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings


def kubeconfig(path: Path, user: str) -> Path:
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters:\n- name: k\n  cluster:\n    server: https://10.0.0.1:6443\n"
        "    certificate-authority-data: Q0E=\n"
        "contexts:\n- name: c\n  context:\n    cluster: k\n    namespace: team-a\n" + user,
        encoding="utf-8",
    )
    return path


def login(monkeypatch: pytest.MonkeyPatch, path: Path) -> kopf.ConnectionInfo | None:
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    result: kopf.ConnectionInfo | None = runtime.login(settings=kopf.OperatorSettings(), logger=None)
    return result


def test_kubeconfig_without_a_user_connects_without_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = login(monkeypatch, kubeconfig(tmp_path / "config", ""))
    assert info is not None
    assert (info.server, info.token, info.username, info.default_namespace) == (
        "https://10.0.0.1:6443",
        None,
        None,
        "team-a",
    )
    assert info.ca_data == "Q0E="


def test_kubeconfig_token_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = "    user: u\nusers:\n- name: u\n  user:\n    token: s3cr3t\n"
    info = login(monkeypatch, kubeconfig(tmp_path / "config", user))
    assert info is not None and info.token == "s3cr3t"


def test_exec_plugin_users_need_the_client_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = (
        "    user: u\nusers:\n- name: u\n  user:\n"
        "    exec: {command: aws, apiVersion: client.authentication.k8s.io/v1}\n"
    )
    real_import = importlib.import_module

    def without_kubernetes(name: str, *args: Any) -> Any:
        if name.startswith("kubernetes"):
            raise ImportError(name)
        return real_import(name, *args)

    monkeypatch.setattr(runtime.importlib, "import_module", without_kubernetes)
    with pytest.raises(kopf.LoginError, match="install the kubernetes package"):
        login(monkeypatch, kubeconfig(tmp_path / "config", user))


def test_no_kubeconfig_means_no_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert login(monkeypatch, tmp_path / "absent") is None


def test_kopf_marks_live_in_the_product_group() -> None:
    kopf_settings = kopf.OperatorSettings()
    runtime.configure_kopf(kopf_settings, Settings())
    assert kopf_settings.persistence.finalizer == "cloudcostguard.io/finalizer"
    assert kopf_settings.persistence.progress_storage.prefix == "cloudcostguard.io"
    assert kopf_settings.persistence.diffbase_storage.prefix == "cloudcostguard.io"
    assert kopf_settings.networking.request_timeout == runtime.API_REQUEST_TIMEOUT


def test_bundled_prices_without_a_database() -> None:
    provider = runtime.build_catalog_provider(Settings())
    assert isinstance(provider, StaticCatalogProvider)
    assert provider.current() is load_bundled_catalog()


def test_database_url_uses_the_store_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(database_url="postgresql://db/prices")

    class PostgresCatalogProvider:
        def __init__(self, dsn: str, given: Settings) -> None:
            self.dsn, self.settings = dsn, given

    monkeypatch.setattr(runtime, "PostgresCatalogProvider", PostgresCatalogProvider)
    provider = runtime.build_catalog_provider(settings)
    assert isinstance(provider, PostgresCatalogProvider) and provider.settings is settings
    assert provider.dsn == "postgresql://db/prices"


@pytest.mark.parametrize("listen", ["nonsense", "host:http", "1.2.3.4:70000"])
def test_bad_listen_addresses_name_the_setting(listen: str) -> None:
    with pytest.raises(errors.ConfigurationError, match="CCG_METRICS_LISTEN"):
        runtime.parse_listen(listen, "metrics_listen")
    assert runtime.parse_listen(":8080", "metrics_listen") == ("0.0.0.0", 8080)


async def test_probes_report_readiness_once_started_and_indexed() -> None:
    memo = process.make_memo(Settings())
    state = memo.servers
    await runtime._serve(state, "health", runtime._health_app(memo), "127.0.0.1:0", "health_listen")
    host, port = state.addresses["health"]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://{host}:{port}/healthz") as response:
                assert (response.status, await response.text()) == (200, "ok\n")
            async with session.get(f"http://{host}:{port}/readyz") as response:
                assert (response.status, await response.text()) == (503, "starting\n")
            memo.process.started = True
            async with session.get(f"http://{host}:{port}/readyz") as response:
                assert (response.status, await response.text()) == (503, "indexes not yet populated\n")
            memo.process.indexed = True
            async with session.get(f"http://{host}:{port}/readyz") as response:
                assert (response.status, await response.text()) == (200, "ready\n")
    finally:
        for runner in state.runners:
            await runner.cleanup()


def test_runtime_collector_reads_catalog_phases_and_spend() -> None:
    provider = StaticCatalogProvider(load_bundled_catalog())
    reconciler = Reconciler()
    reconciler.state("a", "x").spend_seen = "10.50"
    reconciler.state("a", "y").spend_seen = "2.25"
    reconciler.state("a", "y").reconciled = ReconcileKey(1, "d", "v")
    registry = CollectorRegistry()
    collector = metrics.RuntimeCollector(
        catalog_status=provider.status,
        catalog_ready=lambda: provider.ready,
        phase_counts=reconciler.phase_counts,
        estimated_spend=lambda: runtime._estimated_spend(reconciler),
        is_leader=lambda: leading,
    )
    leading = False
    metrics.register_runtime(collector, registry)
    version = load_bundled_catalog().version
    assert registry.get_sample_value("cloudcostguard_catalog_ready") == 1.0
    assert (
        registry.get_sample_value("cloudcostguard_catalog_info", {"source": "bundled", "version": version})
        == 1.0
    )
    assert registry.get_sample_value("cloudcostguard_catalog_age_seconds") is not None
    assert registry.get_sample_value("cloudcostguard_costestimates", {"phase": "Estimated"}) == 1.0
    assert registry.get_sample_value("cloudcostguard_costestimates", {"phase": "Pending"}) == 1.0
    assert registry.get_sample_value("cloudcostguard_estimated_monthly_cost_usd") == 12.75
    assert registry.get_sample_value("cloudcostguard_leader") == 0.0
    leading = True
    assert registry.get_sample_value("cloudcostguard_leader") == 1.0
    metrics.unregister_runtime(collector, registry)
    metrics.unregister_runtime(collector, registry)  # twice is harmless
    assert registry.get_sample_value("cloudcostguard_catalog_ready") is None


def test_essence_is_generation_labels_and_annotations_not_the_spec() -> None:
    storage = runtime.GenerationDiffBaseStorage(prefix="cloudcostguard.io", key="last-handled-configuration")
    body = kopf.Body(
        {
            "apiVersion": "cloudcostguard.io/v1alpha1",
            "kind": "CostEstimate",
            "metadata": {
                "name": "web",
                "generation": 3,
                "resourceVersion": "41",
                "labels": {"team": "a"},
                "annotations": {"note": "x", "cloudcostguard.io/last-handled-configuration": "{}"},
            },
            "spec": {"plan": {"inline": {"resource_changes": [{"address": "aws_instance.a"}] * 100}}},
            "status": {"phase": "Estimated"},
        }
    )
    assert storage.build(body=body) == {
        "metadata": {"generation": 3, "labels": {"team": "a"}, "annotations": {"note": "x"}}
    }

"""Building blocks for admission tests and the latency benchmark.

- Object builders: NAT-gateway plans (one NAT gateway in us-east-1 costs 730 h × 0.045 USD = 32.85 USD a
  month in the bundled snapshot), CostEstimates, CostPolicies, ConfigMaps and AdmissionReviews.
- ``WebhookHarness``: the real ``AdmissionServer`` over HTTPS on 127.0.0.1 with a generated CA, serving
  the lean path at ``/<handler id>`` and kopf's machinery at ``/kopf/<handler id>`` — the function kopf
  itself passes to a webhook server (``serve_admission_request`` bound to a registry, insights and
  memos), wired here by hand because no API server is involved.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
import tempfile
import uuid
from collections.abc import Mapping
from concurrent.futures import Executor
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import kopf
import orjson
from kopf._cogs.structs import references
from kopf._core.engines import admission as kopf_admission
from kopf._core.engines import indexing
from kopf._core.reactor import inventory

from cloudcostguard.k8s.admission import (
    certificates,
    handlers,  # noqa: F401 - registers the webhook's kopf handlers
    server,
)
from cloudcostguard.k8s.admission.decision import HANDLER_IDS, PLAN_LABEL, AdmissionRuntime
from cloudcostguard.k8s.admission.memo import AdmissionMemo
from cloudcostguard.k8s.cluster.state import ClusterState
from cloudcostguard.k8s.testing import InMemoryClusterState
from cloudcostguard.pricing.catalog_provider import StaticCatalogProvider
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings
from tests.plans import NAT_MONTHLY, nat_plan

__all__ = ["NAT_MONTHLY", "nat_plan"]

NAMESPACE = "team-a"
CE_RESOURCE = {"group": "cloudcostguard.io", "version": "v1alpha1", "resource": "costestimates"}
CM_RESOURCE = {"group": "", "version": "v1", "resource": "configmaps"}
SECRET_RESOURCE = {"group": "", "version": "v1", "resource": "secrets"}
CLIENT_TIMEOUT = 30  # seconds per request: generous on a shared 2-CPU machine, but never a hang


def cost_estimate(
    name: str,
    *,
    namespace: str = NAMESPACE,
    plan: Mapping[str, Any] | None = None,
    config_map: tuple[str, str] | None = None,
    secret: tuple[str, str] | None = None,
    url: str | None = None,
    labels: Mapping[str, str] | None = None,
    monthly_cost: str | None = None,
) -> dict[str, Any]:
    if config_map is not None:
        source: dict[str, Any] = {"configMapKeyRef": {"name": config_map[0], "key": config_map[1]}}
    elif secret is not None:
        source = {"secretKeyRef": {"name": secret[0], "key": secret[1]}}
    elif url is not None:
        source = {"url": url}
    else:
        source = {"inline": dict(plan or nat_plan(1))}
    body: dict[str, Any] = {
        "apiVersion": "cloudcostguard.io/v1alpha1",
        "kind": "CostEstimate",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "spec": {"plan": source},
    }
    if monthly_cost is not None:
        body["status"] = {"monthlyCost": monthly_cost}
    return body


def cost_policy(
    name: str,
    enforcement: str = "Deny",
    *,
    namespace_selector: Mapping[str, Any] | None = None,
    selector: Mapping[str, Any] | None = None,
    message: str | None = None,
    unpriced: str | None = None,
    **limits: str | int,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"enforcement": enforcement, "limits": dict(limits)}
    if unpriced is not None:
        spec["unpriced"] = unpriced
    if namespace_selector is not None:
        spec["namespaceSelector"] = dict(namespace_selector)
    if selector is not None:
        spec["selector"] = dict(selector)
    if message is not None:
        spec["message"] = message
    return {
        "apiVersion": "cloudcostguard.io/v1alpha1",
        "kind": "CostPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def config_map(
    name: str, data: Mapping[str, str], *, namespace: str = NAMESPACE, labelled: bool = True
) -> dict[str, Any]:
    labels = {PLAN_LABEL: "true"} if labelled else {}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "data": dict(data),
    }


def secret(name: str, data: Mapping[str, bytes], *, namespace: str = NAMESPACE) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {PLAN_LABEL: "true"}},
        "type": "Opaque",
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


def review(
    obj: Mapping[str, Any],
    *,
    operation: str = "CREATE",
    old: Mapping[str, Any] | None = None,
    dry_run: bool = False,
    resource: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An admission.k8s.io/v1 AdmissionReview as the API server sends it."""
    metadata = obj.get("metadata", {})
    kind = str(obj.get("kind", "CostEstimate"))
    if resource is None:
        resource = {"ConfigMap": CM_RESOURCE, "Secret": SECRET_RESOURCE}.get(kind, CE_RESOURCE)
    group, version = resource["group"], resource["version"]
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": str(uuid.uuid4()),
            "kind": {"group": group, "version": version, "kind": kind},
            "resource": dict(resource),
            "requestKind": {"group": group, "version": version, "kind": kind},
            "requestResource": dict(resource),
            "name": metadata.get("name", ""),
            "namespace": metadata.get("namespace", NAMESPACE),
            "operation": operation,
            "userInfo": {"username": "system:serviceaccount:argocd:argocd-application-controller"},
            "object": dict(obj),
            "oldObject": dict(old) if old is not None else None,
            "dryRun": dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


# --- the server ----------------------------------------------------------------------------------------

WEBHOOK_RESOURCES = {
    references.Resource(
        group="cloudcostguard.io",
        version="v1alpha1",
        plural="costestimates",
        kind="CostEstimate",
        singular="costestimate",
        namespaced=True,
        subresources=frozenset({"status"}),
    ),
    references.Resource(group="", version="v1", plural="configmaps", kind="ConfigMap", namespaced=True),
    references.Resource(group="", version="v1", plural="secrets", kind="Secret", namespaced=True),
}


def kopf_webhook_fn(
    memo: Any, registry: kopf.OperatorRegistry | None = None, extra_resources: Any = ()
) -> kopf.WebhookFn:
    """What kopf passes to ``settings.admission.server`` (see kopf's ``running.spawn_tasks``)."""
    registry = registry or kopf.get_default_registry()
    insights = references.Insights()
    insights.webhook_resources.update(WEBHOOK_RESOURCES, extra_resources)
    indexers = indexing.OperatorIndexers()
    indexers.ensure(registry._indexing.get_all_handlers())
    return functools.partial(  # type: ignore[return-value]
        kopf_admission.serve_admission_request,
        settings=kopf.OperatorSettings(),
        registry=registry,
        insights=insights,
        memories=inventory.ResourceMemories(),
        memobase=memo,
        indices=indexers.indices,
    )


class WebhookHarness:
    """The webhook server on 127.0.0.1 (HTTPS, generated CA) with an in-memory state; ``post`` a review."""

    def __init__(
        self,
        state: ClusterState | None = None,
        *,
        settings: Settings | None = None,
        registry: kopf.OperatorRegistry | None = None,
        extra_resources: Any = (),
        client_limit: int = 20,
        executor: Executor | None = None,
        client_ca_file: str | None = None,
    ) -> None:
        self.state = state if state is not None else InMemoryClusterState()
        self.settings = settings or Settings()
        self._registry = registry
        self._extra_resources = extra_resources
        self._client_limit = client_limit
        self._executor = executor
        self._client_ca_file = client_ca_file
        self._directory = tempfile.TemporaryDirectory(prefix="ccg-webhook-test-")
        self.memo = AdmissionMemo(
            settings=self.settings, catalog_provider=StaticCatalogProvider(load_bundled_catalog())
        )
        self.url = ""
        self.ca_file = Path()
        self._generator: Any = None
        self._server: server.AdmissionServer | None = None
        self.session: aiohttp.ClientSession | None = None
        self.runtime: AdmissionRuntime | None = None

    async def __aenter__(self) -> WebhookHarness:
        paths = certificates.generate_self_signed(Path(self._directory.name), ["127.0.0.1", "localhost"])
        self.ca_file = paths.ca_file
        catalog = load_bundled_catalog()
        self.runtime = AdmissionRuntime(
            settings=self.settings,
            state=self.state,
            catalog=lambda: catalog,
            executor=self._executor,
        )
        self.memo.admission = self.runtime
        self._server = server.AdmissionServer(
            runtime=lambda: self.runtime,
            lean_handlers=HANDLER_IDS if self.settings.webhook_fast_path else (),
            max_body_bytes=self.settings.webhook_max_review_bytes,
            max_in_flight=self.settings.webhook_max_in_flight,
            read_timeout=self.settings.webhook_read_timeout,
            idle_timeout=self.settings.webhook_idle_timeout,
            client_ca_file=self._client_ca_file,
            addr="127.0.0.1",
            port=0,  # kopf picks a free port
            certfile=str(paths.cert_file),
            pkeyfile=str(paths.key_file),
            cafile=str(paths.ca_file),
        )
        await self._server.__aenter__()
        self._generator = self._server(kopf_webhook_fn(self.memo, self._registry, self._extra_resources))
        client_config = await asyncio.wait_for(self._generator.__anext__(), CLIENT_TIMEOUT)
        self.url = client_config["url"].rstrip("/")
        context = ssl.create_default_context(cafile=str(paths.ca_file))
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=context, limit=self._client_limit),
            timeout=aiohttp.ClientTimeout(total=CLIENT_TIMEOUT),
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.session is not None:
            await self.session.close()
        if self._generator is not None:
            await self._generator.aclose()
        if self._server is not None:
            await self._server.__aexit__(None, None, None)
        self._directory.cleanup()

    @property
    def server(self) -> server.AdmissionServer:
        assert self._server is not None, "the harness is not running"
        return self._server

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    async def post(
        self, path: str, body: bytes | Mapping[str, Any], *, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any, str]:
        """POST to ``path``; returns (HTTP status, parsed JSON body or raw text, HTTP reason)."""
        assert self.session is not None
        data = body if isinstance(body, bytes) else orjson.dumps(body)
        async with self.session.post(
            f"{self.url}{path}",
            data=data,
            headers={"Content-Type": "application/json", **(headers or {})},
        ) as response:
            raw = await response.read()
            try:
                parsed: Any = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = raw.decode(errors="replace")
            return response.status, parsed, response.reason or ""

    async def both(self, handler: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Ask the lean path and kopf's path; they must agree. Returns the AdmissionReview response."""
        lean_status, lean, _ = await self.post(f"/{handler}", body)
        kopf_status, through_kopf, _ = await self.post(f"/{server.KOPF_PREFIX}/{handler}", body)
        assert (lean_status, kopf_status) == (200, 200), (lean, through_kopf)
        assert lean == through_kopf, f"paths disagree:\nlean: {lean}\nkopf: {through_kopf}"
        response: dict[str, Any] = lean["response"]
        return response

"""The operator's side of the process: kopf settings, login, probes, metrics, startup and cleanup steps.

Shared resources are created once, kept in kopf's memo (``OperatorMemo``) and closed at cleanup (STYLE
rule 6):

- ``memo.settings`` — the typed ``Settings``;
- ``memo.catalog_provider`` — a ``CatalogProvider``: the bundled snapshot without a database, the
  PostgreSQL-backed provider (``cloudcostguard.pricing.store.postgres_provider``) with ``database_url``;
- ``memo.reconciler`` / ``memo.reconcile_context`` / ``memo.url_fetcher`` — reconcile state and tools;
- ``memo.leadership`` — who may write: a ``leadership.LeaderElector`` on a Lease (started here at
  startup, released at cleanup), or ``leadership.Standalone`` with ``run --standalone``;
- ``memo.cluster`` — the cluster-state view over kopf's indexes, bound at startup;
- ``memo.servers`` — the probe and ``/metrics`` servers (``metrics_server``: HTTPS with TokenReview and
  SubjectAccessReview by default, plain HTTP with ``CCG_METRICS_SECURE=false``).

``cloudcostguard.k8s.process`` composes this with the admission webhook into one process.

kopf is configured to keep its marks in the product's API group: finalizer ``cloudcostguard.io/finalizer``,
progress and diff-base annotations under ``cloudcostguard.io/``.

Replicas. ``cloudcostguard run`` starts kopf standalone: no kopf peering, which would pause every watch
of a standby and leave the webhook there judging from stale indexes. Every replica watches, indexes and
serves the webhook; the Lease decides which one writes statuses and Events (``handlers``,
``leadership``). kopf's own Events (handler failures) follow the Lease too: ``posting.enabled`` is on
only while leading.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp.web
import kopf
import yaml

from cloudcostguard import errors, metrics
from cloudcostguard.k8s.api.models import GROUP
from cloudcostguard.k8s.cluster.plan_sources import PlanResolver, UrlFetcher
from cloudcostguard.k8s.cluster.throttling import FairLimiter
from cloudcostguard.k8s.memo import Memo
from cloudcostguard.k8s.operator import leadership, metrics_server, reconcile
from cloudcostguard.k8s.operator.loops import Reconciler
from cloudcostguard.k8s.operator.memo import OperatorMemo, Servers
from cloudcostguard.pricing import catalog_file
from cloudcostguard.pricing.catalog_provider import CatalogProvider, StaticCatalogProvider
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.pricing.store.postgres_provider import PostgresCatalogProvider
from cloudcostguard.settings import Settings, listen_address

logger = logging.getLogger("cloudcostguard.runtime")

FINALIZER = f"{GROUP}/finalizer"
# Seconds for one API request and one connection attempt (watch streams are long-lived by design and
# are bounded by kopf's reconnect logic instead).
API_REQUEST_TIMEOUT = 60.0
API_CONNECT_TIMEOUT = 10.0
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def build_catalog_provider(settings: Settings) -> CatalogProvider:
    """The PostgreSQL store when ``database_url`` is set; else the catalog file (``CCG_CATALOG_FILE``,
    e.g. a `pricing sync` result mounted from a volume in an air-gapped cluster) when one is
    configured or exists at the default path; else the bundled snapshot."""
    if settings.database_url is None or not settings.database_url.get_secret_value():
        path = catalog_file.catalog_path_to_read(settings.catalog_file)
        if path is not None:
            try:
                return StaticCatalogProvider(catalog_file.read_catalog_file(path).catalog)
            except errors.PricingError as err:
                raise errors.ConfigurationError(str(err)) from err
        return StaticCatalogProvider(load_bundled_catalog())
    return PostgresCatalogProvider(settings.database_url.get_secret_value(), settings)


def operator_parts(settings: Settings, catalog_provider: CatalogProvider) -> dict[str, Any]:
    """The operator's fields of the memo, before kopf starts (fails fast on configuration errors)."""
    elected = leadership.build_leadership(settings)
    fetcher = UrlFetcher(settings)
    context = reconcile.ReconcileContext(
        settings=settings,
        catalog_provider=catalog_provider,
        resolver=PlanResolver(settings, fetcher),
        judge=reconcile.EvaluationJudge(),
        limiter=FairLimiter(
            settings.reconcile_max_concurrency,
            settings.reconcile_max_concurrency_per_namespace,
            what="reconciles",
        ),
    )
    return {
        "reconciler": Reconciler(),
        "reconcile_context": context,
        "url_fetcher": fetcher,
        "leadership": elected,
    }


class GenerationDiffBaseStorage(kopf.AnnotationsDiffBaseStorage):
    """An object's essence is its generation, labels and annotations — not its whole spec.

    kopf builds an essence on every watch event, to detect changes: by default a deep copy of the whole
    object, twice per event, an inline plan of up to megabytes included (the biggest CPU cost of the
    operator). The API server bumps ``metadata.generation`` on every spec change of a resource with a
    status subresource, so the generation stands for the spec. The operator uses no change-detecting
    handlers (on.create/update); one added later still fires on spec changes, with the generation as
    its diff rather than per-field diffs.
    """

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> kopf.BodyEssence:
        metadata = body.get("metadata", {})
        kept = {key: metadata[key] for key in ("generation", "labels", "annotations") if key in metadata}
        slim: kopf.RawBody = {"metadata": kept}  # type: ignore[typeddict-item]
        return super().build(body=kopf.Body(slim), extra_fields=["metadata.generation"])


def configure_kopf(kopf_settings: kopf.OperatorSettings, settings: Settings) -> None:
    persistence = kopf_settings.persistence
    persistence.finalizer = FINALIZER
    persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    persistence.diffbase_storage = GenerationDiffBaseStorage(prefix=GROUP, key="last-handled-configuration")
    kopf_settings.networking.request_timeout = API_REQUEST_TIMEOUT
    kopf_settings.networking.connect_timeout = API_CONNECT_TIMEOUT
    kopf_settings.watching.connect_timeout = API_CONNECT_TIMEOUT
    # The operator posts its own Events (estimate changes, failures); kopf's per-handler chatter is logged.
    kopf_settings.posting.level = logging.WARNING


def configure_logging(settings: Settings) -> None:
    log_format = kopf.LogFormat.JSON if settings.log_format == "json" else kopf.LogFormat.FULL
    kopf.configure(debug=settings.log_level == "DEBUG", log_format=log_format)
    logging.getLogger().setLevel(settings.log_level)
    # kopf logs "Timer 'reconcile' succeeded." on every reconcile loop turn: keep that at DEBUG volume.
    logging.getLogger("kopf.objects").addFilter(_QuietTimers())


class _QuietTimers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        message = record.getMessage()
        return not (
            message.startswith(("Timer 'reconcile'", "Timer 'policy-status'")) and "succeeded" in message
        )


# --- login --------------------------------------------------------------------------------------------


@kopf.on.login(id="cloudcostguard-login")
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In-cluster service account, else the kubeconfig in effect (``KUBECONFIG`` or ``~/.kube/config``).

    A minimal kubeconfig reader handles tokens, client certificates, basic auth and no authentication at
    all (a context without a user, as for a plain-HTTP test API server), which kopf's own minimal reader
    rejects. Users with ``exec`` or ``auth-provider`` plugins (EKS, GKE, OIDC) go through the kubernetes
    client library, when it is installed.
    """
    if os.environ.get("KUBERNETES_SERVICE_HOST") and SERVICE_ACCOUNT_TOKEN.exists():
        return kopf.login_with_service_account(**kwargs)
    found = _read_kubeconfig()
    if found is None:
        return None
    context, cluster, user = found
    if user.get("exec") or user.get("auth-provider"):
        try:
            importlib.import_module("kubernetes.config")
        except ImportError as err:
            raise kopf.LoginError(
                "the kubeconfig user needs an exec/auth-provider plugin; install the kubernetes package"
            ) from err
        return kopf.login_via_client(**kwargs)
    return _connection_info(context, cluster, user, kwargs["settings"])


Section = Mapping[str, Any]


def _read_kubeconfig() -> tuple[Section, Section, Section] | None:
    paths = [p for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p] or [
        str(Path("~/.kube/config").expanduser())
    ]
    contexts: dict[str, Mapping[str, Any]] = {}
    clusters: dict[str, Mapping[str, Any]] = {}
    users: dict[str, Mapping[str, Any]] = {}
    current: str | None = None
    for path in paths:
        file = Path(path).expanduser()
        if not file.is_file():
            continue
        config = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        current = current or config.get("current-context")
        for kind, target in (("contexts", contexts), ("clusters", clusters), ("users", users)):
            for item in config.get(kind) or []:
                target.setdefault(item["name"], item.get(kind[:-1]) or {})
    if current is None or current not in contexts:
        return None
    context = contexts[current]
    return context, clusters.get(context.get("cluster", ""), {}), users.get(context.get("user", ""), {})


def _connection_info(
    context: Section, cluster: Section, user: Section, settings: kopf.OperatorSettings
) -> kopf.ConnectionInfo | None:
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        return None
    return kopf.ConnectionInfo(
        server=server,
        ca_path=cluster.get("certificate-authority"),
        ca_data=cluster.get("certificate-authority-data"),
        insecure=cluster.get("insecure-skip-tls-verify"),
        certificate_path=user.get("client-certificate"),
        certificate_data=user.get("client-certificate-data"),
        private_key_path=user.get("client-key"),
        private_key_data=user.get("client-key-data"),
        username=user.get("username"),
        password=user.get("password"),
        token=user.get("token"),
        default_namespace=context.get("namespace"),
        trust_env=settings.networking.trust_env,
    )


# --- probes and metrics servers ---------------------------------------------------------------------


def parse_listen(listen: str, setting: str) -> tuple[str, int]:
    host, port = listen_address(listen, setting)
    return host or "0.0.0.0", port  # noqa: S104 - serving probes in a pod


def is_ready(memo: Memo) -> tuple[bool, str]:
    if not memo.catalog_provider.ready:
        return False, "price catalog not loaded"
    if not memo.process.started:
        return False, "starting"
    if not memo.process.indexed:
        # Not ready, so the webhook Service sends no admission review here until this replica knows
        # every CostPolicy, namespace and CostEstimate: a budget gate must not fail open at start-up.
        return False, "indexes not yet populated"
    return True, "ready"


def catalog_detail(memo: Memo) -> dict[str, Any] | None:
    """What ``/readyz`` says about the price catalog. Stale does not make a replica unready: it keeps
    pricing from the last good catalog (restarting it would not bring PostgreSQL back), and says since
    when; ``cloudcostguard_catalog_stale`` and ``cloudcostguard_catalog_age_seconds`` alert on it."""
    provider = memo.catalog_provider
    if not provider.ready:
        return None
    status = provider.status()
    confirmed = datetime.fromtimestamp(status.loaded_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "source": status.source,
        "version": status.version,
        "stale": status.stale,
        "staleSince": confirmed if status.stale else None,
        "ageSeconds": round(status.age_seconds, 1),
        "lastError": status.last_error,
    }


def _health_app(memo: Memo) -> aiohttp.web.Application:
    async def healthz(_: aiohttp.web.Request) -> aiohttp.web.Response:
        return aiohttp.web.Response(text="ok\n")

    async def readyz(request: aiohttp.web.Request) -> aiohttp.web.Response:
        ready, reason = is_ready(memo)
        code = 200 if ready else 503
        detail = catalog_detail(memo)
        if request.query.get("format") == "json":
            body = {"ready": ready, "reason": reason, "catalog": detail}
            return aiohttp.web.json_response(body, status=code)
        text = reason + "\n"
        if detail is not None and detail["stale"]:
            text += (
                f"price catalog stale since {detail['staleSince']}: serving {detail['source']} "
                f"{detail['version']} ({detail['lastError']})\n"
            )
        return aiohttp.web.Response(text=text, status=code)

    app = aiohttp.web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def _serve(
    state: Servers,
    name: str,
    app: aiohttp.web.Application,
    listen: str,
    setting: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    host, port = parse_listen(listen, setting)
    runner = aiohttp.web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
    await runner.setup()
    state.runners.append(runner)
    site = aiohttp.web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError as err:
        raise errors.ConfigurationError(
            f"cannot listen on {listen} (CCG_{setting.upper()}): {err.strerror}"
        ) from err
    bound = runner.addresses[-1] if runner.addresses else (host, port)
    state.addresses[name] = (str(bound[0]), int(bound[1]))


# --- startup and cleanup --------------------------------------------------------------------------------


def _estimated_spend(reconciler: Reconciler) -> float:
    total = Decimal(0)
    for state in reconciler.states.values():
        if state.spend_seen is not None:
            total += Decimal(state.spend_seen)
    return float(total)  # Prometheus samples are floats; money stays Decimal everywhere else


async def start_operator(kopf_settings: kopf.OperatorSettings, memo: OperatorMemo) -> None:
    """Configure kopf, serve probes and metrics, load the first price catalog (``process.startup``)."""
    config = memo.settings
    servers, provider = memo.servers, memo.catalog_provider
    reconciler, elected = memo.reconciler, memo.leadership
    configure_kopf(kopf_settings, config)
    memo.kopf_settings = kopf_settings
    try:
        # Probes first: liveness must answer while a large catalog is still loading.
        await _serve(servers, "health", _health_app(memo), config.health_listen, "health_listen")
        endpoint = metrics_server.build_endpoint(config, kopf_settings)
        servers.metrics = endpoint
        listen, context = config.metrics_listen, endpoint.ssl_context
        await _serve(servers, "metrics", endpoint.app, listen, "metrics_listen", ssl_context=context)
        endpoint.start()
    except errors.ConfigurationError as err:
        raise kopf.PermanentError(str(err)) from err
    await provider.start()
    loop = asyncio.get_running_loop()

    def prices_changed(_catalog: Any) -> None:
        # Listeners may be called from the provider's thread or task: hop onto the loop either way.
        loop.call_soon_threadsafe(reconciler.wake_all)

    provider.add_listener(prices_changed)
    collector = metrics.RuntimeCollector(
        catalog_status=lambda: provider.status() if provider.ready else None,
        catalog_ready=lambda: provider.ready,
        # A standby does not reconcile: it has no phases to report (the leader does).
        phase_counts=lambda: reconciler.phase_counts() if elected.is_leader() else {},
        estimated_spend=lambda: _estimated_spend(reconciler),
        is_leader=elected.is_leader,
    )
    metrics.register_runtime(collector)
    servers.collector = collector


def start_leadership(kopf_settings: kopf.OperatorSettings, memo: OperatorMemo) -> None:
    """Start the Lease election when this process elects (not with ``--standalone``)."""
    if isinstance(memo.leadership, leadership.LeaderElector):
        start_election(memo.leadership, kopf_settings, memo.settings, memo.reconciler)


def start_election(
    elector: leadership.LeaderElector,
    kopf_settings: kopf.OperatorSettings,
    settings: Settings,
    reconciler: Reconciler,
) -> None:
    """Run the Lease election in the background; gate kopf's own Events and wake the loops on gain."""

    def leadership_changed(leading: bool) -> None:
        kopf_settings.posting.enabled = leading
        if leading:
            reconciler.resume_as_leader()

    kopf_settings.posting.enabled = False  # not before this replica leads
    elector.add_listener(leadership_changed)
    client = leadership.KopfLeaseClient(
        settings.leader_election_lease_name,
        settings.operator_namespace,
        kopf_settings,
        request_timeout=elector.timings.renew_deadline,
    )
    elector.start(client)


async def stop_loops_and_leadership(memo: OperatorMemo) -> None:
    """First cleanup step: no loop writes any more, and the Lease is given up."""
    memo.reconciler.stop()
    # kopf stopped the loops before cleanup, so nothing writes any more: give the Lease up at once, and
    # a standby takes over within a retry period (not a lease duration).
    await memo.leadership.stop()


async def stop_operator(memo: OperatorMemo) -> None:
    """Last cleanup step: close the URL fetcher, the catalog provider, the metrics and probe servers."""
    await memo.url_fetcher.close()
    await memo.catalog_provider.stop()
    servers = memo.servers
    if servers.collector is not None:
        metrics.unregister_runtime(servers.collector)
        servers.collector = None
    for runner in reversed(servers.runners):
        await runner.cleanup()
    servers.runners.clear()
    if servers.metrics is not None:
        await servers.metrics.close()
        servers.metrics = None

"""The operator's part of kopf's memo: reconcile state and tools, leadership, probe and metrics servers."""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp.web
import kopf

from cloudcostguard import metrics
from cloudcostguard.k8s.cluster.plan_sources import UrlFetcher
from cloudcostguard.k8s.memo import Memo
from cloudcostguard.k8s.operator.leadership import Leadership
from cloudcostguard.k8s.operator.loops import Reconciler
from cloudcostguard.k8s.operator.metrics_server import MetricsEndpoint
from cloudcostguard.k8s.operator.reconcile import ReconcileContext


@dataclass(slots=True)
class Servers:
    """The probe and metrics servers (started at startup, closed at cleanup)."""

    runners: list[aiohttp.web.AppRunner] = field(default_factory=list)
    addresses: dict[str, tuple[str, int]] = field(default_factory=dict)  # server name → bound address
    collector: metrics.RuntimeCollector | None = None
    metrics: MetricsEndpoint | None = None  # /metrics: its certificate watch and authorizer


@dataclass(eq=False, kw_only=True)
class OperatorMemo(Memo):
    reconciler: Reconciler
    reconcile_context: ReconcileContext
    url_fetcher: UrlFetcher
    leadership: Leadership  # who may write: a LeaderElector on a Lease, or Standalone
    policy_versions: dict[str, int] = field(default_factory=dict)  # CostPolicy → spend version of its status
    policy_specs: dict[str, str] = field(default_factory=dict)  # CostPolicy → fingerprint of its spec
    policy_write_failures: dict[str, int] = field(default_factory=dict)  # CostPolicy → failed writes in a row
    servers: Servers = field(default_factory=Servers)
    # kopf's settings (set at startup): the API client's login and timeouts, for writes kopf does not do.
    kopf_settings: kopf.OperatorSettings | None = None

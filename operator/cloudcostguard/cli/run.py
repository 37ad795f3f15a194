"""``cloudcostguard run``: the operator, the admission webhook, ``/metrics``, ``/healthz`` and ``/readyz``.

Scope flags are kopf's (``--standalone``, ``--namespace/-n``, ``--all-namespaces/-A``); without a
namespace flag the operator serves the whole cluster. It connects with the in-cluster service account or
the kubeconfig in effect (``KUBECONFIG``, ``~/.kube/config``). SIGTERM and SIGINT stop it gracefully:
reconcile loops finish, servers close, the catalog provider stops.

Several replicas: every replica watches the cluster, keeps its indexes current and serves the admission
webhook from them; one replica, elected through the Lease ``CCG_LEADER_ELECTION_LEASE_NAME`` (default
``cloudcostguard-leader``) in the operator's namespace, writes CostEstimate/CostPolicy statuses and
Events (``cloudcostguard.k8s.operator.leadership``). kopf itself runs without peering. ``--standalone``
is for a single replica or development: no Lease, this process writes (as ``CCG_LEADER_ELECTION=false``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from cloudcostguard import errors
from cloudcostguard.settings import load_settings


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "run",
        help="run the operator and the admission webhook",
        description="Run the CostEstimate/CostPolicy operator, the admission webhook, /metrics and probes.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "-n",
        "--namespace",
        dest="namespaces",
        action="append",
        metavar="NAMESPACE",
        help="serve only this namespace (repeatable; globs like team-* allowed)",
    )
    scope.add_argument(
        "-A", "--all-namespaces", action="store_true", help="serve the whole cluster (the default)"
    )
    parser.add_argument(
        "--standalone",
        action="store_true",
        help="one replica: no leader election Lease, this process writes (env CCG_LEADER_ELECTION=false)",
    )
    parser.add_argument("--metrics-listen", metavar="HOST:PORT", help="/metrics (env CCG_METRICS_LISTEN)")
    parser.add_argument(
        "--health-listen", metavar="HOST:PORT", help="/healthz, /readyz (env CCG_HEALTH_LISTEN)"
    )
    parser.add_argument(
        "--webhook-listen", metavar="HOST:PORT", help="admission webhook (env CCG_WEBHOOK_LISTEN)"
    )
    parser.add_argument("--webhook-cert-file", metavar="FILE", help="webhook TLS certificate, PEM")
    parser.add_argument("--webhook-key-file", metavar="FILE", help="webhook TLS key, PEM")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="PostgreSQL pricing store (env CCG_DATABASE_URL); default: bundled",
    )
    parser.add_argument("--log-format", choices=("json", "text"), help="log line format (env CCG_LOG_FORMAT)")
    parser.add_argument(
        "--log-level", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="log level (env CCG_LOG_LEVEL)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(
        metrics_listen=args.metrics_listen,
        health_listen=args.health_listen,
        webhook_listen=args.webhook_listen,
        webhook_cert_file=args.webhook_cert_file,
        webhook_key_file=args.webhook_key_file,
        database_url=args.database_url,
        leader_election=False if args.standalone else None,
        log_format=args.log_format,
        log_level=args.log_level,
    )
    import kopf  # noqa: PLC0415 - keeps `cloudcostguard --help` and `estimate` fast

    from cloudcostguard.k8s import process  # noqa: PLC0415 - registers every kopf handler
    from cloudcostguard.k8s.operator import runtime  # noqa: PLC0415

    runtime.configure_logging(settings)
    memo = process.make_memo(settings)
    namespaces = list(args.namespaces or [])
    operator = kopf.operator(
        clusterwide=not namespaces,
        namespaces=namespaces,
        # kopf peering would pause every watch of a standby replica; the Lease gates the writers instead.
        standalone=True,
        memo=memo,
    )
    try:
        asyncio.run(operator)
    except Exception as err:
        cause = _our_cause(err)
        if cause is None:
            raise
        print(f"cloudcostguard: error: {cause}", file=sys.stderr)
        return 2
    return 0


def _our_cause(err: BaseException) -> BaseException | None:
    """The configuration problem behind kopf's "startup handlers failed" error, if that is what it is."""
    import kopf  # noqa: PLC0415

    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, errors.CloudCostGuardError | kopf.PermanentError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None

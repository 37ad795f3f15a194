"""The admission webhook in a process of its own, wired as ``cloudcostguard run`` wires it, for load tests.

    python -m tests.reliability.admission_server --cert-dir DIR [--grow-every S] [--policy-every N]

``configure_admission`` builds the server, runtime and worker threads from ``Settings`` (every ``CCG_*``
variable applies, e.g. ``CCG_WEBHOOK_MAX_IN_FLIGHT``); the cluster state is the operator's own
``KopfIndexState`` over index dicts shaped as kopf's. Starting with 20 committed CostEstimates and the
three policies of ``benchmarks/admission_latency.py``, the state grows while the load runs: one more
CostEstimate every ``--grow-every`` seconds and one more policy every ``--policy-every`` of them, all
within budget (so every review is estimated and judged against all of them).

Prints ``ready <webhook port> <metrics port>`` (``/metrics`` of prometheus_client, plain HTTP, for the
test to read the webhook's counters); stops when stdin closes (also when the test process dies).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import kopf
import prometheus_client

from cloudcostguard.k8s.admission import server as webhook
from cloudcostguard.k8s.admission.memo import AdmissionMemo
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.pricing.catalog_provider import StaticCatalogProvider
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import load_settings
from tests.integration.admission.support import kopf_webhook_fn

NAMESPACE = "team-a"
LABELS = {"team": "payments"}
PAYMENTS = {"matchLabels": LABELS}
POLICY_KINDS: list[tuple[str, dict[str, Any]]] = [
    ("Deny", {"maxMonthlyCost": "1000000"}),
    ("Deny", {"namespaceMonthlyBudget": "50000000"}),
    ("Warn", {"maxMonthlyIncrease": "1000000", "maxIncreasePercent": 500}),
]


class GrowingState:
    """Index dicts shaped as kopf's (key → list of values), grown while the server runs."""

    def __init__(self) -> None:
        self.by_id: dict[str, dict[Any, list[Any]]] = {
            indexes.NAMESPACE_LABELS: {NAMESPACE: [LABELS]},
            indexes.COSTESTIMATE_SPEND: {},
            indexes.PLAN_CONFIGMAPS: {},
            indexes.PLAN_SECRETS: {},
            indexes.TOFU_PLANS: {},
            indexes.COST_POLICIES: {},
            indexes.PLAN_USERS: {},
        }
        self.estimates = 0
        self.policies = 0
        for _ in range(20):
            self.add_estimate()
        for _ in range(3):
            self.add_policy()

    def add_estimate(self) -> None:
        name = f"existing-{self.estimates}"
        entry = indexes.index_costestimate_spend(
            NAMESPACE, name, {}, {}, {"monthlyCost": f"{1000 + self.estimates}.25"}
        )
        for key, value in (entry or {}).items():
            self.by_id[indexes.COSTESTIMATE_SPEND].setdefault(key, []).append(value)
        self.estimates += 1

    def add_policy(self) -> None:
        enforcement, limits = POLICY_KINDS[self.policies % len(POLICY_KINDS)]
        name = f"policy-{self.policies}"
        spec = {"enforcement": enforcement, "limits": limits, "namespaceSelector": PAYMENTS}
        for key, value in indexes.index_cost_policy(name, spec).items():
            self.by_id[indexes.COST_POLICIES].setdefault(key, []).append(value)
        self.policies += 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def serve(args: argparse.Namespace) -> None:
    settings = load_settings(webhook_listen="127.0.0.1:0", webhook_cert_dir=Path(args.cert_dir))
    memo = AdmissionMemo(settings=settings, catalog_provider=StaticCatalogProvider(load_bundled_catalog()))
    state = GrowingState()
    missing = memo.cluster.bind(state.by_id)
    assert not missing, missing
    kopf_settings = kopf.OperatorSettings()
    webhook.configure_admission(kopf_settings, settings, memo)
    server = kopf_settings.admission.server
    assert isinstance(server, webhook.AdmissionServer)
    metrics_port = free_port()
    prometheus_client.start_http_server(metrics_port, "127.0.0.1")

    async def grow() -> None:
        while True:
            await asyncio.sleep(args.grow_every)
            state.add_estimate()
            if state.estimates % args.policy_every == 0:
                state.add_policy()

    async with server:
        generator = server(kopf_webhook_fn(memo))
        client_config = await generator.__anext__()
        port = int(str(client_config["url"]).rstrip("/").rsplit(":", 1)[1])
        print(f"ready {port} {metrics_port}", flush=True)
        growing = asyncio.create_task(grow())
        await asyncio.to_thread(sys.stdin.read)  # until the test closes our stdin
        growing.cancel()
        print(f"grown to {state.estimates} CostEstimates and {state.policies} CostPolicies", flush=True)
        await generator.aclose()
    await webhook.stop_admission(memo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cert-dir", required=True)
    parser.add_argument("--grow-every", type=float, default=1.0)
    parser.add_argument("--policy-every", type=int, default=30)
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()

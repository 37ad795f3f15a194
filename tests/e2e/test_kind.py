"""End to end on a real cluster: kind + the Docker image + config/ manifests + a sample CostEstimate.

Skips (with the reason) unless kind, kubectl and a working Docker daemon are present. It creates its
own cluster ``cloudcostguard-e2e`` and always passes ``--context kind-cloudcostguard-e2e``, so it never
touches whatever cluster the current kubeconfig points at. ``CCG_E2E_KEEP=1`` keeps the cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.kind_support import missing_tools, run

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "cloudcostguard-e2e"
CONTEXT = f"kind-{CLUSTER}"
IMAGE = "cloudcostguard:e2e"


def kubectl(*args: str, stdin: str | None = None, check: bool = True, timeout: float = 300) -> str:
    return run("kubectl", "--context", CONTEXT, *args, stdin=stdin, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(f"kind e2e test skipped: {reason}")
    existing = run("kind", "get", "clusters").split()
    if CLUSTER not in existing:
        run("kind", "create", "cluster", "--name", CLUSTER, "--wait", "180s", timeout=600)
    try:
        run("docker", "build", "-t", IMAGE, ".", timeout=1200)
        run("kind", "load", "docker-image", IMAGE, "--name", CLUSTER, timeout=600)
        kubectl("apply", "-k", "config/crd")
        kubectl("wait", "--for=condition=Established", "crd/costestimates.cloudcostguard.io", "--timeout=60s")
        kubectl("apply", "-k", "config/rbac")
        # The manager without the webhook wiring (cert-manager is not installed here); its two replicas
        # elect their writer on the Lease, as in production.
        manager = [doc for doc in yaml.safe_load_all(run("kubectl", "kustomize", "config/manager")) if doc]
        for doc in manager:
            if doc["kind"] == "Deployment":
                container = doc["spec"]["template"]["spec"]["containers"][0]
                container["image"] = IMAGE
                container["imagePullPolicy"] = "Never"
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(manager))
        kubectl(
            "rollout", "status", "deployment/cloudcostguard-operator", "-n", "cloudcostguard-system",
            "--timeout=180s",
        )  # fmt: skip
        yield
    finally:
        if os.environ.get("CCG_E2E_KEEP") != "1":
            run("kind", "delete", "cluster", "--name", CLUSTER, check=False)


def test_costestimate_gets_ready_with_its_monthly_cost(cluster: None) -> None:
    kubectl("create", "namespace", "team-a", check=False)
    kubectl("apply", "-f", "config/samples/costestimate_inline.yaml")
    kubectl("wait", "--for=condition=Ready", "costestimate/egress", "-n", "team-a", "--timeout=120s")
    table = kubectl("get", "ce", "egress", "-n", "team-a")
    header = table.splitlines()[0].split()
    assert header[:3] == ["NAME", "MONTHLY", "DIFF"]
    assert "VERDICT" in header and "READY" in header and header[-1] == "AGE"
    monthly = kubectl("get", "costestimate", "egress", "-n", "team-a", "-o", "jsonpath={.status.monthlyCost}")
    assert float(monthly) > 0
    finalizers = kubectl(
        "get", "costestimate", "egress", "-n", "team-a", "-o", "jsonpath={.metadata.finalizers}"
    )
    assert "cloudcostguard.io/finalizer" in finalizers
    kubectl("delete", "costestimate", "egress", "-n", "team-a", "--timeout=60s")


def test_api_server_enforces_exactly_one_plan_source(cluster: None) -> None:
    manifest = yaml.safe_dump(
        {
            "apiVersion": "cloudcostguard.io/v1alpha1",
            "kind": "CostEstimate",
            "metadata": {"name": "two-sources", "namespace": "default"},
            "spec": {
                "plan": {"url": "https://example.com/p.json", "configMapKeyRef": {"name": "p", "key": "k"}}
            },
        }
    )
    output = kubectl("apply", "-f", "-", stdin=manifest, check=False)
    assert "exactly one of inline, configMapKeyRef, secretKeyRef, terraformRef, url must be set" in output


def lease_holder_pod() -> str:
    """The pod whose replica holds the Lease (identities are ``<pod name>_<random>``), or ""."""
    holder = kubectl(
        "get", "lease", "cloudcostguard-leader", "-n", "cloudcostguard-system",
        "-o", "jsonpath={.spec.holderIdentity}", check=False,
    ).strip()  # fmt: skip
    return holder.rsplit("_", 1)[0] if "_" in holder else ""


def test_one_replica_leads_and_a_deleted_leader_is_replaced(cluster: None) -> None:
    pods = kubectl(
        "get", "pods", "-n", "cloudcostguard-system", "-l", "app.kubernetes.io/name=cloudcostguard",
        "-o", "jsonpath={.items[*].metadata.name}",
    ).split()  # fmt: skip
    assert len(pods) == 2
    deadline = time.monotonic() + 60
    while lease_holder_pod() not in pods:
        assert time.monotonic() < deadline, "no replica took the Lease"
        time.sleep(1)
    leader = lease_holder_pod()
    # A deleted pod gets SIGTERM: it releases the Lease, and the other replica takes it within seconds.
    kubectl("delete", "pod", leader, "-n", "cloudcostguard-system", "--wait=false")
    deadline = time.monotonic() + 60
    while lease_holder_pod() in ("", leader):
        assert time.monotonic() < deadline, "the Lease was not handed over"
        time.sleep(1)
    assert lease_holder_pod() in pods
    kubectl("create", "namespace", "team-b", check=False)
    sample = (ROOT / "config/samples/costestimate_inline.yaml").read_text().replace("team-a", "team-b")
    kubectl("apply", "-f", "-", stdin=sample)
    kubectl("wait", "--for=condition=Ready", "costestimate/egress", "-n", "team-b", "--timeout=120s")

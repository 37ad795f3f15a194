"""From nothing to a guarded cluster, on kind: install with Helm and with kustomize, then use it.

For each install path: a CostEstimate reading a labelled plan ConfigMap becomes Ready with the monthly
cost of its plan; editing the ConfigMap re-estimates it; a change that breaks a Deny CostPolicy is
refused by ``kubectl apply`` with the policy's message, and ``kubectl apply --dry-run=server`` gets the
same answer without creating anything.

Skips (with the reason) unless kind, kubectl, helm and a working Docker daemon are present. It uses its
own cluster ``cloudcostguard-guard`` and always passes ``--context``. The kustomize path needs
cert-manager: set ``CCG_E2E_CERT_MANAGER`` to its manifest (a file or URL; .github/workflows/e2e.yaml
does), else that path skips. ``CCG_E2E_KEEP=1`` keeps the cluster.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import yaml

from tests.e2e.kind_support import missing_tools, run
from tests.plans import money, nat_monthly, nat_plan
from tests.unit.deploy import manifests

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = "cloudcostguard-guard"
CONTEXT = f"kind-{CLUSTER}"
IMAGE_REPOSITORY, IMAGE_TAG = "cloudcostguard", "e2e"
SYSTEM = "cloudcostguard-system"
NS = "team-e2e"
POLICY = "e2e-cap"


def _missing_tools() -> str | None:
    if manifests.helm_binary() is None:
        return manifests.HELM_MISSING
    return missing_tools()


def kubectl(*args: str, stdin: str | None = None, check: bool = True) -> str:
    return run("kubectl", "--context", CONTEXT, *args, stdin=stdin, check=check, timeout=300)


def applied(manifest: str) -> bool:
    """``kubectl apply`` of ``manifest`` succeeded (False while a webhook is not answering yet)."""
    result = subprocess.run(
        ["kubectl", "--context", CONTEXT, "apply", "-f", "-"],
        input=manifest, capture_output=True, text=True, timeout=300, check=False, cwd=ROOT,
    )  # fmt: skip
    return result.returncode == 0


def helm(*args: str) -> str:
    return run(str(manifests.helm_binary()), "--kube-context", CONTEXT, *args, timeout=600)


def eventually(check: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(2)


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    reason = _missing_tools()
    if reason is not None:
        pytest.skip(f"kind e2e test skipped: {reason}")
    if CLUSTER not in run("kind", "get", "clusters").split():
        run("kind", "create", "cluster", "--name", CLUSTER, "--wait", "180s", timeout=600)
    try:
        run("docker", "build", "-t", f"{IMAGE_REPOSITORY}:{IMAGE_TAG}", ".", timeout=1200)
        run("kind", "load", "docker-image", f"{IMAGE_REPOSITORY}:{IMAGE_TAG}", "--name", CLUSTER, timeout=600)
        yield
    finally:
        if os.environ.get("CCG_E2E_KEEP") != "1":
            run("kind", "delete", "cluster", "--name", CLUSTER, check=False)


def install_with_helm() -> Callable[[], None]:
    helm(
        "install", "cloudcostguard", str(manifests.CHART), "--namespace", SYSTEM, "--create-namespace",
        "--set", f"image.repository={IMAGE_REPOSITORY}", "--set", f"image.tag={IMAGE_TAG}",
        "--set", "image.pullPolicy=Never", "--wait", "--timeout", "5m",
    )  # fmt: skip

    def uninstall() -> None:
        helm("uninstall", "cloudcostguard", "--namespace", SYSTEM, "--wait")

    return uninstall


def install_with_kustomize() -> Callable[[], None]:
    cert_manager = os.environ.get("CCG_E2E_CERT_MANAGER")
    if not cert_manager:
        pytest.skip("the kustomize install needs cert-manager: set CCG_E2E_CERT_MANAGER to its manifest")
    kubectl("apply", "-f", cert_manager)
    for deployment in ("cert-manager", "cert-manager-webhook", "cert-manager-cainjector"):
        kubectl("rollout", "status", f"deployment/{deployment}", "-n", "cert-manager", "--timeout=300s")
    objects = manifests.kustomize(ROOT / "config" / "default")
    for obj in objects:
        if obj["kind"] == "Deployment":
            container = obj["spec"]["template"]["spec"]["containers"][0]
            container["image"] = f"{IMAGE_REPOSITORY}:{IMAGE_TAG}"
            container["imagePullPolicy"] = "Never"
    rendered = yaml.safe_dump_all(objects)
    # cert-manager's own webhook may need a moment before it accepts Issuers and Certificates.
    eventually(lambda: applied(rendered), "config/default to be applied")
    kubectl("rollout", "status", "deployment/cloudcostguard-operator", "-n", SYSTEM, "--timeout=300s")

    def uninstall() -> None:
        kubectl("delete", "-f", "-", "--ignore-not-found", "--wait=true", stdin=rendered, check=False)

    return uninstall


@pytest.fixture(params=["helm", "kustomize"])
def installed(request: pytest.FixtureRequest, cluster: None) -> Iterator[str]:
    uninstall = install_with_helm() if request.param == "helm" else install_with_kustomize()
    try:
        yield request.param
    finally:
        kubectl("delete", "namespace", NS, "--ignore-not-found", "--wait=true", check=False)
        kubectl("delete", "costpolicy", POLICY, "--ignore-not-found", check=False)
        uninstall()


def plan_configmap(gateways: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "web-plan", "namespace": NS, "labels": {"cloudcostguard.io/plan": "true"}},
            "data": {"plan.json": orjson.dumps(nat_plan(gateways)).decode()},
        }
    )


def estimate(name: str, source: dict[str, object]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "cloudcostguard.io/v1alpha1",
            "kind": "CostEstimate",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"plan": source},
        }
    )


def monthly(name: str) -> str:
    return kubectl(
        "get", "costestimate", name, "-n", NS, "-o", "jsonpath={.status.monthlyCost}", check=False
    ).strip()  # fmt: skip


def test_a_guarded_cluster_prices_re_estimates_and_refuses(installed: str) -> None:
    kubectl("create", "namespace", NS)
    kubectl("label", "namespace", NS, "environment=e2e")
    # Two NAT gateways fit, three do not.
    cap = money(nat_monthly(2) + (nat_monthly(1) / 2))
    policy = {
        "apiVersion": "cloudcostguard.io/v1alpha1",
        "kind": "CostPolicy",
        "metadata": {"name": POLICY},
        "spec": {
            "enforcement": "Deny",
            "namespaceSelector": {"matchLabels": {"environment": "e2e"}},
            "limits": {"maxMonthlyCost": cap},
            "message": "Ask the platform team.",
        },
    }
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(policy))
    # The first apply can race the replicas' readiness: retry until the webhook answers.
    eventually(
        lambda: (
            "created" in kubectl("apply", "-f", "-", stdin=plan_configmap(1), check=False)
            or "unchanged" in kubectl("apply", "-f", "-", stdin=plan_configmap(1), check=False)
        ),
        "the plan ConfigMap to be admitted",
    )
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=estimate("web", {"configMapKeyRef": {"name": "web-plan", "key": "plan.json"}}),
    )
    kubectl("wait", "--for=condition=Ready", "costestimate/web", "-n", NS, "--timeout=180s")
    assert monthly("web") == money(nat_monthly(1))

    kubectl("apply", "-f", "-", stdin=plan_configmap(2))  # a plan edit in Git, synced
    eventually(lambda: monthly("web") == money(nat_monthly(2)), "the edited plan to be re-estimated")

    over = estimate("api", {"inline": nat_plan(3)})
    dry = kubectl("apply", "--dry-run=server", "-f", "-", stdin=over, check=False)
    real = kubectl("apply", "-f", "-", stdin=over, check=False)
    expected = (
        f"CostPolicy {POLICY}: monthly cost {money(nat_monthly(3))} USD exceeds maxMonthlyCost {cap} USD"
    )
    for answer in (dry, real):
        assert "denied the request" in answer and expected in answer, answer
        assert "Ask the platform team." in answer
    assert "NotFound" in kubectl("get", "costestimate", "api", "-n", NS, check=False)

    refused = kubectl("apply", "-f", "-", stdin=plan_configmap(3), check=False)
    assert "denied the request" in refused and f"CostPolicy {POLICY}" in refused
    assert monthly("web") == money(nat_monthly(2))  # the refused edit changed nothing

"""The kustomize tree agrees with the code: samples validate, probes and ports match the settings, RBAC
covers what the handlers watch and write, the Deployment is restricted, the Dockerfile is non-root."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

import cloudcostguard
from cloudcostguard.k8s.models import CostEstimateSpec, CostPolicySpec
from cloudcostguard.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "config"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def sample(kind: str) -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((CONFIG / "samples").glob("*.yaml"))
        for doc in documents(path)
        if doc["kind"] == kind
    ]


def test_samples_are_valid_api_objects() -> None:
    estimates, policies = sample("CostEstimate"), sample("CostPolicy")
    assert {e["metadata"]["name"] for e in estimates} == {"egress", "network", "platform", "data-lake"}
    sources = {CostEstimateSpec.model_validate(e["spec"]).plan.kind for e in estimates}
    assert sources == {"inline", "configMapKeyRef", "terraformRef", "url"}
    assert {CostPolicySpec.model_validate(p["spec"]).enforcement for p in policies} == {"Deny", "Warn"}


def test_inline_sample_plan_is_priced() -> None:
    [egress] = [e for e in sample("CostEstimate") if e["metadata"]["name"] == "egress"]
    estimate = cloudcostguard.estimate(egress["spec"]["plan"]["inline"], usage=egress["spec"]["usage"])
    assert estimate.total_monthly_cost > 0
    assert [r.support for r in estimate.resources] == ["priced", "free"]


def test_manager_deployment_matches_the_settings_and_is_restricted() -> None:
    [deployment, _pdb] = documents(CONFIG / "manager" / "manager.yaml")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    for setting, port in (
        ("metrics_listen", "metrics"),
        ("health_listen", "health"),
        ("webhook_listen", "webhook"),
    ):
        listen = env[f"CCG_{setting.upper()}"]
        assert listen == Settings.model_fields[setting].default
        assert int(listen.rsplit(":", 1)[1]) == ports[port]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["args"][0] == "run"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def test_rbac_covers_what_the_handlers_use() -> None:
    [role] = documents(CONFIG / "rbac" / "role.yaml")
    granted = {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    needed = [("cloudcostguard.io", "costestimates", verb) for verb in ("list", "watch", "patch")] + [
        ("cloudcostguard.io", "costestimates/status", "patch"),
        ("cloudcostguard.io", "costpolicies/status", "patch"),
        ("", "configmaps", "watch"),
        ("", "secrets", "watch"),
        ("", "namespaces", "list"),
        ("", "events", "create"),
        ("kopf.dev", "clusterkopfpeerings", "patch"),
    ]
    assert [need for need in needed if need not in granted] == []


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (for kustomize) is not installed")
def test_default_overlay_builds() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(CONFIG / "default")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    kinds = sorted(doc["kind"] for doc in yaml.safe_load_all(built) if doc)
    assert kinds.count("CustomResourceDefinition") == 4
    for kind in (
        "Deployment",
        "ClusterRole",
        "ServiceAccount",
        "ValidatingWebhookConfiguration",
        "Namespace",
    ):
        assert kind in kinds
    [deployment] = [doc for doc in yaml.safe_load_all(built) if doc and doc["kind"] == "Deployment"]
    env = {item["name"] for item in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert {"CCG_WEBHOOK_CERT_FILE", "CCG_WEBHOOK_KEY_FILE"} <= env  # the cert-manager patch applied


def test_dockerfile_runs_as_a_numeric_non_root_user() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0].isdigit() and users[-1].split(":")[0] != "0"
    assert any(line.startswith("FROM python:3.11-slim") for line in lines)
    assert 'ENTRYPOINT ["cloudcostguard"]' in lines

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
from cloudcostguard.k8s.api.models import CostEstimateSpec, CostPolicySpec
from cloudcostguard.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
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
    ]
    assert [need for need in needed if need not in granted] == []
    # No kopf peering any more: replicas coordinate through a Lease, granted only in their namespace.
    assert not any(group == "kopf.dev" or resource == "leases" for group, resource, _verb in granted)


def test_leader_election_may_use_its_lease_in_the_operator_namespace_only() -> None:
    [role] = documents(CONFIG / "rbac" / "leader_election_role.yaml")
    [binding] = documents(CONFIG / "rbac" / "leader_election_role_binding.yaml")
    [deployment, _pdb] = documents(CONFIG / "manager" / "manager.yaml")
    namespace = deployment["metadata"]["namespace"]
    assert role["kind"] == "Role" and role["metadata"]["namespace"] == namespace
    # What KopfLeaseClient calls: GET, POST (create), merge PATCH (with a resourceVersion precondition).
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "verbs": ["get", "create", "patch"],
        }
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    [subject] = binding["subjects"]
    pod = deployment["spec"]["template"]["spec"]
    assert (subject["name"], subject["namespace"]) == (pod["serviceAccountName"], namespace)
    resources = yaml.safe_load((CONFIG / "rbac" / "kustomization.yaml").read_text())["resources"]
    assert {"leader_election_role.yaml", "leader_election_role_binding.yaml"} <= set(resources)


def test_two_replicas_elect_one_writer_and_keep_one_serving() -> None:
    [deployment, pdb] = documents(CONFIG / "manager" / "manager.yaml")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert deployment["spec"]["replicas"] == 2
    assert env["CCG_LEADER_ELECTION"] == "true"
    assert "--standalone" not in container["args"]
    assert "CCG_OPERATOR_NAMESPACE" in env  # the Lease's namespace (from the downward API)
    assert pdb["kind"] == "PodDisruptionBudget" and pdb["spec"]["minAvailable"] == 1
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]


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
    assert kinds.count("CustomResourceDefinition") == 2
    for kind in (
        "Deployment",
        "ClusterRole",
        "Role",
        "RoleBinding",
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

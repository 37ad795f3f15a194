"""The Helm chart: lints, keeps crds/ and config/ in step, and renders what its values say."""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from cloudcostguard.settings import Settings
from tests.unit.deploy import manifests

CHART = manifests.CHART
NAMESPACE = "cloudcostguard-system"
needs_helm = pytest.mark.skipif(manifests.helm_binary() is None, reason=manifests.HELM_MISSING)


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str, suffix: str = "") -> dict[str, Any]:
    """The one object of ``kind`` (whose name ends with ``suffix``, when several are expected)."""
    [found] = [obj for obj in by_kind(objects, kind) if obj["metadata"]["name"].endswith(suffix)]
    return found


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [obj for obj in by_kind(objects, kind) if obj["metadata"]["name"] == name]
    return found


def config_objects(*parts: str) -> list[dict[str, Any]]:
    return [doc for part in parts for doc in manifests.file_documents(manifests.CONFIG / part)]


def test_chart_crds_are_the_generated_crds() -> None:
    generated = {path.name: path.read_text() for path in manifests.CRDS.glob("cloudcostguard.io_*.yaml")}
    in_chart = {path.name: path.read_text() for path in (CHART / "crds").iterdir()}
    assert len(generated) == 2
    assert in_chart == generated, "charts/cloudcostguard/crds drifted from crds/: run `make manifests`"


def test_chart_alerts_are_the_kustomize_alerts() -> None:
    [rule] = config_objects("prometheus/alerts.yaml")
    groups = yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    assert groups == rule["spec"]


@needs_helm
@pytest.mark.parametrize("values", [(), (manifests.FULL_VALUES,)], ids=["default-values", "full-values"])
def test_helm_lint_is_clean(values: tuple[Path, ...]) -> None:
    args = ["lint", "--strict", str(CHART)]
    for path in values:
        args += ["--values", str(path)]
    linted = manifests.helm(*args)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "0 chart(s) failed" in linted.stdout


@needs_helm
def test_default_install_matches_the_kustomize_tree() -> None:
    objects = manifests.helm_template()
    kinds = sorted(obj["kind"] for obj in objects)
    assert kinds.count("CustomResourceDefinition") == 2
    assert {"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "Certificate"}.isdisjoint(kinds)
    [role] = config_objects("rbac/role.yaml")
    [lease_role] = config_objects("rbac/leader_election_role.yaml")
    [reader] = config_objects("rbac/metrics_reader_role.yaml")
    assert sorted(obj["metadata"]["name"] for obj in by_kind(objects, "ClusterRole")) == [
        "ccg-cloudcostguard",
        "ccg-cloudcostguard-metrics-reader",
    ]
    assert named(objects, "ClusterRole", "ccg-cloudcostguard")["rules"] == role["rules"]
    assert one(objects, "ClusterRole", "-metrics-reader")["rules"] == reader["rules"]
    # No subject is assumed: without metrics.reader.subjects nobody is bound to read /metrics.
    assert [b["metadata"]["name"] for b in by_kind(objects, "ClusterRoleBinding")] == ["ccg-cloudcostguard"]
    assert one(objects, "Role")["rules"] == lease_role["rules"]
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    [container] = pod["containers"]
    [kustomize_deployment, _pdb] = config_objects("manager/manager.yaml")
    [kustomize_container] = kustomize_deployment["spec"]["template"]["spec"]["containers"]
    for field in ("livenessProbe", "readinessProbe", "startupProbe", "securityContext", "resources"):
        assert container[field] == kustomize_container[field], field
    assert deployment["spec"]["replicas"] == 2
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert (
        pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]
        == (deployment["spec"]["selector"]["matchLabels"])
    )
    env = {item["name"]: item.get("value") for item in container["env"]}
    for setting in ("metrics_listen", "health_listen", "webhook_listen"):
        assert env[f"CCG_{setting.upper()}"] == Settings.model_fields[setting].default
    assert env["CCG_LEADER_ELECTION"] == "true"
    assert "CCG_DATABASE_URL" not in env
    assert container["args"] == ["run", "--all-namespaces"]
    pdb = one(objects, "PodDisruptionBudget")
    assert pdb["spec"] == {"minAvailable": 1, "selector": deployment["spec"]["selector"]}
    binding = one(objects, "RoleBinding")
    assert binding["subjects"][0]["name"] == pod["serviceAccountName"]


def webhook_without_wiring(entry: dict[str, Any]) -> dict[str, Any]:
    entry = copy.deepcopy(entry)
    entry["clientConfig"]["service"].pop("name")
    entry["clientConfig"]["service"].pop("namespace")
    entry["clientConfig"].pop("caBundle", None)
    entry.pop("namespaceSelector")
    return entry


@needs_helm
def test_webhooks_are_the_kustomize_webhooks_and_a_generated_pair_serves_them() -> None:
    objects = manifests.helm_template()
    configuration = one(objects, "ValidatingWebhookConfiguration")
    [kustomize] = config_objects("webhook/manifests.yaml")
    assert [webhook_without_wiring(e) for e in configuration["webhooks"]] == [
        webhook_without_wiring(e) for e in kustomize["webhooks"]
    ]
    service = next(obj for obj in by_kind(objects, "Service") if obj["metadata"]["name"].endswith("-webhook"))
    secret = one(objects, "Secret", "-webhook-tls")
    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    served = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    served.verify_directly_issued_by(ca)
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"{service['metadata']['name']}.{NAMESPACE}.svc" in names.get_values_for_type(x509.DNSName)
    usages = served.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages
    for entry in configuration["webhooks"]:
        assert base64.b64decode(entry["clientConfig"]["caBundle"]) == base64.b64decode(
            secret["data"]["ca.crt"]
        )
        assert entry["clientConfig"]["service"] == {
            "name": service["metadata"]["name"],
            "namespace": NAMESPACE,
            "path": entry["clientConfig"]["service"]["path"],
            "port": 443,
        }
        assert entry["namespaceSelector"]["matchExpressions"][0]["values"] == [NAMESPACE]
    volumes = {v["name"]: v for v in one(objects, "Deployment")["spec"]["template"]["spec"]["volumes"]}
    assert volumes["webhook-tls"]["secret"]["secretName"] == secret["metadata"]["name"]


@needs_helm
def test_full_values_switch_every_option_on() -> None:
    objects = manifests.helm_template(manifests.FULL_VALUES)
    values = yaml.safe_load(manifests.FULL_VALUES.read_text())
    configuration = one(objects, "ValidatingWebhookConfiguration")
    for entry in configuration["webhooks"]:
        assert entry["failurePolicy"] == "Ignore" and entry["timeoutSeconds"] == 15
        assert entry["namespaceSelector"]["matchExpressions"][0]["values"] == [
            NAMESPACE,
            "kube-system",
            "flux-system",
        ]
        assert "caBundle" not in entry["clientConfig"]  # cert-manager injects it
    certificate = one(objects, "Certificate", "-webhook")
    assert configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"{NAMESPACE}/{certificate['metadata']['name']}"
    )
    assert certificate["spec"]["issuerRef"] == {"kind": "ClusterIssuer", "name": "internal-ca"}
    # The /metrics certificate comes from the same issuer, for the metrics Service's names.
    metrics_certificate = one(objects, "Certificate", "-metrics")
    assert metrics_certificate["spec"]["issuerRef"] == certificate["spec"]["issuerRef"]
    assert metrics_certificate["spec"]["secretName"] == "ccg-cloudcostguard-metrics-tls"
    assert metrics_certificate["spec"]["dnsNames"][0] == f"ccg-cloudcostguard-metrics.{NAMESPACE}.svc"
    reader_binding = one(objects, "ClusterRoleBinding", "-metrics-reader")
    assert reader_binding["roleRef"]["name"] == "ccg-cloudcostguard-metrics-reader"
    assert reader_binding["subjects"] == values["metrics"]["reader"]["subjects"]
    assert by_kind(objects, "Issuer") == [] and by_kind(objects, "Secret") == []
    deployment = one(objects, "Deployment")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert deployment["spec"]["replicas"] == 3
    assert container["image"] == "registry.example.com/platform/cloudcostguard:0.1.0"
    assert container["args"] == ["run", "--namespace=team-a", "--namespace=team-b"]
    [database] = [item for item in container["env"] if item["name"] == "CCG_DATABASE_URL"]
    assert database == {
        "name": "CCG_DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "cloudcostguard-database", "key": "url"}},
    }
    assert {"name": "CCG_RESYNC_INTERVAL", "value": "600"} in container["env"]
    monitor = one(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    rule = one(objects, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load((CHART / "files" / "alerts.yaml").read_text())
    policy = one(objects, "NetworkPolicy")
    assert policy["spec"]["ingress"][1]["from"] == values["networkPolicy"]["metricsFrom"]


@needs_helm
def test_standalone_when_leader_election_is_off() -> None:
    objects = manifests.helm_template(sets=("leaderElection.enabled=false", "replicaCount=1"))
    [container] = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["run", "--all-namespaces", "--standalone"]
    assert by_kind(objects, "Role") == []


@needs_helm
@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("database.password=hunter2", "additional properties 'password' not allowed"),
        ("database.url=postgresql://u:p@db/x", "additional properties 'url' not allowed"),
        ("webhook.failurePolicy=Maybe", "value must be one of 'Fail', 'Ignore'"),
        ("webhook.certificate.mode=vault", "value must be one of 'selfSigned', 'certManager'"),
        ("replicaCount=0", "minimum"),
    ],
)
def test_values_schema_refuses_bad_values(setting: str, complaint: str) -> None:
    rendered = manifests.helm("template", "ccg", str(CHART), "--set", setting)
    assert rendered.returncode != 0
    assert complaint in rendered.stderr.lower() or complaint in rendered.stderr

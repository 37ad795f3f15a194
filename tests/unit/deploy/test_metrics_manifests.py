"""Authenticated /metrics, as installed: the port, the certificate and the scraper's credentials agree
between the Deployment, the Service, the ServiceMonitor and cert-manager (kustomize and Helm), and the
RBAC grants exactly the review calls the operator makes and the one URL a reader needs."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import yaml
from cryptography import x509

from cloudcostguard.k8s.operator import metrics_auth, metrics_server
from cloudcostguard.settings import Settings
from tests.unit.deploy import manifests

NAMESPACE = "cloudcostguard-system"
SA_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
needs_kubectl = pytest.mark.skipif(manifests.kubectl_binary() is None, reason=manifests.KUBECTL_MISSING)
needs_helm = pytest.mark.skipif(manifests.helm_binary() is None, reason=manifests.HELM_MISSING)


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [obj for obj in of_kind(objects, kind) if obj["metadata"]["name"] == name]
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    [found] = deployment["spec"]["template"]["spec"]["containers"]
    return found


def env_of(deployment: dict[str, Any]) -> dict[str, str | None]:
    return {item["name"]: item.get("value") for item in container(deployment)["env"]}


def check_wiring(objects: list[dict[str, Any]], service_name: str, secret_name: str) -> dict[str, Any]:
    """The Deployment serves HTTPS on the port the Service targets and the ServiceMonitor scrapes, with
    the certificate mounted from the Secret whose CA the ServiceMonitor trusts; returns the endpoint."""
    [deployment] = of_kind(objects, "Deployment")
    env = env_of(deployment)
    ports = {port["name"]: port["containerPort"] for port in container(deployment)["ports"]}
    listen = env["CCG_METRICS_LISTEN"]
    assert listen is not None and int(listen.rsplit(":", 1)[1]) == ports["metrics"]
    assert env["CCG_METRICS_SECURE"] == "true"
    mounts = {m["name"]: m["mountPath"] for m in container(deployment)["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["metrics-tls"]["secret"]["secretName"] == secret_name
    assert env["CCG_METRICS_CERT_FILE"] == f"{mounts['metrics-tls']}/tls.crt"
    assert env["CCG_METRICS_KEY_FILE"] == f"{mounts['metrics-tls']}/tls.key"

    service = named(objects, "Service", service_name)
    [service_port] = service["spec"]["ports"]
    assert service_port["targetPort"] in ("metrics", ports["metrics"])
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()

    [monitor] = of_kind(objects, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["port"] == service_port["name"]
    assert endpoint["path"] == metrics_server.METRICS_PATH
    assert endpoint["scheme"] == "https"
    assert endpoint["bearerTokenFile"] == SA_TOKEN  # Prometheus' own service account token
    assert endpoint["tlsConfig"] == {
        "serverName": f"{service_name}.{NAMESPACE}.svc",
        "ca": {"secret": {"name": secret_name, "key": "ca.crt"}},
    }
    assert "insecureSkipVerify" not in endpoint["tlsConfig"]
    return endpoint


def review_grants(role: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    return {
        (group, resource): rule["verbs"]
        for rule in role["rules"]
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        if group in ("authentication.k8s.io", "authorization.k8s.io")
    }


def test_the_operator_may_create_exactly_the_reviews_it_posts() -> None:
    [role] = manifests.file_documents(manifests.CONFIG / "rbac" / "role.yaml")
    posted = {
        (path.split("/")[2], path.rsplit("/", 1)[1])
        for path in (metrics_auth.TOKEN_REVIEWS_PATH, metrics_auth.SUBJECT_ACCESS_REVIEWS_PATH)
    }
    assert posted == {
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
    }
    assert review_grants(role) == {key: ["create"] for key in posted}


def test_the_reader_role_grants_get_on_the_metrics_path_only() -> None:
    [reader] = manifests.file_documents(manifests.CONFIG / "rbac" / "metrics_reader_role.yaml")
    assert reader["kind"] == "ClusterRole"
    assert reader["rules"] == [{"nonResourceURLs": [metrics_server.METRICS_PATH], "verbs": ["get"]}]
    [binding] = manifests.file_documents(manifests.CONFIG / "prometheus" / "metrics_reader_binding.yaml")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": reader["metadata"]["name"],
    }
    assert binding["subjects"][0]["kind"] == "ServiceAccount"


def test_secure_metrics_are_the_default_of_the_code_and_the_manager() -> None:
    assert Settings().metrics_secure is True
    [deployment, _pdb] = manifests.file_documents(manifests.CONFIG / "manager" / "manager.yaml")
    assert env_of(deployment)["CCG_METRICS_SECURE"] == "true"


@needs_kubectl
def test_default_plus_prometheus_wire_the_port_certificate_and_token_together() -> None:
    objects = manifests.kustomize(manifests.CONFIG / "default") + manifests.kustomize(
        manifests.CONFIG / "prometheus"
    )
    check_wiring(objects, "cloudcostguard-metrics", "cloudcostguard-metrics-tls")
    certificate = named(objects, "Certificate", "cloudcostguard-metrics-cert")
    assert certificate["spec"]["secretName"] == "cloudcostguard-metrics-tls"
    assert f"cloudcostguard-metrics.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    issuers = {issuer["metadata"]["name"] for issuer in of_kind(objects, "Issuer")}
    assert certificate["spec"]["issuerRef"]["name"] in issuers
    # The default overlay binds no reader (it cannot know the scraper); ../prometheus does.
    default_bindings = of_kind(manifests.kustomize(manifests.CONFIG / "default"), "ClusterRoleBinding")
    assert [b["roleRef"]["name"] for b in default_bindings] == ["cloudcostguard-operator"]
    reader = named(objects, "ClusterRole", "cloudcostguard-metrics-reader")
    assert (
        named(objects, "ClusterRoleBinding", "cloudcostguard-metrics-reader")["roleRef"]["name"]
        == (reader["metadata"]["name"])
    )


@needs_kubectl
def test_the_network_policy_admits_the_metrics_port_and_lets_the_reviews_out() -> None:
    [policy] = manifests.kustomize(manifests.CONFIG / "network-policy")
    [deployment, _pdb] = manifests.file_documents(manifests.CONFIG / "manager" / "manager.yaml")
    names = {port["name"] for port in container(deployment)["ports"]}
    ingress_ports = {port["port"] for rule in policy["spec"]["ingress"] for port in rule["ports"]}
    assert "metrics" in ingress_ports and ingress_ports <= names
    egress_ports = {port["port"] for rule in policy["spec"]["egress"] for port in rule["ports"]}
    assert {443, 6443} <= egress_ports  # the API server answers the TokenReviews/SubjectAccessReviews


@needs_helm
def test_chart_defaults_generate_a_metrics_pair_its_service_monitor_can_verify() -> None:
    objects = manifests.helm_template(sets=("metrics.serviceMonitor.enabled=true",))
    assert manifests.problems(objects) == []
    check_wiring(objects, "ccg-cloudcostguard-metrics", "ccg-cloudcostguard-metrics-tls")
    secret = named(objects, "Secret", "ccg-cloudcostguard-metrics-tls")
    ca = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["ca.crt"]))
    served = x509.load_pem_x509_certificate(base64.b64decode(secret["data"]["tls.crt"]))
    served.verify_directly_issued_by(ca)
    names = served.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert f"ccg-cloudcostguard-metrics.{NAMESPACE}.svc" in names.get_values_for_type(x509.DNSName)
    [role] = manifests.file_documents(manifests.CONFIG / "rbac" / "role.yaml")
    chart_role = named(objects, "ClusterRole", "ccg-cloudcostguard")
    assert review_grants(chart_role) == review_grants(role)


@needs_helm
def test_chart_full_values_wire_cert_manager_and_bind_the_reader() -> None:
    objects = manifests.helm_template(manifests.FULL_VALUES)
    check_wiring(objects, "ccg-cloudcostguard-metrics", "ccg-cloudcostguard-metrics-tls")
    values = yaml.safe_load(manifests.FULL_VALUES.read_text())
    binding = named(objects, "ClusterRoleBinding", "ccg-cloudcostguard-metrics-reader")
    assert binding["subjects"] == values["metrics"]["reader"]["subjects"]


@needs_helm
def test_chart_plain_http_only_when_asked_for() -> None:
    objects = manifests.helm_template(sets=("metrics.secure=false", "metrics.serviceMonitor.enabled=true"))
    assert manifests.problems(objects) == []
    [deployment] = of_kind(objects, "Deployment")
    env = env_of(deployment)
    assert env["CCG_METRICS_SECURE"] == "false"
    assert "CCG_METRICS_CERT_FILE" not in env
    volumes = {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert "metrics-tls" not in volumes
    assert [s["metadata"]["name"] for s in of_kind(objects, "Secret")] == ["ccg-cloudcostguard-webhook-tls"]
    [monitor] = of_kind(objects, "ServiceMonitor")
    [endpoint] = monitor["spec"]["endpoints"]
    assert endpoint["scheme"] == "http" and "bearerTokenFile" not in endpoint


@needs_helm
def test_chart_service_monitor_tls_config_can_be_overridden() -> None:
    objects = manifests.helm_template(
        sets=(
            "metrics.serviceMonitor.enabled=true",
            "metrics.serviceMonitor.tlsConfig.insecureSkipVerify=true",
        )
    )
    [monitor] = of_kind(objects, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["tlsConfig"] == {"insecureSkipVerify": True}


@needs_helm
def test_chart_refuses_a_reader_subject_of_an_unknown_kind() -> None:
    rendered = manifests.helm(
        "template",
        "ccg",
        str(manifests.CHART),
        "--set",
        "metrics.reader.subjects[0].kind=Robot",
        "--set",
        "metrics.reader.subjects[0].name=r2d2",
    )
    assert rendered.returncode != 0
    assert "value must be one of 'ServiceAccount', 'User', 'Group'" in rendered.stderr

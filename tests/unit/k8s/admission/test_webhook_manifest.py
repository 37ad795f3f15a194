"""config/webhook/ and the registered kopf admission handlers agree.

A webhook path with no handler id would still reach kopf, which then runs no handler and admits the
request: a silent hole in every budget. So every ``path`` must be ``/<id>`` of a registered handler, every
handler must have an entry, and each entry must ask for what its handler checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kopf
import pytest
import yaml
from kopf._cogs.structs import references

from cloudcostguard.k8s.admission import decision as admission
from cloudcostguard.k8s.admission import handlers as admission_handlers  # noqa: F401 - registers them

ROOT = Path(__file__).resolve().parents[4]
WEBHOOK_DIR = ROOT / "config" / "webhook"
OPERATOR_NAMESPACE = "cloudcostguard-system"


def documents(directory: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(directory.rglob("*.yaml")):
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict))
    return found


def webhook_entries() -> list[dict[str, Any]]:
    return [
        entry
        for doc in documents(WEBHOOK_DIR)
        if doc.get("kind") == "ValidatingWebhookConfiguration"
        for entry in doc["webhooks"]
    ]


def registered_handlers() -> dict[str, list[Any]]:
    handlers: dict[str, list[Any]] = {}
    for handler in kopf.get_default_registry()._webhooks.get_all_handlers():
        handlers.setdefault(str(handler.id), []).append(handler)
    return handlers


def test_every_manifest_path_is_a_registered_handler_id() -> None:
    paths = [entry["clientConfig"]["service"]["path"] for entry in webhook_entries()]
    assert paths, "no ValidatingWebhookConfiguration found under config/webhook"
    ids = set(registered_handlers())
    for path in paths:
        assert path.startswith("/")
        assert path[1:] in ids, f"{path} matches no kopf handler id ({sorted(ids)})"


def test_every_registered_handler_has_a_manifest_entry() -> None:
    paths = {entry["clientConfig"]["service"]["path"] for entry in webhook_entries()}
    for handler_id in registered_handlers():
        assert f"/{handler_id}" in paths, f"handler {handler_id} has no webhook entry in config/webhook"


def test_the_handler_ids_are_the_contract_ones() -> None:
    assert set(registered_handlers()) >= {"validate-costestimate", "validate-plan-source"}
    assert set(admission.HANDLER_IDS) == {"validate-costestimate", "validate-plan-source"}


@pytest.mark.parametrize("entry", webhook_entries(), ids=lambda entry: entry["name"])
def test_entries_ask_for_what_their_handler_checks(entry: dict[str, Any]) -> None:
    handler_id = entry["clientConfig"]["service"]["path"][1:]
    handlers = registered_handlers()[handler_id]
    asked = {
        (references.Resource(group=group, version=version, plural=plural), operation)
        for rule in entry["rules"]
        for group in rule["apiGroups"]
        for version in rule["apiVersions"]
        for plural in rule["resources"]
        for operation in rule["operations"]
    }
    # Each (resource, operation) the API server sends is one a handler checks ...
    for resource, operation in asked:
        assert any(h.selector.check(resource) and operation in h.operations for h in handlers), (
            resource,
            operation,
        )
    # ... and each handler's resources and operations are all asked for.
    for handler in handlers:
        covered = {(r, o) for r, o in asked if handler.selector.check(r)}
        assert covered, f"{handler_id}: no rule reaches {handler.selector}"
        assert {o for _, o in covered} == set(handler.operations)
    assert entry["sideEffects"] == "None"
    assert entry["admissionReviewVersions"] == ["v1"]
    assert entry["failurePolicy"] in ("Fail", "Ignore")
    assert 1 <= entry["timeoutSeconds"] <= 30
    exclusion = entry["namespaceSelector"]["matchExpressions"][0]
    assert exclusion == {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": [OPERATOR_NAMESPACE],
    }


def test_plan_source_webhook_only_sees_labelled_objects() -> None:
    (entry,) = [e for e in webhook_entries() if e["name"].startswith("validate-plan-source.")]
    assert entry["objectSelector"] == {
        "matchExpressions": [{"key": admission.PLAN_LABEL, "operator": "Exists"}]
    }
    for handler in registered_handlers()["validate-plan-source"]:
        assert dict(handler.labels) == {admission.PLAN_LABEL: kopf.PRESENT}


def test_timeout_leaves_room_for_the_webhook_to_answer_first() -> None:
    from cloudcostguard.settings import Settings

    for entry in webhook_entries():
        assert Settings().webhook_decision_timeout < entry["timeoutSeconds"]


def test_service_and_certificate_match_the_webhook_client_config() -> None:
    services = [d for d in documents(WEBHOOK_DIR) if d.get("kind") == "Service"]
    # The webhook's Certificate (metrics_certificate.yaml issues the /metrics one, for another Service).
    certificates = [
        d
        for d in documents(ROOT / "config" / "certmanager")
        if d.get("kind") == "Certificate" and d["spec"]["secretName"] == "cloudcostguard-webhook-tls"
    ]
    (service,), (certificate,) = services, certificates
    name, namespace = service["metadata"]["name"], service["metadata"]["namespace"]
    for entry in webhook_entries():
        assert entry["clientConfig"]["service"]["name"] == name
        assert entry["clientConfig"]["service"]["namespace"] == namespace
        assert entry["clientConfig"]["service"]["port"] == service["spec"]["ports"][0]["port"]
    assert f"{name}.{namespace}.svc" in certificate["spec"]["dnsNames"]
    (configuration,) = [
        d for d in documents(WEBHOOK_DIR) if d.get("kind") == "ValidatingWebhookConfiguration"
    ]
    injected = configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    assert injected == f"{certificate['metadata']['namespace']}/{certificate['metadata']['name']}"


def test_ignore_failures_component_patches_every_webhook() -> None:
    component = yaml.safe_load((WEBHOOK_DIR / "ignore-failures" / "kustomization.yaml").read_text())
    operations = yaml.safe_load(component["patches"][0]["patch"])
    assert [op["path"] for op in operations] == [
        f"/webhooks/{index}/failurePolicy" for index in range(len(webhook_entries()))
    ]
    assert {op["value"] for op in operations} == {"Ignore"}

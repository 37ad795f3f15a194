"""Every object a user can install is valid for the Kubernetes API, and RBAC grants no wildcard."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.deploy import manifests

needs_kubectl = pytest.mark.skipif(manifests.kubectl_binary() is None, reason=manifests.KUBECTL_MISSING)
needs_helm = pytest.mark.skipif(manifests.helm_binary() is None, reason=manifests.HELM_MISSING)


def test_every_overlay_is_listed() -> None:
    names = {path.relative_to(manifests.CONFIG).as_posix() for path in manifests.overlays()}
    assert {"default", "dev", "crd", "rbac", "manager", "webhook", "samples", "prometheus"} <= names
    assert {"network-policy", "argocd"} <= names


@needs_kubectl
@pytest.mark.parametrize("overlay", manifests.overlays(), ids=lambda path: path.name)
def test_overlay_objects_are_valid(overlay: Path) -> None:
    objects = manifests.kustomize(overlay)
    assert objects, f"{overlay} renders nothing"
    assert manifests.problems(objects) == []


def test_crds_are_valid() -> None:
    objects = [
        doc for path in sorted(manifests.CRDS.glob("*_*.yaml")) for doc in manifests.file_documents(path)
    ]
    assert [obj["kind"] for obj in objects] == ["CustomResourceDefinition"] * 2
    assert manifests.problems(objects) == []


@needs_helm
@pytest.mark.parametrize("values", [(), (manifests.FULL_VALUES,)], ids=["default-values", "full-values"])
def test_chart_objects_are_valid(values: tuple[Path, ...]) -> None:
    objects = manifests.helm_template(*values)
    assert manifests.problems(objects) == []


def test_the_validator_catches_what_it_should() -> None:
    # A typo in a built-in kind, a bad CostPolicy and an unknown kind: each is reported.
    typo = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"prots": []}}
    policy = {
        "apiVersion": "cloudcostguard.io/v1alpha1",
        "kind": "CostPolicy",
        "metadata": {"name": "p"},
        "spec": {"enforcement": "Maybe"},
    }
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    found = manifests.problems([typo, policy, unknown])
    assert len(found) == 5  # the typo and the unknown kind fail for both Kubernetes versions
    assert "prots" in found[0] and "Maybe" in found[2] and "no Kubernetes" in found[3]


@needs_kubectl
def test_no_rbac_rule_has_a_wildcard() -> None:
    objects = [obj for overlay in manifests.overlays() for obj in manifests.kustomize(overlay)]
    if manifests.helm_binary() is not None:
        objects += manifests.helm_template(manifests.FULL_VALUES)
    rules = manifests.rbac_rules(objects)
    assert len(rules) >= 6
    wildcards = [
        f"{owner}: {field}"
        for owner, rule in rules
        for field in ("apiGroups", "resources", "verbs", "resourceNames", "nonResourceURLs")
        if any("*" in item for item in rule.get(field, []))
    ]
    assert wildcards == []


@pytest.mark.parametrize(
    "example", sorted((manifests.ROOT / "examples" / "gitops").rglob("*.yaml")), ids=lambda path: path.name
)
def test_gitops_examples_are_valid(example: Path) -> None:
    objects = manifests.file_documents(example)
    assert objects
    assert manifests.problems(objects) == []

"""The CRDs are generated from the models: the files in crds/ must be what crdgen renders now."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cloudcostguard.k8s.api import crdgen
from cloudcostguard.k8s.api.models import EXACTLY_ONE_SOURCE_RULE

CRDS = Path(__file__).resolve().parents[4] / "crds"


def load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((CRDS / name).read_text())
    return document


def test_crd_files_match_the_models() -> None:
    assert crdgen.drifted(CRDS) == [], "crds/ is out of date: run `make manifests`"


def test_drift_is_detected(tmp_path: Path) -> None:
    crdgen.write(tmp_path)
    assert crdgen.drifted(tmp_path) == []
    path = tmp_path / "cloudcostguard.io_costestimates.yaml"
    path.write_text(path.read_text().replace("maxItems: 20", "maxItems: 21"))
    assert crdgen.drifted(tmp_path) == ["cloudcostguard.io_costestimates.yaml"]
    assert crdgen.main([str(tmp_path), "--check"]) == 1


def test_generated_files_no_longer_rendered_are_drift_and_removed(tmp_path: Path) -> None:
    crdgen.write(tmp_path)
    (tmp_path / "kopf.dev_peerings.yaml").write_text(crdgen.HEADER + "kind: CustomResourceDefinition\n")
    (tmp_path / "hand-written.yaml").write_text("kind: ConfigMap\n")  # not ours: left alone
    assert crdgen.drifted(tmp_path) == ["kopf.dev_peerings.yaml"]
    crdgen.write(tmp_path)
    assert crdgen.drifted(tmp_path) == []
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "cloudcostguard.io_costestimates.yaml",
        "cloudcostguard.io_costpolicies.yaml",
        "hand-written.yaml",
        "kustomization.yaml",
    ]


def test_costestimate_crd_names_columns_and_status_subresource() -> None:
    crd = load("cloudcostguard.io_costestimates.yaml")
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "costestimates.cloudcostguard.io"
    assert spec["group"] == "cloudcostguard.io"
    assert spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "CostEstimate"
    assert spec["names"]["shortNames"] == ["ce", "costest"]
    assert spec["names"]["categories"] == ["cloudcostguard"]
    [version] = spec["versions"]
    assert version["name"] == "v1alpha1"
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if c.get("priority", 0) == 0]
    assert columns == ["Monthly", "Diff", "Budget verdict", "Ready", "Age"]


def test_costpolicy_crd_is_cluster_scoped_with_short_name_cpol() -> None:
    spec = load("cloudcostguard.io_costpolicies.yaml")["spec"]
    assert spec["scope"] == "Cluster"
    assert spec["names"]["shortNames"] == ["cpol"]
    schema = spec["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert schema["properties"]["enforcement"]["enum"] == ["Deny", "Warn", "DryRun"]
    limits = schema["properties"]["limits"]["properties"]
    assert limits["maxIncreasePercent"]["type"] == "integer"
    for money_limit in ("maxMonthlyCost", "maxMonthlyIncrease", "namespaceMonthlyBudget"):
        assert limits[money_limit]["type"] == "string"
        assert limits[money_limit]["pattern"].startswith("^[0-9]")


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, child in node.get("properties", {}).items():
            found += _walk(child, f"{path}.{key}")
        if "items" in node:
            found += _walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            found += _walk(node["additionalProperties"], f"{path}{{}}")
    return found


def test_schemas_are_structural() -> None:
    for name in ("cloudcostguard.io_costestimates.yaml", "cloudcostguard.io_costpolicies.yaml"):
        schema = load(name)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for path, node in _walk(schema):
            # Structural: every node has a type; no refs, anyOf or nulls left from JSON Schema.
            assert "type" in node, f"{name}{path} has no type"
            assert not {"$ref", "anyOf", "oneOf", "allOf", "title", "default"} & set(node), f"{name}{path}"
            if node.get("x-kubernetes-preserve-unknown-fields"):
                assert node["type"] == "object"


def test_plan_source_has_the_exactly_one_rule_and_size_limits() -> None:
    plan = load("cloudcostguard.io_costestimates.yaml")["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"
    ]["spec"]["properties"]["plan"]
    assert plan["x-kubernetes-validations"] == [
        {
            "message": "exactly one of inline, configMapKeyRef, secretKeyRef, terraformRef, url must be set",
            "rule": EXACTLY_ONE_SOURCE_RULE,
        }
    ]
    assert plan["properties"]["inline"]["x-kubernetes-preserve-unknown-fields"] is True
    assert plan["properties"]["url"]["maxLength"] == 2048
    assert plan["properties"]["url"]["pattern"] == "^https://"
    assert plan["properties"]["configMapKeyRef"]["required"] == ["name", "key"]

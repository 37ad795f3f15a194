"""Render what users install — kustomize overlays, the Helm chart, crds/ — and validate every object.

Built-in kinds are checked against the Kubernetes OpenAPI schemas bundled in ``kubernetes-validate``
(offline, strict: unknown fields fail); CostEstimates and CostPolicies against our own CRDs' schemas;
the few kinds of other projects' CRDs we ship (cert-manager, Prometheus Operator) only for shape, as no
schema for them is available offline.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "config"
CRDS = ROOT / "crds"
CHART = ROOT / "charts" / "cloudcostguard"
FULL_VALUES = CHART / "ci" / "full-values.yaml"

# The oldest Kubernetes minor the chart accepts (Chart.yaml kubeVersion) and the newest schemas bundled.
KUBERNETES_VERSIONS = ("1.27", kubernetes_validate.latest_version())
FOREIGN_KINDS = {
    ("cert-manager.io/v1", "Certificate"),
    ("cert-manager.io/v1", "Issuer"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("infra.contrib.fluxcd.io/v1alpha2", "Terraform"),
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
    ("argoproj.io/v1alpha1", "Application"),
}


def documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def file_documents(path: Path) -> list[dict[str, Any]]:
    return documents(path.read_text())


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = kubectl_binary()
    assert kubectl is not None, KUBECTL_MISSING
    built = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    if built.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed: {built.stderr.strip()}")
    return documents(built.stdout)


def overlays() -> list[Path]:
    """Every kustomization under config/ that builds on its own (components only apply inside one)."""
    found = []
    for path in sorted(CONFIG.rglob("kustomization.yaml")):
        if yaml.safe_load(path.read_text()).get("kind", "Kustomization") == "Kustomization":
            found.append(path.parent)
    return found


def tool(name: str) -> str | None:
    """The virtualenv's copy (scripts/install_tools.py, run by make install), else the one on PATH."""
    beside_python = Path(sys.executable).parent / name
    if beside_python.is_file() and os.access(beside_python, os.X_OK):
        return str(beside_python)
    return shutil.which(name)


def helm_binary() -> str | None:
    return tool("helm")


def kubectl_binary() -> str | None:
    return tool("kubectl")


HELM_MISSING = "helm is not installed (make install puts it in .venv/bin: scripts/install_tools.py)"
KUBECTL_MISSING = "kubectl (kustomize v5) is not installed (make install puts it in .venv/bin)"


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    binary = helm_binary()
    assert binary is not None, HELM_MISSING
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, check=False)


def helm_template(*values: Path, sets: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    args = ["template", "ccg", str(CHART), "--namespace", "cloudcostguard-system", "--include-crds"]
    for path in values:
        args += ["--values", str(path)]
    for item in sets:
        args += ["--set", item]
    rendered = helm(*args)
    if rendered.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {rendered.stderr.strip()}")
    return documents(rendered.stdout)


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    schemas = {}
    for path in sorted(CRDS.glob("cloudcostguard.io_*.yaml")):
        [crd] = file_documents(path)
        spec = crd["spec"]
        for version in spec["versions"]:
            api_version = f"{spec['group']}/{version['name']}"
            schemas[(api_version, spec["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return schemas


def problems(objects: list[dict[str, Any]]) -> list[str]:
    """What is wrong with each object (empty: all valid), one line each."""
    found = []
    for obj in objects:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        name = (obj.get("metadata") or {}).get("name")
        where = f"{kind} {name}"
        if not (isinstance(api_version, str) and isinstance(kind, str) and isinstance(name, str)):
            found.append(f"{where}: apiVersion, kind and metadata.name are required")
            continue
        own = crd_schemas().get((api_version, kind))
        if own is not None:
            try:
                jsonschema.validate(obj, own)
            except jsonschema.ValidationError as err:
                found.append(f"{where}: {err.message} at {'/'.join(map(str, err.absolute_path))}")
            continue
        if (api_version, kind) in FOREIGN_KINDS:
            if not isinstance(obj.get("spec"), dict):
                found.append(f"{where}: spec must be an object")
            continue
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                found.append(f"{where} (Kubernetes {version}): {err.message}")
            except kubernetes_validate.SchemaNotFoundError:
                found.append(f"{where}: no Kubernetes {version} schema for {api_version} {kind}")
    return found


def rbac_rules(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{obj['kind']} {obj['metadata']['name']}", rule)
        for obj in objects
        if obj["kind"] in ("Role", "ClusterRole")
        for rule in obj.get("rules", [])
    ]

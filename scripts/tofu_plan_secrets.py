"""Write the Secrets tofu-controller stores for ``spec.storeReadablePlan: json``, from a plan JSON file.

    python scripts/tofu_plan_secrets.py PLAN_JSON OUTPUT_DIR --name platform --namespace flux-system

The same algorithm as tofu-controller's ``api/plan`` package (flux-iac/tofu-controller, Apache-2.0,
commit 4cb9876f, ``Plan.ToSecret`` with suffix ``.json`` and ``GzipEncode``): the plan is gzipped
whole; at most 1 MiB (1024 × 1024 bytes) of the gzip stream goes into one Secret under key ``tfplan``;
a bigger stream is cut into 1 MiB slices, Secret ``tfplan-<workspace>-<name>.json-<i>`` each, with
annotation ``infra.contrib.fluxcd.io/plan-chunk: "<i>"`` and the slice's sha256 as plan-hash (the whole
plan's sha256 for a single Secret). Labels carry the name and workspace (hashed past 63 characters),
``savedPlan`` the plan id (``plan-<branch>-<short sha>`` in tofu-controller), owner: the Terraform object.
tofu-controller re-marshals the plan with Go's encoding/json; this keeps terraform's bytes, which are
the same JSON document.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml

RESOURCE_DATA_MAX_SIZE_BYTES = 1024 * 1024  # tofu-controller's resourceDataMaxSizeBytes
NAME_LABEL = "infra.contrib.fluxcd.io/plan-name"
WORKSPACE_LABEL = "infra.contrib.fluxcd.io/plan-workspace"
FULL_NAME_ANNOTATION = "infra.contrib.fluxcd.io/plan-full-name"
FULL_WORKSPACE_ANNOTATION = "infra.contrib.fluxcd.io/plan-full-workspace"
CHUNK_ANNOTATION = "infra.contrib.fluxcd.io/plan-chunk"
HASH_ANNOTATION = "infra.contrib.fluxcd.io/plan-hash"
SAVED_PLAN_ANNOTATION = "savedPlan"
SUFFIX = ".json"
OWNER_API_VERSION = "infra.contrib.fluxcd.io/v1alpha2"


def safe_label_value(value: str) -> str:
    """tofu-controller's SafeLabelValue: values over 63 characters are cut and end in a hash."""
    if len(value) <= 63:
        return value
    checksum = "-" + hashlib.sha256(value.encode()).hexdigest()[:16]
    return value[: 63 - len(checksum)] + checksum


def to_secrets(
    plan: bytes, *, name: str, namespace: str, workspace: str = "default", plan_id: str, uid: str
) -> list[dict[str, Any]]:
    identifier = f"tfplan-{workspace}-{name}{SUFFIX}"
    # mtime=0: the same plan gives the same bytes (Go's gzip writer sets no mtime either).
    encoded = gzip.compress(plan, mtime=0)

    owner = {"apiVersion": OWNER_API_VERSION, "kind": "Terraform", "name": name, "uid": uid}

    def secret(secret_name: str, data: bytes, annotations: dict[str, str]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": secret_name,
                "namespace": namespace,
                "annotations": {
                    "encoding": "gzip",
                    FULL_NAME_ANNOTATION: name + SUFFIX,
                    FULL_WORKSPACE_ANNOTATION: workspace,
                    SAVED_PLAN_ANNOTATION: plan_id,
                    **annotations,
                },
                "labels": {
                    NAME_LABEL: safe_label_value(name + SUFFIX),
                    WORKSPACE_LABEL: safe_label_value(workspace),
                },
                "ownerReferences": [owner],
            },
            "type": "Opaque",
            "data": {"tfplan": base64.b64encode(data).decode()},
        }  # fmt: skip

    if len(encoded) <= RESOURCE_DATA_MAX_SIZE_BYTES:
        return [secret(identifier, encoded, {HASH_ANNOTATION: hashlib.sha256(plan).hexdigest()})]
    chunks = []
    for index, start in enumerate(range(0, len(encoded), RESOURCE_DATA_MAX_SIZE_BYTES)):
        piece = encoded[start : start + RESOURCE_DATA_MAX_SIZE_BYTES]
        annotations = {CHUNK_ANNOTATION: str(index), HASH_ANNOTATION: hashlib.sha256(piece).hexdigest()}
        chunks.append(secret(f"{identifier}-{index}", piece, annotations))
    return chunks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--workspace", default="default")
    parser.add_argument("--plan-id", default="plan-main-4cb9876f84")
    parser.add_argument("--uid", default="5f0c3a6e-7b1d-4c55-9a51-3f7e1d2b9c40")
    args = parser.parse_args(argv)
    secrets = to_secrets(
        args.plan.read_bytes(),
        name=args.name,
        namespace=args.namespace,
        workspace=args.workspace,
        plan_id=args.plan_id,
        uid=args.uid,
    )
    args.output.mkdir(parents=True, exist_ok=True)
    for stale in args.output.glob("tfplan-*.yaml"):
        stale.unlink()
    for item in secrets:
        path = args.output / f"{item['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(item, sort_keys=False, width=1 << 20))
        print(f"wrote {path} ({len(item['data']['tfplan'])} base64 characters)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

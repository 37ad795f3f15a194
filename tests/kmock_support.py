"""Shared KMock scaffolding: an emulated Kubernetes API for operator and admission tests.

KMock 0.8 (PyPI ``kmock``) emulates the API server in memory. What it lacks is made up here, in test
code only:

- Its path parser reads ``/api/v1/namespaces`` and ``/api/v1/namespaces/NAME`` as a *namespace*
  segment with no resource, so Namespace objects cannot be listed, watched or fetched (kopf watches them
  for the namespace-labels index). ``namespaces_path_parser_patched()`` wraps the parser so that those
  two paths mean the ``namespaces`` resource; every other path parses as before.
- It sets no ``uid``, ``generation`` or ``resourceVersion``: ``k8s_object()`` sets them on objects the
  tests create (kopf keys its indexes by uid and guards finalizer patches with the resourceVersion),
  and tests bump ``generation`` themselves when they change a spec.
- It has no spec/status separation: a status patch lands in the same object.
- It checks no preconditions: a merge patch carrying a stale ``metadata.resourceVersion`` is applied
  (the API server answers 409). Leader election's conflict handling is unit-tested with a fake client.
- It serves no PUT (only GET, POST, PATCH, DELETE): the operator updates its Lease by merge patch.

Run ``python -m tests.kmock_support --port N`` to serve an emulator in its own process (benchmarks).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import kmock
from kmock._internal import parsing

GROUP = "cloudcostguard.io"
VERSION = "v1alpha1"
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}

COSTESTIMATES = f"{GROUP}/{VERSION}/costestimates"
COSTPOLICIES = f"{GROUP}/{VERSION}/costpolicies"
LEASES = "coordination.k8s.io/v1/leases"
RESOURCES: dict[str, dict[str, Any]] = {
    "v1/namespaces": {"kind": "Namespace", "namespaced": False},
    "v1/configmaps": {"kind": "ConfigMap", "namespaced": True},
    "v1/secrets": {"kind": "Secret", "namespaced": True},
    "v1/events": {"kind": "Event", "namespaced": True},
    LEASES: {"kind": "Lease", "namespaced": True},
    COSTESTIMATES: {
        "kind": "CostEstimate",
        "singular": "costestimate",
        "namespaced": True,
        "shortnames": {"ce", "costest"},
        "categories": {"cloudcostguard"},
        "subresources": {"status"},
    },
    COSTPOLICIES: {
        "kind": "CostPolicy",
        "singular": "costpolicy",
        "namespaced": False,
        "shortnames": {"cpol"},
        "categories": {"cloudcostguard"},
        "subresources": {"status"},
    },
}

_original_parse_path = parsing.parse_path


def _parse_path_with_namespaces(path: str) -> parsing.ParsedPath:
    # KMock takes "namespaces" for the namespace segment of namespaced paths, which leaves
    # /api/v1/namespaces[/NAME] without a resource (and /api/v1/namespaces fails to unpack). Those two
    # shapes are the Namespace resource itself; test scaffolding only, never product code.
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"] and len(parts) in (3, 4) and parts[2] == "namespaces":
        return parsing.ParsedPath("", "v1", "namespaces", None, parts[3] if len(parts) == 4 else None, None)
    return _original_parse_path(path)


@contextlib.contextmanager
def namespaces_path_parser_patched() -> Iterator[None]:
    parsing.parse_path = _parse_path_with_namespaces
    try:
        yield
    finally:
        parsing.parse_path = _original_parse_path


def declare_resources(emulator: kmock.KubernetesEmulator) -> None:
    for key, info in RESOURCES.items():
        emulator.resources[key] = kmock.ResourceInfo(verbs=VERBS, **info)


def k8s_object(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    generation: int | None = 1,
    **fields: Any,
) -> dict[str, Any]:
    """An object with the metadata a real API server would set (uid, generation, resourceVersion)."""
    metadata: dict[str, Any] = {
        "name": name,
        "uid": str(uuid.uuid4()),
        "resourceVersion": "1",
        "creationTimestamp": "2026-01-01T00:00:00Z",
    }
    if namespace is not None:
        metadata["namespace"] = namespace
    if generation is not None:
        metadata["generation"] = generation
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}


def namespace(name: str, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    return k8s_object("v1", "Namespace", name, labels=labels, generation=None)


def costestimate(name: str, namespace: str, spec: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
    return k8s_object(f"{GROUP}/{VERSION}", "CostEstimate", name, namespace, spec=dict(spec), **kwargs)


def url_of(
    resource: str, namespace: str | None = None, name: str | None = None, sub: str | None = None
) -> str:
    """The API path of a resource (``"v1/configmaps"``, ``COSTESTIMATES``), object or subresource."""
    group_version, plural = resource.rsplit("/", 1)
    base = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
    path = base + (f"/namespaces/{namespace}" if namespace else "") + f"/{plural}"
    if name:
        path += f"/{name}"
    if sub:
        path += f"/{sub}"
    return path


def live_object(
    emulator: kmock.KubernetesEmulator, resource: str, namespace: str | None, name: str
) -> dict[str, Any]:
    """The object as the API would serve it now; {} when absent or deleted."""
    try:
        stored = emulator.objects[resource, namespace, name]
    except KeyError:
        return {}
    return {} if stored.deleted else dict(stored.raw)


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig for a plain-HTTP API server without authentication (no user in the context)."""
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: kmock\n  cluster:\n    server: {server}\n"
        "contexts:\n- name: kmock\n  context:\n    cluster: kmock\n"
        "current-context: kmock\n",
        encoding="utf-8",
    )
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def emulator_server(port: int | None = None) -> AsyncIterator[tuple[kmock.KubernetesEmulator, str]]:
    """A running emulator with the product's resources declared; yields (emulator, base URL)."""
    with namespaces_path_parser_patched():
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator, port=port) as server:
            declare_resources(emulator)
            yield emulator, str(server.url).rstrip("/")


READY_COUNT_PATH = "/testing/ready-count"


def add_ready_count_endpoint(emulator: kmock.KubernetesEmulator) -> None:
    """``GET /testing/ready-count?namespace=NS``: how many CostEstimates there are Ready=True, counted
    in the emulator's memory (a list call would serialise every object and slow the emulator down)."""

    def ready_count(request: kmock.Request) -> dict[str, int]:
        namespace = request.params.get("namespace")
        ready = total = 0
        for (resource, object_namespace, _name), stored in list(emulator.objects.items()):
            if resource.plural != "costestimates" or object_namespace != namespace or stored.deleted:
                continue
            total += 1
            conditions = (stored.raw.get("status") or {}).get("conditions") or []
            ready += any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        return {"ready": ready, "total": total}

    emulator[f"get {READY_COUNT_PATH}"] << ready_count


async def _serve_forever(port: int) -> None:
    async with emulator_server(port) as (emulator, url):
        add_ready_count_endpoint(emulator)
        print(f"kmock serving at {url}", flush=True)
        await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a KMock Kubernetes emulator in its own process.")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port))


if __name__ == "__main__":
    main()


ROOT = Path(__file__).resolve().parents[1]


async def spawn_run(
    env: Mapping[str, str],
    output: IO[bytes],
    *,
    health: int,
    metrics: int,
    webhook: int,
    standalone: bool = True,
) -> asyncio.subprocess.Process:
    """``cloudcostguard run --all-namespaces`` as a process of its own, its probes, metrics and webhook on
    the given loopback ports, its output to ``output``; ``standalone`` turns leader election off."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cloudcostguard", "run", "--all-namespaces",
        *(["--standalone"] if standalone else []),
        "--health-listen", f"127.0.0.1:{health}", "--metrics-listen", f"127.0.0.1:{metrics}",
        "--webhook-listen", f"127.0.0.1:{webhook}",
        env=dict(env), cwd=ROOT, stdout=output, stderr=output,
    )  # fmt: skip

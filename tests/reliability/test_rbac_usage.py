"""RBAC grants exactly what the code uses: no rule the operator never exercises, no request it would be
denied.

The operator runs against KMock with leader election on, through everything it does in a cluster:
CostEstimates from every plan source Kubernetes holds (inline, ConfigMap, Secret, tofu-controller's
chunked Secrets), one that fails (a Warning Event), a CostPolicy (its status), a namespace relabelled
(CostPolicy namespaceSelector), a deletion (the finalizer). Every request KMock received is mapped to
the (API group, resource, verb) RBAC checks it against. That set must equal what the rendered roles
grant — kustomize ``config/rbac`` and the Helm chart — except for the grants listed in
``GRANTED_BUT_NOT_SEEN_HERE``, each with the reason it is needed in a real cluster only.
"""

from __future__ import annotations

import base64
import gzip
from typing import Any

import kmock
import orjson
import pytest

from cloudcostguard.k8s.api.models import PLAN_SOURCE_LABEL
from tests import kmock_support as ks
from tests.integration.operator.conftest import OperatorFactory, eventually, kube, operator  # noqa: F401
from tests.plans import nat_plan
from tests.unit.deploy import manifests

pytestmark = pytest.mark.kmock

NS = "team-a"
OPERATOR_NS = "cloudcostguard-system"

Grant = tuple[str, str, str]  # (API group, resource[/subresource], verb)

# Granted but not exercised against KMock, and why a real cluster needs each.
GRANTED_BUT_NOT_SEEN_HERE: dict[Grant, str] = {
    # Authenticated /metrics (the metrics server asks the API server who the scraper is and whether it
    # may GET /metrics): KMock has no authentication, and this test scrapes nothing.
    ("authentication.k8s.io", "tokenreviews", "create"): "metrics authentication",
    ("authorization.k8s.io", "subjectaccessreviews", "create"): "metrics authorization",
}

NON_RESOURCE_PREFIXES = ("/version", "/openapi", "/healthz", "/livez", "/readyz")


def grant_of(method: str, path: str, params: Any) -> Grant | None:
    """The RBAC (group, resource, verb) of one API request; None for discovery (/api, /apis/G/V), which
    every authenticated client may read (system:discovery)."""
    parts = path.strip("/").split("/")
    if parts[0] in ("api", "apis") and len(parts) < 3:
        return None  # /api, /apis, /apis/GROUP: discovery
    if parts[0] == "api":
        group, rest = "", parts[2:]
    elif parts[0] == "apis":
        group, rest = parts[1], parts[3:]
    else:
        assert path.startswith(NON_RESOURCE_PREFIXES), path
        return None
    if not rest:
        return None  # discovery of a group version
    if rest[0] == "namespaces" and len(rest) >= 3:
        rest = rest[2:]  # a namespaced path: namespaces/NS/RESOURCE[/NAME[/SUB]]
    resource, name, sub = rest[0], rest[1] if len(rest) > 1 else None, rest[2] if len(rest) > 2 else None
    if sub:
        resource = f"{resource}/{sub}"
    method = method.upper()
    if method == "GET":
        if name is not None:
            verb = "get"
        else:
            verb = "watch" if str(params.get("watch", "")).lower() in ("true", "1") else "list"
    else:
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
        if method == "DELETE" and name is None:
            verb = "deletecollection"
    return group, resource, verb


def granted(objects: list[dict[str, Any]]) -> set[Grant]:
    """What the operator's service account may do: the rules of the Roles and ClusterRoles bound to it
    (the metrics-reader ClusterRole is for Prometheus, bound by the user)."""
    [account] = [obj for obj in objects if obj["kind"] == "ServiceAccount"]
    bound = {
        (binding["roleRef"]["kind"], binding["roleRef"]["name"])
        for binding in objects
        if binding["kind"] in ("RoleBinding", "ClusterRoleBinding")
        and any(
            subject.get("kind") == "ServiceAccount" and subject.get("name") == account["metadata"]["name"]
            for subject in binding.get("subjects", [])
        )
    }
    roles = [obj for obj in objects if (obj["kind"], obj["metadata"]["name"]) in bound]
    assert {role["kind"] for role in roles} == {"ClusterRole", "Role"}, bound
    grants = set()
    for _owner, rule in manifests.rbac_rules(roles):
        assert not rule.get("resourceNames") and not rule.get("nonResourceURLs"), rule
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    grants.add((group, resource, verb))
    return grants


def tofu_secrets(plan: dict[str, Any], name: str, workspace: str) -> list[dict[str, Any]]:
    compressed = gzip.compress(orjson.dumps(plan))
    half = len(compressed) // 2
    base = f"tfplan-{workspace}-{name}.json"
    return [
        ks.k8s_object(
            "v1",
            "Secret",
            f"{base}-{index}",
            NS,
            generation=None,
            type="Opaque",
            labels={
                "infra.contrib.fluxcd.io/plan-name": f"{name}.json",
                "infra.contrib.fluxcd.io/plan-workspace": workspace,
            },
            annotations={"encoding": "gzip", "infra.contrib.fluxcd.io/plan-chunk": str(index)},
            data={"tfplan": base64.b64encode(chunk).decode()},
        )
        for index, chunk in enumerate((compressed[:half], compressed[half:]))
    ]


async def exercise(kube: kmock.KubernetesEmulator, operator: OperatorFactory) -> set[Grant]:  # noqa: F811
    # A real API server serves the CRD API, and kopf finds it in discovery and watches it (new resources
    # appearing); KMock serves it only when declared.
    kube.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = kmock.ResourceInfo(
        kind="CustomResourceDefinition", namespaced=False, verbs=ks.VERBS
    )
    kube.objects["v1/namespaces", None, NS] = ks.namespace(NS, {"team": "a"})
    kube.objects["v1/namespaces", None, OPERATOR_NS] = ks.namespace(OPERATOR_NS)
    plan = orjson.dumps(nat_plan(1, vpcs=1))
    kube.objects["v1/configmaps", NS, "plans"] = ks.k8s_object(
        "v1", "ConfigMap", "plans", NS, labels={PLAN_SOURCE_LABEL: "true"}, generation=None,
        data={"plan.json": plan.decode()},
    )  # fmt: skip
    kube.objects["v1/secrets", NS, "plans"] = ks.k8s_object(
        "v1", "Secret", "plans", NS, labels={PLAN_SOURCE_LABEL: "true"}, generation=None, type="Opaque",
        data={"plan.json": base64.b64encode(plan).decode()},
    )  # fmt: skip
    for secret in tofu_secrets(nat_plan(2, vpcs=1), "network", "prod"):
        kube.objects["v1/secrets", NS, secret["metadata"]["name"]] = secret
    kube.objects[ks.COSTPOLICIES, None, "budget"] = ks.k8s_object(
        "cloudcostguard.io/v1alpha1", "CostPolicy", "budget",
        spec={"enforcement": "Warn", "namespaceSelector": {"matchLabels": {"team": "a"}},
              "limits": {"namespaceMonthlyBudget": "1.00"}},
    )  # fmt: skip
    specs = {
        "inline": {"plan": {"inline": nat_plan(1, vpcs=1)}},
        "from-cm": {"plan": {"configMapKeyRef": {"name": "plans", "key": "plan.json"}}},
        "from-secret": {"plan": {"secretKeyRef": {"name": "plans", "key": "plan.json"}}},
        "from-tofu": {"plan": {"terraformRef": {"name": "network", "workspace": "prod"}}},
        "broken": {"plan": {"configMapKeyRef": {"name": "plans", "key": "absent.json"}}},
    }
    for name, spec in specs.items():
        kube.objects[ks.COSTESTIMATES, NS, name] = ks.costestimate(name, NS, spec)

    def phase(name: str) -> str:
        return str(ks.live_object(kube, ks.COSTESTIMATES, NS, name).get("status", {}).get("phase", ""))

    def events() -> list[dict[str, Any]]:
        return [dict(stored.raw) for key, stored in kube.objects.items() if key[0].plural == "events"]

    async with operator(operator_namespace=OPERATOR_NS, policy_status_interval=0.5):
        await eventually(lambda: all(phase(n) == "Estimated" for n in specs if n != "broken"), within=30)
        await eventually(lambda: ks.live_object(kube, ks.COSTPOLICIES, None, "budget").get("status"))
        await eventually(lambda: any(e.get("type") == "Warning" for e in events()), within=30)
        async with kube.patch(
            ks.url_of("v1/namespaces", None, NS), json={"metadata": {"labels": {"team": "b"}}}
        ) as response:
            assert response.status < 300
        async with kube.delete(ks.url_of(ks.COSTESTIMATES, NS, "inline")) as response:
            assert response.status < 300
        await eventually(lambda: not ks.live_object(kube, ks.COSTESTIMATES, NS, "inline"), within=30)
        assert ks.live_object(kube, "coordination.k8s.io/v1/leases", OPERATOR_NS, "cloudcostguard-leader")

    used = set()
    test_requests = {
        ("PATCH", ks.url_of("v1/namespaces", None, NS)),
        ("DELETE", ks.url_of(ks.COSTESTIMATES, NS, "inline")),
    }
    for request in kube:
        method, path = str(getattr(request.method, "value", request.method)).upper(), request.url.path
        if (method, path) in test_requests:
            continue  # the test's own requests, standing in for a user's
        grant = grant_of(method, path, request.params)
        if grant is not None:
            used.add(grant)
    return used


@pytest.mark.skipif(manifests.kubectl_binary() is None, reason=manifests.KUBECTL_MISSING)
async def test_rbac_grants_exactly_what_the_operator_uses(
    kube: kmock.KubernetesEmulator,  # noqa: F811
    operator: OperatorFactory,  # noqa: F811
) -> None:
    used = await exercise(kube, operator)
    rendered = {"config/rbac": granted(manifests.kustomize(manifests.CONFIG / "rbac"))}
    if manifests.helm_binary() is not None:
        rendered["helm chart"] = granted(manifests.helm_template())
    for source, grants in rendered.items():
        denied = sorted(used - grants)
        assert denied == [], f"{source} lacks what the operator requests: {denied}"
        unused = sorted(grants - used - set(GRANTED_BUT_NOT_SEEN_HERE))
        assert unused == [], f"{source} grants what the operator never requests: {unused}"
    print(f"RBAC used: {sorted(used)}")  # the figures RELIABILITY.md records


def test_requests_map_to_the_verbs_rbac_checks() -> None:
    assert grant_of("GET", "/apis/cloudcostguard.io/v1alpha1/costestimates", {"watch": "true"}) == (
        "cloudcostguard.io", "costestimates", "watch",
    )  # fmt: skip
    assert grant_of("GET", "/api/v1/namespaces", {}) == ("", "namespaces", "list")
    assert grant_of("PATCH", "/api/v1/namespaces/team-a", {}) == ("", "namespaces", "patch")
    assert grant_of("POST", "/api/v1/namespaces/team-a/events", {}) == ("", "events", "create")
    assert grant_of(
        "PATCH", "/apis/cloudcostguard.io/v1alpha1/namespaces/a/costestimates/web/status", {}
    ) == ("cloudcostguard.io", "costestimates/status", "patch")
    assert grant_of("GET", "/apis/coordination.k8s.io/v1/namespaces/s/leases/l", {}) == (
        "coordination.k8s.io", "leases", "get",
    )  # fmt: skip
    assert grant_of("GET", "/apis/cloudcostguard.io/v1alpha1", {}) is None
    assert grant_of("GET", "/api", {}) is None

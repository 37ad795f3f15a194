"""Every status our operator writes, produced by the real reconcile and policy-status code.

This is the one module of the GitOps tests that calls the operator's internals (reconcile,
policy_status, the index shapes); the tests go through ``reconcile_once`` and the state builders.
The GitOps checks (Argo CD health Lua, kstatus) are tested against these objects, and the Argo CD
samples in config/argocd/resource_customizations/*/testdata are these objects written out, so the
samples show what the operator really writes (``python -m tests.unit.gitops.states`` rewrites them; a
test fails when they drift).
"""

from __future__ import annotations

import asyncio
import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cloudcostguard.k8s.cluster.plan_sources import PlanResolver
from cloudcostguard.k8s.cluster.state import PlanIndexes
from cloudcostguard.k8s.operator import policy_status, reconcile
from cloudcostguard.k8s.operator.loops import EstimateState
from cloudcostguard.k8s.testing import InMemoryClusterState
from cloudcostguard.pricing.catalog_provider import StaticCatalogProvider
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings
from tests.plans import nat_plan

ROOT = Path(__file__).resolve().parents[3]
CUSTOMIZATIONS = ROOT / "config" / "argocd" / "resource_customizations" / "cloudcostguard.io"
NOW = "2026-01-02T03:04:05Z"
NAMESPACE = "team-a"
API_VERSION = "cloudcostguard.io/v1alpha1"


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: object) -> bool:
        return True


def _context(judged: bool) -> reconcile.ReconcileContext:
    settings = Settings(retry_delay=5.0, retry_max_delay=300.0)
    return reconcile.ReconcileContext(
        settings=settings,
        catalog_provider=StaticCatalogProvider(load_bundled_catalog()),
        resolver=PlanResolver(settings),
        judge=reconcile.EvaluationJudge() if judged else None,
        clock=lambda: 1000.0,
        now=lambda: NOW,
    )


def _policy(enforcement: str, unpriced: str | None = None, **limits: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"enforcement": enforcement, "limits": limits}
    if unpriced is not None:
        spec["unpriced"] = unpriced
    return {"metadata": {"name": "team-budget"}, "spec": spec}


class _ClusterState(InMemoryClusterState):
    """The in-memory cluster with tofu-controller plan Secrets too (``tofu_plans`` index shape)."""

    def __init__(self, tofu_plans: dict[Any, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tofu_plans = tofu_plans or {}

    def plan_indexes(self) -> PlanIndexes:
        base = super().plan_indexes()
        return PlanIndexes(base.plan_configmaps, base.plan_secrets, self.tofu_plans)


def _view(policies: list[dict[str, Any]], tofu_plans: dict[Any, Any] | None = None) -> _ClusterState:
    return _ClusterState(tofu_plans, policies=policies, labels_by_namespace={NAMESPACE: {"team": "a"}})


async def reconcile_once(
    namespace: str,
    name: str,
    spec: dict[str, Any],
    *,
    policies: list[dict[str, Any]] | None = None,
    tofu_plans: dict[Any, Any] | None = None,
    status: dict[str, Any] | None = None,
) -> reconcile.Outcome:
    """One reconcile of a CostEstimate (generation 1; new: no status) against the given indexes."""
    obj = reconcile.EstimateObject(namespace, name, 1, {}, spec, status or {})
    ctx = _context(judged=policies is not None)
    view = _view(policies or [], tofu_plans)
    return await reconcile.reconcile_estimate(obj, EstimateState(), ctx, view)


def _estimate(name: str, spec: dict[str, Any], status: dict[str, Any], generation: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "CostEstimate",
        "metadata": {"name": name, "namespace": NAMESPACE, "generation": generation},
        "spec": spec,
        **({"status": status} if status else {}),
    }


async def _reconciled(
    name: str, spec: dict[str, Any], policies: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    outcome = await reconcile_once(NAMESPACE, name, spec, policies=policies)
    assert outcome.status is not None, f"{name}: the reconcile wrote nothing ({outcome.result})"
    return _estimate(name, spec, outcome.status)


def pending_status(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The status the operator writes when it first sees a CostEstimate, before estimating it."""
    obj = reconcile.EstimateObject(NAMESPACE, name, 1, {}, spec, {})
    status = reconcile.pending_status(obj, EstimateState(), now=NOW)
    assert status is not None, f"{name}: no Pending status for a new CostEstimate"
    return status


def merged(status: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``status`` after a JSON merge-patch of its fields (lists, such as conditions, are replaced)."""
    result = {**status, **patch}
    return {key: value for key, value in result.items() if value is not None}


INLINE = {"plan": {"inline": nat_plan(2)}}


def _with_an_unsupported_type() -> dict[str, Any]:
    document = nat_plan(2)
    document["resource_changes"].append(
        {
            "address": "aws_made_up_thing.queue",
            "mode": "managed",
            "type": "aws_made_up_thing",
            "name": "queue",
            "change": {"actions": ["create"], "before": None, "after": {}, "after_unknown": {}},
        }
    )
    return {"plan": {"inline": document}}


MISSING_CONFIGMAP = {"name": "web-plan", "key": "plan.json"}


async def costestimates() -> dict[str, dict[str, Any]]:
    """State name → the CostEstimate as the API server would return it after the operator wrote status."""
    cheap_limit = {"maxMonthlyCost": "10"}
    states = {
        # Created, and the operator has not seen it yet: no status at all.
        "new": _estimate("web", INLINE, {}),
        # First seen: the Pending status written before the first estimate.
        "pending": _estimate("web", INLINE, pending_status("web", INLINE)),
        "estimated": await _reconciled("web", INLINE),
        "within-budget": await _reconciled("web", INLINE, [_policy("Deny", maxMonthlyCost="100000")]),
        "over-budget-deny": await _reconciled("web", INLINE, [_policy("Deny", **cheap_limit)]),
        "over-budget-warn": await _reconciled("web", INLINE, [_policy("Warn", **cheap_limit)]),
        "over-budget-dryrun": await _reconciled("web", INLINE, [_policy("DryRun", **cheap_limit)]),
        # A change adding a type we cannot price: the default (unpriced: Warn), and unpriced: Deny.
        "unpriced-warn": await _reconciled("web", _with_an_unsupported_type(), [_policy("Deny")]),
        "unpriced-deny": await _reconciled("web", _with_an_unsupported_type(), [_policy("Deny", "Deny")]),
        "invalid-plan": await _reconciled("web", {"plan": {"inline": {"format_version": "9.0"}}}),
        "plan-missing": await _reconciled("web", {"plan": {"configMapKeyRef": MISSING_CONFIGMAP}}),
    }  # fmt: skip
    # The spec changed (generation 2) and the operator has not estimated it yet.
    newer = copy.deepcopy(states["estimated"])
    newer["metadata"]["generation"] = 2
    newer["spec"] = {"plan": {"inline": nat_plan(3)}}
    states["generation-not-observed"] = newer
    return states


def _cost_policy(
    name: str, spec: dict[str, Any], status: dict[str, Any], generation: int = 1
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "CostPolicy",
        "metadata": {"name": name, "generation": generation},
        "spec": spec,
        **({"status": status} if status else {}),
    }


def _policy_reported(name: str, spec: dict[str, Any], spend: str) -> dict[str, Any]:
    cluster = InMemoryClusterState(
        labels_by_namespace={NAMESPACE: {"team": "a"}},
        estimates={NAMESPACE: [{"metadata": {"name": "web"}, "status": {"monthlyCost": spend}}]},
    )
    status = policy_status.policy_status(spec, generation=1, cluster=cluster, previous={}, now=NOW)
    return _cost_policy(name, spec, status)


def costpolicies() -> dict[str, dict[str, Any]]:
    deny = {"enforcement": "Deny", "limits": {"namespaceMonthlyBudget": "500"}}
    warn = {**deny, "enforcement": "Warn"}
    return {
        "pending": _cost_policy("team-budget", deny, {}),
        "within-budget": _policy_reported("team-budget", deny, "120.50"),
        "over-budget-deny": _policy_reported("team-budget", deny, "812.00"),
        "over-budget-warn": _policy_reported("team-budget", warn, "812.00"),
        "no-namespace-budget": _policy_reported(
            "team-budget", {"enforcement": "Deny", "limits": {"maxMonthlyCost": "300"}}, "120.50"
        ),
        "invalid": _policy_reported(
            "team-budget", {"enforcement": "Deny", "limits": {"maxMonthlyCost": 300}}, "0"
        ),
    }  # fmt: skip


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in (obj.get("status") or {}).get("conditions") or ():
        if item["type"] == kind:
            return dict(item)
    return None


def expected_costestimate_health(obj: dict[str, Any]) -> dict[str, str]:
    """The issue's rules, stated once in Python: what the health Lua must conclude."""
    status = obj.get("status") or {}
    if not status.get("conditions"):
        return {"status": "Progressing", "message": "Waiting for CloudCostGuard to estimate the plan"}
    generation = obj["metadata"].get("generation")
    if generation is not None and status.get("observedGeneration") not in (None, generation):
        return {
            "status": "Progressing",
            "message": f"Waiting for CloudCostGuard to estimate generation {generation}",
        }
    stalled, ready = _condition(obj, "Stalled"), _condition(obj, "Ready")
    if stalled is not None and stalled["status"] == "True":
        return {"status": "Degraded", "message": f"{stalled['reason']}: {stalled['message']}"}
    if ready is None or ready["status"] != "True":
        message = (
            f"{ready['reason']}: {ready['message']}"
            if ready
            else "Waiting for CloudCostGuard to estimate the plan"
        )
        return {"status": "Progressing", "message": message}
    policy, budget = status.get("policy"), _condition(obj, "WithinBudget")
    what = "unpriced resources" if budget and budget["reason"] == "UnpricedResources" else "over budget"
    if policy and policy["verdict"] == "Deny":
        label = what[0].upper() + what[1:]
        return {"status": "Degraded", "message": f"{label} ({policy['name']}, Deny): {policy['message']}"}
    message = ready["message"]
    if budget is not None and budget["status"] == "False" and policy:
        message += f"; {what} ({policy['name']}, {policy['verdict']}): {policy['message']}"
    return {"status": "Healthy", "message": message}  # fmt: skip


def expected_costpolicy_health(obj: dict[str, Any]) -> dict[str, str]:
    status = obj.get("status") or {}
    waiting = {"status": "Progressing", "message": "Waiting for CloudCostGuard to report on the policy"}
    if not status.get("conditions"):
        return waiting
    ready, budget = _condition(obj, "Ready"), _condition(obj, "WithinBudget")
    if ready is None:
        return waiting
    if ready["status"] != "True":
        return {"status": "Degraded", "message": f"{ready['reason']}: {ready['message']}"}
    enforcement = obj["spec"].get("enforcement", "Deny")
    if budget is not None and budget["status"] == "False":
        health = "Degraded" if enforcement == "Deny" else "Healthy"
        return {"status": health, "message": f"{enforcement}: {budget['message']}"}
    return {"status": "Healthy", "message": ready["message"]}


# The health every state must get, by the rules (independent of both implementations above).
COSTESTIMATE_HEALTH = {
    "new": "Progressing",
    "pending": "Progressing",
    "generation-not-observed": "Progressing",
    "plan-missing": "Progressing",
    "estimated": "Healthy",
    "within-budget": "Healthy",
    "over-budget-warn": "Healthy",
    "over-budget-dryrun": "Healthy",
    "over-budget-deny": "Degraded",
    "unpriced-warn": "Healthy",
    "unpriced-deny": "Degraded",
    "invalid-plan": "Degraded",
}
COSTPOLICY_HEALTH = {
    "pending": "Progressing",
    "within-budget": "Healthy",
    "no-namespace-budget": "Healthy",
    "over-budget-warn": "Healthy",
    "over-budget-deny": "Degraded",
    "invalid": "Degraded",
}

SAMPLES: dict[str, tuple[Callable[[dict[str, Any]], dict[str, str]], dict[str, str]]] = {
    "CostEstimate": (expected_costestimate_health, COSTESTIMATE_HEALTH),
    "CostPolicy": (expected_costpolicy_health, COSTPOLICY_HEALTH),
}


def all_states() -> dict[str, dict[str, dict[str, Any]]]:
    return {"CostEstimate": asyncio.run(costestimates()), "CostPolicy": costpolicies()}


def _dump(document: Any) -> str:
    # Plans share one dict between resources; samples spell every object out (no YAML anchors).
    return yaml.dump(document, Dumper=_NoAliasDumper, sort_keys=False, width=110, allow_unicode=True)


def rendered_samples(states: dict[str, dict[str, dict[str, Any]]]) -> dict[Path, str]:
    """The Argo CD layout: ``<Kind>/testdata/<state>.yaml`` and ``<Kind>/health_test.yaml``."""
    files: dict[Path, str] = {}
    header = "# Generated by `python -m tests.unit.gitops.states` from the operator's real status code.\n"
    for kind, objects in states.items():
        expect, _table = SAMPLES[kind]
        tests = []
        for name, obj in objects.items():
            path = Path(kind) / "testdata" / f"{name}.yaml"
            files[path] = header + _dump(obj)
            tests.append({"healthStatus": expect(obj), "inputPath": f"testdata/{name}.yaml"})
        files[Path(kind) / "health_test.yaml"] = header + _dump({"tests": tests})
    return files


def main() -> int:
    for path, text in rendered_samples(all_states()).items():
        target = CUSTOMIZATIONS / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

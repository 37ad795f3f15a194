"""The kopf registrations of the indexes in ``indexes``: one set, read by the operator and the webhook
alike (through ``state.KopfIndexState``).

Coroutines although they never wait: kopf runs plain functions in worker threads, a thread hop per
watch event that costs more than these index functions themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from cloudcostguard import errors
from cloudcostguard.k8s.api.models import GROUP, PLAN_SOURCE_LABEL, VERSION
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.policy.model import CostPolicy

COSTESTIMATES = (GROUP, VERSION, "costestimates")
COSTPOLICIES = (GROUP, VERSION, "costpolicies")


@kopf.index("", "v1", "namespaces", id=indexes.NAMESPACE_LABELS)
async def namespace_labels(name: str, labels: Mapping[str, str], **_: Any) -> dict[str, Mapping[str, str]]:
    return indexes.index_namespace_labels(name, labels)


@kopf.index(*COSTESTIMATES, id=indexes.COSTESTIMATE_SPEND)
async def costestimate_spend(
    namespace: str | None,
    name: str,
    labels: Mapping[str, str],
    meta: Mapping[str, Any],
    status: Mapping[str, Any],
    **_: Any,
) -> dict[str, indexes.SpendEntry] | None:
    return indexes.index_costestimate_spend(namespace or "", name, labels, meta, status)


@kopf.index(*COSTESTIMATES, id=indexes.PLAN_USERS)
async def plan_users(
    namespace: str | None, name: str, labels: Mapping[str, str], spec: Mapping[str, Any], **_: Any
) -> dict[indexes.PlanRef, indexes.PlanUser] | None:
    return indexes.index_plan_users(namespace or "", name, labels, spec)


@kopf.index("", "v1", "configmaps", id=indexes.PLAN_CONFIGMAPS, labels={PLAN_SOURCE_LABEL: kopf.PRESENT})
async def plan_configmaps(
    namespace: str | None, name: str, body: Mapping[str, Any], **_: Any
) -> dict[tuple[str, str], indexes.PlanObject]:
    return indexes.index_plan_object(indexes.CONFIGMAP, namespace or "", name, body)


@kopf.index("", "v1", "secrets", id=indexes.PLAN_SECRETS, labels={PLAN_SOURCE_LABEL: kopf.PRESENT})
async def plan_secrets(
    namespace: str | None, name: str, body: Mapping[str, Any], **_: Any
) -> dict[tuple[str, str], indexes.PlanObject]:
    return indexes.index_plan_object(indexes.SECRET, namespace or "", name, body)


def is_tofu_plan(name: str, labels: Mapping[str, str], **_: Any) -> bool:
    """kopf's ``when=`` filter for tofu-controller's JSON plan Secrets."""
    return indexes.is_tofu_json_plan(name, labels)


@kopf.index("", "v1", "secrets", id=indexes.TOFU_PLANS, when=is_tofu_plan)
async def tofu_plans(
    namespace: str | None, name: str, annotations: Mapping[str, str], body: Mapping[str, Any], **_: Any
) -> dict[tuple[str, str], indexes.TofuPlanChunk]:
    return indexes.index_tofu_plan(namespace or "", name, annotations, body)


@kopf.index(*COSTPOLICIES, id=indexes.COST_POLICIES)
async def cost_policies(
    name: str, spec: Mapping[str, Any], **_: Any
) -> dict[str, CostPolicy | errors.PolicyError]:
    return indexes.index_cost_policy(name, spec)

"""One view of cluster state for the operator and the webhook: the ``ClusterState`` protocol and its
adapter over kopf's indexes (``KopfIndexState``).

Neither reads the API server per request or per reconcile: kopf keeps the indexes of ``indexes`` (and
registers them in ``kopf_indexes``) current from its watches. Tests and benchmarks use the in-memory
implementation in ``cloudcostguard.k8s.testing``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

from cloudcostguard import errors
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.k8s.cluster.indexes import PlanObject, PlanRef, PlanUser
from cloudcostguard.policy.model import CostPolicy

# Without these, budgets would be judged against nothing (the tofu-controller index may be absent).
REQUIRED_INDEXES = (
    indexes.NAMESPACE_LABELS,
    indexes.COSTESTIMATE_SPEND,
    indexes.PLAN_CONFIGMAPS,
    indexes.PLAN_SECRETS,
)
ALL_INDEXES = (*REQUIRED_INDEXES, indexes.TOFU_PLANS, indexes.COST_POLICIES, indexes.PLAN_USERS)


class PlanIndexes(NamedTuple):
    """The plan-object indexes (``indexes`` shapes), read by ``PlanResolver``."""

    plan_configmaps: Mapping[Any, Any]
    plan_secrets: Mapping[Any, Any]
    tofu_plans: Mapping[Any, Any]


class ClusterState(Protocol):
    """What the operator and the webhook know about the cluster."""

    def cost_policies(self) -> Sequence[CostPolicy | errors.PolicyError]:
        """Every CostPolicy, parsed (a malformed one as its error)."""

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """The namespace's labels, or None when the namespace is not (yet) known."""

    def namespaces(self) -> Mapping[str, Mapping[str, str]]:
        """Every known namespace with its labels (a namespace only the spend index has seen: no labels)."""

    def committed_spend(self, namespace: str) -> Mapping[str, Decimal]:
        """Current monthly cost of every CostEstimate in the namespace, by name."""

    def plan_indexes(self) -> PlanIndexes:
        """Labelled ConfigMaps/Secrets and tofu-controller plan Secrets."""

    def plan_users(self, reference: PlanRef) -> Sequence[PlanUser]:
        """The CostEstimates whose plan is that ConfigMap, Secret or tofu-controller plan."""


class KopfIndexState:
    """``ClusterState`` over kopf's indexes, by index id (kopf hands the same live ``kopf.Index``
    objects to every handler; ``bind`` keeps the ones given to the startup handler)."""

    def __init__(self, indexes_by_id: Mapping[str, Any] | None = None) -> None:
        self._indexes: dict[str, Any] = dict(indexes_by_id or {})

    def bind(self, indexes_by_id: Mapping[str, Any]) -> list[str]:
        """Keep the live indexes among ``indexes_by_id``; returns the ids of required ones missing."""
        self._indexes = {name: indexes_by_id[name] for name in ALL_INDEXES if name in indexes_by_id}
        return [name for name in REQUIRED_INDEXES if name not in self._indexes]

    def _index(self, name: str) -> Mapping[Any, Any]:
        index = self._indexes.get(name)
        return index if isinstance(index, Mapping) else {}

    def cost_policies(self) -> Sequence[CostPolicy | errors.PolicyError]:
        return [policy for store in self._index(indexes.COST_POLICIES).values() for policy in store]

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        for labels in self._index(indexes.NAMESPACE_LABELS).get(namespace, ()):
            return labels  # type: ignore[no-any-return]
        return None

    def namespaces(self) -> Mapping[str, Mapping[str, str]]:
        known: dict[str, Mapping[str, str]] = {key: {} for key in self._index(indexes.COSTESTIMATE_SPEND)}
        for namespace, store in self._index(indexes.NAMESPACE_LABELS).items():
            for labels in store:
                known[namespace] = labels
        return known

    def committed_spend(self, namespace: str) -> Mapping[str, Decimal]:
        return {
            entry.name: entry.monthly_cost
            for entry in self._index(indexes.COSTESTIMATE_SPEND).get(namespace, ())
        }

    def plan_indexes(self) -> PlanIndexes:
        return PlanIndexes(
            self._index(indexes.PLAN_CONFIGMAPS),
            self._index(indexes.PLAN_SECRETS),
            self._index(indexes.TOFU_PLANS),
        )

    def plan_users(self, reference: PlanRef) -> Sequence[PlanUser]:
        return list(self._index(indexes.PLAN_USERS).get(reference, ()))


def plan_object_entry(
    kind: str, namespace: str, name: str, body: Mapping[str, Any]
) -> dict[tuple[str, str], PlanObject]:
    """The index entry for a ConfigMap/Secret, with a Secret's ``stringData`` folded into ``data``
    (base64) as the API server stores it (an object under admission has not been stored yet)."""
    string_data = body.get("stringData")
    if kind == indexes.SECRET and isinstance(string_data, Mapping) and string_data:
        data = body.get("data")
        folded = dict(data) if isinstance(data, Mapping) else {}
        for key, value in string_data.items():
            if isinstance(value, str):
                folded[key] = base64.b64encode(value.encode()).decode()
        body = {**body, "data": folded}
    return indexes.index_plan_object(kind, namespace, name, body)

"""An in-memory ``ClusterState`` for tests and benchmarks: plain Kubernetes objects instead of kopf's
indexes, read through the same index functions (so both see the same shapes). Not used by the product.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cloudcostguard import errors
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.k8s.cluster.indexes import PlanRef, PlanUser
from cloudcostguard.k8s.cluster.state import KopfIndexState, PlanIndexes, plan_object_entry
from cloudcostguard.policy.model import CostPolicy


@dataclass
class InMemoryClusterState:
    """``policies``: CostPolicy objects (metadata.name, spec); ``labels_by_namespace``: namespace → labels;
    ``estimates``: namespace → CostEstimate objects (metadata, spec, status.monthlyCost); ``sources``:
    labelled ConfigMap/Secret objects (kind, metadata, data, binaryData, stringData)."""

    policies: list[Mapping[str, Any]] = field(default_factory=list)
    labels_by_namespace: dict[str, Mapping[str, str]] = field(default_factory=dict)
    estimates: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    sources: list[Mapping[str, Any]] = field(default_factory=list)

    def cost_policies(self) -> Sequence[CostPolicy | errors.PolicyError]:
        parsed: list[CostPolicy | errors.PolicyError] = []
        for policy in self.policies:
            name = str(indexes.mapping(policy.get("metadata")).get("name", ""))
            parsed.extend(indexes.index_cost_policy(name, indexes.mapping(policy.get("spec"))).values())
        return parsed

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.labels_by_namespace.get(namespace)

    def namespaces(self) -> Mapping[str, Mapping[str, str]]:
        known: dict[str, Mapping[str, str]] = {namespace: {} for namespace in self.estimates}
        known.update(self.labels_by_namespace)
        return known

    def committed_spend(self, namespace: str) -> Mapping[str, Decimal]:
        spend: dict[str, Decimal] = {}
        for estimate in self.estimates.get(namespace, []):
            metadata = indexes.mapping(estimate.get("metadata"))
            entry = indexes.index_costestimate_spend(
                namespace,
                str(metadata.get("name", "")),
                indexes.mapping(metadata.get("labels")),
                metadata,
                indexes.mapping(estimate.get("status")),
            )
            spend.update({value.name: value.monthly_cost for value in (entry or {}).values()})
        return spend

    def plan_indexes(self) -> PlanIndexes:
        configmaps: dict[Any, list[Any]] = {}
        secrets: dict[Any, list[Any]] = {}
        for source in self.sources:
            kind = str(source.get("kind"))
            metadata = indexes.mapping(source.get("metadata"))
            namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
            target = configmaps if kind == indexes.CONFIGMAP else secrets
            for key, value in plan_object_entry(kind, namespace, name, source).items():
                target.setdefault(key, []).append(value)
        return PlanIndexes(configmaps, secrets, {})

    def plan_users(self, reference: PlanRef) -> Sequence[PlanUser]:
        found: list[PlanUser] = []
        for estimate in self.estimates.get(reference.namespace, []):
            metadata = indexes.mapping(estimate.get("metadata"))
            entry = indexes.index_plan_users(
                reference.namespace,
                str(metadata.get("name")),
                {str(k): str(v) for k, v in indexes.mapping(metadata.get("labels")).items()},
                indexes.mapping(estimate.get("spec")),
            )
            found.extend(user for ref, user in (entry or {}).items() if ref == reference)
        return found

    def indexed(self) -> KopfIndexState:
        """This state as the operator holds it: the product's ``KopfIndexState`` over indexes made once,
        by the same index functions kopf's index handlers call. The methods above parse the objects
        on every read; a benchmark of the webhook should pay per request what the operator pays."""
        by_id: dict[str, dict[Any, list[Any]]] = {name: {} for name in _INDEX_IDS}

        def add(index_id: str, entry: Mapping[Any, Any] | None) -> None:
            for key, value in (entry or {}).items():
                by_id[index_id].setdefault(key, []).append(value)

        for policy in self.policies:
            name = str(indexes.mapping(policy.get("metadata")).get("name", ""))
            add(indexes.COST_POLICIES, indexes.index_cost_policy(name, indexes.mapping(policy.get("spec"))))
        for namespace, labels in self.labels_by_namespace.items():
            add(indexes.NAMESPACE_LABELS, indexes.index_namespace_labels(namespace, labels))
        for namespace, estimates in self.estimates.items():
            for estimate in estimates:
                metadata = indexes.mapping(estimate.get("metadata"))
                name, labels = str(metadata.get("name", "")), indexes.mapping(metadata.get("labels"))
                status, spec = indexes.mapping(estimate.get("status")), indexes.mapping(estimate.get("spec"))
                add(
                    indexes.COSTESTIMATE_SPEND,
                    indexes.index_costestimate_spend(namespace, name, labels, metadata, status),
                )
                add(indexes.PLAN_USERS, indexes.index_plan_users(namespace, name, labels, spec))
        for source in self.sources:
            kind = str(source.get("kind"))
            metadata = indexes.mapping(source.get("metadata"))
            namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
            target = indexes.PLAN_CONFIGMAPS if kind == indexes.CONFIGMAP else indexes.PLAN_SECRETS
            add(target, plan_object_entry(kind, namespace, name, source))
        return KopfIndexState(by_id)


_INDEX_IDS = (
    indexes.COST_POLICIES,
    indexes.NAMESPACE_LABELS,
    indexes.COSTESTIMATE_SPEND,
    indexes.PLAN_USERS,
    indexes.PLAN_CONFIGMAPS,
    indexes.PLAN_SECRETS,
    indexes.TOFU_PLANS,
)

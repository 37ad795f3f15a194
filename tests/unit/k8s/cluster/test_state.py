"""One view of cluster state: ``KopfIndexState`` over kopf's indexes, as operator and webhook read it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson

from cloudcostguard import errors
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.k8s.cluster.state import KopfIndexState
from cloudcostguard.policy.model import CostPolicy
from tests.integration.admission.support import NAMESPACE, config_map, cost_estimate, cost_policy, nat_plan


def index_of(entries: Iterable[Mapping[Any, Any] | None]) -> dict[Any, list[Any]]:
    """What a kopf.Index looks like to a reader: key → iterable store of values."""
    index: dict[Any, list[Any]] = {}
    for entry in entries:
        for key, value in (entry or {}).items():
            index.setdefault(key, []).append(value)
    return index


def kopf_like_indexes() -> dict[str, Any]:
    web = cost_estimate("web", config_map=("plans", "web.json"), labels={"tier": "web"})
    db = cost_estimate("db")
    policy = cost_policy("cap", maxMonthlyCost="50")
    bad_policy = cost_policy("broken", maxMonthlyCost="lots")
    plans = config_map("plans", {"web.json": orjson.dumps(nat_plan(2)).decode()})
    return {
        indexes.NAMESPACE_LABELS: index_of([indexes.index_namespace_labels(NAMESPACE, {"env": "prod"})]),
        indexes.COSTESTIMATE_SPEND: index_of(
            [
                indexes.index_costestimate_spend(NAMESPACE, "web", {}, {}, {"monthlyCost": "32.85"}),
                indexes.index_costestimate_spend(NAMESPACE, "db", {}, {}, {"monthlyCost": "100.00"}),
                indexes.index_costestimate_spend("spend-only", "x", {}, {}, {"monthlyCost": "1.00"}),
            ]
        ),
        indexes.PLAN_CONFIGMAPS: index_of(
            [indexes.index_plan_object("ConfigMap", NAMESPACE, "plans", plans)]
        ),
        indexes.PLAN_SECRETS: {},
        indexes.TOFU_PLANS: {},
        indexes.COST_POLICIES: index_of(
            [
                indexes.index_cost_policy("cap", policy["spec"]),
                indexes.index_cost_policy("broken", bad_policy["spec"]),
            ]
        ),
        indexes.PLAN_USERS: index_of(
            [
                indexes.index_plan_users(NAMESPACE, o["metadata"]["name"], o["metadata"]["labels"], o["spec"])
                for o in (web, db)
            ]
        ),
    }


def test_kopf_index_state_reads_every_index() -> None:
    state = KopfIndexState(kopf_like_indexes())
    assert state.namespace_labels(NAMESPACE) == {"env": "prod"}
    assert state.namespace_labels("elsewhere") is None
    assert state.namespaces() == {NAMESPACE: {"env": "prod"}, "spend-only": {}}
    assert state.committed_spend(NAMESPACE) == {"web": Decimal("32.85"), "db": Decimal("100.00")}
    assert sum(state.committed_spend(NAMESPACE).values()) == Decimal("132.85")
    assert state.committed_spend("other") == {}
    policies = list(state.cost_policies())
    assert [p.name for p in policies if isinstance(p, CostPolicy)] == ["cap"]
    assert [str(p) for p in policies if isinstance(p, errors.PolicyError)] == [
        'CostPolicy broken: spec.limits.maxMonthlyCost must be a non-negative decimal string like "250" '
        "or \"250.00\", not 'lots'"
    ]
    (user,) = state.plan_users(indexes.PlanRef(NAMESPACE, "ConfigMap", "plans"))
    assert user == indexes.PlanUser(
        "web", {"tier": "web"}, {"plan": {"configMapKeyRef": {"name": "plans", "key": "web.json"}}}
    )
    assert list(state.plan_users(indexes.PlanRef(NAMESPACE, "Secret", "plans"))) == []


def test_kopf_index_state_without_indexes_knows_nothing() -> None:
    state = KopfIndexState()
    assert (list(state.cost_policies()), state.namespace_labels("x"), state.committed_spend("x")) == (
        [],
        None,
        {},
    )


def test_binding_keeps_the_live_index_objects_and_names_missing_ones() -> None:
    given = kopf_like_indexes()
    state = KopfIndexState()
    assert state.bind({**given, "unrelated": object()}) == []
    assert all(state._index(name) is given[name] for name in given)
    assert state.bind({}) == ["namespace_labels", "costestimate_spend", "plan_configmaps", "plan_secrets"]


def test_the_in_memory_state_indexed_reads_as_it_does() -> None:
    """``InMemoryClusterState.indexed()`` (what the webhook benchmark serves from) answers every read
    as the in-memory state itself does, from indexes made once by the same index functions."""
    from cloudcostguard.k8s.testing import InMemoryClusterState

    web = cost_estimate("web", config_map=("plans", "web.json"), labels={"tier": "web"}, monthly_cost="32.85")
    db = cost_estimate("db", monthly_cost="100.00")
    plans = config_map("plans", {"web.json": orjson.dumps(nat_plan(2)).decode()})
    state = InMemoryClusterState(
        policies=[cost_policy("cap", maxMonthlyCost="50"), cost_policy("broken", maxMonthlyCost="lots")],
        labels_by_namespace={NAMESPACE: {"env": "prod"}},
        estimates={NAMESPACE: [web, db]},
        sources=[plans],
    )
    indexed = state.indexed()
    assert [str(p) for p in indexed.cost_policies()] == [str(p) for p in state.cost_policies()]
    assert [p.name for p in indexed.cost_policies() if isinstance(p, CostPolicy)] == ["cap"]
    assert indexed.namespace_labels(NAMESPACE) == state.namespace_labels(NAMESPACE) == {"env": "prod"}
    assert indexed.namespace_labels("elsewhere") is None
    assert indexed.namespaces() == state.namespaces()
    assert indexed.committed_spend(NAMESPACE) == state.committed_spend(NAMESPACE)
    assert indexed.committed_spend(NAMESPACE) == {"web": Decimal("32.85"), "db": Decimal("100.00")}
    reference = indexes.PlanRef(NAMESPACE, "ConfigMap", "plans")
    assert list(indexed.plan_users(reference)) == list(state.plan_users(reference))
    assert [u.name for u in indexed.plan_users(reference)] == ["web"]
    assert indexed.plan_indexes() == state.plan_indexes()

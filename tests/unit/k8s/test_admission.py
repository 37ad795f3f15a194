"""The admission decision without HTTP: state over kopf indexes, offloading, failures that never escape."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import kopf
import orjson
import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.k8s import admission, indexes
from cloudcostguard.policy.evaluation import CostPolicy, Verdict
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings
from tests.integration.admission.support import (
    NAMESPACE,
    config_map,
    cost_estimate,
    cost_policy,
    nat_plan,
    review,
)


def runtime(
    state: admission.AdmissionState, settings: Settings | None = None, executor: Any = None
) -> admission.AdmissionRuntime:
    catalog = load_bundled_catalog()
    return admission.AdmissionRuntime(
        settings=settings or Settings(), state=state, catalog=lambda: catalog, executor=executor
    )


def request_for(obj: dict[str, Any], handler: str = admission.HANDLER_COSTESTIMATE, **kw: Any) -> Any:
    return admission.AdmissionRequest.from_payload(handler, review(obj, **kw)["request"])


def index_of(entries: Iterable[Mapping[Any, Any] | None]) -> dict[Any, list[Any]]:
    """What a kopf.Index looks like to a reader: key → iterable store of values."""
    index: dict[Any, list[Any]] = {}
    for entry in entries:
        for key, value in (entry or {}).items():
            index.setdefault(key, []).append(value)
    return index


# --- state over kopf indexes -----------------------------------------------------------------------


def kopf_like_indices() -> dict[str, Any]:
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
            ]
        ),
        indexes.PLAN_CONFIGMAPS: index_of(
            [indexes.index_plan_object("ConfigMap", NAMESPACE, "plans", plans)]
        ),
        indexes.PLAN_SECRETS: {},
        indexes.TOFU_PLANS: {},
        admission.POLICY_INDEX: index_of(
            [
                admission.index_cost_policies(name="cap", spec=policy["spec"]),
                admission.index_cost_policies(name="broken", spec=bad_policy["spec"]),
            ]
        ),
        admission.PLAN_USERS_INDEX: index_of(
            [
                admission.index_plan_users(
                    namespace=NAMESPACE,
                    name=o["metadata"]["name"],
                    labels=o["metadata"]["labels"],
                    spec=o["spec"],
                )
                for o in (web, db)
            ]
        ),
    }


def test_kopf_index_state_reads_the_operators_and_its_own_indexes() -> None:
    indices = kopf_like_indices()
    state = admission.KopfIndexState(lambda: indices)
    assert state.namespace_labels(NAMESPACE) == {"env": "prod"}
    assert state.namespace_labels("elsewhere") is None
    assert state.committed_spend(NAMESPACE) == {"web": Decimal("32.85"), "db": Decimal("100.00")}
    policies = list(state.cost_policies())
    assert [p.name for p in policies if isinstance(p, CostPolicy)] == ["cap"]
    assert [str(p) for p in policies if isinstance(p, errors.PolicyError)] == [
        'CostPolicy broken: spec.limits.maxMonthlyCost must be a non-negative decimal string like "250" '
        "or \"250.00\", not 'lots'"
    ]
    (user,) = state.referencing_estimates(NAMESPACE, "ConfigMap", "plans")
    assert user == {
        "metadata": {"name": "web", "labels": {"tier": "web"}},
        "spec": {"plan": {"configMapKeyRef": {"name": "plans", "key": "web.json"}}},
    }
    assert list(state.referencing_estimates(NAMESPACE, "Secret", "plans")) == []


def test_kopf_index_state_without_captured_indexes_knows_nothing() -> None:
    state = admission.KopfIndexState(lambda: None)
    assert (list(state.cost_policies()), state.namespace_labels("x"), state.committed_spend("x")) == (
        [],
        None,
        {},
    )


async def test_decisions_over_kopf_indexes_use_the_indexed_plan_and_spend() -> None:
    indices = kopf_like_indices()
    decision = await admission.decide(
        request_for(cost_estimate("api", config_map=("plans", "web.json"))),
        runtime(admission.KopfIndexState(lambda: indices)),
    )
    assert decision.message.startswith("CostPolicy cap: monthly cost 65.70 USD exceeds maxMonthlyCost 50.00")


def test_startup_capture_keeps_the_live_index_objects(caplog: pytest.LogCaptureFixture) -> None:
    memo = kopf.Memo()
    indices = kopf_like_indices()
    admission.capture_indices(memo=memo, **indices)
    captured = memo[admission.MEMO_INDICES_KEY]
    assert all(captured[name] is indices[name] for name in captured)
    assert set(captured) == set(indices)
    with caplog.at_level(logging.ERROR):
        admission.capture_indices(memo=kopf.Memo())
    assert "kopf indexes missing: namespace_labels, costestimate_spend, plan_configmaps" in caplog.text


# --- decisions that are not estimates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "kw", "reason"),
    [
        (cost_estimate("web"), {"operation": "DELETE"}, "NotChecked"),
        ({**cost_estimate("web"), "metadata": {"name": "web", "deletionTimestamp": "x"}}, {}, "Deleting"),
    ],
)
async def test_requests_with_nothing_to_judge_are_admitted(obj: dict[str, Any], kw: Any, reason: str) -> None:
    state = admission.InMemoryAdmissionState(policies=[cost_policy("cap", maxMonthlyCost="0")])
    decision = await admission.decide(request_for(obj, **kw), runtime(state))
    assert (decision.verdict, decision.reason, decision.allowed) == (Verdict.SKIPPED, reason, True)


async def test_no_applicable_policy_means_no_estimate() -> None:
    state = admission.InMemoryAdmissionState(
        policies=[cost_policy("prod", namespace_selector={"matchLabels": {"env": "prod"}})]
    )
    bad = cost_estimate("web", plan={"not": "a plan"})  # would be PlanInvalid if it were estimated
    decision = await admission.decide(request_for(bad), runtime(state))
    assert (decision.verdict, decision.warnings) == (Verdict.NO_POLICY, ())


async def test_an_unknown_namespace_still_has_its_name_label() -> None:
    policy = cost_policy(
        "named",
        namespace_selector={"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
        maxMonthlyCost="1",
    )
    decision = await admission.decide(
        request_for(cost_estimate("web")), runtime(admission.InMemoryAdmissionState(policies=[policy]))
    )
    assert decision.verdict is Verdict.DENY


class BrokenState(admission.InMemoryAdmissionState):
    def __init__(self, fail_policies: bool) -> None:
        super().__init__(policies=[cost_policy("cap", maxMonthlyCost="10")])
        self.fail_policies = fail_policies
        self.calls = 0

    def cost_policies(self) -> Iterable[Any]:
        self.calls += 1
        if self.fail_policies or self.calls == 1:
            raise RuntimeError("index exploded")
        return super().cost_policies()


async def test_an_internal_failure_is_judged_like_an_unreadable_plan(
    caplog: pytest.LogCaptureFixture,
) -> None:
    decision = await admission.decide(
        request_for(cost_estimate("web")), runtime(BrokenState(fail_policies=False))
    )
    assert (decision.verdict, decision.error) == (Verdict.DENY, "InternalError")
    assert decision.message == (
        "plan cannot be estimated (InternalError: internal error: RuntimeError('index exploded')), and "
        "CostPolicy cap requires an estimate"
    )
    assert "admission validate-costestimate of team-a/web failed" in caplog.text


async def test_when_even_the_policies_cannot_be_read_the_request_is_refused() -> None:
    decision = await admission.decide(
        request_for(cost_estimate("web")), runtime(BrokenState(fail_policies=True))
    )
    assert (decision.verdict, decision.reason) == (Verdict.DENY, "InternalError")
    assert decision.message == "cannot judge the request: internal error: RuntimeError('index exploded')"


# --- large plans off the event loop ----------------------------------------------------------------------


async def test_large_plans_are_estimated_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[str] = []
    real = cloudcostguard.estimate

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(cloudcostguard, "estimate", spy)
    state = admission.InMemoryAdmissionState(policies=[cost_policy("cap", maxMonthlyCost="100")])
    settings = Settings(webhook_inline_max_resources=5)
    with ThreadPoolExecutor(1, thread_name_prefix="ccg-admission") as executor:
        small = await admission.decide(
            request_for(cost_estimate("a", plan=nat_plan(2))), runtime(state, settings, executor)
        )
        large = await admission.decide(
            request_for(cost_estimate("b", plan=nat_plan(6))), runtime(state, settings, executor)
        )
    assert threads[0] == threading.current_thread().name
    assert threads[1].startswith("ccg-admission")
    assert (small.verdict, large.verdict) == (Verdict.WITHIN_BUDGET, Verdict.DENY)
    assert "monthly cost 197.10 USD" in large.message


async def test_an_estimate_past_the_decision_timeout_is_not_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait(5)
        raise AssertionError("the answer did not wait")

    monkeypatch.setattr(cloudcostguard, "estimate", slow)
    state = admission.InMemoryAdmissionState(policies=[cost_policy("cap", maxMonthlyCost="100")])
    settings = Settings(webhook_inline_max_resources=0, webhook_decision_timeout=0.2)
    with ThreadPoolExecutor(1) as executor:
        started = time.perf_counter()
        decision = await admission.decide(
            request_for(cost_estimate("web")), runtime(state, settings, executor)
        )
        elapsed = time.perf_counter() - started
        release.set()
    assert elapsed < 2
    assert decision.error == "EstimateTimeout"
    assert decision.message.startswith(
        "plan cannot be estimated (EstimateTimeout: estimate took longer than 0.2 s (gave up after 0."
    )


# --- reviews ----------------------------------------------------------------------------------------------


def test_v1beta1_reviews_are_accepted_and_echoed() -> None:
    body = review(cost_estimate("web"))
    body["apiVersion"] = "admission.k8s.io/v1beta1"
    parsed = admission.parse_review(orjson.dumps(body), admission.HANDLER_COSTESTIMATE)
    decision = admission.evaluation.Decision(Verdict.DENY, "no", warnings=("w",))
    assert admission.response_for(parsed, decision) == {
        "apiVersion": "admission.k8s.io/v1beta1",
        "kind": "AdmissionReview",
        "response": {
            "uid": body["request"]["uid"],
            "allowed": False,
            "warnings": ["w"],
            "status": {"message": "no", "code": 403},
        },
    }


def test_a_kopf_handler_without_configuration_fails_loudly() -> None:
    with pytest.raises(kopf.AdmissionError) as caught:
        admission.runtime_from_memo(kopf.Memo())
    assert (str(caught.value), caught.value.code) == (
        "the CloudCostGuard admission webhook is not configured",
        500,
    )


async def test_an_inline_plan_bounded_by_the_review_is_estimated_as_cloudcostguard_estimate_does() -> None:
    """The lean path skips only the plan digest; every number must match the public API's."""
    plan = nat_plan(2, kept=1, deleted=1)
    plan["resource_changes"][0]["change"]["after"]["tags"] = {"team": "a"}
    spec = {
        "plan": {"inline": plan},
        "usage": {"aws_nat_gateway.gw_new_0": {"monthly_data_processed_gb": 250}},
    }
    spec["defaultRegion"] = "eu-west-1"
    catalog = load_bundled_catalog()
    fast = await admission._estimate(
        plan, spec, runtime(admission.InMemoryAdmissionState()), review_bytes=10_000
    )
    public = cloudcostguard.estimate(plan, usage=spec["usage"], catalog=catalog, default_region="eu-west-1")
    assert {**fast.to_dict(), "planDigest": None} == {**public.to_dict(), "planDigest": None}
    assert fast.total_monthly_cost == public.total_monthly_cost > Decimal("98.55")  # data processed is priced


async def test_the_same_object_reviewed_again_is_not_estimated_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    real = cloudcostguard.estimate

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("usage"))
        return real(*args, **kwargs)

    monkeypatch.setattr(cloudcostguard, "estimate", counting)
    state = admission.InMemoryAdmissionState(policies=[cost_policy("cap", maxMonthlyCost="100")])
    webhook = runtime(state)
    first = await admission.decide(request_for(cost_estimate("a", plan=nat_plan(2))), webhook)
    again = await admission.decide(request_for(cost_estimate("a", plan=nat_plan(2))), webhook)
    assert len(calls) == 1 and again.message == first.message
    usage = {"aws_nat_gateway.gw_new_0": {"monthly_data_processed_gb": 250}}
    with_usage = cost_estimate("a", plan=nat_plan(2))
    with_usage["spec"]["usage"] = usage
    more = await admission.decide(request_for(with_usage), webhook)
    bigger = await admission.decide(request_for(cost_estimate("a", plan=nat_plan(4))), webhook)
    assert len(calls) == 3  # another usage, another plan: estimated afresh
    assert (first.verdict, more.verdict, bigger.verdict) == (Verdict.WITHIN_BUDGET,) * 2 + (Verdict.DENY,)

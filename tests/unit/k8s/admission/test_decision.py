"""The admission decision without HTTP: state over kopf indexes, offloading, failures that never escape."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import kopf
import orjson
import pytest

import cloudcostguard
from cloudcostguard.k8s.admission import decision as decision_module
from cloudcostguard.k8s.admission import handlers
from cloudcostguard.k8s.admission import review as admission_review
from cloudcostguard.k8s.admission.decision import AdmissionRequest, AdmissionRuntime
from cloudcostguard.k8s.admission.memo import AdmissionMemo
from cloudcostguard.k8s.api.models import CostEstimateSpec
from cloudcostguard.k8s.cluster.state import ClusterState, KopfIndexState
from cloudcostguard.k8s.testing import InMemoryClusterState
from cloudcostguard.policy.evaluation import Decision, Verdict
from cloudcostguard.pricing.catalog_provider import StaticCatalogProvider
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
from tests.unit.k8s.cluster.test_state import kopf_like_indexes


def runtime(state: ClusterState, settings: Settings | None = None, executor: Any = None) -> AdmissionRuntime:
    catalog = load_bundled_catalog()
    return AdmissionRuntime(
        settings=settings or Settings(), state=state, catalog=lambda: catalog, executor=executor
    )


def request_for(obj: dict[str, Any], handler: str = decision_module.HANDLER_COSTESTIMATE, **kw: Any) -> Any:
    return AdmissionRequest.from_payload(handler, review(obj, **kw)["request"])


# --- decisions over kopf indexes ------------------------------------------------------------------------


async def test_decisions_over_kopf_indexes_use_the_indexed_plan_and_spend() -> None:
    decision = await decision_module.decide(
        request_for(cost_estimate("api", config_map=("plans", "web.json"))),
        runtime(KopfIndexState(kopf_like_indexes())),
    )
    assert decision.message.startswith("CostPolicy cap: monthly cost 65.70 USD exceeds maxMonthlyCost 50.00")


# --- decisions that are not estimates ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "kw", "reason"),
    [
        (cost_estimate("web"), {"operation": "DELETE"}, "NotChecked"),
        ({**cost_estimate("web"), "metadata": {"name": "web", "deletionTimestamp": "x"}}, {}, "Deleting"),
    ],
)
async def test_requests_with_nothing_to_judge_are_admitted(obj: dict[str, Any], kw: Any, reason: str) -> None:
    state = InMemoryClusterState(policies=[cost_policy("cap", maxMonthlyCost="0")])
    decision = await decision_module.decide(request_for(obj, **kw), runtime(state))
    assert (decision.verdict, decision.reason, decision.allowed) == (Verdict.SKIPPED, reason, True)


async def test_no_applicable_policy_means_no_estimate() -> None:
    state = InMemoryClusterState(
        policies=[cost_policy("prod", namespace_selector={"matchLabels": {"env": "prod"}})]
    )
    bad = cost_estimate("web", plan={"not": "a plan"})  # would be PlanInvalid if it were estimated
    decision = await decision_module.decide(request_for(bad), runtime(state))
    assert (decision.verdict, decision.warnings) == (Verdict.NO_POLICY, ())


async def test_an_unknown_namespace_still_has_its_name_label() -> None:
    policy = cost_policy(
        "named",
        namespace_selector={"matchLabels": {"kubernetes.io/metadata.name": NAMESPACE}},
        maxMonthlyCost="1",
    )
    decision = await decision_module.decide(
        request_for(cost_estimate("web")), runtime(InMemoryClusterState(policies=[policy]))
    )
    assert decision.verdict is Verdict.DENY


class BrokenState(InMemoryClusterState):
    def __init__(self, fail_policies: bool) -> None:
        super().__init__(policies=[cost_policy("cap", maxMonthlyCost="10")])
        self.fail_policies = fail_policies
        self.calls = 0

    def cost_policies(self) -> Any:
        self.calls += 1
        if self.fail_policies or self.calls == 1:
            raise RuntimeError("index exploded")
        return super().cost_policies()


async def test_an_internal_failure_is_judged_like_an_unreadable_plan(
    caplog: pytest.LogCaptureFixture,
) -> None:
    decision = await decision_module.decide(
        request_for(cost_estimate("web")), runtime(BrokenState(fail_policies=False))
    )
    assert (decision.verdict, decision.error) == (Verdict.DENY, "InternalError")
    assert decision.message == (
        "plan cannot be estimated (InternalError: internal error: RuntimeError('index exploded')), and "
        "CostPolicy cap requires an estimate"
    )
    assert "admission validate-costestimate of team-a/web failed" in caplog.text


async def test_when_even_the_policies_cannot_be_read_the_request_is_refused() -> None:
    decision = await decision_module.decide(
        request_for(cost_estimate("web")), runtime(BrokenState(fail_policies=True))
    )
    assert (decision.verdict, decision.reason) == (Verdict.DENY, "InternalError")
    assert decision.message == "cannot judge the request: internal error: RuntimeError('index exploded')"


# --- large plans off the event loop ----------------------------------------------------------------------


async def test_large_plans_are_estimated_in_a_worker_thread(estimate_threads: list[str]) -> None:
    threads = estimate_threads
    state = InMemoryClusterState(policies=[cost_policy("cap", maxMonthlyCost="100")])
    settings = Settings(webhook_inline_max_resources=5)
    with ThreadPoolExecutor(1, thread_name_prefix="ccg-admission") as executor:
        small = await decision_module.decide(
            request_for(cost_estimate("a", plan=nat_plan(2))), runtime(state, settings, executor)
        )
        large = await decision_module.decide(
            request_for(cost_estimate("b", plan=nat_plan(6))), runtime(state, settings, executor)
        )
    assert threads[0] == threading.current_thread().name
    assert threads[1].startswith("ccg-admission")
    assert (small.verdict, large.verdict) == (Verdict.WITHIN_BUDGET, Verdict.DENY)
    assert "monthly cost 197.10 USD" in large.message


async def test_an_estimate_past_the_decision_timeout_is_not_waited_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()  # set once the answer is in: the estimate outlasts any timeout

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait()
        raise AssertionError("the answer did not wait")

    monkeypatch.setattr(cloudcostguard, "estimate", slow)
    state = InMemoryClusterState(policies=[cost_policy("cap", maxMonthlyCost="100")])
    settings = Settings(webhook_inline_max_resources=0, webhook_decision_timeout=0.2)
    with ThreadPoolExecutor(1) as executor:
        started = time.perf_counter()
        try:
            decision = await decision_module.decide(
                request_for(cost_estimate("web")), runtime(state, settings, executor)
            )
        finally:
            release.set()
        elapsed = time.perf_counter() - started
    assert elapsed < 2
    assert decision.error == "EstimateTimeout"
    assert decision.message.startswith(
        "plan cannot be estimated (EstimateTimeout: estimate took longer than 0.2 s (gave up after 0."
    )


# --- reviews ----------------------------------------------------------------------------------------------


def test_v1beta1_reviews_are_accepted_and_echoed() -> None:
    body = review(cost_estimate("web"))
    body["apiVersion"] = "admission.k8s.io/v1beta1"
    parsed = admission_review.parse_review(orjson.dumps(body), decision_module.HANDLER_COSTESTIMATE)
    decision = Decision(Verdict.DENY, "no", warnings=("w",))
    assert admission_review.response_for(parsed, decision) == {
        "apiVersion": "admission.k8s.io/v1beta1",
        "kind": "AdmissionReview",
        "response": {
            "uid": body["request"]["uid"],
            "allowed": False,
            "warnings": ["w"],
            "status": {"message": "no", "code": 403},
        },
    }


@pytest.mark.parametrize("api_version", [["admission.k8s.io/v1"], {"v": 1}, None, 1])
def test_a_review_whose_api_version_is_not_a_string_is_a_400(api_version: Any) -> None:
    # A list there made the set lookup raise TypeError, a 500 (found by tests/reliability/test_fuzz.py).
    body = review(cost_estimate("web"))
    body["apiVersion"] = api_version
    with pytest.raises(admission_review.ReviewError) as caught:
        admission_review.parse_review(orjson.dumps(body), decision_module.HANDLER_COSTESTIMATE)
    assert (caught.value.status, caught.value.reason) == (
        400,
        "expected kind AdmissionReview, apiVersion admission.k8s.io/v1",
    )


@pytest.mark.parametrize(
    ("kind", "complaint"),
    [("CostEstimate", "not 'CostEstimate'"), (None, "not missing"), (["ConfigMap"], "not list")],
)
def test_a_plan_source_review_whose_object_is_of_another_kind_is_a_400(kind: Any, complaint: str) -> None:
    # It was judged as an internal error (ValueError in the decision), found by atheris fuzzing.
    body = review(config_map("plans", {"plan.json": "{}"}))
    body["request"]["object"]["kind"] = kind
    with pytest.raises(admission_review.ReviewError) as caught:
        admission_review.parse_review(orjson.dumps(body), decision_module.HANDLER_PLAN_SOURCE)
    assert (caught.value.status, caught.value.reason) == (
        400,
        f"request.object.kind must be ConfigMap, {complaint}",
    )


def test_a_kopf_handler_without_configuration_fails_loudly() -> None:
    with pytest.raises(kopf.AdmissionError) as caught:
        handlers.runtime_from_memo(
            AdmissionMemo(settings=Settings(), catalog_provider=StaticCatalogProvider(load_bundled_catalog()))
        )
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
    fast = await decision_module._estimate(
        plan, CostEstimateSpec.model_validate(spec), runtime(InMemoryClusterState()), review_bytes=10_000
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
    state = InMemoryClusterState(policies=[cost_policy("cap", maxMonthlyCost="100")])
    webhook = runtime(state)
    first = await decision_module.decide(request_for(cost_estimate("a", plan=nat_plan(2))), webhook)
    again = await decision_module.decide(request_for(cost_estimate("a", plan=nat_plan(2))), webhook)
    assert len(calls) == 1 and again.message == first.message
    with_usage = cost_estimate("a", plan=nat_plan(2))
    with_usage["spec"]["usage"] = {"aws_nat_gateway.gw_new_0": {"monthly_data_processed_gb": 250}}
    more = await decision_module.decide(request_for(with_usage), webhook)
    bigger = await decision_module.decide(request_for(cost_estimate("a", plan=nat_plan(4))), webhook)
    assert len(calls) == 3  # another usage, another plan: estimated afresh
    assert (first.verdict, more.verdict, bigger.verdict) == (Verdict.WITHIN_BUDGET,) * 2 + (Verdict.DENY,)


# --- the lean path's inline plan, kept as bytes ----------------------------------------------------------


def test_a_create_reviews_inline_plan_is_split_out_of_the_body() -> None:
    plan = nat_plan(3)
    body = orjson.dumps(review(cost_estimate("web", plan=plan)))
    split = admission_review.split_inline_plan(body)
    assert split is not None
    light, raw = split
    assert orjson.loads(raw) == plan
    whole, rest = orjson.loads(body), orjson.loads(light)
    assert rest["request"]["object"]["spec"]["plan"] == {"inline": {}}
    whole["request"]["object"]["spec"]["plan"]["inline"] = {}
    assert rest == whole


@pytest.mark.parametrize(
    "case",
    ["update", "inline is a list", "plan text twice", "not JSON", "config map source"],
)
def test_other_reviews_are_not_split(case: str) -> None:
    plan: Any = nat_plan(1)
    obj = cost_estimate("web", plan=plan)
    body_review = review(obj)
    if case == "update":
        body_review = review(obj, operation="UPDATE", old=obj)
    elif case == "inline is a list":
        obj["spec"]["plan"]["inline"] = [plan]
        body_review = review(obj)
    elif case == "plan text twice":
        body_review["request"]["options"] = plan  # the same object elsewhere: which text is the plan?
    elif case == "config map source":
        body_review = review(cost_estimate("web", config_map=("plans", "web.json")))
    body = b'{"request": ' if case == "not JSON" else orjson.dumps(body_review)
    assert admission_review.split_inline_plan(body) is None


async def test_the_lean_path_decides_an_inline_plan_as_the_parsed_request_is_decided() -> None:
    """The same verdict, message and warnings from the plan's bytes as from the parsed review: within
    budget, over it, and a plan that is no Terraform plan."""
    state = InMemoryClusterState(policies=[cost_policy("cap", maxMonthlyCost="100")])
    for plan in (nat_plan(2), nat_plan(6), {"not": "a plan"}):
        body = orjson.dumps(review(cost_estimate("web", plan=plan)))
        assert admission_review.split_inline_plan(body) is not None
        status, answer, _ = await admission_review.answer_review(
            decision_module.HANDLER_COSTESTIMATE, body, runtime(state)
        )
        parsed = orjson.loads(body)
        expected = await decision_module.decide(
            AdmissionRequest.from_payload(decision_module.HANDLER_COSTESTIMATE, parsed["request"], len(body)),
            runtime(state),
        )
        assert status == 200
        assert orjson.loads(answer) == admission_review.response_for(parsed, expected)
    assert not expected.allowed and "not a Terraform plan" in expected.message


async def test_the_lean_paths_inline_plan_goes_to_a_worker_thread_by_its_resource_count(
    estimate_threads: list[str],
) -> None:
    state = InMemoryClusterState(policies=[cost_policy("cap", maxMonthlyCost="100")])
    settings = Settings(webhook_inline_max_resources=5)
    with ThreadPoolExecutor(1, thread_name_prefix="ccg-admission") as executor:
        for resources in (5, 6):
            body = orjson.dumps(review(cost_estimate(f"r{resources}", plan=nat_plan(resources))))
            assert admission_review.split_inline_plan(body) is not None
            status, _, _ = await admission_review.answer_review(
                decision_module.HANDLER_COSTESTIMATE, body, runtime(state, settings, executor)
            )
            assert status == 200
    assert estimate_threads[0] == threading.current_thread().name
    assert estimate_threads[1].startswith("ccg-admission")

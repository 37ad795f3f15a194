"""Real AdmissionReview JSON (admission.k8s.io/v1) over HTTPS to the running webhook server.

Every valid review is sent to the lean path (``/<handler id>``) and through kopf's machinery
(``/kopf/<handler id>``): ``harness.both`` asserts the two answers are identical, so each case checks
both ways in to the one decision.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from cloudcostguard.k8s.admission import decision as admission
from cloudcostguard.k8s.testing import InMemoryClusterState
from cloudcostguard.settings import Settings
from tests.integration.admission.support import (
    NAMESPACE,
    WebhookHarness,
    config_map,
    cost_estimate,
    cost_policy,
    nat_plan,
    review,
    secret,
)

CE = admission.HANDLER_COSTESTIMATE
SOURCE = admission.HANDLER_PLAN_SOURCE


def state(*policies: dict[str, Any], **kwargs: Any) -> InMemoryClusterState:
    return InMemoryClusterState(
        policies=list(policies), labels_by_namespace={NAMESPACE: {"team": "a", "env": "prod"}}, **kwargs
    )


@pytest.fixture
async def harness() -> AsyncIterator[WebhookHarness]:
    async with WebhookHarness(state()) as running:
        yield running


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- verdicts ----------------------------------------------------------------------------------------------


async def test_within_budget_is_allowed_without_warnings(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="100"))
    request = review(cost_estimate("web", plan=nat_plan(3)))
    response = await harness.both(CE, request)
    assert response == {"uid": request["request"]["uid"], "allowed": True}


async def test_deny_names_policy_limit_estimate_excess_and_top_three_drivers(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="100", message="Ask #finops."))
    response = await harness.both(CE, review(cost_estimate("web", plan=nat_plan(4))))
    assert response["allowed"] is False
    assert response["status"] == {
        "code": 403,
        "message": "CostPolicy team-cap: monthly cost 131.40 USD exceeds maxMonthlyCost 100.00 USD by 31.40 "
        "USD. Top cost drivers: aws_nat_gateway.gw_new_0 32.85 USD, aws_nat_gateway.gw_new_1 32.85 USD, "
        "aws_nat_gateway.gw_new_2 32.85 USD. Ask #finops.",
    }


async def test_warn_admits_with_warnings_of_at_most_120_characters(harness: WebhookHarness) -> None:
    long_name = "platform-engineering-shared-services-" + "x" * 150
    harness.state.policies.append(cost_policy(long_name, "Warn", maxMonthlyCost="50", maxMonthlyIncrease="1"))
    response = await harness.both(CE, review(cost_estimate("web", plan=nat_plan(2))))
    assert response["allowed"] is True
    assert "status" not in response
    warnings = response["warnings"]
    assert len(warnings) == 3
    assert all(len(w) <= 120 for w in warnings)
    assert warnings[0].startswith("CostPolicy platform-engineering-shared-services-xxx")
    assert warnings[0].endswith("...")
    assert warnings[2] == (
        "top cost drivers: aws_nat_gateway.gw_new_0 32.85 USD, aws_nat_gateway.gw_new_1 32.85 USD"
    )


async def test_dry_run_policy_admits_silently_and_counts_the_violation(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("audit-only", "DryRun", maxMonthlyCost="10"))
    labels = {"policy": "audit-only", "limit": "maxMonthlyCost"}
    before = metric("cloudcostguard_admission_dry_run_violations_total", **labels)
    request = review(cost_estimate("web", plan=nat_plan(1)))
    response = await harness.both(CE, request)
    assert response == {"uid": request["request"]["uid"], "allowed": True}
    # Once per path (lean and kopf).
    assert metric("cloudcostguard_admission_dry_run_violations_total", **labels) == before + 2


async def test_dry_run_requests_get_the_same_answer(harness: WebhookHarness) -> None:
    """Argo CD diffs and Flux dry-runs send dryRun=true; the webhook has no side effects to skip."""
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="40"))
    labels = {"handler": CE, "verdict": "Deny", "dry_run": "true"}
    before = metric("cloudcostguard_admission_requests_total", **labels)
    real = await harness.both(CE, review(cost_estimate("web", plan=nat_plan(2))))
    dry = await harness.both(CE, review(cost_estimate("web", plan=nat_plan(2)), dry_run=True))
    assert dry["allowed"] is real["allowed"] is False
    assert dry["status"] == real["status"]
    assert metric("cloudcostguard_admission_requests_total", **labels) == before + 2


async def test_several_policies_report_every_violated_deny_policy(harness: WebhookHarness) -> None:
    harness.state.policies.extend(
        [
            cost_policy("org-cap", maxMonthlyCost="60"),
            cost_policy(
                "prod-growth", namespace_selector={"matchLabels": {"env": "prod"}}, maxMonthlyIncrease="50"
            ),
            cost_policy("dev-only", namespace_selector={"matchLabels": {"env": "dev"}}, maxMonthlyCost="1"),
            cost_policy("heads-up", "Warn", maxMonthlyCost="65"),
        ]
    )
    response = await harness.both(CE, review(cost_estimate("web", plan=nat_plan(2))))
    message = response["status"]["message"]
    assert message.startswith(
        "CostPolicy org-cap: monthly cost 65.70 USD exceeds maxMonthlyCost 60.00 USD by 5.70 USD. "
        "CostPolicy prod-growth: monthly increase 65.70 USD (from 0.00 to 65.70 USD) exceeds "
        "maxMonthlyIncrease 50.00 USD by 15.70 USD. Top cost drivers:"
    )
    assert "dev-only" not in message
    assert response["warnings"][0] == (
        "CostPolicy heads-up: maxMonthlyCost 65.00 USD exceeded by 0.70 USD (cost 65.70 USD/month)"
    )


async def test_selector_limits_a_policy_to_labelled_estimates(harness: WebhookHarness) -> None:
    harness.state.policies.append(
        cost_policy("gpu", selector={"matchLabels": {"kind": "gpu"}}, maxMonthlyCost="1")
    )
    plain = await harness.both(CE, review(cost_estimate("web", plan=nat_plan(1))))
    gpu = await harness.both(CE, review(cost_estimate("train", plan=nat_plan(1), labels={"kind": "gpu"})))
    assert (plain["allowed"], gpu["allowed"]) == (True, False)


# --- namespace budget -------------------------------------------------------------------------------------


async def test_namespace_budget_counts_the_existing_estimates(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-budget", namespaceMonthlyBudget="150"))
    harness.state.estimates[NAMESPACE] = [
        cost_estimate("db", monthly_cost="80.00"),
        cost_estimate("cache", monthly_cost="20.00"),
        cost_estimate("pending"),  # not estimated yet: counts nothing
    ]
    fits = await harness.both(CE, review(cost_estimate("web", plan=nat_plan(1))))
    over = await harness.both(CE, review(cost_estimate("web", plan=nat_plan(2))))
    assert fits["allowed"] is True
    assert over["status"]["message"].startswith(
        "CostPolicy team-budget: namespace team-a would spend 165.70 USD/month (this estimate 65.70 USD), "
        "over namespaceMonthlyBudget 150.00 USD by 15.70 USD."
    )


async def test_update_replaces_the_objects_own_spend(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-budget", namespaceMonthlyBudget="150"))
    old = cost_estimate("web", plan=nat_plan(1), monthly_cost="32.85")
    harness.state.estimates[NAMESPACE] = [cost_estimate("db", monthly_cost="80.00"), old]
    # 80 + 65.70 = 145.70: within, although 80 + 32.85 + 65.70 would not be.
    grown = await harness.both(
        CE, review(cost_estimate("web", plan=nat_plan(2)), operation="UPDATE", old=old)
    )
    assert grown["allowed"] is True
    too_big = await harness.both(
        CE, review(cost_estimate("web", plan=nat_plan(3)), operation="UPDATE", old=old)
    )
    assert "would spend 178.55 USD/month" in too_big["status"]["message"]


async def test_metadata_only_updates_are_not_judged_again(harness: WebhookHarness) -> None:
    """The operator's own finalizer/annotation patches must pass even if the budget moved since."""
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="1"))
    old = cost_estimate("web", plan=nat_plan(5))
    new = cost_estimate("web", plan=nat_plan(5))
    new["metadata"]["finalizers"] = ["cloudcostguard.io/finalizer"]
    response = await harness.both(CE, review(new, operation="UPDATE", old=old))
    assert response["allowed"] is True


# --- plan sources --------------------------------------------------------------------------------------


async def test_referenced_configmap_plan_is_estimated(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="50"))
    harness.state.sources.append(config_map("plans", {"web.json": orjson.dumps(nat_plan(2)).decode()}))
    response = await harness.both(CE, review(cost_estimate("web", config_map=("plans", "web.json"))))
    assert "monthly cost 65.70 USD exceeds maxMonthlyCost 50.00 USD" in response["status"]["message"]


async def test_referenced_gzip_secret_plan_is_estimated(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="50"))
    harness.state.sources.append(secret("plans", {"plan": gzip.compress(orjson.dumps(nat_plan(3)))}))
    response = await harness.both(CE, review(cost_estimate("web", secret=("plans", "plan"))))
    assert "monthly cost 98.55 USD" in response["status"]["message"]


async def test_unknown_plan_reference_is_denied_with_the_reason_under_a_deny_policy(
    harness: WebhookHarness,
) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="50"))
    response = await harness.both(CE, review(cost_estimate("web", config_map=("missing", "plan.json"))))
    assert response["status"] == {
        "code": 403,
        "message": "plan cannot be estimated (PlanNotFound: ConfigMap team-a/missing not found (it must "
        "exist and carry the label cloudcostguard.io/plan)), and CostPolicy team-cap requires an estimate",
    }


async def test_unknown_plan_reference_is_admitted_with_a_warning_under_warn_policies(
    harness: WebhookHarness,
) -> None:
    harness.state.policies.append(cost_policy("heads-up", "Warn", maxMonthlyCost="50"))
    response = await harness.both(CE, review(cost_estimate("web", config_map=("missing", "plan.json"))))
    assert response["allowed"] is True
    assert response["warnings"] == [
        "plan not estimated: ConfigMap team-a/missing not found (it must exist and carry the label "
        "cloudcostguard.io/plan)"
    ]


async def test_url_plans_are_not_fetched_at_admission(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="50"))
    response = await harness.both(CE, review(cost_estimate("web", url="https://plans.example.com/p.json")))
    assert response["status"]["message"].startswith(
        "plan cannot be estimated (NotEstimatedAtAdmission: spec.plan.url is estimated by the operator"
    )


async def test_unreadable_inline_plan_is_denied_with_the_reason(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="50"))
    bad = cost_estimate("web", plan={"format_version": "9.0", "resource_changes": []})
    response = await harness.both(CE, review(bad))
    assert response["status"]["message"] == (
        "plan cannot be estimated (PlanInvalid: unsupported plan format_version '9.0': supported are 0.x "
        "and 1.x), and CostPolicy team-cap requires an estimate"
    )


async def test_plan_configmap_update_pushing_the_namespace_over_budget_is_denied(
    harness: WebhookHarness,
) -> None:
    harness.state.policies.append(cost_policy("team-budget", namespaceMonthlyBudget="150"))
    old_plans = config_map("plans", {"web.json": orjson.dumps(nat_plan(1)).decode()})
    harness.state.sources.append(old_plans)
    harness.state.estimates[NAMESPACE] = [
        cost_estimate("db", monthly_cost="80.00"),
        cost_estimate("web", config_map=("plans", "web.json"), monthly_cost="32.85"),
        cost_estimate("api", config_map=("plans", "api.json"), monthly_cost="0"),  # key absent in both
    ]
    fits = config_map("plans", {"web.json": orjson.dumps(nat_plan(2)).decode()})
    over = config_map("plans", {"web.json": orjson.dumps(nat_plan(3)).decode()})
    allowed = await harness.both(SOURCE, review(fits, operation="UPDATE", old=old_plans))
    denied = await harness.both(SOURCE, review(over, operation="UPDATE", old=old_plans))
    assert allowed["allowed"] is True
    assert denied["allowed"] is False
    assert denied["status"]["message"].startswith(
        "CostPolicy team-budget: namespace team-a would spend 178.55 USD/month (this estimate 98.55 USD), "
        "over namespaceMonthlyBudget 150.00 USD by 28.55 USD. Top cost drivers: aws_nat_gateway.gw_new_0"
    )
    # api's key is in neither version: the edit of web.json does not re-judge it.
    assert "api" not in denied["status"]["message"]


async def test_removing_a_plan_key_an_estimate_reads_is_denied_under_a_deny_policy(
    harness: WebhookHarness,
) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="100"))
    old_plans = config_map("plans", {"web.json": orjson.dumps(nat_plan(1)).decode(), "api.json": "{}"})
    harness.state.estimates[NAMESPACE] = [
        cost_estimate("web", config_map=("plans", "web.json"), monthly_cost="32.85"),
        cost_estimate("api", config_map=("plans", "api.json"), monthly_cost="0"),
    ]
    new_plans = config_map("plans", {"api.json": "{}"})
    response = await harness.both(SOURCE, review(new_plans, operation="UPDATE", old=old_plans))
    assert response["status"]["message"] == (
        "plan cannot be estimated (PlanNotFound: ConfigMap team-a/plans has no key 'web.json' (keys: "
        "api.json)), and CostPolicy team-cap requires an estimate"
    )


async def test_an_unlabelled_configmap_is_not_judged_on_either_path(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="1"))
    harness.state.estimates[NAMESPACE] = [cost_estimate("web", config_map=("plans", "web.json"))]
    unlabelled = config_map("plans", {"web.json": orjson.dumps(nat_plan(5)).decode()}, labelled=False)
    response = await harness.both(SOURCE, review(unlabelled))
    assert response["allowed"] is True
    assert "warnings" not in response


async def test_plan_configmap_nobody_uses_is_allowed(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="1"))
    response = await harness.both(SOURCE, review(config_map("unused", {"x": "not even json"})))
    assert response["allowed"] is True


async def test_plan_secret_replaced_with_garbage_is_denied_under_a_deny_policy(
    harness: WebhookHarness,
) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="100"))
    harness.state.estimates[NAMESPACE] = [
        cost_estimate("web", secret=("plans", "plan"), monthly_cost="32.85")
    ]
    garbage = secret("plans", {"plan": b"\x1f\x8b not really gzip"})
    response = await harness.both(SOURCE, review(garbage))
    assert response["allowed"] is False
    assert response["status"]["message"].startswith(
        "plan cannot be estimated (PlanInvalid: Secret team-a/plans"
    )


# --- bad requests and limits -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty request body: expected an AdmissionReview"),
        (b"{not json", "request body is not JSON"),
        (b"[1, 2]", "request body must be an AdmissionReview object"),
        (b'{"kind": "Pod", "apiVersion": "v1"}', "expected kind AdmissionReview"),
        (
            b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}',
            "AdmissionReview has no request",
        ),
        (
            b'{"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": {"uid": ""}}',
            "request.uid is missing",
        ),
    ],
)
@pytest.mark.parametrize("path", [f"/{CE}", f"/kopf/{CE}", f"/{SOURCE}"])
async def test_malformed_reviews_get_a_400_with_the_reason(
    harness: WebhookHarness, path: str, body: bytes, reason: str
) -> None:
    status, answer, http_reason = await harness.post(path, body)
    assert status == 400
    assert answer["kind"] == "Status"
    assert answer["code"] == 400
    assert answer["message"].startswith(reason)
    assert http_reason.startswith(reason)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda r: r["request"].pop("object"), "request.object is missing for CREATE"),
        (lambda r: r["request"].pop("userInfo"), "request.userInfo is missing"),
        (
            lambda r: r["request"].update(operation="PATCH"),
            "request.operation must be CREATE, UPDATE, DELETE or CONNECT",
        ),
        (
            lambda r: r["request"]["resource"].pop("group"),
            "request.resource needs group, version and resource",
        ),
        (lambda r: r["request"].update(operation="UPDATE"), "request.oldObject is missing for UPDATE"),
    ],
)
@pytest.mark.parametrize("path", [f"/{CE}", f"/kopf/{CE}"])
async def test_incomplete_reviews_get_a_400_on_both_paths(
    harness: WebhookHarness, path: str, mutate: Any, reason: str
) -> None:
    request = review(cost_estimate("web"))
    mutate(request)
    status, answer, _ = await harness.post(path, request)
    assert (status, answer["message"]) == (400, reason)


async def test_a_review_for_another_resource_is_refused_by_the_lean_path(harness: WebhookHarness) -> None:
    status, answer, _ = await harness.post(f"/{CE}", review(config_map("plans", {})))
    assert status == 400
    assert (
        answer["message"]
        == "/validate-costestimate reviews cloudcostguard.io/costestimates, not core/configmaps"
    )


async def test_an_oversized_inline_plan_is_denied_under_a_deny_policy() -> None:
    settings = Settings(webhook_max_plan_bytes=20_000)
    async with WebhookHarness(
        state(cost_policy("team-cap", maxMonthlyCost="1000")), settings=settings
    ) as harness:
        response = await harness.both(CE, review(cost_estimate("web", plan=nat_plan(100))))
    assert response["allowed"] is False
    message = response["status"]["message"]
    assert message.startswith("plan cannot be estimated (PlanTooLarge: plan is ")
    assert message.endswith(
        "bytes, larger than the limit of 20000 bytes), and CostPolicy team-cap requires an estimate"
    )


async def test_a_review_over_the_body_limit_gets_a_413() -> None:
    settings = Settings(webhook_max_review_bytes=64 * 1024)
    async with WebhookHarness(state(), settings=settings) as harness:
        big = review(cost_estimate("web", plan=nat_plan(400)))
        for path in (f"/{CE}", f"/kopf/{CE}"):
            status, answer, _ = await harness.post(path, big)
            assert (status, answer["code"]) == (413, 413)
            assert answer["message"] == "AdmissionReview larger than the limit of 65536 bytes"


async def test_unknown_paths_go_to_kopf_which_answers_without_a_handler(harness: WebhookHarness) -> None:
    """An id no handler has: kopf runs no handler and allows — why the manifest-paths test exists."""
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="1"))
    status, answer, _ = await harness.post("/validate-typo", review(cost_estimate("web")))
    assert status == 200
    assert answer["response"]["allowed"] is True


async def test_kopf_machinery_serves_the_ids_when_the_fast_path_is_off() -> None:
    settings = Settings(webhook_fast_path=False)
    async with WebhookHarness(
        state(cost_policy("team-cap", maxMonthlyCost="1")), settings=settings
    ) as harness:
        status, answer, _ = await harness.post(f"/{CE}", review(cost_estimate("web")))
        assert status == 200
        assert answer["response"]["status"]["message"].startswith(
            "CostPolicy team-cap: monthly cost 32.85 USD"
        )


async def test_a_secret_plan_in_string_data_is_read(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="50"))
    harness.state.estimates[NAMESPACE] = [cost_estimate("web", secret=("plans", "plan"), monthly_cost="1")]
    new = secret("plans", {})
    new["stringData"] = {"plan": orjson.dumps(nat_plan(2)).decode()}
    response = await harness.both(SOURCE, review(new))
    assert "monthly cost 65.70 USD exceeds maxMonthlyCost 50.00 USD" in response["status"]["message"]


async def test_binary_configmap_plan_is_read(harness: WebhookHarness) -> None:
    harness.state.policies.append(cost_policy("team-cap", maxMonthlyCost="50"))
    plans = config_map("plans", {})
    plans["binaryData"] = {"web.json.gz": base64.b64encode(gzip.compress(orjson.dumps(nat_plan(2)))).decode()}
    harness.state.sources.append(plans)
    response = await harness.both(CE, review(cost_estimate("web", config_map=("plans", "web.json.gz"))))
    assert "monthly cost 65.70 USD" in response["status"]["message"]


def test_nat_gateway_price_is_what_the_assertions_assume() -> None:
    import cloudcostguard

    assert cloudcostguard.estimate(nat_plan(1)).total_monthly_cost == Decimal("32.85")

"""What Flux (kstatus) concludes from each status the operator writes.

The objects come from the real reconcile and policy-status code (``states``); ``kstatus`` follows
cli-utils' documented rules. Flux waits (``wait: true``, ``healthChecks``) until every object is
Current, and fails the sync when one is Failed.
"""

from __future__ import annotations

import asyncio
import copy
from dataclasses import replace

import pytest

from cloudcostguard.k8s.operator import reconcile
from cloudcostguard.k8s.operator.loops import EstimateState
from tests.unit.gitops import kstatus, states

COSTESTIMATE_KSTATUS = {
    # No status at all (the instant between creation and the operator's first look): kstatus cannot
    # tell (rule 6). Flux's wait is still safe: the webhook has already judged the object at apply time,
    # and healthCheckExprs (docs/gitops/flux.md) wait for Ready.
    "new": kstatus.CURRENT,
    # First seen, the estimate taking a while: the operator writes Pending (Reconciling=True, Ready=False).
    "pending": kstatus.IN_PROGRESS,
    "generation-not-observed": kstatus.IN_PROGRESS,
    "plan-missing": kstatus.IN_PROGRESS,  # transient: Ready=False, retrying
    "estimated": kstatus.CURRENT,
    "within-budget": kstatus.CURRENT,
    # Admitted on purpose (Warn/DryRun); under Deny the webhook refused the change at apply time, and an
    # estimate that went over budget later (a sibling's growth) is reported, not undone.
    "over-budget-warn": kstatus.CURRENT,
    "over-budget-dryrun": kstatus.CURRENT,
    "over-budget-deny": kstatus.CURRENT,
    "unpriced-warn": kstatus.CURRENT,
    "unpriced-deny": kstatus.CURRENT,  # as over-budget-deny: the webhook refused it at apply time
    "invalid-plan": kstatus.FAILED,  # permanent: Stalled=True
}
COSTPOLICY_KSTATUS = {
    "pending": kstatus.CURRENT,
    "within-budget": kstatus.CURRENT,
    "no-namespace-budget": kstatus.CURRENT,
    "over-budget-warn": kstatus.CURRENT,
    "over-budget-deny": kstatus.CURRENT,
    # Ready=False and Stalled=True (PolicyInvalid): only a new spec fixes it, so Flux fails at once.
    "invalid": kstatus.FAILED,
}


@pytest.fixture(scope="module")
def objects() -> dict[str, dict[str, dict[str, object]]]:
    return states.all_states()


def test_every_costestimate_state(objects: dict[str, dict[str, dict[str, object]]]) -> None:
    found = {name: kstatus.compute(obj).status for name, obj in objects["CostEstimate"].items()}
    assert found == COSTESTIMATE_KSTATUS


def test_every_costpolicy_state(objects: dict[str, dict[str, dict[str, object]]]) -> None:
    found = {name: kstatus.compute(obj).status for name, obj in objects["CostPolicy"].items()}
    assert found == COSTPOLICY_KSTATUS


def test_failed_and_in_progress_carry_the_operators_message(
    objects: dict[str, dict[str, dict[str, object]]],
) -> None:
    estimates = objects["CostEstimate"]
    failed = kstatus.compute(estimates["invalid-plan"])
    assert failed.message == "unsupported plan format_version '9.0': supported are 0.x and 1.x"
    missing = kstatus.compute(estimates["plan-missing"])
    assert missing.message.startswith("ConfigMap team-a/web-plan not found")
    assert missing.message.endswith("(retrying)")
    newer = kstatus.compute(estimates["generation-not-observed"])
    assert newer.message == "CostEstimate generation is 2, but latest observed generation is 1"
    assert kstatus.compute(estimates["pending"]).message == "estimating the plan"
    invalid_policy = kstatus.compute(objects["CostPolicy"]["invalid"])
    assert invalid_policy.message == "spec.limits.maxMonthlyCost: Input should be a valid string"


def test_pending_is_in_progress_until_the_estimate_replaces_it() -> None:
    """The real sequence: the Pending status, then the reconcile that estimates, merge-patched over it."""
    pending = states.pending_status("web", states.INLINE)
    conditions = {c["type"]: c for c in pending["conditions"]}
    assert (pending["observedGeneration"], pending["phase"]) == (1, "Pending")
    assert (conditions["Reconciling"]["status"], conditions["Reconciling"]["reason"]) == (
        "True",
        "Estimating",
    )
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "Pending")
    assert all(c["observedGeneration"] == 1 for c in pending["conditions"])
    before = states._estimate("web", states.INLINE, pending)
    assert kstatus.compute(before).status == kstatus.IN_PROGRESS

    outcome = asyncio.run(states.reconcile_once(states.NAMESPACE, "web", states.INLINE, status=pending))
    assert outcome.result == "estimated" and outcome.status is not None
    after = states._estimate("web", states.INLINE, states.merged(pending, outcome.status))
    assert "Reconciling" not in {c["type"] for c in after["status"]["conditions"]}
    assert after["status"]["phase"] == "Estimated"
    assert kstatus.compute(after) == kstatus.Result(kstatus.CURRENT, "Resource is Ready")


def test_pending_then_a_failure_is_in_progress_or_failed_never_current() -> None:
    pending = states.pending_status("web", states.INLINE)
    for spec, expected in (
        ({"plan": {"configMapKeyRef": states.MISSING_CONFIGMAP}}, kstatus.IN_PROGRESS),
        ({"plan": {"inline": {"format_version": "9.0"}}}, kstatus.FAILED),
    ):
        outcome = asyncio.run(states.reconcile_once(states.NAMESPACE, "web", spec, status=pending))
        assert outcome.status is not None
        after = states._estimate("web", spec, states.merged(pending, outcome.status))
        assert "Reconciling" not in {c["type"] for c in after["status"]["conditions"]}
        assert kstatus.compute(after).status == expected


def test_pending_is_written_once_per_new_object() -> None:
    """Only for an object without conditions, on the first round: never over a status already written."""
    obj = reconcile.EstimateObject(states.NAMESPACE, "web", 1, {}, states.INLINE, {})
    assert reconcile.pending_status(obj, EstimateState(), now=states.NOW) is not None
    assert reconcile.pending_status(obj, EstimateState(rounds=1), now=states.NOW) is None
    written = replace(obj, status=states.pending_status("web", states.INLINE))
    assert reconcile.pending_status(written, EstimateState(), now=states.NOW) is None


def test_an_invalid_policy_fails_until_fixed(objects: dict[str, dict[str, dict[str, object]]]) -> None:
    invalid = objects["CostPolicy"]["invalid"]
    conditions = {c["type"]: c for c in invalid["status"]["conditions"]}  # type: ignore[index]
    assert (conditions["Stalled"]["status"], conditions["Stalled"]["reason"]) == ("True", "PolicyInvalid")
    assert (conditions["Ready"]["status"], conditions["Ready"]["reason"]) == ("False", "PolicyInvalid")
    fixed = objects["CostPolicy"]["no-namespace-budget"]
    assert kstatus.compute(fixed).status == kstatus.CURRENT
    assert "Stalled" not in {c["type"] for c in fixed["status"]["conditions"]}  # type: ignore[index]


def test_the_operator_marks_what_kstatus_reads() -> None:
    """The operator's statuses always carry observedGeneration and a Ready condition, and Stalled only
    with Ready=False: so kstatus never reaches its "no conditions, assume Current" fallback once the
    operator has written."""
    for kind, objects in states.all_states().items():
        for name, obj in objects.items():
            status = obj.get("status")
            if not status:
                continue
            assert status["observedGeneration"] == 1, (kind, name)
            types = {c["type"]: c["status"] for c in status["conditions"]}
            assert "Ready" in types, (kind, name)
            if types.get("Stalled") == "True":
                assert types["Ready"] == "False", (kind, name)


def test_rules_apply_in_kstatus_order() -> None:
    base = asyncio.run(states.costestimates())["invalid-plan"]
    deleting = copy.deepcopy(base)
    deleting["metadata"]["deletionTimestamp"] = "2026-01-02T03:04:05Z"
    assert kstatus.compute(deleting).status == kstatus.TERMINATING
    newer = copy.deepcopy(base)
    newer["metadata"]["generation"] = 2
    assert kstatus.compute(newer).status == kstatus.IN_PROGRESS  # generation before Stalled
    no_generation = copy.deepcopy(base)
    del no_generation["metadata"]["generation"]
    assert kstatus.compute(no_generation).status == kstatus.FAILED
    reconciling = copy.deepcopy(base)
    reconciling["status"]["conditions"].insert(0, {"type": "Reconciling", "status": "True", "message": "x"})
    assert kstatus.compute(reconciling) == kstatus.Result(kstatus.IN_PROGRESS, "x")

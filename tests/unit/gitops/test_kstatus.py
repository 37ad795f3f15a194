"""What Flux (kstatus) concludes from each status the operator writes.

The objects come from the real reconcile and policy-status code (``states``); ``kstatus`` follows
cli-utils' documented rules. Flux waits (``wait: true``, ``healthChecks``) until every object is
Current, and fails the sync when one is Failed.
"""

from __future__ import annotations

import asyncio
import copy

import pytest

from tests.unit.gitops import kstatus, states

COSTESTIMATE_KSTATUS = {
    # No status yet: kstatus cannot tell (rule 6). Flux's wait is still safe: the webhook has already
    # judged the object at apply time, and healthCheckExprs (docs/gitops/flux.md) can wait for Ready.
    "pending": kstatus.CURRENT,
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
    # Ready=False (PolicyInvalid) without Stalled: Flux waits until its timeout and reports the message;
    # a Stalled condition on invalid policies would make it fail at once.
    "invalid": kstatus.IN_PROGRESS,
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

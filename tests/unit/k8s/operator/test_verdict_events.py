"""An Event is posted when an estimate's budget verdict moves into DryRun, Warn or Deny (DESIGN §5)."""

from __future__ import annotations

import pytest

from cloudcostguard.k8s.operator.handlers import verdict_event

DRY_RUN = {
    "name": "prod",
    "enforcement": "DryRun",
    "verdict": "DryRun",
    "message": "CostPolicy prod: over by 5",
}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (None, DRY_RUN, ("Normal", "BudgetDryRun", "CostPolicy prod: over by 5")),
        (
            {"verdict": "WithinBudget"},
            {**DRY_RUN, "verdict": "Deny"},
            ("Warning", "BudgetDeny", DRY_RUN["message"]),
        ),
        (
            {"verdict": "WithinBudget"},
            {**DRY_RUN, "verdict": "Warn"},
            ("Warning", "BudgetWarn", DRY_RUN["message"]),
        ),
    ],
)
def test_a_verdict_moving_into_a_violation_posts_an_event(
    old: dict[str, str] | None, new: dict[str, str], expected: tuple[str, str, str]
) -> None:
    assert verdict_event(old, new) == expected


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (DRY_RUN, DRY_RUN),  # unchanged: no repeated Event on every status write
        ({"verdict": "Deny"}, {"verdict": "WithinBudget", "message": ""}),
        (None, {"verdict": "NoPolicy"}),
        (None, None),
        (None, "garbage"),
    ],
)
def test_no_event_when_the_verdict_is_unchanged_or_fine(old: object, new: object) -> None:
    assert verdict_event(old, new) is None


def test_the_message_falls_back_to_the_policy_name_and_is_bounded() -> None:
    assert verdict_event(None, {"name": "p", "verdict": "Deny"}) == (
        "Warning",
        "BudgetDeny",
        "CostPolicy p: Deny",
    )
    event = verdict_event(None, {**DRY_RUN, "message": "x" * 5000})
    assert event is not None and len(event[2]) == 1024

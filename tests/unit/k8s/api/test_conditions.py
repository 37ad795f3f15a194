"""Conditions keep their transition time while their status holds, and messages stay one bounded line."""

from __future__ import annotations

from cloudcostguard.k8s.api import conditions as cond


def test_transition_time_changes_only_with_the_status() -> None:
    first = cond.condition("Ready", "True", "Estimated", "ok", generation=1, now="T1")
    same = cond.condition("Ready", "True", "Estimated", "still ok", generation=2, now="T2", previous=[first])
    flipped = cond.condition(
        "Ready", "False", "PlanNotFound", "gone", generation=2, now="T3", previous=[same]
    )
    assert (first["lastTransitionTime"], same["lastTransitionTime"], flipped["lastTransitionTime"]) == (
        "T1",
        "T1",
        "T3",
    )
    assert same["observedGeneration"] == 2


def test_message_is_one_line_and_bounded() -> None:
    long = "word\n" * 1000
    made = cond.condition("Ready", "False", "PlanInvalid", long, generation=None, now="T")
    assert "\n" not in made["message"]
    assert len(made["message"]) == cond.MESSAGE_MAX
    assert made["message"].endswith("…")
    assert "observedGeneration" not in made


def test_comparisons_ignore_timestamps() -> None:
    a = [cond.condition("Ready", "True", "Estimated", "m", generation=1, now="T1")]
    b = [cond.condition("Ready", "True", "Estimated", "m", generation=1, now="T2")]
    assert cond.without_times(a) == cond.without_times(b)
    assert cond.is_true(a, "Ready") and not cond.is_true(a, "Stalled")

"""The Pending status of a new CostEstimate is written only when its first reconcile is slow
(``handlers._noting_pending``), always before the round's own status, and never outlives a stop."""

from __future__ import annotations

import asyncio

import pytest

from cloudcostguard.k8s.operator import handlers, reconcile


class Recorder:
    def __init__(self) -> None:
        self.steps: list[str] = []

    async def write_pending(self) -> None:
        self.steps.append("pending written")

    async def reconcile(self, seconds: float) -> reconcile.Outcome:
        self.steps.append("reconcile started")
        await asyncio.sleep(seconds)
        self.steps.append("reconcile done")
        return reconcile.Outcome("estimated", status={"phase": "Estimated"})


async def test_a_fast_first_reconcile_writes_no_pending_status() -> None:
    record = Recorder()
    outcome = await handlers._noting_pending(record.reconcile(0.01), record.write_pending, after=1.0)
    assert outcome.result == "estimated"
    assert record.steps == ["reconcile started", "reconcile done"]


async def test_a_slow_one_is_marked_pending_while_it_goes_on() -> None:
    record = Recorder()
    outcome = await handlers._noting_pending(record.reconcile(0.3), record.write_pending, after=0.05)
    assert outcome.status == {"phase": "Estimated"}
    assert record.steps == ["reconcile started", "pending written", "reconcile done"]


async def test_zero_marks_every_new_object_pending_before_its_estimate_returns() -> None:
    record = Recorder()
    await handlers._noting_pending(record.reconcile(0), record.write_pending, after=0)
    assert record.steps == ["pending written", "reconcile started", "reconcile done"]


async def test_a_stopped_timer_cancels_the_reconcile() -> None:
    record = Recorder()
    started = asyncio.ensure_future(
        handlers._noting_pending(record.reconcile(30), record.write_pending, after=0.01)
    )
    await asyncio.sleep(0.1)
    started.cancel()
    with pytest.raises(asyncio.CancelledError):
        await started
    await asyncio.sleep(0)
    assert "reconcile done" not in record.steps
    assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []

"""Leader election on a Lease, with exact timings: an injected clock, an in-memory Lease with
resourceVersion preconditions (what KMock lacks), several electors sharing it."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest

from cloudcostguard import errors
from cloudcostguard.k8s.operator import leadership
from cloudcostguard.k8s.operator.leadership import (
    LeaderElector,
    LeaseConflict,
    LeaseError,
    LeaseRecord,
    LeaseTimings,
)

TIMINGS = LeaseTimings(lease_duration=15, renew_deadline=10.0, retry_period=2.0)  # client-go's defaults


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Wall:
    """MicroTime stamps written into the Lease; a replica's wall clock may be off by any amount."""

    def __init__(self, base: str = "2026-01-01T00:00:") -> None:
        self.base = base
        self.ticks = itertools.count()

    def __call__(self) -> str:
        return f"{self.base}{next(self.ticks):02d}.000000Z"


class Store:
    """One Lease as the API server keeps it: resourceVersion bumped per write, writes checked against it."""

    def __init__(self) -> None:
        self.record: LeaseRecord | None = None
        self.version = 0
        self.down = False  # every call fails (API server unreachable)
        self.hang = False  # every call hangs (a stuck connection)
        self.pause = False  # yield to the loop inside calls (to interleave racing electors)
        self.writes = 0
        self.written = asyncio.Event()  # set on every write (tests wait on it, not on the clock)

    async def _enter(self) -> None:
        if self.pause:
            await asyncio.sleep(0)
        if self.hang:
            await asyncio.Event().wait()
        if self.down:
            raise LeaseError("connection refused")

    def _stored(self, record: LeaseRecord) -> LeaseRecord:
        self.version += 1
        self.writes += 1
        self.written.set()
        self.record = LeaseRecord(
            record.holder,
            record.lease_duration,
            record.acquire_time,
            record.renew_time,
            record.transitions,
            str(self.version),
        )
        return self.record

    async def get(self) -> LeaseRecord | None:
        await self._enter()
        return self.record

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        await self._enter()
        if self.record is not None:
            raise LeaseConflict("leases.coordination.k8s.io already exists")
        return self._stored(record)

    async def update(self, record: LeaseRecord) -> LeaseRecord:
        await self._enter()
        if self.record is None or record.resource_version != self.record.resource_version:
            raise LeaseConflict("the object has been modified")
        return self._stored(record)

    def overwrite(self, holder: str, renew_time: str, *, transitions: int | None = None) -> None:
        """Another replica writes the Lease (renews it, or takes it)."""
        current = self.record
        assert current is not None
        self._stored(
            LeaseRecord(
                holder,
                15,
                current.acquire_time,
                renew_time,
                current.transitions if transitions is None else transitions,
                current.resource_version,
            )
        )


class Elector(LeaderElector):
    """An elector that records what its listeners heard (True: started leading, False: stopped)."""

    def __init__(self, name: str, client: Any, clock: Clock, wall: Wall | None = None) -> None:
        super().__init__(name, TIMINGS, client, clock=clock, wall=wall or Wall(), jitter=lambda: 0.0)
        self.changes: list[bool] = []
        self.add_listener(self.changes.append)


class Flaky:
    """A client of ``store`` that can lose its connection while others keep theirs."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise LeaseError("connection refused")

    async def get(self) -> LeaseRecord | None:
        self._check()
        return await self.store.get()

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        return await self.store.create(record)

    async def update(self, record: LeaseRecord) -> LeaseRecord:
        self._check()
        return await self.store.update(record)


def elector(name: str, store: Any, clock: Clock, wall: Wall | None = None) -> Elector:
    return Elector(name, store, clock, wall)


async def test_the_first_replica_creates_the_lease_and_leads() -> None:
    store, clock = Store(), Clock()
    a = elector("a", store, clock)
    assert not a.is_leader()
    assert await a.attempt() is True
    assert a.is_leader() and a.changes == [True]
    assert store.record == LeaseRecord(
        "a", 15, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:00.000000Z", 0, "1"
    )
    assert a.next_delay() == 2.0


async def test_the_leader_renews_keeping_its_acquire_time_and_transitions() -> None:
    store, clock = Store(), Clock()
    a = elector("a", store, clock)
    await a.attempt()
    clock.now += 2.0
    await a.attempt()
    assert store.record == LeaseRecord(
        "a", 15, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:01.000000Z", 0, "2"
    )
    assert a.changes == [True]


async def test_a_standby_takes_a_silent_lease_over_one_lease_duration_after_its_last_change() -> None:
    store, clock = Store(), Clock()
    a, b = elector("a", store, clock), elector("b", store, clock)
    await a.attempt()  # t=100: a leads, renewTime written
    assert await b.attempt() is False  # t=100: b sees the record (its observation starts now)
    assert b.holder == "a" and b.next_delay() == 2.0
    # a crashes: no more renewals. b polls every retry period and waits 15 s of silence.
    for clock.now in (102.0, 104.0, 110.0, 114.0, 114.999):
        assert await b.attempt() is False
    clock.now = 115.0
    assert await b.attempt() is True
    assert b.changes == [True]
    record = store.record
    assert record is not None
    assert (record.holder, record.transitions) == ("b", 1)
    assert record.acquire_time == record.renew_time  # a new tenure


async def test_clock_skew_between_replicas_never_elects_two_leaders() -> None:
    store, clock = Store(), Clock()
    # a's wall clock is an hour behind, b's an hour ahead: renewTime values mean nothing to b.
    a = elector("a", store, clock, Wall("2025-12-31T23:00:"))
    b = elector("b", store, clock, Wall("2026-01-01T01:00:"))
    await a.attempt()
    for _ in range(30):  # a renews every 2 s for a minute; its renewTime is "an hour old" each time
        await b.attempt()
        clock.now += 2.0
        await a.attempt()
        assert a.is_leader() and not b.is_leader()
    # a stops renewing: b takes over 15 s after it last saw a change, whatever a's stamps said.
    last_change = clock.now
    await b.attempt()
    while not await b.attempt():
        assert clock.now < last_change + 15
        clock.now += 0.5
    assert clock.now == last_change + 15


async def test_a_failing_leader_writes_until_its_renew_deadline_and_never_overlaps() -> None:
    store, clock = Store(), Clock()
    link = Flaky(store)
    a, b = elector("a", link, clock), elector("b", store, clock)
    await a.attempt()  # renewed at 100
    link.down = True  # a loses the API server; b still reaches it
    timeline = []
    for step in range(121):  # 100 s … 130 s in quarter seconds
        clock.now = 100.0 + step * 0.25
        if step % 8 == 0:
            await a.attempt()  # every retry period; fails from now on
        await b.attempt()
        timeline.append((clock.now, a.is_leader(), b.is_leader()))
    assert not any(a_leads and b_leads for _now, a_leads, b_leads in timeline)
    leaders = {now: ("a" if a_leads else "b" if b_leads else None) for now, a_leads, b_leads in timeline}
    # a writes until its renew deadline (100 + 10); b takes over once it saw 15 s without a change.
    assert [leaders[now] for now in (109.75, 110.0, 114.75, 115.0, 130.0)] == ["a", None, None, "b", "b"]
    assert a.changes == [True, False] and b.changes == [True]
    assert store.record is not None and (store.record.holder, store.record.transitions) == ("b", 1)


async def test_a_leader_that_finds_another_holder_steps_down_at_once() -> None:
    store, clock = Store(), Clock()
    a = elector("a", store, clock)
    await a.attempt()
    store.overwrite("intruder", "2026-01-01T00:00:30.000000Z", transitions=1)
    clock.now += 2.0
    assert await a.attempt() is False
    assert a.changes == [True, False] and a.holder == "intruder"


async def test_of_two_candidates_racing_for_a_free_lease_exactly_one_wins() -> None:
    store, clock = Store(), Clock()
    store.pause = True  # both read before either writes
    a, b = elector("a", store, clock), elector("b", store, clock)
    results = await asyncio.gather(a.attempt(), b.attempt())
    assert sorted(results) == [False, True]
    assert store.writes == 1
    # The same for a released Lease: both see no holder, one write carries the stale resourceVersion.
    winner = a if results[0] else b
    await winner.release()
    results = await asyncio.gather(a.attempt(), b.attempt())
    assert sorted(results) == [False, True]
    assert store.record is not None and store.record.transitions == 1


async def test_release_hands_the_lease_over_at_the_standbys_next_attempt() -> None:
    store, clock = Store(), Clock()
    a, b = elector("a", store, clock), elector("b", store, clock)
    await a.attempt()
    await b.attempt()
    clock.now = 101.0
    assert await a.release() is True
    assert a.changes == [True, False] and not a.is_leader()
    assert store.record is not None
    assert (store.record.holder, store.record.lease_duration, store.record.transitions) == ("", 1, 0)
    assert await b.attempt() is True  # at 101, not 115: a released Lease is free at once
    assert (store.record.holder, store.record.transitions) == ("b", 1)
    assert await a.release() is False  # no longer the holder: nothing to release


async def test_a_candidate_waits_with_jitter_and_does_not_take_a_held_lease() -> None:
    store, clock = Store(), Clock()
    a = elector("a", store, clock)
    await a.attempt()
    b = LeaderElector("b", TIMINGS, store, clock=clock, jitter=lambda: 0.2)
    assert await b.attempt() is False
    assert b.next_delay() == pytest.approx(2.4)
    assert await b.wait_until_leader(0.01) is False


async def test_an_attempt_is_bounded_by_what_is_left_of_the_renew_deadline() -> None:
    store = Store()
    timings = LeaseTimings(lease_duration=3, renew_deadline=0.3, retry_period=0.1)
    a = LeaderElector("a", timings, store, jitter=lambda: 0.0)  # real monotonic clock
    assert await a.attempt() is True
    store.hang = True
    started = time.monotonic()
    assert await a.attempt() is False  # gave up when the deadline passed, not when the call returned
    assert 0.25 <= time.monotonic() - started < 1.0
    assert not a.is_leader()


async def test_the_loop_leads_renews_and_releases_on_stop() -> None:
    store = Store()
    a = LeaderElector("a", LeaseTimings(3, 0.5, 0.05), store)
    a.start()
    assert await a.wait_until_leader(2.0) is True
    renewals = store.writes
    async with asyncio.timeout(5):  # a bound for a broken loop only: renewals come every 50 ms
        while store.writes < renewals + 2:
            store.written.clear()
            await store.written.wait()
    loop_task = a._task
    await a.stop()
    assert store.record is not None and store.record.holder == ""
    assert loop_task is not None and loop_task.done()  # the loop is gone: nothing can write any more
    assert not a.is_leader()


async def test_a_listener_that_fails_does_not_stop_the_election(caplog: pytest.LogCaptureFixture) -> None:
    store, clock = Store(), Clock()
    a = elector("a", store, clock)

    def broken(_leading: bool) -> None:
        raise RuntimeError("listener bug")

    a.add_listener(broken)
    assert await a.attempt() is True
    assert a.is_leader()
    assert "a leadership listener failed" in caplog.text


def test_lease_records_read_forgivingly() -> None:
    assert LeaseRecord.from_lease({}) == LeaseRecord("", 0)  # no duration: expired at once
    body = {
        "metadata": {"resourceVersion": "42"},
        "spec": {
            "holderIdentity": "pod-1_abc",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-01-01T00:00:00.000000Z",
            "renewTime": "2026-01-01T00:00:10.000000Z",
            "leaseTransitions": 3,
        },
    }
    record = LeaseRecord.from_lease(body)
    assert record == LeaseRecord(
        "pod-1_abc", 15, "2026-01-01T00:00:00.000000Z", "2026-01-01T00:00:10.000000Z", 3, "42"
    )
    assert record.spec() == body["spec"]
    bad = {"spec": {"holderIdentity": 7, "leaseDurationSeconds": "15", "leaseTransitions": -1}}
    assert LeaseRecord.from_lease(bad) == LeaseRecord("", 0)


def test_timings_must_keep_the_leader_ahead_of_a_takeover() -> None:
    with pytest.raises(errors.ConfigurationError) as raised:
        LeaseTimings(lease_duration=15, renew_deadline=15.0, retry_period=2.0)
    assert str(raised.value) == (
        "invalid setting CCG_LEADER_ELECTION_RENEW_DEADLINE: 15 s must be below "
        "CCG_LEADER_ELECTION_LEASE_DURATION (15 s), or an old leader could still write after a standby "
        "took over"
    )
    with pytest.raises(errors.ConfigurationError) as raised:
        LeaseTimings(lease_duration=15, renew_deadline=10.0, retry_period=10.0)
    assert str(raised.value).startswith(
        "invalid setting CCG_LEADER_ELECTION_RETRY_PERIOD: 10 s must be below "
        "CCG_LEADER_ELECTION_RENEW_DEADLINE (10 s)"
    )


def test_identities_differ_per_process_start() -> None:
    first, second = leadership.default_identity(), leadership.default_identity()
    assert first != second and first.rsplit("_", 1)[0] == second.rsplit("_", 1)[0]
    assert leadership.micro_time_now().endswith("Z") and len(leadership.micro_time_now()) == 27


async def test_standalone_always_leads() -> None:
    alone = leadership.Standalone()
    assert alone.is_leader() and await alone.wait_until_leader(0) is True
    await alone.stop()


async def test_a_failing_lease_is_reported_once_per_kind_of_failure(caplog: pytest.LogCaptureFixture) -> None:
    store, clock = Store(), Clock()
    link = Flaky(store)
    a = elector("a", link, clock)
    link.down = True  # e.g. no RBAC grant for Leases: every replica would stay a silent standby
    caplog.set_level("INFO", logger="cloudcostguard.k8s.operator.leadership")
    for _ in range(3):
        assert await a.attempt() is False
        clock.now += 2.0
    link.down = False
    assert await a.attempt() is True
    messages = [record.getMessage() for record in caplog.records if record.name.endswith("leadership")]
    assert messages == [
        "Lease attempt failed (standby): connection refused",
        "the Lease is reachable again",
        "a leads now (Lease acquired): it writes statuses and Events",
    ]

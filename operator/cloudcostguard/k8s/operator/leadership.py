"""Leader election on a ``coordination.k8s.io/v1`` Lease: every replica watches, one replica writes.

The replica model (DESIGN §6). Every replica runs kopf in standalone mode: all watches and all indexes
(namespace labels, CostEstimate spend, plan ConfigMaps/Secrets, CostPolicies) stay live, and every
replica serves the admission webhook from them. Only the *writers* are gated: CostEstimate and
CostPolicy status patches and Kubernetes Events come from the replica holding the Lease. kopf's own
peering cannot do this: it pauses every watch of a standby, and with them the indexes that the webhook
on that standby judges namespace budgets and referenced plans from.

The protocol is client-go's ``leaderelection`` with a Lease lock:

- A candidate reads the Lease. Absent: it creates it naming itself. Released (empty holder): it takes it
  at once. Held by another replica: it takes it over (``leaseTransitions`` + 1) only once it has seen
  the same record, unchanged, for the holder's ``leaseDurationSeconds``.
- Expiry is judged from when *this process* saw the record last change, by its own monotonic clock;
  ``renewTime`` is written for people and never compared with the local clock, so clocks of different
  nodes may disagree by any amount without two replicas leading at once.
- Every write is a merge patch carrying the ``metadata.resourceVersion`` it read: the API server answers
  409 when the Lease changed in between, so of two candidates racing for a free Lease only one wins.
- The leader renews every ``retry_period``. It stops writing as soon as ``renew_deadline`` has passed
  since its last successful renewal — before ``lease_duration``, after which a standby may take over.
- On graceful shutdown the leader stops writing, then releases the Lease (empty holder, as client-go
  does), so that a standby takes over within one retry period rather than one lease duration. A crashed
  leader is replaced within about ``lease_duration`` + ``retry_period``.

``run --standalone`` (or ``CCG_LEADER_ELECTION=false``) uses ``Standalone``: no Lease, this process
writes. Timings: ``CCG_LEADER_ELECTION_LEASE_DURATION`` / ``_RENEW_DEADLINE`` / ``_RETRY_PERIOD``
(client-go's defaults, 15 s / 10 s / 2 s); the Lease is ``CCG_LEADER_ELECTION_LEASE_NAME`` in
``CCG_OPERATOR_NAMESPACE`` (else the namespace of the pod's service account or of the kubeconfig
context, else ``default``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import socket
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import aiohttp
import kopf

from cloudcostguard import errors, metrics
from cloudcostguard.k8s.operator import kopf_api
from cloudcostguard.settings import Settings

logger = logging.getLogger(__name__)

LEASES_PATH = "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
# A candidate waits retry_period × [1, 1 + jitter] between attempts so that candidates do not poll in
# lockstep (client-go uses a factor of 1.2; a smaller one keeps a takeover close to the lease duration).
CANDIDATE_JITTER = 0.2
# The release at shutdown: should it fail, a standby merely waits out one lease duration.
RELEASE_TIMEOUT = 5.0

LeadershipListener = Callable[[bool], None]


class LeaseError(errors.CloudCostGuardError):
    """A Lease call failed (network, API error, timeout): the next attempt may succeed."""

    reason = "LeaseUnavailable"
    transient = True


class LeaseConflict(LeaseError):
    """The Lease changed (or was created) since it was read: someone else wrote it first."""

    reason = "LeaseConflict"


@dataclass(frozen=True, slots=True)
class LeaseTimings:
    lease_duration: int  # seconds (the Lease's leaseDurationSeconds is an integer)
    renew_deadline: float
    retry_period: float

    def __post_init__(self) -> None:
        if not self.renew_deadline < self.lease_duration:
            raise errors.ConfigurationError(
                f"invalid setting CCG_LEADER_ELECTION_RENEW_DEADLINE: {self.renew_deadline:g} s must be "
                f"below CCG_LEADER_ELECTION_LEASE_DURATION ({self.lease_duration} s), or an old leader "
                "could still write after a standby took over"
            )
        if not self.retry_period < self.renew_deadline:
            raise errors.ConfigurationError(
                f"invalid setting CCG_LEADER_ELECTION_RETRY_PERIOD: {self.retry_period:g} s must be below "
                f"CCG_LEADER_ELECTION_RENEW_DEADLINE ({self.renew_deadline:g} s), or the leader could not "
                "renew before its deadline"
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> LeaseTimings:
        return cls(
            lease_duration=settings.leader_election_lease_duration,
            renew_deadline=settings.leader_election_renew_deadline,
            retry_period=settings.leader_election_retry_period,
        )


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """The Lease's spec (client-go's LeaderElectionRecord) and the resourceVersion it was read at."""

    holder: str  # "" when nobody holds it (released)
    lease_duration: int
    acquire_time: str | None = None
    renew_time: str | None = None
    transitions: int = 0
    resource_version: str | None = None

    @classmethod
    def from_lease(cls, body: Mapping[str, Any]) -> LeaseRecord:
        spec = body.get("spec") or {}
        metadata = body.get("metadata") or {}
        holder = spec.get("holderIdentity")
        duration = spec.get("leaseDurationSeconds")
        transitions = spec.get("leaseTransitions")
        version = metadata.get("resourceVersion")
        return cls(
            holder=holder if isinstance(holder, str) else "",
            # A Lease without a usable duration is expired at once, as client-go reads it (0).
            lease_duration=duration if isinstance(duration, int) and duration > 0 else 0,
            acquire_time=_text(spec.get("acquireTime")),
            renew_time=_text(spec.get("renewTime")),
            transitions=transitions if isinstance(transitions, int) and transitions >= 0 else 0,
            resource_version=version if isinstance(version, str) else None,
        )

    def spec(self) -> dict[str, Any]:
        return {
            "holderIdentity": self.holder,
            "leaseDurationSeconds": self.lease_duration,
            "acquireTime": self.acquire_time,
            "renewTime": self.renew_time,
            "leaseTransitions": self.transitions,
        }

    def same_record(self, other: LeaseRecord) -> bool:
        """Equal as client-go compares records: the spec, not the resourceVersion."""
        return self.spec() == other.spec()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def micro_time_now() -> str:
    """A Kubernetes MicroTime (RFC 3339, microseconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def default_identity() -> str:
    """The pod name (the host name in a pod) plus a random suffix: a restarted process is a new holder."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:12]}"


class LeaseClient(Protocol):
    async def get(self) -> LeaseRecord | None:
        """The Lease, or None when it does not exist."""

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        """Create the Lease; ``LeaseConflict`` when it exists already."""

    async def update(self, record: LeaseRecord) -> LeaseRecord:
        """Write ``record`` if the Lease is still at ``record.resource_version``, else ``LeaseConflict``."""


class Leadership(Protocol):
    """What the writers ask: may this replica write now?"""

    identity: str

    def is_leader(self) -> bool:
        """Whether this replica may write now (asked again after every await: it can change)."""

    async def wait_until_leader(self, within: float) -> bool:
        """True as soon as this replica leads; False when ``within`` seconds pass first."""

    def add_listener(self, listener: LeadershipListener) -> None: ...

    async def stop(self) -> None: ...


class Standalone:
    """No election (``run --standalone``, ``CCG_LEADER_ELECTION=false``): this process always writes."""

    identity = "standalone"

    def is_leader(self) -> bool:
        return True

    async def wait_until_leader(self, within: float) -> bool:
        return True

    def add_listener(self, listener: LeadershipListener) -> None:
        pass  # leadership never changes

    async def stop(self) -> None:
        pass


class LeaderElector:
    """client-go's leader election over a ``LeaseClient`` (see the module docstring).

    ``attempt()`` is one acquire-or-renew round and ``next_delay()`` says when the next one is due; the
    background loop (``start``/``stop``) just alternates them. Time comes from ``clock`` (monotonic
    seconds) and ``wall`` (the MicroTime written into the Lease), both injectable for tests.
    """

    def __init__(
        self,
        identity: str,
        timings: LeaseTimings,
        client: LeaseClient | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], str] = micro_time_now,
        jitter: Callable[[], float] = lambda: random.uniform(0.0, CANDIDATE_JITTER),  # noqa: S311
    ) -> None:
        self.identity = identity
        self.timings = timings
        self.client = client
        self.holder: str | None = None  # the holder last seen in the Lease ("" read as None)
        self._clock = clock
        self._wall = wall
        self._jitter = jitter
        self._leading = False
        self._renewed_at = -math.inf  # clock time (taken before the request) of the last good renewal
        self._observed: LeaseRecord | None = None
        self._observed_at = -math.inf  # clock time this process first saw ``_observed``
        self._elected = asyncio.Event()
        self._listeners: list[LeadershipListener] = []
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failure: str | None = None  # the last attempt's failure, reported once

    # --- what writers ask ----------------------------------------------------------------------

    def is_leader(self) -> bool:
        """Leading, and renewed within the renew deadline (checked live: a stalled loop cannot let a
        replica write past its deadline)."""
        return self._leading and self._clock() - self._renewed_at < self.timings.renew_deadline

    async def wait_until_leader(self, within: float) -> bool:
        if self.is_leader():
            return True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(within, 0.0)):
                await self._elected.wait()
        return self.is_leader()

    def add_listener(self, listener: LeadershipListener) -> None:
        """``listener(True)`` when this replica starts leading, ``listener(False)`` when it stops."""
        self._listeners.append(listener)

    # --- one round ------------------------------------------------------------------------------

    async def attempt(self) -> bool:
        """One acquire-or-renew round (client-go's tryAcquireOrRenew), bounded in time; True if leading.

        The bound is what is left of the renew deadline for a leader (a renewal that comes back later
        than that would be too late anyway), and the renew deadline for a candidate.
        """
        if self.client is None:
            raise RuntimeError("LeaderElector.attempt() needs a LeaseClient")
        now = self._clock()
        deadline = self.timings.renew_deadline
        if self._leading and now - self._renewed_at >= deadline:
            self._step_down(f"no renewal for {deadline:g} s (the renew deadline)")
        budget = deadline - (now - self._renewed_at) if self._leading else deadline
        try:
            async with asyncio.timeout(budget):
                acquired = await self._try_acquire_or_renew(self.client, now)
        except LeaseConflict as err:
            logger.debug("Lease changed under this replica: %s", err)
            acquired = False
        except (LeaseError, TimeoutError) as err:
            self._report(str(err) or "timed out")
            acquired = False
        else:
            self._report(None)
        if acquired:
            self._renewed_at = now
            if not self._leading:
                self._take_lead()
        elif self._leading:
            if self.holder is not None and self.holder != self.identity:
                self._step_down(f"the Lease is held by {self.holder}")
            elif self._clock() - self._renewed_at >= deadline:
                self._step_down(f"no renewal for {deadline:g} s (the renew deadline)")
        return self._leading

    def _report(self, failure: str | None) -> None:
        """Warn once per kind of failure (a missing RBAC grant would otherwise keep every replica a
        silent standby), and once when the Lease is reachable again."""
        if failure == self._failure:
            if failure is not None:
                logger.debug("Lease attempt failed again: %s", failure)
            return
        if failure is None:
            logger.info("the Lease is reachable again")
        else:
            logger.warning(
                "Lease attempt failed (%s): %s", "leading" if self._leading else "standby", failure
            )
        self._failure = failure

    def next_delay(self) -> float:
        """Seconds until the next attempt: renew every retry period; candidates add a little jitter."""
        if self._leading:
            return self.timings.retry_period
        return self.timings.retry_period * (1.0 + self._jitter())

    async def _try_acquire_or_renew(self, client: LeaseClient, now: float) -> bool:
        record = await client.get()
        if record is None:
            created = await client.create(self._claim(None))
            self._observe(created, now)
            self.holder = self.identity
            return True
        self._observe(record, now)
        self.holder = record.holder or None
        held_by_other = bool(record.holder) and record.holder != self.identity
        if held_by_other and self._observed_at + record.lease_duration > now:
            return False
        updated = await client.update(self._claim(record))
        self._observe(updated, now)
        self.holder = self.identity
        return True

    def _claim(self, current: LeaseRecord | None) -> LeaseRecord:
        stamp = self._wall()
        duration = self.timings.lease_duration
        if current is None:
            return LeaseRecord(self.identity, duration, stamp, stamp, 0)
        if current.holder == self.identity:  # a renewal
            return LeaseRecord(
                self.identity,
                duration,
                current.acquire_time or stamp,
                stamp,
                current.transitions,
                current.resource_version,
            )
        return LeaseRecord(  # a takeover (from an expired holder, or of a released Lease)
            self.identity, duration, stamp, stamp, current.transitions + 1, current.resource_version
        )

    def _observe(self, record: LeaseRecord, now: float) -> None:
        if self._observed is None or not record.same_record(self._observed):
            self._observed_at = now
        self._observed = record

    def _take_lead(self) -> None:
        self._leading = True
        self._elected.set()
        logger.info("%s leads now (Lease acquired): it writes statuses and Events", self.identity)
        metrics.LEADERSHIP_CHANGES.labels("acquired").inc()
        self._notify(True)

    def _step_down(self, why: str, *, expected: bool = False) -> None:
        self._leading = False
        self._elected.clear()
        (logger.info if expected else logger.warning)("%s stopped leading: %s", self.identity, why)
        metrics.LEADERSHIP_CHANGES.labels("lost").inc()
        self._notify(False)

    def _notify(self, leading: bool) -> None:
        for listener in list(self._listeners):
            try:
                listener(leading)
            except Exception:
                logger.exception("a leadership listener failed")

    # --- the background loop ------------------------------------------------------------------

    def start(self, client: LeaseClient | None = None) -> None:
        if client is not None:
            self.client = client
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="cloudcostguard leader election")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.attempt()
            except Exception:
                # A bug must not end the election: a leader that cannot renew steps down by its deadline.
                logger.exception("leader election attempt failed unexpectedly")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.next_delay()):
                    await self._stopping.wait()

    async def stop(self) -> None:
        """Stop the loop, stop writing, and release the Lease if this replica holds it."""
        self._stopping.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()  # an attempt in flight is abandoned: the release below supersedes it
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.release()

    async def release(self) -> bool:
        """Stop writing, then give the Lease up (empty holder) so that a standby takes it at once."""
        if self._leading:
            self._step_down("shutting down", expected=True)
        if self.client is None:
            return False
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT):
                record = await self.client.get()
                if record is None or record.holder != self.identity:
                    return False
                stamp = self._wall()
                # client-go's release: no holder, a 1-second duration, the transitions count kept.
                released = LeaseRecord("", 1, stamp, stamp, record.transitions, record.resource_version)
                await self.client.update(released)
        except (LeaseError, TimeoutError) as err:
            logger.warning(
                "could not release the Lease (%s); a standby takes over once it expires",
                str(err) or "timed out",
            )
            return False
        self.holder = None
        metrics.LEADERSHIP_CHANGES.labels("released").inc()
        logger.info("%s released the Lease", self.identity)
        return True


class KopfLeaseClient:
    """The Lease through kopf's API client (the operator's own login, session and re-authentication).

    Each request is bounded by ``request_timeout`` and not retried here (the elector's loop retries).
    The namespace is resolved on first use, after kopf logged in: the configured one, else kopf's default
    namespace (the service account's in a pod, the kubeconfig context's outside), else ``default``.
    """

    def __init__(
        self,
        name: str,
        namespace: str | None,
        kopf_settings: kopf.OperatorSettings,
        *,
        request_timeout: float,
    ) -> None:
        self.name = name
        self._configured_namespace = namespace
        self._namespace: str | None = None
        self._kopf_settings = kopf_settings
        self._timeout = request_timeout

    async def namespace(self) -> str:
        if self._namespace is None:
            found = self._configured_namespace or await self._default_namespace() or "default"
            self._namespace = found
            logger.info("leader election on Lease %s/%s", found, self.name)
        return self._namespace

    async def _default_namespace(self) -> str | None:
        try:
            return await kopf_api.get_default_namespace()
        except (kopf.LoginError, LookupError):  # no credentials (yet): the call below will say so
            return None

    async def get(self) -> LeaseRecord | None:
        path = LEASES_PATH.format(namespace=await self.namespace()) + f"/{self.name}"
        try:
            body = await self._call("get", path)
        except kopf_api.APINotFoundError:
            return None
        return LeaseRecord.from_lease(body)

    async def create(self, record: LeaseRecord) -> LeaseRecord:
        namespace = await self.namespace()
        lease = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": self.name,
                "namespace": namespace,
                "labels": {"app.kubernetes.io/name": "cloudcostguard"},
            },
            "spec": record.spec(),
        }
        return LeaseRecord.from_lease(
            await self._call("post", LEASES_PATH.format(namespace=namespace), lease)
        )

    async def update(self, record: LeaseRecord) -> LeaseRecord:
        path = LEASES_PATH.format(namespace=await self.namespace()) + f"/{self.name}"
        # A resourceVersion in a merge patch is a precondition: 409 Conflict when the Lease moved on.
        metadata = {"resourceVersion": record.resource_version} if record.resource_version else {}
        patch = {"metadata": metadata, "spec": record.spec()}
        try:
            body = await self._call("patch", path, patch, "application/merge-patch+json")
        except kopf_api.APINotFoundError as err:
            raise LeaseConflict(f"Lease {self.name} was deleted") from err
        return LeaseRecord.from_lease(body)

    async def _call(
        self, method: str, path: str, payload: object | None = None, content_type: str | None = None
    ) -> Mapping[str, Any]:
        try:
            response = await kopf_api.request(
                method,
                path,
                settings=self._kopf_settings,
                payload=payload,
                headers={"Content-Type": content_type} if content_type else None,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                backoffs=(),  # no retries inside one attempt: the election loop retries
                logger=logger,
            )
            async with response:
                body = await response.json()
        except kopf_api.APINotFoundError:
            raise
        except kopf_api.APIConflictError as err:
            raise LeaseConflict(f"{method.upper()} {path}: {err}") from err
        except (kopf_api.APIError, aiohttp.ClientError, ValueError) as err:
            raise LeaseError(f"{method.upper()} {path}: {err}") from err
        if not isinstance(body, Mapping):
            raise LeaseError(f"{method.upper()} {path}: the answer is not an object")
        return body


def build_leadership(settings: Settings) -> Leadership:
    """``Standalone`` without leader election; else an elector, started by the runtime once kopf runs.

    Timings are validated here, before kopf starts (a bad combination fails fast with its variables).
    """
    if not settings.leader_election:
        return Standalone()
    return LeaderElector(default_identity(), LeaseTimings.from_settings(settings))

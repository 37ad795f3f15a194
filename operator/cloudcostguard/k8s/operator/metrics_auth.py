"""Who may read ``/metrics``: the API server decides, as controller-runtime's metrics filter does.

Each scrape carries a bearer token (Prometheus sends its service account's). The operator asks the API
server, with its own credentials (kopf's login):

1. ``TokenReview`` (``authentication.k8s.io/v1``): is the token valid, and whose is it? No token, or one
   the API server does not authenticate: **401**.
2. ``SubjectAccessReview`` (``authorization.k8s.io/v1``): may that user ``get`` the non-resource URL
   ``/metrics``? (RBAC: a ClusterRole with ``nonResourceURLs: ["/metrics"], verbs: ["get"]``, e.g.
   ``config/rbac/metrics_reader_role.yaml``.) No: **403**.
3. The API server unreachable, slow (``CCG_METRICS_AUTH_TIMEOUT`` for both calls together) or refusing
   the operator (no RBAC grant for the reviews): **503** with the reason. Fail closed: metrics are never
   served on a decision that was not made.

Decisions (allowed, 401, 403 — never a 503) are kept ``CCG_METRICS_AUTH_CACHE_TTL`` seconds (default 30 s;
controller-runtime keeps 1 min for tokens, 5 min for allows, 30 s for denials), at most
``MAX_CACHED_DECISIONS`` of them, keyed by the SHA-256 of the token: the token itself is never stored
beyond the request, nor logged. Concurrent scrapes with the same token share one review, and at most
``MAX_CONCURRENT_REVIEWS`` reviews run at once, so a flood of made-up tokens cannot flood the API server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import kopf

from cloudcostguard import errors, metrics
from cloudcostguard.k8s.operator import kopf_api

logger = logging.getLogger(__name__)

TOKEN_REVIEWS_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"  # noqa: S105 - an API path
SUBJECT_ACCESS_REVIEWS_PATH = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
# A few Prometheus replicas and people with kubectl port-forward: far fewer distinct tokens than this.
MAX_CACHED_DECISIONS = 1024
# Reviews in flight at once; more wait (within the timeout) rather than pile onto the API server.
MAX_CONCURRENT_REVIEWS = 8


class ReviewUnavailable(errors.CloudCostGuardError):
    """The API server could not be asked (network, timeout, an API error, missing RBAC)."""

    reason = "MetricsAuthUnavailable"
    transient = True


@dataclass(frozen=True, slots=True)
class User:
    """Who a token belongs to (the TokenReview's ``status.user``), as the SubjectAccessReview wants it."""

    username: str
    uid: str | None = None
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def from_review(cls, user: Mapping[str, Any]) -> User:
        groups = user.get("groups") or []
        extra = user.get("extra") or {}
        uid = user.get("uid")
        return cls(
            username=str(user.get("username") or ""),
            uid=uid if isinstance(uid, str) and uid else None,
            groups=tuple(str(group) for group in groups if isinstance(group, str)),
            extra=tuple(
                (str(key), tuple(str(v) for v in values))
                for key, values in sorted(extra.items())
                if isinstance(values, list)
            ),
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """What a scrape gets: 200 (allowed), 401, 403 or 503, and why (without the token)."""

    status: int
    reason: str
    username: str | None = None

    @property
    def allowed(self) -> bool:
        return self.status == 200


RESULTS = {200: "allowed", 401: "unauthenticated", 403: "forbidden", 503: "unavailable"}


class ReviewClient(Protocol):
    async def review_token(self, token: str) -> User | str:
        """The token's user, or why the API server does not authenticate it."""

    async def review_access(self, user: User, path: str, verb: str) -> tuple[bool, str]:
        """Whether ``user`` may ``verb`` the non-resource URL ``path``, and the API server's reason."""


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (the scheme is case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


@dataclass(slots=True)
class _Cached:
    decision: Decision
    expires: float


@dataclass
class MetricsAuthorizer:
    """Decides each scrape (see the module docstring); ``clock`` is injectable for tests."""

    client: ReviewClient
    cache_ttl: float = 30.0
    timeout: float = 5.0
    max_entries: int = MAX_CACHED_DECISIONS
    clock: Callable[[], float] = time.monotonic
    _cache: OrderedDict[str, _Cached] = field(default_factory=OrderedDict, init=False, repr=False)
    _inflight: dict[str, asyncio.Task[Decision]] = field(default_factory=dict, init=False, repr=False)
    _slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(MAX_CONCURRENT_REVIEWS), init=False, repr=False
    )
    _failure: str | None = field(default=None, init=False, repr=False)

    async def authorize(self, authorization: str | None, path: str, verb: str) -> Decision:
        token = bearer_token(authorization)
        if token is None:
            decision = Decision(401, "a bearer token is required (Authorization: Bearer <token>)")
        else:
            decision = await self._decide(token, path, verb)
        metrics.METRICS_AUTH_DECISIONS.labels(RESULTS[decision.status]).inc()
        return decision

    async def _decide(self, token: str, path: str, verb: str) -> Decision:
        key = hashlib.sha256(f"{verb} {path} {token}".encode()).hexdigest()
        now = self.clock()
        cached = self._cache.get(key)
        if cached is not None:
            if cached.expires > now:
                self._cache.move_to_end(key)
                return cached.decision
            del self._cache[key]
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(self._review(token, path, verb), name="cloudcostguard metrics review")
            self._inflight[key] = task
            task.add_done_callback(lambda _done: self._inflight.pop(key, None))
        # Shielded: a scraper hanging up must not cancel a review other scrapes are waiting for (it
        # ends within the timeout anyway).
        decision = await asyncio.shield(task)
        if decision.status != 503 and self.cache_ttl > 0:
            self._remember(key, decision)
        return decision

    def _remember(self, key: str, decision: Decision) -> None:
        self._cache[key] = _Cached(decision, self.clock() + self.cache_ttl)
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)  # the least recently used

    async def _review(self, token: str, path: str, verb: str) -> Decision:
        try:
            async with asyncio.timeout(self.timeout):
                async with self._slots:
                    user = await self.client.review_token(token)
                    if isinstance(user, str):
                        logger.debug("metrics scrape unauthenticated: %s", user)
                        self._report(None)
                        return Decision(401, f"the token is not valid: {user}")
                    allowed, reason = await self.client.review_access(user, path, verb)
        except TimeoutError:
            return self._unavailable(f"the API server did not answer within {self.timeout:g} s")
        except ReviewUnavailable as err:
            return self._unavailable(str(err))
        self._report(None)
        if not allowed:
            why = f": {reason}" if reason else ""
            logger.info("metrics scrape forbidden for %s (%s %s)%s", user.username, verb, path, why)
            return Decision(403, f"{user.username} may not {verb} {path}{why}", user.username)
        return Decision(200, "allowed", user.username)

    def _unavailable(self, why: str) -> Decision:
        self._report(why)
        return Decision(503, f"cannot check the token with the API server: {why}")

    def _report(self, failure: str | None) -> None:
        """Warn once per kind of failure (every scrape would otherwise repeat it), and on recovery."""
        if failure == self._failure:
            return
        if failure is None:
            logger.info("metrics authorization: the API server answers again")
        else:
            logger.warning("metrics authorization: cannot check tokens (scrapes get 503): %s", failure)
        self._failure = failure

    def cached_decisions(self) -> int:
        return len(self._cache)

    async def close(self) -> None:
        """Cancel the reviews in flight (at cleanup) and forget every decision."""
        tasks = list(self._inflight.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._inflight.clear()
        self._cache.clear()


class _DemotedErrors(logging.LoggerAdapter[logging.Logger]):
    """kopf logs every failed request at ERROR; during an outage that would be one line per scrape.
    The authorizer warns once per kind of failure instead, so kopf's lines go to DEBUG."""

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.debug(msg, *args, **kwargs)


_api_logger = _DemotedErrors(logger, {})


class KopfReviewClient:
    """TokenReviews and SubjectAccessReviews through kopf's API client: the operator's own login (the
    in-cluster service account, or the kubeconfig), session and re-authentication. One attempt per
    call, bounded by ``request_timeout`` (the authorizer's timeout bounds both calls together)."""

    def __init__(self, kopf_settings: kopf.OperatorSettings, *, request_timeout: float) -> None:
        self._kopf_settings = kopf_settings
        self._timeout = request_timeout

    async def review_token(self, token: str) -> User | str:
        review = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": {"token": token},
        }
        status = (await self._create(TOKEN_REVIEWS_PATH, "tokenreviews", review)).get("status") or {}
        user = status.get("user") or {}
        if status.get("authenticated") is not True or not user.get("username"):
            error = status.get("error")
            return str(error) if error else "not authenticated"
        return User.from_review(user)

    async def review_access(self, user: User, path: str, verb: str) -> tuple[bool, str]:
        spec: dict[str, Any] = {
            "user": user.username,
            "groups": list(user.groups),
            "nonResourceAttributes": {"path": path, "verb": verb},
        }
        if user.uid:
            spec["uid"] = user.uid
        if user.extra:
            spec["extra"] = {key: list(values) for key, values in user.extra}
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        body = await self._create(SUBJECT_ACCESS_REVIEWS_PATH, "subjectaccessreviews", review)
        status = body.get("status") or {}
        reason = str(status.get("reason") or "")
        if status.get("evaluationError"):
            reason = f"{reason} ({status['evaluationError']})" if reason else str(status["evaluationError"])
        # Allowed only when the API server says so; "denied" and no opinion both refuse (fail closed).
        return status.get("allowed") is True and status.get("denied") is not True, reason

    async def _create(self, path: str, plural: str, review: Mapping[str, Any]) -> Mapping[str, Any]:
        try:
            response = await kopf_api.request(
                "post",
                path,
                settings=self._kopf_settings,
                payload=review,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                backoffs=(),  # no retries: the scraper retries at its next interval
                logger=_api_logger,
            )
            async with response:
                body = await response.json()
        except kopf_api.APIForbiddenError as err:
            raise ReviewUnavailable(
                f"the operator may not create {plural} (grant it `create` on {plural} in its ClusterRole)"
            ) from err
        except kopf_api.APIError as err:
            # The Status message only: its details may carry a server-side traceback.
            message = err.message or (err.args[0] if err.args and isinstance(err.args[0], str) else "")
            raise ReviewUnavailable(f"POST {path}: HTTP {err.status}: {message or 'no message'}") from err
        except TimeoutError as err:
            raise ReviewUnavailable(f"POST {path}: no answer within {self._timeout:g} s") from err
        except (aiohttp.ClientError, ValueError, kopf.LoginError) as err:
            raise ReviewUnavailable(f"POST {path}: {str(err) or type(err).__name__}") from err
        if not isinstance(body, Mapping):
            raise ReviewUnavailable(f"POST {path}: the answer is not an object")
        return body

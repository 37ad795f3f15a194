"""Who may scrape /metrics: TokenReview then SubjectAccessReview, decisions cached briefly by token hash,
and every failure to ask the API server refused (fail closed)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import pytest

from cloudcostguard import metrics
from cloudcostguard.k8s.operator import metrics_auth
from cloudcostguard.k8s.operator.metrics_auth import Decision, MetricsAuthorizer, ReviewUnavailable, User

PROMETHEUS = User(
    "system:serviceaccount:monitoring:prometheus-k8s",
    uid="7e1c",
    groups=("system:serviceaccounts", "system:serviceaccounts:monitoring", "system:authenticated"),
    extra=(("authentication.kubernetes.io/pod-name", ("prometheus-k8s-0",)),),
)
DEVELOPER = User("jane@example.com", groups=("system:authenticated",))


@dataclass
class FakeReviews:
    """The API server's answers: tokens → users, users allowed, and an optional failure or delay."""

    users: dict[str, User] = field(default_factory=lambda: {"prom-token": PROMETHEUS, "dev-token": DEVELOPER})
    allowed: set[str] = field(default_factory=lambda: {PROMETHEUS.username})
    failure: Exception | None = None
    delay: float = 0.0
    token_reviews: list[str] = field(default_factory=list)
    access_reviews: list[tuple[User, str, str]] = field(default_factory=list)

    async def review_token(self, token: str) -> User | str:
        self.token_reviews.append(token)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failure is not None:
            raise self.failure
        return self.users.get(token, "invalid bearer token, token lookup failed")

    async def review_access(self, user: User, path: str, verb: str) -> tuple[bool, str]:
        self.access_reviews.append((user, path, verb))
        if user.username in self.allowed:
            return True, 'RBAC: allowed by ClusterRoleBinding "prometheus-metrics-reader"'
        return False, ""


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def authorizer(reviews: FakeReviews, clock: Clock | None = None, **kwargs: float) -> MetricsAuthorizer:
    return MetricsAuthorizer(reviews, clock=clock or Clock(), **kwargs)  # type: ignore[arg-type]


def decisions(result: str) -> float:
    value = metrics.METRICS_AUTH_DECISIONS.labels(result)._value.get()
    return float(value)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc.def", "abc.def"),
        ("bearer abc", "abc"),
        ("  Bearer   abc  ", "abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_is_read_from_the_authorization_header(header: str | None, token: str | None) -> None:
    assert metrics_auth.bearer_token(header) == token


async def test_an_allowed_token_is_served_and_the_review_names_the_user_path_and_verb() -> None:
    reviews = FakeReviews()
    before = decisions("allowed")
    decision = await authorizer(reviews).authorize("Bearer prom-token", "/metrics", "get")
    assert decision == Decision(200, "allowed", PROMETHEUS.username)
    assert reviews.token_reviews == ["prom-token"]
    assert reviews.access_reviews == [(PROMETHEUS, "/metrics", "get")]
    assert decisions("allowed") == before + 1


async def test_no_token_is_401_without_asking_the_api_server() -> None:
    reviews = FakeReviews()
    before = decisions("unauthenticated")
    decision = await authorizer(reviews).authorize(None, "/metrics", "get")
    assert decision.status == 401
    assert decision.reason == "a bearer token is required (Authorization: Bearer <token>)"
    assert reviews.token_reviews == []
    assert decisions("unauthenticated") == before + 1


async def test_an_invalid_token_is_401_with_the_api_servers_reason_and_no_access_review() -> None:
    reviews = FakeReviews()
    decision = await authorizer(reviews).authorize("Bearer forged", "/metrics", "get")
    assert decision == Decision(401, "the token is not valid: invalid bearer token, token lookup failed")
    assert reviews.access_reviews == []


async def test_a_valid_token_without_the_grant_is_403_naming_the_user(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reviews = FakeReviews()
    before = decisions("forbidden")
    with caplog.at_level(logging.INFO, logger=metrics_auth.__name__):
        decision = await authorizer(reviews).authorize("Bearer dev-token", "/metrics", "get")
    assert decision == Decision(403, "jane@example.com may not get /metrics", "jane@example.com")
    assert decisions("forbidden") == before + 1
    assert "dev-token" not in caplog.text  # the user is logged, never the token


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (
            ReviewUnavailable("POST /apis/authentication.k8s.io/v1/tokenreviews: Connection refused"),
            "refused",
        ),
        (
            ReviewUnavailable(
                "the operator may not create tokenreviews (grant it `create` on tokenreviews …)"
            ),
            "may not create tokenreviews",
        ),
    ],
)
async def test_an_unreachable_api_server_is_503_with_the_reason_and_never_serves(
    failure: Exception, reason: str
) -> None:
    reviews = FakeReviews(failure=failure)
    before = decisions("unavailable")
    decision = await authorizer(reviews).authorize("Bearer prom-token", "/metrics", "get")
    assert decision.status == 503 and not decision.allowed
    assert decision.reason.startswith("cannot check the token with the API server: ")
    assert reason in decision.reason
    assert decisions("unavailable") == before + 1


async def test_a_slow_api_server_is_503_within_the_timeout() -> None:
    reviews = FakeReviews(delay=5.0)
    loop = asyncio.get_running_loop()
    started = loop.time()
    decision = await authorizer(reviews, timeout=0.2).authorize("Bearer prom-token", "/metrics", "get")
    assert loop.time() - started < 1.0
    assert decision == Decision(503, "cannot check the token with the API server: the API server did not "
                                     "answer within 0.2 s")  # fmt: skip


async def test_a_decision_is_reused_within_the_ttl_and_asked_again_after() -> None:
    reviews, clock = FakeReviews(), Clock()
    auth = authorizer(reviews, clock, cache_ttl=30.0)
    for _ in range(5):
        assert (await auth.authorize("Bearer prom-token", "/metrics", "get")).allowed
    assert len(reviews.token_reviews) == 1 and len(reviews.access_reviews) == 1  # 4 cache hits
    clock.now += 29.9
    assert (await auth.authorize("Bearer prom-token", "/metrics", "get")).allowed
    assert len(reviews.token_reviews) == 1
    clock.now += 0.2  # 30.1 s after the review: expired
    reviews.allowed.clear()  # the binding was removed meanwhile
    assert (await auth.authorize("Bearer prom-token", "/metrics", "get")).status == 403
    assert len(reviews.token_reviews) == 2


async def test_denials_are_cached_too_but_failures_are_not() -> None:
    reviews = FakeReviews()
    auth = authorizer(reviews)
    for _ in range(3):
        assert (await auth.authorize("Bearer dev-token", "/metrics", "get")).status == 403
        assert (await auth.authorize("Bearer forged", "/metrics", "get")).status == 401
    assert reviews.token_reviews == ["dev-token", "forged"]
    reviews.failure = ReviewUnavailable("connection refused")
    for _ in range(3):
        assert (await auth.authorize("Bearer other", "/metrics", "get")).status == 503
    assert reviews.token_reviews.count("other") == 3  # a failure is retried at the next scrape
    reviews.failure = None
    reviews.users["other"] = PROMETHEUS
    assert (await auth.authorize("Bearer other", "/metrics", "get")).allowed


async def test_the_cache_is_keyed_by_a_hash_of_the_token_and_bounded() -> None:
    reviews = FakeReviews(users={f"token-{n}": PROMETHEUS for n in range(10)})
    auth = authorizer(reviews, max_entries=4)
    for n in range(10):
        assert (await auth.authorize(f"Bearer token-{n}", "/metrics", "get")).allowed
    assert auth.cached_decisions() == 4
    assert all("token-" not in key and len(key) == 64 for key in auth._cache)
    # The most recent four are kept; the first is asked again.
    await auth.authorize("Bearer token-9", "/metrics", "get")
    await auth.authorize("Bearer token-0", "/metrics", "get")
    assert reviews.token_reviews.count("token-9") == 1 and reviews.token_reviews.count("token-0") == 2


async def test_a_zero_ttl_asks_on_every_scrape() -> None:
    reviews = FakeReviews()
    auth = authorizer(reviews, cache_ttl=0.0)
    for _ in range(3):
        assert (await auth.authorize("Bearer prom-token", "/metrics", "get")).allowed
    assert len(reviews.token_reviews) == 3 and auth.cached_decisions() == 0


async def test_concurrent_scrapes_with_one_token_share_one_review() -> None:
    reviews = FakeReviews(delay=0.05)
    auth = authorizer(reviews)
    results = await asyncio.gather(
        *(auth.authorize("Bearer prom-token", "/metrics", "get") for _ in range(20))
    )
    assert {result.status for result in results} == {200}
    assert len(reviews.token_reviews) == 1


async def test_at_most_eight_reviews_run_at_once() -> None:
    running = peak = 0

    class Counting(FakeReviews):
        async def review_token(self, token: str) -> User | str:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.02)
            running -= 1
            return PROMETHEUS

    auth = authorizer(Counting())
    results = await asyncio.gather(*(auth.authorize(f"Bearer t{n}", "/metrics", "get") for n in range(40)))
    assert [r.status for r in results] == [200] * 40
    assert peak == metrics_auth.MAX_CONCURRENT_REVIEWS == 8


async def test_an_outage_is_warned_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    reviews = FakeReviews(failure=ReviewUnavailable("connection refused"))
    auth = authorizer(reviews)
    with caplog.at_level(logging.INFO, logger=metrics_auth.__name__):
        for n in range(5):
            await auth.authorize(f"Bearer t{n}", "/metrics", "get")
        reviews.failure = None
        await auth.authorize("Bearer prom-token", "/metrics", "get")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "metrics authorization: cannot check tokens (scrapes get 503): connection refused"
    ]
    assert "the API server answers again" in caplog.text


async def test_close_cancels_reviews_in_flight() -> None:
    reviews = FakeReviews(delay=10.0)
    auth = authorizer(reviews)
    scrape = asyncio.create_task(auth.authorize("Bearer prom-token", "/metrics", "get"))
    await asyncio.sleep(0.01)
    await auth.close()
    with pytest.raises(asyncio.CancelledError):
        await scrape
    assert auth._inflight == {}


def test_a_review_user_becomes_the_access_reviews_subject() -> None:
    user = User.from_review(
        {
            "username": "system:serviceaccount:monitoring:prometheus-k8s",
            "uid": "7e1c",
            "groups": ["system:serviceaccounts", "system:serviceaccounts:monitoring", "system:authenticated"],
            "extra": {"authentication.kubernetes.io/pod-name": ["prometheus-k8s-0"]},
        }
    )
    assert user == PROMETHEUS

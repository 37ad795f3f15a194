"""How much admission work the webhook takes on at once, and what it answers beyond that.

The webhook decides on the event loop, and estimates large plans in ``webhook_workers`` threads: without
a bound, a burst of large reviews would queue behind those threads without limit, each holding its
parsed review in memory and waiting for an answer the API server stopped waiting for (its
``timeoutSeconds``). ``InFlightLimit`` admits at most ``CCG_WEBHOOK_MAX_IN_FLIGHT`` reviews being
decided at once; the next one is answered at once with an HTTP 429: before its body is read when the
limit is reached already, else before it is parsed.

Why 429, and why no ``Retry-After``: the API server treats any non-200 answer of a webhook as a failed
call, so the webhook's ``failurePolicy`` decides (Fail: the change is refused with our message; Ignore:
admitted unchecked), which is what an overloaded webhook must leave to the cluster's owner. A
``Retry-After`` header (client-go's rest client retries on it) or ``details.retryAfterSeconds`` in the
Status (the webhook dispatcher's backoff retries on it) would have the API server send the same review
again within the same timeout: more load on a webhook that is already over its limit, and a slower
answer for the user. The status and Status reason match the API server's own answer when it is over
its ``--max-requests-inflight``.

Only reviews being decided count, from their complete body to their answer: a client still sending its
body holds no slot (it is bounded by ``CCG_WEBHOOK_READ_TIMEOUT`` instead), so slow clients cannot use
up the limit. Reviews the loop decides without waiting (small plans, remembered estimates) leave again
before the next request is read; in practice the slots are held by reviews waiting for, or running in,
a worker thread.
"""

from __future__ import annotations

from cloudcostguard import metrics

OVERLOAD_STATUS = 429
OVERLOAD_REASON = "TooManyRequests"


class InFlightLimit:
    """At most ``limit`` reviews in flight; used from the event loop only (no lock needed)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        self.limit = limit
        self.in_flight = 0

    @property
    def full(self) -> bool:
        return self.in_flight >= self.limit

    def try_enter(self) -> bool:
        """Take a slot, or False (nothing taken) when all are in use."""
        if self.full:
            return False
        self.in_flight += 1
        metrics.ADMISSION_IN_FLIGHT.inc()
        return True

    def leave(self) -> None:
        self.in_flight -= 1
        metrics.ADMISSION_IN_FLIGHT.dec()

    def overload_message(self) -> str:
        return (
            f"the CloudCostGuard webhook is over its limit of {self.limit} reviews in flight "
            "(CCG_WEBHOOK_MAX_IN_FLIGHT): not judged, the webhook's failurePolicy applies"
        )

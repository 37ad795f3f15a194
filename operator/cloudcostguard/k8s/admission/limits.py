"""How much admission work the webhook takes on at once, and what it answers beyond that.

The webhook decides on the event loop, and estimates large plans in ``webhook_workers`` threads:
without a bound, a burst of large reviews would queue behind those threads without limit, each
holding its parsed review in memory and waiting for an answer the API server stopped waiting for (its
``timeoutSeconds``); and at high concurrency every review would be read and judged in turn, so every
answer would come late. ``InFlightLimit`` admits at most ``CCG_WEBHOOK_MAX_IN_FLIGHT`` reviews in
flight; the next one is answered at once with an HTTP 429, its body not even read.

A review is in flight from its complete request head to its answer: while its body arrives, while it
waits for or runs in a worker thread, while it is judged. Counting from the head, not from the
complete body, is what bounds memory (at most the limit × ``CCG_WEBHOOK_MAX_REVIEW_BYTES`` of bodies
being read, whatever the number of connections) and makes the answers beyond the limit cheap. A slow
client holds its slot for at most ``CCG_WEBHOOK_READ_TIMEOUT`` (then 408); where anything but the
API server can reach the webhook port, ``CCG_WEBHOOK_CLIENT_CA_FILE`` or the chart's NetworkPolicy
keep others from holding slots at all.

Why 429, and why no ``Retry-After``: the API server treats any answer of a webhook but a 200 with an
AdmissionReview as a failed call, so the webhook's ``failurePolicy`` decides (Fail: the change is
refused with our message; Ignore: admitted unchecked), which is what an overloaded webhook must leave to
the cluster's owner. client-go, which the API server calls webhooks with, sends a request again when a
429 or 5xx carries ``Retry-After``: that would put the same review back on a webhook already over its
limit, within the same ``timeoutSeconds``, and answer the user later. The status and the Status reason
are the API server's own when it is over its ``--max-requests-inflight`` (which does ask clients to
come back: they are users, not a webhook's caller with a failurePolicy).
"""

from __future__ import annotations

import asyncio

from cloudcostguard import metrics

OVERLOAD_STATUS = 429


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


async def let_arrivals_count() -> None:
    """Yield to the loop once, after taking a slot and before any work.

    A review whose body is already buffered is read and judged without yielding: without this, the
    reviews that arrived together would each take a slot, finish and give it back in turn, the count
    would never pass 1, and at high concurrency all of them would be judged one after another, each
    answer later than the one before. With it, every review that arrived in the same turn of the
    loop has taken its slot (or been answered 429) before the first is judged.
    """
    await asyncio.sleep(0)

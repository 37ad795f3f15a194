"""Per-namespace fairness: concurrency slots shared round-robin between namespaces, and token buckets.

The operator runs one reconcile loop per CostEstimate, all on one event loop. Without limits, one
namespace with many CostEstimates pointing at slow URLs (or at huge plans) holds every connection of the
URL pool and every worker thread, and the others wait behind it. Two tools bound what one namespace
takes:

- ``FairLimiter``: at most ``total`` holders overall and ``per_key`` per namespace. A freed slot goes to
  the next namespace in round-robin order among those waiting and under their cap (oldest waiter first
  within one), so a namespace with 500 waiters and one with 1 take turns instead of queueing in
  arrival order.
- ``TokenBuckets``: at most ``burst`` acquisitions at once, refilled at ``rate`` per second, per namespace.

Both wait at most ``max_wait`` seconds, then raise ``ThrottledError`` with a ``retry_after``: the object
gets Ready=False reason Throttled (when it has no current estimate) and is looked at again then; it is
never failed for being throttled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable

from cloudcostguard import errors

# Buckets that are full again carry no information; past this many namespaces they are dropped.
_BUCKETS_KEPT = 1024


class FairLimiter:
    """Concurrency slots, ``total`` overall and ``per_key`` per key, granted round-robin across keys."""

    def __init__(self, total: int, per_key: int, *, what: str) -> None:
        if total < 1 or per_key < 1:
            raise ValueError("limits must be at least 1")
        self.total = total
        self.per_key = per_key
        self.what = what  # for messages: "reconciles", "URL fetches"
        self._held = 0
        self._in_use: dict[str, int] = {}
        # Keys with waiters, in round-robin order (a served key moves to the end).
        self._waiting: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    def in_use(self, key: str | None = None) -> int:
        return self._held if key is None else self._in_use.get(key, 0)

    def waiting(self, key: str | None = None) -> int:
        if key is not None:
            return sum(not future.done() for future in self._waiting.get(key, ()))
        return sum(self.waiting(name) for name in self._waiting)

    @contextlib.asynccontextmanager
    async def slot(self, key: str, *, max_wait: float, retry_after: float) -> AsyncIterator[None]:
        await self.acquire(key, max_wait=max_wait, retry_after=retry_after)
        try:
            yield
        finally:
            self.release(key)

    async def acquire(self, key: str, *, max_wait: float, retry_after: float) -> None:
        if self._held < self.total and self._in_use.get(key, 0) < self.per_key:
            # Free capacity means no eligible waiter exists (every release dispatches), so taking it
            # now jumps no queue.
            self._grant(key)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append(future)
        try:
            async with asyncio.timeout(max_wait):
                await future
        except TimeoutError as err:
            self._discard(key, future)
            raise errors.ThrottledError(self._message(key, max_wait), retry_after=retry_after) from err
        except BaseException:
            if future.done() and not future.cancelled():
                self.release(key)  # granted just as the waiter was cancelled: hand it on
            else:
                self._discard(key, future)
            raise

    def release(self, key: str) -> None:
        self._held -= 1
        left = self._in_use.get(key, 0) - 1
        if left > 0:
            self._in_use[key] = left
        else:
            self._in_use.pop(key, None)
        self._dispatch()

    def _grant(self, key: str) -> None:
        self._held += 1
        self._in_use[key] = self._in_use.get(key, 0) + 1

    def _dispatch(self) -> None:
        while self._held < self.total:
            for key, queue in self._waiting.items():
                while queue and queue[0].done():
                    queue.popleft()  # gave up waiting
                if queue and self._in_use.get(key, 0) < self.per_key:
                    break
            else:
                self._drop_empty()
                return
            queue.popleft().set_result(None)
            self._grant(key)
            self._waiting.move_to_end(key)
        self._drop_empty()

    def _discard(self, key: str, future: asyncio.Future[None]) -> None:
        future.cancel()
        queue = self._waiting.get(key)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(future)
        self._drop_empty()

    def _drop_empty(self) -> None:
        for key in [key for key, queue in self._waiting.items() if not queue]:
            del self._waiting[key]

    def _message(self, key: str, max_wait: float) -> str:
        return (
            f"namespace {key} is at its limit of {self.per_key} concurrent {self.what} "
            f"(or the operator at its limit of {self.total}): not started within {max_wait:g} s"
        )


class TokenBuckets:
    """One token bucket per key: ``burst`` tokens, refilled at ``rate`` per second."""

    def __init__(
        self, rate: float, burst: int, *, what: str, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate = rate
        self.burst = burst
        self.what = what
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, at)

    def reserve(self, key: str, *, max_wait: float) -> float:
        """Take a token; the seconds to sleep before using it (0: at once). ``ThrottledError`` when it
        would come later than ``max_wait`` (nothing is taken then)."""
        now = self._clock()
        tokens = self._tokens(key, now)
        delay = max(0.0, (1.0 - tokens) / self.rate)
        if delay > max_wait:
            raise errors.ThrottledError(
                f"namespace {key} is over its rate of {self.rate:g} {self.what}/s (burst {self.burst})",
                retry_after=delay,
            )
        # Tokens may go below zero: later callers then wait behind this reservation.
        self._buckets[key] = (tokens - 1.0, now)
        if len(self._buckets) > _BUCKETS_KEPT:
            self._buckets = {
                name: value for name, value in self._buckets.items() if self._tokens(name, now) < self.burst
            }
        return delay

    def _tokens(self, key: str, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            return float(self.burst)
        tokens, at = bucket
        return min(float(self.burst), tokens + (now - at) * self.rate)

    async def acquire(self, key: str, *, max_wait: float) -> None:
        delay = self.reserve(key, max_wait=max_wait)
        if delay > 0:
            await asyncio.sleep(delay)

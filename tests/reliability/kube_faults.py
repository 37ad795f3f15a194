"""A KMock API server that fails on purpose: errors, conflicts, 410 Gone, dropped watches, slow answers.

KMock applies every object-changing request to its store *before* any reaction is consulted (a reaction
can change the answer, not the outcome). An API server that answers 500 or 409 has changed nothing, so
faults are injected here, in front of KMock's handling: a request a fault takes is answered by the fault
alone and never reaches the store. Test scaffolding only.

KMock routes each request by asking every reaction whether the request is among those it has seen —
a scan of every request served so far, so each request costs more than the last (about four creates a
second once an operator has run for a while). ``history=False`` keeps only the requests in flight:
the same routing, at a constant cost, for load tests that count nothing through the request log.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp.web
import kmock
import orjson

from tests import kmock_support as ks

Match = Callable[[kmock.Request], bool]


@dataclass
class Fault:
    """What happens to the requests ``match`` selects, for the first ``times`` of them (None: all)."""

    match: Match
    status: int | None = None  # answer with this HTTP status and a Kubernetes Status body
    delay: float = 0.0  # wait this long first (alone: a slow answer, then served normally)
    watch_error: int | None = None  # a watch: stream one ERROR event with this code, then end
    times: int | None = None
    hits: list[float] = field(default_factory=list)  # time.monotonic() of each request it took

    def takes(self, request: kmock.Request) -> bool:
        return (self.times is None or len(self.hits) < self.times) and self.match(request)


def status_body(code: int) -> dict[str, Any]:
    reason = {409: "Conflict", 410: "Expired", 500: "InternalError", 503: "ServiceUnavailable"}.get(
        code, "InternalError"
    )
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "metadata": {},
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": f"injected by the test: {code} {reason}",
    }


class FaultyEmulator(kmock.KubernetesEmulator):
    """``KubernetesEmulator`` with ``faults`` consulted first and watch streams the test can cut."""

    def __init__(self, *, history: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.faults: list[Fault] = []
        self.watches: set[asyncio.Transport] = set()
        self.history = history

    def inject(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def drop_watches(self) -> int:
        """Cut every open watch stream (a load balancer or an API server restart); how many were cut."""
        dropped = 0
        for transport in list(self.watches):
            if not transport.is_closing():
                transport.abort()
                dropped += 1
        self.watches.clear()
        return dropped

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        fault = next((fault for fault in self.faults if fault.takes(request)), None)
        raw = request._raw_request
        if fault is not None:
            fault.hits.append(time.monotonic())
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.watch_error is not None and raw is not None:
                stream = aiohttp.web.StreamResponse()
                await stream.prepare(raw)
                event = {"type": "ERROR", "object": status_body(fault.watch_error)}
                await stream.write(orjson.dumps(event) + b"\n")
                await stream.write_eof()
                return stream
            if fault.status is not None:
                return aiohttp.web.json_response(status_body(fault.status), status=fault.status)
        if request.action == kmock.action.WATCH and raw is not None and raw.transport is not None:
            self.watches.add(raw.transport)  # type: ignore[arg-type]
        try:
            return await super()._handle(request)
        finally:
            if not self.history:
                with contextlib.suppress(ValueError):
                    self._requests.remove(request)


def is_status_patch(resource: str) -> Match:
    plural = resource.rsplit("/", 1)[1]

    def match(request: kmock.Request) -> bool:
        return (
            request.method == kmock.method.PATCH
            and request.resource is not None
            and request.resource.plural == plural
            and request.subresource == "status"
        )

    return match


def is_watch(resource: str) -> Match:
    plural = resource.rsplit("/", 1)[1]

    def match(request: kmock.Request) -> bool:
        return (
            request.action == kmock.action.WATCH
            and request.resource is not None
            and request.resource.plural == plural
        )

    return match


def is_list(resource: str) -> Match:
    plural = resource.rsplit("/", 1)[1]

    def match(request: kmock.Request) -> bool:
        return (
            request.action == kmock.action.LIST
            and request.resource is not None
            and request.resource.plural == plural
        )

    return match


@contextlib.asynccontextmanager
async def faulty_server(*, history: bool = True) -> AsyncIterator[tuple[FaultyEmulator, str]]:
    """As ``kmock_support.emulator_server()``, with a ``FaultyEmulator``."""
    with ks.namespaces_path_parser_patched():
        async with FaultyEmulator(history=history) as emulator, kmock.Server(emulator) as server:
            ks.declare_resources(emulator)
            yield emulator, str(server.url).rstrip("/")

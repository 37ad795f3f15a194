"""How the admission webhook is served: certificates, kopf's ``WebhookServer``, and the lean path.

``configure_admission`` (called by ``cloudcostguard run`` at startup, ``k8s.process``) puts an
``AdmissionServer`` into ``kopf_settings.admission.server`` and the ``AdmissionRuntime`` into kopf's
memo; ``stop_admission`` releases the worker threads and a generated certificate directory at
cleanup. kopf itself starts and stops the server (and reloads it when the certificate files change,
e.g. on cert-manager renewal).

``AdmissionServer`` is kopf's ``WebhookServer`` with two differences:

- ``/validate-costestimate`` and ``/validate-plan-source`` are answered by the lean path
  (``review.answer_review``: orjson in and out, one decision, no per-request kopf causes, diffs,
  memo recall or handler bookkeeping), unless ``settings.webhook_fast_path`` is off. Every other path,
  and ``/kopf/<id>`` for every id, goes through kopf's machinery to the same handlers (and so to the
  same decision): both paths stay reachable side by side for comparison and as a fallback.
- Requests are checked before kopf sees them: a body that is not an AdmissionReview gets a 400 with
  the reason (kopf would answer some of them with a 500), and bodies over
  ``settings.webhook_max_review_bytes`` get a 413 (kopf's aiohttp default is 1 MiB, below what an
  object with a large inline plan can be).

And bounds, on both paths (RELIABILITY.md, "Admission webhook bounds"):

- at most ``webhook_max_in_flight`` reviews are in flight (body being read, or being decided); the
  next is answered 429 at once (``limits``: why 429, why counted from the request head, and why the
  API server then applies the failurePolicy rather than retrying);
- a slow client holds a connection, never a worker, and not for long: the TLS handshake and a request
  body each get ``webhook_read_timeout`` (a late body is answered 408 and its connection closed), and a
  connection without a complete request head (idle keep-alive, or headers trickling in) is closed after
  ``webhook_idle_timeout`` (aiohttp's keep-alive timer, which runs from the connection's start and
  after each response, until the next request head is complete);
- TLS 1.2 or later only; with ``webhook_client_ca_file``, the client (the API server) must present a
  certificate that CA signed, or the handshake fails;
- on shutdown the listener closes and the reviews in flight are answered within ``shutdown_timeout``
  (the read and decision timeouts: below the pod's grace period), then the rest is cancelled.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import ssl
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import aiohttp.web
import kopf
import orjson

from cloudcostguard import errors, metrics, performance
from cloudcostguard.k8s.admission import certificates, kopf_webhook, limits, review
from cloudcostguard.k8s.admission.decision import HANDLER_IDS, AdmissionRuntime
from cloudcostguard.k8s.admission.memo import AdmissionMemo
from cloudcostguard.pricing.catalog import PriceCatalog
from cloudcostguard.settings import Settings, listen_address

logger = logging.getLogger(__name__)

KOPF_PREFIX = "kopf"  # /kopf/<id>: kopf's machinery for every handler id, whatever the lean path serves


class AdmissionServer(kopf_webhook.WebhookServerBase):
    """kopf's HTTPS webhook server plus the lean path for CloudCostGuard's own handler ids."""

    def __init__(
        self,
        *,
        runtime: Callable[[], AdmissionRuntime | None],
        lean_handlers: Collection[str] = HANDLER_IDS,
        max_body_bytes: int = 8 * 1024 * 1024,
        max_in_flight: int = 32,
        read_timeout: float = 5.0,
        idle_timeout: float = 30.0,
        shutdown_timeout: float = 20.0,
        client_ca_file: str | None = None,
        **kwargs: Any,
    ) -> None:
        if client_ca_file is not None:
            # kopf loads it and would only ask for a certificate (CERT_OPTIONAL): require one.
            kwargs.update(verify_cafile=client_ca_file, verify_mode=ssl.CERT_REQUIRED)
        super().__init__(**kwargs)
        self.runtime = runtime
        self.lean_handlers = tuple(lean_handlers)
        self.max_body_bytes = max_body_bytes
        self.limit = limits.InFlightLimit(max_in_flight)
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self.shutdown_timeout = shutdown_timeout

    async def __call__(self, fn: kopf.WebhookFn) -> AsyncIterator[kopf.WebhookClientConfig]:
        # The same life cycle as kopf's WebhookServer.__call__, with our routes and body limit.
        while True:
            # The files' digest is taken with the certificate they give: a renewal landing any time
            # after this is noticed (a baseline taken after the yield would miss an early one).
            loaded = await self._files_digest()
            cadata, context = self.tls_context()
            if context is not None:
                # Python's default already; said here so that no kopf or Python change lowers it.
                context.minimum_version = ssl.TLSVersion.TLSv1_2
            root = self.path.rstrip("/") if self.path else ""
            app = aiohttp.web.Application(client_max_size=self.max_body_bytes)
            routes = [
                aiohttp.web.post(f"{root}/{handler}", self._lean(handler)) for handler in self.lean_handlers
            ]
            routes.append(aiohttp.web.post(f"{root}/{KOPF_PREFIX}/{{id}}", self._through_kopf(fn)))
            routes.append(aiohttp.web.post(f"{root}/{{id:.*}}", self._through_kopf(fn)))
            app.add_routes(routes)
            runner = aiohttp.web.AppRunner(
                app,
                handle_signals=False,
                access_log=None,
                shutdown_timeout=self.shutdown_timeout,
                keepalive_timeout=self.idle_timeout,
                # Unread body after an early answer (413, 429): drained for keep-alive, but not longer.
                lingering_time=self.read_timeout,
            )
            await runner.setup()
            try:
                addr = self.addr or None
                port = self.listen_port()
                site = _TLSSite(runner, addr, port, ssl_context=context, handshake_timeout=self.read_timeout)
                await site.start()
                schema = "http" if context is None else "https"
                url = self.advertised_url(schema, port)
                logger.info("admission webhook listening at %s", url)
                client_config = kopf.WebhookClientConfig(url=url)
                if cadata is not None:
                    client_config["caBundle"] = base64.b64encode(cadata).decode("ascii")
                yield client_config
                await self._sleep_until_files_change(loaded)
                logger.info("admission webhook certificate files changed: restarting the listener")
            finally:
                await runner.cleanup()

    async def _files_digest(self) -> str:
        digest = hashlib.sha256()
        files = (self.certfile, self.pkeyfile, self.cafile, self.verify_cafile)
        for path in (Path(p) for p in files if p is not None):
            try:
                digest.update(await asyncio.to_thread(path.read_bytes))
            except OSError:
                digest.update(b"\0missing")  # being replaced: compare again next time
        return digest.hexdigest()

    async def _sleep_until_files_change(self, loaded: str) -> None:
        """Return when the certificate files differ from ``loaded`` (mounted Secrets send no events)."""
        # Polling is the only way: a Secret volume's files are swapped by the kubelet without events.
        while True:
            if await self._files_digest() != loaded:
                return
            await asyncio.sleep(self.file_check_interval)

    def _lean(self, handler: str) -> Callable[[aiohttp.web.Request], Any]:
        async def serve(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
            started = time.perf_counter()
            runtime = self.runtime()
            if runtime is None:
                return _status_response(503, "the admission webhook is starting")
            if not self.limit.try_enter():
                return self._overloaded(handler)  # at once: not even the body is read
            try:
                await limits.let_arrivals_count()
                body = await _read_body(request, self.max_body_bytes, self.read_timeout)
                if isinstance(body, aiohttp.web.StreamResponse):
                    return body
                status, payload, reason = await review.answer_review(handler, body, runtime)
            finally:
                self.limit.leave()
            metrics.ADMISSION_DURATION.labels(handler).observe(time.perf_counter() - started)
            return aiohttp.web.Response(
                body=payload, status=status, reason=_ascii(reason), content_type="application/json"
            )

        return serve

    def _through_kopf(self, fn: kopf.WebhookFn) -> Callable[[aiohttp.web.Request], Any]:
        async def serve(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
            webhook = request.match_info.get("id")
            if not self.limit.try_enter():
                return self._overloaded(webhook or "")
            try:
                await limits.let_arrivals_count()
                body = await _read_body(request, self.max_body_bytes, self.read_timeout)
                if isinstance(body, aiohttp.web.StreamResponse):
                    return body
                return await self._kopf_answer(fn, request, body, webhook)
            finally:
                self.limit.leave()

        return serve

    def _overloaded(self, handler: str) -> aiohttp.web.Response:
        metrics.ADMISSION_OVERLOAD_REJECTIONS.labels(handler).inc()
        return _status_response(limits.OVERLOAD_STATUS, self.limit.overload_message())

    async def _kopf_answer(
        self, fn: kopf.WebhookFn, request: aiohttp.web.Request, body: bytes, webhook: str | None
    ) -> aiohttp.web.StreamResponse:
        try:
            parsed = review.parse_review(body)
        except review.ReviewError as err:
            metrics.ADMISSION_REJECTED_REVIEWS.labels(str(err.status)).inc()
            return _status_response(err.status, err.reason)
        # What kopf's WebhookServer._serve passes on: the apiserver's identity for handlers.
        sslpeer = request.transport.get_extra_info("peercert") if request.transport else None
        try:
            response = await fn(
                cast("kopf_webhook.ReviewRequest", parsed),
                webhook=webhook,
                sslpeer=sslpeer,
                headers=dict(request.headers),
            )
        except kopf_webhook.AmbiguousResourceError as err:
            return _status_response(409, str(err) or "ambiguous resource")
        except kopf_webhook.UnknownResourceError as err:
            return _status_response(404, str(err) or "no handler for this resource")
        except kopf_webhook.WebhookError as err:
            return _status_response(400, str(err) or "bad admission request")
        return aiohttp.web.Response(body=orjson.dumps(response), content_type="application/json")


class _TLSSite(aiohttp.web.BaseSite):
    """aiohttp's ``TCPSite`` with a bound on the TLS handshake (asyncio's default is 60 s), which
    ``TCPSite`` does not pass on: a client that connects and stalls mid-handshake is dropped then."""

    __slots__ = ("_handshake_timeout", "_host", "_port")

    def __init__(
        self,
        runner: aiohttp.web.BaseRunner,
        host: str | None,
        port: int,
        *,
        ssl_context: ssl.SSLContext | None,
        handshake_timeout: float,
    ) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host, self._port, self._handshake_timeout = host, port, handshake_timeout

    @property
    def name(self) -> str:
        return f"{'https' if self._ssl_context else 'http'}://{self._host or '0.0.0.0'}:{self._port}"  # noqa: S104

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        assert server is not None  # set by runner.setup(), which BaseSite.__init__ checked
        self._server = await asyncio.get_running_loop().create_server(
            server,
            self._host,
            self._port,
            ssl=self._ssl_context,
            reuse_address=True,
            ssl_handshake_timeout=self._handshake_timeout if self._ssl_context is not None else None,
        )


async def _read_body(
    request: aiohttp.web.Request, limit: int, read_timeout: float
) -> bytes | aiohttp.web.StreamResponse:
    """The whole body, or the error to answer: 413 over ``limit`` bytes, 408 after ``read_timeout`` s."""
    try:
        async with asyncio.timeout(read_timeout):
            return await request.read()
    except aiohttp.web.HTTPRequestEntityTooLarge:
        metrics.ADMISSION_REJECTED_REVIEWS.labels("413").inc()
        return _status_response(413, f"AdmissionReview larger than the limit of {limit} bytes")
    except TimeoutError:
        metrics.ADMISSION_READ_TIMEOUTS.inc()
        response = _status_response(408, f"request body not received within {read_timeout:g} s")
        # The rest of a slow body is not waited for (aiohttp would linger to drain it): the 408 is
        # written, then the connection closed.
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        if request.transport is not None:
            request.transport.close()
        return response


def _ascii(reason: str | None) -> str | None:
    # The HTTP status line carries the reason too (as kopf does); it must be one line of ASCII.
    return None if reason is None else reason.encode("ascii", "replace").decode()


def _status_response(status: int, reason: str) -> aiohttp.web.Response:
    error = review.ReviewError(status, reason)
    return aiohttp.web.Response(
        body=review.rejection(error),
        status=status,
        reason=_ascii(error.reason),
        content_type="application/json",
    )


# --- wiring ----------------------------------------------------------------------------------------


def _catalog_getter(memo: AdmissionMemo) -> Callable[[], PriceCatalog]:
    def current() -> PriceCatalog:
        provider = memo.catalog_provider
        if not provider.ready:
            raise errors.PricingError("the price catalog is not loaded yet")
        return provider.current()

    return current


def configure_admission(
    kopf_settings: kopf.OperatorSettings, settings: Settings, memo: AdmissionMemo
) -> None:
    """Serve the webhook from this process: certificates, server, runtime (see the module docstring)."""
    addr, port = listen_address(settings.webhook_listen, "webhook_listen")
    cert_file, key_file, ca_file = settings.webhook_cert_file, settings.webhook_key_file, None
    if (cert_file is None) != (key_file is None):
        raise errors.ConfigurationError(
            "invalid setting CCG_WEBHOOK_CERT_FILE/CCG_WEBHOOK_KEY_FILE: give both or neither"
        )
    if cert_file is None:
        directory = settings.webhook_cert_dir
        if directory is None:
            temporary = tempfile.TemporaryDirectory(prefix="cloudcostguard-webhook-")
            memo.webhook_cert_dir = temporary  # removed by stop_admission
            directory = Path(temporary.name)
        hosts = [settings.webhook_host or "localhost", "localhost", "127.0.0.1", "::1"]
        if addr and addr not in ("0.0.0.0", "::"):  # noqa: S104 - comparing, not binding
            hosts.append(addr)
        paths = certificates.generate_self_signed(directory, hosts)
        cert_file, key_file, ca_file = paths.cert_file, paths.key_file, paths.ca_file
        logger.info("admission webhook uses a generated self-signed certificate; CA: %s", ca_file)
    executor = ThreadPoolExecutor(max_workers=settings.webhook_workers, thread_name_prefix="ccg-admission")
    runtime = AdmissionRuntime(
        settings=settings, state=memo.cluster, catalog=_catalog_getter(memo), executor=executor
    )
    memo.admission = runtime
    kopf_settings.admission.server = AdmissionServer(
        runtime=lambda: memo.admission,
        lean_handlers=HANDLER_IDS if settings.webhook_fast_path else (),
        max_body_bytes=settings.webhook_max_review_bytes,
        max_in_flight=settings.webhook_max_in_flight,
        read_timeout=settings.webhook_read_timeout,
        idle_timeout=settings.webhook_idle_timeout,
        # A review that just arrived: its body, then its decision; below the pod's grace period (30 s).
        shutdown_timeout=settings.webhook_read_timeout + settings.webhook_decision_timeout,
        client_ca_file=str(settings.webhook_client_ca_file) if settings.webhook_client_ca_file else None,
        addr=addr,
        port=port,
        host=settings.webhook_host,
        certfile=str(cert_file),
        pkeyfile=str(key_file),
        cafile=str(ca_file) if ca_file is not None else None,
    )
    settle_heap()  # called at startup, after the operator loaded the price catalog


def settle_heap() -> None:
    """Take everything alive now (modules, kopf, the loaded price catalog) out of the garbage collector's
    generations.

    A large AdmissionReview allocates tens of thousands of short-lived objects, which triggers
    collections; the full ones would otherwise walk every long-lived object each time, which showed as
    CPU per request and as the p99 tail of admission latency (benchmarks/admission_latency.py).
    Reference counting still frees these objects; only cycles among them are no longer looked for.
    """
    performance.freeze_heap()


async def stop_admission(memo: AdmissionMemo) -> None:
    """Release what ``configure_admission`` made (kopf stops the server itself)."""
    runtime, memo.admission = memo.admission, None
    if runtime is not None and runtime.executor is not None:
        # Running estimates finish (they are bounded by the decision timeout); queued ones are dropped.
        executor = runtime.executor
        await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
    temporary, memo.webhook_cert_dir = memo.webhook_cert_dir, None
    if temporary is not None:
        temporary.cleanup()

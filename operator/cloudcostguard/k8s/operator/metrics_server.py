"""The ``/metrics`` endpoint: HTTPS with the API server deciding who may scrape, or plain HTTP when asked.

``CCG_METRICS_SECURE=true`` (the default): TLS 1.2 or later, with the certificate in
``CCG_METRICS_CERT_FILE`` / ``CCG_METRICS_KEY_FILE`` (cert-manager's Secret in ``config/default``),
re-read when the files change (renewal needs no restart), or else a generated self-signed pair for
this process (a temporary directory, removed at cleanup). Every scrape is authorized by
``metrics_auth.MetricsAuthorizer`` (TokenReview, then SubjectAccessReview for ``get /metrics``).

``CCG_METRICS_SECURE=false``: plain HTTP, no authentication — anyone who reaches the port reads the
metrics. Only for a local run, or a cluster where a NetworkPolicy or a proxy guards the port.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp.web
import kopf
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from cloudcostguard import errors
from cloudcostguard.k8s import certificates
from cloudcostguard.k8s.operator import metrics_auth
from cloudcostguard.settings import Settings

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
# How often the certificate files are compared with what is served (a Secret volume's files are
# swapped by the kubelet without any event to wait for).
FILE_CHECK_INTERVAL = 10.0
# The realm named in 401 answers' WWW-Authenticate header.
REALM = "cloudcostguard-metrics"


class ServerCertificate:
    """The TLS context of ``/metrics``, from a certificate and key file, reloadable in place.

    New connections use whatever ``load_cert_chain`` loaded last, so a renewal takes effect without
    rebinding the port; a half-written pair (the kubelet swaps both files) keeps the old one in use.
    """

    def __init__(
        self, cert_file: Path, key_file: Path, *, generated: tempfile.TemporaryDirectory[str] | None
    ) -> None:
        self.cert_file = cert_file
        self.key_file = key_file
        self._generated = generated
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._loaded = self._digest()
        try:
            self.context.load_cert_chain(str(cert_file), str(key_file))
        except (OSError, ssl.SSLError) as err:
            raise errors.ConfigurationError(
                f"cannot load the metrics certificate (CCG_METRICS_CERT_FILE={cert_file}, "
                f"CCG_METRICS_KEY_FILE={key_file}): {err}"
            ) from err

    @classmethod
    def from_settings(cls, settings: Settings) -> ServerCertificate:
        cert, key = settings.metrics_cert_file, settings.metrics_key_file
        if (cert is None) != (key is None):
            raise errors.ConfigurationError(
                "invalid setting CCG_METRICS_CERT_FILE: CCG_METRICS_CERT_FILE and CCG_METRICS_KEY_FILE "
                "go together (set both, or neither for a generated self-signed pair)"
            )
        if cert is not None and key is not None:
            return cls(cert, key, generated=None)
        directory = tempfile.TemporaryDirectory(prefix="cloudcostguard-metrics-")
        paths = certificates.generate_self_signed(
            Path(directory.name),
            ["localhost", "127.0.0.1", "::1", socket.gethostname()],
            ca_name="cloudcostguard local metrics CA",
        )
        logger.info("/metrics serves a generated self-signed certificate (CA: %s)", paths.ca_file)
        return cls(paths.cert_file, paths.key_file, generated=directory)

    @property
    def ca_file(self) -> Path | None:
        """The CA of a generated pair (for local clients); None with configured files."""
        return Path(self._generated.name) / "ca.pem" if self._generated is not None else None

    def _digest(self) -> str:
        digest = hashlib.sha256()
        for path in (self.cert_file, self.key_file):
            try:
                digest.update(path.read_bytes())
            except OSError:
                digest.update(b"\0missing")
        return digest.hexdigest()

    def reload_if_changed(self) -> bool:
        """Load the files again if they changed since the last load; True when the new pair is served."""
        current = self._digest()
        if current == self._loaded:
            return False
        try:
            self.context.load_cert_chain(str(self.cert_file), str(self.key_file))
        except (OSError, ssl.SSLError) as err:
            logger.warning("metrics certificate files changed but do not load (yet): %s", err)
            return False
        self._loaded = current
        logger.info("metrics certificate reloaded from %s", self.cert_file)
        return True

    async def watch(self, interval: float | None = None) -> None:
        while True:
            await asyncio.sleep(FILE_CHECK_INTERVAL if interval is None else interval)
            await asyncio.to_thread(self.reload_if_changed)

    def close(self) -> None:
        if self._generated is not None:
            self._generated.cleanup()
            self._generated = None


@dataclass(eq=False)
class MetricsEndpoint:
    """What serves ``/metrics``: the app, and in secure mode its certificate and authorizer."""

    app: aiohttp.web.Application
    certificate: ServerCertificate | None = None
    authorizer: metrics_auth.MetricsAuthorizer | None = None
    _watcher: asyncio.Task[None] | None = field(default=None, init=False, repr=False)

    @property
    def ssl_context(self) -> ssl.SSLContext | None:
        return self.certificate.context if self.certificate is not None else None

    def start(self) -> None:
        """Start watching the certificate files (in secure mode; call on the running loop)."""
        if self.certificate is not None and self._watcher is None:
            self._watcher = asyncio.create_task(
                self.certificate.watch(), name="cloudcostguard metrics certificate watch"
            )

    async def close(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if self.authorizer is not None:
            await self.authorizer.close()
        if self.certificate is not None:
            self.certificate.close()


def build_endpoint(settings: Settings, kopf_settings: kopf.OperatorSettings) -> MetricsEndpoint:
    """Plain HTTP with ``metrics_secure`` off; else HTTPS and the API server's TokenReview/SAR verdicts."""
    if not settings.metrics_secure:
        logger.warning("/metrics is served over plain HTTP without authentication (CCG_METRICS_SECURE=false)")
        return MetricsEndpoint(metrics_app(None))
    certificate = ServerCertificate.from_settings(settings)
    client = metrics_auth.KopfReviewClient(kopf_settings, request_timeout=settings.metrics_auth_timeout)
    authorizer = metrics_auth.MetricsAuthorizer(
        client, cache_ttl=settings.metrics_auth_cache_ttl, timeout=settings.metrics_auth_timeout
    )
    return MetricsEndpoint(metrics_app(authorizer), certificate, authorizer)


def metrics_app(authorizer: metrics_auth.MetricsAuthorizer | None) -> aiohttp.web.Application:
    """``GET /metrics`` (Prometheus text), behind ``authorizer`` when one is given."""

    async def serve(request: aiohttp.web.Request) -> aiohttp.web.Response:
        if authorizer is not None:
            # HEAD is a read like GET (the API server's verb mapping does the same).
            decision = await authorizer.authorize(request.headers.get("Authorization"), request.path, "get")
            if not decision.allowed:
                return _refusal(decision)
        payload = await asyncio.to_thread(generate_latest, REGISTRY)
        return aiohttp.web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = aiohttp.web.Application()
    app.router.add_get(METRICS_PATH, serve)
    return app


def _refusal(decision: metrics_auth.Decision) -> aiohttp.web.Response:
    headers = {}
    if decision.status == 401:
        headers["WWW-Authenticate"] = f'Bearer realm="{REALM}"'
    return aiohttp.web.Response(status=decision.status, text=decision.reason + "\n", headers=headers)

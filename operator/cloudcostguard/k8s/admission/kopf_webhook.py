"""The kopf internals the webhook server uses, in one place.

Checked against kopf 1.45.2 (pyproject pins kopf to 1.45.x while these are used). kopf exports
``WebhookServer`` but not the pieces a subclass with its own routes needs: the AdmissionReview request
type its ``WebhookFn`` takes, the errors its own server maps to HTTP codes, and the server's private
helpers for TLS, ports and URLs. ``tests/unit/k8s/admission/test_kopf_webhook.py`` fails loudly when a
kopf upgrade moves any of them.
"""

from __future__ import annotations

import ssl

import kopf
from kopf._cogs.structs import reviews
from kopf._core.engines import admission

KOPF_VERSION_CHECKED = "1.45.2"

ReviewRequest = reviews.Request  # the AdmissionReview TypedDict kopf's WebhookFn takes
AmbiguousResourceError = admission.AmbiguousResourceError
UnknownResourceError = admission.UnknownResourceError
WebhookError = admission.WebhookError


class WebhookServerBase(kopf.WebhookServer):
    """kopf's ``WebhookServer`` with its private helpers under names of our own."""

    def tls_context(self) -> tuple[bytes | None, ssl.SSLContext | None]:
        """(CA bundle, SSL context) from the configured or generated certificate files."""
        return self._build_ssl()

    def listen_port(self) -> int:
        return self.port or self._allocate_free_port()

    def advertised_url(self, schema: str, port: int) -> str:
        host = self.host or self.DEFAULT_HOST or self._get_accessible_addr(self.addr)
        return self._build_url(schema, host, port, self.path or "")

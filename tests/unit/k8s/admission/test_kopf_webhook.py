"""The kopf internals behind ``kopf_webhook`` are where they were checked: a kopf upgrade that moves or
reshapes them fails here, loudly, instead of in the webhook server of a running operator."""

from __future__ import annotations

import inspect
import ssl
import typing
from pathlib import Path

import kopf

from cloudcostguard.k8s.admission import certificates, kopf_webhook


def test_the_private_server_helpers_exist_with_the_signatures_used() -> None:
    server = kopf.WebhookServer
    assert list(inspect.signature(server._build_ssl).parameters) == ["self"]
    assert list(inspect.signature(server._allocate_free_port).parameters) == []
    assert list(inspect.signature(server._get_accessible_addr).parameters) == ["addr"]
    assert list(inspect.signature(server._build_url).parameters) == ["schema", "host", "port", "path"]
    assert hasattr(server, "DEFAULT_HOST")


def test_the_adapter_builds_tls_ports_and_urls_through_them(tmp_path: Path) -> None:
    paths = certificates.generate_self_signed(tmp_path, ["ccg.local"])
    server = kopf_webhook.WebhookServerBase(
        addr="127.0.0.1",
        port=9443,
        host="ccg.local",
        path="/x",
        certfile=str(paths.cert_file),
        pkeyfile=str(paths.key_file),
        cafile=str(paths.ca_file),
    )
    cadata, context = server.tls_context()
    assert cadata == paths.ca_file.read_bytes() and isinstance(context, ssl.SSLContext)
    assert server.listen_port() == 9443
    assert server.advertised_url("https", 9443) == "https://ccg.local:9443/x"
    assert kopf_webhook.WebhookServerBase(addr="127.0.0.1").listen_port() > 0  # a free port


def test_the_review_type_and_the_errors_kopfs_server_maps() -> None:
    assert set(typing.get_type_hints(kopf_webhook.ReviewRequest)) == {"apiVersion", "kind", "request"}
    for error in (kopf_webhook.AmbiguousResourceError, kopf_webhook.UnknownResourceError):
        assert issubclass(error, kopf_webhook.WebhookError)
    assert issubclass(kopf_webhook.WebhookError, Exception)

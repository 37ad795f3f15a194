"""The /metrics endpoint's modes and its certificate: generated or from files, reloaded on change."""

from __future__ import annotations

import ssl
from pathlib import Path

import kopf
import pytest

from cloudcostguard import errors
from cloudcostguard.k8s import certificates
from cloudcostguard.k8s.operator import metrics_server
from cloudcostguard.settings import Settings


def test_secure_by_default_with_a_generated_pair_removed_at_close() -> None:
    endpoint = metrics_server.build_endpoint(Settings(), kopf.OperatorSettings())
    assert endpoint.authorizer is not None and endpoint.certificate is not None
    assert endpoint.authorizer.cache_ttl == 30.0 and endpoint.authorizer.timeout == 5.0
    context = endpoint.ssl_context
    assert context is not None and context.minimum_version == ssl.TLSVersion.TLSv1_2
    ca_file = endpoint.certificate.ca_file
    assert ca_file is not None and ca_file.is_file()
    endpoint.certificate.close()
    assert not ca_file.parent.exists()


def test_plain_http_only_when_secure_is_off() -> None:
    endpoint = metrics_server.build_endpoint(Settings(metrics_secure=False), kopf.OperatorSettings())
    assert endpoint.ssl_context is None and endpoint.authorizer is None


def test_a_certificate_without_its_key_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="CCG_METRICS_CERT_FILE and CCG_METRICS_KEY_FILE go"):
        metrics_server.ServerCertificate.from_settings(Settings(metrics_key_file=tmp_path / "tls.key"))


def test_changed_files_are_reloaded_and_a_half_written_pair_keeps_the_old_one(tmp_path: Path) -> None:
    first = certificates.generate_self_signed(tmp_path / "a", ["localhost"])
    second = certificates.generate_self_signed(tmp_path / "b", ["localhost"])
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(first.cert_file.read_bytes())
    key.write_bytes(first.key_file.read_bytes())
    served = metrics_server.ServerCertificate.from_settings(
        Settings(metrics_cert_file=cert, metrics_key_file=key)
    )
    assert served.ca_file is None
    assert served.reload_if_changed() is False  # unchanged
    cert.write_bytes(second.cert_file.read_bytes())  # the key not yet swapped: they do not match
    assert served.reload_if_changed() is False
    key.write_bytes(second.key_file.read_bytes())
    assert served.reload_if_changed() is True
    assert served.reload_if_changed() is False

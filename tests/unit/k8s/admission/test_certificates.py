"""The self-signed pair for local runs: a CA that verifies a server certificate with the right SANs."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509

from cloudcostguard.k8s.admission.certificates import VALIDITY, generate_self_signed


def test_the_server_certificate_is_signed_by_the_ca_for_every_host(tmp_path: Path) -> None:
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    paths = generate_self_signed(tmp_path, ["webhook.local", "127.0.0.1", "::1", "webhook.local"], now=now)
    ca = x509.load_pem_x509_certificate(paths.ca_file.read_bytes())
    server = x509.load_pem_x509_certificate(paths.cert_file.read_bytes())
    server.verify_directly_issued_by(ca)
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["webhook.local"]
    assert sans.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert server.not_valid_after_utc == now + VALIDITY


def test_the_private_key_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    paths = generate_self_signed(tmp_path, ["localhost"])
    assert stat.S_IMODE(paths.key_file.stat().st_mode) == 0o600
    assert paths.key_file.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_a_certificate_needs_a_host(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one host"):
        generate_self_signed(tmp_path, ["", ""])

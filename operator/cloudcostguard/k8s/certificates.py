"""A self-signed CA and server certificate for local runs (clusters use cert-manager).

Shared by the admission webhook (``k8s.admission.certificates``) and the operator's HTTPS ``/metrics``
(``k8s.operator.metrics_server``), which import nothing from each other. kopf's own generator (the
``kopf[dev]`` extra, via oscrypto) fails on OpenSSL 3 ("Error detecting the version of libcrypto"), so
the pair is made with ``cryptography`` and handed to kopf's ``WebhookServer`` as files.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Long enough for a development session, short enough that a leaked local key ages out.
VALIDITY = datetime.timedelta(days=30)
# Clocks of a local cluster (kind, k3d) and the host may disagree a little.
CLOCK_SKEW = datetime.timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class CertificatePaths:
    ca_file: Path  # PEM of the CA: goes into a webhook configuration's caBundle
    cert_file: Path  # server certificate (PEM)
    key_file: Path  # server private key (PEM, mode 0600)


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def generate_self_signed(
    directory: Path,
    hosts: Iterable[str],
    *,
    now: datetime.datetime | None = None,
    ca_name: str = "cloudcostguard local webhook CA",
) -> CertificatePaths:
    """Write ``ca.pem``, ``tls.crt`` and ``tls.key`` into ``directory`` for the given host names/IPs.

    The first host is the certificate's common name; every host is a subject alternative name (the
    API server checks SANs only).
    """
    names = list(dict.fromkeys(h for h in hosts if h))
    if not names:
        raise ValueError("a certificate needs at least one host name or address")
    now = now or datetime.datetime.now(datetime.UTC)
    not_before, not_after = now - CLOCK_SKEW, now + VALIDITY

    ca_key = ec.generate_private_key(ec.SECP256R1())
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name[:64])])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(issuer)
        .issuer_name(issuer)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])]))
        .issuer_name(issuer)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    directory.mkdir(parents=True, exist_ok=True)
    paths = CertificatePaths(directory / "ca.pem", directory / "tls.crt", directory / "tls.key")
    paths.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert_file.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600 from the start: the key is never readable by others, not even briefly.
    descriptor = os.open(paths.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key_pem)
    return paths

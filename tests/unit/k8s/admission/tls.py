"""A throwaway CA and server certificate for local HTTPS servers in tests: the product's own
self-signed generator (``cryptography``; kopf's generator needs oscrypto, which fails on OpenSSL 3)."""

from __future__ import annotations

from pathlib import Path

from cloudcostguard.k8s.admission.certificates import CertificatePaths, generate_self_signed

TlsFiles = CertificatePaths


def make_tls(directory: Path, hostname: str = "localhost") -> TlsFiles:
    return generate_self_signed(directory, [hostname, "127.0.0.1"])

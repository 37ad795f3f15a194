"""The webhook's TLS: 1.2 or later only, and (optionally) the API server's client certificate checked.

TLS 1.0 and 1.1: the local OpenSSL can still speak them at ``@SECLEVEL=0``; each refusal is paired
with a control — a permissive server on the same certificate accepts the very same client — so the
refusal is the webhook's minimum, not a client that could not offer the version at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cloudcostguard.k8s.admission import certificates
from cloudcostguard.k8s.admission import decision as admission
from cloudcostguard.settings import Settings
from tests.integration.admission.support import WebhookHarness, cost_estimate, nat_plan, review

CE = admission.HANDLER_COSTESTIMATE
TIMEOUT = 10

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # naming the old versions is deprecated
    OLD_VERSIONS = [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1]


def old_client(ca_file: Path, maximum: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(ca_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = maximum
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS < 1.2 at its default level
    return context


async def negotiated(port: int, context: ssl.SSLContext) -> str:
    """The TLS version a handshake with 127.0.0.1:port agrees on (raises when it fails)."""
    _reader, writer = await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"), TIMEOUT
    )
    try:
        version = writer.get_extra_info("ssl_object").version()
        return str(version)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await writer.wait_closed()


@contextlib.asynccontextmanager
async def permissive_server(paths: certificates.CertificatePaths) -> AsyncIterator[int]:
    """The control: a TLS server on the same certificate that still accepts TLS 1.0."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(paths.cert_file, paths.key_file)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    server = await asyncio.start_server(lambda _r, w: w.close(), "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("maximum", OLD_VERSIONS, ids=["TLSv1.0", "TLSv1.1"])
async def test_tls_before_1_2_is_refused_at_the_handshake(tmp_path: Path, maximum: ssl.TLSVersion) -> None:
    async with WebhookHarness() as harness:
        client = old_client(harness.ca_file, maximum)
        paths = certificates.generate_self_signed(tmp_path, ["127.0.0.1"])
        control_client = old_client(paths.ca_file, maximum)
        async with permissive_server(paths) as control:
            # The client can speak this version here: the permissive server agrees on it.
            assert (
                await negotiated(control, control_client)
                == {"TLSv1": "TLSv1", "TLSv1_1": "TLSv1.1"}[maximum.name]
            )
        # The server answers the ClientHello with a protocol_version alert and closes: the client
        # reports an SSL error or the reset, depending on timing.
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            await negotiated(harness.port, client)
        # The same client allowed up to TLS 1.2 is served over 1.2.
        allowed = old_client(harness.ca_file, ssl.TLSVersion.TLSv1_2)
        assert await negotiated(harness.port, allowed) == "TLSv1.2"
        assert (
            await negotiated(harness.port, ssl.create_default_context(cafile=str(harness.ca_file)))
            == "TLSv1.3"
        )


# --- client certificates -------------------------------------------------------------------------------


def client_certificate(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a client certificate (clientAuth) it signed: (ca.pem, client.crt, client.key)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} client CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    files = (directory / "ca.pem", directory / "client.crt", directory / "client.key")
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


async def post_with(harness: WebhookHarness, context: ssl.SSLContext) -> int:
    body = orjson.dumps(review(cost_estimate("web", plan=nat_plan(1))))
    connector = aiohttp.TCPConnector(ssl=context)
    async with (
        aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
        session.post(f"{harness.url}/{CE}", data=body) as response,
    ):
        await response.read()
        return response.status


async def test_with_a_client_ca_only_clients_with_a_certificate_it_signed_are_served(tmp_path: Path) -> None:
    ca_file, cert_file, key_file = client_certificate(tmp_path / "apiserver", "apiserver")
    _other_ca, other_cert, other_key = client_certificate(tmp_path / "other", "other")
    async with WebhookHarness(settings=Settings(), client_ca_file=str(ca_file)) as harness:
        signed = ssl.create_default_context(cafile=str(harness.ca_file))
        signed.load_cert_chain(cert_file, key_file)
        assert await post_with(harness, signed) == 200

        anonymous = ssl.create_default_context(cafile=str(harness.ca_file))
        stranger = ssl.create_default_context(cafile=str(harness.ca_file))
        stranger.load_cert_chain(other_cert, other_key)
        for refused in (anonymous, stranger):
            # TLS 1.3: the client's side of the handshake completes before the server checks the
            # certificate, so the refusal (an alert) arrives as the request is sent.
            with pytest.raises(aiohttp.ClientError):
                await post_with(harness, refused)
            for version in (ssl.TLSVersion.TLSv1_2,):
                refused.maximum_version = version  # TLS 1.2: refused during the handshake itself
                with pytest.raises((ssl.SSLError, ConnectionResetError)):
                    await negotiated(harness.port, refused)


async def test_without_a_client_ca_no_client_certificate_is_asked_for() -> None:
    async with WebhookHarness() as harness:
        assert await post_with(harness, ssl.create_default_context(cafile=str(harness.ca_file))) == 200

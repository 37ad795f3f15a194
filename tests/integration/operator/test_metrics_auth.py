"""/metrics over real HTTPS, with KMock answering the TokenReviews and SubjectAccessReviews the operator
posts with its own login: no token 401, a denied token 403, an allowed one 200 and Prometheus text; the
API server failing 503; plain HTTP only when asked for; configured certificate files reloaded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import pytest
from cryptography import x509

from cloudcostguard import metrics
from cloudcostguard.k8s import certificates
from cloudcostguard.k8s.operator import metrics_auth, metrics_server
from tests import kmock_support as ks
from tests.integration.operator.conftest import OperatorFactory, eventually

pytestmark = pytest.mark.kmock

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = "system:serviceaccount:monitoring:prometheus-k8s"
TIMEOUT = aiohttp.ClientTimeout(total=10)


@dataclass
class ReviewingAPI:
    """KMock's answers to the operator's reviews: which tokens are whose, who may get /metrics."""

    tokens: dict[str, str] = field(
        default_factory=lambda: {"prometheus-token": PROMETHEUS, "developer-token": "jane@example.com"}
    )
    allowed: set[str] = field(default_factory=lambda: {PROMETHEUS})
    failure: kmock.KubernetesError | None = None
    kube: kmock.KubernetesEmulator | None = None
    token_reviews: list[dict[str, Any]] = field(default_factory=list)
    access_reviews: list[dict[str, Any]] = field(default_factory=list)

    def install(self, kube: kmock.KubernetesEmulator) -> None:
        self.kube = kube
        kube[f"post {metrics_auth.TOKEN_REVIEWS_PATH}"] << self.token_review
        kube[f"post {metrics_auth.SUBJECT_ACCESS_REVIEWS_PATH}"] << self.access_review

    def forget(self, resource: str) -> None:
        # KMock stores every POSTed body as a created object (reviews have no name: all under None)
        # and answers 409 to the next one; the API server keeps no review. Forget it, as it would.
        assert self.kube is not None
        with contextlib.suppress(KeyError):
            del self.kube.objects[resource, None, None]

    def token_review(self, request: kmock.Request) -> Any:
        self.forget("authentication.k8s.io/v1/tokenreviews")
        self.token_reviews.append(request.data)
        if self.failure is not None:
            return self.failure
        username = self.tokens.get(request.data["spec"]["token"])
        if username is None:
            status: dict[str, Any] = {"authenticated": False, "error": "invalid bearer token"}
        else:
            groups = ["system:serviceaccounts", "system:authenticated"]
            status = {"authenticated": True, "user": {"username": username, "uid": "u-1", "groups": groups}}
        return {**request.data, "status": status}

    def access_review(self, request: kmock.Request) -> Any:
        self.forget("authorization.k8s.io/v1/subjectaccessreviews")
        self.access_reviews.append(request.data)
        allowed = request.data["spec"]["user"] in self.allowed
        status = {
            "allowed": allowed,
            "reason": 'RBAC: allowed by ClusterRoleBinding "metrics"' if allowed else "",
        }
        return {**request.data, "status": status}


@pytest.fixture()
def api(kube: kmock.KubernetesEmulator) -> ReviewingAPI:
    reviewing = ReviewingAPI()
    reviewing.install(kube)
    return reviewing


def client_context(ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    return context


async def scrape(
    url: str, token: str | None = None, *, context: ssl.SSLContext | bool = True
) -> tuple[int, str, dict[str, str]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.get(url, headers=headers, ssl=context) as response,
    ):
        return response.status, await response.text(), dict(response.headers)


@dataclass
class Served:
    url: str
    endpoint: metrics_server.MetricsEndpoint
    context: ssl.SSLContext


def decisions(result: str) -> float:
    return float(metrics.METRICS_AUTH_DECISIONS.labels(result)._value.get())


def sample(text: str, result: str) -> float:
    prefix = f'cloudcostguard_metrics_auth_decisions_total{{result="{result}"}} '
    found = [line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)]
    return float(found[0]) if found else 0.0  # a label never counted has no sample


@contextlib.asynccontextmanager
async def secure_metrics(operator: OperatorFactory) -> AsyncIterator[Served]:
    """The operator with its default (secure) /metrics. Not a fixture: kopf, stopping, would take a
    fixture's teardown task for one of its own hung tasks."""
    async with operator(leader_election=False) as memo:
        host, port = memo.servers.addresses["metrics"]
        endpoint = memo.servers.metrics
        assert endpoint is not None and endpoint.certificate is not None
        # The generated certificate names 127.0.0.1: the client verifies it against the generated CA.
        yield Served(f"https://{host}:{port}/metrics", endpoint, client_context(endpoint.certificate.ca_file))


async def test_no_token_401_invalid_401_denied_403_allowed_200_with_prometheus_text(
    operator: OperatorFactory, api: ReviewingAPI
) -> None:
    before = {
        result: decisions(result) for result in ("allowed", "forbidden", "unauthenticated", "unavailable")
    }
    async with secure_metrics(operator) as served:
        status, text, headers = await scrape(served.url, context=served.context)
        assert (status, text) == (401, "a bearer token is required (Authorization: Bearer <token>)\n")
        assert headers["WWW-Authenticate"] == 'Bearer realm="cloudcostguard-metrics"'
        assert api.token_reviews == []  # no token: the API server is not asked

        status, text, _ = await scrape(served.url, "forged", context=served.context)
        assert (status, text) == (401, "the token is not valid: invalid bearer token\n")
        assert [review["spec"] for review in api.token_reviews] == [{"token": "forged"}]
        assert api.access_reviews == []

        status, text, _ = await scrape(served.url, "developer-token", context=served.context)
        assert (status, text) == (403, "jane@example.com may not get /metrics\n")

        status, text, headers = await scrape(served.url, "prometheus-token", context=served.context)
        assert status == 200
        assert headers["Content-Type"].startswith("text/plain; version=")
        assert "# TYPE cloudcostguard_build_info gauge" in text
        assert [review["spec"]["token"] for review in api.token_reviews] == [
            "forged",
            "developer-token",
            "prometheus-token",
        ]
        review = api.access_reviews[-1]
        assert review["apiVersion"] == "authorization.k8s.io/v1" and review["kind"] == "SubjectAccessReview"
        assert review["spec"] == {
            "user": PROMETHEUS,
            "uid": "u-1",
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "nonResourceAttributes": {"path": "/metrics", "verb": "get"},
        }
        for token in ("prometheus-token", "developer-token", "forged"):  # within the TTL: no new review
            await scrape(served.url, token, context=served.context)
        assert len(api.token_reviews) == 3 and len(api.access_reviews) == 2
        _status, text, _ = await scrape(served.url, "prometheus-token", context=served.context)
        # The counter is the process's (other tests in it count too): what these scrapes added.
        added = {result: sample(text, result) - before[result] for result in before}
        assert added == {"allowed": 3, "forbidden": 2, "unauthenticated": 3, "unavailable": 0}


async def test_tls_is_at_least_1_2_and_plain_http_is_not_answered(operator: OperatorFactory) -> None:
    async with secure_metrics(operator) as served:
        assert served.endpoint.ssl_context is not None
        assert served.endpoint.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_2
        host, port = served.url.removeprefix("https://").split("/")[0].split(":")
        _reader, writer = await asyncio.open_connection(host, int(port), ssl=served.context)
        assert writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
        writer.close()
        await writer.wait_closed()
        with pytest.raises(aiohttp.ClientError):
            await scrape(served.url.replace("https://", "http://"), "prometheus-token")


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (
            kmock.KubernetesError(status=403, reason="Forbidden", message="tokenreviews is forbidden"),
            "the operator may not create tokenreviews (grant it `create` on tokenreviews in its ClusterRole)",
        ),
        (kmock.KubernetesError(status=500, reason="InternalError", message="etcd timeout"), "etcd timeout"),
    ],
    ids=["no-rbac", "api-error"],
)
async def test_an_api_server_failure_is_503_with_the_reason_and_not_cached(
    operator: OperatorFactory,
    api: ReviewingAPI,
    failure: kmock.KubernetesError,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with secure_metrics(operator) as served:
        api.failure = failure
        for _ in range(3):
            status, text, _ = await scrape(served.url, "prometheus-token", context=served.context)
            assert status == 503
            assert text.startswith("cannot check the token with the API server: ")
            assert reason in text
        # One warning for the outage, not one error line per scrape (kopf's are demoted to DEBUG).
        logged = [r for r in caplog.records if r.name == metrics_auth.__name__ and r.levelno >= 30]
        assert [r.levelname for r in logged] == ["WARNING"]
        assert len(api.token_reviews) == 3
        api.failure = None  # the next scrape asks again, and is served
        status, _text, _ = await scrape(served.url, "prometheus-token", context=served.context)
        assert status == 200
        assert len(api.token_reviews) == 4


async def test_a_silent_api_server_is_503_within_the_timeout(operator: OperatorFactory, kube: Any) -> None:
    async def never(_request: kmock.Request) -> Any:
        await asyncio.sleep(30)
        return {}

    kube[f"post {metrics_auth.TOKEN_REVIEWS_PATH}"] << never
    async with operator(leader_election=False, metrics_auth_timeout=0.5) as memo:
        host, port = memo.servers.addresses["metrics"]
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, text, _ = await scrape(f"https://{host}:{port}/metrics", "prometheus-token", context=False)
        assert loop.time() - started < 3
        assert status == 503
        assert text.startswith("cannot check the token with the API server: ")
        assert "within 0.5 s" in text  # the review's own bound or the request's, whichever ends first


async def test_plain_http_only_when_asked_for(operator: OperatorFactory, api: ReviewingAPI) -> None:
    async with operator(leader_election=False, metrics_secure=False) as memo:
        host, port = memo.servers.addresses["metrics"]
        assert memo.servers.metrics is not None and memo.servers.metrics.ssl_context is None
        status, text, _ = await scrape(f"http://{host}:{port}/metrics")
        assert status == 200 and "cloudcostguard_build_info" in text
        with pytest.raises(aiohttp.ClientError):
            await scrape(f"https://{host}:{port}/metrics", context=False)
    assert api.token_reviews == []


def serial(pem: bytes) -> int:
    return x509.load_pem_x509_certificate(pem).serial_number


async def served_serial(host: str, port: int, ca_file: Path) -> int:
    context = client_context(ca_file)
    _reader, writer = await asyncio.open_connection(host, port, ssl=context)
    der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    writer.close()
    await writer.wait_closed()
    return x509.load_der_x509_certificate(der).serial_number


async def test_configured_certificate_files_are_served_and_reloaded_when_they_change(
    operator: OperatorFactory, api: ReviewingAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_server, "FILE_CHECK_INTERVAL", 0.1)
    first = certificates.generate_self_signed(tmp_path / "first", ["127.0.0.1"])
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    (mounted / "tls.crt").write_bytes(first.cert_file.read_bytes())
    (mounted / "tls.key").write_bytes(first.key_file.read_bytes())
    async with operator(
        leader_election=False, metrics_cert_file=mounted / "tls.crt", metrics_key_file=mounted / "tls.key"
    ) as memo:
        host, port = memo.servers.addresses["metrics"]
        assert await served_serial(host, port, first.ca_file) == serial(first.cert_file.read_bytes())
        # A renewal (cert-manager rewrites the Secret, the kubelet swaps the files): a new CA and pair.
        second = certificates.generate_self_signed(tmp_path / "second", ["127.0.0.1"])
        (mounted / "tls.key").write_bytes(second.key_file.read_bytes())
        (mounted / "tls.crt").write_bytes(second.cert_file.read_bytes())
        expected = serial(second.cert_file.read_bytes())

        async def renewed() -> bool:
            try:
                return await served_serial(host, port, second.ca_file) == expected
            except ssl.SSLError:
                return False  # still the old pair

        await eventually(renewed, within=10)
        url = f"https://{host}:{port}/metrics"
        status, _text, _ = await scrape(url, "prometheus-token", context=client_context(second.ca_file))
        assert status == 200


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CCG_METRICS_CERT_FILE": "/nonexistent/tls.crt"},
            "invalid setting CCG_METRICS_CERT_FILE: CCG_METRICS_CERT_FILE and CCG_METRICS_KEY_FILE go "
            "together (set both, or neither for a generated self-signed pair)",
        ),
        (
            {"CCG_METRICS_CERT_FILE": "/nonexistent/tls.crt", "CCG_METRICS_KEY_FILE": "/nonexistent/tls.key"},
            "cannot load the metrics certificate (CCG_METRICS_CERT_FILE=/nonexistent/tls.crt, "
            "CCG_METRICS_KEY_FILE=/nonexistent/tls.key): [Errno 2] No such file or directory",
        ),
    ],
    ids=["cert-without-key", "missing-files"],
)
async def test_run_with_a_bad_metrics_certificate_exits_2_with_one_line(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cloudcostguard", "run", "--standalone",
        "--health-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
        env={**os.environ, "KUBECONFIG": str(tmp_path / "absent"), **env}, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert stderr.decode().strip().splitlines()[-1] == f"cloudcostguard: error: {message}"


async def test_run_serves_authenticated_metrics_by_default(tmp_path: Path) -> None:
    """``cloudcostguard run`` as a process, as curl or Prometheus would see it."""
    async with ks.emulator_server() as (kube, url):
        api = ReviewingAPI()
        api.install(kube)
        health, metrics_port, webhook = ks.free_port(), ks.free_port(), ks.free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(ks.write_kubeconfig(tmp_path / "kubeconfig", url)),
            "CCG_LOG_FORMAT": "json",
        }
        log = (tmp_path / "operator.log").open("wb")
        process = await ks.spawn_run(env, log, health=health, metrics=metrics_port, webhook=webhook)
        metrics_url = f"https://127.0.0.1:{metrics_port}/metrics"

        async def serving() -> bool:
            try:
                return (await scrape(metrics_url, context=False))[0] == 401
            except aiohttp.ClientError:
                return False

        try:
            await eventually(serving, within=60)
            assert (await scrape(metrics_url, "developer-token", context=False))[0] == 403
            status, text, _ = await scrape(metrics_url, "prometheus-token", context=False)
            assert status == 200 and "cloudcostguard_build_info" in text
            with pytest.raises(aiohttp.ClientError):
                await scrape(metrics_url.replace("https://", "http://"))
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            returncode = await asyncio.wait_for(process.wait(), timeout=30)
            log.close()
    output = (tmp_path / "operator.log").read_text()
    assert returncode == 0, output[-3000:]
    assert "prometheus-token" not in output and "developer-token" not in output  # tokens are never logged

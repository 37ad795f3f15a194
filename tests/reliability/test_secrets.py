"""No secret value — the database password, a plan Secret's content — ever appears in logs, Events,
statuses, errors, ``pricing status`` or metrics.

The store is reached through a PostgreSQL role with a random password in the URL (PostgreSQL here
trusts 127.0.0.1, so the password is never checked: what matters is that the URL carries one). With it:
``pricing migrate|load|status|export``, ``estimate --database-url``, each at DEBUG; the same commands
against unreachable and malformed URLs carrying the password; ``cloudcostguard run`` at DEBUG against
KMock, pricing from the store, with plan Secrets whose content carries a unique marker (a valid plan
with the marker in an attribute, a Secret that is not a plan, one that is not gzip), then against an
unreachable store; the webhook judging those Secrets. Everything they wrote — stdout, stderr (every
logger, kopf's included), every request body KMock received (status patches, Events, Lease), the
objects KMock holds besides the Secrets themselves, ``/metrics``, ``/healthz`` and ``/readyz`` — is
searched for the password and the marker, raw, URL-encoded and base64-encoded.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import secrets
import signal
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest

from cloudcostguard.k8s.admission.decision import HANDLER_PLAN_SOURCE, AdmissionRuntime
from cloudcostguard.k8s.admission.review import answer_review
from cloudcostguard.k8s.api.models import PLAN_SOURCE_LABEL
from cloudcostguard.k8s.testing import InMemoryClusterState
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings
from tests import kmock_support as ks
from tests.integration.admission import support
from tests.integration.operator.conftest import eventually
from tests.integration.pricing.conftest import database_url, store_url  # noqa: F401 - fixtures
from tests.plans import nat_plan
from tests.unit.pricing.offers.samples import S3_EXCERPT

pytestmark = [pytest.mark.postgres, pytest.mark.kmock]

ROOT = Path(__file__).resolve().parents[2]
NS = "team-a"
PASSWORD = "pw" + secrets.token_hex(12)  # letters and digits: URL-encoding leaves it as it is
MARKER = "ccgsecret" + secrets.token_hex(8)


def forms(value: str) -> list[str]:
    """How a value could show up: as it is, URL-encoded, base64 (at each of the three alignments)."""
    found = {value, urllib.parse.quote(value)}
    for offset in range(3):
        # Inside longer content the first group of four characters mixes in the bytes before the value,
        # the last group the bytes after it: the characters between depend on the value alone.
        encoded = base64.b64encode(b"\0" * offset + value.encode()).decode()
        found.add(encoded[4 if offset else 0 : -4])
    return sorted(found)


def leaks(text: str) -> list[str]:
    return [
        f"{name} {form!r} in: ...{text[max(0, text.find(form) - 200) : text.find(form) + 200]}..."
        for name, value in (("password", PASSWORD), ("secret marker", MARKER))
        for form in forms(value)
        if form and form in text
    ]


@pytest.fixture()
def password_url(store_url: str) -> Iterator[str]:  # noqa: F811
    """The test store's URL as a role with a password would use it."""
    role = "ccg_secret_" + secrets.token_hex(4)

    async def run(statement: str) -> None:
        connection = await asyncpg.connect(store_url, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(run(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{PASSWORD}'"))
    parts = urllib.parse.urlsplit(store_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    yield urllib.parse.urlunsplit(parts._replace(netloc=f"{role}:{PASSWORD}@{host}"))
    asyncio.run(run(f"REASSIGN OWNED BY {role} TO CURRENT_USER; DROP ROLE {role}"))


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    """A CLI command at DEBUG; its stdout and stderr (whatever its exit code)."""
    result = subprocess.run(
        [sys.executable, "-m", "cloudcostguard", *args],
        env={**os.environ, "CCG_LOG_LEVEL": "DEBUG", **(env or {})},
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    # The command line is the test's own (it holds the URL): only what the command wrote is searched.
    return f"$ cloudcostguard {args[0]} {args[1]} -> {result.returncode}\n{result.stdout}{result.stderr}"


def plan_secrets() -> list[dict[str, Any]]:
    """Plan Secrets carrying the marker: in a valid plan's attribute, as content that is no plan, as
    content that is no gzip."""
    plan = nat_plan(1, vpcs=1)
    plan["resource_changes"][0]["change"]["after"]["tags"] = {"api_key": MARKER}
    contents = {
        "good": orjson.dumps(plan),
        "not-a-plan": f"password={MARKER}\n".encode(),
        "not-gzip": b"\x1f\x8b" + MARKER.encode(),
        "gzip-not-json": gzip.compress(f"{{{MARKER}".encode()),
    }
    return [
        ks.k8s_object(
            "v1",
            "Secret",
            name,
            NS,
            labels={PLAN_SOURCE_LABEL: "true"},
            generation=None,
            type="Opaque",
            data={"plan.json": base64.b64encode(content).decode()},
        )
        for name, content in contents.items()
    ]


async def http_text(url: str) -> str:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(url) as response,
        ):
            return await response.text()
    except aiohttp.ClientError as err:
        return f"({url}: {err})"


async def run_operator(tmp_path: Path, database: str, until_phases: set[str]) -> str:
    """``cloudcostguard run`` at DEBUG against a fresh KMock holding the plan Secrets and a CostEstimate
    per Secret; everything it wrote or sent, once every estimate reached one of ``until_phases``."""
    async with ks.emulator_server() as (kube, url):
        kube.objects["v1/namespaces", None, NS] = ks.namespace(NS, {"team": "a"})
        kube.objects[ks.COSTPOLICIES, None, "budget"] = ks.k8s_object(
            "cloudcostguard.io/v1alpha1", "CostPolicy", "budget",
            spec={"enforcement": "Warn", "limits": {"maxMonthlyCost": "1.00"}},
        )  # fmt: skip
        names = []
        for secret in plan_secrets():
            name = secret["metadata"]["name"]
            names.append(name)
            kube.objects["v1/secrets", NS, name] = secret
            spec = {"plan": {"secretKeyRef": {"name": name, "key": "plan.json"}}}
            kube.objects[ks.COSTESTIMATES, NS, name] = ks.costestimate(name, NS, spec)
        health, metrics_port, webhook = ks.free_port(), ks.free_port(), ks.free_port()
        env = {
            **os.environ,
            "KUBECONFIG": str(ks.write_kubeconfig(tmp_path / f"kubeconfig-{metrics_port}", url)),
            "CCG_LOG_FORMAT": "json",
            "CCG_LOG_LEVEL": "DEBUG",
            "CCG_DATABASE_URL": database,
            "CCG_DB_CONNECT_TIMEOUT": "2",
            "CCG_RETRY_DELAY": "0.5",
            # /metrics over plain HTTP: scrape authentication is tested on its own (tests of metrics_auth).
            "CCG_METRICS_SECURE": "false",
        }
        log_path = tmp_path / f"operator-{metrics_port}.log"
        log = log_path.open("wb")
        process = await ks.spawn_run(env, log, health=health, metrics=metrics_port, webhook=webhook)

        def phase(name: str) -> str:
            return str(ks.live_object(kube, ks.COSTESTIMATES, NS, name).get("status", {}).get("phase"))

        try:
            await eventually(lambda: all(phase(name) in until_phases for name in names), within=90)
            await asyncio.sleep(1)  # a reconcile loop turn more, at DEBUG
            scraped = [
                metrics_text := await http_text(f"http://127.0.0.1:{metrics_port}/metrics"),
                await http_text(f"http://127.0.0.1:{health}/healthz"),
                await http_text(f"http://127.0.0.1:{health}/readyz"),
            ]
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=30)
            log.close()
        assert "cloudcostguard_estimates_total" in metrics_text, metrics_text[:500]
        phases = {name: phase(name) for name in names}
        sent = [
            f"{request.method} {request.url} {request.body.decode(errors='replace')}"
            for request in kube
            if request.body
        ]
        held = [
            orjson.dumps(stored.raw).decode()
            for (resource, _namespace, _name), stored in list(kube.objects.items())
            if resource.plural != "secrets"
        ]
    assert phases["good"] == "Estimated", phases
    assert {phases[name] for name in names if name != "good"} <= until_phases, phases
    return "\n".join([log_path.read_text(), *scraped, *sent, *held, str(phases)])


async def webhook_answers() -> str:
    """The webhook judging the marked Secrets under a Deny policy: its answers (messages, warnings)."""
    names = [secret["metadata"]["name"] for secret in plan_secrets()]
    state = InMemoryClusterState(
        policies=[support.cost_policy("guard", "Deny", maxMonthlyCost="1")],
        estimates={NS: [support.cost_estimate(name, secret=(name, "plan.json")) for name in names]},
    )
    catalog = load_bundled_catalog()
    runtime = AdmissionRuntime(settings=Settings(), state=state, catalog=lambda: catalog)
    answers = []
    for secret in plan_secrets():
        body = orjson.dumps(support.review(secret))
        status, answer, reason = await answer_review(HANDLER_PLAN_SOURCE, body, runtime)
        answers.append(f"{status} {answer.decode()} {reason}")
    assert any('"allowed":false' in answer for answer in answers), answers
    return "\n".join(answers)


async def test_no_secret_reaches_logs_events_statuses_errors_or_metrics(
    password_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    parts = urllib.parse.urlsplit(password_url)
    user = parts.username
    unreachable = f"postgresql://{user}:{PASSWORD}@127.0.0.1:1/ccg?sslmode=disable"
    unresolvable = f"postgresql://{user}:{PASSWORD}@no-such-host.invalid:5432/ccg"
    malformed = [
        f"postgresql://{user}:{PASSWORD}@127.0.0.1:notaport/ccg",
        f"postgresql://{user}:{PASSWORD}@[::1/ccg",
        f"postgres://127.0.0.1/ccg?password={PASSWORD}&sslmode=nonsense",
        f"mysql://{user}:{PASSWORD}@127.0.0.1/ccg",
    ]
    plan = tmp_path / "plan.json"
    plan.write_bytes(orjson.dumps(nat_plan(1, vpcs=1)))
    outputs = [
        cli("pricing", "migrate", "--database-url", password_url),
        cli("pricing", "load", str(S3_EXCERPT), "--database-url", password_url),
        cli("pricing", "status", "--database-url", password_url),
        cli("pricing", "status", "--json", env={"CCG_DATABASE_URL": password_url}),
        cli("pricing", "export", "--out", str(tmp_path / "export.json.gz"), "--database-url", password_url),
        cli("estimate", str(plan), "--database-url", password_url, "--format", "json"),
    ]
    for url in (unreachable, unresolvable, *malformed):
        outputs.append(cli("pricing", "status", "--database-url", url, env={"CCG_DB_CONNECT_TIMEOUT": "2"}))
        outputs.append(
            cli("estimate", str(plan), env={"CCG_DATABASE_URL": url, "CCG_DB_CONNECT_TIMEOUT": "2"})
        )
    everything = "\n".join(outputs)
    assert [output.split("\n", 1)[0].rsplit(" ", 1)[1] for output in outputs] == ["0"] * 6 + ["2"] * 12
    assert "pricing version 1 is current" in everything
    assert everything.count("cannot connect to PostgreSQL (postgresql://ccg_secret_") == 4
    assert everything.count("error: invalid database URL") == 4  # was a traceback for two of them
    assert "Traceback" not in everything

    served = await run_operator(tmp_path, password_url, {"Estimated", "Failed", "Pending"})
    assert "price catalog loaded from PostgreSQL" in served
    fallen_back = await run_operator(tmp_path, unreachable, {"Estimated", "Failed", "Pending"})
    assert "pricing store unavailable; serving the last good catalog" in fallen_back
    assert ":***@127.0.0.1:1/ccg" in fallen_back
    everything += served + fallen_back
    everything += await webhook_answers()
    everything += caplog.text
    found = leaks(everything)
    assert found == [], "\n\n".join(found)
    # The search can fail: the same text with the password in it is caught.
    assert leaks(everything + f" {password_url}") != []
    assert leaks(base64.b64encode(f"key={MARKER};".encode()).decode()) != []

"""Fuzz targets shared by the Hypothesis tests (``test_fuzz.py``, CI) and the coverage-guided atheris runs
(``fuzz_atheris.py``, ``reliability_long``).

Each target takes one input and feeds it to the product the way a user can: a plan file (bytes, and an
inline plan as parsed), a usage file, a CostPolicy object, an AdmissionReview request body. The contract
checked is the one the product documents: bad input is answered with a ``cloudcostguard.errors`` error
(a ``ReviewError``/HTTP 4xx for a review body), never another exception, and within bounded time and
memory (``bounded``). Inputs are either raw bytes or real fixtures mutated by a ``Chooser``: a few
nodes of the parsed document replaced by hostile values, so most inputs get past the parser.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import orjson
import yaml

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.estimation.usage import Usage
from cloudcostguard.k8s.admission.decision import HANDLER_COSTESTIMATE, HANDLER_PLAN_SOURCE, AdmissionRuntime
from cloudcostguard.k8s.admission.review import answer_review
from cloudcostguard.k8s.testing import InMemoryClusterState
from cloudcostguard.policy.evaluation import Candidate, Verdict, evaluate
from cloudcostguard.policy.model import CostPolicy, applicable
from cloudcostguard.pricing.catalog import PriceCatalog
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from cloudcostguard.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# Bounds per input. The largest fixture plan (450 KB) is read and priced in under 0.1 s and a few MiB;
# inputs here are at most a few hundred KB, so an input over these bounds is a blow-up (an alias bomb,
# quadratic work), not a slow machine. Generous for a shared 2-CPU CI runner.
SECONDS_PER_INPUT = 5.0
PEAK_BYTES_PER_INPUT = 128 * 1024 * 1024


class Chooser(Protocol):
    """Where mutation choices come from: Hypothesis draws or atheris' FuzzedDataProvider."""

    def pick(self, count: int) -> int:
        """A number in ``range(count)``."""
        ...

    def text(self) -> str: ...


class NotOurError(AssertionError):
    """An input made the product fail outside its documented contract."""


def _peak_rss_reset() -> bool:
    """Reset the process's peak resident set size (Linux ≥ 4.0: ``clear_refs`` 5); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@contextmanager
def bounded(what: str) -> Iterator[None]:
    """Run one input: fail it when it takes longer than ``SECONDS_PER_INPUT`` or its peak resident memory
    grows by more than ``PEAK_BYTES_PER_INPUT``. The peak is the kernel's (VmHWM, reset before the input):
    it counts C allocations (orjson, PyYAML) and costs nothing, unlike tracemalloc, which slows deep
    recursion a hundredfold. Where it cannot be reset, tracemalloc measures Python's allocations."""
    kernel = _peak_rss_reset()
    tracing = not kernel and not tracemalloc.is_tracing()
    if tracing:
        tracemalloc.start()
    before = _rss_kib("VmRSS") * 1024 if kernel else 0
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        if kernel:
            grown = _rss_kib("VmHWM") * 1024 - before
        else:
            grown = tracemalloc.get_traced_memory()[1] if tracing else 0
            if tracing:
                tracemalloc.stop()
    if elapsed > SECONDS_PER_INPUT:
        raise NotOurError(f"{what}: one input took {elapsed:.1f} s (bound {SECONDS_PER_INPUT} s)")
    if grown > PEAK_BYTES_PER_INPUT:
        raise NotOurError(
            f"{what}: one input peaked at {grown >> 20} MiB more (bound {PEAK_BYTES_PER_INPUT >> 20})"
        )


# --- seeds: the real fixtures -------------------------------------------------------------------------


@cache
def fixture_plans() -> tuple[bytes, ...]:
    """Every fixture plan, smallest first (mutating a small one is cheap and reaches the same pricers)."""
    paths = sorted(FIXTURES.rglob("plan.json"), key=lambda path: (path.stat().st_size, str(path)))
    return tuple(path.read_bytes() for path in paths)


@cache
def fixture_usages() -> tuple[bytes, ...]:
    paths = sorted(FIXTURES.rglob("usage*.yml"), key=lambda path: (path.stat().st_size, str(path)))
    return tuple(path.read_bytes() for path in paths)


@cache
def usage_plan() -> bytes:
    """The plan the usage fuzzer prices: the realistic stack, whose resources read most usage keys."""
    return (FIXTURES / "terraform" / "realistic_stack" / "plan.json").read_bytes()


@cache
def catalog() -> PriceCatalog:
    return load_bundled_catalog()


def nat_plan_document() -> dict[str, Any]:
    from tests.plans import nat_plan

    return nat_plan(2, vpcs=1)


def seed_policies() -> list[dict[str, Any]]:
    """CostPolicies as users write them: every limit, both selectors, every enforcement."""
    return [
        {
            "apiVersion": "cloudcostguard.io/v1alpha1",
            "kind": "CostPolicy",
            "metadata": {"name": "team-budget"},
            "spec": {
                "enforcement": "Deny",
                "namespaceSelector": {"matchLabels": {"team": "a"}},
                "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["prod"]}]},
                "limits": {
                    "maxMonthlyCost": "50.00",
                    "maxMonthlyIncrease": "10",
                    "maxIncreasePercent": 20,
                    "namespaceMonthlyBudget": "100",
                },
                "message": "ask #finops",
                "unpriced": "Deny",
            },
        },
        {
            "metadata": {"name": "warn-all"},
            "spec": {"enforcement": "Warn", "limits": {"maxMonthlyCost": "1"}, "unpriced": "Warn"},
        },
        {
            "metadata": {"name": "dry"},
            "spec": {
                "enforcement": "DryRun",
                "selector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]},
                "limits": {"namespaceMonthlyBudget": "0.01"},
                "unpriced": "Ignore",
            },
        },
    ]


def seed_reviews() -> list[dict[str, Any]]:
    """AdmissionReviews as the API server sends them: CostEstimates of every plan source, plan
    ConfigMaps and Secrets, CREATE and UPDATE."""
    from tests.integration.admission import support

    plan = nat_plan_document()
    estimate = support.cost_estimate("web", plan=plan, labels={"tier": "prod"})
    estimate["spec"]["usage"] = {"aws_nat_gateway.gw_new_0": {"monthly_data_processed_gb": 100}}
    estimate["spec"]["defaultRegion"] = "eu-west-1"
    configmap = support.config_map("plans", {"plan.json": orjson.dumps(plan).decode()})
    return [
        support.review(estimate),
        support.review(estimate, operation="UPDATE", old=support.cost_estimate("web", plan=plan)),
        support.review(support.cost_estimate("cm", config_map=("plans", "plan.json"))),
        support.review(support.cost_estimate("sec", secret=("plans", "plan.json")), dry_run=True),
        support.review(configmap),
        support.review(configmap, operation="UPDATE", old=support.config_map("plans", {"plan.json": "{}"})),
        support.review(support.secret("plans", {"plan.json": orjson.dumps(plan)})),
    ]


# --- mutation --------------------------------------------------------------------------------------

HOSTILE_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**64),
    10**400,
    1e308,
    -1e-308,
    0.1,
    "",
    "-1",
    "1e999",
    "NaN",
    "Infinity",
    "us-east-1a",
    "\u0000",
    "\ud7ff\uffff",
    "a" * 5000,
    "[*]",
    'module.a["x"].aws_instance.web[*]',
    "create",
    [],
    {},
    [None],
    [{}],
    {"": None},
    ["create", "delete"],
    ["no-op"],
    {"inline": {}},
    {"matchLabels": {"": ""}},
    [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
)


def _children(node: Any) -> list[tuple[Any, Any]]:
    if isinstance(node, dict):
        return [(node, key) for key in node]
    if isinstance(node, list):
        return [(node, index) for index in range(len(node))]
    return []


def _hostile(chooser: Chooser, original: Any) -> Any:
    choice = chooser.pick(len(HOSTILE_VALUES) + 4)
    if choice < len(HOSTILE_VALUES):
        return copy.deepcopy(HOSTILE_VALUES[choice])
    if choice == len(HOSTILE_VALUES):
        return chooser.text()
    if choice == len(HOSTILE_VALUES) + 1:
        return {chooser.text(): copy.deepcopy(original)}  # one level deeper
    if choice == len(HOSTILE_VALUES) + 2:
        return [copy.deepcopy(original)]
    return chooser.pick(10**6) - 500_000


def mutate(document: Any, chooser: Chooser, *, mutations: int | None = None) -> Any:
    """A copy of ``document`` with a few nodes (a walk from the root picked by ``chooser``) replaced by
    hostile values, deleted, or given a new key."""
    document = copy.deepcopy(document)
    count = mutations if mutations is not None else 1 + chooser.pick(4)
    for _ in range(count):
        node = document
        while True:
            children = _children(node)
            if not children:
                break
            parent, key = children[chooser.pick(len(children))]
            child = parent[key]
            action = chooser.pick(6) if _children(child) else chooser.pick(3)
            if action == 0:
                parent[key] = _hostile(chooser, child)
                break
            if action == 1 and isinstance(parent, dict):
                del parent[key]
                break
            if action == 2 and isinstance(parent, dict):
                parent[chooser.text()] = _hostile(chooser, child)
                break
            node = child  # go deeper
    return document


def _dumps(document: Any) -> bytes:
    try:
        return orjson.dumps(document)
    except TypeError:  # integers beyond 64 bits: written by the json module, as a plan file may hold them
        import json

        return json.dumps(document).encode()


# --- the targets --------------------------------------------------------------------------------------


def check_plan_bytes(raw: bytes) -> None:
    """A plan file as ``cloudcostguard estimate PLAN`` reads it."""
    try:
        estimate = cloudcostguard.estimate(raw, catalog=catalog())
    except errors.CloudCostGuardError:
        return
    _check_estimate(estimate)


def check_plan_document(document: Any) -> None:
    """A plan as bytes and as the operator's inline spec hands it over (parsed, with and without digest)."""
    check_plan_bytes(_dumps(document))
    for digest in (True, False):
        try:
            estimate = cloudcostguard.estimate(document, catalog=catalog(), plan_digest=digest)
        except errors.CloudCostGuardError:
            continue
        _check_estimate(estimate)


def mutated_plan(chooser: Chooser) -> Any:
    plans = fixture_plans()[:40]  # the smaller half: every service family, fast to copy
    return mutate(orjson.loads(plans[chooser.pick(len(plans))]), chooser)


def check_usage_bytes(raw: bytes) -> None:
    """A usage file as ``cloudcostguard estimate PLAN --usage FILE`` reads it, priced against a plan."""
    try:
        usage = Usage.parse(raw)
    except errors.CloudCostGuardError:
        return
    try:
        estimate = cloudcostguard.estimate(usage_plan(), usage=usage, catalog=catalog())
    except errors.CloudCostGuardError:
        return
    _check_estimate(estimate)


def check_usage_document(document: Any) -> None:
    """A usage document as YAML text and as ``spec.usage`` hands it over (a parsed mapping)."""
    text = yaml.safe_dump(document, allow_unicode=True).encode() if _yaml_safe(document) else b""
    if text:
        check_usage_bytes(text)
    try:
        estimate = cloudcostguard.estimate(usage_plan(), usage=document, catalog=catalog())
    except errors.CloudCostGuardError:
        return
    _check_estimate(estimate)


def mutated_usage(chooser: Chooser) -> Any:
    usages = fixture_usages()
    return mutate(yaml.safe_load(usages[chooser.pick(len(usages))]), chooser)


def _yaml_safe(document: Any) -> bool:
    try:
        yaml.safe_dump(document)
    except (yaml.YAMLError, RecursionError, ValueError):
        return False
    return True


@cache
def _policy_estimates() -> tuple[Estimate, Estimate]:
    grown = cloudcostguard.estimate(nat_plan_document(), catalog=catalog())
    from tests.plans import nat_plan

    mixed = cloudcostguard.estimate(nat_plan(1, kept=1, deleted=1), catalog=catalog())
    return grown, mixed


def check_policy_document(document: Any) -> None:
    """A CostPolicy object (kubectl apply, ``cloudcostguard policy check``) read and, when valid, used to
    judge estimates: selected by label, every limit, a namespace budget."""
    try:
        policy = CostPolicy.from_object(document)
    except errors.CloudCostGuardError:
        return
    labels = [None, {}, {"team": "a", "tier": "prod"}, {"tier": ""}]
    grown, mixed = _policy_estimates()
    for namespace_labels in labels:
        for object_labels in labels:
            policies = applicable([policy], namespace_labels, object_labels)
            decision = evaluate(
                namespace="team-a",
                candidates=[Candidate("web", grown, policies), Candidate("db", mixed, policies)],
                committed={"web": Decimal("1.00"), "other": Decimal("99.99")},
                growth_only=bool(object_labels),
            )
            assert decision.verdict in Verdict, decision
            assert all(len(warning) <= 120 for warning in decision.warnings), decision.warnings


def check_policy_bytes(raw: bytes) -> None:
    """A policy file's text: YAML (which includes JSON)."""
    try:
        document = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, RecursionError, ValueError):
        return  # not the product's parser: `policy check` wraps this in a PolicyError
    check_policy_document(document)


def mutated_policy(chooser: Chooser) -> Any:
    policies = seed_policies()
    return mutate(policies[chooser.pick(len(policies))], chooser)


class _ExceptionLog(logging.Handler):
    """Collects exceptions logged by ``decide``, which turns unexpected failures into an InternalError
    decision instead of raising: those are the crashes of the admission target."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.failures: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        failure = record.exc_info[1] if record.exc_info else None
        if failure is not None and not isinstance(failure, errors.CloudCostGuardError):
            self.failures.append(f"{record.getMessage()}: {record.exc_info[1]!r}")


_EXCEPTIONS = _ExceptionLog()


@cache
def admission_runtime() -> AdmissionRuntime:
    """What the webhook decides with, its cluster state in memory: the seed policies, labelled namespaces
    and plan ConfigMaps/Secrets that the seed reviews point at."""
    from tests.integration.admission import support

    plan = orjson.dumps(nat_plan_document())
    state = InMemoryClusterState(
        policies=seed_policies(),
        labels_by_namespace={"team-a": {"team": "a"}},
        estimates={"team-a": [support.cost_estimate("other", monthly_cost="40.00")]},
        sources=[
            support.config_map("plans", {"plan.json": plan.decode()}),
            support.secret("plans", {"plan.json": plan}),
        ],
    )
    catalog_now = catalog()
    return AdmissionRuntime(settings=Settings(), state=state, catalog=lambda: catalog_now)


def check_review_bytes(raw: bytes, loop: asyncio.AbstractEventLoop | None = None) -> None:
    """A request body at both webhook paths, as the lean path answers it: 200 with an AdmissionReview
    response, or a 4xx with a Kubernetes Status; never an exception, never an internal error."""
    runtime = admission_runtime()
    logger = logging.getLogger("cloudcostguard")
    for handler in (HANDLER_COSTESTIMATE, HANDLER_PLAN_SOURCE):
        _EXCEPTIONS.failures.clear()
        coroutine = answer_review(handler, raw, runtime)
        logger.addHandler(_EXCEPTIONS)
        try:
            status, body, reason = loop.run_until_complete(coroutine) if loop else asyncio.run(coroutine)
        finally:
            logger.removeHandler(_EXCEPTIONS)
        if _EXCEPTIONS.failures:
            raise NotOurError(f"/{handler}: {_EXCEPTIONS.failures[0]}")
        answer = orjson.loads(body)
        if status == 200:
            response = answer["response"]
            assert isinstance(response["allowed"], bool), answer
            assert reason is None
            if not response["allowed"]:
                assert response["status"]["code"] in (400, 403, 413, 422), answer
                assert response["status"]["message"], answer
        else:
            assert status in (400, 413), (status, answer)
            assert answer["kind"] == "Status" and answer["code"] == status, answer
            assert reason and "\n" not in reason


def check_review_document(document: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
    check_review_bytes(_dumps(document), loop)


def mutated_review(chooser: Chooser) -> Any:
    reviews = seed_reviews()
    return mutate(reviews[chooser.pick(len(reviews))], chooser)


def _check_estimate(estimate: Estimate) -> None:
    """What a successful estimate must be: Decimal money, a JSON document that serialises."""
    assert isinstance(estimate.total_monthly_cost, Decimal)
    assert estimate.diff_total_monthly_cost == estimate.total_monthly_cost - estimate.past_total_monthly_cost
    orjson.dumps(estimate.to_dict())


@dataclass(frozen=True)
class Target:
    name: str
    check_bytes: Callable[[bytes], None]
    check_document: Callable[[Any], None]
    mutated: Callable[[Chooser], Any]
    seeds: Callable[[], list[bytes]]


def _review_seeds() -> list[bytes]:
    return [orjson.dumps(review) for review in seed_reviews()]


TARGETS: Mapping[str, Target] = {
    target.name: target
    for target in (
        Target(
            "plan", check_plan_bytes, check_plan_document, mutated_plan, lambda: list(fixture_plans()[:40])
        ),
        Target(
            "usage", check_usage_bytes, check_usage_document, mutated_usage, lambda: list(fixture_usages())
        ),
        Target(
            "policy",
            check_policy_bytes,
            check_policy_document,
            mutated_policy,
            lambda: [orjson.dumps(p) for p in seed_policies()],
        ),
        Target("review", check_review_bytes, check_review_document, mutated_review, _review_seeds),
    )
}

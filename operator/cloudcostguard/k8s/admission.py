"""The validating admission webhook: kopf handlers with fixed ids and the one decision behind them.

Two ways in, one decision (``decide``):

- kopf's webhook machinery calls the handlers registered here, ``validate-costestimate`` (CostEstimate
  CREATE/UPDATE) and ``validate-plan-source`` (CREATE/UPDATE of ConfigMaps/Secrets labelled
  ``cloudcostguard.io/plan``); the manifests in ``config/webhook/`` use the paths ``/<handler id>``.
- the lean path (``webhook.AdmissionServer``, same server, same paths) parses the AdmissionReview
  itself with ``answer_review`` and calls the same ``decide``: kopf's request handling costs more than
  the pricing work on large reviews (see ``benchmarks/admission_latency.py``).

No side effects (``sideEffects: None``): a decision reads in-memory state (kopf indexes) and the price
catalog, estimates in-process and writes nothing to the cluster. DryRun verdicts are recorded in
metrics here; the Event and ``status.policy`` are written by the operator's reconciliation, which calls
``policy.evaluation.evaluate`` itself.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple, Protocol

import kopf
import orjson
import pydantic

import cloudcostguard
from cloudcostguard import errors, metrics
from cloudcostguard.estimation import memo
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.k8s import indexes
from cloudcostguard.k8s.models import GROUP, PLAN_SOURCE_LABEL, VERSION, PlanSource
from cloudcostguard.k8s.plan_sources import PlanResolver
from cloudcostguard.performance import paused_gc
from cloudcostguard.policy import evaluation
from cloudcostguard.policy.evaluation import Candidate, CostPolicy, Decision, Subject, Verdict
from cloudcostguard.pricing.catalog import PriceCatalog
from cloudcostguard.settings import Settings

logger = logging.getLogger(__name__)

HANDLER_COSTESTIMATE = "validate-costestimate"
HANDLER_PLAN_SOURCE = "validate-plan-source"
HANDLER_IDS = (HANDLER_COSTESTIMATE, HANDLER_PLAN_SOURCE)

PLURAL = "costestimates"
PLAN_LABEL = PLAN_SOURCE_LABEL
MEMO_KEY = "cloudcostguard_admission"  # the AdmissionRuntime in kopf's memo
MEMO_INDICES_KEY = "cloudcostguard_admission_indices"  # kopf indexes captured at startup

# What each handler admits, as (API group, plural): a review for anything else is a misconfiguration.
HANDLED_RESOURCES: dict[str, frozenset[tuple[str, str]]] = {
    HANDLER_COSTESTIMATE: frozenset({(GROUP, PLURAL)}),
    HANDLER_PLAN_SOURCE: frozenset({("", "configmaps"), ("", "secrets")}),
}
CHECKED_OPERATIONS = frozenset({"CREATE", "UPDATE"})
REVIEW_VERSIONS = frozenset({"admission.k8s.io/v1", "admission.k8s.io/v1beta1"})
# Parsing a plan given as bytes runs in a worker thread above this size (orjson reads ~200 MB/s here).
OFFLOAD_PLAN_BYTES = 256 * 1024


# --- state the decision reads ----------------------------------------------------------------------


class PlanIndexes(NamedTuple):
    """The operator's plan-object indexes (``k8s/indexes.py`` shapes), read by ``PlanResolver``."""

    plan_configmaps: Mapping[Any, Any]
    plan_secrets: Mapping[Any, Any]
    tofu_plans: Mapping[Any, Any]


class AdmissionState(Protocol):
    """What the webhook knows about the cluster, from kopf indexes (never an API call per request)."""

    def cost_policies(self) -> Iterable[CostPolicy | errors.PolicyError]:
        """Every CostPolicy, parsed (a malformed one as its error)."""

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        """The namespace's labels, or None when the namespace is not (yet) known."""

    def committed_spend(self, namespace: str) -> Mapping[str, Decimal]:
        """Current monthly cost of every CostEstimate in the namespace, by name."""

    def plan_indexes(self) -> PlanIndexes:
        """Labelled ConfigMaps/Secrets and tofu-controller plan Secrets."""

    def referencing_estimates(self, namespace: str, kind: str, name: str) -> Iterable[Mapping[str, Any]]:
        """The CostEstimates (metadata.name/labels, spec) whose plan is that ConfigMap/Secret."""


def parse_policy(document: Mapping[str, Any]) -> CostPolicy | errors.PolicyError:
    try:
        return CostPolicy.from_object(document)
    except errors.PolicyError as err:
        return err


def plan_user(
    namespace: str, name: str, labels: Mapping[str, str], spec: Mapping[str, Any]
) -> tuple[indexes.PlanRef, dict[str, Any]] | None:
    """For a CostEstimate reading its plan from a ConfigMap/Secret: the reference, and what re-estimating
    it with a new plan needs (labels, the plan reference, usage, default region)."""
    reference = indexes.plan_reference(namespace, spec)
    if reference is None or reference.kind not in (indexes.CONFIGMAP, indexes.SECRET):
        return None
    kept = {key: copy.deepcopy(spec[key]) for key in ("plan", "usage", "defaultRegion") if key in spec}
    return reference, {"metadata": {"name": name, "labels": dict(labels)}, "spec": kept}


@dataclass
class InMemoryAdmissionState:
    """Plain in-memory state: tests and the benchmark (the operator uses ``KopfIndexState``).

    ``estimates`` maps namespace → CostEstimate objects (metadata, spec, status.monthlyCost);
    ``sources`` holds labelled ConfigMap/Secret objects (kind, metadata, data, binaryData).
    """

    policies: list[Mapping[str, Any]] = field(default_factory=list)
    namespaces: dict[str, Mapping[str, str]] = field(default_factory=dict)
    estimates: dict[str, list[Mapping[str, Any]]] = field(default_factory=dict)
    sources: list[Mapping[str, Any]] = field(default_factory=list)

    def cost_policies(self) -> Iterable[CostPolicy | errors.PolicyError]:
        return [parse_policy(policy) for policy in self.policies]

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.namespaces.get(namespace)

    def committed_spend(self, namespace: str) -> Mapping[str, Decimal]:
        spend: dict[str, Decimal] = {}
        for estimate in self.estimates.get(namespace, []):
            name = _mapping(estimate.get("metadata")).get("name")
            amount = indexes.parse_amount(_mapping(estimate.get("status")).get("monthlyCost"))
            if isinstance(name, str) and amount is not None:
                spend[name] = amount
        return spend

    def plan_indexes(self) -> PlanIndexes:
        configmaps: dict[Any, list[Any]] = {}
        secrets: dict[Any, list[Any]] = {}
        for source in self.sources:
            kind = str(source.get("kind"))
            metadata = _mapping(source.get("metadata"))
            namespace, name = str(metadata.get("namespace", "")), str(metadata.get("name", ""))
            target = configmaps if kind == indexes.CONFIGMAP else secrets
            for key, value in plan_object_entry(kind, namespace, name, source).items():
                target.setdefault(key, []).append(value)
        return PlanIndexes(configmaps, secrets, {})

    def referencing_estimates(self, namespace: str, kind: str, name: str) -> Iterable[Mapping[str, Any]]:
        found = []
        for estimate in self.estimates.get(namespace, []):
            metadata = _mapping(estimate.get("metadata"))
            user = plan_user(
                namespace, str(metadata.get("name")), _labels(estimate), _mapping(estimate.get("spec"))
            )
            if user is not None and user[0] == (namespace, kind, name):
                found.append(user[1])
        return found


def plan_object_entry(
    kind: str, namespace: str, name: str, body: Mapping[str, Any]
) -> dict[tuple[str, str], indexes.PlanObject]:
    """The operator's index entry for a ConfigMap/Secret, with a Secret's ``stringData`` folded into
    ``data`` (base64) as the API server stores it."""
    string_data = _mapping(body.get("stringData"))
    if kind == indexes.SECRET and string_data:
        data = dict(_mapping(body.get("data")))
        for key, value in string_data.items():
            if isinstance(value, str):
                data[key] = base64.b64encode(value.encode()).decode()
        body = {**body, "data": data}
    return indexes.index_plan_object(kind, namespace, name, body)


# kopf indexes this module adds (the operator's ``k8s/indexes.py`` has namespaces, spend and plan objects).
POLICY_INDEX = "admission_cost_policies"  # CostPolicy name → CostPolicy | PolicyError
PLAN_USERS_INDEX = "admission_plan_users"  # PlanRef(namespace, kind, name) → CostEstimate {metadata, spec}


class KopfIndexState:
    """``AdmissionState`` over kopf's indexes: the operator's (``k8s/indexes.py``) and this module's.

    ``indices`` returns the current mapping of index name → ``kopf.Index`` (kopf hands the same live
    index objects to every handler; the lean path gets them from the startup capture in the memo).
    """

    def __init__(self, indices: Callable[[], Mapping[str, Any] | None]) -> None:
        self._indices = indices

    def _index(self, name: str) -> Mapping[Any, Iterable[Any]]:
        indices = self._indices() or {}
        index = indices.get(name)
        return index if isinstance(index, Mapping) else {}

    def cost_policies(self) -> Iterable[CostPolicy | errors.PolicyError]:
        return [policy for store in self._index(POLICY_INDEX).values() for policy in store]

    def namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        for labels in self._index(indexes.NAMESPACE_LABELS).get(namespace, ()):
            return labels  # type: ignore[no-any-return]
        return None

    def committed_spend(self, namespace: str) -> Mapping[str, Decimal]:
        return {
            entry.name: entry.monthly_cost
            for entry in self._index(indexes.COSTESTIMATE_SPEND).get(namespace, ())
        }

    def plan_indexes(self) -> PlanIndexes:
        return PlanIndexes(
            self._index(indexes.PLAN_CONFIGMAPS),
            self._index(indexes.PLAN_SECRETS),
            self._index(indexes.TOFU_PLANS),
        )

    def referencing_estimates(self, namespace: str, kind: str, name: str) -> Iterable[Mapping[str, Any]]:
        return list(self._index(PLAN_USERS_INDEX).get((namespace, kind, name), ()))


@kopf.index(GROUP, VERSION, "costpolicies", id=POLICY_INDEX)
def index_cost_policies(name: str, spec: Mapping[str, Any], **_: Any) -> dict[str, Any]:
    """CostPolicies parsed once per change, not once per admission request."""
    return {name: parse_policy({"metadata": {"name": name}, "spec": copy.deepcopy(dict(spec))})}


@kopf.index(GROUP, VERSION, PLURAL, id=PLAN_USERS_INDEX)
def index_plan_users(
    namespace: str | None, name: str, labels: Mapping[str, str], spec: Mapping[str, Any], **_: Any
) -> dict[indexes.PlanRef, dict[str, Any]] | None:
    """CostEstimates reading their plan from a ConfigMap/Secret, with what re-estimating them needs."""
    user = plan_user(namespace or "", name, labels, spec)
    return None if user is None else {user[0]: user[1]}


@kopf.on.startup(id="cloudcostguard-admission-indices")
def capture_indices(memo: Any, **kwargs: Any) -> None:
    """Keep kopf's (live) index objects where the lean path finds them: it is not called through kopf."""
    memo[MEMO_INDICES_KEY] = {
        name: kwargs[name]
        for name in (*REQUIRED_INDICES, indexes.TOFU_PLANS, POLICY_INDEX, PLAN_USERS_INDEX)
        if name in kwargs
    }
    missing = [name for name in REQUIRED_INDICES if name not in kwargs]
    if missing:
        # Without them, budgets would be judged against nothing: say so loudly.
        logger.error("admission webhook: kopf indexes missing: %s", ", ".join(missing))


REQUIRED_INDICES = (
    indexes.NAMESPACE_LABELS,
    indexes.COSTESTIMATE_SPEND,
    indexes.PLAN_CONFIGMAPS,
    indexes.PLAN_SECRETS,
)


# --- the runtime: settings, catalog, executor ------------------------------------------------------


@dataclass
class AdmissionRuntime:
    """Everything a decision needs besides the request; created by ``webhook.configure_admission``."""

    settings: Settings
    state: AdmissionState
    catalog: Callable[[], PriceCatalog]
    executor: Executor | None = None
    resolver: PlanResolver = field(init=False)

    def __post_init__(self) -> None:
        # The operator's resolver (indexes, gzip, tofu-controller chunks) under the webhook's size limit;
        # without a URL fetcher: the webhook never makes network calls.
        limited = self.settings.model_copy(update={"max_plan_bytes": self.max_plan_bytes})
        self.resolver = PlanResolver(limited)

    @property
    def max_plan_bytes(self) -> int:
        return min(self.settings.max_plan_bytes, self.settings.webhook_max_plan_bytes)


@dataclass(frozen=True, slots=True)
class AdmissionRequest:
    """The parts of an AdmissionReview's ``request`` a decision uses."""

    handler: str
    operation: str
    namespace: str
    name: str
    new: Mapping[str, Any]
    old: Mapping[str, Any] | None
    dry_run: bool = False
    review_bytes: int | None = None  # size of the whole AdmissionReview, when the server saw it

    @classmethod
    def from_payload(
        cls, handler: str, payload: Mapping[str, Any], review_bytes: int | None = None
    ) -> AdmissionRequest:
        new = _mapping(payload.get("object"))
        old = payload.get("oldObject")
        metadata = _mapping(new.get("metadata"))
        namespace = payload.get("namespace") or metadata.get("namespace") or ""
        name = payload.get("name") or metadata.get("name") or metadata.get("generateName") or ""
        return cls(
            handler=handler,
            operation=str(payload.get("operation", "")),
            namespace=str(namespace),
            name=str(name),
            new=new,
            old=old if isinstance(old, Mapping) else None,
            dry_run=bool(payload.get("dryRun")),
            review_bytes=review_bytes,
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _labels(document: Mapping[str, Any]) -> Mapping[str, str]:
    labels = _mapping(_mapping(document.get("metadata")).get("labels"))
    return {str(k): str(v) for k, v in labels.items()}


# --- the decision ----------------------------------------------------------------------------------


async def decide(request: AdmissionRequest, runtime: AdmissionRuntime) -> Decision:
    """The verdict for one admission request, recorded in metrics. Never raises (except cancellation):
    an unexpected failure is judged like a plan that cannot be estimated."""
    try:
        if request.handler == HANDLER_COSTESTIMATE:
            decision = await _decide_costestimate(request, runtime)
        elif request.handler == HANDLER_PLAN_SOURCE:
            decision = await _decide_plan_source(request, runtime)
        else:
            raise ValueError(f"unknown admission handler {request.handler!r}")
    except asyncio.CancelledError:
        raise
    except Exception as err:
        logger.exception("admission %s of %s/%s failed", request.handler, request.namespace, request.name)
        failure = errors.CloudCostGuardError(f"internal error: {err!r}", reason="InternalError")
        try:
            decision = evaluation.evaluate_failure(
                _policies(runtime, request.handler),
                namespace_labels=_namespace_labels(runtime, request.namespace),
                subjects=[Subject(request.name, _labels(request.new))],
                error=failure,
            )
        except Exception:
            # Not even the policies can be read: refuse, as failurePolicy Fail would.
            logger.exception("admission fallback failed")
            decision = Decision(
                Verdict.DENY,
                f"cannot judge the request: {failure}",
                reason="InternalError",
                error="InternalError",
            )
    _record(request, decision)
    return decision


def _record(request: AdmissionRequest, decision: Decision) -> None:
    metrics.ADMISSION_REQUESTS.labels(
        request.handler, decision.verdict.value, str(request.dry_run).lower()
    ).inc()
    if decision.verdict in (Verdict.DENY, Verdict.DRY_RUN):
        # One line per budget verdict that matters, for audits (the object name, not the plan).
        logger.info(
            "admission %s %s %s/%s%s: %s",
            decision.verdict.value,
            request.operation,
            request.namespace,
            request.name,
            " (dry run)" if request.dry_run else "",
            decision.message,
        )
    for violation in decision.dry_run_violations():
        metrics.ADMISSION_DRY_RUN_VIOLATIONS.labels(violation.policy, violation.limit).inc()
    if decision.error is not None:
        metrics.ADMISSION_PLAN_FAILURES.labels(request.handler, decision.error).inc()


def _unchanged(request: AdmissionRequest, fields: Sequence[str]) -> bool:
    """True when an UPDATE leaves the judged fields alone (finalizers, annotations, kopf's own marks):
    re-judging it could deny the operator's metadata patches to an object admitted long ago."""
    if request.operation != "UPDATE" or request.old is None:
        return False
    return all(request.new.get(name) == request.old.get(name) for name in fields)


def _skipped(reason: str, message: str) -> Decision:
    return Decision(Verdict.SKIPPED, message, reason=reason)


def _policies(runtime: AdmissionRuntime, handler: str) -> list[CostPolicy]:
    policies: list[CostPolicy] = []
    for policy in runtime.state.cost_policies():
        if isinstance(policy, CostPolicy):
            policies.append(policy)
        else:
            # A malformed policy is reported, not enforced: its selectors cannot say what it covers.
            # (The CRD schema rejects most such policies before they exist.)
            logger.warning("CostPolicy skipped at admission: %s", policy)
            metrics.ADMISSION_INVALID_POLICIES.labels(handler).inc()
    return policies


def _namespace_labels(runtime: AdmissionRuntime, namespace: str) -> Mapping[str, str]:
    labels = runtime.state.namespace_labels(namespace)
    if labels is None:
        # Not indexed yet (created a moment ago): the API server sets this label on every namespace.
        return {"kubernetes.io/metadata.name": namespace}
    return labels


async def _decide_costestimate(request: AdmissionRequest, runtime: AdmissionRuntime) -> Decision:
    if request.operation not in CHECKED_OPERATIONS:
        return _skipped("NotChecked", f"{request.operation} is not checked")
    if _mapping(request.new.get("metadata")).get("deletionTimestamp"):
        return _skipped("Deleting", "the CostEstimate is being deleted")
    if _unchanged(request, ("spec",)):
        return _skipped("SpecUnchanged", "spec unchanged: verdict unchanged")
    policies = _policies(runtime, request.handler)
    namespace_labels = _namespace_labels(runtime, request.namespace)
    labels = _labels(request.new)
    if not any(policy.selects(namespace_labels, labels) for policy in policies):
        # Nothing to enforce, so no reason to pay for an estimate (the operator reports it in status).
        return Decision(Verdict.NO_POLICY, "no CostPolicy applies", reason="NoPolicy")
    spec = _mapping(request.new.get("spec"))
    try:
        plan = await _resolve_plan(request.namespace, spec, runtime, runtime.state.plan_indexes())
        estimate = await _estimate(plan, spec, runtime, request.review_bytes)
    except errors.CloudCostGuardError as err:
        return evaluation.evaluate_failure(
            policies,
            namespace_labels=namespace_labels,
            subjects=[Subject(request.name, labels)],
            error=err,
        )
    return evaluation.evaluate(
        policies,
        namespace=request.namespace,
        namespace_labels=namespace_labels,
        candidates=[Candidate(request.name, labels, estimate)],
        committed=runtime.state.committed_spend(request.namespace),
    )


async def _decide_plan_source(request: AdmissionRequest, runtime: AdmissionRuntime) -> Decision:
    if request.operation not in CHECKED_OPERATIONS:
        return _skipped("NotChecked", f"{request.operation} is not checked")
    if _mapping(request.new.get("metadata")).get("deletionTimestamp"):
        return _skipped("Deleting", "the object is being deleted")
    if _unchanged(request, ("data", "binaryData", "stringData")):
        return _skipped("DataUnchanged", "data unchanged: verdict unchanged")
    if PLAN_LABEL not in _labels(request.new):
        # As kopf's handler filter does: the webhook's objectSelector should not even send these.
        return _skipped("NotPlanSource", f"not labelled {PLAN_LABEL}")
    kind = str(request.new.get("kind") or "")
    if kind not in ("ConfigMap", "Secret"):
        raise ValueError(f"validate-plan-source got a {kind or 'object without kind'}")
    referencing = list(runtime.state.referencing_estimates(request.namespace, kind, request.name))
    if not referencing:
        return _skipped("NotReferenced", f"no CostEstimate uses {kind} {request.name}")
    policies = _policies(runtime, request.handler)
    namespace_labels = _namespace_labels(runtime, request.namespace)
    # The new object stands in for the indexed one: the referencing estimates are judged with it.
    entry = plan_object_entry(kind, request.namespace, request.name, request.new)
    current = runtime.state.plan_indexes()
    proposed = PlanIndexes(
        {**current.plan_configmaps, **{k: [v] for k, v in entry.items()}}
        if kind == indexes.CONFIGMAP
        else current.plan_configmaps,
        {**current.plan_secrets, **{k: [v] for k, v in entry.items()}}
        if kind == indexes.SECRET
        else current.plan_secrets,
        current.tofu_plans,
    )
    candidates: list[Candidate] = []
    failures: list[Decision] = []
    for estimate_object in sorted(referencing, key=lambda o: str(_mapping(o.get("metadata")).get("name"))):
        name = str(_mapping(estimate_object.get("metadata")).get("name", ""))
        labels = _labels(estimate_object)
        if not any(policy.selects(namespace_labels, labels) for policy in policies):
            continue
        spec = _mapping(estimate_object.get("spec"))
        if not _key_changed(request, spec):
            continue  # another key of a shared object changed: this estimate's plan did not
        try:
            plan = await _resolve_plan(request.namespace, spec, runtime, proposed)
            candidates.append(Candidate(name, labels, await _estimate(plan, spec, runtime)))
        except errors.CloudCostGuardError as err:
            failures.append(
                evaluation.evaluate_failure(
                    policies,
                    namespace_labels=namespace_labels,
                    subjects=[Subject(name, labels)],
                    error=err,
                )
            )
    decisions = list(failures)
    if candidates:
        decisions.insert(
            0,
            evaluation.evaluate(
                policies,
                namespace=request.namespace,
                namespace_labels=namespace_labels,
                candidates=candidates,
                committed=runtime.state.committed_spend(request.namespace),
            ),
        )
    if not decisions:
        return _skipped(
            "NothingToJudge", f"no judged CostEstimate reads a changed key of {kind} {request.name}"
        )
    return evaluation.combine(decisions)


def _key_changed(request: AdmissionRequest, spec: Mapping[str, Any]) -> bool:
    """Whether the plan key a CostEstimate reads differs between the old and the new object."""
    if request.operation != "UPDATE" or request.old is None:
        return True
    plan = _mapping(spec.get("plan"))
    reference = _mapping(plan.get("configMapKeyRef") or plan.get("secretKeyRef"))
    key = str(reference.get("key", ""))

    def value(document: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(_mapping(document.get(part)).get(key) for part in ("data", "binaryData", "stringData"))

    return value(request.new) != value(request.old)


# --- plans -----------------------------------------------------------------------------------------


async def _resolve_plan(
    namespace: str, spec: Mapping[str, Any], runtime: AdmissionRuntime, plan_indexes: PlanIndexes
) -> dict[str, Any] | bytes:
    """The plan of a CostEstimate spec: the inline object itself, or the bytes of the indexed source."""
    plan = spec.get("plan")
    if not isinstance(plan, Mapping):
        raise errors.PlanError("spec.plan is missing")
    inline = plan.get("inline")
    if inline is not None:
        if not isinstance(inline, dict):
            raise errors.PlanError("spec.plan.inline must be the plan JSON object")
        return inline  # estimated as parsed: no second serialisation and parse
    if plan.get("url") is not None:
        # Fetching inside the API server's request would make the webhook as slow as the slowest
        # remote; the operator estimates URL plans after admission and reports them in status.policy.
        raise errors.PlanSourceError(
            "spec.plan.url is estimated by the operator after admission, not by the webhook",
            reason="NotEstimatedAtAdmission",
        )
    try:
        source = PlanSource.model_validate(plan)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise errors.PlanError(f"spec.plan{'.' + where if where else ''}: {first['msg']}") from err
    resolved = await runtime.resolver.resolve(
        namespace,
        source,
        plan_configmaps=plan_indexes.plan_configmaps,
        plan_secrets=plan_indexes.plan_secrets,
        tofu_plans=plan_indexes.tofu_plans,
    )
    return resolved.raw


async def _estimate(
    plan: dict[str, Any] | bytes,
    spec: Mapping[str, Any],
    runtime: AdmissionRuntime,
    review_bytes: int | None = None,
) -> Estimate:
    """Estimate in-process; large plans in a worker thread so the event loop keeps answering.

    ``review_bytes``, when known, bounds the size of an inline plan: when it is within the plan limit,
    the plan is estimated as parsed, without the canonical re-serialisation ``cloudcostguard.estimate``
    does for ``status.planDigest`` (which the webhook does not report).
    """
    settings = runtime.settings
    usage = spec.get("usage")
    if usage is not None and not isinstance(usage, Mapping):
        raise errors.UsageError("spec.usage must map resource addresses to usage values")
    region = spec.get("defaultRegion")
    default_region = region if isinstance(region, str) and region else settings.default_region
    catalog = runtime.catalog()  # read on the loop: a refresh swaps catalogs between requests only
    bounded = isinstance(plan, dict) and review_bytes is not None and review_bytes <= runtime.max_plan_bytes
    as_of = datetime.now(UTC).date()

    def run() -> Estimate:
        return cloudcostguard.estimate(
            plan,
            usage=usage,
            catalog=catalog,
            default_region=default_region,
            max_plan_bytes=runtime.max_plan_bytes,
            hours_per_month=settings.hours_per_month,
            as_of=as_of,
            plan_digest=not bounded,
        )

    if isinstance(plan, bytes):
        heavy = len(plan) > OFFLOAD_PLAN_BYTES
    else:
        changes = plan.get("resource_changes")
        heavy = isinstance(changes, list) and len(changes) > settings.webhook_inline_max_resources
    # The same object comes back often (diffs, dry runs, re-applies): whole estimates are remembered
    # per catalog. The plan and usage came out of JSON (the review, a ConfigMap), so their JSON is exact.
    remembered = memo.estimate_memo_for(catalog)
    if remembered is not None:
        estimate_afresh = run

        def key() -> bytes | None:
            return memo.json_key(
                ["sha256", hashlib.sha256(plan).hexdigest()] if isinstance(plan, bytes) else plan,
                usage,
                default_region,
                str(settings.hours_per_month),
                as_of.isoformat(),
                not bounded,
            )

        if heavy:  # the key of a large plan takes time too: taken in the worker, with the estimate
            run = functools.partial(_remembered, remembered, key, estimate_afresh)
        else:
            light_key = key()
            found = remembered.find(light_key)
            if found is not None:
                return found  # answered on the loop: no worker thread for what is already known
            run = functools.partial(remembered.estimate, light_key, estimate_afresh)
    if not heavy or runtime.executor is None:
        return _guarded(run)
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    future = loop.run_in_executor(runtime.executor, _guarded, run)
    try:
        return await asyncio.wait_for(future, settings.webhook_decision_timeout)
    except TimeoutError:
        # The thread finishes on its own; the answer must not wait past the API server's timeout.
        raise errors.PricingError(
            f"estimate took longer than {settings.webhook_decision_timeout:g} s "
            f"(gave up after {time.perf_counter() - started:.1f} s)",
            reason="EstimateTimeout",
        ) from None


def _remembered(
    remembered: memo.EstimateMemo, key: Callable[[], bytes | None], run: Callable[[], Estimate]
) -> Estimate:
    return remembered.estimate(key(), run)


def _guarded(run: Callable[[], Estimate]) -> Estimate:
    try:
        return run()
    except errors.CloudCostGuardError:
        raise
    except RecursionError as err:
        raise errors.PlanError("plan is nested too deeply") from err
    except MemoryError as err:
        raise errors.PlanTooLargeError("plan is too large to estimate") from err


# --- AdmissionReview in and out (the lean path) -----------------------------------------------------


class ReviewError(Exception):
    """The request is not a usable AdmissionReview: answered with an HTTP 4xx and this reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = " ".join(reason.split())[:300]


def parse_review(body: bytes, handler: str | None = None) -> dict[str, Any]:
    """Parse and check an AdmissionReview; with ``handler``, also that it is for that handler's resources."""
    if not body.strip():
        raise ReviewError(400, "empty request body: expected an AdmissionReview")
    try:
        with paused_gc():  # tens of thousands of young objects, no cycles: nothing for the collector
            review = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise ReviewError(400, f"request body is not JSON: {err}") from err
    if not isinstance(review, dict):
        raise ReviewError(400, "request body must be an AdmissionReview object")
    if review.get("kind") != "AdmissionReview" or review.get("apiVersion") not in REVIEW_VERSIONS:
        raise ReviewError(400, "expected kind AdmissionReview, apiVersion admission.k8s.io/v1")
    payload = review.get("request")
    if not isinstance(payload, dict):
        raise ReviewError(400, "AdmissionReview has no request")
    uid = payload.get("uid")
    if not isinstance(uid, str) or not uid:
        raise ReviewError(400, "request.uid is missing")
    resource = payload.get("resource")
    if not isinstance(resource, dict) or not all(
        isinstance(resource.get(k), str) for k in ("group", "version", "resource")
    ):
        raise ReviewError(400, "request.resource needs group, version and resource")
    operation = payload.get("operation")
    if operation not in ("CREATE", "UPDATE", "DELETE", "CONNECT"):
        raise ReviewError(400, "request.operation must be CREATE, UPDATE, DELETE or CONNECT")
    if not isinstance(payload.get("userInfo"), dict):
        raise ReviewError(400, "request.userInfo is missing")
    new, old = payload.get("object"), payload.get("oldObject")
    if operation in CHECKED_OPERATIONS and not isinstance(new, dict):
        raise ReviewError(400, f"request.object is missing for {operation}")
    if operation == "UPDATE" and not isinstance(old, dict):
        raise ReviewError(400, "request.oldObject is missing for UPDATE")
    if new is None and old is None:
        raise ReviewError(400, "request has neither object nor oldObject")
    if handler is not None and (resource["group"], resource["resource"]) not in HANDLED_RESOURCES[handler]:
        wanted = ", ".join(sorted(f"{g or 'core'}/{r}" for g, r in HANDLED_RESOURCES[handler]))
        raise ReviewError(
            400, f"/{handler} reviews {wanted}, not {resource['group'] or 'core'}/{resource['resource']}"
        )
    return review


def response_for(review: Mapping[str, Any], decision: Decision) -> dict[str, Any]:
    """The AdmissionReview response, shaped exactly as kopf builds it for the same decision."""
    payload: dict[str, Any] = {"uid": review["request"]["uid"], "allowed": decision.allowed}
    if decision.warnings:
        payload["warnings"] = list(decision.warnings)
    if not decision.allowed:
        payload["status"] = {"message": decision.message, "code": decision.code}
    return {
        "apiVersion": review.get("apiVersion", "admission.k8s.io/v1"),
        "kind": review.get("kind", "AdmissionReview"),
        "response": payload,
    }


async def answer_review(
    handler: str, body: bytes, runtime: AdmissionRuntime
) -> tuple[int, bytes, str | None]:
    """The lean path: HTTP status, JSON body and (for a 4xx) the reason, for one request body."""
    try:
        review = parse_review(body, handler)
    except ReviewError as err:
        metrics.ADMISSION_REJECTED_REVIEWS.labels(str(err.status)).inc()
        return err.status, rejection(err), err.reason
    decision = await decide(AdmissionRequest.from_payload(handler, review["request"], len(body)), runtime)
    return 200, orjson.dumps(response_for(review, decision)), None


def rejection(err: ReviewError) -> bytes:
    """A Kubernetes ``Status`` body for a request that is not a usable AdmissionReview."""
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Status",
            "status": "Failure",
            "message": err.reason,
            "reason": "BadRequest" if err.status == 400 else "RequestEntityTooLarge",
            "code": err.status,
        }
    )


# --- kopf handlers -----------------------------------------------------------------------------------


def runtime_from_memo(memo: Any) -> AdmissionRuntime:
    runtime = memo.get(MEMO_KEY) if isinstance(memo, Mapping) else getattr(memo, MEMO_KEY, None)
    if not isinstance(runtime, AdmissionRuntime):
        # configure_admission() was not called: a wiring bug, not the object's fault.
        raise kopf.AdmissionError("the CloudCostGuard admission webhook is not configured", code=500)
    return runtime


async def _kopf_handler(handler: str, kwargs: Mapping[str, Any]) -> None:
    runtime = runtime_from_memo(kwargs.get("memo"))
    body, old = kwargs["body"], kwargs.get("old")
    metadata = _mapping(body.get("metadata"))
    request = AdmissionRequest(
        handler=handler,
        operation=str(kwargs.get("operation") or ""),
        namespace=str(metadata.get("namespace") or ""),
        name=str(metadata.get("name") or metadata.get("generateName") or ""),
        new=body,
        old=old,
        dry_run=bool(kwargs.get("dryrun")),
    )
    started = time.perf_counter()
    decision = await decide(request, runtime)
    metrics.ADMISSION_DURATION.labels(handler).observe(time.perf_counter() - started)
    warnings: list[str] = kwargs["warnings"]
    warnings.extend(decision.warnings)
    if not decision.allowed:
        raise kopf.AdmissionError(decision.message, code=decision.code)


@kopf.on.validate(GROUP, VERSION, PLURAL, id=HANDLER_COSTESTIMATE, operations=["CREATE", "UPDATE"])
async def validate_costestimate(**kwargs: Any) -> None:
    """CostEstimate CREATE/UPDATE: estimate the inline or referenced plan, judge it against CostPolicies."""
    await _kopf_handler(HANDLER_COSTESTIMATE, kwargs)


@kopf.on.validate(
    "", "v1", "configmaps", id=HANDLER_PLAN_SOURCE, operations=["CREATE", "UPDATE"],
    labels={PLAN_LABEL: kopf.PRESENT},
)  # fmt: skip
@kopf.on.validate(
    "", "v1", "secrets", id=HANDLER_PLAN_SOURCE, operations=["CREATE", "UPDATE"],
    labels={PLAN_LABEL: kopf.PRESENT},
)  # fmt: skip
async def validate_plan_source(**kwargs: Any) -> None:
    """A labelled plan ConfigMap/Secret changes: re-judge the CostEstimates that use it with the new plan."""
    await _kopf_handler(HANDLER_PLAN_SOURCE, kwargs)

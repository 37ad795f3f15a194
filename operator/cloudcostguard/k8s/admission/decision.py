"""The admission decision: one ``decide`` behind both ways in (kopf's handlers and the lean path).

- ``handlers`` registers kopf's validating handlers, ``validate-costestimate`` (CostEstimate
  CREATE/UPDATE) and ``validate-plan-source`` (CREATE/UPDATE of ConfigMaps/Secrets labelled
  ``cloudcostguard.io/plan``); the manifests in ``config/webhook/`` use the paths ``/<handler id>``.
- the lean path (``server.AdmissionServer``, same server, same paths) parses the AdmissionReview
  itself (``review.answer_review``) and calls the same ``decide``: kopf's request handling costs more
  than the pricing work on large reviews (see ``benchmarks/admission_latency.py``).

No side effects (``sideEffects: None``): a decision reads the cluster state (kopf indexes) and the price
catalog, estimates in-process and writes nothing to the cluster. DryRun verdicts are recorded in
metrics here; the Event and ``status.policy`` are written by the operator's reconciliation, which calls
``policy.evaluation.evaluate`` itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from cloudcostguard import errors, metrics
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.k8s.api.models import GROUP, PLAN_SOURCE_LABEL, CostEstimateSpec
from cloudcostguard.k8s.cluster import indexes
from cloudcostguard.k8s.cluster.estimates import estimate_spec, parse_spec
from cloudcostguard.k8s.cluster.plan_sources import PlanResolver
from cloudcostguard.k8s.cluster.state import ClusterState, PlanIndexes, plan_object_entry
from cloudcostguard.plan.decoder import count_resource_changes
from cloudcostguard.policy import evaluation
from cloudcostguard.policy.evaluation import Candidate, Decision, Subject, Verdict
from cloudcostguard.policy.model import CostPolicy, applicable
from cloudcostguard.pricing.catalog import PriceCatalog
from cloudcostguard.settings import Settings

logger = logging.getLogger(__name__)

HANDLER_COSTESTIMATE = "validate-costestimate"
HANDLER_PLAN_SOURCE = "validate-plan-source"
HANDLER_IDS = (HANDLER_COSTESTIMATE, HANDLER_PLAN_SOURCE)

PLURAL = "costestimates"
PLAN_LABEL = PLAN_SOURCE_LABEL

# What each handler admits, as (API group, plural): a review for anything else is a misconfiguration.
HANDLED_RESOURCES: dict[str, frozenset[tuple[str, str]]] = {
    HANDLER_COSTESTIMATE: frozenset({(GROUP, PLURAL)}),
    HANDLER_PLAN_SOURCE: frozenset({("", "configmaps"), ("", "secrets")}),
}
CHECKED_OPERATIONS = frozenset({"CREATE", "UPDATE"})


# --- the runtime: settings, state, catalog, executor -------------------------------------------------


@dataclass
class AdmissionRuntime:
    """Everything a decision needs besides the request; created by ``server.configure_admission``."""

    settings: Settings
    state: ClusterState
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
    # The inline plan's JSON text, when the lean path kept it out of ``new`` (whose spec.plan.inline is
    # then an empty object): estimated from these bytes, parsed only if no estimate of them is known.
    inline_plan: bytes | None = None

    @classmethod
    def from_payload(
        cls,
        handler: str,
        payload: Mapping[str, Any],
        review_bytes: int | None = None,
        inline_plan: bytes | None = None,
    ) -> AdmissionRequest:
        new = indexes.mapping(payload.get("object"))
        old = payload.get("oldObject")
        metadata = indexes.mapping(new.get("metadata"))
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
            inline_plan=inline_plan,
        )


def labels_of(document: Mapping[str, Any]) -> Mapping[str, str]:
    labels = indexes.mapping(indexes.mapping(document.get("metadata")).get("labels"))
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
            policies = applicable(
                _policies(runtime, request.handler),
                _namespace_labels(runtime, request.namespace),
                labels_of(request.new),
            )
            decision = evaluation.evaluate_failure(subjects=[Subject(request.name, policies)], error=failure)
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
    if indexes.mapping(request.new.get("metadata")).get("deletionTimestamp"):
        return _skipped("Deleting", "the CostEstimate is being deleted")
    if _unchanged(request, ("spec",)):
        return _skipped("SpecUnchanged", "spec unchanged: verdict unchanged")
    policies = applicable(
        _policies(runtime, request.handler),
        _namespace_labels(runtime, request.namespace),
        labels_of(request.new),
    )
    if not policies:
        # Nothing to enforce, so no reason to pay for an estimate (the operator reports it in status).
        return Decision(Verdict.NO_POLICY, "no CostPolicy applies", reason="NoPolicy")
    try:
        spec = parse_spec(indexes.mapping(request.new.get("spec")))
        plan: dict[str, Any] | bytes
        if request.inline_plan is not None and spec.plan.inline is not None:
            plan = request.inline_plan
        else:
            plan = await _resolve_plan(request.namespace, spec, runtime, runtime.state.plan_indexes())
        estimate = await _estimate(
            plan, spec, runtime, request.review_bytes, inline=request.inline_plan is not None
        )
    except errors.CloudCostGuardError as err:
        return evaluation.evaluate_failure(subjects=[Subject(request.name, policies)], error=err)
    return evaluation.evaluate(
        namespace=request.namespace,
        candidates=[Candidate(request.name, estimate, policies)],
        committed=runtime.state.committed_spend(request.namespace),
    )


async def _decide_plan_source(request: AdmissionRequest, runtime: AdmissionRuntime) -> Decision:
    if request.operation not in CHECKED_OPERATIONS:
        return _skipped("NotChecked", f"{request.operation} is not checked")
    if indexes.mapping(request.new.get("metadata")).get("deletionTimestamp"):
        return _skipped("Deleting", "the object is being deleted")
    if _unchanged(request, ("data", "binaryData", "stringData")):
        return _skipped("DataUnchanged", "data unchanged: verdict unchanged")
    if PLAN_LABEL not in labels_of(request.new):
        # As kopf's handler filter does: the webhook's objectSelector should not even send these.
        return _skipped("NotPlanSource", f"not labelled {PLAN_LABEL}")
    kind = str(request.new.get("kind") or "")
    if kind not in ("ConfigMap", "Secret"):
        raise ValueError(f"validate-plan-source got a {kind or 'object without kind'}")
    referencing = list(runtime.state.plan_users(indexes.PlanRef(request.namespace, kind, request.name)))
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
    for user in sorted(referencing, key=lambda user: user.name):
        selected = applicable(policies, namespace_labels, user.labels)
        if not selected:
            continue
        if not _key_changed(request, user.spec):
            continue  # another key of a shared object changed: this estimate's plan did not
        try:
            spec = parse_spec(user.spec)
            plan = await _resolve_plan(request.namespace, spec, runtime, proposed)
            candidates.append(Candidate(user.name, await _estimate(plan, spec, runtime), selected))
        except errors.CloudCostGuardError as err:
            failures.append(evaluation.evaluate_failure(subjects=[Subject(user.name, selected)], error=err))
    decisions = list(failures)
    if candidates:
        decisions.insert(
            0,
            evaluation.evaluate(
                namespace=request.namespace,
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
    plan = indexes.mapping(spec.get("plan"))
    reference = indexes.mapping(plan.get("configMapKeyRef") or plan.get("secretKeyRef"))
    key = str(reference.get("key", ""))

    def value(document: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(
            indexes.mapping(document.get(part)).get(key) for part in ("data", "binaryData", "stringData")
        )

    return value(request.new) != value(request.old)


# --- plans -----------------------------------------------------------------------------------------


async def _resolve_plan(
    namespace: str, spec: CostEstimateSpec, runtime: AdmissionRuntime, plan_indexes: PlanIndexes
) -> dict[str, Any] | bytes:
    """The plan of a CostEstimate spec: the inline object itself, or the bytes of the indexed source."""
    source = spec.plan
    if source.inline is not None:
        return source.inline  # estimated as parsed: no second serialisation and parse
    if source.url is not None:
        # Fetching inside the API server's request would make the webhook as slow as the slowest
        # remote; the operator estimates URL plans after admission and reports them in status.policy.
        raise errors.PlanSourceError(
            "spec.plan.url is estimated by the operator after admission, not by the webhook",
            reason="NotEstimatedAtAdmission",
        )
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
    spec: CostEstimateSpec,
    runtime: AdmissionRuntime,
    review_bytes: int | None = None,
    *,
    inline: bool = False,
) -> Estimate:
    """Estimate in-process; large plans in the webhook's worker threads, bounded by the decision timeout.

    ``review_bytes``, when known, bounds the size of an inline plan: when it is within the plan limit,
    the plan is estimated as parsed, without the canonical re-serialisation ``cloudcostguard.estimate``
    does for ``status.planDigest`` (which the webhook does not report). ``inline``: ``plan`` is an inline
    plan's JSON text (the lean path's), offloaded by its resource count as a parsed one would be.
    """
    bounded = isinstance(plan, dict) and review_bytes is not None and review_bytes <= runtime.max_plan_bytes
    return await estimate_spec(
        plan,
        spec,
        catalog=runtime.catalog(),  # read on the loop: a refresh swaps catalogs between requests only
        settings=runtime.settings,
        max_plan_bytes=runtime.max_plan_bytes,
        plan_digest=not bounded,
        executor=runtime.executor,
        give_up_after=runtime.settings.webhook_decision_timeout,
        remember=True,
        resource_changes=_resource_changes(plan, runtime.settings) if inline else None,
    )


def _resource_changes(plan: dict[str, Any] | bytes, settings: Settings) -> int | None:
    """How many resource changes an inline plan's text lists, as far as offloading needs to know."""
    if not isinstance(plan, bytes):
        return None
    # Every resource change has an "actions" key: counting the text is an upper bound, and when that is
    # within the limit no exact count is needed (no escapes: an escaped key would hide from the count).
    bound = plan.count(b'"actions"')
    if bound <= settings.webhook_inline_max_resources and plan.find(b"\\u") < 0:
        return bound
    return count_resource_changes(plan)

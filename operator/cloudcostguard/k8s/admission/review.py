"""AdmissionReview in and out, for the lean path: parse and check a request body, shape the response.

A body that is not a usable AdmissionReview is a ``ReviewError``, answered with an HTTP 4xx and the
reason (kopf would answer some of them with a 500). The response is shaped exactly as kopf builds it
for the same decision, so the lean path and kopf's path give the API server the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypedDict

import msgspec
import orjson

from cloudcostguard import metrics
from cloudcostguard.k8s.admission.decision import (
    CHECKED_OPERATIONS,
    HANDLED_RESOURCES,
    AdmissionRequest,
    AdmissionRuntime,
    decide,
)
from cloudcostguard.performance import paused_gc
from cloudcostguard.policy.evaluation import Decision

REVIEW_VERSIONS = frozenset({"admission.k8s.io/v1", "admission.k8s.io/v1beta1"})


# Kubernetes ``Status`` reasons (metav1.StatusReason) of the HTTP errors the webhook answers. None of
# them asks the API server to retry (``ServerTimeout`` or ``details.retryAfterSeconds`` would).
STATUS_REASONS = {
    400: "BadRequest",
    404: "NotFound",
    408: "Timeout",
    409: "Conflict",
    413: "RequestEntityTooLarge",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}


# Where a CREATE review keeps an inline plan: found by a typed decode that skips everything else.
class _InlineSource(TypedDict, total=False):
    inline: msgspec.Raw


class _Spec(TypedDict, total=False):
    plan: _InlineSource


class _Object(TypedDict, total=False):
    spec: _Spec


class _Request(TypedDict, total=False):
    operation: Any
    object: _Object


class _Located(TypedDict, total=False):
    request: _Request


_LOCATE = msgspec.json.Decoder(_Located)


def split_inline_plan(body: bytes) -> tuple[bytes, bytes] | None:
    """``(body with the inline plan as {}, the plan's JSON text)`` for a CREATE review whose
    ``spec.plan.inline`` is a JSON object written once in the body; None for any other review.

    The plan is most of a large review's bytes and objects; the decision needs it only for the estimate,
    which the webhook remembers by the plan's bytes: parsed only when it has to be estimated. Only CREATE:
    an UPDATE compares the old and new specs as parsed objects.
    """
    try:
        located = _LOCATE.decode(body)
    except (msgspec.DecodeError, RecursionError):  # not this shape (or not JSON): the full parse says why
        return None
    request = located.get("request") or {}
    if request.get("operation") != "CREATE":
        return None
    raw = request.get("object", {}).get("spec", {}).get("plan", {}).get("inline")
    if raw is None:
        return None
    plan = bytes(raw)
    if not plan.startswith(b"{"):
        return None
    # The plan's text once in the body: then that text is the inline plan's, whatever else the review
    # holds. Searched for by its head (searching a whole large plan costs more than decoding it): any
    # other occurrence of the plan would hold the head too.
    head = plan[:_HEAD_BYTES]
    start = body.find(head)
    if start < 0 or not body.startswith(plan, start) or body.find(head, start + 1) >= 0:
        return None
    return body[:start] + b"{}" + body[start + len(plan) :], plan


_HEAD_BYTES = 256


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
    api_version = review.get("apiVersion")
    # isinstance first: a list or object there is unhashable, and the set lookup would raise TypeError.
    if review.get("kind") != "AdmissionReview" or not (
        isinstance(api_version, str) and api_version in REVIEW_VERSIONS
    ):
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
    if handler is not None:
        _check_kinds(payload, OBJECT_KINDS[resource["group"], resource["resource"]])
    return review


# The kind of the objects a review of each handled resource carries: a plan source's decision reads the
# kind off the object (ConfigMap or Secret), and a review whose object is of another kind than its
# resource is malformed (the API server never sends one). Found by tests/reliability fuzzing: it was
# judged as an internal error.
OBJECT_KINDS = {
    ("cloudcostguard.io", "costestimates"): "CostEstimate",
    ("", "configmaps"): "ConfigMap",
    ("", "secrets"): "Secret",
}


def _check_kinds(payload: Mapping[str, Any], expected: str) -> None:
    for field in ("object", "oldObject"):
        document = payload.get(field)
        if not isinstance(document, dict):
            continue
        # A CostEstimate's decision does not read its kind; a plan source's does, so it must be there.
        kind = document.get("kind", expected if expected == "CostEstimate" else None)
        if kind != expected:
            shown = (
                "missing"
                if kind is None
                else repr(kind)[:60]
                if isinstance(kind, str)
                else type(kind).__name__
            )
            raise ReviewError(400, f"request.{field}.kind must be {expected}, not {shown}")


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
    split = split_inline_plan(body)
    try:
        review = parse_review(body if split is None else split[0], handler)
    except ReviewError as err:
        metrics.ADMISSION_REJECTED_REVIEWS.labels(str(err.status)).inc()
        return err.status, rejection(err), err.reason
    request = AdmissionRequest.from_payload(
        handler, review["request"], len(body), inline_plan=None if split is None else split[1]
    )
    decision = await decide(request, runtime)
    return 200, orjson.dumps(response_for(review, decision)), None


def rejection(err: ReviewError) -> bytes:
    """A Kubernetes ``Status`` body for a request that is not a usable AdmissionReview."""
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "Status",
            "status": "Failure",
            "message": err.reason,
            "reason": STATUS_REASONS.get(err.status, "BadRequest"),
            "code": err.status,
        }
    )

"""AdmissionReview in and out, for the lean path: parse and check a request body, shape the response.

A body that is not a usable AdmissionReview is a ``ReviewError``, answered with an HTTP 4xx and the
reason (kopf would answer some of them with a 500). The response is shaped exactly as kopf builds it
for the same decision, so the lean path and kopf's path give the API server the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
            "reason": STATUS_REASONS.get(err.status, "BadRequest"),
            "code": err.status,
        }
    )

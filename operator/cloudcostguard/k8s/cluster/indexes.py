"""kopf indexes: in-memory views of the cluster that the operator and the webhook read instead of the API.

kopf passes each index to any handler (operator or admission) as a keyword argument named after the
index; an index maps a key to a ``kopf.Store`` (an iterable of the values of every object that produced
that key). The functions here are pure (body → ``{key: value}``); ``kopf_indexes`` registers them and
``state.KopfIndexState`` reads them.

Shapes (kwarg name — resource — key → values):

- ``namespace_labels`` — v1 Namespaces — ``namespace name`` → one ``Mapping[str, str]`` of its labels.
- ``costestimate_spend`` — CostEstimates — ``namespace`` → ``SpendEntry(name, monthly_cost, labels)``
  per CostEstimate whose ``status.monthlyCost`` is set (objects being deleted are left out).
- ``plan_users`` — CostEstimates — ``PlanRef(namespace, kind, name)`` → one ``PlanUser`` per CostEstimate
  in that namespace that reads its plan from it; ``kind`` is ``ConfigMap``, ``Secret`` or ``Terraform``
  (then ``name`` is the tofu-controller Secret base name ``tfplan-<workspace>-<name>.json``).
- ``cost_policies`` — CostPolicies — ``name`` → the parsed ``CostPolicy`` (or its ``PolicyError``).
- ``plan_configmaps`` / ``plan_secrets`` — ConfigMaps / Secrets labelled ``cloudcostguard.io/plan`` —
  ``(namespace, name)`` → one ``PlanObject``.
- ``tofu_plans`` — Secrets written by tofu-controller for ``storeReadablePlan: json`` —
  ``(namespace, base name)`` → one ``TofuPlanChunk`` per Secret (one, or several when chunked).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from cloudcostguard import errors
from cloudcostguard.policy.model import CostPolicy

NAMESPACE_LABELS = "namespace_labels"
COSTESTIMATE_SPEND = "costestimate_spend"
PLAN_USERS = "plan_users"
PLAN_CONFIGMAPS = "plan_configmaps"
PLAN_SECRETS = "plan_secrets"
TOFU_PLANS = "tofu_plans"
COST_POLICIES = "cost_policies"

# tofu-controller's plan Secrets (runner/server_plan.go): labels and annotations it writes, and the key.
TOFU_PLAN_NAME_LABEL = "infra.contrib.fluxcd.io/plan-name"  # "<terraform name>.json" for JSON plans
TOFU_WORKSPACE_LABEL = "infra.contrib.fluxcd.io/plan-workspace"
TOFU_CHUNK_ANNOTATION = "infra.contrib.fluxcd.io/plan-chunk"  # "0", "1", … only when chunked
TOFU_PLAN_ID_ANNOTATION = "savedPlan"  # the plan id: equal on every chunk of one plan
TOFU_PLAN_KEY = "tfplan"
TOFU_DEFAULT_WORKSPACE = "default"

CONFIGMAP, SECRET, TERRAFORM = "ConfigMap", "Secret", "Terraform"


class PlanRef(NamedTuple):
    namespace: str
    kind: str  # ConfigMap | Secret | Terraform
    name: str


@dataclass(frozen=True, slots=True)
class SpendEntry:
    name: str
    monthly_cost: Decimal
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class PlanUser:
    """A CostEstimate reading its plan from an indexed object, with what re-estimating it needs: its
    labels (policy selectors) and the spec's plan reference, usage and default region."""

    name: str
    labels: Mapping[str, str]
    spec: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PlanObject:
    """A labelled ConfigMap or Secret, as last seen. Values stay encoded until a plan is read."""

    kind: str  # ConfigMap | Secret
    namespace: str
    name: str
    data: Mapping[str, str]  # ConfigMap: text; Secret: base64
    binary_data: Mapping[str, str]  # ConfigMap binaryData: base64

    def keys(self) -> list[str]:
        return sorted({*self.data, *self.binary_data})

    def value(self, key: str) -> bytes | None:
        """The bytes under ``key``, or None when absent; ValueError when base64 is corrupt."""
        if self.kind == CONFIGMAP and key in self.data:
            return self.data[key].encode()
        encoded = self.data.get(key) if self.kind == SECRET else self.binary_data.get(key)
        if encoded is None:
            return None
        try:
            return base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as err:
            raise ValueError(
                f"key {key!r} of {self.kind} {self.namespace}/{self.name} is not base64"
            ) from err


@dataclass(frozen=True, slots=True)
class TofuPlanChunk:
    name: str
    chunk: int | None  # None: the plan is in this one Secret
    plan_id: str | None
    encoded: str | None  # base64 of (a slice of) the gzip-compressed plan


def tofu_base_name(workspace: str | None, terraform_name: str) -> str:
    """The Secret name tofu-controller uses for a JSON plan (chunks append ``-<index>``)."""
    return f"tfplan-{workspace or TOFU_DEFAULT_WORKSPACE}-{terraform_name}.json"


# --- index functions: (body parts) → {key: value} ------------------------------------------------------


def index_namespace_labels(name: str, labels: Mapping[str, str]) -> dict[str, Mapping[str, str]]:
    return {name: dict(labels)}


def index_costestimate_spend(
    namespace: str, name: str, labels: Mapping[str, str], meta: Mapping[str, Any], status: Mapping[str, Any]
) -> dict[str, SpendEntry] | None:
    if meta.get("deletionTimestamp"):
        return None
    monthly_cost = parse_status_money(status.get("monthlyCost"))
    if monthly_cost is None:
        return None
    return {namespace: SpendEntry(name=name, monthly_cost=monthly_cost, labels=dict(labels))}


def index_plan_users(
    namespace: str, name: str, labels: Mapping[str, str], spec: Mapping[str, Any]
) -> dict[PlanRef, PlanUser] | None:
    ref = plan_reference(namespace, spec)
    if ref is None:
        return None
    kept = {key: plain(spec[key]) for key in ("plan", "usage", "defaultRegion") if key in spec}
    return {ref: PlanUser(name=name, labels=dict(labels), spec=kept)}


def index_cost_policy(name: str, spec: Mapping[str, Any]) -> dict[str, CostPolicy | errors.PolicyError]:
    """CostPolicies are parsed once per change, not once per admission request or reconcile."""
    document = {"metadata": {"name": name}, "spec": plain(spec)}
    try:
        return {name: CostPolicy.from_object(document)}
    except errors.PolicyError as err:
        return {name: err}


def plan_reference(namespace: str, spec: Mapping[str, Any]) -> PlanRef | None:
    """Which indexed object a CostEstimate's spec reads its plan from (None: inline, url or malformed)."""
    plan = spec.get("plan")
    if not isinstance(plan, Mapping):
        return None
    for field, kind in (("configMapKeyRef", CONFIGMAP), ("secretKeyRef", SECRET)):
        ref = plan.get(field)
        if isinstance(ref, Mapping) and isinstance(ref.get("name"), str):
            return PlanRef(namespace, kind, ref["name"])
    terraform = plan.get("terraformRef")
    if isinstance(terraform, Mapping) and isinstance(terraform.get("name"), str):
        workspace = terraform.get("workspace")
        return PlanRef(
            namespace,
            TERRAFORM,
            tofu_base_name(workspace if isinstance(workspace, str) else None, terraform["name"]),
        )
    return None


def index_plan_object(
    kind: str, namespace: str, name: str, body: Mapping[str, Any]
) -> dict[tuple[str, str], PlanObject]:
    data = body.get("data") or {}
    binary_data = body.get("binaryData") or {}
    return {
        (namespace, name): PlanObject(
            kind=kind,
            namespace=namespace,
            name=name,
            data=data if isinstance(data, Mapping) else {},
            binary_data=binary_data if isinstance(binary_data, Mapping) else {},
        )
    }


def is_tofu_json_plan(name: str, labels: Mapping[str, str]) -> bool:
    """tofu-controller's JSON plan Secrets: labelled (current versions) or only named (older ones)."""
    plan_name = labels.get(TOFU_PLAN_NAME_LABEL)
    if plan_name is not None:
        return plan_name.endswith(".json")
    return name.startswith("tfplan-") and ".json" in name


def index_tofu_plan(
    namespace: str, name: str, annotations: Mapping[str, str], body: Mapping[str, Any]
) -> dict[tuple[str, str], TofuPlanChunk]:
    chunk_text = annotations.get(TOFU_CHUNK_ANNOTATION)
    chunk: int | None = None
    base = name
    if chunk_text is not None and chunk_text.strip().isdigit():
        chunk = int(chunk_text)
        suffix = f"-{chunk}"
        base = name.removesuffix(suffix)
    data = body.get("data") or {}
    encoded = data.get(TOFU_PLAN_KEY) if isinstance(data, Mapping) else None
    return {
        (namespace, base): TofuPlanChunk(
            name=name,
            chunk=chunk,
            plan_id=annotations.get(TOFU_PLAN_ID_ANNOTATION),
            encoded=encoded if isinstance(encoded, str) else None,
        )
    }


def parse_status_money(value: Any) -> Decimal | None:
    """A money string from a status (``status.monthlyCost``) as a Decimal (None when absent or not a
    finite number: a status is the operator's output, so it is read leniently; specs use
    ``policy.model.parse_money``)."""
    if not isinstance(value, str):
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def mapping(value: Any) -> Mapping[str, Any]:
    """``value`` when it is a mapping (a part of a body, as kopf or a review hands it over), else ``{}``."""
    return value if isinstance(value, Mapping) else {}


def plain(value: Any) -> Any:
    """kopf's body views → plain JSON values (dicts and lists), for comparisons and for keeping."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return value

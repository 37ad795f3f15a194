"""The CostEstimate and CostPolicy API (group ``cloudcostguard.io``, version ``v1alpha1``) as pydantic models.

These models are the single source of the CRD schemas: ``crdgen`` turns them into ``crds/*.yaml`` and a
test fails when the files drift. Handlers parse ``spec`` with them; statuses are built with the same field
names (camelCase on the wire, snake_case in Python). Field names and shapes are a contract (DESIGN §4).
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from cloudcostguard.policy.model import MONEY_PATTERN, Unpriced

GROUP = "cloudcostguard.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
CATEGORY = "cloudcostguard"

# Label that opts a ConfigMap/Secret into being a plan source (indexed by the operator, validated by
# the admission webhook). Unlabelled objects are never read: the operator needs no per-reconcile reads.
PLAN_SOURCE_LABEL = f"{GROUP}/plan"

# Kubernetes object names are DNS subdomains: at most 253 characters.
NAME_MAX = 253
# ConfigMap/Secret data keys: letters, digits, '-', '_', '.'; at most 253 characters.
DATA_KEY_PATTERN = r"^[-._a-zA-Z0-9]+$"
# AWS region codes: us-east-1, ap-southeast-2, us-gov-west-1, eu-central-2.
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
URL_MAX = 2048
MESSAGE_MAX = 1024
TOP_RESOURCES_MAX = 20
UNSUPPORTED_TYPES_MAX = 100
# status.coverage lists at most this many addresses per class (the counts cover all of them): the full
# list is one `cloudcostguard estimate --format json` away, and a status must stay small.
COVERAGE_ADDRESSES_MAX = 50
# A policy's status lists the namespaces with the highest committed spend, at most this many, so that the
# object stays small however many namespaces match; the counts always cover all of them.
POLICY_NAMESPACES_MAX = 200

PLAN_SOURCE_FIELDS = ("inline", "configMapKeyRef", "secretKeyRef", "terraformRef", "url")
EXACTLY_ONE_SOURCE_RULE = (
    "[" + ", ".join(f"has(self.{name})" for name in PLAN_SOURCE_FIELDS) + "].filter(x, x).size() == 1"
)
EXACTLY_ONE_SOURCE_MESSAGE = "exactly one of " + ", ".join(PLAN_SOURCE_FIELDS) + " must be set"

# The values of policy.model.Enforcement (a test keeps them equal); a Literal renders as a plain enum.
Enforcement = Literal["Deny", "Warn", "DryRun"]
UnpricedMode = Literal["Ignore", "Warn", "Deny"]  # policy.model.Unpriced's values (a test keeps them equal)
Phase = Literal["Pending", "Estimated", "Failed"]
ConditionStatus = Literal["True", "False", "Unknown"]

# Free-form JSON in a structural schema: the API server keeps it as given.
FREE_FORM: dict[str, Any] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


class ApiModel(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are ignored (the API server prunes)."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore", serialize_by_alias=True
    )


# --- CostEstimate ------------------------------------------------------------------------------------


class KeyRef(ApiModel):
    """A key of a ConfigMap or Secret in the CostEstimate's namespace, labelled cloudcostguard.io/plan."""

    name: str = Field(min_length=1, max_length=NAME_MAX, description="Name of the object.")
    key: str = Field(
        min_length=1, max_length=NAME_MAX, pattern=DATA_KEY_PATTERN, description="Key holding the plan JSON."
    )


class TerraformRef(ApiModel):
    """A tofu-controller Terraform object whose JSON plan is stored (spec.storeReadablePlan: json)."""

    name: str = Field(min_length=1, max_length=NAME_MAX, description="Name of the Terraform object.")
    workspace: str | None = Field(
        None, min_length=1, max_length=90, description="Terraform workspace (default: default)."
    )


class PlanSource(ApiModel):
    """Where the Terraform plan (`terraform show -json` output) comes from: exactly one source."""

    model_config = ConfigDict(
        json_schema_extra={
            "x-kubernetes-validations": [
                {"rule": EXACTLY_ONE_SOURCE_RULE, "message": EXACTLY_ONE_SOURCE_MESSAGE}
            ]
        }
    )

    inline: dict[str, Any] | None = Field(
        None, json_schema_extra=FREE_FORM, description="The plan JSON object itself."
    )
    config_map_key_ref: KeyRef | None = Field(None, description="A ConfigMap key holding the plan JSON.")
    secret_key_ref: KeyRef | None = Field(
        None, description="A Secret key holding the plan JSON, plain or gzip-compressed."
    )
    terraform_ref: TerraformRef | None = Field(
        None,
        description=(
            "tofu-controller's plan Secret tfplan-<workspace>-<name>.json (gzip, chunked above 1 MiB)."
        ),
    )
    url: str | None = Field(
        None,
        max_length=URL_MAX,
        pattern=r"^https://",
        description="An https URL serving the plan JSON (size and time limits apply; private addresses "
        "are refused unless the operator allows them).",
    )

    @model_validator(mode="after")
    def _exactly_one_source(self) -> PlanSource:
        if self.source_count() != 1:
            raise ValueError(EXACTLY_ONE_SOURCE_MESSAGE)
        return self

    def source_count(self) -> int:
        return sum(
            value is not None
            for value in (
                self.inline,
                self.config_map_key_ref,
                self.secret_key_ref,
                self.terraform_ref,
                self.url,
            )
        )

    @property
    def kind(self) -> str:
        """The source's field name (``inline``, ``configMapKeyRef``, …), for metrics and messages."""
        for name in PLAN_SOURCE_FIELDS:
            if getattr(self, to_snake(name)) is not None:
                return name
        raise AssertionError("validated PlanSource has a source")  # pragma: no cover


class CostEstimateSpec(ApiModel):
    """What to price: a Terraform plan, optional usage quantities and a default region."""

    plan: PlanSource = Field(description="Where the Terraform plan comes from.")
    usage: dict[str, Any] | None = Field(
        None,
        json_schema_extra=FREE_FORM,
        description="Usage per resource address, as the resource_usage section of an Infracost usage file.",
    )
    default_region: str | None = Field(
        None,
        max_length=32,
        pattern=REGION_PATTERN,
        description="Region for resources whose provider sets none (default: the operator's).",
    )


class Condition(ApiModel):
    """A condition in the Kubernetes convention (metav1.Condition)."""

    type: str = Field(max_length=316, description="Condition type, e.g. Ready.")
    status: ConditionStatus
    reason: str = Field(max_length=1024, description="CamelCase reason.")
    message: str = Field("", max_length=32768)
    last_transition_time: str = Field(json_schema_extra={"format": "date-time"})
    observed_generation: int | None = Field(None, ge=0)


class ResourceCounts(ApiModel):
    total: int = Field(ge=0, description="Managed resources in the plan.")
    priced: int = Field(ge=0, description="Resources priced from the catalog.")
    free: int = Field(ge=0, description="Resources known to cost nothing.")
    unsupported: int = Field(ge=0, description="Resources of types this version cannot price.")


class Coverage(ApiModel):
    """What the estimate could price: every resource is in exactly one class (counts), and the
    addresses whose cost the totals miss (at most COVERAGE_ADDRESSES_MAX per class)."""

    priced: int = Field(ge=0, description="Resources priced in full.")
    free: int = Field(ge=0, description="Resources known to cost nothing.")
    unsupported: int = Field(ge=0, description="Resources of types this version cannot price.")
    price_not_found: int = Field(
        ge=0, description="Resources with a component the catalog has no price for (partly in the totals)."
    )
    unpriced_added: int = Field(
        ge=0, description="Unpriced resources this change adds: what CostPolicy spec.unpriced judges."
    )
    unsupported_addresses: list[str] | None = Field(None, max_length=COVERAGE_ADDRESSES_MAX)
    price_not_found_addresses: list[str] | None = Field(None, max_length=COVERAGE_ADDRESSES_MAX)


class TopResource(ApiModel):
    """One of the biggest cost drivers."""

    address: str = Field(max_length=1024)
    type: str = Field(max_length=256)
    action: str = Field(max_length=32)
    monthly_cost: str = Field(max_length=32)
    diff_monthly_cost: str = Field(max_length=32)


class PolicyVerdict(ApiModel):
    """The budget verdict of the CostPolicy that decided about this estimate."""

    name: str | None = Field(None, max_length=NAME_MAX)
    enforcement: Enforcement | None = None
    verdict: str | None = Field(None, max_length=64)
    message: str | None = Field(None, max_length=MESSAGE_MAX)


class CostEstimateStatus(ApiModel):
    """What the plan costs per month, as last estimated by the operator."""

    observed_generation: int | None = Field(None, ge=0)
    phase: Phase | None = None
    currency: str | None = Field(None, max_length=8)
    monthly_cost: str | None = Field(None, max_length=32, description="Monthly cost after the plan.")
    past_monthly_cost: str | None = Field(None, max_length=32, description="Monthly cost before the plan.")
    diff_monthly_cost: str | None = Field(None, max_length=32, description="Monthly cost change.")
    plan_digest: str | None = Field(None, max_length=80, description="sha256 of the plan bytes.")
    pricing_version: str | None = Field(None, max_length=128)
    pricing_stale_since: str | None = Field(
        None,
        json_schema_extra={"format": "date-time"},
        description=(
            "Set when this estimate was made while PostgreSQL could not confirm that the price catalog "
            "served is current (the last good catalog kept serving): when it was last confirmed."
        ),
    )
    last_estimated_time: str | None = Field(None, json_schema_extra={"format": "date-time"})
    resource_counts: ResourceCounts | None = None
    top_resources: list[TopResource] | None = Field(None, max_length=TOP_RESOURCES_MAX)
    unsupported_resource_types: list[str] | None = Field(None, max_length=UNSUPPORTED_TYPES_MAX)
    coverage: Coverage | None = None
    policy: PolicyVerdict | None = None
    conditions: list[Condition] | None = Field(
        None,
        max_length=16,
        description=(
            "Ready (True: the current generation and plan are estimated), Estimated, WithinBudget (the "
            "CostPolicy verdict), Stalled (True on a permanent failure), and Reconciling (True only while "
            "a new CostEstimate waits for its first estimate: phase Pending, Ready=False reason Pending)."
        ),
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


# --- CostPolicy --------------------------------------------------------------------------------------


class LabelSelectorRequirement(ApiModel):
    key: str = Field(min_length=1, max_length=317)
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] | None = Field(None, max_length=256)


class LabelSelector(ApiModel):
    """A Kubernetes label selector; empty or absent matches everything."""

    match_labels: dict[str, str] | None = Field(None, max_length=64)
    match_expressions: list[LabelSelectorRequirement] | None = Field(None, max_length=64)


class CostPolicyLimits(ApiModel):
    """Budget limits; money as decimal strings ("250", "250.00"), percentages as integers."""

    max_monthly_cost: str | None = Field(
        None, pattern=MONEY_PATTERN, description="Most a single CostEstimate may cost per month."
    )
    max_monthly_increase: str | None = Field(
        None, pattern=MONEY_PATTERN, description="Largest monthly cost increase one change may bring."
    )
    max_increase_percent: int | None = Field(
        None,
        ge=0,
        le=1_000_000,
        description="Largest monthly cost increase one change may bring, in percent.",
    )
    namespace_monthly_budget: str | None = Field(
        None,
        pattern=MONEY_PATTERN,
        description="Most all CostEstimates of one namespace may cost per month together.",
    )


class CostPolicySpec(ApiModel):
    """A budget: which CostEstimates it applies to, its limits, and what happens when they are broken."""

    enforcement: Enforcement = Field(
        description="Deny rejects a violating change, Warn admits it with warnings, DryRun only records."
    )
    namespace_selector: LabelSelector | None = Field(
        None, description="Namespaces the policy applies to (absent: all namespaces)."
    )
    selector: LabelSelector | None = Field(
        None, description="CostEstimates the policy applies to, by their labels (absent: all)."
    )
    limits: CostPolicyLimits = Field(default_factory=CostPolicyLimits, description="The budget limits.")
    message: str | None = Field(
        None, max_length=MESSAGE_MAX, description="Added to denials and warnings (e.g. whom to ask)."
    )
    unpriced: UnpricedMode = Field(
        Unpriced.WARN.value,
        description=(
            "A change that adds resources that cannot be priced (unsupported types, prices not found): "
            "Ignore, Warn (default: admitted with warnings naming them) or Deny (refused, as far as "
            "enforcement allows: under Warn it warns, under DryRun it records)."
        ),
    )


class NamespaceSpend(ApiModel):
    namespace: str = Field(max_length=63)
    committed_monthly_cost: str = Field(max_length=32, description="Sum of the namespace's CostEstimates.")
    remaining_budget: str | None = Field(
        None, max_length=32, description="namespaceMonthlyBudget minus the committed cost (may be negative)."
    )
    estimates: int = Field(ge=0, description="CostEstimates counted.")
    over_budget: bool = False


class CostPolicyStatus(ApiModel):
    """Committed spend per matching namespace, kept current by the operator."""

    observed_generation: int | None = Field(None, ge=0)
    matched_namespaces: int | None = Field(None, ge=0)
    matched_estimates: int | None = Field(None, ge=0)
    over_budget_namespaces: int | None = Field(None, ge=0)
    total_committed_monthly_cost: str | None = Field(None, max_length=32)
    namespaces: list[NamespaceSpend] | None = Field(
        None,
        max_length=POLICY_NAMESPACES_MAX,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["namespace"]},
    )
    last_updated_time: str | None = Field(None, json_schema_extra={"format": "date-time"})
    conditions: list[Condition] | None = Field(
        None,
        max_length=16,
        description=(
            "Ready (False, reason PolicyInvalid, for a spec that cannot be used), WithinBudget (every "
            "matched namespace within namespaceMonthlyBudget), and Stalled (True with Ready=False for an "
            "invalid spec, until it is fixed)."
        ),
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


# --- helpers -----------------------------------------------------------------------------------------


def to_snake(camel: str) -> str:
    return "".join(f"_{char.lower()}" if char.isupper() else char for char in camel)


class CrdKind(NamedTuple):
    """What crdgen renders for one kind."""

    kind: str
    plural: str
    singular: str
    scope: str
    short_names: tuple[str, ...]
    spec: type[ApiModel]
    status: type[ApiModel]


KINDS = (
    CrdKind(
        "CostEstimate",
        "costestimates",
        "costestimate",
        "Namespaced",
        ("ce", "costest"),
        CostEstimateSpec,
        CostEstimateStatus,
    ),
    CrdKind(
        "CostPolicy", "costpolicies", "costpolicy", "Cluster", ("cpol",), CostPolicySpec, CostPolicyStatus
    ),
)

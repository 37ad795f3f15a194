"""What the estimator needs from a plan: resource changes with their region already resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from cloudcostguard.plan.references import PlanReferences

# Terraform's (and OpenTofu's) action lists, named the way the estimator and the output talk about them.
# "forget" (Terraform ≥ 1.7 `removed { lifecycle { destroy = false } }`) takes an object out of the
# configuration without destroying it: like a delete for this configuration's totals. In the replace
# variants with "forget" the old object is forgotten instead of destroyed.
ACTION_NAMES: dict[tuple[str, ...], str] = {
    ("create",): "create",
    ("delete",): "delete",
    ("update",): "update",
    ("no-op",): "no-op",
    ("read",): "read",
    ("forget",): "forget",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("create", "forget"): "replace",
    ("forget", "create"): "replace",
}

# Which side of a change each action prices: `after` is the future cost, `before` the past cost.
PRICES_AFTER = frozenset({"create", "update", "replace", "no-op", "read"})
PRICES_BEFORE = frozenset({"delete", "forget", "update", "replace", "no-op", "read"})
UNCHANGED = frozenset({"no-op", "read"})


class ResourceChange(NamedTuple):
    """One resource change, checked. A named tuple, made in C by the reader (``tuple.__new__``; 0.6 µs
    as a frozen dataclass, once per resource of the plan): immutable all the same."""

    address: str
    resource_type: str
    name: str
    module_address: str | None
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    after_unknown: dict[str, Any]
    region: str  # where the `after` side lives (for a delete: the `before` side)
    past_region: str | None = None  # where the `before` side lives, when it differs from `region`

    @property
    def prices_before(self) -> bool:
        return self.action in PRICES_BEFORE

    @property
    def prices_after(self) -> bool:
        return self.action in PRICES_AFTER

    @property
    def before_region(self) -> str:
        return self.past_region or self.region


@dataclass(frozen=True, slots=True)
class Plan:
    format_version: str
    terraform_version: str | None
    resource_changes: list[ResourceChange] = field(default_factory=list)
    plan_digest: str = ""
    # Cross-resource references from `configuration`: derived from the document, so not part of equality.
    references: PlanReferences | None = field(default=None, compare=False, repr=False)

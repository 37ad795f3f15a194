"""What the estimator needs from a plan: resource changes with their region already resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Terraform's action lists, named the way the estimator and the output talk about them.
ACTION_NAMES: dict[tuple[str, ...], str] = {
    ("create",): "create",
    ("delete",): "delete",
    ("update",): "update",
    ("no-op",): "no-op",
    ("read",): "read",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
}


@dataclass(frozen=True, slots=True)
class ResourceChange:
    address: str
    resource_type: str
    name: str
    module_address: str | None
    action: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    after_unknown: dict[str, Any]
    region: str

    @property
    def prices_before(self) -> bool:
        return self.action in ("delete", "update", "replace", "no-op", "read")

    @property
    def prices_after(self) -> bool:
        return self.action in ("create", "update", "replace", "no-op", "read")


@dataclass(frozen=True, slots=True)
class Plan:
    format_version: str
    terraform_version: str | None
    resource_changes: list[ResourceChange] = field(default_factory=list)
    plan_digest: str = ""

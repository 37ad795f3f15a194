"""The CostPolicy model: enforcement, limits and selectors, and the one money rule of specs.

This is the one reading of a CostPolicy: the CRD's pydantic model (``k8s.api.models``) takes its money
pattern and enforcement values from here, the kopf index parses each policy once with
``CostPolicy.from_object``, and so does the ``policy test`` CLI for YAML files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from cloudcostguard import errors
from cloudcostguard.policy import selectors

# spec.message is free text written by a cluster admin; keep denial messages readable.
MAX_POLICY_MESSAGE_CHARS = 300

LIMIT_NAMES = ("maxMonthlyCost", "maxMonthlyIncrease", "maxIncreasePercent", "namespaceMonthlyBudget")
# Money in specs is a non-negative decimal string ("250", "250.00", "0.5"): Kubernetes avoids floats in
# specs. The CRD schema carries this pattern (k8s.api.models), so a cluster and a policy file agree.
MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,6})?$"
_MONEY = re.compile(MONEY_PATTERN)


class Enforcement(StrEnum):
    DENY = "Deny"
    WARN = "Warn"
    DRY_RUN = "DryRun"


ENFORCEMENTS = tuple(enforcement.value for enforcement in Enforcement)


class Unpriced(StrEnum):
    """What a policy does with a change that adds resources we cannot price (``spec.unpriced``).

    Their cost is missing from the totals the limits compare, so a budget that ignored them could be
    walked around by picking another resource type. Warn is the default: the change is admitted with
    warnings naming them; Deny refuses it (as far as ``enforcement`` allows, see ``effective``).
    """

    IGNORE = "Ignore"
    WARN = "Warn"
    DENY = "Deny"

    def effective(self, enforcement: Enforcement) -> Enforcement | None:
        """The enforcement of an unpriced finding: the weaker of the policy's enforcement and this mode
        (None: ignored). ``unpriced: Deny`` under ``enforcement: Warn`` warns, under DryRun it records;
        ``enforcement`` stays the one switch that decides whether a policy may deny at all."""
        if self is Unpriced.IGNORE:
            return None
        if self is Unpriced.WARN and enforcement is Enforcement.DENY:
            return Enforcement.WARN
        return enforcement


UNPRICED_MODES = tuple(mode.value for mode in Unpriced)


def parse_money(value: Any, where: str) -> Decimal:
    """A money limit: a non-negative decimal string ("250", "250.00"); anything else is a PolicyError."""
    if isinstance(value, bool) or not isinstance(value, str):
        kind = "a number" if isinstance(value, int | float) else type(value).__name__
        raise errors.PolicyError(
            f'{where} must be a decimal string like "250.00" (quote it in YAML), not {kind}'
        )
    text = value.strip()
    if not _MONEY.match(text):
        raise errors.PolicyError(
            f'{where} must be a non-negative decimal string like "250" or "250.00", not {value!r}'
        )
    return Decimal(text)


def parse_percent(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise errors.PolicyError(f"{where} must be a non-negative integer, not {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Limits:
    max_monthly_cost: Decimal | None = None
    max_monthly_increase: Decimal | None = None
    max_increase_percent: int | None = None
    namespace_monthly_budget: Decimal | None = None

    @classmethod
    def from_spec(cls, spec: Any, where: str = "spec.limits") -> Limits:
        if spec is None:
            return cls()
        if not isinstance(spec, Mapping):
            raise errors.PolicyError(f"{where} must be an object")
        unknown = sorted(set(spec) - set(LIMIT_NAMES))
        if unknown:
            raise errors.PolicyError(
                f"{where} has unknown limit {unknown[0]!r} (known: {', '.join(LIMIT_NAMES)})"
            )

        def optional_money(key: str) -> Decimal | None:
            value = spec.get(key)
            return None if value is None else parse_money(value, f"{where}.{key}")

        percent = spec.get("maxIncreasePercent")
        return cls(
            max_monthly_cost=optional_money("maxMonthlyCost"),
            max_monthly_increase=optional_money("maxMonthlyIncrease"),
            max_increase_percent=None
            if percent is None
            else parse_percent(percent, f"{where}.maxIncreasePercent"),
            namespace_monthly_budget=optional_money("namespaceMonthlyBudget"),
        )


@dataclass(frozen=True, slots=True)
class CostPolicy:
    name: str
    enforcement: Enforcement = Enforcement.DENY
    limits: Limits = field(default_factory=Limits)
    namespace_selector: Mapping[str, Any] | None = None
    selector: Mapping[str, Any] | None = None
    message: str | None = None
    unpriced: Unpriced = Unpriced.WARN

    @classmethod
    def from_object(cls, document: Any) -> CostPolicy:
        """Read a CostPolicy object (``metadata.name`` + ``spec``), as stored in Kubernetes or a YAML file.

        Enforcement defaults to Deny: a policy that forgets to say how it enforces should guard, not
        silently report. ``unpriced`` defaults to Warn: today's budgets keep admitting what they did,
        and say what they could not count.
        """
        if not isinstance(document, Mapping):
            raise errors.PolicyError("a CostPolicy must be an object with metadata and spec")
        kind = document.get("kind")
        if kind is not None and kind != "CostPolicy":
            raise errors.PolicyError(f"expected kind CostPolicy, not {kind!r}")
        metadata = document.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if not isinstance(name, str) or not name:
            raise errors.PolicyError("a CostPolicy needs metadata.name")
        spec = document.get("spec")
        if spec is None:
            spec = {}
        if not isinstance(spec, Mapping):
            raise errors.PolicyError(f"CostPolicy {name}: spec must be an object")
        try:
            raw_enforcement = spec.get("enforcement", Enforcement.DENY.value)
            try:
                enforcement = Enforcement(raw_enforcement)
            except ValueError:
                raise errors.PolicyError(
                    f"spec.enforcement must be Deny, Warn or DryRun, not {raw_enforcement!r}"
                ) from None
            raw_unpriced = spec.get("unpriced", Unpriced.WARN.value)
            try:
                unpriced = Unpriced(raw_unpriced)
            except ValueError:
                raise errors.PolicyError(
                    f"spec.unpriced must be Ignore, Warn or Deny, not {raw_unpriced!r}"
                ) from None
            namespace_selector = spec.get("namespaceSelector")
            selector = spec.get("selector")
            selectors.validate_selector(namespace_selector, "spec.namespaceSelector")
            selectors.validate_selector(selector, "spec.selector")
            message = spec.get("message")
            if message is not None and not isinstance(message, str):
                raise errors.PolicyError("spec.message must be a string")
            return cls(
                name=name,
                enforcement=enforcement,
                limits=Limits.from_spec(spec.get("limits")),
                namespace_selector=namespace_selector,
                selector=selector,
                message=" ".join(message.split())[:MAX_POLICY_MESSAGE_CHARS] if message else None,
                unpriced=unpriced,
            )
        except errors.PolicyError as err:
            raise errors.PolicyError(f"CostPolicy {name}: {err}") from err

    def applies_to_namespace(self, namespace_labels: Mapping[str, str] | None) -> bool:
        return selectors.matches(self.namespace_selector, namespace_labels)

    def selects(self, namespace_labels: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
        return self.applies_to_namespace(namespace_labels) and selectors.matches(self.selector, labels)


def parse_policies(documents: Iterable[Any]) -> tuple[list[CostPolicy], list[errors.PolicyError]]:
    """Parse many CostPolicy objects, keeping the good ones and returning the errors of the bad ones."""
    policies: list[CostPolicy] = []
    problems: list[errors.PolicyError] = []
    for document in documents:
        try:
            policies.append(CostPolicy.from_object(document))
        except errors.PolicyError as err:
            problems.append(err)
    return policies, problems


def applicable(
    policies: Iterable[CostPolicy],
    namespace_labels: Mapping[str, str] | None,
    labels: Mapping[str, str] | None,
) -> tuple[CostPolicy, ...]:
    """The policies that select a CostEstimate (by its namespace's labels and its own), by name: callers
    select once and hand the result to ``evaluation``."""
    return tuple(sorted((p for p in policies if p.selects(namespace_labels, labels)), key=_name))


def _name(policy: CostPolicy) -> str:
    return policy.name

"""CostPolicy evaluation: which policies select an object, which limits it breaks, and the verdict.

Pure code (no I/O, no kopf): the admission webhook, the ``policy test`` CLI and the operator's status
reconciliation all call ``evaluate`` / ``evaluate_failure`` and so give the same verdict and message.

Rules (DESIGN §4–§5, issue 5):

- A policy applies when its ``namespaceSelector`` matches the namespace's labels and its ``selector``
  matches the CostEstimate's labels (a missing selector matches everything).
- Limits: ``maxMonthlyCost`` (the estimate's monthly cost), ``maxMonthlyIncrease`` (the plan's diff),
  ``maxIncreasePercent`` (diff relative to the plan's past cost; skipped when the past cost is zero,
  because an increase from nothing has no percentage), ``namespaceMonthlyBudget`` (the sum of every
  CostEstimate's monthly cost in the namespace, the admitted objects replacing their own previous
  values; only a change that *adds* spend can break it, as with a ResourceQuota, so shrinking an
  over-budget namespace is always possible).
- Money is compared at cent precision (what users see), a limit is broken only when exceeded.
- Several policies: every violated Deny policy is reported; the verdict is the strongest violated
  enforcement — Deny beats Warn beats DryRun.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal
from enum import StrEnum
from typing import Any

from cloudcostguard import errors
from cloudcostguard.estimation.model import CENT, ZERO, Estimate, money
from cloudcostguard.policy import selectors

# Kubernetes shows at most 120 characters of an admission warning (longer ones are truncated by the
# API server); we cut them ourselves so the cut is visible and lands on our terms.
MAX_WARNING_CHARS = 120
TOP_DRIVERS = 3
# spec.message is free text written by a cluster admin; keep denial messages readable.
MAX_POLICY_MESSAGE_CHARS = 300

LIMIT_NAMES = ("maxMonthlyCost", "maxMonthlyIncrease", "maxIncreasePercent", "namespaceMonthlyBudget")
# Decimal strings only, as Kubernetes avoids floats in specs: "250", "250.00", "0.5".
_MONEY_PATTERN = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,6})?$")
_TENTH = Decimal("0.1")
_HUNDRED = Decimal(100)


class Enforcement(StrEnum):
    DENY = "Deny"
    WARN = "Warn"
    DRY_RUN = "DryRun"


_RANK = {Enforcement.DRY_RUN: 1, Enforcement.WARN: 2, Enforcement.DENY: 3}


class Verdict(StrEnum):
    SKIPPED = "Skipped"  # admission only: nothing judged changed (e.g. a metadata-only UPDATE): admitted
    NO_POLICY = "NoPolicy"  # no CostPolicy selects the object: admitted
    WITHIN_BUDGET = "WithinBudget"  # policies apply and no limit is exceeded: admitted
    DRY_RUN = "DryRun"  # only DryRun policies are exceeded: admitted and recorded
    WARN = "Warn"  # a Warn policy is exceeded (or the plan could not be estimated): admitted, warnings
    DENY = "Deny"  # a Deny policy is exceeded (or the plan could not be estimated under one): rejected


# --- policies --------------------------------------------------------------------------------------


def parse_money(value: Any, where: str) -> Decimal:
    """A money limit: a non-negative decimal string ("250", "250.00"); anything else is a PolicyError."""
    if isinstance(value, bool) or not isinstance(value, str):
        kind = "a number" if isinstance(value, int | float) else type(value).__name__
        raise errors.PolicyError(
            f'{where} must be a decimal string like "250.00" (quote it in YAML), not {kind}'
        )
    text = value.strip()
    if not _MONEY_PATTERN.match(text):
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

    @classmethod
    def from_object(cls, document: Any) -> CostPolicy:
        """Read a CostPolicy object (``metadata.name`` + ``spec``), as stored in Kubernetes or a YAML file.

        Enforcement defaults to Deny: a policy that forgets to say how it enforces should guard, not
        silently report.
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


# --- inputs and results ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A CostEstimate under admission, with its new estimate."""

    name: str
    labels: Mapping[str, str] | None
    estimate: Estimate


@dataclass(frozen=True, slots=True)
class Subject:
    """A CostEstimate whose plan could not be estimated (only its labels can select policies)."""

    name: str
    labels: Mapping[str, str] | None


@dataclass(frozen=True, slots=True)
class Driver:
    address: str
    monthly_cost: Decimal
    currency: str = "USD"

    def __str__(self) -> str:
        return f"{self.address} {money(self.monthly_cost)} {self.currency}"


@dataclass(frozen=True, slots=True)
class Violation:
    policy: str
    enforcement: Enforcement
    limit: str  # one of LIMIT_NAMES
    limit_value: Decimal
    actual: Decimal
    excess: Decimal
    subject: str  # the CostEstimate's name (for the namespace budget: the one that pushed it over)
    text: str  # names the limit, the estimate and the excess (the policy is named by whoever prints it)
    short: str  # the same in fewer words, for admission warnings (≤ 120 characters with the policy)


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    message: str
    warnings: tuple[str, ...] = ()
    violations: tuple[Violation, ...] = ()
    policies: tuple[str, ...] = ()  # names of the policies that apply
    drivers: tuple[Driver, ...] = ()
    reason: str = "WithinBudget"  # a CamelCase word for a condition reason / metric label
    error: str | None = None  # the reason of a plan/pricing failure, when there was one
    enforcement: Enforcement | None = None  # of the deciding policy (None when nothing was broken)
    deciding_policies: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.verdict is not Verdict.DENY

    @property
    def code(self) -> int:
        """The HTTP-style code of the admission response: 403 Forbidden when denied."""
        return 200 if self.allowed else 403

    @property
    def within_budget(self) -> bool | None:
        """For the WithinBudget condition: None when no policy applies or the plan was not estimated."""
        if self.error is not None or self.verdict is Verdict.NO_POLICY:
            return None
        return not self.violations

    def dry_run_violations(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.enforcement is Enforcement.DRY_RUN)

    def status_policy(self) -> dict[str, str]:
        """CostEstimate ``status.policy``: ``{name, enforcement, verdict, message}`` (DESIGN §4)."""
        names = self.deciding_policies or self.policies
        return {
            "name": ", ".join(names),
            "enforcement": self.enforcement.value if self.enforcement is not None else "",
            "verdict": self.verdict.value,
            "message": self.message,
        }


# --- evaluation ------------------------------------------------------------------------------------


def _round(value: Decimal, step: Decimal) -> Decimal:
    # A context as wide as the number: the default 28 digits would make quantize() fail on a huge plan.
    context = Context(prec=max(28, value.adjusted() - step.adjusted() + 2), rounding=ROUND_HALF_UP)
    return value.quantize(step, context=context)


def _cents(value: Decimal) -> Decimal:
    return _round(value, CENT)


def _percent(value: Decimal) -> str:
    text = str(_round(value, _TENTH))
    return text[:-2] if text.endswith(".0") else text


def _fit(text: str, limit: int = MAX_WARNING_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def top_drivers(candidates: Sequence[Candidate], count: int = TOP_DRIVERS) -> tuple[Driver, ...]:
    """The resources that cost most per month (named ``<CostEstimate>/<address>`` across several)."""
    prefixed = len(candidates) > 1
    ranked: list[tuple[Decimal, str, Driver]] = []
    for candidate in candidates:
        for resource in candidate.estimate.top_resources(count):
            if resource.monthly_cost <= ZERO:
                continue
            address = f"{candidate.name}/{resource.address}" if prefixed else resource.address
            driver = Driver(address, resource.monthly_cost, candidate.estimate.currency)
            ranked.append((-resource.monthly_cost, address, driver))
    ranked.sort(key=lambda item: (item[0], item[1]))
    return tuple(driver for _, _, driver in ranked[:count])


def _object_violations(policy: CostPolicy, candidate: Candidate) -> list[Violation]:
    estimate = candidate.estimate
    usd = estimate.currency
    total = _cents(estimate.total_monthly_cost)
    past = _cents(estimate.past_total_monthly_cost)
    diff = total - past
    limits = policy.limits
    found: list[Violation] = []

    def add(limit: str, limit_value: Decimal, actual: Decimal, text: str, short: str) -> None:
        found.append(
            Violation(
                policy=policy.name,
                enforcement=policy.enforcement,
                limit=limit,
                limit_value=limit_value,
                actual=actual,
                excess=actual - limit_value,
                subject=candidate.name,
                text=text,
                short=short,
            )
        )

    if limits.max_monthly_cost is not None and total > limits.max_monthly_cost:
        limit, excess = money(limits.max_monthly_cost), money(total - limits.max_monthly_cost)
        add(
            "maxMonthlyCost",
            limits.max_monthly_cost,
            total,
            f"monthly cost {money(total)} {usd} exceeds maxMonthlyCost {limit} {usd} by {excess} {usd}",
            f"maxMonthlyCost {limit} {usd} exceeded by {excess} {usd} (cost {money(total)} {usd}/month)",
        )
    if limits.max_monthly_increase is not None and diff > limits.max_monthly_increase:
        limit, excess = money(limits.max_monthly_increase), money(diff - limits.max_monthly_increase)
        add(
            "maxMonthlyIncrease",
            limits.max_monthly_increase,
            diff,
            f"monthly increase {money(diff)} {usd} (from {money(past)} to {money(total)} {usd}) "
            f"exceeds maxMonthlyIncrease {limit} {usd} by {excess} {usd}",
            f"maxMonthlyIncrease {limit} {usd} exceeded by {excess} {usd} (increase {money(diff)} {usd})",
        )
    if limits.max_increase_percent is not None and past > ZERO and diff > ZERO:
        # Compared at the 0.1 % shown in the message, as money is compared at the cent.
        percent = _round(diff * _HUNDRED / past, _TENTH)
        limit_percent = Decimal(limits.max_increase_percent)
        if percent > limit_percent:
            excess = _percent(percent - limit_percent)
            add(
                "maxIncreasePercent",
                limit_percent,
                percent,
                f"monthly increase {_percent(percent)}% (from {money(past)} to {money(total)} {usd}) "
                f"exceeds maxIncreasePercent {limits.max_increase_percent}% by {excess} points",
                f"maxIncreasePercent {limits.max_increase_percent}% exceeded by {excess} points "
                f"(increase {_percent(percent)}%)",
            )
    return found


def _budget_violation(
    policy: CostPolicy,
    namespace: str,
    candidates: Sequence[Candidate],
    committed: Mapping[str, Decimal],
    growth_only: bool,
) -> Violation | None:
    budget = policy.limits.namespace_monthly_budget
    if budget is None:
        return None
    replaced = {candidate.name for candidate in candidates}
    others = sum((value for name, value in committed.items() if name not in replaced), ZERO)
    before = _cents(sum(committed.values(), ZERO))
    own = _cents(sum((c.estimate.total_monthly_cost for c in candidates), ZERO))
    after = _cents(others) + own
    if after <= budget or (growth_only and after <= before):
        return None
    usd = candidates[0].estimate.currency
    this = "this estimate" if len(candidates) == 1 else f"these {len(candidates)} estimates"
    limit, excess = money(budget), money(after - budget)
    return Violation(
        policy=policy.name,
        enforcement=policy.enforcement,
        limit="namespaceMonthlyBudget",
        limit_value=budget,
        actual=after,
        excess=after - budget,
        subject=", ".join(c.name for c in candidates),
        text=(
            f"namespace {namespace} would spend {money(after)} {usd}/month ({this} {money(own)} {usd}), "
            f"over namespaceMonthlyBudget {limit} {usd} by {excess} {usd}"
        ),
        short=(
            f"namespaceMonthlyBudget {limit} {usd} exceeded by {excess} {usd} "
            f"(namespace {money(after)} {usd})"
        ),
    )


def _describe(violations: Sequence[Violation], prefixed: bool, *, short: bool = False) -> str:
    """One sentence per policy: ``CostPolicy NAME: what; what``."""
    by_policy: dict[str, list[str]] = {}
    for violation in violations:
        # The namespace-budget sentence already says which CostEstimates it is about.
        named = prefixed and violation.limit != "namespaceMonthlyBudget"
        subject = f"CostEstimate {violation.subject}: " if named else ""
        text = violation.short if short else violation.text
        by_policy.setdefault(violation.policy, []).append(subject + text)
    return ". ".join(f"CostPolicy {name}: {'; '.join(texts)}" for name, texts in by_policy.items())


def evaluate(
    policies: Iterable[CostPolicy],
    *,
    namespace: str,
    namespace_labels: Mapping[str, str] | None,
    candidates: Sequence[Candidate],
    committed: Mapping[str, Decimal] | None = None,
    growth_only: bool = True,
) -> Decision:
    """Judge the new estimates of ``candidates`` (CostEstimates of one namespace) against ``policies``.

    ``committed`` is the current monthly cost of every CostEstimate in the namespace by name (the
    candidates' own entries, when present, are their previous values and are replaced).

    ``growth_only`` (admission): the namespace budget is broken only by a change that adds spend, so a
    namespace already over budget can still shrink. Status reporting passes False: a namespace over its
    budget is reported as such whatever the last change did.
    """
    if not candidates:
        raise ValueError("evaluate() needs at least one candidate")
    committed = committed or {}
    ordered = sorted(policies, key=lambda p: p.name)
    applying: list[CostPolicy] = []
    violations: list[Violation] = []
    for policy in ordered:
        selected = [c for c in candidates if policy.selects(namespace_labels, c.labels)]
        if not selected:
            continue
        applying.append(policy)
        for candidate in selected:
            violations.extend(_object_violations(policy, candidate))
        budget = _budget_violation(policy, namespace, candidates, committed, growth_only)
        if budget is not None:
            violations.append(budget)
    drivers = top_drivers(candidates)
    names = tuple(p.name for p in applying)
    if not applying:
        return Decision(Verdict.NO_POLICY, "no CostPolicy applies", reason="NoPolicy", drivers=drivers)
    if not violations:
        within = f"within {len(applying)} " + ("CostPolicy" if len(applying) == 1 else "CostPolicies")
        return Decision(
            Verdict.WITHIN_BUDGET,
            f"{within} ({', '.join(names)})",
            policies=names,
            drivers=drivers,
            reason="WithinBudget",
        )

    strongest = max((v.enforcement for v in violations), key=_RANK.__getitem__)
    verdict = {
        Enforcement.DENY: Verdict.DENY,
        Enforcement.WARN: Verdict.WARN,
        Enforcement.DRY_RUN: Verdict.DRY_RUN,
    }[strongest]
    prefixed = len(candidates) > 1
    deciding = [v for v in violations if v.enforcement is strongest]
    deciding_names = tuple(dict.fromkeys(v.policy for v in deciding))
    by_name = {p.name: p for p in applying}
    message = _describe(deciding, prefixed)
    if drivers:
        message += ". Top cost drivers: " + ", ".join(str(d) for d in drivers)
    extra = [note for name in deciding_names if (note := by_name[name].message)]
    if extra:
        message += ". " + " ".join(extra)
    if verdict is Verdict.DRY_RUN:
        message = "DryRun, would be denied: " + message
    warnings = [
        _fit(_describe([v], prefixed, short=True)) for v in violations if v.enforcement is Enforcement.WARN
    ]
    if warnings and drivers:
        warnings.append(_fit("top cost drivers: " + ", ".join(str(d) for d in drivers)))
    return Decision(
        verdict,
        message,
        warnings=tuple(warnings),
        violations=tuple(violations),
        policies=names,
        drivers=drivers,
        reason="BudgetExceeded",
        enforcement=strongest,
        deciding_policies=deciding_names,
    )


def evaluate_failure(
    policies: Iterable[CostPolicy],
    *,
    namespace_labels: Mapping[str, str] | None,
    subjects: Sequence[Subject],
    error: errors.CloudCostGuardError,
) -> Decision:
    """A plan that cannot be read or priced: denied with the reason when a Deny policy applies to one
    of ``subjects``, admitted with a warning otherwise (the operator reports it on the object)."""
    prefixed = len(subjects) > 1
    names = ", ".join(s.name for s in subjects)
    what = f"CostEstimate {names}: " if prefixed else ""
    applying = sorted(
        (p for p in policies if any(p.selects(namespace_labels, s.labels) for s in subjects)),
        key=lambda p: p.name,
    )
    deny = [p.name for p in applying if p.enforcement is Enforcement.DENY]
    if deny:
        return Decision(
            Verdict.DENY,
            f"{what}plan cannot be estimated ({error.reason}: {error}), and CostPolicy "
            f"{', '.join(deny)} requires an estimate",
            policies=tuple(p.name for p in applying),
            reason=error.reason,
            error=error.reason,
            enforcement=Enforcement.DENY,
            deciding_policies=tuple(deny),
        )
    return Decision(
        Verdict.WARN,
        f"{what}plan cannot be estimated ({error.reason}: {error})",
        warnings=(_fit(f"{what}plan not estimated: {error}"),),
        policies=tuple(p.name for p in applying),
        reason=error.reason,
        error=error.reason,
    )


def combine(decisions: Sequence[Decision]) -> Decision:
    """Merge decisions about different CostEstimates of one admission (strongest verdict wins)."""
    if len(decisions) == 1:
        return decisions[0]
    if not decisions:
        raise ValueError("combine() needs at least one decision")
    order = (Verdict.NO_POLICY, Verdict.WITHIN_BUDGET, Verdict.DRY_RUN, Verdict.WARN, Verdict.DENY)
    strongest = max(decisions, key=lambda d: order.index(d.verdict))
    deciding = [d for d in decisions if d.verdict is strongest.verdict]
    warnings = tuple(dict.fromkeys(w for d in decisions for w in d.warnings))
    policies = tuple(dict.fromkeys(p for d in decisions for p in d.policies))
    return Decision(
        strongest.verdict,
        "; ".join(d.message for d in deciding),
        warnings=warnings,
        violations=tuple(v for d in decisions for v in d.violations),
        policies=policies,
        drivers=strongest.drivers,
        reason=strongest.reason,
        error=next((d.error for d in deciding if d.error), None),
        enforcement=strongest.enforcement,
        deciding_policies=tuple(dict.fromkeys(p for d in deciding for p in d.deciding_policies)),
    )

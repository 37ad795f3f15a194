"""CostPolicy evaluation: which limits the applicable policies say an estimate breaks, and the verdict.

Pure code (no I/O, no kopf): the admission webhook, the ``policy test`` CLI and the operator's status
reconciliation all call ``evaluate`` / ``evaluate_failure`` and so give the same verdict and message.
Callers select the applicable policies once (``policy.model.applicable``) and hand them over with each
candidate; the model is ``policy.model``, the words are ``policy.messages``.

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
- Unpriced resources (issue 10): a change that *adds* resources we cannot price (an unsupported type,
  or a component without a price; ``Estimate.unpriced_additions``) breaks the policy's ``unpriced``
  rule, as the limit ``unpriced``, unless it is Ignore. Its enforcement is the weaker of
  ``spec.enforcement`` and ``spec.unpriced`` (``Unpriced.effective``): Deny + Deny refuses, anything
  with Warn warns (naming the addresses), anything under DryRun only records. It makes WithinBudget
  False like a broken limit: the budget cannot be shown to hold.
- Several policies: every violated Deny policy is reported; the verdict is the strongest violated
  enforcement — Deny beats Warn beats DryRun.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from cloudcostguard import errors
from cloudcostguard.estimation.model import ZERO, Estimate, money
from cloudcostguard.policy import messages
from cloudcostguard.policy.messages import cents, fit
from cloudcostguard.policy.model import CostPolicy, Enforcement, Unpriced

TOP_DRIVERS = 3
_HUNDRED = Decimal(100)
_RANK = {Enforcement.DRY_RUN: 1, Enforcement.WARN: 2, Enforcement.DENY: 3}
# The Violation.limit of a broken spec.unpriced rule (next to the names of spec.limits).
UNPRICED = "unpriced"


class Verdict(StrEnum):
    SKIPPED = "Skipped"  # admission only: nothing judged changed (e.g. a metadata-only UPDATE): admitted
    NO_POLICY = "NoPolicy"  # no CostPolicy selects the object: admitted
    WITHIN_BUDGET = "WithinBudget"  # policies apply and no limit is exceeded: admitted
    DRY_RUN = "DryRun"  # only DryRun policies are exceeded: admitted and recorded
    WARN = "Warn"  # a Warn policy is exceeded (or the plan could not be estimated): admitted, warnings
    DENY = "Deny"  # a Deny policy is exceeded (or the plan could not be estimated under one): rejected


# --- inputs and results ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    """A CostEstimate under judgement, with its new estimate and the policies that apply to it."""

    name: str
    estimate: Estimate
    policies: Sequence[CostPolicy]  # policy.model.applicable(...)


@dataclass(frozen=True, slots=True)
class Subject:
    """A CostEstimate whose plan could not be estimated, with the policies that apply to it."""

    name: str
    policies: Sequence[CostPolicy]


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
    limit: str  # one of LIMIT_NAMES, or UNPRICED
    limit_value: Decimal  # for UNPRICED: 0 unpriced resources allowed
    actual: Decimal  # for UNPRICED: how many were added
    excess: Decimal
    subject: str  # the CostEstimate's name (for the namespace budget: the one that pushed it over)
    text: str  # names the limit, the estimate and the excess (the policy is named by whoever prints it)
    short: str  # the same in fewer words, for admission warnings (≤ 120 characters with the policy)
    unpriced: tuple[str, ...] = ()  # for UNPRICED: the addresses added that cannot be priced


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
    total = cents(estimate.total_monthly_cost)
    past = cents(estimate.past_total_monthly_cost)
    diff = total - past
    limits = policy.limits
    found: list[Violation] = []

    def add(limit: str, limit_value: Decimal, actual: Decimal, texts: tuple[str, str]) -> None:
        found.append(
            Violation(
                policy=policy.name,
                enforcement=policy.enforcement,
                limit=limit,
                limit_value=limit_value,
                actual=actual,
                excess=actual - limit_value,
                subject=candidate.name,
                text=texts[0],
                short=texts[1],
            )
        )

    if limits.max_monthly_cost is not None and total > limits.max_monthly_cost:
        add(
            "maxMonthlyCost",
            limits.max_monthly_cost,
            total,
            messages.monthly_cost_exceeded(total, limits.max_monthly_cost, usd),
        )
    if limits.max_monthly_increase is not None and diff > limits.max_monthly_increase:
        add(
            "maxMonthlyIncrease",
            limits.max_monthly_increase,
            diff,
            messages.monthly_increase_exceeded(diff, past, total, limits.max_monthly_increase, usd),
        )
    if limits.max_increase_percent is not None and past > ZERO and diff > ZERO:
        # Compared at the 0.1 % shown in the message, as money is compared at the cent.
        increase = messages.rounded(diff * _HUNDRED / past, messages.TENTH)
        limit_percent = Decimal(limits.max_increase_percent)
        if increase > limit_percent:
            add(
                "maxIncreasePercent",
                limit_percent,
                increase,
                messages.increase_percent_exceeded(increase, past, total, limits.max_increase_percent, usd),
            )
    return found


# A candidate's unpriced additions as the violation words them: (text, short, addresses), or None.
_UnpricedWords = tuple[str, str, tuple[str, ...]] | None


def _unpriced_words(candidate: Candidate) -> _UnpricedWords:
    added = candidate.estimate.unpriced_additions()
    if not added:
        return None
    text, short = messages.unpriced_added(added)
    return text, short, tuple(resource.address for resource in added)


def _unpriced_violation(
    policy: CostPolicy, candidate: Candidate, worded: dict[int, _UnpricedWords] | None = None
) -> Violation | None:
    """``worded``: the candidates' words made so far in this evaluation (every policy asks the same)."""
    enforcement = policy.unpriced.effective(policy.enforcement)
    if enforcement is None:
        return None
    if worded is None:
        words = _unpriced_words(candidate)
    elif id(candidate) in worded:
        words = worded[id(candidate)]
    else:
        words = worded[id(candidate)] = _unpriced_words(candidate)
    if words is None:
        return None
    text, short, addresses = words
    count = Decimal(len(addresses))
    return Violation(
        policy=policy.name,
        enforcement=enforcement,
        limit=UNPRICED,
        limit_value=ZERO,
        actual=count,
        excess=count,
        subject=candidate.name,
        text=text,
        short=short,
        unpriced=addresses,
    )


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
    before = cents(sum(committed.values(), ZERO))
    own = cents(sum((c.estimate.total_monthly_cost for c in candidates), ZERO))
    after = cents(others) + own
    if after <= budget or (growth_only and after <= before):
        return None
    usd = candidates[0].estimate.currency
    text, short = messages.namespace_budget_exceeded(namespace, after, own, budget, len(candidates), usd=usd)
    return Violation(
        policy=policy.name,
        enforcement=policy.enforcement,
        limit="namespaceMonthlyBudget",
        limit_value=budget,
        actual=after,
        excess=after - budget,
        subject=", ".join(c.name for c in candidates),
        text=text,
        short=short,
    )


def _applying(groups: Sequence[Sequence[CostPolicy]]) -> list[CostPolicy]:
    """Every policy that applies to at least one of the groups, once, by name."""
    found: dict[str, CostPolicy] = {}
    for policies in groups:
        for policy in policies:
            found.setdefault(policy.name, policy)
    return [found[name] for name in sorted(found)]


def evaluate(
    *,
    namespace: str,
    candidates: Sequence[Candidate],
    committed: Mapping[str, Decimal] | None = None,
    growth_only: bool = True,
) -> Decision:
    """Judge the new estimates of ``candidates`` (CostEstimates of one namespace) against the policies
    that apply to each.

    ``committed`` is the current monthly cost of every CostEstimate in the namespace by name (the
    candidates' own entries, when present, are their previous values and are replaced).

    ``growth_only`` (admission): the namespace budget is broken only by a change that adds spend, so a
    namespace already over budget can still shrink. Status reporting passes False: a namespace over its
    budget is reported as such whatever the last change did.
    """
    if not candidates:
        raise ValueError("evaluate() needs at least one candidate")
    committed = committed or {}
    applying = _applying([candidate.policies for candidate in candidates])
    violations: list[Violation] = []
    worded: dict[int, _UnpricedWords] = {}
    for policy in applying:
        for candidate in candidates:
            if any(own.name == policy.name for own in candidate.policies):
                violations.extend(_object_violations(policy, candidate))
                unpriced = _unpriced_violation(policy, candidate, worded)
                if unpriced is not None:
                    violations.append(unpriced)
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
    message = messages.describe(deciding, prefixed)
    if drivers:
        message += ". Top cost drivers: " + ", ".join(str(d) for d in drivers)
    extra = [note for name in deciding_names if (note := by_name[name].message)]
    if extra:
        message += ". " + " ".join(extra)
    if verdict is Verdict.DRY_RUN:
        would_deny = any(v.limit != UNPRICED or by_name[v.policy].unpriced is Unpriced.DENY for v in deciding)
        message = ("DryRun, would be denied: " if would_deny else "DryRun, would warn: ") + message
    warned = [v for v in violations if v.enforcement is Enforcement.WARN]
    warnings = [fit(messages.describe([v], prefixed, short=True)) for v in warned]
    if any(v.limit != UNPRICED for v in warned) and drivers:
        warnings.append(fit("top cost drivers: " + ", ".join(str(d) for d in drivers)))
    listed: set[tuple[tuple[str, ...], str | None]] = set()
    for violation in warned:
        if violation.limit == UNPRICED:
            subject = violation.subject if prefixed else None
            # Several policies name the same addresses: once is enough (and made once).
            if (violation.unpriced, subject) in listed:
                continue
            listed.add((violation.unpriced, subject))
            lines = messages.unpriced_warnings(violation.unpriced, subject)
            warnings.extend(line for line in lines if line not in warnings)
    return Decision(
        verdict,
        message,
        warnings=tuple(warnings),
        violations=tuple(violations),
        policies=names,
        drivers=drivers,
        reason="BudgetExceeded" if any(v.limit != UNPRICED for v in deciding) else "UnpricedResources",
        enforcement=strongest,
        deciding_policies=deciding_names,
    )


def evaluate_failure(*, subjects: Sequence[Subject], error: errors.CloudCostGuardError) -> Decision:
    """A plan that cannot be read or priced: denied with the reason when a Deny policy applies to one
    of ``subjects``, admitted with a warning otherwise (the operator reports it on the object)."""
    prefixed = len(subjects) > 1
    names = ", ".join(s.name for s in subjects)
    what = f"CostEstimate {names}: " if prefixed else ""
    applying = _applying([subject.policies for subject in subjects])
    deny = [p.name for p in applying if p.enforcement is Enforcement.DENY]
    message = messages.failure_message(what, error.reason, str(error), deny)
    if deny:
        return Decision(
            Verdict.DENY,
            message,
            policies=tuple(p.name for p in applying),
            reason=error.reason,
            error=error.reason,
            enforcement=Enforcement.DENY,
            deciding_policies=tuple(deny),
        )
    return Decision(
        Verdict.WARN,
        message,
        warnings=(fit(f"{what}plan not estimated: {error}"),),
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

"""The words of a verdict: violation sentences, denial messages and admission warnings.

Pure text building for ``evaluation``; every amount arrives already rounded (money at the cent,
percentages at the tenth of a point) so that what is compared is what is shown.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Protocol

from cloudcostguard.estimation.model import CENT, UNSUPPORTED, ResourceCost, money

# Kubernetes shows at most 120 characters of an admission warning (longer ones are truncated by the
# API server); we cut them ourselves so the cut is visible and lands on our terms.
MAX_WARNING_CHARS = 120
TENTH = Decimal("0.1")
# A denial names this many unpriced resources (then "and N more"); warnings name them on at most
# UNPRICED_WARNING_LINES lines. The full list is in the CostEstimate's status.coverage.
UNPRICED_LISTED = 10
UNPRICED_WARNING_LINES = 3


class Described(Protocol):
    """What a sentence about a violation needs (``evaluation.Violation``)."""

    @property
    def policy(self) -> str: ...
    @property
    def limit(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def short(self) -> str: ...


def rounded(value: Decimal, step: Decimal) -> Decimal:
    # A context as wide as the number: the default 28 digits would make quantize() fail on a huge plan.
    context = Context(prec=max(28, value.adjusted() - step.adjusted() + 2), rounding=ROUND_HALF_UP)
    return value.quantize(step, context=context)


def cents(value: Decimal) -> Decimal:
    return rounded(value, CENT)


def percent(value: Decimal) -> str:
    text = str(rounded(value, TENTH))
    return text[:-2] if text.endswith(".0") else text


def fit(text: str, limit: int = MAX_WARNING_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def monthly_cost_exceeded(total: Decimal, limit: Decimal, usd: str) -> tuple[str, str]:
    """(text, short) for a broken ``maxMonthlyCost``."""
    limit_text, excess = money(limit), money(total - limit)
    return (
        f"monthly cost {money(total)} {usd} exceeds maxMonthlyCost {limit_text} {usd} by {excess} {usd}",
        f"maxMonthlyCost {limit_text} {usd} exceeded by {excess} {usd} (cost {money(total)} {usd}/month)",
    )


def monthly_increase_exceeded(
    diff: Decimal, past: Decimal, total: Decimal, limit: Decimal, usd: str
) -> tuple[str, str]:
    """(text, short) for a broken ``maxMonthlyIncrease``."""
    limit_text, excess = money(limit), money(diff - limit)
    return (
        f"monthly increase {money(diff)} {usd} (from {money(past)} to {money(total)} {usd}) "
        f"exceeds maxMonthlyIncrease {limit_text} {usd} by {excess} {usd}",
        f"maxMonthlyIncrease {limit_text} {usd} exceeded by {excess} {usd} (increase {money(diff)} {usd})",
    )


def increase_percent_exceeded(
    increase: Decimal, past: Decimal, total: Decimal, limit: int, usd: str
) -> tuple[str, str]:
    """(text, short) for a broken ``maxIncreasePercent``."""
    excess = percent(increase - Decimal(limit))
    return (
        f"monthly increase {percent(increase)}% (from {money(past)} to {money(total)} {usd}) "
        f"exceeds maxIncreasePercent {limit}% by {excess} points",
        f"maxIncreasePercent {limit}% exceeded by {excess} points (increase {percent(increase)}%)",
    )


def namespace_budget_exceeded(
    namespace: str, after: Decimal, own: Decimal, budget: Decimal, estimates: int, *, usd: str
) -> tuple[str, str]:
    """(text, short) for a broken ``namespaceMonthlyBudget``."""
    this = "this estimate" if estimates == 1 else f"these {estimates} estimates"
    limit, excess = money(budget), money(after - budget)
    return (
        f"namespace {namespace} would spend {money(after)} {usd}/month ({this} {money(own)} {usd}), "
        f"over namespaceMonthlyBudget {limit} {usd} by {excess} {usd}",
        f"namespaceMonthlyBudget {limit} {usd} exceeded by {excess} {usd} (namespace {money(after)} {usd})",
    )


def _unpriced_item(resource: ResourceCost) -> str:
    if resource.support == UNSUPPORTED:
        return f"{resource.address} (type not supported)"
    return f"{resource.address} (no price: {', '.join(resource.missing_price_names())})"


def _resources(count: int) -> str:
    return "1 resource" if count == 1 else f"{count} resources"


def unpriced_added(resources: Sequence[ResourceCost]) -> tuple[str, str]:
    """(text, short) for a change that adds resources we cannot price (``spec.unpriced``)."""
    count = len(resources)
    listed = ", ".join(_unpriced_item(resource) for resource in resources[:UNPRICED_LISTED])
    more = f" and {count - UNPRICED_LISTED} more" if count > UNPRICED_LISTED else ""
    return (
        f"adds {_resources(count)} that cannot be priced, so no limit counts them: {listed}{more}",
        f"adds {_resources(count)} that cannot be priced (not counted in its limits)",
    )


def unpriced_warnings(addresses: Sequence[str], subject: str | None = None) -> list[str]:
    """The addresses of unpriced additions as admission warnings, each at most MAX_WARNING_CHARS long,
    on at most UNPRICED_WARNING_LINES lines (the last one then says how many were left out)."""
    # A remembered estimate gives the webhook the same addresses review after review: made once.
    return list(_unpriced_warning_lines(tuple(addresses), subject))


@functools.lru_cache(maxsize=256)
def _unpriced_warning_lines(addresses: tuple[str, ...], subject: str | None) -> tuple[str, ...]:
    head = f"not priced in CostEstimate {subject}: " if subject else "not priced: "
    # fit() below cuts lines that a long CostEstimate name alone makes too long.
    width = max(MAX_WARNING_CHARS - len(head), 40)
    packed: list[list[str]] = []
    length = 0  # of ", ".join(packed[-1]), kept as items are added: joining again each time is quadratic
    for address in addresses:
        item = fit(address, width)  # a very long address is cut, on a line of its own
        if packed and length + 2 + len(item) <= width:
            packed[-1].append(item)
            length += 2 + len(item)
        else:
            packed.append([item])
            length = len(item)
    if len(packed) > UNPRICED_WARNING_LINES:
        kept = packed[: UNPRICED_WARNING_LINES - 1]
        left_out = len(addresses) - sum(len(items) for items in kept)
        packed = [*kept, [f"and {left_out} more"]]
    return tuple(fit(head + ", ".join(items)) for items in packed)


def describe(violations: Sequence[Described], prefixed: bool, *, short: bool = False) -> str:
    """One sentence per policy: ``CostPolicy NAME: what; what``."""
    by_policy: dict[str, list[str]] = {}
    for violation in violations:
        # The namespace-budget sentence already says which CostEstimates it is about.
        named = prefixed and violation.limit != "namespaceMonthlyBudget"
        subject = f"CostEstimate {violation.subject}: " if named else ""
        text = violation.short if short else violation.text
        by_policy.setdefault(violation.policy, []).append(subject + text)
    return ". ".join(f"CostPolicy {name}: {'; '.join(texts)}" for name, texts in by_policy.items())


def failure_message(what: str, reason: str, error: str, deny: Sequence[str]) -> str:
    """A plan that cannot be estimated: the message, naming the Deny policies that need an estimate."""
    message = f"{what}plan cannot be estimated ({reason}: {error})"
    if deny:
        message += f", and CostPolicy {', '.join(deny)} requires an estimate"
    return message

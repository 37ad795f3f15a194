"""Render an estimate for people (table, markdown) and machines (json).

Money is rounded half-up to cents here and only here; the estimate keeps exact Decimals.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import orjson

from cloudcostguard.estimation.model import (
    PRICED,
    SUBRESOURCE_SEPARATOR,
    CostComponent,
    Estimate,
    ResourceCost,
    number,
    round_half_up,
)

FORMATS = ("table", "json", "markdown")
UNCHANGED_ACTIONS = ("no-op", "read")
# GitHub refuses comments over 65,536 characters; keep the PR comment well inside that.
MARKDOWN_MAX_ROWS = 50
MARKDOWN_MAX_CHARS = 60_000
# Unpriced addresses the footer names before "and N more" (the JSON lists them all).
FOOTER_ADDRESSES = 10
# After an amount that leaves out components without a price: never a plain "$0.00" for an unknown bill.
INCOMPLETE = " (incomplete)"
_QUANTITY_STEP = Decimal("0.0001")


def render(estimate: Estimate, output_format: str) -> str:
    if output_format == "json":
        return render_json(estimate)
    if output_format == "markdown":
        return render_markdown(estimate)
    if output_format == "table":
        return render_table(estimate)
    raise ValueError(f"unknown output format {output_format!r}; choose from {', '.join(FORMATS)}")


def render_json(estimate: Estimate) -> str:
    return render_json_bytes(estimate).decode()


def render_json_bytes(estimate: Estimate) -> bytes:
    """The JSON document as UTF-8 bytes, for writers that take bytes: decoding megabytes of JSON into a
    ``str`` doubles them, or more (a str of a non-Latin-1 character takes 2–4 bytes per character)."""
    return orjson.dumps(estimate.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


# --- formatting helpers -------------------------------------------------------------------------


def dollars(value: Decimal) -> str:
    """``$1,234.57``; ``-$5.00`` (half-up to the cent)."""
    rounded = round_half_up(value)
    return f"-${-rounded:,}" if rounded < 0 else f"${rounded:,}"


def signed_dollars(value: Decimal) -> str:
    """A change: ``+$5.00``, ``-$5.00``, ``$0.00`` (no sign when nothing changes)."""
    rendered = dollars(value)
    return rendered if rendered.startswith("-") or rendered == "$0.00" else "+" + rendered


def quantity(value: Decimal | None) -> str:
    """``1,460``, ``0.5``, ``0.0137``: up to four decimals, thousands grouped."""
    if value is None:
        return ""
    rounded = round_half_up(value, _QUANTITY_STEP)
    if rounded.is_zero() and not value.is_zero():
        return "<0.0001" if value > 0 else "-<0.0001"
    text = f"{rounded:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def unit_price(value: Decimal | None) -> str:
    """A unit price as quoted: exact, with at least two decimals (``0.20``, ``0.045``, ``0.0000166667``)."""
    text = number(value)
    if text is None:
        return "?"
    whole, _, fraction = text.partition(".")
    return f"{whole}.{fraction.ljust(2, '0')}"


def _has_past(estimate: Estimate) -> bool:
    return any(r.action != "create" for r in estimate.resources if r.support == PRICED)


def _action_note(resource: ResourceCost) -> str:
    if resource.action in ("create", *UNCHANGED_ACTIONS):
        return ""
    return f"({resource.action}, was {dollars(resource.past_monthly_cost)})"


# --- table --------------------------------------------------------------------------------------


@dataclass
class _Node:
    """One resource's components arranged by sub-resource (``root_block_device``, ``ebs_block_device[0]``)."""

    components: list[CostComponent] = field(default_factory=list)
    children: dict[str, _Node] = field(default_factory=dict)


def _tree(components: Iterable[CostComponent]) -> _Node:
    root = _Node()
    for component in components:
        node = root
        if component.subresource:
            for part in component.subresource.split(SUBRESOURCE_SEPARATOR):
                node = node.children.setdefault(part, _Node())
        node.components.append(component)
    return root


# A row is (name, quantity, unit, cost) or (name, text spanning the quantity, unit and cost columns).
_Row = tuple[str, str, str, str] | tuple[str, str]


def _component_row(name: str, component: CostComponent) -> _Row:
    if component.price_not_found:
        return (name, quantity(component.monthly_quantity), component.unit, "price not found")
    if component.monthly_cost is None:
        return (name, f"Monthly cost depends on usage: ${unit_price(component.price)} per {component.unit}")
    marker = " *" if component.usage_based else ""
    return (
        name,
        quantity(component.monthly_quantity),
        component.unit,
        dollars(component.monthly_cost) + marker,
    )


def _tree_rows(node: _Node, prefix: str) -> list[_Row]:
    rows: list[_Row] = []
    items: list[CostComponent | tuple[str, _Node]] = [*node.components, *node.children.items()]
    for position, item in enumerate(items):
        last = position == len(items) - 1
        branch = "└─ " if last else "├─ "
        if isinstance(item, CostComponent):
            rows.append(_component_row(prefix + branch + item.name, item))
        else:
            name, child = item
            rows.append((prefix + branch + name, "", "", ""))
            rows.extend(_tree_rows(child, prefix + ("   " if last else "│  ")))
    return rows


def render_table(estimate: Estimate) -> str:
    rows: list[_Row | None] = []  # None: a blank line
    for resource in estimate.resources:
        if resource.support != PRICED:
            continue
        note = _action_note(resource)
        header = f"{resource.address}  {note}" if note else resource.address
        cost = dollars(resource.monthly_cost) + (INCOMPLETE if resource.price_not_found else "")
        rows.append((header, "", "", cost))
        rows.extend(_tree_rows(_tree(resource.components), ""))
        rows.append(None)
    headers = ("Name", "Monthly Qty", "Unit", "Monthly Cost")
    mark = INCOMPLETE if estimate.incomplete else ""
    totals: list[tuple[str, str]] = [("OVERALL TOTAL", dollars(estimate.total_monthly_cost) + mark)]
    if _has_past(estimate):
        totals.append(("Previous total", dollars(estimate.past_total_monthly_cost) + mark))
        totals.append(("Monthly change", signed_dollars(estimate.diff_total_monthly_cost) + mark))
    full_rows = [row for row in rows if row is not None and len(row) == 4]
    widths = [
        max(
            [len(headers[i])]
            + [len(row[i]) for row in full_rows]
            + ([len(t[0]) for t in totals] if i == 0 else [])
        )
        for i in range(4)
    ]
    widths[3] = max([widths[3]] + [len(t[1]) for t in totals])
    span = widths[1] + widths[2] + widths[3] + 4
    for row in rows:
        if row is not None and len(row) == 2:
            widths[0] = max(widths[0], len(row[0]))
            span = max(span, len(row[1]))
    widths[3] = max(widths[3], span - widths[1] - widths[2] - 4)

    def line(row: _Row | None) -> str:
        if row is None:
            return ""
        if len(row) == 2:
            return f" {row[0]:<{widths[0]}}  {row[1]:>{span}}".rstrip()
        name, qty, unit, cost = row
        return f" {name:<{widths[0]}}  {qty:>{widths[1]}}  {unit:<{widths[2]}}  {cost:>{widths[3]}}".rstrip()

    lines = [line(headers), ""]
    lines.extend(line(row) for row in rows)
    if not rows:
        lines.append(" No priced resources in this plan.")
        lines.append("")
    lines.extend(line((label, "", "", value)) for label, value in totals)
    lines.append("")
    lines.extend(f" {text}" for text in _summary_lines(estimate))
    lines.append(f" Prices: {_prices_line(estimate, '')}")
    if any(c.usage_based and c.monthly_cost is not None for r in estimate.resources for c in r.components):
        lines.append(" * priced from the usage file")
    return "\n".join(lines) + "\n"


def _listed(addresses: list[str]) -> str:
    """The first ``FOOTER_ADDRESSES`` addresses, then how many more."""
    shown = ", ".join(addresses[:FOOTER_ADDRESSES])
    more = len(addresses) - FOOTER_ADDRESSES
    return f"{shown} and {more} more" if more > 0 else shown


def _prices_line(estimate: Estimate, quote: str) -> str:
    """``bundled `v1` (published 2026-08-21, 104 days before this estimate)``."""
    text = f"{estimate.pricing_source} {quote}{estimate.pricing_version}{quote}"
    published = estimate.pricing_published_at
    if published:
        day = published[:10]
        age = ""
        try:
            if estimate.as_of is not None:
                days = (estimate.as_of - date.fromisoformat(day)).days
                age = f", {_count(days, 'day', 'days')} old" if days >= 0 else ""
        except ValueError:
            pass
        text += f" (published {day}{age})"
    return text


_CATALOG_NAMES = {"bundled": "the bundled catalog", "catalog-file": "the synced catalog"}


def _missing_price_hints(estimate: Estimate) -> list[str]:
    """Per region, how many components have no price and what would fix it."""
    hints = []
    for region, count in estimate.no_price_components_by_region().items():
        what = f"{_count(count, 'component has', 'components have')} no price in "
        catalog = _CATALOG_NAMES.get(estimate.pricing_source, f"the {estimate.pricing_source} catalog")
        synced = estimate.pricing_regions is not None and region in estimate.pricing_regions
        if estimate.pricing_source == "bundled" or (estimate.pricing_source == "catalog-file" and not synced):
            fix = f"run `cloudcostguard pricing sync --region {region}`"
        elif estimate.pricing_source == "postgresql" and not synced:
            fix = f"load it with `cloudcostguard pricing load --from-aws SERVICE --region {region}`"
        else:
            fix = "`cloudcostguard pricing coverage --plan PLAN` says which product is missing"
        hints.append(f"{what}{catalog} for {region}: {fix}")
    return hints


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


def _summary_lines(estimate: Estimate) -> list[str]:
    summary = estimate.summary()
    coverage = estimate.coverage()
    lines = [
        f"{_count(summary['totalDetectedResources'], 'resource', 'resources')} detected: "
        f"{summary['totalSupportedResources']} estimated, {summary['totalFreeResources']} free, "
        f"{summary['totalUnsupportedResources']} not supported",
        f"Coverage: {len(coverage.priced)} priced, {len(coverage.free)} free, "
        f"{len(coverage.unsupported)} not supported, {len(coverage.price_not_found)} price not found",
    ]
    if coverage.unpriced:
        lines.append(f"Not priced: {_listed(coverage.unpriced)}")
    if summary["unsupportedResourceCounts"]:
        listed = ", ".join(
            f"{count} × {kind}" for kind, count in summary["unsupportedResourceCounts"].items()
        )
        lines.append(f"Not supported (not included in the totals): {listed}")
    no_price = summary["totalNoPriceResources"]
    if no_price:
        lines.append(
            f"{_count(no_price, 'resource has', 'resources have')} components with no price found "
            "(not included in the totals, which are therefore incomplete)"
        )
        lines.extend(_missing_price_hints(estimate))
    without_usage = sum(
        1
        for r in estimate.resources
        if r.support == PRICED
        and any(c.usage_based and c.monthly_cost is None and not c.price_not_found for c in r.components)
    )
    if without_usage:
        lines.append(
            f"{_count(without_usage, 'resource has', 'resources have')} usage-based costs not included: "
            "give quantities with --usage FILE"
        )
    return lines


# --- markdown (pull-request comment) ------------------------------------------------------------


def _code(text: str) -> str:
    """``text`` as inline code inside a GitHub table cell (pipes escaped, backticks fenced)."""
    escaped = text.replace("|", "\\|")
    fence = "``" if "`" in escaped else "`"
    return f"{fence} {escaped} {fence}" if fence == "``" else f"`{escaped}`"


def _percent(diff: Decimal, past: Decimal) -> str:
    if past <= 0:
        return ""
    change = round_half_up(diff * 100 / past, Decimal("0.1"))
    return f" ({'+' if change > 0 else ''}{change}%)"


def render_markdown(estimate: Estimate) -> str:
    total, past, diff = (
        estimate.total_monthly_cost,
        estimate.past_total_monthly_cost,
        estimate.diff_total_monthly_cost,
    )
    rounded_diff = round_half_up(diff)
    if rounded_diff > 0:
        headline = f"Monthly cost will **increase by {dollars(diff)}**{_percent(diff, past)}"
    elif rounded_diff < 0:
        headline = f"Monthly cost will **decrease by {dollars(-diff)}**{_percent(diff, past)}"
    else:
        headline = "Monthly cost will **not change**"
    mark = INCOMPLETE if estimate.incomplete else ""
    lines = [
        "### 💰 CloudCostGuard cost estimate",
        "",
        f"{headline}: {dollars(past)} → **{dollars(total)}**{mark} per month.",
        "",
    ]
    if estimate.incomplete:
        lines[2:2] = [
            "> [!WARNING]",
            "> Some components have no price, so these figures are **incomplete** (lower bounds).",
            "",
        ]
    changed = sorted(
        (r for r in estimate.resources if r.support == PRICED and r.action not in UNCHANGED_ACTIONS),
        key=lambda r: (-abs(r.diff_monthly_cost), r.address),
    )
    if changed:
        lines += [
            "| Resource | Action | Previous | Monthly | Change |",
            "| --- | --- | ---: | ---: | ---: |",
        ]
        for resource in changed[:MARKDOWN_MAX_ROWS]:
            lines.append(
                f"| {_code(resource.address)} | {resource.action} | {dollars(resource.past_monthly_cost)} | "
                f"{dollars(resource.monthly_cost)}{INCOMPLETE if resource.price_not_found else ''} | "
                f"{signed_dollars(resource.diff_monthly_cost)} |"
            )
        hidden = changed[MARKDOWN_MAX_ROWS:]
        if hidden:
            hidden_diff = sum((r.diff_monthly_cost for r in hidden), Decimal(0))
            lines.append(f"| … {len(hidden)} more changed resources | | | | {signed_dollars(hidden_diff)} |")
        lines.append(
            f"| **Total**{mark} | | **{dollars(past)}** | **{dollars(total)}** | **{signed_dollars(diff)}** |"
        )
    else:
        lines.append("No priced resource changes.")
    lines.append("")
    lines += [f"- {text}" for text in _summary_lines(estimate)]
    lines.append(f"- Prices: {_prices_line(estimate, '`')}")
    body = "\n".join(lines) + "\n"
    breakdown = render_table(estimate)
    details = f"\n<details><summary>Cost breakdown</summary>\n\n```text\n{breakdown}```\n\n</details>\n"
    if "```" not in breakdown and len(body) + len(details) <= MARKDOWN_MAX_CHARS:
        body += details
    else:
        body += "\n_The full breakdown is too long for a comment: run `cloudcostguard estimate` to see it._\n"
    return body


__all__ = [
    "FORMATS",
    "dollars",
    "quantity",
    "render",
    "render_json",
    "render_markdown",
    "render_table",
    "signed_dollars",
    "unit_price",
]

"""Render an estimate for people (table, markdown) and machines (json)."""

from __future__ import annotations

from decimal import Decimal

import orjson

from cloudcostguard.estimation.model import FREE, UNSUPPORTED, CostComponent, Estimate, money, number

FORMATS = ("table", "json", "markdown")


def render(estimate: Estimate, output_format: str) -> str:
    if output_format == "json":
        return orjson.dumps(estimate.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n"
    if output_format == "markdown":
        return render_markdown(estimate)
    return render_table(estimate)


def _dollars(value: Decimal | None) -> str:
    rendered = money(value)
    if rendered is None:
        return "-"
    return f"-${rendered[1:]}" if rendered.startswith("-") else f"${rendered}"


def _signed(value: Decimal) -> str:
    rendered = _dollars(value)
    return rendered if rendered.startswith("-") else "+" + rendered


def _component_cost(component: CostComponent) -> str:
    if component.price_not_found:
        return "price not found"
    if component.monthly_cost is None:
        return f"depends on usage: ${number(component.price)} per {component.unit}"
    return _dollars(component.monthly_cost)


def _quantity(component: CostComponent) -> str:
    if component.monthly_quantity is None:
        return ""
    return f"{component.monthly_quantity.quantize(Decimal('0.01')).normalize():,f}"


def render_table(estimate: Estimate) -> str:
    rows: list[tuple[str, str, str, str]] = []
    for resource in estimate.resources:
        if resource.support != "priced":
            continue
        components = resource.components or resource.past_components
        label = (
            resource.address
            if resource.action in ("create", "no-op", "read")
            else (f"{resource.address} ({resource.action})")
        )
        rows.append((label, "", "", _dollars(resource.monthly_cost)))
        for position, component in enumerate(components):
            branch = "└─" if position == len(components) - 1 else "├─"
            marker = " *" if component.usage_based else ""
            name = (
                component.name
                if component.subresource is None
                else (f"{component.subresource} › {component.name}")
            )
            rows.append(
                (
                    f" {branch} {name}",
                    _quantity(component),
                    component.unit,
                    _component_cost(component) + marker,
                )
            )
        rows.append(("", "", "", ""))
    headers = ("Name", "Monthly Qty", "Unit", "Monthly Cost")
    widths = [max([len(headers[i])] + [len(row[i]) for row in rows]) for i in range(4)]
    lines = [_row(headers, widths), ""]
    lines += [_row(row, widths) if any(row) else "" for row in rows]
    lines.append(_row(("OVERALL TOTAL", "", "", _dollars(estimate.total_monthly_cost)), widths))
    if estimate.past_total_monthly_cost:
        lines.append(_row(("Previous total", "", "", _dollars(estimate.past_total_monthly_cost)), widths))
        lines.append(_row(("Monthly change", "", "", _signed(estimate.diff_total_monthly_cost)), widths))
    lines.append("")
    lines.extend(_summary_lines(estimate))
    lines.append(f"Prices: {estimate.pricing_source} {estimate.pricing_version}")
    if any(c.usage_based for r in estimate.resources for c in r.components):
        lines.append("* usage-based: priced from the usage file; without usage it adds no cost")
    return "\n".join(lines) + "\n"


def _row(cells: tuple[str, str, str, str], widths: list[int]) -> str:
    name, quantity, unit, cost = cells
    return f"{name:<{widths[0]}}  {quantity:>{widths[1]}}  {unit:<{widths[2]}}  {cost:>{widths[3]}}".rstrip()


def _summary_lines(estimate: Estimate) -> list[str]:
    summary = estimate.summary()
    lines = [
        f"{summary['totalDetectedResources']} resources detected: "
        f"{summary['totalSupportedResources']} estimated, {summary['totalFreeResources']} free, "
        f"{summary['totalUnsupportedResources']} not supported"
    ]
    if summary["unsupportedResourceCounts"]:
        listed = ", ".join(
            f"{count} × {kind}" for kind, count in summary["unsupportedResourceCounts"].items()
        )
        lines.append(f"Not supported: {listed}")
    if summary["totalNoPriceResources"]:
        lines.append(f"{summary['totalNoPriceResources']} resources have components with no price found")
    return lines


def render_markdown(estimate: Estimate) -> str:
    diff = estimate.diff_total_monthly_cost
    trend = "increase" if diff > 0 else "decrease" if diff < 0 else "no change"
    lines = [
        "### 💰 CloudCostGuard estimate",
        "",
        f"Monthly cost will be **{_dollars(estimate.total_monthly_cost)}** "
        f"({_signed(diff)}, {trend}; was {_dollars(estimate.past_total_monthly_cost)}).",
        "",
        "| Resource | Action | Monthly | Change |",
        "| --- | --- | ---: | ---: |",
    ]
    for resource in estimate.resources:
        if resource.support in (FREE, UNSUPPORTED):
            continue
        if resource.action in ("no-op", "read") and not resource.diff_monthly_cost:
            continue
        lines.append(
            f"| `{resource.address}` | {resource.action} | {_dollars(resource.monthly_cost)} | "
            f"{_signed(resource.diff_monthly_cost)} |"
        )
    lines += [
        f"| **Total** | | **{_dollars(estimate.total_monthly_cost)}** | **{_signed(diff)}** |",
        "",
    ]
    lines += [f"- {line}" for line in _summary_lines(estimate)]
    lines.append(f"- Prices: {estimate.pricing_source} `{estimate.pricing_version}`")
    return "\n".join(lines) + "\n"

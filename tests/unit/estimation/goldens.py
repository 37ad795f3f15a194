"""Read Infracost's breakdown table goldens (``*.golden``) into rows we can compare against.

A golden lists resources, each with cost components, possibly nested under sub-resources
(``root_block_device``, ``ebs_block_device[0]``). A component row has a quantity, unit and monthly cost,
or says "Monthly cost depends on usage: $P per UNIT".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from cloudcostguard.estimation.model import CostComponent, Estimate

_TREE = re.compile(r"^((?:[│ ]  )*)(├─|└─) (.*)$")
_COSTED = re.compile(
    r"^(?P<name>.+?)\s{2,}(?P<qty>-?[\d,]+(?:\.\d+)?)\s{2,}(?P<unit>\S.*?)\s{2,}\$(?P<cost>-?[\d,]+\.\d\d)(?:\s+\*)?$"
)
_USAGE = re.compile(
    r"^(?P<name>.+?)\s{2,}Monthly cost depends on usage: \$(?P<price>[\d,.]+) per (?P<unit>.+)$"
)
_TOTAL = re.compile(r"^OVERALL TOTAL\s+\$(?P<total>[\d,]+\.\d\d)")


def _decimal(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


@dataclass(frozen=True)
class GoldenRow:
    resource: str
    subresource: str | None
    name: str
    unit: str
    monthly_quantity: Decimal | None  # None: depends on usage
    monthly_cost: Decimal | None
    usage_price: Decimal | None  # the "$P per UNIT" of usage-dependent rows


@dataclass(frozen=True)
class Golden:
    rows: list[GoldenRow]
    total: Decimal

    def resources(self) -> list[str]:
        return list(dict.fromkeys(row.resource for row in self.rows))


def parse_golden(path: Path) -> Golden:
    rows: list[GoldenRow] = []
    resource: str | None = None
    parents: list[str] = []
    total: Decimal | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("Name ") or line.startswith("*"):
            continue
        total_match = _TOTAL.match(line)
        if total_match:
            total = _decimal(total_match["total"])
            break
        tree = _TREE.match(raw.rstrip()[1:] if raw.startswith(" ") else raw.rstrip())
        if tree is None:
            resource, parents = line.split()[0], []
            continue
        depth = len(tree.group(1)) // 3
        body = tree.group(3).strip()
        parents = parents[:depth]
        costed, usage = _COSTED.match(body), _USAGE.match(body)
        assert resource is not None, f"{path}: component before any resource: {raw!r}"
        subresource = " › ".join(parents) or None
        if costed:
            rows.append(
                GoldenRow(
                    resource,
                    subresource,
                    costed["name"],
                    costed["unit"],
                    _decimal(costed["qty"]),
                    _decimal(costed["cost"]),
                    None,
                )
            )
        elif usage:
            rows.append(
                GoldenRow(
                    resource, subresource, usage["name"], usage["unit"], None, None, _decimal(usage["price"])
                )
            )
        else:
            parents.append(body)  # a sub-resource heading
    assert total is not None, f"{path}: no OVERALL TOTAL line"
    return Golden(rows, total)


CENT = Decimal("0.01")


def find_component(estimate: Estimate, row: GoldenRow) -> CostComponent | None:
    for resource in estimate.resources:
        if resource.address == row.resource:
            for component in resource.components:
                if component.name == row.name and component.subresource == row.subresource:
                    return component
    return None


def row_mismatch(row: GoldenRow, component: CostComponent) -> str | None:
    """Why ``component`` does not reproduce the golden ``row`` (None when it does, to the cent)."""
    key = (row.resource, row.subresource, row.name)
    if row.monthly_quantity is None:
        if component.monthly_quantity is not None or component.price != row.usage_price:
            return f"{key}: golden depends on usage at ${row.usage_price}; we have {component}"
        return None
    assert row.monthly_cost is not None
    ours = component.monthly_cost
    if ours is None or abs(ours - row.monthly_cost) >= CENT / 2 + Decimal("0.000001"):
        return f"{key}: golden ${row.monthly_cost}, ours {ours}"
    if component.monthly_quantity is None or abs(
        component.monthly_quantity - row.monthly_quantity
    ) >= _display_step(row.monthly_quantity):
        return f"{key}: golden quantity {row.monthly_quantity}, ours {component.monthly_quantity}"
    return None


def _display_step(quantity: Decimal) -> Decimal:
    # Goldens print quantities cut to the digits shown (Infracost truncates, e.g. 1000/730 → 1.3698), so
    # ours must lie within one step of the last digit printed.
    exponent = quantity.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return Decimal(1).scaleb(min(exponent, 0))

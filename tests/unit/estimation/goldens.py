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

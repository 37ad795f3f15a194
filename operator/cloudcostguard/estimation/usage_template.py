"""A usage-file skeleton for a plan (Infracost's ``--sync-usage-file``): every usage-based resource
with every key its pricer reads, commented out, so that filling in a usage file starts from the names
that count rather than from guesses.

The output is a valid usage file as it stands (an entry whose keys are all commented is empty, and
prices nothing): uncomment a key and set its value.
"""

from __future__ import annotations

import re

import orjson

from cloudcostguard.estimation.kit import FLOAT, INTEGER, OBJECT, UsageKey
from cloudcostguard.estimation.registry import PRICERS, USAGE_KEYS, load_all_pricers
from cloudcostguard.plan.model import Plan

# Addresses made of these characters are plain YAML keys; others (for_each keys with spaces, colons,
# quotes) are written as double-quoted strings, which YAML reads as JSON strings.
_PLAIN_ADDRESS = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-\[\]]*$")
_EXAMPLES = {FLOAT: "0.0", INTEGER: "0", OBJECT: ""}


def usage_template(plan: Plan) -> str:
    load_all_pricers()
    lines = ["version: 0.1", "resource_usage:"]
    seen: set[str] = set()
    for change in plan.resource_changes:
        keys = USAGE_KEYS.get(change.resource_type) if change.resource_type in PRICERS else None
        if not keys or change.action == "delete" or change.address in seen:
            continue
        seen.add(change.address)
        address = change.address
        if not _PLAIN_ADDRESS.match(address):
            address = orjson.dumps(address).decode()
        lines.append(f"  {address}:")
        _key_lines(keys, "    ", lines)
    if not seen:
        lines[-1] = "resource_usage: {}  # no resource of this plan is priced from usage"
    return "\n".join(lines) + "\n"


def _key_lines(keys: tuple[UsageKey, ...], indent: str, lines: list[str]) -> None:
    for key in keys:
        example = _EXAMPLES.get(key.kind, '""')
        value = f" {example}" if example else ""
        lines.append(f"{indent}# {key.name}:{value}  # {key.kind}: {key.meaning}")
        if key.keys:
            _nested_lines(key.keys, indent, lines)


def _nested_lines(keys: tuple[UsageKey, ...], indent: str, lines: list[str]) -> None:
    """An object's keys, commented like their parent, one level deeper once uncommented."""
    for key in keys:
        example = _EXAMPLES.get(key.kind, '""')
        lines.append(f"{indent}#   {key.name}: {example}  # {key.kind}: {key.meaning}")

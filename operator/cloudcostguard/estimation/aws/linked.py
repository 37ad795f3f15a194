"""The planned values of resources linked to the one being priced through configuration references.

Some prices depend on another resource: an instance takes its type from a launch template, a snapshot
its size from its volume, a read replica its engine from its source; an Elastic IP is free while a NAT
gateway holds it, a table's capacity follows an autoscaling target. At plan time the value is often
unknown on the resource itself, while the plan's ``configuration`` records which expression refers to
which resource (``PricingContext.references``).

Two directions:

* ``referred(ctx, "launch_template.id", "aws_launch_template")``: what this resource refers to;
* ``referrers(ctx, ("aws_nat_gateway", "allocation_id"))``: what refers to this resource.

And, for resources that name another by a literal id rather than by a reference
(``resource_id = "table/scores"``), ``by_value(ctx, ("aws_appautoscaling_target", "resource_id"),
"table/scores")``: those whose planned value is that id and whose expression refers to no managed
resource (one that does is linked to what it names, never also by value).

References name configuration addresses (no ``count``/``for_each`` keys), so the instances are
matched here: same module instance, and the same instance key where both sides have one (the
``aws_eip.nat[count.index]`` pattern). Only instances that exist after the change count (a delete has
no planned values). Everything degrades to "nothing linked": a plan without ``configuration``, a
reference to a data source or a module output, a resource absent from ``resource_changes``.

Linked values are the planned (``after``) ones: pricers ask only when their own value is unknown or
absent, which is the ``after`` side of a create or replace; a ``before`` side holds the state, whose
values are known.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.registry import PricingContext
from cloudcostguard.plan.model import ResourceChange
from cloudcostguard.plan.regions import config_address

# The last instance key of an address: [0], ["name"] (a quoted key may itself contain "]").
_TRAILING_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]"]*)\]$')
_MAX_PATH_DEPTH = 8  # attribute paths are a few blocks deep


@dataclass(frozen=True, slots=True)
class Linked:
    """One instance of a linked resource, with its planned values."""

    address: str
    resource_type: str
    via: str  # the attribute path of the referring expression, e.g. "subnet_mapping.allocation_id"
    attrs: Attributes
    values: Mapping[str, Any]  # the raw planned values, for paths through nested blocks
    unknown: Mapping[str, Any]


def referred(ctx: PricingContext, attribute: str, *resource_types: str) -> list[Linked]:
    """The resources ``ctx``'s resource refers to in ``attribute`` (a dotted path such as
    ``launch_template.id``), of the given types: for each, the instance that matches ours."""
    references = ctx.references
    if references is None:
        return []
    own_module, own_key = _module_and_key(ctx.address, ctx.resource_type)
    found: list[Linked] = []
    for reference in references.referenced_from(ctx.config_address, attribute):
        target_type = _type_of(reference.target)
        if target_type not in resource_types:
            continue
        candidates = _planned_in_module(references.changes_of(reference.target), own_module)
        if not candidates:
            continue
        matching = _matching_key(candidates, own_key)
        # A reference always names some instance of its target: when the keys do not tell which,
        # the first stands for all (they usually share the values that matter).
        change = (matching or candidates)[0]
        found.append(_linked(change, target_type, reference.attribute))
    return found


def referrers(ctx: PricingContext, *sources: tuple[str, str], every_instance: bool = False) -> list[Linked]:
    """The resources that refer to ``ctx``'s resource: ``sources`` are (resource type, attribute path)
    pairs such as ``("aws_nat_gateway", "allocation_id")``. Each referring instance once per path:
    those whose instance key matches ours, or with ``every_instance`` all of the module instance (for
    callers that match instances by known values, falling back on ``key_matches``)."""
    references = ctx.references
    if references is None:
        return []
    wanted = set(sources)
    own_module, own_key = _module_and_key(ctx.address, ctx.resource_type)
    seen: set[tuple[str, str]] = set()
    found: list[Linked] = []
    for reference in ctx.referenced_by(sorted({source_type for source_type, _ in wanted})):
        if (reference.source_type, reference.attribute) not in wanted:
            continue
        candidates = _planned_in_module(references.changes_of(reference.source), own_module)
        for change in candidates if every_instance else _matching_key(candidates, own_key):
            if (change.address, reference.attribute) not in seen:
                seen.add((change.address, reference.attribute))
                found.append(_linked(change, reference.source_type, reference.attribute))
    return found


def by_value(ctx: PricingContext, source: tuple[str, str], value: str | None) -> list[Linked]:
    """The resources of type ``source[0]`` whose planned ``source[1]`` (a top-level attribute) is
    ``value`` and whose expression for it refers to no managed resource: a literal, a variable, a data
    source. Ids such as ``table/<name>`` are account-wide, so every module counts. A plan without that
    type costs one set lookup."""
    references = ctx.references
    source_type, attribute = source
    if references is None or value is None or not references.has_type(source_type):
        return []
    found: list[Linked] = []
    for change in references.changes_of_type(source_type):
        if not isinstance(change.after, dict):
            continue  # deleted: it scales nothing after the change
        linked = _linked(change, source_type, attribute)
        if linked.attrs.text(attribute) != value:
            continue
        own = config_address(change.module_address, change.resource_type, change.name)
        if references.referenced_from(own, attribute):
            continue  # it names its resource by reference: `referrers` finds it there, and only there
        found.append(linked)
    return found


def key_matches(ctx: PricingContext, other: Linked) -> bool:
    """Whether ``other`` may be linked to ``ctx``'s instance by the keys alone: either has no key, or
    both have the same."""
    own_key = _module_and_key(ctx.address, ctx.resource_type)[1]
    their_key = _key_of(other.address)
    return own_key is None or their_key is None or own_key == their_key


def known_values(linked: Linked, path: str | None = None) -> list[Any] | None:
    """Every value at ``path`` (default: the referring expression's, ``via``; through nested blocks
    such as ``subnet_mapping.allocation_id``), or None when any of them is unknown or missing, so that
    a partial list is never mistaken for the whole."""
    values: list[Any] = []
    if _collect(linked.values, linked.unknown, (path or linked.via).split("."), values, 0):
        return values
    return None


def _collect(value: Any, unknown: Any, parts: list[str], out: list[Any], depth: int) -> bool:
    if depth > _MAX_PATH_DEPTH or unknown is True:
        return False
    if isinstance(value, list):
        unknowns = unknown if isinstance(unknown, list) else []
        return all(
            _collect(item, unknowns[i] if i < len(unknowns) else None, parts, out, depth + 1)
            for i, item in enumerate(value)
        )
    if not parts:
        if value is None:
            return False
        out.append(value)
        return True
    if not isinstance(value, Mapping):
        return False
    head, rest = parts[0], parts[1:]
    next_unknown = unknown.get(head) if isinstance(unknown, Mapping) else None
    return _collect(value.get(head), next_unknown, rest, out, depth + 1)


def _linked(change: ResourceChange, resource_type: str, via: str) -> Linked:
    values = change.after or {}
    unknown = change.after_unknown or {}
    return Linked(change.address, resource_type, via, Attributes(values, unknown), values, unknown)


def _type_of(config_address: str) -> str:
    parts = config_address.split(".")
    return parts[-2] if len(parts) >= 2 else ""


def _module_and_key(address: str, resource_type: str) -> tuple[str, str | None]:
    """``module.a["x"].aws_instance.web[0]`` → (``module.a["x"]``, ``[0]``)."""
    head, separator, _ = address.rpartition(f".{resource_type}.")
    module = head if separator else ""
    key = _TRAILING_KEY.search(address)
    return module, key.group(0) if key else None


def _planned_in_module(changes: list[ResourceChange], module: str) -> list[ResourceChange]:
    """Instances in the same module instance that exist after the change (a reference in a module
    names a resource of that module instance)."""
    return [c for c in changes if isinstance(c.after, dict) and (c.module_address or "") == module]


def _matching_key(candidates: list[ResourceChange], own_key: str | None) -> list[ResourceChange]:
    """The candidates that may be linked to our instance: all when we have no key; else those with
    our key, else those without a key (one instance that can only be linked to one of ours)."""
    if own_key is None:
        return candidates
    same = [c for c in candidates if _key_of(c.address) == own_key]
    return same or [c for c in candidates if _key_of(c.address) is None]


def _key_of(address: str) -> str | None:
    match = _TRAILING_KEY.search(address)
    return match.group(0) if match else None

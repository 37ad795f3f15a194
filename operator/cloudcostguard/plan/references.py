"""Which resources refer to which, from ``configuration`` expressions, and their planned values.

Some costs depend on another resource: an Elastic IP is free while a NAT gateway or an association
holds it (``allocation_id = aws_eip.nat.id``); an instance takes its type from a launch template. At
plan time such values are often unknown on the resource itself, but Terraform's ``configuration``
section records every expression's ``references``. This module indexes them once per plan, lazily, so
plans whose pricers never ask pay nothing.

Addresses here are *configuration* addresses (module path and resource, without instance keys):
``module.net.aws_eip.nat`` stands for every instance of it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from cloudcostguard.plan.model import ResourceChange
from cloudcostguard.plan.regions import config_address, strip_indexes

# A reference names a managed resource when it starts TYPE.NAME; var., local., module., data., each.,
# count., path. and self. name something else.
_RESOURCE_REFERENCE = re.compile(r"^([a-z][a-z0-9_]*)\.([A-Za-z_][\w-]*)")
_NOT_RESOURCES = frozenset({"var", "local", "module", "data", "each", "count", "path", "self", "terraform"})
_MAX_DEPTH = 32  # Terraform blocks nest a few levels; this bounds hostile input.


@dataclass(frozen=True, slots=True)
class Reference:
    """``source`` (a configuration address) refers to ``target`` in its attribute ``attribute``."""

    source: str
    source_type: str
    attribute: str  # dotted path of the expression, e.g. "allocation_id", "launch_template.id"
    target: str


class PlanReferences:
    def __init__(self, configuration: Mapping[str, Any] | None, changes: list[ResourceChange]) -> None:
        self._configuration = configuration if isinstance(configuration, Mapping) else {}
        self._changes = changes
        # Every index is built on first use, and only as far as asked. Walking a resource's expressions
        # is the cost (a real configuration holds one for every attribute set, literals included):
        # what a resource refers to walks that resource's expressions only, and what refers to a
        # resource from given types walks those types' resources only. On the issue-11 plan of 5,000
        # resources laid out as Terraform does, indexing every expression took 15 ms.
        # Each configuration resource once (``_Resource``), by address and by type; what it refers
        # to is parsed once, by position, whichever way it was asked.
        self._resources: dict[str, list[_Resource]] | None = None
        self._by_type: dict[str, list[_Resource]] = {}
        self._walked = 0  # resources walked: their positions
        self._parsed: dict[int, list[Reference]] = {}
        self._by_source: dict[str, list[Reference]] = {}
        # Per source type indexed so far: target → (position of the source, reference), in walk order.
        self._by_target: dict[str, dict[str, list[tuple[int, Reference]]]] = {}
        self._changes_indexed = False
        self._changes_by_address: dict[str, list[ResourceChange]] = {}
        self._changes_by_type: dict[str, list[ResourceChange]] = {}
        self._types: frozenset[str] | None = None

    def referencing(self, target: str, source_types: Collection[str] | None = None) -> list[Reference]:
        """Every expression elsewhere in the configuration that refers to ``target``; from resources of
        ``source_types`` only, when given (only their expressions are then walked)."""
        if self._resources is None:
            self._index_resources()
        types = self._by_type.keys() if source_types is None else source_types
        found: list[tuple[int, Reference]] = []
        for source_type in types:
            by_target = self._by_target.get(source_type)
            if by_target is None:
                by_target = self._index_type(source_type)
            found += by_target.get(target, ())
        if len(found) > 1:
            found.sort(key=_POSITION)  # the configuration's order, whatever the types' order
        return [reference for _, reference in found]

    def referenced_from(self, source: str, attribute: str | None = None) -> list[Reference]:
        """What ``source``'s expressions refer to (only under ``attribute``, when given)."""
        references = self._by_source.get(source)
        if references is None:
            resources = self._resources if self._resources is not None else self._index_resources()
            references = self._by_source[source] = [
                reference
                for resource in resources.get(source, ())
                for reference in self._references(resource)
            ]
        if attribute is None:
            return references
        return [r for r in references if r.attribute == attribute or r.attribute.startswith(attribute + ".")]

    def changes_of(self, address: str) -> list[ResourceChange]:
        """The resource changes (all instances) of a configuration address."""
        if not self._changes_indexed:
            self._index_changes()
        return self._changes_by_address.get(address, [])

    def changes_of_type(self, resource_type: str) -> list[ResourceChange]:
        """Every change of one resource type (to match resources by value, e.g. a literal resource_id)."""
        if not self._changes_indexed:
            self._index_changes()
        return self._changes_by_type.get(resource_type, [])

    def has_type(self, resource_type: str) -> bool:
        """Cheap check before any lookup: does the plan hold this type at all?"""
        if self._types is None:
            self._types = frozenset(change.resource_type for change in self._changes)
        return resource_type in self._types

    def _index_changes(self) -> None:
        self._changes_indexed = True
        by_address, by_type = self._changes_by_address, self._changes_by_type
        module_paths: dict[str, str] = {}  # a plan's resources share a few module instances
        for change in self._changes:
            module_address = change.module_address
            if module_address:
                module_path = module_paths.get(module_address)
                if module_path is None:
                    module_path = module_paths[module_address] = strip_indexes(module_address)
                module_address = module_path
            address = config_address(module_address, change.resource_type, change.name)
            by_address.setdefault(address, []).append(change)
            by_type.setdefault(change.resource_type, []).append(change)

    def _index_resources(self) -> dict[str, list[_Resource]]:
        """Each managed resource's expressions by configuration address and by type (not walked)."""
        by_address: dict[str, list[_Resource]] = {}
        root = self._configuration.get("root_module")
        if isinstance(root, Mapping):
            self._walk_module(root, "", 0, by_address)
        self._resources = by_address
        return by_address

    def _walk_module(
        self, module: Mapping[str, Any], prefix: str, depth: int, by_address: dict[str, list[_Resource]]
    ) -> None:
        if depth > _MAX_DEPTH:
            return
        resources = module.get("resources")
        by_type = self._by_type
        if isinstance(resources, list):
            for resource in resources:
                if not isinstance(resource, dict):
                    continue
                # Expressions first: a resource without any is skipped at the cost of one lookup. A
                # dict, or the JSON text the typed decoder kept (decoded when asked: ``_expressions``).
                expressions = resource.get("expressions")
                if not expressions or isinstance(expressions, _NOT_EXPRESSIONS):
                    continue
                if resource.get("mode", "managed") != "managed":
                    continue
                address, resource_type = resource.get("address"), resource.get("type")
                if isinstance(address, str) and isinstance(resource_type, str):
                    entry = (self._walked, prefix, prefix + address, resource_type, expressions)
                    self._walked += 1
                    by_address.setdefault(entry[2], []).append(entry)
                    by_type.setdefault(resource_type, []).append(entry)
        calls = module.get("module_calls")
        if isinstance(calls, Mapping):
            for name, call in calls.items():
                if isinstance(call, Mapping) and isinstance(call.get("module"), Mapping):
                    self._walk_module(call["module"], f"{prefix}module.{name}.", depth + 1, by_address)

    def _index_type(self, source_type: str) -> dict[str, list[tuple[int, Reference]]]:
        by_target: dict[str, list[tuple[int, Reference]]] = {}
        for resource in self._by_type.get(source_type, ()):
            for reference in self._references(resource):
                by_target.setdefault(reference.target, []).append((resource[0], reference))
        self._by_target[source_type] = by_target
        return by_target

    def _references(self, resource: _Resource) -> list[Reference]:
        position, prefix, source, resource_type, expressions = resource
        found = self._parsed.get(position)
        if found is None:
            found = self._parsed[position] = _references(source, resource_type, expressions, prefix)
        return found


_POSITION = itemgetter(0)


# (position in the configuration, module prefix, address, type, expressions: a dict or raw JSON text)
_Resource = tuple[int, str, str, str, Any]


def _references(source: str, source_type: str, expressions: Any, prefix: str) -> list[Reference]:
    """What one resource's expressions refer to: managed resources (in its module, ``prefix``), each
    (attribute, target) once."""
    found: list[tuple[str, str]] = []
    _collect_references(_expressions(expressions), "", 0, found)
    if not found:
        return []  # literals only
    seen: set[tuple[str, str]] = set()
    references = []
    for attribute, raw in found:
        match = _RESOURCE_REFERENCE.match(raw)
        if match is None or match.group(1) in _NOT_RESOURCES:
            continue
        target = f"{prefix}{match.group(1)}.{match.group(2)}"
        if (attribute, target) in seen:
            continue  # Terraform lists "aws_eip.nat.id" and "aws_eip.nat" for one expression
        seen.add((attribute, target))
        references.append(Reference(source, source_type, attribute, target))
    return references


# What a resource's "expressions" may not be: JSON values other than an object (or its raw text).
_NOT_EXPRESSIONS = (str, int, float, list)


def _expressions(value: Any) -> Any:
    """A resource's expressions: the dict itself, or the object that the typed decoder kept as raw
    JSON text (``msgspec.Raw``: bytes-like), parsed now; anything else gives nothing."""
    if isinstance(value, dict):
        return value
    try:
        return orjson.loads(memoryview(value))
    except (TypeError, orjson.JSONDecodeError):
        return None


def _collect_references(node: Any, path: str, depth: int, found: list[tuple[str, str]]) -> None:
    """Add the (attribute path, reference) pairs of an expressions object, nested blocks included.

    Plans are JSON: objects are dicts (``isinstance(x, Mapping)`` would cost an ABC check for every
    expression of configurations that hold thousands). A literal (``constant_value``) is skipped
    without building its path; only nested blocks (neither key) are descended into."""
    if depth > _MAX_DEPTH or not isinstance(node, dict):
        return
    for key, value in node.items():
        if isinstance(value, dict):
            references = value.get("references")
            if references is None:
                if "constant_value" not in value and "references" not in value:
                    _collect_references(value, f"{path}.{key}" if path else str(key), depth + 1, found)
            elif isinstance(references, list):
                here = f"{path}.{key}" if path else str(key)
                found.extend((here, reference) for reference in references if isinstance(reference, str))
        elif isinstance(value, list):
            here = f"{path}.{key}" if path else str(key)
            for block in value:
                _collect_references(block, here, depth + 1, found)

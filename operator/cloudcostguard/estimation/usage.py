"""Usage quantities, in Infracost's usage-file format so its users can bring theirs.

    version: 0.1
    resource_type_default_usage:
      aws_lambda_function: {monthly_requests: 1000000}
    resource_usage:
      aws_lambda_function.api: {monthly_requests: 5000000}
      aws_instance.web[*]: {operating_system: linux}
      module.app[*].aws_lambda_function.worker: {monthly_requests: 2000000}

A resource's usage is its type default, overlaid by the entries whose address matches it with
wildcards (``[*]`` stands for any one ``count`` index or ``for_each`` key, in the resource's own index
or a module's; entries with fewer wildcards win), overlaid by the entry for its exact address. Layers
merge key by key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from itertools import combinations
from typing import TYPE_CHECKING, Any

from cloudcostguard import errors
from cloudcostguard.estimation.attributes import MAX_MAGNITUDE, parse_decimal

if TYPE_CHECKING:
    from cloudcostguard.estimation.kit import UsageKey

SUPPORTED_VERSIONS = ("0.1",)
WILDCARD = "[*]"
# One instance key of an address: [0], ["name"] (a quoted key may itself contain "]").
_INDEX = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[^\]"]*)\]')
# Addresses with more indexes than this only try "every index a wildcard" and "last index a wildcard":
# the candidates double with each index, and real addresses have one to three.
_MAX_WILDCARD_INDEXES = 6
EMPTY: Mapping[str, Any] = {}
# Values a usage file may hold once YAML aliases are expanded: a dozen keys for each of 40,000 resources.
# An alias bomb ("billion laughs") is a few hundred bytes that expand to billions of values; without this
# bound the estimator's memo serialised one such value into 2 GB (found by tests/reliability fuzzing).
MAX_USAGE_VALUES = 500_000


class ResourceUsage:
    """One resource's usage values. Numbers read as Decimals; a negative or absurdly large quantity is
    a usage error (it would price a resource below zero or beyond any real bill)."""

    __slots__ = ("_address", "_values")

    def __init__(self, values: Mapping[str, Any], address: str = "") -> None:
        self._values = values
        self._address = address

    @property
    def values(self) -> Mapping[str, Any]:
        return self._values

    @property
    def address(self) -> str:
        return self._address

    def decimal(self, key: str) -> Decimal | None:
        value = self._values.get(key)
        if value is None:
            return None
        number = parse_decimal(value)
        if number is None:
            return None
        if number < 0:
            raise self._error(key, value, "must not be negative")
        if number > MAX_MAGNITUDE:
            raise self._error(key, value, f"is out of range (at most {MAX_MAGNITUDE:,f})")
        return number

    def text(self, key: str) -> str | None:
        value = self._values.get(key)
        return value if isinstance(value, str) else None

    def raw(self, key: str) -> Any:
        return self._values.get(key)

    def __bool__(self) -> bool:
        return bool(self._values)

    def _error(self, key: str, value: Any, problem: str) -> errors.UsageError:
        where = f"{self._address}.{key}" if self._address else key
        return errors.UsageError(f"usage {where} = {str(value)[:40]} {problem}")


NO_USAGE = ResourceUsage(EMPTY)


class Usage:
    def __init__(
        self,
        resource_usage: Mapping[str, Mapping[str, Any]] | None = None,
        type_defaults: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._by_address = dict(resource_usage or {})
        self._type_defaults = dict(type_defaults or {})
        # Addresses of wildcard entries without their indexes: an address whose own index-free form
        # is not among them cannot match one, and skips building its candidate patterns.
        self._wildcard_bases = {
            _INDEX.sub("", address) for address in self._by_address if WILDCARD in address
        }
        # ... and their resource types: a resource of another type skips the regex above, which cost
        # ~0.7 µs per resource of a 5,000-resource plan.
        self._wildcard_types = {resource_type_of(a) for a in self._by_address if WILDCARD in a}
        self._defaults_usage: dict[str, ResourceUsage] = {}

    def __bool__(self) -> bool:
        return bool(self._by_address or self._type_defaults)

    @classmethod
    def parse(cls, source: Usage | Mapping[str, Any] | bytes | str | None) -> Usage:
        """A usage file (YAML text or parsed), or a bare ``resource_usage`` mapping (``spec.usage``)."""
        if source is None:
            return cls()
        if isinstance(source, Usage):
            return source
        if isinstance(source, bytes | str):
            # Imported only when there is YAML to read: a plan priced without usage (most CLI runs)
            # need not pay PyYAML's import (~10 ms of a ~120 ms run).
            import yaml  # noqa: PLC0415

            # libyaml's parser when PyYAML has it (the wheels do): the same safe constructor, a nesting
            # limit, and ~100x faster on hostile input ("[" * 100_000 took 3 s in pure Python, found by
            # tests/reliability fuzzing). The pure-Python loader stays the fallback.
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            try:
                document = yaml.load(source, Loader=loader)  # noqa: S506 - a safe loader
            except yaml.YAMLError as err:
                first_line = str(err).splitlines()[0] if str(err) else "syntax error"
                raise errors.UsageError(f"usage file is not valid YAML: {first_line}") from err
            except RecursionError as err:  # PyYAML composes nested collections recursively
                raise errors.UsageError("usage file nests values too deeply") from err
            if document is None:
                return cls()
            _check_expanded_size(document)
            return cls._from_document(document)
        if isinstance(source, Mapping):
            if any(key in source for key in ("version", "resource_usage", "resource_type_default_usage")):
                return cls._from_document(source)
            return cls(_address_map(source, "usage"))
        raise errors.UsageError(f"usage must be a mapping or YAML text, not {type(source).__name__}")

    @classmethod
    def _from_document(cls, document: Any) -> Usage:
        if not isinstance(document, Mapping):
            raise errors.UsageError("usage file must be a mapping with version and resource_usage")
        version = document.get("version")
        if version is not None:
            # Only scalars are shown: str() of a YAML alias bomb would never finish.
            shown = repr(str(version)[:20]) if isinstance(version, str | int | float) else "(not a number)"
            if not isinstance(version, str | int | float) or str(version) not in SUPPORTED_VERSIONS:
                raise errors.UsageError(f"unsupported usage file version {shown}: supported is 0.1")
        return cls(
            _address_map(document.get("resource_usage") or {}, "resource_usage"),
            _address_map(document.get("resource_type_default_usage") or {}, "resource_type_default_usage"),
        )

    def unknown_keys(self, schema: Mapping[str, tuple[UsageKey, ...]]) -> list[str]:
        """Warnings for keys that no pricer reads: for each entry of a type in ``schema`` (the priced
        types and the keys they read), every key it does not declare, nested keys of objects too.
        A typo would otherwise price as $0 without a word. Entries of other types are left alone
        (a free or unsupported type's usage is simply unused)."""
        warnings: list[str] = []
        for resource_type, values in self._type_defaults.items():
            if resource_type in schema:
                where = f"resource_type_default_usage.{resource_type}"
                _check_keys(where, resource_type, values, schema[resource_type], warnings)
        for address, values in self._by_address.items():
            resource_type = resource_type_of(address)
            if resource_type in schema:
                _check_keys(address, resource_type, values, schema[resource_type], warnings)
        return warnings

    def resource_types(self) -> set[str]:
        """The resource types the usage has entries for (by address or as type defaults)."""
        return {*self._type_defaults, *map(resource_type_of, self._by_address)}

    def addresses(self) -> list[str]:
        """The resource addresses the usage names (usage-only types are priced from these alone)."""
        return list(self._by_address)

    def for_resource(self, address: str, resource_type: str) -> ResourceUsage:
        by_address = self._by_address
        if not by_address and not self._type_defaults:
            return NO_USAGE
        layers: list[Mapping[str, Any]] = []
        default = self._type_defaults.get(resource_type)
        if default:
            layers.append(default)
        if (
            resource_type in self._wildcard_types
            and "[" in address
            and _INDEX.sub("", address) in self._wildcard_bases
        ):
            for pattern in wildcard_patterns(address):
                entry = by_address.get(pattern)
                if entry:
                    layers.append(entry)
        exact = by_address.get(address)
        if exact:
            layers.append(exact)
        if not layers:
            return NO_USAGE
        if len(layers) == 1:
            if layers[0] is default:
                # Shared by every resource of the type that has no entry of its own.
                shared = self._defaults_usage.get(resource_type)
                if shared is None:
                    shared = ResourceUsage(default, f"resource_type_default_usage.{resource_type}")
                    self._defaults_usage[resource_type] = shared
                return shared
            return ResourceUsage(layers[0], address)
        merged: dict[str, Any] = {}
        for layer in layers:
            merged.update(layer)
        return ResourceUsage(merged, address)


def wildcard_patterns(address: str) -> list[str]:
    """The usage keys that match ``address`` through ``[*]``, least specific first.

    ``module.a["x"].aws_instance.web[0]`` → ``module.a[*].aws_instance.web[*]``, then
    ``module.a[*].aws_instance.web[0]`` and ``module.a["x"].aws_instance.web[*]``.
    """
    spans = [match.span() for match in _INDEX.finditer(address)]
    count = len(spans)
    if count == 0:
        return []
    if count > _MAX_WILDCARD_INDEXES:
        choices: list[tuple[int, ...]] = [tuple(range(count)), (count - 1,)]
    else:
        choices = [chosen for size in range(count, 0, -1) for chosen in combinations(range(count), size)]
    patterns = []
    for chosen in choices:
        parts = []
        position = 0
        for index in chosen:
            start, end = spans[index]
            parts.append(address[position:start])
            parts.append(WILDCARD)
            position = end
        parts.append(address[position:])
        patterns.append("".join(parts))
    return patterns


def _check_expanded_size(document: Any) -> None:
    """Refuse a document with more than ``MAX_USAGE_VALUES`` values counted as expanded: a node reached
    twice through aliases counts twice. The walk stops at the bound, so it costs at most that many steps."""
    pending = [document]
    seen = 0
    while pending:
        node = pending.pop()
        seen += 1
        if seen > MAX_USAGE_VALUES:
            raise errors.UsageError(
                f"usage file holds more than {MAX_USAGE_VALUES} values once its YAML aliases are expanded"
            )
        if isinstance(node, Mapping):
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)


def _address_map(value: Any, where: str) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise errors.UsageError(f"{where} must be a mapping of resource address to values")
    out: dict[str, Mapping[str, Any]] = {}
    for address, values in value.items():
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise errors.UsageError(f"{where}.{str(address)[:200]} must be a mapping of usage keys to values")
        out[str(address)] = values
    return out


def resource_type_of(address: str) -> str:
    """``module.a[*].aws_instance.web[0]`` → ``aws_instance``; "" for what is not a resource address."""
    parts = _INDEX.sub("", address).split(".")
    if len(parts) < 2 or (len(parts) >= 3 and parts[-3] == "data"):
        return ""
    return parts[-2]


def _check_keys(
    where: str, resource_type: str, values: Mapping[str, Any], keys: tuple[UsageKey, ...], out: list[str]
) -> None:
    declared = {key.name: key for key in keys}
    for name, value in values.items():
        key = declared.get(str(name))
        if key is None:
            known = ", ".join(declared) or "none"
            out.append(
                f"usage {where}: unknown key {str(name)[:80]!r} for {resource_type} (it reads: {known})"
            )
        elif key.keys and isinstance(value, Mapping):
            _check_keys(f"{where}.{key.name}", resource_type, value, key.keys, out)

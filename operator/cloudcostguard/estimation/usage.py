"""Usage quantities, in Infracost's usage-file format so its users can bring theirs.

    version: 0.1
    resource_type_default_usage:
      aws_lambda_function: {monthly_requests: 1000000}
    resource_usage:
      aws_lambda_function.api: {monthly_requests: 5000000}
      aws_instance.web[*]: {operating_system: linux}

A resource's usage is its type default, overlaid by the wildcard entry (``name[*]``), overlaid by the
entry for its exact address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import yaml

from cloudcostguard import errors
from cloudcostguard.estimation.attributes import to_decimal

SUPPORTED_VERSIONS = ("0.1",)
_LAST_INDEX = re.compile(r"\[[^\]]*\]$")
_ANY_INDEX = re.compile(r"\[[^\]]*\]")
EMPTY: Mapping[str, Any] = {}


class ResourceUsage:
    """One resource's usage values, read as Decimals."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def decimal(self, key: str) -> Decimal | None:
        return to_decimal(self._values.get(key))

    def text(self, key: str) -> str | None:
        value = self._values.get(key)
        return value if isinstance(value, str) else None

    def raw(self, key: str) -> Any:
        return self._values.get(key)

    def __bool__(self) -> bool:
        return bool(self._values)


NO_USAGE = ResourceUsage(EMPTY)


class Usage:
    def __init__(
        self,
        resource_usage: Mapping[str, Mapping[str, Any]] | None = None,
        type_defaults: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._by_address = dict(resource_usage or {})
        self._type_defaults = dict(type_defaults or {})

    @classmethod
    def parse(cls, source: Usage | Mapping[str, Any] | bytes | str | None) -> Usage:
        """A usage file (YAML text or parsed), or a bare ``resource_usage`` mapping (``spec.usage``)."""
        if source is None:
            return cls()
        if isinstance(source, Usage):
            return source
        if isinstance(source, bytes | str):
            try:
                document = yaml.safe_load(source)
            except yaml.YAMLError as err:
                first_line = str(err).splitlines()[0] if str(err) else "syntax error"
                raise errors.UsageError(f"usage file is not valid YAML: {first_line}") from err
            if document is None:
                return cls()
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
        if version is not None and str(version) not in SUPPORTED_VERSIONS:
            raise errors.UsageError(f"unsupported usage file version {version!r}: supported is 0.1")
        return cls(
            _address_map(document.get("resource_usage") or {}, "resource_usage"),
            _address_map(document.get("resource_type_default_usage") or {}, "resource_type_default_usage"),
        )

    def for_resource(self, address: str, resource_type: str) -> ResourceUsage:
        if not self._by_address and not self._type_defaults:
            return NO_USAGE
        layers = [
            self._type_defaults.get(resource_type),
            self._by_address.get(_ANY_INDEX.sub("[*]", address)),
            self._by_address.get(_LAST_INDEX.sub("[*]", address)),
            self._by_address.get(address),
        ]
        present = [layer for layer in layers if layer]
        if not present:
            return NO_USAGE
        if len(present) == 1:
            return ResourceUsage(present[0])
        merged: dict[str, Any] = {}
        for layer in present:
            merged.update(layer)
        return ResourceUsage(merged)


def _address_map(value: Any, where: str) -> dict[str, Mapping[str, Any]]:
    if not isinstance(value, Mapping):
        raise errors.UsageError(f"{where} must be a mapping of resource address to values")
    out: dict[str, Mapping[str, Any]] = {}
    for address, values in value.items():
        if values is None:
            continue
        if not isinstance(values, Mapping):
            raise errors.UsageError(f"{where}.{address} must be a mapping of usage keys to values")
        out[str(address)] = values
    return out

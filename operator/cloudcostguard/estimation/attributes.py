"""Typed, forgiving reads of a resource's attribute values.

Plans are user input: an attribute may be missing, unknown (``after_unknown``), null, or of the wrong
type. Pricers read through these helpers and get ``None`` (or the given default) instead of an
exception, then fall back to the provider's documented defaults. A number beyond ``MAX_MAGNITUDE``
counts as garbage too: no real resource is that large, and bounding inputs keeps every product of
quantities and prices exact within Decimal's 28 digits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

# 10^15 (a quadrillion GB, requests, hours...): far beyond any real quantity, far below Decimal's limits.
MAX_MAGNITUDE = Decimal(10) ** 15


class Attributes:
    __slots__ = ("_unknown", "_values")

    def __init__(self, values: Mapping[str, Any] | None, unknown: Mapping[str, Any] | None = None) -> None:
        self._values: Mapping[str, Any] = values or {}
        self._unknown: Mapping[str, Any] = unknown or {}

    def is_unknown(self, name: str) -> bool:
        return self._unknown.get(name) is True

    def raw(self, name: str) -> Any:
        return self._values.get(name)

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self._values.get(name)
        return value if isinstance(value, str) and value != "" else default

    def flag(self, name: str, default: bool | None = None) -> bool | None:
        value = self._values.get(name)
        return value if isinstance(value, bool) else default

    def decimal(self, name: str, default: Decimal | None = None) -> Decimal | None:
        value = self._values.get(name)
        if type(value) is int:  # the common case (JSON integers), without the general path's calls
            return Decimal(value) if -_MAX_INT <= value <= _MAX_INT else default
        return to_decimal(value, default)

    def integer(self, name: str, default: int | None = None) -> int | None:
        value = self._values.get(name)
        if isinstance(value, bool):
            return default
        if isinstance(value, int):
            return value if -_MAX_INT <= value <= _MAX_INT else default
        if isinstance(value, float) and value.is_integer() and -_MAX_INT <= value <= _MAX_INT:
            return int(value)
        return default

    def items(self, name: str) -> list[Any]:
        value = self._values.get(name)
        return value if isinstance(value, list) else []

    def block(self, name: str) -> Attributes:
        """The first element of a nested block (Terraform renders blocks as lists of objects)."""
        value = self._values.get(name)
        unknown = self._unknown.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(unknown, list):
            unknown = unknown[0] if unknown else None
        return Attributes(
            value if isinstance(value, dict) else None, unknown if isinstance(unknown, dict) else None
        )

    def blocks(self, name: str) -> list[Attributes]:
        """Every element of a repeated nested block, each with its own unknown values."""
        value = self._values.get(name)
        unknown = self._unknown.get(name)
        if isinstance(value, dict):
            value, unknown = [value], [unknown]
        if not isinstance(value, list):
            return []
        unknowns = unknown if isinstance(unknown, list) else []
        return [
            Attributes(item, unknowns[i] if i < len(unknowns) and isinstance(unknowns[i], dict) else None)
            for i, item in enumerate(value)
            if isinstance(item, dict)
        ]

    def __bool__(self) -> bool:
        return bool(self._values)


_MAX_INT = 10**15


def to_decimal(value: Any, default: Decimal | None = None) -> Decimal | None:
    """Numbers and numeric strings (usage files write both) → Decimal; anything else, or a magnitude
    beyond ``MAX_MAGNITUDE``, → default."""
    parsed = parse_decimal(value)
    if parsed is None or abs(parsed) > MAX_MAGNITUDE:
        return default
    return parsed


def parse_decimal(value: Any) -> Decimal | None:
    """A finite number or numeric string as a Decimal, whatever its size; anything else → None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # repr() gives the shortest string that round-trips: 0.1 → "0.1", not 0.1000000000000000055…
        return Decimal(repr(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        if len(value) > 100:  # no honest number is this long; Decimal() of a huge digit string is slow
            return None
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None

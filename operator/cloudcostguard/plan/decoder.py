"""Decode only what the estimator reads from ``terraform show -json`` output.

A plan is mostly what pricing never looks at: ``planned_values`` and ``prior_state`` repeat every
resource's values, and each change carries ``before_sensitive``, ``after_sensitive``, ``replace_paths``
and more. A general JSON parser builds (and the estimate then frees) all of it. This typed decoder
(msgspec, in C) builds plain dicts of the fields below only and skips the rest without making
objects; ``planned_values`` and ``values`` are kept as raw bytes, since only their presence counts,
and so are the configuration resources' ``expressions`` until a pricer asks about one.

Anything that does not decode into these shapes (not an object, a ``change`` that is not one, bad
JSON...) returns None: the reader then parses the plan in full and reports exactly what is wrong.
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

import msgspec


class Change(msgspec.Struct, gc=False):
    """A resource change's ``change``, typed: what does not fit (``actions`` not strings, ``before``
    not an object or null...) fails the decode, and the reader's full path says what is wrong."""

    actions: list[str]
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    after_unknown: Any = None


class Entry(msgspec.Struct, gc=False):
    """One of ``resource_changes``, typed as the reader checks it; ``name`` and ``module_address``
    stay loose (the reader falls back on the address for a name that is not a string).

    Structs, not dicts: decoded and read by attribute in C, no per-entry hash table, and (gc=False:
    they hold no cycles) never tracked by the collector."""

    address: str
    type: str
    change: Change
    mode: str = "managed"
    name: Any = None
    module_address: Any = None


class _ConfigResource(TypedDict, total=False):
    """A configuration resource: what the region resolver and the references index read. Its
    ``expressions`` (one per attribute set, literals included: a third of a plan's configuration)
    stay raw JSON text, decoded only for the resources a pricer asks about (``PlanReferences``)."""

    address: Any
    mode: Any
    type: Any
    name: Any
    provider_config_key: Any
    provider_config_keys: Any
    expressions: msgspec.Raw


class _ModuleCall(TypedDict, total=False):
    expressions: Any  # the call's arguments: the region resolver follows variables through them
    module: _Module


class _Module(TypedDict, total=False):
    resources: list[_ConfigResource]
    module_calls: dict[str, _ModuleCall]
    variables: Any


class _Configuration(TypedDict, total=False):
    provider_config: Any
    root_module: _Module


class _Plan(TypedDict, total=False):
    format_version: Any
    terraform_version: Any
    errored: Any
    resource_changes: list[Entry] | None
    configuration: _Configuration
    variables: Any
    planned_values: msgspec.Raw  # presence only: a plan without resource_changes
    values: msgspec.Raw  # presence only: Terraform state instead of a plan


_DECODER = msgspec.json.Decoder(_Plan)


def decode_plan(raw: bytes) -> dict[str, Any] | None:
    """The plan's fields the estimator reads (resource changes as ``Entry`` structs, values as plain
    dicts and lists); None when it does not fit."""
    try:
        document = _DECODER.decode(raw)
    except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
        return None
    return cast("dict[str, Any]", document)


class _Count(TypedDict, total=False):
    resource_changes: list[msgspec.Raw] | None


_COUNT = msgspec.json.Decoder(_Count)


def count_resource_changes(raw: bytes) -> int | None:
    """How many resource changes a plan's JSON text lists, skipping over their contents; None when it
    does not decode into that shape (the reader then says what is wrong)."""
    try:
        changes = _COUNT.decode(raw).get("resource_changes")
    except (msgspec.DecodeError, RecursionError):
        return None
    return len(changes) if changes is not None else 0

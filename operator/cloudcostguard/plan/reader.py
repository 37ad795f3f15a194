"""Read and validate a Terraform plan quickly: a typed decoder of the fields the estimator reads
(``decoder``; orjson for the full document when that does not fit), then light shape checks.

Plans under ``TYPED_DECODE_BYTES`` are parsed with orjson in full instead, unless the typed decoder
is loaded already: importing msgspec costs ≈ 8 ms, much of what pricing a one-resource plan takes in a
new process, and more than the typed decoder saves on a plan under a megabyte. Once loaded (a
long-running operator or webhook loads it up front) it is the faster path at every size: 500
resources, 0.5 MB, read in 3.6 ms against 4.2 ms by orjson plus the digit scan below, interleaved
(the parse alone 1.9 ms). Both paths give the same ``Plan`` (a test reads every
fixture both ways), with one exception kept off the orjson path: an integer of 19 digits or more,
which orjson reads as a float where msgspec keeps it exact.

Every problem becomes a ``PlanError`` with one line saying what is wrong and where. Nothing here
recurses over plan values, so nesting depth is bounded by the parser alone (orjson refuses more than
1024 levels).
"""

from __future__ import annotations

import codecs
import dataclasses
import hashlib
import sys
import threading
from typing import TYPE_CHECKING, Any, cast

import orjson

from cloudcostguard import errors
from cloudcostguard.performance import new_tuple as _new
from cloudcostguard.performance import paused_gc
from cloudcostguard.plan.model import ACTION_NAMES, PRICES_AFTER, Plan, ResourceChange
from cloudcostguard.plan.references import PlanReferences
from cloudcostguard.plan.regions import RegionResolver, region_from_availability_zone

if TYPE_CHECKING:
    from cloudcostguard.plan.decoder import Entry

SUPPORTED_FORMAT_MAJORS = ("0", "1")
DEFAULT_MAX_PLAN_BYTES = 50 * 1024 * 1024
PARALLEL_DIGEST_BYTES = 1024 * 1024  # below this, starting a thread costs more than it saves
TYPED_DECODE_BYTES = 1024 * 1024  # from this size on, the typed decoder (module docstring)
_TYPED_DECODER = "cloudcostguard.plan.decoder"  # ... and at every size once this module is loaded
# 19 digits in a row: possibly an integer beyond 64 bits, which orjson reads as a float (msgspec as the
# exact int). Found by mapping digits to "0" and the rest to " " (C, ≈ 1.3 ms per MB; a regex took 13).
_DIGITS_ONLY = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_DIGITS = b"0" * 19
# Modes that are not infrastructure with a bill: data sources are read, ephemeral resources
# (Terraform ≥ 1.10, OpenTofu ≥ 1.10) exist only during a run.
IGNORED_MODES = frozenset({"data", "ephemeral"})


def _too_large(size: int, max_bytes: int) -> errors.PlanTooLargeError:
    return errors.PlanTooLargeError(f"plan is {size} bytes, larger than the limit of {max_bytes} bytes")


def _decode_text(raw: bytes) -> bytes:
    """UTF-8 as orjson wants it: drop a UTF-8 byte-order mark, re-encode UTF-16 (Windows PowerShell's
    ``terraform show -json > plan.json`` writes UTF-16 with a BOM)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :]
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16").encode("utf-8")
        except UnicodeError as err:
            raise errors.PlanError(
                f"plan starts with a UTF-16 byte-order mark but is not UTF-16: {err}"
            ) from err
    return raw


def _loads(raw: bytes, max_bytes: int) -> Any:
    if len(raw) > max_bytes:
        raise _too_large(len(raw), max_bytes)
    if not raw or raw.isspace():
        raise errors.PlanError("plan is empty")
    text = _decode_text(raw)
    if (
        len(text) >= TYPED_DECODE_BYTES
        or _TYPED_DECODER in sys.modules
        or _LONG_DIGITS in text.translate(_DIGITS_ONLY)
    ):
        # Imported here: msgspec loads only for the plans that gain from it.
        from cloudcostguard.plan.decoder import decode_plan  # noqa: PLC0415

        document = decode_plan(text)
        if document is not None:
            return document
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as err:
        if err.msg.startswith("depth limit"):
            raise errors.PlanError("plan nests values deeper than 1024 levels: not a Terraform plan") from err
        raise errors.PlanError(f"plan is not valid JSON: {err}") from err


def plan_digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def read_plan(
    source: bytes | bytearray | memoryview | str | dict[str, Any],
    *,
    default_region: str = "us-east-1",
    max_bytes: int = DEFAULT_MAX_PLAN_BYTES,
    digest: bool = True,
) -> Plan:
    """Parse ``terraform show -json`` output (bytes, text, or the already-parsed object).

    ``digest=False`` reads an already-parsed plan as given: no canonical serialisation, so no
    ``plan_digest`` (left empty) and no ``max_bytes`` check; the caller must have bounded its size
    (the webhook bounds the whole AdmissionReview it parsed). Bytes and text are always measured.
    """
    with paused_gc():
        if isinstance(source, dict) and not digest:
            return parse_plan_document(source, raw=None, default_region=default_region)
        return _read_plan(source, default_region, max_bytes)


def _read_plan(
    source: bytes | bytearray | memoryview | str | dict[str, Any], default_region: str, max_bytes: int
) -> Plan:
    if isinstance(source, dict):
        document: Any = source
        try:
            # The digest of a parsed plan is that of its canonical serialisation (sorted keys).
            raw = orjson.dumps(source, option=orjson.OPT_SORT_KEYS)
        except TypeError as err:  # orjson.JSONEncodeError is a TypeError
            if "Recursion limit" in str(err):
                # orjson writes at most 254 levels; real plans nest a few dozen. Bytes are read deeper.
                message = "plan nests values deeper than 254 levels: not a Terraform plan"
                raise errors.PlanError(message) from err
            raise errors.PlanError(f"plan is not JSON-serialisable: {err}") from err
        if len(raw) > max_bytes:
            raise _too_large(len(raw), max_bytes)
    elif isinstance(source, str):
        try:
            raw = source.encode()
        except UnicodeEncodeError as err:
            raise errors.PlanError(f"plan text is not valid Unicode: {err.reason}") from err
        return _read_plan_bytes(raw, default_region, max_bytes)
    elif isinstance(source, bytes | bytearray | memoryview):
        return _read_plan_bytes(bytes(source), default_region, max_bytes)
    else:
        raise errors.PlanError(f"plan must be bytes, str or a dict, not {type(source).__name__}")
    return parse_plan_document(document, raw=raw, default_region=default_region)


def _read_plan_bytes(raw: bytes, default_region: str, max_bytes: int) -> Plan:
    if len(raw) < PARALLEL_DIGEST_BYTES or len(raw) > max_bytes:
        return parse_plan_document(_loads(raw, max_bytes), raw=raw, default_region=default_region)
    # hashlib releases the GIL over large inputs: the digest is taken in a thread while the plan is
    # parsed and read (on a 4 MB plan, 7 ms that no longer add to the estimate's time).
    digest: list[str] = []
    thread = threading.Thread(target=lambda: digest.append(plan_digest(raw)), name="ccg-plan-digest")
    thread.start()
    try:
        plan = parse_plan_document(_loads(raw, max_bytes), raw=None, default_region=default_region)
    finally:
        thread.join()
    return dataclasses.replace(plan, plan_digest=digest[0])


def parse_plan_document(document: Any, *, raw: bytes | None, default_region: str) -> Plan:
    if not isinstance(document, dict):
        raise errors.PlanError(f"plan must be a JSON object, not {_json_type(document)}")
    format_version = document.get("format_version")
    if not isinstance(format_version, str):
        raise errors.PlanError(
            "not a Terraform plan: no format_version (produce it with `terraform show -json PLANFILE`)"
        )
    if format_version.split(".", 1)[0] not in SUPPORTED_FORMAT_MAJORS:
        raise errors.PlanError(
            f"unsupported plan format_version {format_version[:40]!r}: supported are 0.x and 1.x"
        )
    if "resource_changes" not in document and "planned_values" not in document:
        if "values" in document:
            raise errors.PlanError(
                "this is Terraform state, not a plan: run `terraform show -json PLANFILE` on a saved plan"
            )
        raise errors.PlanError("not a Terraform plan: it has no resource_changes or planned_values")
    if document.get("errored") is True:
        raise errors.PlanError("terraform reported errors while planning: the plan is incomplete")
    terraform_version = document.get("terraform_version")
    changes = document.get("resource_changes")
    if changes is None:
        changes = []  # Terraform omits resource_changes when nothing is managed
    elif not isinstance(changes, list):
        raise errors.PlanError(f"resource_changes must be a list, not {_json_type(changes)}")
    resolver = RegionResolver(document, default_region)
    resource_changes = []
    entry_type: Any = _entry_type()  # Any: narrowing to it would make each typed item an object
    for position, item in enumerate(changes):
        if type(item) is entry_type:
            change = _typed_resource_change(item, position, resolver)
        else:
            change = _resource_change(item, position, resolver)
        if change is not None:
            resource_changes.append(change)
    return Plan(
        format_version=format_version,
        terraform_version=terraform_version if isinstance(terraform_version, str) else None,
        resource_changes=resource_changes,
        plan_digest=plan_digest(raw) if raw is not None else "",
        # Built lazily on first use: plans whose pricers never ask pay nothing.
        references=PlanReferences(document.get("configuration"), resource_changes),
    )


def _entry_type() -> type | None:
    """The typed decoder's ``Entry`` if the decoder is loaded (only it makes entries of that type),
    looked up rather than imported: an orjson-parsed plan must not load msgspec."""
    decoder = sys.modules.get("cloudcostguard.plan.decoder")
    return None if decoder is None else cast("type", decoder.Entry)


def _resource_change(item: Any, position: int, resolver: RegionResolver) -> ResourceChange | None:
    if not isinstance(item, dict):
        raise errors.PlanError(f"resource_changes[{position}] must be an object, not {_json_type(item)}")
    address = item.get("address")
    resource_type = item.get("type")
    if not isinstance(address, str) or not isinstance(resource_type, str) or not address or not resource_type:
        raise errors.PlanError(f"resource_changes[{position}] needs non-empty string 'address' and 'type'")
    mode = item.get("mode", "managed")
    if mode != "managed":
        if isinstance(mode, str) and mode in IGNORED_MODES:
            return None
        raise errors.PlanError(f"{_cut(address)}: unknown mode {_short(mode)}")
    change = item.get("change")
    if not isinstance(change, dict):
        raise errors.PlanError(f"{_cut(address)}: 'change' must be an object")
    actions = change.get("actions")
    action = None
    if isinstance(actions, list) and len(actions) <= 2:
        try:
            action = ACTION_NAMES.get(tuple(actions))
        except TypeError:  # an unhashable element: reported below
            action = None
    if action is None:
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise errors.PlanError(f"{_cut(address)}: change.actions must be a list of strings")
        raise errors.PlanError(f"{_cut(address)}: unknown change.actions {_short(actions)}")
    before = change.get("before")
    after = change.get("after")
    if before is not None and not isinstance(before, dict):
        raise errors.PlanError(f"{_cut(address)}: change.before must be an object or null")
    if after is not None and not isinstance(after, dict):
        raise errors.PlanError(f"{_cut(address)}: change.after must be an object or null")
    return _checked_change(
        address,
        resource_type,
        action,
        item.get("name"),
        item.get("module_address"),
        before,
        after,
        change.get("after_unknown"),
        resolver,
    )


def _typed_resource_change(item: Entry, position: int, resolver: RegionResolver) -> ResourceChange | None:
    """``_resource_change`` for an entry the typed decoder checked already: the same checks that are
    left and the same result, by attribute."""
    address = item.address
    resource_type = item.type
    if not address or not resource_type:
        raise errors.PlanError(f"resource_changes[{position}] needs non-empty string 'address' and 'type'")
    mode = item.mode
    if mode != "managed":
        if mode in IGNORED_MODES:
            return None
        raise errors.PlanError(f"{_cut(address)}: unknown mode {_short(mode)}")
    change = item.change
    actions = change.actions
    action = ACTION_NAMES.get(tuple(actions)) if len(actions) <= 2 else None
    if action is None:
        raise errors.PlanError(f"{_cut(address)}: unknown change.actions {_short(actions)}")
    return _checked_change(
        address,
        resource_type,
        action,
        item.name,
        item.module_address,
        change.before,
        change.after,
        change.after_unknown,
        resolver,
    )


def _checked_change(  # noqa: PLR0917 - positional: runs once per resource
    address: str,
    resource_type: str,
    action: str,
    name: Any,
    module_address: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    after_unknown: Any,
    resolver: RegionResolver,
) -> ResourceChange:
    """The part both readers share once an entry's fields are checked: defaults for ``name`` and
    ``module_address``, the regions (the resource's own attributes, else its provider's), the result."""
    if not isinstance(module_address, str) or not module_address:
        module_address = None
    if not isinstance(name, str):
        name = address.rsplit(".", 1)[-1].split("[", 1)[0]
    after_region = _values_region(after) if after else None
    before_region = _values_region(before) if before else None
    if after_region is None or before_region is None:
        provider_region = resolver.provider_region(module_address, resource_type, name)
        after_region = after_region or provider_region
        before_region = before_region or provider_region
    if action in PRICES_AFTER:
        region, past_region = after_region, (before_region if before_region != after_region else None)
    else:
        region, past_region = before_region, None
    # Made in C (ResourceChange's fields in order): this runs once per resource of plans with thousands.
    return _new(
        ResourceChange,
        (
            address,
            resource_type,
            name,
            module_address,
            action,
            before,
            after,
            after_unknown if isinstance(after_unknown, dict) else {},
            region,
            past_region,
        ),
    )


def _values_region(values: dict[str, Any]) -> str | None:
    """The region a resource's own attributes name: ``region`` (AWS provider ≥ 6 has it on every
    resource; S3 buckets had it before), else its availability zone(s)."""
    region = values.get("region")
    if isinstance(region, str) and region:
        return region
    zone = values.get("availability_zone")
    if zone is not None:  # most resources have none: no call
        zone_region = region_from_availability_zone(zone)
        if zone_region is not None:
            return zone_region
    zones = values.get("availability_zones")
    if isinstance(zones, list) and zones:
        return region_from_availability_zone(zones[0])
    return None


def _cut(text: str) -> str:
    return text if len(text) <= 200 else text[:197] + "..."


def _short(value: Any) -> str:
    """A plan value quoted for an error message: never a deep or huge repr of hostile input."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value[:5]):
        text = repr(value[:5]) if len(value) <= 5 else repr(value[:5])[:-1] + ", ...]"
    elif isinstance(value, str | int | float | bool) or value is None:
        text = repr(value)
    else:
        return _json_type(value)
    return _cut(text)


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )

"""Read and validate a Terraform plan quickly: orjson, then light shape checks (no heavy models).

Every problem becomes a ``PlanError`` with one line saying what is wrong and where.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from cloudcostguard import errors
from cloudcostguard.plan.model import ACTION_NAMES, Plan, ResourceChange
from cloudcostguard.plan.regions import RegionResolver, region_from_availability_zone

SUPPORTED_FORMAT_MAJORS = ("0", "1")


def _loads(source: bytes | str, max_bytes: int) -> tuple[Any, bytes]:
    raw = source.encode() if isinstance(source, str) else source
    if len(raw) > max_bytes:
        raise errors.PlanTooLargeError(
            f"plan is {len(raw)} bytes, larger than the limit of {max_bytes} bytes"
        )
    if not raw.strip():
        raise errors.PlanError("plan is empty")
    try:
        # orjson refuses nesting deeper than 1024 levels, so absurd nesting is an error, not a crash.
        return orjson.loads(raw), raw
    except orjson.JSONDecodeError as err:
        raise errors.PlanError(f"plan is not valid JSON: {err}") from err


def plan_digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def read_plan(
    source: bytes | str | dict[str, Any],
    *,
    default_region: str = "us-east-1",
    max_bytes: int = 50 * 1024 * 1024,
) -> Plan:
    """Parse ``terraform show -json`` output into the estimator's view of it."""
    if isinstance(source, dict):
        document: Any = source
        try:
            raw = orjson.dumps(source, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError) as err:
            raise errors.PlanError(f"plan is not JSON-serialisable: {err}") from err
        if len(raw) > max_bytes:
            raise errors.PlanTooLargeError(
                f"plan is {len(raw)} bytes, larger than the limit of {max_bytes} bytes"
            )
    elif isinstance(source, bytes | bytearray | memoryview | str):
        document, raw = _loads(bytes(source) if not isinstance(source, str) else source, max_bytes)
    else:
        raise errors.PlanError(f"plan must be bytes, str or a dict, not {type(source).__name__}")
    return parse_plan_document(document, raw=raw, default_region=default_region)


def parse_plan_document(document: Any, *, raw: bytes, default_region: str) -> Plan:
    if not isinstance(document, dict):
        raise errors.PlanError(f"plan must be a JSON object, not {_json_type(document)}")
    format_version = document.get("format_version")
    if not isinstance(format_version, str):
        raise errors.PlanError(
            "not a Terraform plan: no format_version (produce it with `terraform show -json`)"
        )
    if format_version.split(".", 1)[0] not in SUPPORTED_FORMAT_MAJORS:
        raise errors.PlanError(
            f"unsupported plan format_version {format_version!r}: supported are 0.x and 1.x"
        )
    terraform_version = document.get("terraform_version")
    changes = document.get("resource_changes", [])
    if changes is None:
        changes = []
    if not isinstance(changes, list):
        raise errors.PlanError(f"resource_changes must be a list, not {_json_type(changes)}")
    resolver = RegionResolver(document, default_region)
    resource_changes = [
        change
        for position, item in enumerate(changes)
        if (change := _resource_change(item, position, resolver)) is not None
    ]
    return Plan(
        format_version=format_version,
        terraform_version=terraform_version if isinstance(terraform_version, str) else None,
        resource_changes=resource_changes,
        plan_digest=plan_digest(raw),
    )


def _resource_change(item: Any, position: int, resolver: RegionResolver) -> ResourceChange | None:
    where = f"resource_changes[{position}]"
    if not isinstance(item, dict):
        raise errors.PlanError(f"{where} must be an object, not {_json_type(item)}")
    address, resource_type = item.get("address"), item.get("type")
    if not isinstance(address, str) or not isinstance(resource_type, str):
        raise errors.PlanError(f"{where} needs string 'address' and 'type'")
    mode = item.get("mode", "managed")
    if mode == "data":
        return None
    if mode != "managed":
        raise errors.PlanError(f"{address}: unknown mode {mode!r}")
    change = item.get("change")
    if not isinstance(change, dict):
        raise errors.PlanError(f"{address}: 'change' must be an object")
    actions = change.get("actions")
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise errors.PlanError(f"{address}: change.actions must be a list of strings")
    action = ACTION_NAMES.get(tuple(actions))
    if action is None:
        raise errors.PlanError(f"{address}: unknown change.actions {actions!r}")
    before, after = (
        _object_or_none(change.get("before"), address, "before"),
        _object_or_none(change.get("after"), address, "after"),
    )
    after_unknown = change.get("after_unknown")
    name = item.get("name")
    module_address = item.get("module_address")
    if not isinstance(name, str):
        name = address.rsplit(".", 1)[-1].split("[", 1)[0]
    if not isinstance(module_address, str):
        module_address = None
    return ResourceChange(
        address=address,
        resource_type=resource_type,
        name=name,
        module_address=module_address,
        action=action,
        before=before,
        after=after,
        after_unknown=after_unknown if isinstance(after_unknown, dict) else {},
        region=_resource_region(after, before)
        or resolver.provider_region(module_address, resource_type, name),
    )


def _resource_region(after: dict[str, Any] | None, before: dict[str, Any] | None) -> str | None:
    for values in (after, before):
        if not values:
            continue
        # AWS provider 6 gives resources their own `region` argument; older ones only an AZ.
        region = values.get("region")
        if isinstance(region, str) and region:
            return region
        zone_region = region_from_availability_zone(values.get("availability_zone"))
        if zone_region:
            return zone_region
    return None


def _object_or_none(value: Any, address: str, side: str) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    raise errors.PlanError(f"{address}: change.{side} must be an object or null, not {_json_type(value)}")


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )

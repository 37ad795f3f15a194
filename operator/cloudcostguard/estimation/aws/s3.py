"""aws_s3_bucket: storage, requests, retrievals and S3 Select per storage class; all usage-based.

Usage (Infracost's keys): one mapping per storage class, ``standard``, ``intelligent_tiering``,
``standard_infrequent_access``, ``one_zone_infrequent_access``, ``glacier_flexible_retrieval``,
``glacier_deep_archive``, each with keys such as ``storage_gb``, ``monthly_tier_1_requests``,
``monthly_tier_2_requests``, ``monthly_lifecycle_transition_requests``, ``monthly_data_retrieval_gb``,
``monthly_select_data_scanned_gb`` (see ``_CLASSES``). Standard is always shown; another class is shown
when the bucket's lifecycle rules move objects to it or the usage gives it values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from cloudcostguard.estimation.components import priced
from cloudcostguard.estimation.kit import FLOAT, OBJECT, UsageKey
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext, pricer
from cloudcostguard.estimation.usage import ResourceUsage
from cloudcostguard.pricing.catalog import Price

S3 = "AmazonS3"
DEEP_ARCHIVE = "AmazonS3GlacierDeepArchive"  # its own offer, whose products have no productFamily
GLACIER = "AmazonGlacier"  # Glacier retrievals and S3 Select on Glacier are sold under this offer

_THOUSAND = Decimal(1000)


@dataclass(frozen=True, slots=True)
class _Line:
    name: str
    usage_key: str
    service: str
    query: Mapping[str, str]
    kind: str  # "storage" (GB, tiered), "requests" (per 1k), "objects" (per 1k), "data" (GB)


def _storage(name: str, key: str, volume_type: str, usagetype: str, service: str = S3) -> _Line:
    query = {"volumeType": volume_type, "usagetypeBase": usagetype}
    if service == S3:
        query["productFamily"] = "Storage"
    return _Line(name, key, service, query, "storage")


def _requests(name: str, key: str, usagetype: str, service: str = S3, **extra: str) -> _Line:
    query = {"usagetypeBase": usagetype, **extra}
    if service == S3:
        query["productFamily"] = "API Request"
    return _Line(name, key, service, query, "requests")


def _data(name: str, key: str, usagetype: str, service: str = S3, **extra: str) -> _Line:
    return _Line(name, key, service, {"usagetypeBase": usagetype, **extra}, "data")


_PUT = "PUT, COPY, POST, LIST requests"
_GET = "GET, SELECT, and all other requests"
_LIFECYCLE = "Lifecycle transition"
_T1, _T2, _LC = "monthly_tier_1_requests", "monthly_tier_2_requests", "monthly_lifecycle_transition_requests"

# Storage class: (usage key, sub-resource name, lifecycle storage_class values, cost lines), in Infracost's
# order. Usage types are those of the AWS offer files.
_CLASSES: tuple[tuple[str, str, frozenset[str], tuple[_Line, ...]], ...] = (
    (
        "standard",
        "Standard",
        frozenset({"STANDARD"}),
        (
            _storage("Storage", "storage_gb", "Standard", "TimedStorage-ByteHrs"),
            _requests(_PUT, _T1, "Requests-Tier1"),
            _requests(_GET, _T2, "Requests-Tier2"),
            _data("Select data scanned", "monthly_select_data_scanned_gb", "Select-Scanned-Bytes"),
            _data("Select data returned", "monthly_select_data_returned_gb", "Select-Returned-Bytes"),
        ),
    ),
    (
        "intelligent_tiering",
        "Intelligent tiering",
        frozenset({"INTELLIGENT_TIERING"}),
        (
            _storage(
                "Storage (frequent access)",
                "frequent_access_storage_gb",
                "Intelligent-Tiering Frequent Access",
                "TimedStorage-INT-FA-ByteHrs",
            ),
            _storage(
                "Storage (infrequent access)",
                "infrequent_access_storage_gb",
                "Intelligent-Tiering Infrequent Access",
                "TimedStorage-INT-IA-ByteHrs",
            ),
            _storage(
                "Storage (archive access)",
                "archive_access_storage_gb",
                "IntelligentTieringArchive",
                "TimedStorage-INT-AA-ByteHrs",
            ),
            _storage(
                "Storage (deep archive access)",
                "deep_archive_access_storage_gb",
                "IntelligentTieringDeepArchive",
                "TimedStorage-INT-DAA-ByteHrs",
            ),
            _Line(
                "Monitoring and automation",
                "monitored_objects",
                S3,
                {"productFamily": "Fee", "usagetypeBase": "Monitoring-Automation-INT"},
                "objects",
            ),
            _requests(_PUT, _T1, "Requests-INT-Tier1"),
            _requests(_GET, _T2, "Requests-INT-Tier2"),
            _requests(_LIFECYCLE, _LC, "Requests-Tier4"),
            _data("Select data scanned", "monthly_select_data_scanned_gb", "Select-Scanned-INT-Bytes"),
            _data("Select data returned", "monthly_select_data_returned_gb", "Select-Returned-INT-Bytes"),
            _data("Early delete (within 30 days)", "early_delete_gb", "EarlyDelete-INT"),
        ),
    ),
    (
        "standard_infrequent_access",
        "Standard - infrequent access",
        frozenset({"STANDARD_IA"}),
        (
            _storage("Storage", "storage_gb", "Standard - Infrequent Access", "TimedStorage-SIA-ByteHrs"),
            _requests(_PUT, _T1, "Requests-SIA-Tier1"),
            _requests(_GET, _T2, "Requests-SIA-Tier2"),
            _requests(_LIFECYCLE, _LC, "Requests-Tier4"),
            _data("Retrievals", "monthly_data_retrieval_gb", "Retrieval-SIA", productFamily="Fee"),
            _data("Select data scanned", "monthly_select_data_scanned_gb", "Select-Scanned-SIA-Bytes"),
            _data("Select data returned", "monthly_select_data_returned_gb", "Select-Returned-SIA-Bytes"),
        ),
    ),
    (
        "one_zone_infrequent_access",
        "One zone - infrequent access",
        frozenset({"ONEZONE_IA"}),
        (
            _storage("Storage", "storage_gb", "One Zone - Infrequent Access", "TimedStorage-ZIA-ByteHrs"),
            _requests(_PUT, _T1, "Requests-ZIA-Tier1"),
            _requests(_GET, _T2, "Requests-ZIA-Tier2"),
            _requests(_LIFECYCLE, _LC, "Requests-Tier4"),
            _data("Retrievals", "monthly_data_retrieval_gb", "Retrieval-ZIA", productFamily="Fee"),
            _data("Select data scanned", "monthly_select_data_scanned_gb", "Select-Scanned-ZIA-Bytes"),
            _data("Select data returned", "monthly_select_data_returned_gb", "Select-Returned-ZIA-Bytes"),
        ),
    ),
    (
        "glacier_flexible_retrieval",
        "Glacier flexible retrieval",
        frozenset({"GLACIER"}),
        (
            _storage("Storage", "storage_gb", "Amazon Glacier", "TimedStorage-GlacierByteHrs"),
            _requests(_PUT, _T1, "Requests-GLACIER-Tier1"),
            _requests(_GET, _T2, "Requests-GLACIER-Tier2"),
            _requests(_LIFECYCLE, _LC, "Requests-Tier3", operation="S3-GlacierTransition"),
            _requests(
                "Retrieval requests (standard)",
                "monthly_standard_data_retrieval_requests",
                "Requests-Tier1",
                GLACIER,
            ),
            _data(
                "Retrievals (standard)",
                "monthly_standard_data_retrieval_gb",
                "Standard-Retrieval-Bytes",
                GLACIER,
            ),
            _data(
                "Select data scanned (standard)",
                "monthly_standard_select_data_scanned_gb",
                "Std-Select-Scanned-Bytes",
                GLACIER,
            ),
            _data(
                "Select data returned (standard)",
                "monthly_standard_select_data_returned_gb",
                "Std-Select-Returned-Bytes",
                GLACIER,
            ),
            _requests(
                "Retrieval requests (expedited)",
                "monthly_expedited_data_retrieval_requests",
                "Requests-Tier3",
                GLACIER,
            ),
            _data(
                "Retrievals (expedited)",
                "monthly_expedited_data_retrieval_gb",
                "Expedited-Retrieval-Bytes",
                GLACIER,
            ),
            _data(
                "Select data scanned (expedited)",
                "monthly_expedited_select_data_scanned_gb",
                "Exp-Select-Scanned-Bytes",
                GLACIER,
            ),
            _data(
                "Select data returned (expedited)",
                "monthly_expedited_select_data_returned_gb",
                "Exp-Select-Returned-Bytes",
                GLACIER,
            ),
            _data(
                "Select data scanned (bulk)",
                "monthly_bulk_select_data_scanned_gb",
                "Bulk-Select-Scanned-Bytes",
                GLACIER,
            ),
            _data(
                "Select data returned (bulk)",
                "monthly_bulk_select_data_returned_gb",
                "Bulk-Select-Returned-Bytes",
                GLACIER,
            ),
            _data("Early delete (within 90 days)", "early_delete_gb", "EarlyDelete-ByteHrs", GLACIER),
        ),
    ),
    (
        "glacier_deep_archive",
        "Glacier deep archive",
        frozenset({"DEEP_ARCHIVE"}),
        (
            _storage(
                "Storage", "storage_gb", "Glacier Deep Archive", "TimedStorage-GDA-ByteHrs", DEEP_ARCHIVE
            ),
            _requests(_PUT, _T1, "Requests-GDA-Tier1", DEEP_ARCHIVE),
            _requests(_GET, _T2, "Requests-GDA-Tier2"),
            _requests(_LIFECYCLE, _LC, "Requests-Tier3", operation="S3-GDATransition"),
            _requests(
                "Retrieval requests (standard)",
                "monthly_standard_data_retrieval_requests",
                "Requests-GDA-Tier3",
                DEEP_ARCHIVE,
            ),
            _data(
                "Retrievals (standard)",
                "monthly_standard_data_retrieval_gb",
                "Standard-Retrieval-Bytes",
                DEEP_ARCHIVE,
            ),
            _requests(
                "Retrieval requests (bulk)",
                "monthly_bulk_data_retrieval_requests",
                "Requests-GDA-Tier5",
                DEEP_ARCHIVE,
            ),
            _data(
                "Retrievals (bulk)", "monthly_bulk_data_retrieval_gb", "Bulk-Retrieval-Bytes", DEEP_ARCHIVE
            ),
            _data("Early delete (within 180 days)", "early_delete_gb", "EarlyDelete-GDA", DEEP_ARCHIVE),
        ),
    ),
)

# Earlier Infracost usage files named the IA retrieval key ``monthly_retrieval_gb``.
_KEY_ALIASES = {"monthly_data_retrieval_gb": "monthly_retrieval_gb"}


def _usage_keys() -> tuple[UsageKey, ...]:
    """One object per storage class, holding the keys its lines read (and the keys' old aliases)."""
    keys = []
    for usage_key, subresource, _, lines in _CLASSES:
        nested = {
            line.usage_key: UsageKey(line.usage_key, FLOAT, _MEANINGS[line.kind] % line.name)
            for line in lines
        }
        for name, alias in _KEY_ALIASES.items():
            if name in nested:
                nested[alias] = UsageKey(alias, FLOAT, f"Older name of {name}.")
        keys.append(
            UsageKey(usage_key, OBJECT, f"Usage of the {subresource} storage class.", tuple(nested.values()))
        )
    return tuple(keys)


_MEANINGS = {
    "storage": "Data stored: %s (GB).",
    "requests": "Monthly requests: %s.",
    "objects": "Objects: %s.",
    "data": "Monthly data: %s (GB).",
}


@pricer("aws_s3_bucket", usage=_usage_keys())
def price_s3_bucket(ctx: PricingContext) -> list[CostComponent]:
    transitions = _lifecycle_storage_classes(ctx)
    components: list[CostComponent] = []
    for usage_key, subresource, storage_classes, lines in _CLASSES:
        values = ctx.usage.raw(usage_key)
        class_usage = ResourceUsage(values if isinstance(values, Mapping) else {})
        if usage_key != "standard" and not class_usage and not storage_classes & transitions:
            continue
        for line in lines:
            quantity = class_usage.decimal(line.usage_key)
            alias = _KEY_ALIASES.get(line.usage_key)
            if quantity is None and alias is not None:
                quantity = class_usage.decimal(alias)
            components.append(_component(ctx, line, quantity, subresource))
    return components


def _component(ctx: PricingContext, line: _Line, quantity: Decimal | None, subresource: str) -> CostComponent:
    price: Price | None = ctx.catalog.lookup(line.service, ctx.region, **line.query)
    if line.kind in ("requests", "objects"):
        unit = "1k requests" if line.kind == "requests" else "1k objects"
        return priced(
            line.name,
            unit,
            None if quantity is None else quantity / _THOUSAND,
            price,
            usage_based=True,
            unit_scale=_THOUSAND,
            subresource=subresource,
        )
    # Storage walks the offer's volume tiers (Standard: first 50 TB, next 450 TB, over 500 TB).
    return priced(line.name, "GB", quantity, price, usage_based=True, subresource=subresource)


def _lifecycle_storage_classes(ctx: PricingContext) -> frozenset[str]:
    """Storage classes the bucket's own (provider < 4) lifecycle rules transition objects to."""
    found: set[str] = set()
    for rule in ctx.attrs.blocks("lifecycle_rule"):
        if rule.flag("enabled", True) is False:
            continue
        for block in ("transition", "noncurrent_version_transition"):
            for transition in rule.blocks(block):
                storage_class = transition.text("storage_class")
                if storage_class is not None:
                    found.add(storage_class.upper())
    return frozenset(found)

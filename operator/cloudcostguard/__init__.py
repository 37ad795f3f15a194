"""CloudCostGuard: cost guardrails for Terraform plans shipped through Kubernetes and GitOps.

The public Python API is exactly what this module exports::

    import cloudcostguard
    estimate = cloudcostguard.estimate(plan_bytes, usage=usage_yaml)
    estimate.total_monthly_cost  # Decimal

Nothing runs at import time beyond defining these names.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cloudcostguard.errors import CloudCostGuardError
from cloudcostguard.version import __version__

if TYPE_CHECKING:
    from cloudcostguard.estimation.model import Estimate
    from cloudcostguard.estimation.usage import Usage
    from cloudcostguard.pricing.catalog import PriceCatalog

__all__ = ["CloudCostGuardError", "__version__", "estimate"]


def estimate(
    plan: bytes | str | dict[str, Any],
    *,
    usage: Usage | Mapping[str, Any] | bytes | str | None = None,
    catalog: PriceCatalog | None = None,
    default_region: str = "us-east-1",
    max_plan_bytes: int = 50 * 1024 * 1024,
    hours_per_month: Decimal = Decimal(730),
    as_of: date | None = None,
    plan_digest: bool = True,
) -> Estimate:
    """Price a Terraform plan (``terraform show -json`` output: bytes, text or a parsed dict).

    ``usage`` is an Infracost-style usage file (YAML text or mapping) or a bare ``resource_usage``
    mapping; ``catalog`` defaults to the price snapshot bundled in the package; ``as_of`` is the day
    prices apply on (support calendars; default today, UTC). ``plan_digest=False`` prices a parsed
    (dict) plan as given, without the canonical serialisation behind ``Estimate.plan_digest`` and the
    ``max_plan_bytes`` check: for callers that bounded its size already. Raises only
    ``CloudCostGuardError`` subclasses on bad input.
    """
    # Imported here so that `import cloudcostguard` stays cheap (the CLI and operator import it first).
    from cloudcostguard.estimation.estimator import estimate_plan  # noqa: PLC0415
    from cloudcostguard.estimation.usage import Usage  # noqa: PLC0415
    from cloudcostguard.performance import age_young_objects, paused_gc  # noqa: PLC0415
    from cloudcostguard.plan.reader import read_plan  # noqa: PLC0415
    from cloudcostguard.pricing.snapshot import load_bundled_catalog  # noqa: PLC0415

    # One pause over reading and pricing: the parsed document stays alive across both. It is dropped
    # before the collector comes back, so the first collection walks the estimate, not the document.
    with paused_gc():
        parsed = read_plan(plan, default_region=default_region, max_bytes=max_plan_bytes, digest=plan_digest)
        estimate = estimate_plan(
            parsed,
            catalog if catalog is not None else load_bundled_catalog(),
            Usage.parse(usage),
            hours_per_month=hours_per_month,
            as_of=as_of,
        )
        del parsed
        age_young_objects()  # the estimate outlives this call: not walked by the next young collection
    return estimate

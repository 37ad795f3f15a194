"""The one path from a CostEstimate spec to an ``Estimate``, used by reconcile and admission alike.

- ``parse_spec``: the one validation of a spec (the CRD's pydantic model); a spec of the wrong shape
  is a ``SpecError`` naming the field.
- ``estimate_spec``: prices a plan (bytes, or an inline plan as parsed) with the spec's usage and
  default region; large plans go to a worker thread so the event loop — the operator's watches and the
  webhook in the same process — keeps answering. Failures of unexpected shapes are mapped to our
  errors here, once.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import UTC, datetime
from typing import Any

import pydantic

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation import memo
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.estimation.registry import load_all_pricers
from cloudcostguard.k8s.api.models import CostEstimateSpec
from cloudcostguard.plan import decoder as _typed_plan_decoder  # noqa: F401 - see load_all_pricers()
from cloudcostguard.pricing.catalog import PriceCatalog
from cloudcostguard.settings import Settings

logger = logging.getLogger(__name__)

# A long-running process (the operator, the webhook) loads every pricer once, up front: no review or
# reconcile pays for a module's import, and none runs while another thread prices.
load_all_pricers()
# The typed plan decoder (msgspec) is imported above for the same reason: once loaded, the plan reader
# uses it at every size, the faster path (the CLI loads it for large plans only).

# Plans above this size are estimated in a worker thread; smaller ones cost less than the thread hop
# (orjson reads ~200 MB/s here, so 256 KiB is about a millisecond of parsing).
OFFLOAD_PLAN_BYTES = 256 * 1024


def parse_spec(spec: Mapping[str, Any]) -> CostEstimateSpec:
    """The spec as the API's model; ``SpecError`` with the first problem's field otherwise."""
    try:
        return CostEstimateSpec.model_validate(spec)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "spec"
        raise errors.SpecError(f"spec.{where}: {first['msg']}") from err


async def estimate_spec(
    plan: bytes | dict[str, Any],
    spec: CostEstimateSpec,
    *,
    catalog: PriceCatalog,
    settings: Settings,
    max_plan_bytes: int,
    plan_digest: bool = True,
    executor: Executor | None = None,
    give_up_after: float | None = None,
    remember: bool = False,
    resource_changes: int | None = None,
) -> Estimate:
    """Estimate ``plan`` for ``spec``: in-process, or for a large plan in ``executor`` (None: the loop's
    default one), giving up after ``give_up_after`` seconds when one is set (the thread finishes on its own).

    ``plan_digest=False`` prices an inline plan as parsed, without the canonical re-serialisation behind
    ``Estimate.plan_digest``: for callers that bounded its size already and report no digest.
    ``remember``: whole estimates are kept per catalog (``estimation.memo.EstimateMemo``) and the same
    plan, usage and settings are answered from there: the webhook, which the API server sends the same
    objects again and again (diffs, dry runs, re-applies).
    ``resource_changes``: for an inline plan given as its JSON text, how many resource changes it lists:
    it goes to a worker thread by that count, as a parsed inline plan does.
    """
    as_of = datetime.now(UTC).date()  # one day for the estimate and its memo key
    default_region = spec.default_region or settings.default_region

    def run() -> Estimate:
        return cloudcostguard.estimate(
            plan,
            usage=spec.usage,
            catalog=catalog,
            default_region=default_region,
            max_plan_bytes=max_plan_bytes,
            hours_per_month=settings.hours_per_month,
            as_of=as_of,
            plan_digest=plan_digest,
        )

    if resource_changes is not None:
        heavy = resource_changes > settings.webhook_inline_max_resources
    elif isinstance(plan, bytes):
        heavy = len(plan) > OFFLOAD_PLAN_BYTES
    else:
        changes = plan.get("resource_changes")
        heavy = isinstance(changes, list) and len(changes) > settings.webhook_inline_max_resources
    remembered = memo.estimate_memo_for(catalog) if remember else None
    if remembered is not None:
        estimate_afresh = run

        def key() -> bytes | None:
            # The plan and usage came out of JSON (the review, a ConfigMap): their JSON is exact.
            return memo.json_key(
                ["sha256", hashlib.sha256(plan).hexdigest()] if isinstance(plan, bytes) else plan,
                spec.usage,
                default_region,
                str(settings.hours_per_month),
                as_of.isoformat(),
                plan_digest,
                max_plan_bytes,  # a remembered estimate must not answer past a smaller limit
            )

        if heavy:  # the key of a large plan takes time too: taken in the worker, with the estimate
            run = functools.partial(_remembered, remembered, key, estimate_afresh)
        else:
            light_key = key()
            found = remembered.find(light_key)
            if found is not None:
                return found  # answered on the loop: no worker thread for what is already known
            run = functools.partial(remembered.estimate, light_key, estimate_afresh)
    if not heavy:
        return _mapped(run)
    started = time.perf_counter()
    future = asyncio.get_running_loop().run_in_executor(executor, _mapped, run)
    try:
        return await asyncio.wait_for(future, give_up_after)
    except TimeoutError:
        raise errors.PricingError(
            f"estimate took longer than {give_up_after:g} s "
            f"(gave up after {time.perf_counter() - started:.1f} s)",
            reason="EstimateTimeout",
        ) from None


def _remembered(
    remembered: memo.EstimateMemo, key: Callable[[], bytes | None], run: Callable[[], Estimate]
) -> Estimate:
    return remembered.estimate(key(), run)


def _mapped(run: Callable[[], Estimate]) -> Estimate:
    """Run an estimate; input shapes nobody anticipated become our errors, reported on the object or
    in the admission answer rather than crashing a loop or a request."""
    try:
        return run()
    except errors.CloudCostGuardError:
        raise
    except RecursionError as err:
        raise errors.PlanError("plan is nested too deeply") from err
    except MemoryError as err:
        raise errors.PlanTooLargeError("plan is too large to estimate") from err
    except (ArithmeticError, ValueError, TypeError, KeyError) as err:
        logger.exception("estimating a plan failed unexpectedly")
        raise errors.PlanError(f"the plan could not be estimated: {err!r}") from err

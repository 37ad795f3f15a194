"""One process: the operator and the admission webhook in one kopf operator (``cloudcostguard run``).

The two sides import nothing from each other; this module composes them. Importing it registers every
kopf handler of the product (the shared indexes, the operator's handlers, the webhook's validating
handlers) and the startup and cleanup activities below, which run the two sides' steps in order:

- startup: bind ``memo.cluster`` to kopf's live indexes; the operator's probes, metrics and first price
  catalog; the webhook's certificates, server and runtime; the Lease election; then ``started``.
- cleanup, the other way round: loops and Lease, the webhook's workers, then catalog and servers.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import kopf

from cloudcostguard import errors
from cloudcostguard.k8s.admission import handlers as admission_handlers
from cloudcostguard.k8s.admission import server as admission_server
from cloudcostguard.k8s.admission.memo import AdmissionMemo
from cloudcostguard.k8s.cluster import kopf_indexes
from cloudcostguard.k8s.operator import handlers as operator_handlers
from cloudcostguard.k8s.operator import runtime
from cloudcostguard.k8s.operator.memo import OperatorMemo
from cloudcostguard.pricing.catalog_provider import CatalogProvider
from cloudcostguard.settings import Settings

logger = logging.getLogger("cloudcostguard.runtime")

# The handler modules this process runs (imported above, which registered them with kopf).
HANDLER_MODULES = (kopf_indexes.__name__, operator_handlers.__name__, admission_handlers.__name__)


@dataclass(eq=False, kw_only=True)
class ProcessMemo(OperatorMemo, AdmissionMemo):
    """kopf's memo for the whole process: the operator's fields and the webhook's."""


def make_memo(settings: Settings, *, catalog_provider: CatalogProvider | None = None) -> ProcessMemo:
    """Everything the handlers share, before kopf starts (fails fast on configuration errors)."""
    provider = catalog_provider if catalog_provider is not None else runtime.build_catalog_provider(settings)
    return ProcessMemo(
        settings=settings, catalog_provider=provider, **runtime.operator_parts(settings, provider)
    )


@kopf.on.startup(id="cloudcostguard-runtime")
async def startup(settings: kopf.OperatorSettings, memo: ProcessMemo, **kwargs: Any) -> None:
    missing = memo.cluster.bind(
        {name: value for name, value in kwargs.items() if isinstance(value, kopf.Index)}
    )
    if missing:
        # Without them, budgets would be judged against nothing: say so loudly.
        logger.error("kopf indexes missing: %s", ", ".join(missing))
    await runtime.start_operator(settings, memo)
    try:
        admission_server.configure_admission(settings, memo.settings, memo)
    except errors.CloudCostGuardError as err:
        raise kopf.PermanentError(str(err)) from err
    runtime.start_leadership(settings, memo)
    memo.process.started = True
    status = memo.catalog_provider.status()
    logger.info("CloudCostGuard operator started; prices: %s %s", status.source, status.version)


@kopf.on.cleanup(id="cloudcostguard-runtime")
async def cleanup(memo: ProcessMemo, **_: Any) -> None:
    memo.process.started = False
    await runtime.stop_loops_and_leadership(memo)
    await admission_server.stop_admission(memo)
    await runtime.stop_operator(memo)
    logger.info("CloudCostGuard operator stopped")

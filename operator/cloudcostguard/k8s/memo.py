"""kopf's memo, typed: the objects every handler of the process shares (STYLE rule 6).

kopf hands every handler a shallow copy (``copy.copy``) of the memo given to ``kopf.operator``, and
never reads or writes it itself: what handlers change is in the objects the fields hold (shared by
every copy), never the fields themselves — except at startup and cleanup, on the memo itself.

``kopf.Memo`` is a dict whose attributes are its keys; these memos are dataclasses with plain
attributes instead, so that fields have types and defaults. The operator's (``operator.memo``) and
the webhook's (``admission.memo``) add their own fields; ``process.ProcessMemo`` is both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import kopf

from cloudcostguard.k8s.cluster.state import KopfIndexState
from cloudcostguard.pricing.catalog_provider import CatalogProvider
from cloudcostguard.settings import Settings


@dataclass(slots=True)
class ProcessState:
    """Flags the probes read. An object of its own: kopf's per-object copies share it."""

    started: bool = False  # set at the end of startup, cleared at cleanup
    # True once kopf has finished the initial listing of every indexed resource (see
    # operator.handlers.namespace_changes): before that, the webhook would judge with no policies and
    # no spend, so readiness waits for it.
    indexed: bool = False


@dataclass(eq=False, kw_only=True)
class Memo(kopf.Memo):
    """What the operator and the webhook both use."""

    # Plain attributes, not dict keys: a class-level default would otherwise shadow the value set.
    __setattr__ = object.__setattr__  # type: ignore[assignment]
    __delattr__ = object.__delattr__

    settings: Settings
    catalog_provider: CatalogProvider
    cluster: KopfIndexState = field(default_factory=KopfIndexState)  # bound to kopf's indexes at startup
    process: ProcessState = field(default_factory=ProcessState)

    def __getattr__(self, key: str) -> Any:
        # Only reached for names that are no field: a typo, not a missing dict key.
        raise AttributeError(f"{type(self).__name__} has no attribute {key!r}")

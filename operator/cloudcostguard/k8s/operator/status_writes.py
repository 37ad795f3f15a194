"""Status writes of the reconcile loops, sent by the loops themselves rather than left to kopf.

kopf applies a handler's ``patch`` after the handler returned. When that PATCH fails for good — a 409
Conflict, a 5xx after kopf's own retries, a timeout — the exception ends the timer task, and kopf never
restarts a timer that ended: the object would not be reconciled again by this process until a restart,
and the status computed would be lost (found by ``tests/reliability/test_api_faults.py``). Here a failed
write is a transient failure like any other: one attempt per round (kopf's in-request retries are off,
they would block the loop with sleeps it cannot interrupt), the loop keeps what it could not write and
sends it again after ``reconcile.backoff_delay``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, cast

import aiohttp
import kopf

from cloudcostguard import errors
from cloudcostguard.k8s.operator import kopf_api

logger = logging.getLogger(__name__)

# Seconds one status write may take (the API server's own default request timeout is 60 s; a write
# that hangs longer than this is abandoned and retried with backoff).
WRITE_TIMEOUT = 30.0


async def write_status(
    kopf_settings: kopf.OperatorSettings | None,
    resource: kopf.Resource,
    namespace: str | None,
    name: str,
    status: Mapping[str, Any],
) -> bool:
    """Merge-patch ``.status``: True when written, False when the object is gone (404: nothing to do).

    Raises ``StatusWriteError`` when the API did not take it (retry later)."""
    if kopf_settings is None:  # start_operator() keeps them; a handler cannot run before it
        raise errors.StatusWriteError("the operator has not started: no API client yet")
    subresource = "status" if "status" in resource.subresources else None
    # kopf's NamespaceName is a NewType of str (not re-exported by kopf): cast, as kopf does internally.
    scope = cast("Any", namespace or None)
    url = resource.get_url(namespace=scope, name=name, subresource=subresource)
    try:
        response = await kopf_api.request(
            "patch",
            url,
            settings=kopf_settings,
            payload={"status": dict(status)},
            headers={"Content-Type": "application/merge-patch+json"},
            timeout=aiohttp.ClientTimeout(total=WRITE_TIMEOUT),
            backoffs=(),  # one attempt: the reconcile loop retries with its own backoff
            logger=logger,
        )
        async with response:
            await response.read()
    except kopf_api.APINotFoundError:
        return False
    except (kopf_api.APIError, aiohttp.ClientError, TimeoutError) as err:
        raise errors.StatusWriteError(
            f"cannot write the status of {resource.plural} {namespace or ''}/{name}: {_describe(err)}"
        ) from err
    return True


def _describe(err: BaseException) -> str:
    if isinstance(err, TimeoutError):
        return f"no answer within {WRITE_TIMEOUT:g} s"
    if isinstance(err, kopf_api.APIError):
        return f"HTTP {err.status}"
    return f"{type(err).__name__}: {err}".splitlines()[0]

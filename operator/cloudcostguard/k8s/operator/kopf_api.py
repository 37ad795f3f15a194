"""The kopf internals the operator uses, in one place: kopf's API client for the Lease calls and the
metrics endpoint's TokenReviews and SubjectAccessReviews.

Checked against kopf 1.45.2 (pyproject pins kopf to 1.45.x while these are used). kopf has no public
generic API client; its internal one carries the operator's login (service account, kubeconfig, token
refresh, TLS) and session, which is what the Lease calls, the metrics endpoint's reviews and the Pending
status write of a new CostEstimate (``handlers._write_status_now``) must use.
``tests/unit/k8s/operator/test_kopf_api.py`` fails loudly when a kopf upgrade moves any of them.
"""

from __future__ import annotations

from kopf._cogs.clients import api, errors
from kopf._cogs.structs import references

KOPF_VERSION_CHECKED = "1.45.2"

request = api.request  # one API request through kopf's authenticated session
get_default_namespace = api.get_default_namespace  # the namespace of the login (kubeconfig, pod)

NamespaceName = references.NamespaceName  # what kopf.Resource.get_url() takes for a namespace

APIError = errors.APIError
APINotFoundError = errors.APINotFoundError
APIConflictError = errors.APIConflictError
APIForbiddenError = errors.APIForbiddenError

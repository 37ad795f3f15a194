"""The kopf internals behind ``kopf_api`` are where they were checked: a kopf upgrade that moves or
reshapes them fails here, loudly, instead of in the Lease calls of a running operator."""

from __future__ import annotations

import inspect

import kopf

from cloudcostguard.k8s.operator import kopf_api


def test_the_api_client_takes_what_the_lease_client_passes() -> None:
    parameters = inspect.signature(kopf_api.request).parameters
    assert list(parameters)[:2] == ["method", "url"]
    assert {"settings", "payload", "headers", "timeout", "backoffs", "logger"} <= set(parameters)
    assert inspect.iscoroutinefunction(kopf_api.request)
    assert inspect.iscoroutinefunction(kopf_api.get_default_namespace)


def test_the_api_errors_keep_their_hierarchy() -> None:
    assert issubclass(kopf_api.APINotFoundError, kopf_api.APIError)
    assert issubclass(kopf_api.APIConflictError, kopf_api.APIError)
    assert issubclass(kopf_api.APIForbiddenError, kopf_api.APIError)
    assert issubclass(kopf_api.APIError, Exception)


def test_resources_build_the_status_url_the_pending_write_patches() -> None:
    resource = kopf.Resource("cloudcostguard.io", "v1alpha1", "costestimates", namespaced=True)
    url = resource.get_url(namespace=kopf_api.NamespaceName("team-a"), name="web", subresource="status")
    assert url == "/apis/cloudcostguard.io/v1alpha1/namespaces/team-a/costestimates/web/status"

"""The chart's webhook bounds: the in-flight limit and the optional client CA reach the container."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deploy import manifests

needs_helm = pytest.mark.skipif(manifests.helm_binary() is None, reason=manifests.HELM_MISSING)


def operator_pod(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    [deployment] = [obj for obj in objects if obj["kind"] == "Deployment"]
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    return spec, container


@needs_helm
def test_defaults_set_the_in_flight_limit_and_ask_for_no_client_certificate() -> None:
    spec, container = operator_pod(manifests.helm_template())
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["CCG_WEBHOOK_MAX_IN_FLIGHT"] == "32"
    assert "CCG_WEBHOOK_CLIENT_CA_FILE" not in env
    assert "webhook-client-ca" not in {volume["name"] for volume in spec["volumes"]}


@needs_helm
def test_a_client_ca_config_map_is_mounted_and_named_in_the_setting() -> None:
    spec, container = operator_pod(manifests.helm_template(manifests.FULL_VALUES))
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["CCG_WEBHOOK_MAX_IN_FLIGHT"] == "64"
    assert env["CCG_WEBHOOK_CLIENT_CA_FILE"] == "/etc/cloudcostguard/webhook-client-ca/ca.crt"
    assert {"name": "webhook-client-ca", "configMap": {"name": "apiserver-client-ca"}} in spec["volumes"]
    assert {
        "name": "webhook-client-ca",
        "mountPath": "/etc/cloudcostguard/webhook-client-ca",
        "readOnly": True,
    } in container["volumeMounts"]

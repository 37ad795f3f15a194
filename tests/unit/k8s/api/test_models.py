"""The API models: exactly one plan source, money strings, selectors."""

from __future__ import annotations

import typing

import pydantic
import pytest

from cloudcostguard.k8s.api import models
from cloudcostguard.k8s.api.models import CostEstimateSpec, CostPolicySpec, PlanSource
from cloudcostguard.policy import model as policy_model


@pytest.mark.parametrize(
    "source",
    [
        {},
        {"inline": {}, "url": "https://example.com/p.json"},
        {"configMapKeyRef": {"name": "a", "key": "b"}, "secretKeyRef": {"name": "a", "key": "b"}},
    ],
)
def test_plan_needs_exactly_one_source(source: dict[str, object]) -> None:
    with pytest.raises(pydantic.ValidationError, match="exactly one of inline"):
        PlanSource.model_validate(source)


def test_plan_source_kind_names_the_field() -> None:
    assert PlanSource.model_validate({"terraformRef": {"name": "x"}}).kind == "terraformRef"
    assert (
        PlanSource.model_validate({"configMapKeyRef": {"name": "x", "key": "p.json"}}).kind
        == "configMapKeyRef"
    )


def test_url_must_be_https_and_region_well_formed() -> None:
    with pytest.raises(pydantic.ValidationError):
        PlanSource.model_validate({"url": "http://example.com/p.json"})
    with pytest.raises(pydantic.ValidationError):
        CostEstimateSpec.model_validate({"plan": {"inline": {}}, "defaultRegion": "Virginia"})
    spec = CostEstimateSpec.model_validate({"plan": {"inline": {}}, "defaultRegion": "eu-west-1"})
    assert spec.default_region == "eu-west-1"


def test_policy_money_limits_are_decimal_strings() -> None:
    spec = CostPolicySpec.model_validate(
        {"enforcement": "Warn", "limits": {"maxMonthlyCost": "250.00", "maxIncreasePercent": 20}}
    )
    assert spec.limits.max_monthly_cost == "250.00"
    for bad in ("-1", "1e3", "ten", "250.1234567"):
        with pytest.raises(pydantic.ValidationError):
            CostPolicySpec.model_validate({"enforcement": "Deny", "limits": {"maxMonthlyCost": bad}})
    with pytest.raises(pydantic.ValidationError):
        CostPolicySpec.model_validate({"enforcement": "Block"})


def test_the_crd_takes_its_money_rule_and_enforcements_from_the_policy_model() -> None:
    limits = CostPolicySpec.model_json_schema()["$defs"]["CostPolicyLimits"]["properties"]
    assert limits["maxMonthlyCost"]["anyOf"][0]["pattern"] == policy_model.MONEY_PATTERN
    assert typing.get_args(models.Enforcement) == policy_model.ENFORCEMENTS
    assert typing.get_args(models.UnpricedMode) == policy_model.UNPRICED_MODES
    assert CostPolicySpec.model_validate({"enforcement": "Deny"}).unpriced == policy_model.Unpriced.WARN.value

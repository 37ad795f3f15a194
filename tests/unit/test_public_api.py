"""The public Python API of DESIGN §2: ``cloudcostguard.estimate(plan, *, usage=None, catalog=None)``."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Any

import orjson
import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.estimation.usage import Usage
from cloudcostguard.render import render_json
from tests.plans import change, plan
from tests.unit.plan.builders import make_catalog

NAT_PLAN = plan(
    change("aws_nat_gateway.egress", ["create"], after={}),
    change("aws_nat_gateway.old", ["delete"], before={}),
    change("aws_nat_gateway.kept", ["no-op"], before={}, after={}),
)
USAGE_YAML = "version: 0.1\nresource_usage:\n  aws_nat_gateway.egress:\n    monthly_data_processed_gb: 1000\n"


def test_the_public_names() -> None:
    assert cloudcostguard.__all__ == ["CloudCostGuardError", "__version__", "estimate"]
    assert cloudcostguard.CloudCostGuardError is errors.CloudCostGuardError
    assert isinstance(cloudcostguard.__version__, str)


def test_importing_the_package_runs_nothing_heavy() -> None:
    prefixes = ("cloudcostguard.", "orjson", "pydantic", "yaml")
    probe = f"import sys, cloudcostguard; print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60, check=True)
    assert result.stdout.strip() == b"['cloudcostguard.errors', 'cloudcostguard.version']"


def test_plan_as_bytes_text_or_dict_gives_the_same_estimate() -> None:
    raw = orjson.dumps(NAT_PLAN)
    from_bytes = cloudcostguard.estimate(raw)
    from_text = cloudcostguard.estimate(raw.decode())
    from_dict = cloudcostguard.estimate(NAT_PLAN)
    assert isinstance(from_bytes, Estimate)
    assert from_bytes.to_dict() == from_text.to_dict()
    # The digest of a dict is that of its canonical serialisation; everything else is the same.
    assert {**from_dict.to_dict(), "planDigest": ""} == {**from_bytes.to_dict(), "planDigest": ""}


def test_totals_are_decimals() -> None:
    estimate = cloudcostguard.estimate(NAT_PLAN)
    assert isinstance(estimate.total_monthly_cost, Decimal)
    assert isinstance(estimate.past_total_monthly_cost, Decimal)
    assert isinstance(estimate.diff_total_monthly_cost, Decimal)
    # Bundled prices: NAT gateway $0.045/h × 730 h = $32.85 (egress and kept now; old and kept before).
    assert estimate.total_monthly_cost == Decimal("65.700")
    assert estimate.past_total_monthly_cost == Decimal("65.700")
    assert estimate.diff_total_monthly_cost == 0


@pytest.mark.parametrize(
    "usage",
    [
        USAGE_YAML,
        USAGE_YAML.encode(),
        {"version": "0.1", "resource_usage": {"aws_nat_gateway.egress": {"monthly_data_processed_gb": 1000}}},
        {"aws_nat_gateway.egress": {"monthly_data_processed_gb": 1000}},  # spec.usage: bare resource_usage
        Usage({"aws_nat_gateway.egress": {"monthly_data_processed_gb": 1000}}),
    ],
)
def test_usage_in_every_accepted_form(usage: Any) -> None:
    estimate = cloudcostguard.estimate(NAT_PLAN, usage=usage)
    assert estimate.total_monthly_cost == Decimal("65.700") + Decimal("45.000")  # 1,000 GB × $0.045


def test_catalog_is_used_when_given_and_the_bundled_one_otherwise() -> None:
    assert cloudcostguard.estimate(NAT_PLAN).pricing_source == "bundled"
    given = cloudcostguard.estimate(NAT_PLAN, catalog=make_catalog())
    assert (given.pricing_source, given.pricing_version) == ("test", "test-1")


def test_to_dict_is_the_json_output() -> None:
    estimate = cloudcostguard.estimate(NAT_PLAN)
    assert orjson.loads(render_json(estimate)) == estimate.to_dict()


@pytest.mark.parametrize(
    ("plan_source", "usage", "error"),
    [
        (b"nope", None, errors.PlanError),
        (42, None, errors.PlanError),
        ({"format_version": "7"}, None, errors.PlanError),
        (NAT_PLAN, 42, errors.UsageError),
        (NAT_PLAN, "version: 9", errors.UsageError),
    ],
)
def test_bad_input_raises_only_the_projects_errors(
    plan_source: Any, usage: Any, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        cloudcostguard.estimate(plan_source, usage=usage)
    assert isinstance(caught.value, cloudcostguard.CloudCostGuardError)


def test_size_limit_and_default_region_are_parameters() -> None:
    with pytest.raises(errors.PlanTooLargeError):
        cloudcostguard.estimate(orjson.dumps(NAT_PLAN), max_plan_bytes=10)
    estimate = cloudcostguard.estimate(
        plan(change("aws_nat_gateway.a", ["create"], after={}), providers={}), default_region="eu-west-1"
    )
    assert estimate.resources[0].region == "eu-west-1"


def test_a_dict_plan_priced_without_its_digest_costs_the_same_and_skips_the_size_check() -> None:
    document = {
        "format_version": "1.2",
        "resource_changes": [
            {"address": "aws_nat_gateway.a", "mode": "managed", "type": "aws_nat_gateway", "name": "a",
             "change": {"actions": ["create"], "before": None, "after": {}}},
        ],
    }  # fmt: skip
    measured = cloudcostguard.estimate(document)
    unmeasured = cloudcostguard.estimate(document, plan_digest=False, max_plan_bytes=10)
    assert unmeasured.total_monthly_cost == measured.total_monthly_cost > 0
    assert measured.plan_digest.startswith("sha256:") and unmeasured.plan_digest == ""
    with pytest.raises(cloudcostguard.CloudCostGuardError, match="larger than the limit of 10 bytes"):
        cloudcostguard.estimate(document, max_plan_bytes=10)

"""Property tests: whatever the input, ``cloudcostguard.estimate`` returns an estimate or raises one of the
project's own errors — never anything else — and what it returns is consistent and renders.

The plan-like documents exercise every pricer registered when the tests run. Their attribute names and
values are drawn from the string literals of the pricer modules themselves (``instance_type``, ``gp3``,
``postgres``, ``PAY_PER_REQUEST``...), mixed with arbitrary JSON, so pricers meet both the shapes they
expect and shapes nobody anticipated.
"""

from __future__ import annotations

import ast
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cloudcostguard
from cloudcostguard.estimation import aws
from cloudcostguard.estimation.model import Estimate
from cloudcostguard.estimation.registry import FREE_RESOURCE_TYPES, PRICERS, load_all_pricers
from cloudcostguard.render import FORMATS, render

PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MONEY = re.compile(r"^-?\d+\.\d{2}$")


def _pricer_literals() -> tuple[list[str], list[str]]:
    """String constants in the pricer modules: identifier-like ones as attribute/usage keys, all as values."""
    keys: set[str] = set()
    values: set[str] = set()
    for path in sorted(Path(aws.__path__[0]).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) <= 60:
                values.add(node.value)
                if re.fullmatch(r"[a-z][a-z0-9_]*", node.value):
                    keys.add(node.value)
    return sorted(keys), sorted(values)


# Every pricer module registered; the strategies below are built from them.
load_all_pricers()
assert "aws_nat_gateway" in PRICERS
ATTRIBUTE_KEYS, LITERAL_VALUES = _pricer_literals()
ATTRIBUTE_KEYS = sorted({*ATTRIBUTE_KEYS, "region", "availability_zone", "availability_zones", "tags"})
RESOURCE_TYPES = sorted(
    {*PRICERS, "aws_vpc", "aws_iam_role", "aws_not_a_real_type", "google_compute_instance"}
)
assert FREE_RESOURCE_TYPES & set(RESOURCE_TYPES)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
# Values pricers are likely to understand, then anything at all.
attribute_values = st.recursive(
    st.one_of(
        st.sampled_from(LITERAL_VALUES),
        st.integers(min_value=-10, max_value=100_000),
        st.sampled_from(
            [0, 1, 8, 20, 100, 3000, 10**15, 10**16, -1, 0.5, 1e300, "100", "-5", "1e400", "", True]
        ),
        json_scalars,
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), children, max_size=5), max_size=3),
        st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), children, max_size=5),
    ),
    max_leaves=20,
)
attributes = st.one_of(
    st.none(), st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), attribute_values, max_size=10), json_values
)
unknowns = st.one_of(
    st.none(),
    st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), st.one_of(st.just(True), attribute_values), max_size=4),
    json_values,
)
actions = st.one_of(
    st.sampled_from(
        [["create"], ["delete"], ["update"], ["no-op"], ["read"], ["delete", "create"], ["create", "delete"]]
    ),
    st.sampled_from([["forget"], ["create", "forget"], [], ["explode"], "create", [1]]),
)
addresses = st.builds(
    lambda module, resource_type, name, index: f"{module}{resource_type}.{name}{index}",
    st.sampled_from(["", "module.app.", 'module.app["x"].', "module.a[0].module.b."]),
    st.sampled_from(RESOURCE_TYPES),
    st.sampled_from(["main", "web", "db"]),
    st.sampled_from(["", "[0]", "[1]", '["blue"]', "[*]"]),
)


@st.composite
def resource_changes(draw: st.DrawFn) -> dict[str, Any]:
    resource_type = draw(st.sampled_from(RESOURCE_TYPES))
    module = draw(st.sampled_from(["", "module.app", 'module.app["x"]', "module.a[0].module.b"]))
    name = draw(st.sampled_from(["main", "web", "db"]))
    index = draw(st.sampled_from(["", "[0]", "[1]", '["blue"]']))
    item: dict[str, Any] = {
        "address": f"{module + '.' if module else ''}{resource_type}.{name}{index}",
        "mode": draw(st.sampled_from(["managed", "managed", "managed", "data"])),
        "type": resource_type,
        "name": name,
        "change": {
            "actions": draw(actions),
            "before": draw(attributes),
            "after": draw(attributes),
            "after_unknown": draw(unknowns),
        },
    }
    if module:
        item["module_address"] = module
    return item


plans = st.builds(
    lambda changes, region, version: {
        "format_version": version,
        "resource_changes": changes,
        "configuration": {
            "provider_config": {"aws": {"expressions": {"region": {"constant_value": region}}}}
        },
    },
    st.lists(resource_changes(), max_size=6),
    st.sampled_from(["us-east-1", "us-west-2", "eu-west-1", "nowhere-1"]),
    st.sampled_from(["1.2", "0.1", "1.0"]),
)
usages = st.one_of(
    st.none(),
    st.dictionaries(
        st.one_of(
            addresses, st.sampled_from(["aws_instance.web[*]", "module.app[*].aws_lambda_function.main"])
        ),
        st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), attribute_values, max_size=6),
        max_size=4,
    ),
    st.builds(
        lambda defaults: {"version": "0.1", "resource_type_default_usage": defaults},
        st.dictionaries(
            st.sampled_from(RESOURCE_TYPES),
            st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), attribute_values, max_size=6),
            max_size=3,
        ),
    ),
)


def _estimate_or_project_error(plan: Any, usage: Any = None) -> Estimate | None:
    try:
        return cloudcostguard.estimate(plan, usage=usage)
    except cloudcostguard.CloudCostGuardError as err:
        assert str(err) and "\n" not in str(err)
        return None


def _check_consistent(estimate: Estimate) -> None:
    total = sum((r.monthly_cost for r in estimate.resources), Decimal(0))
    past = sum((r.past_monthly_cost for r in estimate.resources), Decimal(0))
    assert estimate.total_monthly_cost == total
    assert estimate.past_total_monthly_cost == past
    assert estimate.diff_total_monthly_cost == total - past
    for resource in estimate.resources:
        if resource.action in ("no-op", "read"):
            assert resource.monthly_cost == resource.past_monthly_cost
        if resource.action in ("delete", "forget"):
            assert resource.monthly_cost == 0 and resource.components == []
        if resource.action == "create":
            assert resource.past_monthly_cost == 0
        if resource.support != "priced":
            assert resource.monthly_cost == 0 == resource.past_monthly_cost
    document = estimate.to_dict()
    for key in ("totalMonthlyCost", "pastTotalMonthlyCost", "diffTotalMonthlyCost"):
        assert MONEY.match(document[key]), document[key]
    orjson.dumps(document)
    for output_format in FORMATS:
        assert render(estimate, output_format)


@PROPERTY_SETTINGS
@given(json_values)
def test_arbitrary_json_raises_only_project_errors(value: Any) -> None:
    raw = orjson.dumps(value)
    for source in (raw, raw.decode(), value):
        estimate = _estimate_or_project_error(source)
        if estimate is not None:
            _check_consistent(estimate)


@PROPERTY_SETTINGS
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_raise_only_project_errors(raw: bytes) -> None:
    estimate = _estimate_or_project_error(raw)
    if estimate is not None:
        _check_consistent(estimate)


@PROPERTY_SETTINGS
@given(plans, usages)
def test_plan_like_documents_raise_only_project_errors(document: dict[str, Any], usage: Any) -> None:
    estimate = _estimate_or_project_error(document, usage)
    if estimate is not None:
        _check_consistent(estimate)
    # The same document as bytes behaves the same way.
    raw_estimate = _estimate_or_project_error(orjson.dumps(document), usage)
    assert (estimate is None) == (raw_estimate is None)


numeric_usage = st.dictionaries(
    st.sampled_from(ATTRIBUTE_KEYS),
    st.one_of(
        st.integers(min_value=0, max_value=10**9),
        st.decimals(min_value=0, max_value=10**6, places=3).map(str),
        st.sampled_from(LITERAL_VALUES),
        attribute_values,
    ),
    max_size=15,
)


@PROPERTY_SETTINGS
@given(
    st.lists(
        st.builds(
            lambda resource_type, index, after: {
                "address": f"{resource_type}.r[{index}]",
                "type": resource_type,
                "change": {"actions": ["create"], "after": after},
            },
            st.sampled_from(sorted(PRICERS)),
            st.integers(min_value=0, max_value=9),
            st.dictionaries(st.sampled_from(ATTRIBUTE_KEYS), attribute_values, max_size=12),
        ),
        min_size=1,
        max_size=4,
    ),
    st.one_of(st.none(), numeric_usage),
)
def test_every_registered_pricer_meets_plausible_attributes(
    changes: list[dict[str, Any]], usage_values: dict[str, Any] | None
) -> None:
    """Valid plans whose attributes and usage are drawn from what pricers read: only project errors,
    and on success a consistent estimate."""
    usage = None
    if usage_values is not None:
        types = {change["type"] for change in changes}
        usage = {"version": "0.1", "resource_type_default_usage": dict.fromkeys(types, usage_values)}
    estimate = _estimate_or_project_error({"format_version": "1.2", "resource_changes": changes}, usage)
    if estimate is not None:
        _check_consistent(estimate)

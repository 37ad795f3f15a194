"""Infracost-compatible usage files: parsing, address matching with wildcards, layering, errors."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

from cloudcostguard import errors
from cloudcostguard.estimation.usage import NO_USAGE, ResourceUsage, Usage, wildcard_patterns

D = Decimal

USAGE_FILE = """
version: 0.1
resource_type_default_usage:
  aws_lambda_function:
    monthly_requests: 1000
    request_duration_ms: 100
resource_usage:
  aws_lambda_function.api:
    monthly_requests: 5000
  aws_lambda_function.worker[*]:
    monthly_requests: 7000
  aws_lambda_function.worker[2]:
    request_duration_ms: 250
  module.app[*].aws_lambda_function.fn:
    monthly_requests: 9000
  module.app["prod"].aws_lambda_function.fn:
    request_duration_ms: 400
  module.svc[*].aws_lambda_function.fn[*]:
    monthly_requests: 11
  module.svc[*].aws_lambda_function.fn[0]:
    monthly_requests: 12
  module.plain.aws_lambda_function.fn:
    monthly_requests: 13
"""


def _values(usage: Usage, address: str, resource_type: str = "aws_lambda_function") -> tuple[Any, Any]:
    found = usage.for_resource(address, resource_type)
    return found.decimal("monthly_requests"), found.decimal("request_duration_ms")


@pytest.mark.parametrize(
    ("address", "requests", "duration"),
    [
        ("aws_lambda_function.api", D(5000), D(100)),  # exact over the type default
        ("aws_lambda_function.other", D(1000), D(100)),  # type default only
        ("aws_lambda_function.worker[0]", D(7000), D(100)),  # count wildcard
        ('aws_lambda_function.worker["eu"]', D(7000), D(100)),  # for_each wildcard
        ("aws_lambda_function.worker[2]", D(7000), D(250)),  # wildcard and exact merge key by key
        ('module.app["dev"].aws_lambda_function.fn', D(9000), D(100)),  # module wildcard
        ('module.app["prod"].aws_lambda_function.fn', D(9000), D(400)),
        ('module.svc["a"].aws_lambda_function.fn[3]', D(11), D(100)),  # two wildcards
        ('module.svc["a"].aws_lambda_function.fn[0]', D(12), D(100)),  # fewer wildcards win
        ("module.plain.aws_lambda_function.fn", D(13), D(100)),  # a module path, exact
        ("aws_lambda_function.worker", D(1000), D(100)),  # no index: the wildcard does not match
    ],
)
def test_resource_usage_layers_defaults_wildcards_and_exact_entries(
    address: str, requests: Decimal, duration: Decimal
) -> None:
    assert _values(Usage.parse(USAGE_FILE), address) == (requests, duration)


def test_type_defaults_apply_only_to_their_type() -> None:
    usage = Usage.parse(USAGE_FILE)
    assert usage.for_resource("aws_s3_bucket.logs", "aws_s3_bucket") is NO_USAGE


def test_no_usage_at_all() -> None:
    for source in (None, "", b"", "# only a comment\n", {}):
        usage = Usage.parse(source)
        assert not usage
        assert usage.for_resource("aws_lambda_function.api", "aws_lambda_function") is NO_USAGE


def test_usage_objects_and_mappings_are_accepted() -> None:
    usage = Usage.parse(USAGE_FILE)
    assert Usage.parse(usage) is usage
    # spec.usage in a CostEstimate is a bare resource_usage mapping
    bare = Usage.parse({"aws_lambda_function.api": {"monthly_requests": "42"}})
    assert _values(bare, "aws_lambda_function.api") == (D(42), None)
    parsed = Usage.parse(
        {"version": "0.1", "resource_usage": {"aws_lambda_function.api": {"monthly_requests": 1}}}
    )
    assert _values(parsed, "aws_lambda_function.api") == (D(1), None)
    assert _values(Usage.parse(USAGE_FILE.encode()), "aws_lambda_function.api") == (D(5000), D(100))


def test_numbers_are_read_exactly() -> None:
    usage = ResourceUsage({"a": 0.1, "b": "2.5", "c": 3, "d": "lots", "e": True, "f": None, "g": "linux"})
    assert (usage.decimal("a"), usage.decimal("b"), usage.decimal("c")) == (D("0.1"), D("2.5"), D(3))
    assert (usage.decimal("d"), usage.decimal("e"), usage.decimal("f"), usage.decimal("missing")) == (
        None,
        None,
        None,
        None,
    )
    assert (usage.text("g"), usage.text("c"), usage.raw("c")) == ("linux", None, 3)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (-1, "usage aws_lambda_function.api.monthly_requests = -1 must not be negative"),
        ("-0.5", "must not be negative"),
        (10**16, "is out of range (at most 1,000,000,000,000,000)"),
        ("1e300", "is out of range"),
    ],
)
def test_negative_and_absurd_quantities_are_usage_errors(value: Any, message: str) -> None:
    usage = Usage.parse({"aws_lambda_function.api": {"monthly_requests": value}})
    with pytest.raises(errors.UsageError) as caught:
        usage.for_resource("aws_lambda_function.api", "aws_lambda_function").decimal("monthly_requests")
    assert message in str(caught.value)


def test_type_default_errors_name_the_default() -> None:
    usage = Usage.parse({"resource_type_default_usage": {"aws_lambda_function": {"monthly_requests": -3}}})
    with pytest.raises(errors.UsageError) as caught:
        usage.for_resource("aws_lambda_function.x", "aws_lambda_function").decimal("monthly_requests")
    assert "resource_type_default_usage.aws_lambda_function.monthly_requests" in str(caught.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("resource_usage: [", "usage file is not valid YAML"),
        (b"a: \x80\x81 bad", "usage file is not valid YAML"),
        ("- a\n- b\n", "usage file must be a mapping with version and resource_usage"),
        ("version: 0.2\nresource_usage: {}\n", "unsupported usage file version '0.2': supported is 0.1"),
        ("version: 0.1\nresource_usage: [1, 2]\n", "resource_usage must be a mapping of resource address"),
        (
            "version: 0.1\nresource_usage:\n  aws_x.y: 5\n",
            "resource_usage.aws_x.y must be a mapping of usage keys",
        ),
        (
            "version: 0.1\nresource_type_default_usage: 3\n",
            "resource_type_default_usage must be a mapping",
        ),
        ("[" * 5000 + "]" * 5000, "usage file"),
        ({"aws_x.y": [1]}, "usage.aws_x.y must be a mapping of usage keys to values"),
        (42, "usage must be a mapping or YAML text, not int"),
    ],
)
def test_bad_usage_files_are_one_line_usage_errors(source: Any, message: str) -> None:
    with pytest.raises(errors.UsageError) as caught:
        Usage.parse(source)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_entries_with_null_values_are_skipped() -> None:
    usage = Usage.parse("version: 0.1\nresource_usage:\n  aws_lambda_function.api:\n")
    assert usage.for_resource("aws_lambda_function.api", "aws_lambda_function") is NO_USAGE


def test_wildcard_patterns_go_from_least_to_most_specific() -> None:
    assert wildcard_patterns("aws_instance.web") == []
    assert wildcard_patterns("aws_instance.web[3]") == ["aws_instance.web[*]"]
    assert wildcard_patterns('module.a["x]y"].aws_instance.web[0]') == [
        "module.a[*].aws_instance.web[*]",
        "module.a[*].aws_instance.web[0]",
        'module.a["x]y"].aws_instance.web[*]',
    ]
    many = "".join(f"module.m{i}[{i}]." for i in range(8)) + "aws_instance.web[9]"
    patterns = wildcard_patterns(many)
    assert len(patterns) == 2  # beyond six indexes: all of them, then only the resource's own
    assert patterns[0].count("[*]") == 9 and patterns[1].count("[*]") == 1


def test_alias_bombs_are_refused_before_anything_expands_them() -> None:
    # Nine levels of nine aliases: a billion leaves if anything expanded it. The estimator's memo did:
    # it serialised the value a pricer read into 2 GB (found by tests/reliability/test_fuzz.py).
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    bomb = "\n".join(lines)
    refused = r"usage file holds more than 500000 values once its YAML aliases are expanded"
    started = time.perf_counter()
    with pytest.raises(errors.UsageError, match=refused):
        Usage.parse(f"{bomb}\nversion: *a9\n")
    with pytest.raises(errors.UsageError, match=refused):
        Usage.parse(
            f"{bomb}\nversion: 0.1\nresource_type_default_usage:\n  aws_s3_bucket: {{standard: *a9}}\n"
        )
    assert time.perf_counter() - started < 2


def test_a_deeply_nested_usage_file_is_refused_at_once() -> None:
    # The pure-Python parser took seconds to give up on this (found by tests/reliability fuzzing).
    started = time.perf_counter()
    with pytest.raises(errors.UsageError, match="usage file is not valid YAML"):
        Usage.parse("[" * 100_000)
    assert time.perf_counter() - started < 0.5


def test_a_usage_file_for_thousands_of_resources_is_within_the_bound() -> None:
    entries = "".join(
        f"  aws_lambda_function.f{i}: {{monthly_requests: {i}, request_duration_ms: 5}}\n"
        for i in range(20_000)
    )
    usage = Usage.parse(f"version: 0.1\nresource_usage:\n{entries}")
    assert (
        usage.for_resource("aws_lambda_function.f19999", "aws_lambda_function").decimal("monthly_requests")
        == 19999
    )

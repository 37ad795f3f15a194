"""Reading plan JSON: what each resource change becomes, and every kind of bad input as a PlanError."""

from __future__ import annotations

import codecs
from typing import Any

import orjson
import pytest

from cloudcostguard import errors
from cloudcostguard.plan.reader import plan_digest, read_plan
from tests.plans import change, plan
from tests.unit.plan.builders import server


def _one(document: dict[str, Any]) -> Any:
    [resource] = read_plan(document).resource_changes
    return resource


# --- actions ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actions", "action", "prices_before", "prices_after"),
    [
        (["create"], "create", False, True),
        (["delete"], "delete", True, False),
        (["update"], "update", True, True),
        (["delete", "create"], "replace", True, True),
        (["create", "delete"], "replace", True, True),
        (["no-op"], "no-op", True, True),
        (["read"], "read", True, True),
        (["forget"], "forget", True, False),
        (["create", "forget"], "replace", True, True),
    ],
)
def test_actions_are_named_and_say_which_sides_are_priced(
    actions: list[str], action: str, prices_before: bool, prices_after: bool
) -> None:
    resource = _one(plan(change("aws_nat_gateway.a", actions, before={}, after={})))
    assert (resource.action, resource.prices_before, resource.prices_after) == (
        action,
        prices_before,
        prices_after,
    )


def test_fields_are_read_from_the_change() -> None:
    document = plan(
        change(
            'module.app["blue"].aws_instance.web[2]',
            ["update"],
            module_address='module.app["blue"]',
            before={"instance_type": "t3.micro"},
            after={"instance_type": "t3.large"},
            after_unknown={"arn": True},
            index=2,
        )
    )
    resource = _one(document)
    assert resource.address == 'module.app["blue"].aws_instance.web[2]'
    assert resource.resource_type == "aws_instance"
    assert resource.name == "web"
    assert resource.module_address == 'module.app["blue"]'
    assert resource.before == {"instance_type": "t3.micro"}
    assert resource.after == {"instance_type": "t3.large"}
    assert resource.after_unknown == {"arn": True}


def test_count_and_for_each_instances_are_separate_resources() -> None:
    document = plan(
        change("aws_nat_gateway.a[0]", ["create"], after={}, index=0),
        change("aws_nat_gateway.a[1]", ["create"], after={}, index=1),
        change('aws_nat_gateway.b["x.y"]', ["create"], after={}, index="x.y"),
    )
    resources = read_plan(document).resource_changes
    assert [r.address for r in resources] == [
        "aws_nat_gateway.a[0]",
        "aws_nat_gateway.a[1]",
        'aws_nat_gateway.b["x.y"]',
    ]
    assert {r.name for r in resources} == {"a", "b"}


def test_name_falls_back_to_the_address_when_missing() -> None:
    item = change('aws_nat_gateway.gw["k"]', ["create"], after={})
    del item["name"]
    assert _one(plan(item)).name == "gw"


def test_data_sources_and_ephemeral_resources_are_ignored() -> None:
    document = plan(
        change("data.aws_ami.ubuntu", ["read"], mode="data", resource_type="aws_ami", after={}),
        change("ephemeral.aws_secret.s", ["open"], mode="ephemeral", resource_type="aws_secret"),
        change("aws_nat_gateway.a", ["create"], after={}),
    )
    assert [r.address for r in read_plan(document).resource_changes] == ["aws_nat_gateway.a"]


def test_missing_after_unknown_reads_as_empty() -> None:
    item = change("aws_nat_gateway.a", ["create"], after={})
    del item["change"]["after_unknown"]
    assert _one(plan(item)).after_unknown == {}


def test_a_plan_without_resource_changes_has_no_resources() -> None:
    document = plan()
    del document["resource_changes"]  # Terraform omits the key when nothing is managed
    assert read_plan(document).resource_changes == []


def test_format_version_0_and_1_are_accepted() -> None:
    assert read_plan(plan(format_version="0.2")).format_version == "0.2"
    assert read_plan(plan(format_version="1.2")).terraform_version == "1.9.5"


def test_bytes_text_and_dict_give_the_same_plan() -> None:
    document = plan(change("aws_nat_gateway.a", ["create"], after=server()))
    raw = orjson.dumps(document)
    from_bytes = read_plan(raw)
    assert read_plan(raw.decode()) == from_bytes
    assert read_plan(bytearray(raw)) == from_bytes
    assert read_plan(document).resource_changes == from_bytes.resource_changes


def test_digest_is_the_sha256_of_the_bytes_given() -> None:
    raw = orjson.dumps(plan())
    assert read_plan(raw).plan_digest == plan_digest(raw)
    assert plan_digest(raw).startswith("sha256:") and len(plan_digest(raw)) == 7 + 64
    # A parsed plan's digest is that of its canonical (sorted-keys) form: key order does not matter.
    document = plan()
    reordered = dict(reversed(list(document.items())))
    assert read_plan(document).plan_digest == read_plan(reordered).plan_digest


def test_byte_order_marks_are_understood() -> None:
    raw = orjson.dumps(plan(change("aws_nat_gateway.a", ["create"], after={})))
    expected = read_plan(raw).resource_changes
    assert read_plan(codecs.BOM_UTF8 + raw).resource_changes == expected
    # Windows PowerShell's `terraform show -json > plan.json` writes UTF-16 with a BOM.
    utf16 = codecs.BOM_UTF16_LE + raw.decode().encode("utf-16-le")
    assert read_plan(utf16).resource_changes == expected


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (b"", "plan is empty"),
        (b"  \n\t ", "plan is empty"),
        (b"not json", "plan is not valid JSON"),
        (b'{"format_version": "1.2", "resource_changes": [', "plan is not valid JSON"),
        (b"\x00\xff\xfe garbage \x80", "plan is not valid JSON"),
        (b"[1, 2, 3]", "plan must be a JSON object, not a list"),
        (b'"a string"', "plan must be a JSON object, not a string"),
        (b"42", "plan must be a JSON object, not a number"),
        (b"null", "plan must be a JSON object, not null"),
        (b"{}", "not a Terraform plan: no format_version"),
        (b'{"format_version": 1.2}', "not a Terraform plan: no format_version"),
        (b'{"format_version": "2.0", "resource_changes": []}', "unsupported plan format_version '2.0'"),
        (b'{"format_version": "1.0"}', "not a Terraform plan: it has no resource_changes"),
        (b'{"format_version": "1.0", "values": {}}', "this is Terraform state, not a plan"),
        (
            b'{"format_version": "1.2", "resource_changes": [], "errored": true}',
            "terraform reported errors while planning",
        ),
        (
            b'{"format_version": "1.2", "resource_changes": {}}',
            "resource_changes must be a list, not an object",
        ),
        (b'{"format_version": "1.2", "resource_changes": [1]}', "resource_changes[0] must be an object"),
        (
            b'{"format_version": "1.2", "resource_changes": [{"address": 1, "type": "aws_vpc"}]}',
            "resource_changes[0] needs non-empty string 'address' and 'type'",
        ),
        (b"[" * 2000 + b"]" * 2000, "plan nests values deeper than 1024 levels"),
        (b"1e400", "plan is not valid JSON"),
    ],
)
def test_bad_plans_are_one_line_plan_errors(source: bytes, message: str) -> None:
    with pytest.raises(errors.PlanError) as caught:
        read_plan(source)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.update(mode="bogus"), "aws_nat_gateway.a: unknown mode 'bogus'"),
        (lambda c: c.update(mode=[[1]]), "aws_nat_gateway.a: unknown mode a list"),
        (lambda c: c.update(change="create"), "aws_nat_gateway.a: 'change' must be an object"),
        (lambda c: c["change"].update(actions="create"), "change.actions must be a list of strings"),
        (lambda c: c["change"].update(actions=[{"a": 1}]), "change.actions must be a list of strings"),
        (lambda c: c["change"].update(actions=["create", 1]), "change.actions must be a list of strings"),
        (lambda c: c["change"].update(actions=["explode"]), "unknown change.actions ['explode']"),
        (lambda c: c["change"].update(actions=[]), "unknown change.actions []"),
        (lambda c: c["change"].update(actions=["create"] * 9), "unknown change.actions ['create', "),
        (lambda c: c["change"].update(after=[1]), "change.after must be an object or null"),
        (lambda c: c["change"].update(before="x"), "change.before must be an object or null"),
    ],
)
def test_wrong_field_types_name_the_resource(mutate: Any, message: str) -> None:
    item = change("aws_nat_gateway.a", ["create"], after={})
    mutate(item)
    with pytest.raises(errors.PlanError) as caught:
        read_plan(plan(item))
    assert message in str(caught.value)


def test_error_messages_quote_hostile_values_briefly() -> None:
    item = change("aws_nat_gateway.a", ["x" * 10_000])
    with pytest.raises(errors.PlanError) as caught:
        read_plan(plan(item))
    assert len(str(caught.value)) < 300


def test_deep_but_allowed_nesting_is_read() -> None:
    # 1,000 levels inside an attribute: legal JSON within orjson's limit; nothing here recurses over it.
    deep = b"[" * 1000 + b'"leaf"' + b"]" * 1000
    raw = (
        b'{"format_version": "1.2", "resource_changes": [{"address": "aws_nat_gateway.a", '
        b'"type": "aws_nat_gateway", "change": {"actions": ["create"], "after": {"tags": ' + deep + b"}}}]}"
    )
    [resource] = read_plan(raw).resource_changes
    assert resource.address == "aws_nat_gateway.a"
    assert isinstance(resource.after, dict) and isinstance(resource.after["tags"], list)


def test_size_limit_applies_to_bytes_text_and_dicts() -> None:
    raw = orjson.dumps(plan(change("aws_nat_gateway.a", ["create"], after={})))
    for source in (raw, raw.decode(), orjson.loads(raw)):
        with pytest.raises(errors.PlanTooLargeError) as caught:
            read_plan(source, max_bytes=100)
        assert "larger than the limit of 100 bytes" in str(caught.value)
        assert caught.value.reason == "PlanTooLarge"
    assert read_plan(raw, max_bytes=len(raw)).resource_changes


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("\ud800{}", "plan text is not valid Unicode"),
        ({"format_version": "1.2", "x": {1, 2}}, "plan is not JSON-serialisable"),
        (12, "plan must be bytes, str or a dict, not int"),
        (None, "plan must be bytes, str or a dict, not NoneType"),
    ],
)
def test_unusable_python_values_are_plan_errors(source: Any, message: str) -> None:
    with pytest.raises(errors.PlanError) as caught:
        read_plan(source)
    assert message in str(caught.value)


def test_utf16_bom_without_utf16_is_an_error() -> None:
    with pytest.raises(errors.PlanError) as caught:
        read_plan(codecs.BOM_UTF16_LE + b"{")
    assert "UTF-16" in str(caught.value)

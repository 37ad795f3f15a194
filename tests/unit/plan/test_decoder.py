"""The typed plan decoder keeps exactly what the estimator reads, and gives way when a plan does not fit.

The reader uses it from ``TYPED_DECODE_BYTES`` on; these tests lower that to 0, so that every plan
here takes the typed path, except where a test says which path it compares.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import msgspec
import orjson
import pytest

import cloudcostguard
from cloudcostguard import errors
from cloudcostguard.estimation.estimator import estimate_plan
from cloudcostguard.plan import reader
from cloudcostguard.plan.decoder import Change, Entry, decode_plan
from cloudcostguard.plan.model import Plan
from cloudcostguard.plan.reader import read_plan
from cloudcostguard.pricing.snapshot import load_bundled_catalog

FIXTURES = Path(__file__).parents[2] / "fixtures" / "infracost"
PLANS = sorted(FIXTURES.glob("*/plan.json"))
# Every plan fixture: Infracost's, our Terraform ones and the tofu-controller's.
ALL_PLANS = sorted((Path(__file__).parents[2] / "fixtures").glob("**/plan.json"))


@pytest.fixture(autouse=True)
def _typed_decoder(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(reader, "TYPED_DECODE_BYTES", 0)
    yield


def _read(raw: bytes, *, typed: bool) -> Plan:
    """``read_plan`` by the typed decoder, or by orjson alone (the small-plan path of a process that has
    not loaded the typed decoder: this one has)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reader, "TYPED_DECODE_BYTES", 0 if typed else 1 << 62)
        if not typed:
            patch.setattr(reader, "_TYPED_DECODER", "cloudcostguard.plan.not_loaded")
        return read_plan(raw)


@pytest.mark.parametrize("path", ALL_PLANS, ids=[str(p.parent.relative_to(p.parents[2])) for p in ALL_PLANS])
def test_both_paths_read_every_fixture_alike(path: Path) -> None:
    raw = path.read_bytes()
    assert decode_plan(raw) is not None  # the typed path is really taken
    typed, untyped = _read(raw, typed=True), _read(raw, typed=False)
    assert typed == untyped  # the changes (values, regions), the versions and the digest
    # And priced alike: the configuration's references (not part of equality) included.
    catalog = load_bundled_catalog()
    assert estimate_plan(typed, catalog).to_dict() == estimate_plan(untyped, catalog).to_dict()


def test_integers_beyond_64_bits_stay_exact_on_a_small_plan() -> None:
    raw = (
        b'{"format_version":"1.2","resource_changes":[{"address":"aws_eip.a","type":"aws_eip",'
        b'"change":{"actions":["create"],"after":{"big":123456789012345678901234567890,'
        b'"negative":-9223372036854775809,"id":"i-0"}}}]}'
    )
    assert isinstance(orjson.loads(raw)["resource_changes"][0]["change"]["after"]["big"], float)
    for typed in (True, False):
        [change] = _read(raw, typed=typed).resource_changes
        assert change.after == {
            "big": 123456789012345678901234567890,
            "negative": -9223372036854775809,
            "id": "i-0",
        }


def test_a_small_plan_takes_the_typed_decoder_once_it_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the reader's own threshold, not this module's 0
    raw = orjson.dumps({"format_version": "1.2", "resource_changes": [_change()]})
    assert len(raw) < reader.TYPED_DECODE_BYTES
    decoded: list[bytes] = []

    def counting(raw: bytes) -> dict[str, object] | None:
        decoded.append(raw)
        return decode_plan(raw)

    monkeypatch.setattr("cloudcostguard.plan.decoder.decode_plan", counting)
    [change] = read_plan(raw).resource_changes
    assert decoded == [raw] and change.address == "aws_eip.a"


def test_a_small_plan_is_read_without_msgspec() -> None:
    probe = (
        "import sys; from cloudcostguard.plan.reader import read_plan; "
        f"plan = read_plan({orjson.dumps({'format_version': '1.2', 'resource_changes': [_change()]})!r}); "
        "print(len(plan.resource_changes), 'msgspec' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=60, check=True)
    assert result.stdout.split() == [b"1", b"False"]


def test_only_the_fields_the_estimator_reads_are_decoded() -> None:
    raw = orjson.dumps(
        {
            "format_version": "1.2",
            "planned_values": {"root_module": {"resources": [{"values": {"big": "x" * 100}}]}},
            "prior_state": {"values": {}},
            "resource_changes": [
                {
                    "address": "aws_eip.a",
                    "type": "aws_eip",
                    "name": "a",
                    "provider_name": "registry.terraform.io/hashicorp/aws",
                    "change": {
                        "actions": ["create"],
                        "before": None,
                        "after": {"domain": "vpc"},
                        "after_unknown": {"id": True},
                        "after_sensitive": {},
                        "before_sensitive": False,
                    },
                }
            ],
        }
    )
    document = decode_plan(raw)
    assert document is not None
    assert set(document) == {"format_version", "planned_values", "resource_changes"}
    assert isinstance(document["planned_values"], msgspec.Raw)
    assert document["resource_changes"] == [
        Entry(
            address="aws_eip.a",
            type="aws_eip",
            name="a",
            change=Change(
                actions=["create"], before=None, after={"domain": "vpc"}, after_unknown={"id": True}
            ),
        )
    ]


def _held_eip_plan(configuration_resources: object) -> bytes:
    """An Elastic IP and a NAT gateway that holds it by reference (the EIP is then free)."""
    changes = [
        {
            "address": address,
            "type": address.split(".")[0],
            "name": address.split(".")[1],
            "change": {"actions": ["create"], "before": None, "after": after, "after_unknown": {}},
        }
        for address, after in (("aws_eip.nat", {"domain": "vpc"}), ("aws_nat_gateway.gw", {}))
    ]
    return orjson.dumps(
        {
            "format_version": "1.2",
            "resource_changes": changes,
            "configuration": {"root_module": {"resources": configuration_resources}},
        }
    )


HELD = [
    {"address": "aws_eip.nat", "mode": "managed", "type": "aws_eip", "name": "nat", "expressions": {}},
    {
        "address": "aws_nat_gateway.gw",
        "mode": "managed",
        "type": "aws_nat_gateway",
        "name": "gw",
        "count_expression": {"constant_value": 1},
        "expressions": {
            "allocation_id": {"references": ["aws_eip.nat.id", "aws_eip.nat"]},
            "connectivity_type": {"constant_value": "public"},
        },
    },
]


def test_configuration_expressions_stay_raw_until_a_pricer_asks_and_answer_alike() -> None:
    raw = _held_eip_plan(HELD)
    document = decode_plan(raw)
    assert document is not None
    gateway = document["configuration"]["root_module"]["resources"][1]
    assert set(gateway) == {"address", "mode", "type", "name", "expressions"}  # count_expression: unread
    assert isinstance(gateway["expressions"], msgspec.Raw)
    typed, untyped = _read(raw, typed=True), _read(raw, typed=False)
    assert typed.references is not None and untyped.references is not None
    assert typed.references.referencing("aws_eip.nat", ["aws_nat_gateway"]) == (
        untyped.references.referencing("aws_eip.nat", ["aws_nat_gateway"])
    )
    [reference] = typed.references.referenced_from("aws_nat_gateway.gw", "allocation_id")
    assert reference.target == "aws_eip.nat"
    catalog = load_bundled_catalog()
    priced = estimate_plan(typed, catalog).to_dict()
    assert priced == estimate_plan(untyped, catalog).to_dict()
    [eip] = [r for r in priced["resources"] if r["resourceType"] == "aws_eip"]
    assert eip["costComponents"] == []  # held by the gateway: free


def test_a_configuration_that_does_not_fit_is_read_by_the_full_parser() -> None:
    raw = _held_eip_plan([1, *HELD])  # a resource that is not an object: skipped by the reader
    assert decode_plan(raw) is None
    catalog = load_bundled_catalog()
    priced = estimate_plan(read_plan(raw), catalog).to_dict()
    [eip] = [r for r in priced["resources"] if r["resourceType"] == "aws_eip"]
    assert eip["costComponents"] == []


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b'"plan"',
        b'{"resource_changes": {}}',
        b'{"resource_changes": [1]}',
        b'{"resource_changes": [{"change": "x"}]}',
        b"{",
        b"[" * 5000,
    ],
    ids=[
        "list",
        "string",
        "changes not a list",
        "change item not an object",
        "change not an object",
        "truncated",
        "deep",
    ],
)
def test_what_does_not_fit_is_left_to_the_full_parser(raw: bytes) -> None:
    assert decode_plan(raw) is None


@pytest.mark.parametrize("path", PLANS, ids=[p.parent.name for p in PLANS])
def test_decoded_plans_read_and_price_like_fully_parsed_ones(path: Path) -> None:
    raw = path.read_bytes()
    full = orjson.loads(raw)
    decoded = read_plan(raw)
    parsed = read_plan(full, digest=False)
    assert decoded.resource_changes == parsed.resource_changes
    assert decoded.plan_digest == "sha256:" + hashlib.sha256(raw).hexdigest()
    as_bytes = cloudcostguard.estimate(raw).to_dict()
    as_dict = cloudcostguard.estimate(full, plan_digest=False).to_dict()
    assert {**as_bytes, "planDigest": ""} == as_dict


def _change(**fields: object) -> dict[str, object]:
    entry: dict[str, object] = {
        "address": "aws_eip.a",
        "type": "aws_eip",
        "name": "a",
        "change": {"actions": ["create"], "before": None, "after": {"domain": "vpc"}},
    }
    entry.update(fields)
    return entry


@pytest.mark.parametrize(
    "entry",
    [
        _change(address=5),
        _change(address=""),
        _change(type=""),
        _change(mode=None),
        _change(mode="imaginary"),
        _change(mode="data"),
        _change(name=7, module_address=3),
        _change(change="x"),
        _change(change={"actions": ["create", 1]}),
        _change(change={"actions": ["create", "create"]}),
        _change(change={"actions": ["create", "delete", "create"]}),
        _change(change={"actions": "create"}),
        _change(change={"actions": ["delete"], "before": [1]}),
        _change(change={"actions": ["create"], "after": "x"}),
        _change(change={"actions": ["create"], "after": {"region": "eu-west-1"}, "after_unknown": [1]}),
    ],
)
def test_typed_and_untyped_entries_read_alike(entry: dict[str, object]) -> None:
    """The typed path (bytes) and the dict path give the same resource change or the same error."""
    document = {"format_version": "1.2", "resource_changes": [_change(address="aws_eip.b"), entry]}

    def outcome(source: object) -> object:
        try:
            return read_plan(source, digest=False).resource_changes  # type: ignore[arg-type]
        except errors.PlanError as err:
            return str(err)

    assert outcome(orjson.dumps(document)) == outcome(document)

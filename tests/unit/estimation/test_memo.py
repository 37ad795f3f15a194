"""The priced-side memo gives exactly what pricing afresh gives: a wrong hit would be a wrong price."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

import cloudcostguard
from cloudcostguard.estimation import memo
from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.estimator import estimate_plan
from cloudcostguard.estimation.usage import ResourceUsage, Usage
from cloudcostguard.plan.reader import read_plan
from cloudcostguard.pricing.catalog import InMemoryCatalog
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from tests.unit.estimation.test_estimator_properties import (
    PROPERTY_SETTINGS,
    attribute_values,
    plans,
    resource_changes,
    usages,
)

AS_OF = date(2026, 6, 1)
FIXTURES = Path(__file__).parents[2] / "fixtures" / "infracost"


def _outcome(plan: Any, usage: Any, catalog: InMemoryCatalog, *, memoise: bool) -> Any:
    """The estimate's document, or the project error's type and message."""
    try:
        read = read_plan(copy.deepcopy(plan))
        estimate = estimate_plan(read, catalog, Usage.parse(usage), as_of=AS_OF, memoise=memoise)
    except cloudcostguard.CloudCostGuardError as err:
        return (type(err).__name__, str(err))
    return estimate.to_dict()


def _fresh_catalog() -> InMemoryCatalog:
    """The bundled prices in a catalog object of the test's own: its memo starts empty."""
    bundled = load_bundled_catalog()
    return InMemoryCatalog(bundled.records(), source=bundled.source, version=bundled.version)


@pytest.fixture(autouse=True)
def _record_from_the_first_side(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests' plans are small: without this, most of their sides would be priced plainly
    (``RECORD_AFTER``, ``RECORD_IN_PLAN_FROM``) and the memo they check would stay empty."""
    monkeypatch.setattr(memo, "RECORD_AFTER", 1)
    monkeypatch.setattr(memo, "RECORD_IN_PLAN_FROM", 0)


SHARED = _fresh_catalog()  # one memo across every example: later plans hit what earlier ones priced


@st.composite
def repetitive_plans(draw: st.DrawFn) -> dict[str, Any]:
    """Plans whose resources repeat one another's values under other addresses and actions, so that
    most sides are memo hits — and some differ in a single read value, so that near misses are tried."""
    plan = draw(plans)
    changes = plan["resource_changes"]
    for item in list(changes):
        for copy_number in range(draw(st.integers(0, 3))):
            twin = copy.deepcopy(item)
            twin["address"] = f"{item['address']}_twin{copy_number}"
            twin["name"] = f"{item.get('name', 'x')}_twin{copy_number}"
            change = twin["change"]
            if draw(st.booleans()):
                change["actions"] = draw(st.sampled_from([["create"], ["update"], ["no-op"]]))
            after = change.get("after")
            if isinstance(after, dict) and after and draw(st.booleans()):
                # A near miss: one value changed, to another plausible one.
                key = draw(st.sampled_from(sorted(after)))
                after[key] = draw(
                    st.one_of(attribute_values, st.sampled_from([1, 2, 100, 500, "gp3", "io1"]))
                )
            changes.append(twin)
    changes.extend(draw(st.lists(resource_changes(), max_size=3)))
    return plan


def _fixture_changes() -> list[dict[str, Any]]:
    changes = []
    for path in sorted(FIXTURES.glob("*/plan.json")):
        for item in orjson.loads(path.read_bytes()).get("resource_changes", []):
            if item.get("mode") == "managed" and isinstance(item.get("change", {}).get("after"), dict):
                changes.append(item)
    return changes


FIXTURE_CHANGES = _fixture_changes()
NEAR_VALUES = st.one_of(
    st.sampled_from([0, 1, 2, 3, 10, 100, 500, 1000, 1.5, True, False, None, "", "gp3", "io1", "io2"]),
    attribute_values,
)


@st.composite
def realistic_plans(draw: st.DrawFn) -> dict[str, Any]:
    """Resources of the Infracost fixture plans (realistic values for every priced type), each repeated
    with one value changed at a time: hits and near misses on the pricers' real inputs."""
    changes = []
    for number, item in enumerate(draw(st.lists(st.sampled_from(FIXTURE_CHANGES), min_size=1, max_size=8))):
        for variant in range(draw(st.integers(1, 4))):
            twin = copy.deepcopy(item)
            twin["address"] = f"{item['type']}.r{number}_{variant}"
            twin["name"] = f"r{number}_{variant}"
            twin.pop("module_address", None)
            after = twin["change"]["after"]
            if variant and after:
                key = draw(st.sampled_from(sorted(after)))
                value = after[key]
                if isinstance(value, list) and value and isinstance(value[0], dict) and value[0]:
                    inner = draw(st.sampled_from(sorted(value[0])))
                    value[0][inner] = draw(NEAR_VALUES)
                else:
                    after[key] = draw(NEAR_VALUES)
            changes.append(twin)
    return {"format_version": "1.2", "resource_changes": changes}


@PROPERTY_SETTINGS
@given(realistic_plans(), usages)
def test_memoised_estimates_equal_fresh_ones_on_realistic_plans(plan: dict[str, Any], usage: Any) -> None:
    fresh = _outcome(plan, usage, _fresh_catalog(), memoise=False)
    assert _outcome(plan, usage, SHARED, memoise=True) == fresh
    assert _outcome(plan, usage, SHARED, memoise=True) == fresh


@PROPERTY_SETTINGS
@given(repetitive_plans(), usages)
def test_memoised_estimates_equal_fresh_ones_on_random_plans(plan: dict[str, Any], usage: Any) -> None:
    fresh = _outcome(plan, usage, _fresh_catalog(), memoise=False)
    assert _outcome(plan, usage, SHARED, memoise=True) == fresh
    assert _outcome(plan, usage, SHARED, memoise=True) == fresh  # now every side can hit


@pytest.mark.parametrize("folder", sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
def test_memoised_golden_plans_equal_fresh_ones(folder: str) -> None:
    plan = orjson.loads((FIXTURES / folder / "plan.json").read_bytes())
    usage_file = FIXTURES / folder / "usage.yml"
    usage = usage_file.read_text() if usage_file.exists() else None
    catalog = _fresh_catalog()
    fresh = _outcome(plan, usage, catalog, memoise=False)
    assert _outcome(plan, usage, catalog, memoise=True) == fresh
    assert _outcome(plan, usage, catalog, memoise=True) == fresh


def _instance(instance_type: str, size: int) -> dict[str, Any]:
    return {
        "address": f"aws_instance.web_{instance_type}_{size}",
        "mode": "managed",
        "type": "aws_instance",
        "name": f"web_{instance_type}_{size}".replace(".", "_"),
        "change": {
            "actions": ["create"],
            "before": None,
            "after": {
                "instance_type": instance_type,
                "root_block_device": [{"volume_size": size, "volume_type": "gp3"}],
            },
            "after_unknown": {},
        },
    }


def _plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": "1.2", "resource_changes": list(changes)}


def test_a_repeated_side_is_priced_once_and_a_differing_read_value_is_priced_again() -> None:
    catalog = _fresh_catalog()
    plan = _plan(_instance("m5.large", 20), _instance("m5.large", 20), _instance("m5.large", 50))
    estimate = cloudcostguard.estimate(plan, catalog=catalog, as_of=AS_OF)
    side_memo = memo.memo_for(catalog, Decimal(730), AS_OF, True)
    assert side_memo is not None and len(side_memo) == 2  # the twin hit; the 50 GB root volume did not
    first, twin, bigger = estimate.resources
    assert first.components == twin.components and first.monthly_cost == twin.monthly_cost
    assert bigger.monthly_cost > first.monthly_cost


def test_integers_floats_and_booleans_are_different_inputs() -> None:
    catalog = _fresh_catalog()

    def lambda_function(memory: Any) -> dict[str, Any]:
        return {
            "address": f"aws_lambda_function.f{len(str(memory))}{type(memory).__name__}",
            "mode": "managed",
            "type": "aws_lambda_function",
            "name": "f",
            "change": {"actions": ["create"], "before": None, "after": {"memory_size": memory}},
        }

    for plan in (_plan(lambda_function(1024)), _plan(lambda_function(1024.5)), _plan(lambda_function(True))):
        memoised = _outcome(plan, {"lambda_function": {}}, catalog, memoise=True)
        assert memoised == _outcome(plan, {"lambda_function": {}}, _fresh_catalog(), memoise=False)


def test_a_side_that_asks_the_plan_where_it_sits_is_not_remembered() -> None:
    catalog = _fresh_catalog()
    eip = {
        "address": "aws_eip.nat",
        "mode": "managed",
        "type": "aws_eip",
        "name": "nat",
        "change": {"actions": ["create"], "before": None, "after": {"domain": "vpc"}},
    }
    nat = {
        "address": "aws_nat_gateway.main",
        "mode": "managed",
        "type": "aws_nat_gateway",
        "name": "main",
        "change": {"actions": ["create"], "before": None, "after": {"connectivity_type": "public"}},
    }
    plan = _plan(eip, nat)
    plan["configuration"] = {
        "root_module": {
            "resources": [
                {
                    "address": "aws_nat_gateway.main",
                    "mode": "managed",
                    "type": "aws_nat_gateway",
                    "name": "main",
                    "expressions": {"allocation_id": {"references": ["aws_eip.nat.id", "aws_eip.nat"]}},
                }
            ]
        }
    }
    held = _outcome(plan, None, catalog, memoise=True)
    free_standing = _outcome(_plan(eip), None, catalog, memoise=True)
    assert held == _outcome(plan, None, _fresh_catalog(), memoise=False)
    assert free_standing == _outcome(_plan(eip), None, _fresh_catalog(), memoise=False)
    assert held["resources"][0]["monthlyCost"] != free_standing["resources"][0]["monthlyCost"]


def test_every_read_method_has_a_recording_twin() -> None:
    for base, recording in ((Attributes, memo.RecordingAttributes), (ResourceUsage, memo.RecordingUsage)):
        public = {
            name for name, member in vars(base).items() if callable(member) and not name.startswith("_")
        }
        assert public <= set(vars(recording)), public - set(vars(recording))

    class Wider(Attributes):
        def first_of(self, name: str) -> Any:
            return self.raw(name)

    with pytest.raises(TypeError, match=r"does not record Wider\.first_of"):
        memo._check_recorded(Wider, memo.RecordingAttributes)


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "MAX_RESULTS", 3)
    catalog = _fresh_catalog()
    plan = _plan(*(_instance("m5.large", size) for size in (10, 20, 30, 40, 50)))
    cloudcostguard.estimate(plan, catalog=catalog, as_of=AS_OF)
    side_memo = memo.memo_for(catalog, Decimal(730), AS_OF, True)
    assert side_memo is not None and len(side_memo) == 3


def test_estimate_keys_tell_json_types_apart_and_refuse_values_without_one_serialisation() -> None:
    keys = {memo.json_key({"size": value}) for value in (1, 1.0, True, "1", None)}
    assert len(keys) == 5 and None not in keys
    assert memo.json_key({"size": 1}) == memo.json_key({"size": 1})
    assert memo.json_key({"when": date(2026, 1, 1)}) is None  # would read like the string "2026-01-01"


def test_remembered_estimates_are_made_once_per_key_and_errors_are_not_remembered() -> None:
    remembered = memo.EstimateMemo()
    plan = _plan(_instance("m5.large", 20))
    made: list[int] = []

    def make() -> Any:
        made.append(1)
        return cloudcostguard.estimate(plan, as_of=AS_OF)

    key = memo.json_key(plan)
    first = remembered.estimate(key, make)
    assert remembered.estimate(key, make) is first and len(made) == 1
    remembered.estimate(None, make)
    assert len(made) == 2  # no key, no memo

    def failing() -> Any:
        raise cloudcostguard.CloudCostGuardError("bad plan")

    for _ in range(2):
        with pytest.raises(cloudcostguard.CloudCostGuardError):
            remembered.estimate(b"other", failing)
    assert len(remembered) == 1


def test_remembered_estimates_are_bounded_by_their_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "MAX_ESTIMATE_RESOURCES", 3)
    remembered = memo.EstimateMemo()
    for size in (10, 20):  # two resources each: the second pushes the first out
        plan = _plan(_instance("m5.large", size), _instance("m5.large", size + 1))
        remembered.estimate(memo.json_key(plan), lambda plan=plan: cloudcostguard.estimate(plan, as_of=AS_OF))
    assert len(remembered) == 1
    big = _plan(*(_instance("m5.large", size) for size in range(30, 34)))  # four: never remembered
    remembered.estimate(memo.json_key(big), lambda: cloudcostguard.estimate(big, as_of=AS_OF))
    assert len(remembered) == 1


def test_a_type_whose_sides_never_repeat_is_priced_plainly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "GIVE_UP_AFTER_MISSES", 4)
    catalog = _fresh_catalog()
    plan = _plan(*(_instance("m5.large", size) for size in range(10, 20)))  # ten different root volumes
    memoised = _outcome(plan, None, catalog, memoise=True)
    assert memoised == _outcome(plan, None, _fresh_catalog(), memoise=False)
    side_memo = memo.memo_for(catalog, Decimal(730), AS_OF, True)
    assert side_memo is not None and not side_memo.remembers("aws_instance", "us-east-1")
    assert len(side_memo) == 4  # remembered until it gave up
    assert side_memo.remembers("aws_lambda_function", "us-east-1")


def test_a_given_up_type_is_tried_again_after_enough_plain_sides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memo, "GIVE_UP_AFTER_MISSES", 4)
    monkeypatch.setattr(memo, "RETRY_AFTER", 3)
    catalog = _fresh_catalog()
    distinct = _plan(*(_instance("m5.large", size) for size in range(10, 14)))  # gives up at the fourth
    _outcome(distinct, None, catalog, memoise=True)
    side_memo = memo.memo_for(catalog, Decimal(730), AS_OF, True)
    assert side_memo is not None and len(side_memo) == 4
    # Now the same side again and again: three of them priced plainly, then recorded and hit again.
    repeated = _plan(*(_instance("m5.large", 30) for _ in range(6)))
    assert _outcome(repeated, None, catalog, memoise=True) == _outcome(
        repeated, None, _fresh_catalog(), memoise=False
    )
    assert len(side_memo) == 5  # the repeated side was remembered once it was tried again
    assert side_memo.remembers("aws_instance", "us-east-1")


def test_a_type_with_few_sides_is_recorded_only_once_enough_were_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memo, "RECORD_AFTER", 3)
    catalog = _fresh_catalog()
    twins = _plan(_instance("m5.large", 20), _instance("m5.large", 20))
    assert _outcome(twins, None, catalog, memoise=True) == _outcome(
        twins, None, _fresh_catalog(), memoise=False
    )
    side_memo = memo.memo_for(catalog, Decimal(730), AS_OF, True)
    assert side_memo is not None and len(side_memo) == 0  # two sides of the type: priced plainly
    _outcome(twins, None, catalog, memoise=True)  # seen twice before: still fewer than three
    assert len(side_memo) == 0
    _outcome(twins, None, catalog, memoise=True)  # four seen by earlier estimates: recorded
    assert len(side_memo) == 1
    three = _plan(*(_instance("m5.large", 20 + size) for size in range(3)))
    fresh = _fresh_catalog()
    _outcome(three, None, fresh, memoise=True)  # three sides in the plan: recorded from the first
    fresh_memo = memo.memo_for(fresh, Decimal(730), AS_OF, True)
    assert fresh_memo is not None and len(fresh_memo) == 3


def test_a_small_plan_records_nothing_from_its_own_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    """Below RECORD_IN_PLAN_FROM changes a plan's repeats do not pay for recording: its sides are
    priced plainly, and recorded in later estimates once the memo has seen enough of them."""
    monkeypatch.setattr(memo, "RECORD_AFTER", 3)
    monkeypatch.setattr(memo, "RECORD_IN_PLAN_FROM", 5)
    small = _plan(*(_instance("m5.large", 20) for _ in range(4)))
    large = _plan(*(_instance("m5.large", 20) for _ in range(5)))
    catalog = _fresh_catalog()
    plain = _outcome(small, None, _fresh_catalog(), memoise=False)
    assert _outcome(small, None, catalog, memoise=True) == plain
    side_memo = memo.memo_for(catalog, Decimal(730), AS_OF, True)
    assert side_memo is not None and len(side_memo) == 0
    assert _outcome(small, None, catalog, memoise=True) == plain  # four seen before: recorded now
    assert len(side_memo) == 1
    recorded = _fresh_catalog()
    _outcome(large, None, recorded, memoise=True)
    large_memo = memo.memo_for(recorded, Decimal(730), AS_OF, True)
    assert large_memo is not None and len(large_memo) == 1


def test_tables_that_differ_only_by_name_share_one_priced_side_when_nothing_scales_them() -> None:
    """The table's name is only read to match an autoscaling target: in a plan without targets it
    is not read, so it is no part of the key, and the second table hits."""

    def table(name: str) -> dict[str, Any]:
        return {
            "address": f"aws_dynamodb_table.{name}",
            "mode": "managed",
            "type": "aws_dynamodb_table",
            "name": name,
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {
                    "name": name,
                    "billing_mode": "PROVISIONED",
                    "read_capacity": 5,
                    "write_capacity": 5,
                },
            },
        }

    catalog = _fresh_catalog()
    plan = _plan(table("orders"), table("users"))
    assert _outcome(plan, None, catalog, memoise=True) == _outcome(
        plan, None, _fresh_catalog(), memoise=False
    )
    side_memo = memo.memo_for(catalog, Decimal(730), AS_OF, True)
    assert side_memo is not None and len(side_memo) == 1


def test_plan_side_decides_plain_lookup_or_record_in_one_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(memo, "RECORD_AFTER", 3)
    monkeypatch.setattr(memo, "GIVE_UP_AFTER_MISSES", 4)
    side_memo = memo.SideMemo()
    # No schema: a lookup could not hit. A few sides in the plan are priced plainly until earlier
    # estimates showed the memo RECORD_AFTER of them; many sides in the plan are recorded from the first.
    assert [side_memo.plan_side("aws_instance", "us-east-1", 2) for _ in range(3)] == [memo.PLAIN] * 3
    side_memo.note_sides({("aws_instance", "us-east-1"): 2})
    assert side_memo.plan_side("aws_instance", "us-east-1", 2) == memo.PLAIN  # two seen
    side_memo.note_sides({("aws_instance", "us-east-1"): 1, ("aws_lambda_function", "us-west-2"): 3})
    assert side_memo.plan_side("aws_instance", "us-east-1", 0) == memo.RECORD  # three seen
    assert side_memo.plan_side("aws_lambda_function", "us-east-1", 3) == memo.RECORD  # three in the plan
    assert side_memo.plan_side("aws_lambda_function", "us-west-2", 0) == memo.RECORD
    # Once a (type, region) has a schema, its sides are looked up (and recorded on a miss).
    catalog = _fresh_catalog()
    plan = _plan(*(_instance("m5.large", size) for size in range(10, 14)))  # four distinct: gives up
    _outcome(plan, None, catalog, memoise=True)
    priced = memo.memo_for(catalog, Decimal(730), AS_OF, True)
    assert priced is not None
    assert priced.plan_side("aws_instance", "us-east-1", 1) == memo.PLAIN  # given up
    assert not priced.remembers("aws_instance", "us-east-1")  # (and still counting down)
    recorded = _fresh_catalog()
    _outcome(
        _plan(_instance("m5.large", 20), _instance("m5.large", 20), _instance("m5.large", 20)),
        None,
        recorded,
        memoise=True,
    )
    fresh = memo.memo_for(recorded, Decimal(730), AS_OF, True)
    assert fresh is not None and len(fresh) == 1
    assert fresh.plan_side("aws_instance", "us-east-1", 1) == memo.LOOKUP

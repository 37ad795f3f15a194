"""Forgiving attribute reads: pricers get None (or their default) for missing, unknown or odd values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cloudcostguard.estimation.attributes import MAX_MAGNITUDE, Attributes, parse_decimal, to_decimal

D = Decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (8, D(8)),
        (0.1, D("0.1")),  # the shortest round-trip form, not the binary expansion
        ("2.50", D("2.50")),
        (" 7 ", D(7)),
        (True, None),
        (None, None),
        ("lots", None),
        ("NaN", None),
        ("Infinity", None),
        (float("inf"), None),
        ([1], None),
        (10**15, MAX_MAGNITUDE),
        (10**15 + 1, None),  # beyond any real quantity
        (-(10**16), None),
        ("1e300", None),
        ("9" * 101, None),  # too long to be an honest number
    ],
)
def test_to_decimal(value: Any, expected: Decimal | None) -> None:
    assert to_decimal(value) == expected


def test_parse_decimal_has_no_magnitude_bound() -> None:
    assert parse_decimal("1e300") == D("1e300")
    assert parse_decimal(10**20) == D(10**20)


def test_typed_reads() -> None:
    attrs = Attributes(
        {
            "size": 20,
            "ratio": 0.5,
            "name": "db",
            "empty": "",
            "on": True,
            "count": 3.0,
            "big": 10**16,
            "list": [1],
        },
    )
    assert (attrs.decimal("size"), attrs.decimal("ratio"), attrs.decimal("name")) == (D(20), D("0.5"), None)
    assert attrs.decimal("big", D(1)) == D(1)
    assert attrs.decimal("missing", D(8)) == D(8)
    assert (attrs.text("name"), attrs.text("empty"), attrs.text("size", "x")) == ("db", None, "x")
    assert (attrs.flag("on"), attrs.flag("size"), attrs.flag("missing", False)) == (True, None, False)
    assert (attrs.integer("count"), attrs.integer("on"), attrs.integer("ratio"), attrs.integer("big")) == (
        3,
        None,
        None,
        None,
    )
    assert (attrs.items("list"), attrs.items("name")) == ([1], [])
    assert attrs.raw("list") == [1]
    assert attrs and not Attributes(None) and not Attributes({})


def test_blocks_and_their_unknowns() -> None:
    attrs = Attributes(
        {
            "root_block_device": [{"volume_size": 50}],
            "ebs_block_device": [{"volume_size": 10}, "junk", {"volume_size": None}],
            "single": {"x": 1},
        },
        {
            "root_block_device": [{"volume_type": True}],
            "ebs_block_device": [{}, {}, {"volume_size": True}],
            "whole": True,
        },
    )
    root = attrs.block("root_block_device")
    assert root.decimal("volume_size") == D(50)
    assert root.is_unknown("volume_type") and not root.is_unknown("volume_size")
    devices = attrs.blocks("ebs_block_device")
    assert [d.decimal("volume_size") for d in devices] == [D(10), None]
    # "junk" is skipped; each unknown stays with its own element (index 2 here)
    assert [d.is_unknown("volume_size") for d in devices] == [False, True]
    assert attrs.block("missing").decimal("x") is None and not attrs.block("missing")
    assert attrs.block("single").integer("x") == 1 and attrs.blocks("single")[0].integer("x") == 1
    assert attrs.is_unknown("whole") and not attrs.is_unknown("single")
    assert attrs.blocks("whole") == []

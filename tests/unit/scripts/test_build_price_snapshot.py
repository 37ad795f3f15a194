"""scripts/build_price_snapshot.py: which source wins an overlap, conflicts, and the committed file."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources

import pytest
from scripts.build_price_snapshot import DEFAULT_CSV, DEFAULT_KARPENTER, Candidate, build, merge

from cloudcostguard.pricing.catalog import PriceRecord
from cloudcostguard.pricing.snapshot import BUNDLED_RESOURCE


def _candidate(price: str, confidence: str, as_of: str | None, origin: str) -> Candidate:
    record = PriceRecord(
        "AmazonEC2",
        "us-east-1",
        {"instanceType": "m5.large"},
        "Hrs",
        Decimal(price),
        origin=origin,
        confidence=confidence,
    )
    return Candidate(record, as_of)


def test_the_better_confidence_wins_then_the_newer_date() -> None:
    chosen, overlaps = merge(
        [
            _candidate("0.096", "high", "2026-07-20", "karpenter"),
            _candidate("0.096", "high", "2026-08-21", "golden"),
            _candidate("0.095", "medium", "2026-09-06", "third party"),
        ]
    )
    assert [c.record.origin for c in chosen] == ["golden"]
    assert len(overlaps) == 1
    assert [c.record.origin for c in overlaps[0].others] == ["karpenter", "third party"]


def test_an_overlap_with_different_prices_is_a_conflict() -> None:
    _, overlaps = merge(
        [_candidate("0.096", "high", "2026-07-20", "a"), _candidate("0.097", "high", None, "b")]
    )
    assert [o.agrees for o in overlaps] == [False]
    assert overlaps[0].chosen.record.origin == "a"  # dated beats undated
    assert overlaps[0].to_json()["prices"][1] == {
        "usdPerUnit": "0.097",
        "confidence": "high",
        "asOf": None,
        "origin": "b",
        "chosen": False,
    }


def test_products_that_differ_are_not_an_overlap() -> None:
    other = _candidate("0.2", "high", None, "b")
    other = Candidate(PriceRecord(**{**_fields(other.record), "region": "eu-west-1"}), None)
    chosen, overlaps = merge([_candidate("0.096", "high", None, "a"), other])
    assert len(chosen) == 2 and overlaps == []


def _fields(record: PriceRecord) -> dict[str, object]:
    return {name: getattr(record, name) for name in PriceRecord.__slots__}


@pytest.mark.skipif(
    not (DEFAULT_KARPENTER.exists() and DEFAULT_CSV.exists()),
    reason="the source tables in ../shared/ are not checked out beside this repository",
)
def test_rebuilding_from_the_shared_tables_gives_the_committed_snapshot() -> None:
    payload, _, overlaps = build(DEFAULT_KARPENTER, DEFAULT_CSV)
    committed = resources.files("cloudcostguard.pricing").joinpath("data", BUNDLED_RESOURCE).read_bytes()
    assert payload == committed, "the bundled snapshot is stale: run `make snapshot`"
    assert overlaps and all(o.agrees for o in overlaps)

"""Property-based fuzzing of everything a user hands the product: plan JSON, usage files, CostPolicies and
AdmissionReview bodies (the short run CI makes; the coverage-guided long run is ``test_fuzz_long.py``).

For every input: only ``cloudcostguard.errors`` errors (a 4xx Status for a review body), within
``SECONDS_PER_INPUT`` and ``PEAK_BYTES_PER_INPUT`` (peak RSS). Inputs are real fixtures with a few
nodes replaced by hostile values, the same fixtures with their bytes flipped, cut and spliced, and
the classic attacks named below. ``CCG_FUZZ_EXAMPLES`` raises the number of examples per test.
"""

from __future__ import annotations

import codecs
import gc
import mmap
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability import fuzz_targets
from tests.reliability.fuzz_targets import TARGETS, bounded

EXAMPLES = int(os.environ.get("CCG_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # the time bound is `bounded`'s, measured around the product call only
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class DrawChooser:
    def __init__(self, data: st.DataObject) -> None:
        self._data = data

    def pick(self, count: int) -> int:
        return self._data.draw(st.integers(0, count - 1)) if count > 1 else 0

    def text(self) -> str:
        return self._data.draw(st.text(max_size=12))


@st.composite
def flipped(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes replaced, inserted or deleted, cut short, or spliced with another seed."""
    raw = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(raw)))
        operation = draw(st.integers(0, 4))
        if operation == 0 and position < len(raw):
            raw[position] = draw(st.integers(0, 255))
        elif operation == 1:
            raw[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif operation == 2:
            del raw[position : position + draw(st.integers(1, 64))]
        elif operation == 3:
            del raw[position:]
        else:
            other = draw(st.sampled_from(seeds))
            raw[position:] = other[draw(st.integers(0, len(other))) :]
    return bytes(raw)


def _seeds(name: str) -> list[bytes]:
    # Small seeds only: flipping a 400 KB plan mostly flips its string values, which structure covers.
    return [seed for seed in TARGETS[name].seeds() if len(seed) < 64 * 1024]


@pytest.mark.parametrize("name", sorted(TARGETS))
@FUZZ
@given(data=st.data())
def test_mutated_fixtures_fail_only_with_our_errors(name: str, data: st.DataObject) -> None:
    target = TARGETS[name]
    document = target.mutated(DrawChooser(data))
    with bounded(name):
        target.check_document(document)


@pytest.mark.parametrize("name", sorted(TARGETS))
@FUZZ
@given(data=st.data())
def test_flipped_bytes_fail_only_with_our_errors(name: str, data: st.DataObject) -> None:
    target = TARGETS[name]
    raw = data.draw(flipped(_seeds(name)))
    with bounded(name):
        target.check_bytes(raw)


@pytest.mark.parametrize("name", sorted(TARGETS))
@FUZZ
@given(raw=st.binary(max_size=2048))
def test_arbitrary_bytes_fail_only_with_our_errors(name: str, raw: bytes) -> None:
    with bounded(name):
        TARGETS[name].check_bytes(raw)


# --- the classic attacks, one by one ----------------------------------------------------------------

# PyYAML's billion laughs: nine levels of nine aliases, 9**9 leaves if anything walks it as a tree.
ALIAS_BOMB = b"""
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _bomb_in(key: str, value: str = "*i") -> bytes:
    return ALIAS_BOMB + f"{key}\n".encode().replace(b"BOMB", value.encode())


ATTACKS: dict[str, list[bytes]] = {
    "plan": [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"format_version":"1.2","resource_changes":' + b"[" * 5000 + b"]" * 5000 + b"}",
        codecs.BOM_UTF16_LE + '{"format_version": "1.0"}'.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + b"\xd8\x00",
        b'{"format_version":"1.2","resource_changes":[{"address":"a","type":"aws_instance","mode":"managed",'
        b'"change":{"actions":["create"],"after":{"instance_type":"t3.micro","root_block_device":'
        b'[{"volume_size":1e400}]}}}]}',
        b'{"format_version":"1.2","resource_changes":[{"address":"aws_instance.a","type":"aws_instance",'
        b'"mode":"managed","change":{"actions":["create"],"after":{"instance_type":"t3.micro",'
        b'"ebs_block_device":[{"volume_size":18446744073709551616}]}}}]}',
        b'{"format_version":"1.2","configuration":{"provider_config":{"aws":{"expressions":{"region":'
        b'{"references":' + b"[" * 900 + b"]" * 900 + b"}}}}}}",
    ],
    "usage": [
        _bomb_in("version: 0.1\nresource_usage:\n  aws_nat_gateway.gw: {monthly_data_processed_gb: BOMB}"),
        _bomb_in("version: 0.1\nresource_usage:\n  aws_lambda_function.fn: BOMB"),
        _bomb_in("version: BOMB"),
        _bomb_in("version: 0.1\nresource_type_default_usage:\n  aws_s3_bucket: {standard: BOMB}"),
        b"version: 0.1\nresource_usage:\n  aws_lambda_function.f:\n    monthly_requests: 1e400\n",
        b"version: 0.1\nresource_usage:\n  aws_lambda_function.f:\n    monthly_requests: .nan\n",
        b"version: 0.1\nresource_usage:\n  aws_lambda_function.f:\n    monthly_requests: -.inf\n",
        b"version: 0.1\nresource_usage:\n  aws_lambda_function.f:\n    monthly_requests: !!binary AAAA\n",
        b"version: 0.1\nresource_usage:\n  aws_lambda_function.f:\n    monthly_requests: 2001-01-01\n",
        b"[" * 10_000,
        b"!!python/object/apply:os.system ['true']",
    ],
    "policy": [
        _bomb_in("metadata: {name: p}\nspec: {selector: {matchLabels: BOMB}}", "{k: *i}"),
        _bomb_in("metadata: {name: p}\nspec: {namespaceSelector: {matchExpressions: BOMB}}"),
        _bomb_in("metadata: {name: BOMB}"),
        _bomb_in("metadata: {name: p}\nspec: {message: BOMB}"),
        b"metadata: {name: p}\nspec: {limits: {maxMonthlyCost: '1e999999999'}}",
        b"metadata: {name: p}\nspec: {limits: {maxMonthlyCost: '" + b"9" * 100_000 + b"'}}",
        b"metadata: {name: p}\nspec: {limits: {maxIncreasePercent: " + b"9" * 5000 + b"}}",
    ],
    "review": [
        b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":' + b"[" * 2000 + b"}",
        b'{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u",'
        b'"resource":{"group":"","version":"v1","resource":"configmaps"},"operation":"CREATE",'
        b'"userInfo":{},"object":{"kind":"ConfigMap","metadata":{"name":"p","namespace":"team-a",'
        b'"labels":{"cloudcostguard.io/plan":"true"}},"data":{"plan.json":"' + b"[" * 5000 + b'"}}}}',
    ],
}


@pytest.mark.parametrize(
    ("name", "raw"),
    [(name, raw) for name, attacks in ATTACKS.items() for raw in attacks],
    ids=[f"{name}-{index}" for name, attacks in ATTACKS.items() for index in range(len(attacks))],
)
def test_known_attacks_are_refused_within_bounds(name: str, raw: bytes) -> None:
    with bounded(name):
        TARGETS[name].check_bytes(raw)


def test_every_target_has_seeds_and_a_seed_passes() -> None:
    # The fuzzers start from real inputs the product accepts, or they would only explore error paths.
    assert {name: bool(target.seeds()) for name, target in TARGETS.items()} == dict.fromkeys(TARGETS, True)
    for target in TARGETS.values():
        with bounded(target.name):
            target.check_bytes(target.seeds()[0])


def test_a_foreign_exception_fails_the_target(monkeypatch: pytest.MonkeyPatch) -> None:
    # The harness can fail: an exception outside cloudcostguard.errors escapes check_plan_bytes.
    import cloudcostguard

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("resource_changes")

    monkeypatch.setattr(cloudcostguard, "estimate", broken)
    with pytest.raises(KeyError):
        fuzz_targets.check_plan_bytes(b"{}")


def test_an_internal_error_of_the_webhook_fails_the_review_target(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudcostguard.k8s.admission import decision

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise KeyError("spec")

    monkeypatch.setattr(decision, "_decide_costestimate", broken)
    with pytest.raises(fuzz_targets.NotOurError, match="KeyError"):
        fuzz_targets.check_review_bytes(TARGETS["review"].seeds()[0])


def test_the_bounds_can_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fuzz_targets, "PEAK_BYTES_PER_INPUT", 1024)
    # Garbage left by earlier tests, freed by a collection during the allocation, could offset the
    # growth in the process's resident set: collect first, and keep the collector off meanwhile.
    gc.collect()
    gc.disable()
    try:
        with pytest.raises(fuzz_targets.NotOurError, match="peaked at"), bounded("memory"):
            # A fresh anonymous mapping, not a bytearray: malloc may hand a bytearray pages that are
            # resident already (memory earlier tests freed), which would not grow the resident set.
            kept = mmap.mmap(-1, 64 * 1024 * 1024)  # zero pages are not resident until written
            kept[::4096] = b"x" * (len(kept) // 4096)
            kept.close()
    finally:
        gc.enable()
    monkeypatch.setattr(fuzz_targets, "SECONDS_PER_INPUT", 0.0)
    with pytest.raises(fuzz_targets.NotOurError, match="took"), bounded("time"):
        sum(range(1000))

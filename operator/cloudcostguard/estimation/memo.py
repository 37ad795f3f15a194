"""Memoised pricing: one priced side is reused for every later side that reads the same inputs.

Large plans repeat themselves (the issue-11 benchmark plan: 3,919 priced sides, 1,038 distinct inputs),
and the webhook sees the same resources review after review. A pricer is a pure function of what it
reads from its ``PricingContext``: the resource's attribute values and unknown markers, its usage, the
catalog, the region, the hours per month and the pricing day. So the memo key is exact when it holds
exactly what the pricer read:

- The first time a (type, region) side is priced, the pricer gets *recording* views of its attributes,
  usage and references; the reads, in order, are its *read schema*. Nested blocks are recorded whole
  (their value and unknown subtree), so what a pricer does inside them needs no recording.
- A later side of that (type, region) is looked up under each schema recorded so far: the values it
  has at those reads, serialised by orjson (which tells ``1``, ``1.0`` and ``true`` apart and keeps
  order), are the key. A hit means an earlier side read the same values at every read, and since each
  read decides the next, the pricer would have walked the same path to the same result.
- The plan's references are asked through a recording view too: ``has_type``, and "does anything
  refer to this resource / does its attribute refer to anything" while the answer is no, are reads
  like the others (evaluated again for each later side). Any other answer or question (which resource
  holds this Elastic IP, another resource's usage) depends on where the resource sits in the plan:
  such a side is priced fresh and not remembered. So is a side whose read values orjson cannot
  serialise.

The memo lives with the catalog object (prices of another version never mix in) and is bounded: an
LRU of ``MAX_RESULTS`` results per catalog, ``MAX_SCHEMAS`` schemas per (type, region). Results are
immutable (``CostComponent`` named tuples); each hit gets its own list. A (type, region) whose sides do not
repeat (each with its own id, say) is given up after ``GIVE_UP_AFTER_MISSES`` (recording costs more than
pricing it) and tried again after ``RETRY_AFTER`` sides priced plainly, as what a memo sees changes.

``EstimateMemo`` is the layer above, for the webhook: the API server sends the same object again and
again (Argo CD diffs and dry runs, Flux dry runs, re-applies), so whole estimates are kept per catalog,
keyed by the sha256 of the plan's and usage's JSON and the estimate's settings (``MAX_ESTIMATES``).
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from cloudcostguard.estimation.attributes import Attributes
from cloudcostguard.estimation.model import CostComponent, Estimate
from cloudcostguard.estimation.usage import ResourceUsage
from cloudcostguard.plan.references import PlanReferences, Reference
from cloudcostguard.plan.regions import strip_indexes

MAX_RESULTS = 20_000  # priced sides remembered per catalog: a few MB, more than any plan's distinct sides
MAX_SCHEMAS = 32  # read schemas per (type, region): pricers branch on a few values, never on many
MAX_ESTIMATES = 64  # whole estimates per catalog (webhook): the objects a cluster keeps re-sending
# ... holding this many resources at most in all (a remembered 50,000-resource estimate is ~25 MB).
MAX_ESTIMATE_RESOURCES = 20_000
# A (type, region) with this many misses and fewer than one hit in GIVE_UP_HIT_SHARE sides is given up:
# recording a side costs about as much again as pricing it, so on the issue-11 plans (random instance
# shapes: 55 of 56 instance sides distinct at 500 resources) recording them all cost more than the
# memo saved (500 resources: 8.44 ms with 200 here, 7.67 ms with 16; 5,000: 65.7 / 58.2 ms).
GIVE_UP_AFTER_MISSES = 16
GIVE_UP_HIT_SHARE = 10
# ... and tried again, from a clean tally, after this many of its sides were priced plainly: a
# long-lived memo (operator, webhook) must not stay given up because its first sides were distinct.
RETRY_AFTER = 2_000
# A (type, region) is recorded once this many of its sides were seen (in this plan, or by this memo
# over earlier estimates): recording a side costs about as much again as pricing it, which only
# repeats pay back. On the issue-11 plan of 500 resources most (type, region)s have a few sides only.
RECORD_AFTER = 8
# ... counting a plan's own sides only in plans of this many resource changes or more. Below it, its
# repeats are too few to pay for recording them (issue-11 plans, pricing only, empty memo, recording
# from the plan's own repeats / not: 500 resources 7.0 / 5.9 ms, 1,000: 12.0 / 11.1, 2,000: 24.7 / 24.3;
# at 5,000 they pay: 57.2 ms, 64.6 with no memo). A small plan's sides are recorded in the estimates
# after those that showed the memo enough of them (``note_sides``: the operator's and webhook's memo).
RECORD_IN_PLAN_FROM = 2_000
MAX_SETTINGS = 2  # (hours per month, pricing day, references or not) per catalog: one a day, in practice
# SideMemo.plan_side's answers.
PLAIN, LOOKUP, RECORD = range(3)

# What a read reads: an attribute's value, its unknown marker, whether there are values at all; a usage
# value, whether there is usage at all; whether the plan has a resource type; whether no expression
# refers to this resource; whether this resource's expressions for an attribute refer to nothing.
VALUE, UNKNOWN, ANY_VALUE, USAGE, ANY_USAGE, PLAN_HAS_TYPE, NOTHING_REFERS_HERE, REFERS_NOWHERE = range(8)
Read = tuple[int, str]
EVERY_TYPE = "*"  # a NOTHING_REFERS_HERE read that asked about referrers of every type
Schema = tuple[Read, ...]
PricedSide = tuple[list[CostComponent], Decimal]


class Reads:
    """What one pricing read, in order, and whether it read something no key can hold."""

    __slots__ = ("exact", "reads")

    def __init__(self) -> None:
        self.reads: list[Read] = []
        self.exact = True


class RecordingAttributes(Attributes):
    """``Attributes`` that note every read (a nested block: its whole value and unknown subtree)."""

    __slots__ = ("_reads",)

    def __init__(self, values: Mapping[str, Any] | None, unknown: Mapping[str, Any] | None, reads: Reads):
        super().__init__(values, unknown)
        self._reads = reads.reads

    def is_unknown(self, name: str) -> bool:
        self._reads.append((UNKNOWN, name))
        return super().is_unknown(name)

    def raw(self, name: str) -> Any:
        self._reads.append((VALUE, name))
        return super().raw(name)

    def text(self, name: str, default: str | None = None) -> str | None:
        self._reads.append((VALUE, name))
        return super().text(name, default)

    def flag(self, name: str, default: bool | None = None) -> bool | None:
        self._reads.append((VALUE, name))
        return super().flag(name, default)

    def decimal(self, name: str, default: Decimal | None = None) -> Decimal | None:
        self._reads.append((VALUE, name))
        return super().decimal(name, default)

    def integer(self, name: str, default: int | None = None) -> int | None:
        self._reads.append((VALUE, name))
        return super().integer(name, default)

    def items(self, name: str) -> list[Any]:
        self._reads.append((VALUE, name))
        return super().items(name)

    def block(self, name: str) -> Attributes:
        self._reads.append((VALUE, name))
        self._reads.append((UNKNOWN, name))
        return super().block(name)

    def blocks(self, name: str) -> list[Attributes]:
        self._reads.append((VALUE, name))
        self._reads.append((UNKNOWN, name))
        return super().blocks(name)

    def __bool__(self) -> bool:
        self._reads.append((ANY_VALUE, ""))
        return super().__bool__()


class RecordingUsage(ResourceUsage):
    """``ResourceUsage`` that notes every read."""

    __slots__ = ("_reads",)

    def __init__(self, usage: ResourceUsage, reads: Reads) -> None:
        super().__init__(usage.values, usage.address)
        self._reads = reads.reads

    def decimal(self, key: str) -> Decimal | None:
        self._reads.append((USAGE, key))
        return super().decimal(key)

    def text(self, key: str) -> str | None:
        self._reads.append((USAGE, key))
        return super().text(key)

    def raw(self, key: str) -> Any:
        self._reads.append((USAGE, key))
        return super().raw(key)

    def __bool__(self) -> bool:
        self._reads.append((ANY_USAGE, ""))
        return super().__bool__()


class RecordingReferences:
    """The plan's references as a pricer sees them. ``has_type`` is a read like any other; so is asking
    what refers to this very resource, or what it refers to, while the answer is *nothing* (the common
    case: most resources hold no Elastic IP and sit on no Dedicated Host). Any other answer, and every
    other question, depends on where the resource sits in the plan: the side is not memoised."""

    def __init__(self, references: PlanReferences, reads: Reads, config_address: str) -> None:
        self._references = references
        self._reads = reads
        self._config_address = config_address

    def has_type(self, resource_type: str) -> bool:
        self._reads.reads.append((PLAN_HAS_TYPE, resource_type))
        return self._references.has_type(resource_type)

    def referencing(self, target: str, source_types: Collection[str] | None = None) -> list[Reference]:
        found = self._references.referencing(target, source_types)
        if found or target != self._config_address:
            self._reads.exact = False
        else:
            # The read names the types asked, in order: one question, one key.
            asked = EVERY_TYPE if source_types is None else ",".join(source_types)
            self._reads.reads.append((NOTHING_REFERS_HERE, asked))
        return found

    def referenced_from(self, source: str, attribute: str | None = None) -> list[Reference]:
        found = self._references.referenced_from(source, attribute)
        if found or source != self._config_address or attribute is None:
            self._reads.exact = False
        else:
            self._reads.reads.append((REFERS_NOWHERE, attribute))
        return found

    def __getattr__(self, name: str) -> Any:
        self._reads.exact = False
        return getattr(self._references, name)


def _check_recorded(base: type, recording: type) -> None:
    """A read method added to Attributes or ResourceUsage without a recording twin would read past the
    key, and a hit would then be a wrong price: refuse to import instead."""
    for name, member in vars(base).items():
        if callable(member) and not name.startswith("_") and name not in vars(recording):
            raise TypeError(f"{recording.__name__} does not record {base.__name__}.{name}")


_check_recorded(Attributes, RecordingAttributes)
_check_recorded(ResourceUsage, RecordingUsage)


KeyFunction = Callable[
    [Mapping[str, Any], Mapping[str, Any], Mapping[str, Any], "PlanReferences | None", str], list[Any]
]


class _Schema:
    """One read schema and the function that reads its values from a side, made once per schema."""

    __slots__ = ("number", "read", "reads")

    def __init__(self, number: int, reads: Schema) -> None:
        self.number = number
        self.reads = reads
        read = _KEY_FUNCTIONS.get(reads)
        if read is None:
            read = _key_function(reads)
            if len(_KEY_FUNCTIONS) < MAX_KEY_FUNCTIONS:
                _KEY_FUNCTIONS[reads] = read
        self.read = read


# Generated key functions by schema, for the whole process: they are code, not results (a memo that
# starts anew, for another catalog or day, reuses them instead of compiling again).
MAX_KEY_FUNCTIONS = 4096
_KEY_FUNCTIONS: dict[Schema, KeyFunction] = {}


def _key_function(reads: Schema) -> KeyFunction:
    """``(values, unknown, usage, references, address) -> [what each read gives]`` as one generated
    function: a side is looked up on every schema of its type, so this runs for every priced side."""
    parts = []
    names: dict[str, Any] = {"strip_indexes": strip_indexes}
    for position, (kind, name) in enumerate(reads):
        names[f"n{position}"] = name
        if kind == VALUE:
            parts.append(f"v.get(n{position})")
        elif kind == UNKNOWN:
            parts.append(f"u.get(n{position})")
        elif kind == USAGE:
            parts.append(f"q.get(n{position})")
        elif kind == ANY_VALUE:
            parts.append("bool(v)")
        elif kind == ANY_USAGE:
            parts.append("bool(q)")
        elif kind == PLAN_HAS_TYPE:
            parts.append(f"(r is not None and r.has_type(n{position}))")
        elif kind == NOTHING_REFERS_HERE:
            names[f"n{position}"] = None if name == EVERY_TYPE else tuple(filter(None, name.split(",")))
            parts.append(f"(r is not None and not r.referencing(strip_indexes(a), n{position}))")
        else:  # REFERS_NOWHERE
            parts.append(f"(r is not None and not r.referenced_from(strip_indexes(a), n{position}))")
    source = f"def read(v, u, q, r, a):\n    return [{', '.join(parts)}]\n"
    exec(source, names)  # noqa: S102 - generated from the reads' kinds; names are passed as values
    function: KeyFunction = names["read"]
    return function


class SideMemo:
    """Priced sides of one catalog under one (hours per month, pricing day, references) setting."""

    def __init__(self) -> None:
        self._schemas: dict[tuple[str, str], list[_Schema]] = {}
        # Per (type, region): [hits, misses]. Recording a side costs more than pricing a cheap one, so
        # a type whose sides never repeat (each names its own id, say) is no longer memoised.
        self._tally: dict[tuple[str, str], list[int]] = {}
        # Given up (type, region) → plain sides left before it is tried again.
        self._given_up: dict[tuple[str, str], int] = {}
        self._seen: dict[tuple[str, str], int] = {}
        self._results: OrderedDict[tuple[int, bytes], PricedSide] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._results)

    def remembers(self, resource_type: str, region: str) -> bool:
        """False while sides of this type and region, having proved not to repeat, are priced plainly."""
        given_up = self._given_up
        if not given_up:
            return True
        key = (resource_type, region)
        left = given_up.get(key)
        if left is None:
            return True
        if left > 0:
            given_up[key] = left - 1
            return False
        del given_up[key]  # tried again: its tally starts over
        self._tally[key] = [0, 0]
        return True

    def plan_side(self, resource_type: str, region: str, sides_in_plan: int) -> int:
        """What to do with the next side of this (type, region), in one call (the estimator asks for
        every priced side): ``PLAIN`` (given up, or not worth recording yet), ``LOOKUP`` (schemas exist:
        look it up, record it on a miss) or ``RECORD`` (no schema yet: a lookup could not hit). Recording
        pays only through repeats: a (type, region) without a schema is recorded once it has
        ``RECORD_AFTER`` sides in this plan (``sides_in_plan``: the estimator counts them in large
        plans only), or once earlier estimates showed this memo that many (``note_sides``)."""
        if self._given_up and not self.remembers(resource_type, region):
            return PLAIN
        key = (resource_type, region)
        if key in self._schemas:
            return LOOKUP
        if sides_in_plan >= RECORD_AFTER or self._seen.get(key, 0) >= RECORD_AFTER:
            return RECORD
        return PLAIN

    def note_sides(self, sides: Mapping[tuple[str, str], int]) -> None:
        """Count an estimate's sides per (type, region), once it is priced: the next estimates record
        the (type, region)s seen often enough (a plan's own count decides only in large plans, where
        its repeats pay for recording within it)."""
        seen = self._seen
        for key, count in sides.items():
            if key not in self._schemas:
                seen[key] = seen.get(key, 0) + count

    def lookup(  # noqa: PLR0917 - positional: runs once per priced side
        self,
        resource_type: str,
        region: str,
        address: str,
        values: Mapping[str, Any] | None,
        unknown: Mapping[str, Any] | None,
        usage: ResourceUsage,
        references: PlanReferences | None,
    ) -> PricedSide | None:
        schemas = self._schemas.get((resource_type, region))
        if not schemas:
            return None
        tally = self._tally[resource_type, region]
        results = self._results
        values = values or _EMPTY
        unknown = unknown or _EMPTY
        usage_values = usage.values
        for schema in schemas:
            key = _serialise(schema.read(values, unknown, usage_values, references, address))
            if key is None:
                continue
            entry = (schema.number, key)
            found = results.get(entry)
            if found is not None:
                # try/except, not contextlib.suppress: this runs for every hit, a context manager
                # object each time shows. Evicted by another thread meanwhile: still a valid result.
                try:  # noqa: SIM105
                    results.move_to_end(entry)
                except KeyError:
                    pass
                tally[0] += 1
                return found
        return None

    def store(  # noqa: PLR0917 - positional: runs once per priced side
        self,
        resource_type: str,
        region: str,
        address: str,
        reads: Reads,
        values: Mapping[str, Any] | None,
        unknown: Mapping[str, Any] | None,
        usage: ResourceUsage,
        references: PlanReferences | None,
        side: PricedSide,
    ) -> None:
        if not reads.exact:
            return
        recorded = tuple(dict.fromkeys(reads.reads))
        tally = self._tally.setdefault((resource_type, region), [0, 0])
        tally[1] += 1
        if tally[1] >= GIVE_UP_AFTER_MISSES and tally[0] * GIVE_UP_HIT_SHARE < tally[1]:
            self._given_up[resource_type, region] = RETRY_AFTER
        with self._lock:
            schemas = self._schemas.setdefault((resource_type, region), [])
            schema = next((known for known in schemas if known.reads == recorded), None)
            if schema is None:
                if len(schemas) >= MAX_SCHEMAS:
                    return
                schema = _Schema(_next_schema_number(), recorded)
                schemas.append(schema)
            key = _serialise(
                schema.read(values or _EMPTY, unknown or _EMPTY, usage.values, references, address)
            )
            if key is None:
                return
            self._results[(schema.number, key)] = side
            while len(self._results) > MAX_RESULTS:
                self._results.popitem(last=False)


_EMPTY: Mapping[str, Any] = {}
_schema_numbers = itertools.count()


def _next_schema_number() -> int:
    return next(_schema_numbers)


def _serialise(read: list[Any]) -> bytes | None:
    try:
        return orjson.dumps(read, option=_EXACT_TYPES_ONLY, default=_refuse)
    except TypeError:  # orjson.JSONEncodeError: a value with no exact serialisation
        return None


# Values orjson would render like JSON values of another Python type (a date like its ISO string, a
# str subclass like a str) are refused instead: no key may stand for two different inputs.
_EXACT_TYPES_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


_memos: weakref.WeakKeyDictionary[object, OrderedDict[tuple[Any, ...], SideMemo]] = (
    weakref.WeakKeyDictionary()
)
_memos_lock = threading.Lock()


def memo_for(catalog: object, hours_per_month: Decimal, as_of: date, has_references: bool) -> SideMemo | None:
    """The catalog's memo for this setting (None when the catalog cannot carry one)."""
    setting = (hours_per_month, as_of, has_references)
    try:
        by_setting = _memos.get(catalog)
    except TypeError:  # not weakly referenceable, or unhashable: price without a memo
        return None
    if by_setting is not None:
        memo = by_setting.get(setting)
        if memo is not None:
            return memo
    with _memos_lock:
        try:
            by_setting = _memos.setdefault(catalog, OrderedDict())
        except TypeError:
            return None
        memo = by_setting.get(setting)
        if memo is None:
            memo = by_setting[setting] = SideMemo()
            while len(by_setting) > MAX_SETTINGS:
                by_setting.popitem(last=False)
        return memo


def forget(catalog: object) -> None:
    """Drop the catalog's memos (benchmarks measuring a cold memo; tests)."""
    with _memos_lock:
        _memos.pop(catalog, None)
        _estimate_memos.pop(catalog, None)


class EstimateMemo:
    """Whole estimates by ``json_key``; an estimate is never changed once made, so hits share it."""

    def __init__(self) -> None:
        self._estimates: OrderedDict[bytes, Estimate] = OrderedDict()
        self._resources = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._estimates)

    def find(self, key: bytes | None) -> Estimate | None:
        """The remembered estimate for ``key``, if any."""
        if key is None:
            return None
        with self._lock:
            found = self._estimates.get(key)
            if found is not None:
                self._estimates.move_to_end(key)
            return found

    def estimate(self, key: bytes | None, make: Callable[[], Estimate]) -> Estimate:
        """The remembered estimate for ``key``, else ``make()``'s (errors are not remembered)."""
        if key is None:
            return make()
        found = self.find(key)
        if found is not None:
            return found
        made = make()
        if len(made.resources) > MAX_ESTIMATE_RESOURCES:
            return made
        with self._lock:
            if key not in self._estimates:
                self._estimates[key] = made
                self._resources += len(made.resources)
            while len(self._estimates) > MAX_ESTIMATES or self._resources > MAX_ESTIMATE_RESOURCES:
                _, evicted = self._estimates.popitem(last=False)
                self._resources -= len(evicted.resources)
        return made


def json_key(*parts: Any) -> bytes | None:
    """sha256 of the parts' JSON: the same for the same JSON values; None when a part is no JSON value
    with one exact serialisation."""
    serialised = _serialise(list(parts))
    return None if serialised is None else hashlib.sha256(serialised).digest()


_estimate_memos: weakref.WeakKeyDictionary[object, EstimateMemo] = weakref.WeakKeyDictionary()


def estimate_memo_for(catalog: object) -> EstimateMemo | None:
    """The catalog's estimate memo (None when the catalog cannot carry one)."""
    try:
        found = _estimate_memos.get(catalog)
        if found is None:
            with _memos_lock:
                found = _estimate_memos.setdefault(catalog, EstimateMemo())
    except TypeError:  # not weakly referenceable, or unhashable
        return None
    return found


UsageOf = Callable[[str, str], ResourceUsage]


def recording_usage_of(usage_of: UsageOf, reads: Reads) -> UsageOf:
    """Another resource's usage: depends on the plan, not on this side's inputs."""

    def read(address: str, resource_type: str) -> ResourceUsage:
        reads.exact = False
        return usage_of(address, resource_type)

    return read

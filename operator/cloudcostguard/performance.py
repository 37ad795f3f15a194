"""Performance helpers for the hot paths of reading, pricing and loading: one place for these tricks.

``paused_gc`` — pausing Python's cyclic garbage collector around allocation-heavy, cycle-free work.
A parsed plan is a few hundred thousand dicts and lists, all young. While it is alive, every
collection that allocations trigger walks it again: on a 5,000-resource plan that was about a third
of the time spent reading and pricing it. Reading and pricing create no reference cycles (plain
dicts, lists and dataclasses), so pausing the collector loses nothing, and the document is freed
by reference counting as soon as it is dropped.

``age_young_objects`` — what an estimate leaves alive goes straight to the oldest generation. The
collector comes back after the pause with a young generation full of the estimate's objects (on a
5,000-resource plan some 24,000 lists and ``ResourceCost``s), and the first allocation after it walks
them all (≈ 6 ms there), only to find them alive and acyclic. ``gc.freeze()`` then ``gc.unfreeze()``
moves every tracked object into the oldest generation in constant time (two list splices), where only
full collections look. That would also un-freeze what a process froze on purpose (the webhook server's
``freeze_heap`` at startup), so it is skipped in a process that did.

``fast_init`` — cheaper construction of the frozen, slotted dataclasses a large plan makes by the thousand.
A frozen dataclass's generated ``__init__`` assigns each field through ``object.__setattr__`` (its own
``__setattr__`` refuses), which costs about as much as everything else a resource change or a cost
component needs: profiling a 5,000-resource plan showed it among the top costs. ``fast_init`` replaces
that ``__init__`` with one writing each field straight into its slot, with the same signature and
defaults; instances stay frozen (assignment still raises ``FrozenInstanceError``), equal and hashable.
It serves the catalog's ``Price`` and ``PriceTier``; the hottest values (cost components, pricing
contexts, resource changes) are named tuples made in C instead, faster still (``tuple.__new__``: 0.17
µs against 0.52 µs with ``fast_init`` for eight fields).
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")


# The hot named tuples (``CostComponent``, ``PricingContext``, ``ResourceChange``) are made with this,
# their fields in order: in C, where a named tuple's own ``__new__`` is a Python function.
new_tuple = tuple.__new__


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector for the block, then restore it. Nested and concurrent uses are
    safe: only the use that found it enabled enables it again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_heap_frozen = False


def freeze_heap() -> None:
    """Collect, then take everything alive now out of the collector's generations for good (a
    long-running server, after loading what it keeps); ``age_young_objects`` no longer runs."""
    global _heap_frozen  # noqa: PLW0603 - one flag for the process, as the collector's state is
    _heap_frozen = True
    gc.collect()
    gc.freeze()


def age_young_objects() -> None:
    """Move every object the collector tracks into its oldest generation, in constant time."""
    if not _heap_frozen:
        gc.freeze()
        gc.unfreeze()


def fast_init(cls: type[T]) -> type[T]:
    """Class decorator, applied after ``@dataclass(frozen=True, slots=True)``."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    namespace: dict[str, Any] = {}
    positional: list[str] = []
    keyword_only: list[str] = []
    for field in fields:
        if field.default_factory is not dataclasses.MISSING or not field.init:
            raise TypeError(f"fast_init takes plain fields only, not {cls.__name__}.{field.name}")
        # The slot's member descriptor: its __set__ bypasses the class's refusing __setattr__.
        namespace[f"_set_{field.name}"] = vars(cls)[field.name].__set__
        parameters = keyword_only if field.kw_only else positional
        if field.default is dataclasses.MISSING:
            parameters.append(field.name)
        else:
            namespace[f"_default_{field.name}"] = field.default
            parameters.append(f"{field.name}=_default_{field.name}")
    signature = ", ".join(["self", *positional, *(["*", *keyword_only] if keyword_only else [])])
    body = "".join(f"    _set_{field.name}(self, {field.name})\n" for field in fields)
    source = f"def __init__({signature}):\n{body}"
    exec(source, namespace)  # noqa: S102 - generated from the class's own field names, as dataclasses does
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    cls.__init__ = init  # type: ignore[method-assign]
    return cls

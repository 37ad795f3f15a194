"""``cloudcostguard.performance``.

``paused_gc``: the collector is off inside, and back to how it was afterwards, even on errors.
``fast_init``: the same constructor as the dataclass's own, still frozen, equal and hashable.
The hot named tuples (components, contexts, resource changes) made in C with ``tuple.__new__``: the
same values as their own constructor gives, and immutable.
"""

from __future__ import annotations

import dataclasses
import gc
import inspect
from collections.abc import Iterator
from decimal import Decimal

import pytest

from cloudcostguard.estimation.components import at_unit_price, priced
from cloudcostguard.estimation.model import CostComponent
from cloudcostguard.estimation.registry import PricingContext
from cloudcostguard.performance import fast_init, paused_gc
from cloudcostguard.plan.model import ResourceChange
from cloudcostguard.pricing.catalog import Price, PriceTier


@pytest.fixture(autouse=True)
def restore_gc() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_pauses_and_restores() -> None:
    gc.enable()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():  # nested: the inner use leaves it to the outer one
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restores_after_an_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), paused_gc():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_leaves_a_disabled_collector_disabled() -> None:
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()


@fast_init
@dataclasses.dataclass(frozen=True, slots=True)
class Point:
    x: int
    y: int = 7


def test_signature_defaults_and_values_are_the_dataclasss() -> None:
    point = Point(1)
    assert (point.x, point.y) == (1, 7)
    assert Point(1, y=2) == Point(x=1, y=2) != point
    assert hash(Point(1)) == hash(Point(1))
    assert str(inspect.signature(Point)) == "(x, y=7)"
    assert Point.__init__.__qualname__ == "Point.__init__"
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point(1, 2, 3)  # type: ignore[call-arg]


def test_instances_stay_frozen() -> None:
    point = Point(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        point.x = 2  # type: ignore[misc]
    assert dataclasses.replace(point, x=5) == Point(5, 7)


def test_fields_with_factories_are_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        items: list[int] = dataclasses.field(default_factory=list)

    with pytest.raises(TypeError, match="fast_init takes plain fields only"):
        fast_init(WithFactory)


def test_keyword_only_fields_stay_keyword_only_and_subclasses_may_add_required_fields() -> None:
    @fast_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class Base:
        a: int
        b: int = dataclasses.field(default=2, kw_only=True)

    @dataclasses.dataclass(frozen=True)
    class Extended(Base):
        c: int

    assert str(inspect.signature(Base)) == "(a, *, b=2)"
    assert Base(1, b=3) == Base(a=1, b=3)
    with pytest.raises(TypeError):
        Base(1, 3)  # type: ignore[misc]
    extended = Extended(1, 5, b=4)
    assert (extended.a, extended.b, extended.c) == (1, 4, 5)


@pytest.mark.parametrize("cls", [Price, PriceTier])
def test_the_hot_classes_keep_their_dataclass_signature(cls: type) -> None:
    names = [field.name for field in dataclasses.fields(cls)]
    assert list(inspect.signature(cls).parameters) == names


@pytest.mark.parametrize("cls", [CostComponent, ResourceChange, PricingContext])
def test_the_hot_named_tuples_take_their_fields_in_order_and_stay_immutable(cls: type) -> None:
    """``tuple.__new__(cls, values)`` (the estimator's and reader's way) relies on the field order."""
    names = list(inspect.signature(cls).parameters)
    assert names == list(cls._fields)  # type: ignore[attr-defined]
    made = tuple.__new__(cls, tuple(range(len(names))))
    assert made == cls(*range(len(names)))
    assert [getattr(made, name) for name in names] == list(range(len(names)))
    with pytest.raises(AttributeError):
        made.address = "changed"  # type: ignore[misc]


def test_the_component_builders_make_what_the_constructor_makes() -> None:
    price = Price("Hrs", (PriceTier(Decimal(0), None, Decimal("0.045")),))
    assert priced("NAT gateway", "hours", Decimal(730), price) == CostComponent(
        "NAT gateway", "hours", Decimal(730), Decimal("0.045"), Decimal("32.850"), False, False, None
    )
    assert priced("Data", "GB", None, price, subresource="x") == CostComponent(
        "Data", "GB", None, Decimal("0.045"), None, usage_based=True, subresource="x"
    )
    assert priced("Gone", "GB", Decimal(3), None, usage_based=True) == CostComponent(
        "Gone", "GB", Decimal(3), None, None, usage_based=True, price_not_found=True
    )
    assert at_unit_price("Tier 2", "GB", Decimal(10), Decimal("0.5")) == CostComponent(
        "Tier 2", "GB", Decimal(10), Decimal("0.5"), Decimal("5.0")
    )
    assert at_unit_price("Tier 2", "GB", None, Decimal("0.5")).usage_based is True

"""An estimate made while PostgreSQL cannot confirm the catalog says so (``status.pricingStaleSince``,
the Ready message), and the next look after the catalog is confirmed again removes the mark."""

from __future__ import annotations

import dataclasses
from typing import Any

from cloudcostguard.k8s.operator import reconcile
from cloudcostguard.k8s.operator.loops import EstimateState
from cloudcostguard.pricing.catalog_provider import CatalogStatus, StaticCatalogProvider
from cloudcostguard.pricing.snapshot import load_bundled_catalog
from tests.plans import money, nat_monthly, nat_plan
from tests.unit.k8s.operator.test_reconcile import EMPTY_VIEW, conditions, context, estimate_object, run

CONFIRMED_AT = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class SwitchableProvider(StaticCatalogProvider):
    """The bundled catalog, stale or not as the test says (what the PostgreSQL provider reports)."""

    def __init__(self) -> None:
        super().__init__(load_bundled_catalog())
        self.stale = False

    def status(self) -> CatalogStatus:
        catalog = self.current()
        return CatalogStatus(catalog.source, catalog.version, CONFIRMED_AT, stale=self.stale, last_error="x")


def spec() -> dict[str, Any]:
    return {"plan": {"inline": nat_plan(1, vpcs=1)}}


async def test_an_estimate_from_a_stale_catalog_says_since_when() -> None:
    provider = SwitchableProvider()
    provider.stale = True
    outcome = await run(estimate_object(spec()), EstimateState(), context(provider=provider))
    status = outcome.status
    assert status["pricingStaleSince"] == "2026-01-01T00:00:00Z"
    assert status["monthlyCost"] == money(nat_monthly(1))  # priced all the same
    assert conditions(status)["Ready"]["message"].endswith(
        "(not confirmed current since 2026-01-01T00:00:00Z: the pricing store is unreachable)"
    )


async def test_a_current_catalog_writes_no_stale_field_at_all() -> None:
    outcome = await run(estimate_object(spec()), EstimateState(), context(provider=SwitchableProvider()))
    assert "pricingStaleSince" not in outcome.status


async def test_the_mark_goes_at_the_next_look_once_the_catalog_is_confirmed() -> None:
    provider, state = SwitchableProvider(), EstimateState()
    ctx = context(provider=provider)
    provider.stale = True
    stale = await run(estimate_object(spec()), state, ctx)
    assert (await run(estimate_object(spec(), stale.status), state, ctx)).result == "unchanged"

    provider.stale = False
    fresh = await run(estimate_object(spec(), stale.status), state, ctx)
    assert fresh.result == "estimated"
    assert fresh.status["pricingStaleSince"] is None  # a merge-patch null: the field is removed
    assert "not confirmed" not in conditions(fresh.status)["Ready"]["message"]


async def test_a_restart_while_stale_does_not_take_a_current_status_for_a_stale_one() -> None:
    obj = estimate_object(spec())
    current = await run(obj, EstimateState(), context(provider=SwitchableProvider()))
    provider = SwitchableProvider()
    provider.stale = True
    restarted = await run(
        estimate_object(spec(), current.status), EstimateState(), context(provider=provider)
    )
    assert restarted.result == "estimated"
    assert restarted.status["pricingStaleSince"] == "2026-01-01T00:00:00Z"


async def test_a_verdict_refresh_after_a_flip_is_a_full_reconcile() -> None:
    provider, state = SwitchableProvider(), EstimateState()
    # With a judge, a verdict-only wake-up re-judges the kept estimate instead of estimating again.
    ctx = dataclasses.replace(context(provider=provider), judge=reconcile.EvaluationJudge())
    first = await run(estimate_object(spec()), state, ctx)
    assert state.basis is not None
    provider.stale = True
    again = await reconcile.refresh_verdict(estimate_object(spec(), first.status), state, ctx, EMPTY_VIEW)
    assert again.status is not None and again.status["pricingStaleSince"] == "2026-01-01T00:00:00Z"

"""Fixtures for every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cloudcostguard.estimation import memo
from cloudcostguard.pricing.snapshot import load_bundled_catalog


@pytest.fixture(autouse=True)
def _no_remembered_estimates() -> Iterator[None]:
    """Each test starts without the webhook's remembered estimates: a test that swaps in a slow or
    failing estimator must see it called, not an earlier test's estimate of the same object."""
    memo.forget(load_bundled_catalog())
    yield

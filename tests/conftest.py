"""Fixtures for every test: no test reads or writes the real user's cache directory, and none sees the
estimates an earlier test left in the webhook's memo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloudcostguard.estimation import memo
from cloudcostguard.estimation.registry import load_all_pricers
from cloudcostguard.pricing.snapshot import load_bundled_catalog

# Every pricer registered before any test runs, whatever the order: tests that enumerate PRICERS and
# USAGE_KEYS see them all. The estimator's own loading (only the types met) runs in fresh interpreters
# (tests/unit/estimation/test_pricer_index.py).
load_all_pricers()


@pytest.fixture(autouse=True)
def _own_cache_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # The synced catalog file defaults to $XDG_CACHE_HOME/cloudcostguard/ (pricing.catalog_file): a
    # catalog left there by a developer's `pricing sync` would otherwise change every estimate here.
    # Subprocesses inherit the variable.
    cache: Path = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("CCG_CATALOG_FILE", raising=False)


@pytest.fixture(autouse=True)
def _no_remembered_estimates() -> Iterator[None]:
    """Each test starts without the webhook's remembered estimates: a test that swaps in a slow or
    failing estimator must see it called, not an earlier test's estimate of the same object."""
    memo.forget(load_bundled_catalog())
    yield

"""Reliability tests (RELIABILITY.md). Cases marked ``reliability_long`` take minutes: they run only when
``-m`` names the marker (``make reliability``); ``make test`` runs the short ones."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "reliability_long" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="long reliability case: `make reliability` (pytest -m reliability_long)")
    for item in items:
        if item.get_closest_marker("reliability_long") is not None:
            item.add_marker(skip)

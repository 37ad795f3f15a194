"""Suite-wide isolation: no test reads or writes the real user's cache directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_cache_directory(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    # The synced catalog file defaults to $XDG_CACHE_HOME/cloudcostguard/ (pricing.catalog_file): a
    # catalog left there by a developer's `pricing sync` would otherwise change every estimate here.
    # Subprocesses inherit the variable.
    cache: Path = tmp_path_factory.mktemp("xdg-cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    monkeypatch.delenv("CCG_CATALOG_FILE", raising=False)

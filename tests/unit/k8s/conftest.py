"""Fixtures shared by the Kubernetes-edge unit tests."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import cloudcostguard


@pytest.fixture
def estimate_threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the thread each ``cloudcostguard.estimate`` call ran in, in call order."""
    threads: list[str] = []
    real = cloudcostguard.estimate

    def spy(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(cloudcostguard, "estimate", spy)
    return threads

"""kopf is pinned to the minor version whose private names the two adapter modules were checked against."""

from __future__ import annotations

import importlib.metadata
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from cloudcostguard.k8s.admission import kopf_webhook
from cloudcostguard.k8s.operator import kopf_api

PYPROJECT = Path(__file__).resolve().parents[3] / "pyproject.toml"


@pytest.mark.parametrize("adapter", [kopf_api, kopf_webhook], ids=lambda module: module.__name__)
def test_the_installed_kopf_is_the_minor_version_the_adapter_was_checked_against(adapter: ModuleType) -> None:
    installed = importlib.metadata.version("kopf")
    checked: str = adapter.KOPF_VERSION_CHECKED
    assert installed.rsplit(".", 1)[0] == checked.rsplit(".", 1)[0], (
        f"kopf {installed} is installed, {adapter.__name__} was checked against {checked}: re-check its "
        "private names, then update KOPF_VERSION_CHECKED and the pin in pyproject.toml"
    )


def test_pyproject_pins_kopf_below_the_next_minor_version() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["dependencies"]
    (pin,) = [d for d in dependencies if d.startswith("kopf")]
    major, minor, _patch = kopf_api.KOPF_VERSION_CHECKED.split(".")
    assert re.fullmatch(rf"kopf>={major}\.{minor}\.\d+,<{major}\.{int(minor) + 1}", pin), pin

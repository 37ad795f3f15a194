"""``cli_settings``: the same values as ``load_settings``, without pydantic when no CCG_ variable is set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scripts.settings_defaults import OUT, settings_defaults_module

from cloudcostguard.cli.common import cli_settings
from cloudcostguard.settings import Settings, load_settings


def _without_ccg(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.upper().startswith("CCG_"):
            monkeypatch.delenv(name)


def test_generated_defaults_match_the_settings_model() -> None:
    assert OUT.read_text() == settings_defaults_module(), "stale: run `make settings-defaults`"


def test_without_ccg_variables_every_value_is_the_models_default(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_ccg(monkeypatch)
    fast = cli_settings(default_region="eu-central-1")
    model = Settings(default_region="eu-central-1")
    assert {name: getattr(fast, name) for name in Settings.model_fields} == model.model_dump()


def test_any_ccg_variable_takes_the_validating_path(monkeypatch: pytest.MonkeyPatch) -> None:
    _without_ccg(monkeypatch)
    monkeypatch.setenv("CCG_MAX_PLAN_BYTES", "1234")
    settings = cli_settings()
    assert isinstance(settings, Settings) and settings.max_plan_bytes == 1234
    assert settings == load_settings()


def test_estimating_without_ccg_variables_does_not_import_pydantic(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text('{"format_version": "1.2", "resource_changes": []}')
    probe = (
        "import sys, runpy; sys.argv = ['cloudcostguard', 'estimate', sys.argv[1]];"
        "import cloudcostguard.cli as cli\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "print('PYDANTIC' if 'pydantic' in sys.modules else 'NO-PYDANTIC', file=sys.stderr)"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, "-c", probe, str(plan)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.stderr.strip().endswith("NO-PYDANTIC"), result.stderr
    assert "OVERALL TOTAL" in result.stdout

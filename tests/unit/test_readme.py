"""The README stays true: its configuration table is the Settings model, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

from scripts.settings_table import settings_table

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_configuration_table_matches_the_settings_model() -> None:
    assert settings_table() in README, "README's configuration table is stale: run scripts/settings_table.py"


def test_setup_commands_are_make_targets() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w[\w-]*)", README, flags=re.MULTILINE):
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), (
            f"README names missing target {target}"
        )


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in README
    assert re.search(r"^make test$", (ROOT / ".ci" / "run").read_text(), flags=re.MULTILINE)


def test_main_job_example_exists() -> None:
    for path in re.findall(r"cloudcostguard estimate (\S+)", README):
        assert (ROOT / path).exists(), path


def test_quick_start_shows_pricing_sync_as_the_optional_second_step() -> None:
    main_job = README.split("## The main job", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\.venv/bin/cloudcostguard (.+?)\s+#", main_job, flags=re.MULTILINE)
    assert commands[0].startswith("estimate ")
    assert commands[1].startswith("pricing sync ") and "optional" in main_job.split("pricing sync", 1)[1][:80]

"""What the kind e2e tests share: the tool check that decides whether they skip, and running commands."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def missing_tools(*extra: str) -> str | None:
    """Why a kind test cannot run here (None: it can): a tool absent, or no Docker daemon."""
    for tool in ("kind", "kubectl", "docker", *extra):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    info = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    if info.returncode != 0:
        return "the Docker daemon is not reachable (docker info failed)"
    return None


def run(*command: str, stdin: str | None = None, timeout: float = 600, check: bool = True) -> str:
    result = subprocess.run(
        command, input=stdin, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed: {result.stderr.strip()[-2000:]}")
    return result.stdout + result.stderr

"""Coverage-guided fuzzing with atheris (``fuzz_atheris.py``), one process per target.

CI runs a few hundred inputs per target (the harness works, the seeds pass); ``reliability_long`` runs
``ATHERIS_RUNS`` inputs per target (default 20,000) and prints the figures RELIABILITY.md records:
inputs run, seconds, libFuzzer's coverage (``cov``: instrumented branches reached) and features
(``ft``), corpus size, peak RSS, crashes (0, or the test fails with the crashing input's traceback).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.reliability.fuzz_targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
SHORT_RUNS = 300
LONG_RUNS = int(os.environ.get("ATHERIS_RUNS", "20000"))

pytest.importorskip("atheris", reason="atheris (a dev dependency) is not installed")


def fuzz(name: str, runs: int, work: Path, timeout: float) -> dict[str, object]:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "tests.reliability.fuzz_atheris", name, str(work / "corpus"),
         f"-runs={runs}", f"-artifact_prefix={work}/", "-seed=1"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    output = result.stderr + result.stdout
    crashes = sorted(path.name for path in work.glob("crash-*")) + sorted(
        path.name for path in work.glob("timeout-*")
    )
    assert result.returncode == 0 and not crashes, f"{name}: {crashes}\n{output[-4000:]}"
    done = re.search(r"#(\d+)\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)/", output)
    assert done is not None, output[-2000:]
    peak = re.search(r"stat::peak_rss_mb:\s+(\d+)", output)
    figures: dict[str, object] = {
        "target": name,
        "runs": int(done.group(1)),
        "seconds": round(seconds, 1),
        "cov": int(done.group(2)),
        "ft": int(done.group(3)),
        "corpus": int(done.group(4)),
        "peak_rss_mb": int(peak.group(1)) if peak else None,
        "crashes": len(crashes),
    }
    print(f"atheris {figures}")
    return figures


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_short_coverage_guided_run_finds_no_crash(name: str, tmp_path: Path) -> None:
    figures = fuzz(name, SHORT_RUNS, tmp_path, timeout=300)
    # libFuzzer's count includes the seed corpus it replays first, so it may exceed -runs
    assert isinstance(figures["runs"], int) and figures["runs"] >= SHORT_RUNS
    assert isinstance(figures["cov"], int) and figures["cov"] > 100  # the product is instrumented


@pytest.mark.reliability_long
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_long_coverage_guided_run_finds_no_crash(name: str, tmp_path: Path) -> None:
    figures = fuzz(name, LONG_RUNS, tmp_path, timeout=max(600.0, LONG_RUNS * 0.1))
    assert isinstance(figures["runs"], int) and figures["runs"] >= LONG_RUNS

"""Benchmark: A/B of ``estimate()`` between two source trees, in separate processes taking turns.

A change worth a few percent hides in this machine's noise: two runs of ``estimate_large_plan.py`` differ
by up to 25 % in their floors. Here each turn starts one process per tree (its ``operator/`` first on
``PYTHONPATH``), and each process measures the floor (``orjson.loads`` + free, collector paused) and
``estimate()`` with an empty memo interleaved, at every size, on the same generated plans; the turns
alternate the trees. Reported per size and tree: the medians over the turns of the floor, the estimate
and the ratio of the two.

    .venv/bin/python benchmarks/estimate_ab.py OTHER_CHECKOUT [--sizes 500 5000] [--turns 8] [--shape S]

``OTHER_CHECKOUT`` is a checkout of another commit (``git worktree add /tmp/base <commit>``): "A" is
that tree, "B" this one.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]

# Run in each tree's process: the plans and the timing loop are this checkout's benchmark module.
MEASURE = """
import sys, orjson
sys.path.insert(0, {benchmarks!r})
import estimate_large_plan as bench
import cloudcostguard
from cloudcostguard.estimation import memo
from cloudcostguard.plan import decoder  # noqa: F401 - loaded, as the operator does
from cloudcostguard.pricing.snapshot import load_bundled_catalog

catalog = load_bundled_catalog()
out = {{}}
for size in {sizes!r}:
    plan = bench.generate_plan(size, shape={shape!r})
    cloudcostguard.estimate(plan, catalog=catalog)

    def run(plan=plan):
        memo.forget(catalog)
        cloudcostguard.estimate(plan, catalog=catalog)

    out[size] = bench.interleaved_medians([bench.fair_floor(plan), run], max(5, 60000 // size))
sys.stdout.write(orjson.dumps(out, option=orjson.OPT_NON_STR_KEYS).decode())
"""


def measure(tree: Path, sizes: list[int], shape: str) -> dict[int, tuple[float, float]]:
    """(floor, estimate) seconds per size, in a fresh process running ``tree``'s code."""
    environment = {**os.environ, "PYTHONPATH": str(tree / "operator")}
    code = MEASURE.format(benchmarks=str(ROOT / "benchmarks"), sizes=sizes, shape=shape)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=environment,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{tree}: the measuring process failed: {done.stderr.strip()[-500:]}")
    return {int(size): (floor, price) for size, (floor, price) in orjson.loads(done.stdout).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("other", type=Path, help="checkout of the other commit (A)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 5000], help="plan sizes (resources)")
    parser.add_argument("--turns", type=int, default=8, help="processes per tree, alternating")
    parser.add_argument(
        "--shape", choices=("terraform", "changes"), default="terraform", help="the plans' layout"
    )
    args = parser.parse_args()
    if not (args.other / "operator" / "cloudcostguard").is_dir():
        raise SystemExit(f"{args.other}: not a checkout of this project (no operator/cloudcostguard)")
    trees = {"A": args.other.resolve(), "B": ROOT}
    runs: dict[str, list[dict[int, tuple[float, float]]]] = {name: [] for name in trees}
    for _ in range(args.turns):
        for name, tree in trees.items():
            runs[name].append(measure(tree, args.sizes, args.shape))
    print(f"A = {trees['A']}, B = {trees['B']}; medians over {args.turns} turns each")
    for size in args.sizes:
        line = f"{size:>7,} resources:"
        for name in trees:
            pairs = [run[size] for run in runs[name]]
            floor = statistics.median(f for f, _ in pairs)
            price = statistics.median(p for _, p in pairs)
            ratio = statistics.median(p / f for f, p in pairs)
            line += f"  {name}: floor {floor * 1000:.2f} ms, estimate {price * 1000:.2f} ms, {ratio:.2f}×"
        print(line)


if __name__ == "__main__":
    main()

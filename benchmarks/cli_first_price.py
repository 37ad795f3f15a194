"""Benchmark: ``cloudcostguard estimate`` of a one-resource plan, start to first price (issue 8).

    .venv/bin/python benchmarks/cli_first_price.py [--repeat 21] [--catalog-file FILE]

Each run is a new process, as a CI job runs it: ``python -m cloudcostguard estimate PLAN --format json``
on a plan with one ``aws_instance``. The figures are the wall time from spawning the process to its
exit (the price is printed last), its CPU time and its peak resident memory (``ru_maxrss``), medians
of ``--repeat`` runs. The baseline, in the same run and taking turns, is a bare interpreter that
imports nothing (``python -c pass``): what no change of ours can make faster.

With ``--catalog-file`` the runs price from that catalog file (``CCG_CATALOG_FILE``) instead of the
bundled snapshot, e.g. a ``pricing sync`` result.

The limits (issue 8): ≤ 150 ms start-to-first-price and ≤ 80 MB peak memory.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

LIMIT_MS = 150
LIMIT_MB = 80

PLAN = {
    "format_version": "1.2",
    "terraform_version": "1.11.4",
    "configuration": {
        "provider_config": {
            "aws": {"name": "aws", "expressions": {"region": {"constant_value": "us-east-1"}}}
        }
    },
    "resource_changes": [
        {
            "address": "aws_instance.web",
            "mode": "managed",
            "type": "aws_instance",
            "name": "web",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {
                "actions": ["create"],
                "before": None,
                "after": {"instance_type": "m5.large", "ami": "ami-0"},
                "after_unknown": {},
            },
        }
    ],
}


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Run ``command`` inside a fresh helper process, so ``ru_maxrss`` is that run's peak alone."""
    helper = (
        "import os,resource,subprocess,sys,time,json;"
        "t=time.perf_counter();p=subprocess.run(sys.argv[1:],capture_output=True);"
        "w=(time.perf_counter()-t)*1000;u=resource.getrusage(resource.RUSAGE_CHILDREN);"
        "sys.stderr.write(p.stderr.decode()) if p.returncode else None;"
        "print(json.dumps([p.returncode,w,(u.ru_utime+u.ru_stime)*1000,u.ru_maxrss/1024]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", helper, *command], capture_output=True, env=env, check=False
    )
    code, wall, cpu, peak = orjson.loads(result.stdout)
    if code != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode()[:500]}")
    return wall, cpu, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--catalog-file", type=Path)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCG_")}
    with tempfile.TemporaryDirectory() as folder:
        env["CCG_CATALOG_FILE"] = str(args.catalog_file or Path(folder) / "no-synced-catalog.json")
        plan = Path(folder) / "plan.json"
        plan.write_bytes(orjson.dumps(PLAN))
        estimate = [sys.executable, "-m", "cloudcostguard", "estimate", str(plan), "--format", "json"]
        bare = [sys.executable, "-c", "pass"]
        check = subprocess.run(estimate, capture_output=True, env=env, check=False)
        if check.returncode != 0:
            raise SystemExit(f"estimate failed: {check.stderr.decode()[:500]}")
        document = orjson.loads(check.stdout)
        runs: dict[str, list[tuple[float, float, float]]] = {"bare": [], "estimate": []}
        for _ in range(args.repeat):
            runs["bare"].append(measure(bare, env))
            runs["estimate"].append(measure(estimate, env))
    load = os.getloadavg()[0]
    print(
        f"pricing: {document['pricing']['source']} {document['pricing']['version']}; "
        f"total {document['totalMonthlyCost']}"
    )
    print(f"median of {args.repeat} runs, load average {load:.1f}")
    print(f"{'':<22}{'wall ms':>9}{'CPU ms':>9}{'peak MB':>9}")
    for name, label in (("bare", "python -c pass"), ("estimate", "estimate (1 resource)")):
        wall, cpu, peak = (statistics.median(column) for column in zip(*runs[name], strict=True))
        print(f"{label:<22}{wall:9.1f}{cpu:9.1f}{peak:9.1f}")
    wall, _, peak = (statistics.median(column) for column in zip(*runs["estimate"], strict=True))
    verdict = "within" if wall <= LIMIT_MS and peak <= LIMIT_MB else "OVER"
    print(f"limits ≤ {LIMIT_MS} ms and ≤ {LIMIT_MB} MB: {verdict}")


if __name__ == "__main__":
    main()

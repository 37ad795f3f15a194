"""Benchmark: ``cloudcostguard estimate`` of a one-resource plan, start to first price (issue 8).

    .venv/bin/python benchmarks/cli_first_price.py [--repeat 21] [--catalog-file FILE]

Each run is a new process, as a CI job runs it: ``python -m cloudcostguard estimate PLAN --format json``
on a plan with one ``aws_instance``. The figures are the wall time from spawning the process to its
exit (the price is printed last), its CPU time and its peak resident memory (``ru_maxrss``), medians
of ``--repeat`` runs. The baseline, in the same run and taking turns, is a bare interpreter that
imports nothing (``python -c pass``): what no change of ours can make faster.

No ``CCG_`` variable is passed on (a CI job's usual case). With ``--catalog-file`` the runs price from
that catalog file (``estimate --catalog FILE``) instead of the bundled snapshot, e.g. a ``pricing
sync`` result.

``--compare-ref REF`` (e.g. ``main``) also runs REF's package, extracted with ``git archive`` and put
first on ``PYTHONPATH``, taking turns with this tree: before and after under the same load.

Every run imports from bytecode caches, as an installed package does (pip compiles its modules on
install): the package trees measured are compiled first (``compileall``), ``PYTHONDONTWRITEBYTECODE``
is dropped from the runs' environment, and a warm-up run of each writes whatever is still missing. An
editable tree in a shell with ``PYTHONDONTWRITEBYTECODE=1`` has no caches at all, and compiling every
module on every start measured some 70 ms more: a figure no user sees.

The limits (issue 8): ≤ 150 ms start-to-first-price and ≤ 80 MB peak memory. On this shared 2-core
machine the wall time follows the load average; the CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

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


def compile_package(root: Path) -> int:
    """Write the bytecode caches of every module under ``root`` (a package folder); returns how many
    modules it holds, after checking that each has its cache now."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root)], check=True, capture_output=True)
    sources = sorted(root.rglob("*.py"))
    missing = [s for s in sources if not Path(importlib.util.cache_from_source(str(s))).exists()]
    if missing:
        raise SystemExit(f"no bytecode cache for {len(missing)} modules, e.g. {missing[0]}")
    return len(sources)


def package_root() -> Path:
    """This tree's package folder (the one ``python -m cloudcostguard`` runs), without importing it."""
    spec = importlib.util.find_spec("cloudcostguard")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("cloudcostguard is not importable from this interpreter")
    return Path(next(iter(spec.submodule_search_locations)))


def warm_up(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One untimed run; its JSON estimate (a failure stops the benchmark)."""
    check = subprocess.run(command, capture_output=True, env=env, check=False)
    if check.returncode != 0:
        raise SystemExit(f"estimate failed: {check.stderr.decode()[:500]}")
    document: dict[str, Any] = orjson.loads(check.stdout)
    return document


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--catalog-file", type=Path)
    parser.add_argument("--compare-ref", metavar="REF", help="also measure this git ref's package")
    args = parser.parse_args()
    # Without PYTHONDONTWRITEBYTECODE: the runs read (and, warming up, write) bytecode caches.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCG_") and k != "PYTHONDONTWRITEBYTECODE"}
    compiled = {"this tree": compile_package(package_root())}
    with tempfile.TemporaryDirectory() as folder:
        env["XDG_CACHE_HOME"] = folder  # no synced catalog file: the bundled snapshot
        plan = Path(folder) / "plan.json"
        plan.write_bytes(orjson.dumps(PLAN))
        bundled = [sys.executable, "-m", "cloudcostguard", "estimate", str(plan), "--format", "json"]
        estimate = [*bundled, "--catalog", str(args.catalog_file)] if args.catalog_file else bundled
        bare = [sys.executable, "-c", "pass"]
        variants: dict[str, tuple[list[str], dict[str, str]]] = {
            "python -c pass": (bare, env),
            "estimate (1 resource)": (estimate, env),
        }
        if args.compare_ref:
            old = Path(folder) / "ref"
            old.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.compare_ref, "operator"], capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
            old_env = {**env, "PYTHONPATH": str(old / "operator")}
            compiled[args.compare_ref] = compile_package(old / "operator" / "cloudcostguard")
            variants[f"  … at {args.compare_ref}"] = (bundled, old_env)
        # Warm-up: one run of each, which also writes any bytecode cache compileall did not.
        documents = [warm_up(command, variant_env) for command, variant_env in list(variants.values())[1:]]
        document = documents[0]
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in variants}
        for _ in range(args.repeat):
            for name, (command, variant_env) in variants.items():
                runs[name].append(measure(command, variant_env))
    load = os.getloadavg()[0]
    print(
        "bytecode caches: compiled first ("
        + ", ".join(f"{name}: {count} modules" for name, count in compiled.items())
        + "), PYTHONDONTWRITEBYTECODE unset for the runs, one warm-up run each"
    )
    print(
        f"pricing: {document['pricing']['source']} {document['pricing']['version']}; "
        f"total {document['totalMonthlyCost']}"
        + (
            ""
            if all(d["totalMonthlyCost"] == document["totalMonthlyCost"] for d in documents)
            else f" (OTHER TOTALS: {[d['totalMonthlyCost'] for d in documents]})"
        )
    )
    print(f"median of {args.repeat} runs, load average {load:.1f}")
    print(f"{'':<24}{'wall ms':>9}{'CPU ms':>9}{'peak MB':>9}")
    for label, measured in runs.items():
        wall, cpu, peak = (statistics.median(column) for column in zip(*measured, strict=True))
        print(f"{label:<24}{wall:9.1f}{cpu:9.1f}{peak:9.1f}")
    wall, cpu, peak = (statistics.median(c) for c in zip(*runs["estimate (1 resource)"], strict=True))
    print(
        f"limits ≤ {LIMIT_MS} ms and ≤ {LIMIT_MB} MB: wall {'within' if wall <= LIMIT_MS else 'OVER'}, "
        f"CPU {'within' if cpu <= LIMIT_MS else 'OVER'}, memory {'within' if peak <= LIMIT_MB else 'OVER'}"
    )


if __name__ == "__main__":
    main()

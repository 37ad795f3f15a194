"""The pricer index (``estimation/pricer_index.py``, generated) and loading pricers on demand.

The estimator imports only the pricer modules of the types it meets. Each check of that runs in a
fresh interpreter: this test process registered every pricer before any test ran (tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import orjson

from cloudcostguard.estimation import aws
from cloudcostguard.estimation.pricer_index import PRICER_MODULES
from cloudcostguard.estimation.registry import PRICERS
from tests.plans import change, plan, provider

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "pricer_index.py"
BENCH = ROOT / "benchmarks" / "estimate_large_plan.py"
TIMEOUT = 120
AWS = "cloudcostguard.estimation.aws."

# Prints the estimate's JSON, its warnings (JSON) and the pricer modules imported, one line each.
# argv: plan file, usage file or "", "all" to register every pricer first.
_ESTIMATE = f"""
import sys
import orjson
import cloudcostguard
from cloudcostguard.estimation.registry import load_all_pricers
from cloudcostguard.render import render_json_bytes
from pathlib import Path
if sys.argv[3] == "all":
    load_all_pricers()
usage = Path(sys.argv[2]).read_text() if sys.argv[2] else None
estimate = cloudcostguard.estimate(Path(sys.argv[1]).read_bytes(), usage=usage)
sys.stdout.buffer.write(render_json_bytes(estimate).rstrip(b"\\n") + b"\\n")
sys.stdout.buffer.write(orjson.dumps(estimate.warnings) + b"\\n")
print(" ".join(sorted(m.removeprefix({AWS!r}) for m in sys.modules if m.startswith({AWS!r}))))
"""


def _estimate(plan_file: Path, usage_file: Path | None, *, load_all: bool) -> tuple[bytes, set[str]]:
    """The estimate's JSON with its warnings (one document), and the pricer modules imported."""
    result = subprocess.run(
        [sys.executable, "-c", _ESTIMATE, str(plan_file), str(usage_file or ""), "all" if load_all else ""],
        capture_output=True,
        timeout=TIMEOUT,
        check=True,
    )
    document, warnings, modules = result.stdout.rstrip(b"\n").rsplit(b"\n", 2)
    return orjson.dumps([orjson.loads(document), orjson.loads(warnings)]), set(modules.decode().split())


def test_the_index_is_what_the_pricer_modules_register() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--print"], capture_output=True, timeout=TIMEOUT, check=True, cwd=ROOT
    )
    index = ROOT / "operator" / "cloudcostguard" / "estimation" / "pricer_index.py"
    assert result.stdout.decode() == index.read_text(), "stale: run `make pricer-index`"
    assert set(PRICER_MODULES) == set(PRICERS)  # every registered type, and nothing else


def test_a_plan_with_every_type_prices_the_same_loaded_on_demand_or_all_at_once(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("estimate_large_plan", BENCH)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(bench.generate_plan(5000, mix="full"))
    usage_file = tmp_path / "usage.yml"
    usage_file.write_text(bench.USAGE_YAML)
    on_demand, loaded = _estimate(plan_file, usage_file, load_all=False)
    all_at_once, _ = _estimate(plan_file, usage_file, load_all=True)
    assert on_demand == all_at_once
    estimate, _ = orjson.loads(on_demand)
    priced = {r["resourceType"] for r in estimate["resources"] if r["support"] == "priced"}
    assert priced == set(PRICERS)
    # Every module then: those the index names, and the helpers they import (compute, linked, …).
    assert loaded == {module.name for module in pkgutil.iter_modules(aws.__path__)}


def test_a_small_plan_imports_only_its_pricers_and_the_usage_files(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_bytes(
        orjson.dumps(
            plan(
                change("aws_instance.web", ["create"], after={"instance_type": "m5.large"}),
                change("aws_vpc.main", ["create"], after={}),
                change("google_compute_instance.vm", ["create"], after={}),
                providers={"aws": provider("eu-west-1")},
            )
        )
    )
    alone, loaded = _estimate(plan_file, None, load_all=False)
    assert alone == _estimate(plan_file, None, load_all=True)[0]
    assert PRICER_MODULES["aws_instance"] in loaded
    assert PRICER_MODULES["aws_lambda_function"] not in loaded
    assert len(loaded) < len(set(PRICER_MODULES.values())) / 4
    # A usage file's types load too: a usage-only resource, and a typo in a type the plan lacks.
    usage_file = tmp_path / "usage.yml"
    usage_file.write_text(
        "version: 0.1\nresource_usage:\n"
        "  aws_data_transfer.out: {region: eu-west-1, monthly_outbound_internet_gb: 500}\n"
        "  aws_lambda_function.gone: {monthly_requestz: 5}\n"
    )
    with_usage, loaded = _estimate(plan_file, usage_file, load_all=False)
    assert with_usage == _estimate(plan_file, usage_file, load_all=True)[0]
    assert {PRICER_MODULES["aws_data_transfer"], PRICER_MODULES["aws_lambda_function"]} <= loaded
    document, warnings = orjson.loads(with_usage)
    assert any(
        r["name"] == "aws_data_transfer.out" and r["support"] == "priced" for r in document["resources"]
    )
    assert any("monthly_requestz" in w for w in warnings)

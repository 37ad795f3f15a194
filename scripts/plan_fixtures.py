"""Regenerate the golden cases' plan JSON from their Terraform with real Terraform (``make fixtures``).

Each case under ``tests/fixtures/infracost/<case>/`` that holds a ``main.tf`` is planned in a scratch
directory: ``terraform init`` against a local provider mirror (no network), ``terraform plan
-refresh=false``, ``terraform show -json``; the result replaces the case's ``plan.json``. Tests and CI
read the committed ``plan.json`` and never need Terraform.

The AWS provider is pinned to ``PROVIDER_VERSION`` by a generated ``versions.tf``; ``main.tf`` brings
its own ``provider "aws"`` block (mock keys and the ``skip_*`` settings, as Infracost's test files
have). The mirror is ``$CCG_TERRAFORM_MIRROR``, else the first folder holding
``registry.terraform.io/hashicorp/aws/<version>`` among ``MIRROR_CANDIDATES``.

    .venv/bin/python scripts/plan_fixtures.py [CASE ...]      # default: every case with a main.tf
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = ROOT / "tests" / "fixtures" / "infracost"
PROVIDER_VERSION = "5.100.0"
MIRROR_CANDIDATES = (
    Path("/opt/tf-plugins"),
    Path.home() / ".terraform.d" / "plugins",
    Path("/usr/share/terraform/plugins"),
)
TIMEOUT_SECONDS = 300  # one init or plan; a hung provider fails the run instead of blocking it
VERSIONS_TF = f"""terraform {{
  required_providers {{
    aws = {{
      source  = "hashicorp/aws"
      version = "{PROVIDER_VERSION}"
    }}
  }}
}}
"""
# Fields that change on every run without changing the plan: dropped so fixtures diff cleanly.
VOLATILE_FIELDS = ("timestamp",)


class FixtureError(Exception):
    pass


def find_mirror() -> Path:
    configured = os.environ.get("CCG_TERRAFORM_MIRROR")
    candidates = [Path(configured)] if configured else list(MIRROR_CANDIDATES)
    for candidate in candidates:
        if (candidate / "registry.terraform.io" / "hashicorp" / "aws" / PROVIDER_VERSION).is_dir():
            return candidate
    raise FixtureError(
        f"no AWS provider {PROVIDER_VERSION} mirror in {', '.join(map(str, candidates))} "
        "(set CCG_TERRAFORM_MIRROR to the folder holding registry.terraform.io)"
    )


def plan_case(case: Path, mirror: Path, terraform: str) -> dict[str, object]:
    """The plan JSON of ``case``'s Terraform, planned from scratch in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix=f"ccg-{case.name}-") as scratch:
        work = Path(scratch)
        for source in case.glob("*.tf"):
            shutil.copy(source, work / source.name)
        (work / "versions.tf").write_text(VERSIONS_TF)
        cli_config = work / "terraformrc"
        cli_config.write_text(
            f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n'
        )
        env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(cli_config),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        for command in (
            [terraform, "init", "-backend=false", "-no-color"],
            [terraform, "plan", "-refresh=false", "-lock=false", "-no-color", "-out=tfplan"],
        ):
            _run(command, work, env, case.name)
        shown = _run([terraform, "show", "-json", "tfplan"], work, env, case.name)
    document = orjson.loads(shown)
    for name in VOLATILE_FIELDS:
        document.pop(name, None)
    return dict(document)


def _run(command: list[str], cwd: Path, env: dict[str, str], case: str) -> bytes:
    try:
        result = subprocess.run(
            command, check=False, cwd=cwd, env=env, capture_output=True, timeout=TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired as err:
        raise FixtureError(f"{case}: `{' '.join(command[1:3])}` took over {TIMEOUT_SECONDS} s") from err
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).decode(errors="replace").strip()
        raise FixtureError(f"{case}: `{' '.join(command[1:3])}` failed:\n{detail}")
    return result.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help="case folder names (default: every case with a main.tf)")
    args = parser.parse_args(argv)
    terraform = shutil.which("terraform")
    if terraform is None:
        print("plan_fixtures: terraform is not on PATH", file=sys.stderr)
        return 2
    names = args.cases or sorted(p.name for p in CASES_DIR.iterdir() if (p / "main.tf").exists())
    try:
        mirror = find_mirror()
        for name in names:
            case = CASES_DIR / name
            if not (case / "main.tf").exists():
                raise FixtureError(f"{name}: no main.tf in {case}")
            document = plan_case(case, mirror, terraform)
            (case / "plan.json").write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
            print(f"planned {name}: {len(document.get('resource_changes') or [])} resource changes")
    except FixtureError as err:
        print(f"plan_fixtures: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

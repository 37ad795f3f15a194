"""``cloudcostguard usage template PLAN [--output FILE]``: a usage-file skeleton for a plan."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from cloudcostguard import errors
from cloudcostguard.cli.common import read_input


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "usage", help="work with usage files", description="Work with Infracost-compatible usage files."
    )
    actions = parser.add_subparsers(dest="usage_command", required=True, metavar="ACTION")
    template = actions.add_parser(
        "template",
        help="write a usage file skeleton for a plan's usage-based resources",
        description="Write a usage file listing every usage-based resource of PLAN with every key its "
        "pricer reads, commented out. PLAN is a file or - for stdin.",
    )
    template.add_argument("plan", metavar="PLAN", help="plan JSON file from `terraform show -json`, or -")
    template.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    template.add_argument("--default-region", metavar="REGION", help="region when the plan sets none")
    template.set_defaults(handler=run_template)


def run_template(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so that `cloudcostguard --help` stays fast.
    from cloudcostguard.estimation.usage_template import usage_template  # noqa: PLC0415
    from cloudcostguard.plan.reader import read_plan  # noqa: PLC0415
    from cloudcostguard.settings import load_settings  # noqa: PLC0415

    settings = load_settings(default_region=args.default_region)
    plan_bytes = read_input(args.plan, what="plan", max_bytes=settings.max_plan_bytes)
    plan = read_plan(plan_bytes, default_region=settings.default_region, max_bytes=settings.max_plan_bytes)
    text = usage_template(plan)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    try:
        Path(args.output).write_text(text)
    except OSError as err:
        raise errors.CloudCostGuardError(f"cannot write {args.output}: {err.strerror or err}") from err
    return 0

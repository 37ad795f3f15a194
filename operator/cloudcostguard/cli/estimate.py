"""``cloudcostguard estimate PLAN [--usage FILE] [--format table|json|markdown] [--database-url URL]
[--fail-on-unpriced]``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from cloudcostguard import errors
from cloudcostguard.cli.common import active_catalog, cli_settings, read_input

if TYPE_CHECKING:
    pass

# The same names as cloudcostguard.render.FORMATS (a test keeps them equal); spelled out here so that
# building the parser, and so `--help`, imports nothing heavy.
FORMATS = ("table", "json", "markdown")
# The input was fine, the estimate is incomplete: not the bad-input code 2.
EXIT_UNPRICED = 1
# Unpriced addresses named on stderr before "and N more" (the output lists them all).
NAMED_UNPRICED = 5


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "estimate",
        help="price a Terraform plan (terraform show -json)",
        description="Print what a Terraform plan costs per month. PLAN is a file or - for stdin.",
    )
    parser.add_argument("plan", metavar="PLAN", help="plan JSON file from `terraform show -json`, or -")
    parser.add_argument("--usage", metavar="FILE", help="Infracost-compatible usage file (YAML)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="price from the PostgreSQL pricing store (env CCG_DATABASE_URL)",
    )
    parser.add_argument(
        "--catalog",
        metavar="FILE",
        help="price from this catalog file (env CCG_CATALOG_FILE; default: the one `pricing sync` "
        "wrote, if any, else the bundled prices)",
    )
    parser.add_argument("--default-region", metavar="REGION", help="region when the plan sets none")
    parser.add_argument(
        "--fail-on-unpriced",
        action="store_true",
        help=f"exit {EXIT_UNPRICED} when a resource is unsupported or has a price that was not found",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so that `cloudcostguard --help` stays fast.
    import cloudcostguard  # noqa: PLC0415
    from cloudcostguard.render import render, render_json_bytes  # noqa: PLC0415

    settings = cli_settings(default_region=args.default_region)
    if args.plan == "-" and args.usage == "-":
        raise errors.CloudCostGuardError("the plan and the usage file cannot both be read from stdin")
    plan_bytes = read_input(args.plan, what="plan", max_bytes=settings.max_plan_bytes)
    usage = read_input(args.usage, what="usage", max_bytes=settings.max_plan_bytes) if args.usage else None
    catalog = active_catalog(args.database_url, args.catalog, settings)
    estimate = cloudcostguard.estimate(
        plan_bytes,
        usage=usage,
        catalog=catalog,
        default_region=settings.default_region,
        max_plan_bytes=settings.max_plan_bytes,
        hours_per_month=settings.hours_per_month,
    )
    for warning in estimate.warnings:
        print(f"cloudcostguard: warning: {warning}", file=sys.stderr)
    del plan_bytes, usage  # read: only the estimate is needed from here on (peak memory)
    binary = getattr(sys.stdout, "buffer", None)
    if args.format == "json" and binary is not None:
        # A large plan's JSON goes out as bytes, never as one big str (peak memory, issue 11).
        sys.stdout.flush()
        binary.write(render_json_bytes(estimate))
        binary.flush()
    else:
        sys.stdout.write(render(estimate, args.format))
        sys.stdout.flush()
    if args.fail_on_unpriced:
        unpriced = estimate.coverage().unpriced
        if unpriced:
            named = ", ".join(unpriced[:NAMED_UNPRICED])
            more = f" and {len(unpriced) - NAMED_UNPRICED} more" if len(unpriced) > NAMED_UNPRICED else ""
            print(
                f"cloudcostguard: {len(unpriced)} resource(s) could not be priced: {named}{more}",
                file=sys.stderr,
            )
            return EXIT_UNPRICED
    return 0

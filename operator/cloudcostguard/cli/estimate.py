"""``cloudcostguard estimate PLAN [--usage FILE] [--format table|json|markdown] [--database-url URL]``."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

from cloudcostguard import errors
from cloudcostguard.cli.common import read_input

# The same names as cloudcostguard.render.FORMATS (a test keeps them equal); spelled out here so that
# building the parser, and so `--help`, imports nothing heavy.
FORMATS = ("table", "json", "markdown")


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
        help="price from the PostgreSQL pricing store (env CCG_DATABASE_URL); default: bundled prices",
    )
    parser.add_argument("--default-region", metavar="REGION", help="region when the plan sets none")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported here, not at the top, so that `cloudcostguard --help` stays fast.
    import cloudcostguard  # noqa: PLC0415
    from cloudcostguard.render import render  # noqa: PLC0415
    from cloudcostguard.settings import load_settings  # noqa: PLC0415

    settings = load_settings(default_region=args.default_region)
    if args.plan == "-" and args.usage == "-":
        raise errors.CloudCostGuardError("the plan and the usage file cannot both be read from stdin")
    plan_bytes = read_input(args.plan, what="plan", max_bytes=settings.max_plan_bytes)
    usage = read_input(args.usage, what="usage", max_bytes=settings.max_plan_bytes) if args.usage else None
    catalog = None
    database_url = args.database_url or (
        settings.database_url.get_secret_value() if settings.database_url else None
    )
    if database_url:
        catalog = _catalog_from_database(database_url, settings)
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
    sys.stdout.write(render(estimate, args.format))
    sys.stdout.flush()
    return 0


def _catalog_from_database(database_url: str, settings: Any) -> Any:
    # Looked up by name: the PostgreSQL store is an optional part of a build (issue 3).
    try:
        loader = importlib.import_module("cloudcostguard.pricing.store.one_shot_catalog")
    except ModuleNotFoundError as err:
        if err.name not in ("cloudcostguard.pricing.store", "cloudcostguard.pricing.store.one_shot_catalog"):
            raise
        raise errors.PricingError("this build has no PostgreSQL pricing store") from err
    return loader.load_catalog_once(database_url, settings)

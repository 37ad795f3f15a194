"""``cloudcostguard estimate PLAN [--usage FILE] [--format table|json|markdown] [--database-url URL]``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from cloudcostguard import errors
from cloudcostguard.cli.common import read_input

if TYPE_CHECKING:
    from cloudcostguard.pricing.catalog import InMemoryCatalog
    from cloudcostguard.settings import Settings

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


def _catalog_from_database(database_url: str, settings: Settings) -> InMemoryCatalog:
    # Imported here: asyncpg loads only when a database is asked for.
    from cloudcostguard.pricing.store.one_shot_catalog import load_catalog_once  # noqa: PLC0415

    return load_catalog_once(database_url, settings)

"""``cloudcostguard pricing sync`` and ``pricing coverage``: the local catalog file, without a database.

    cloudcostguard pricing sync [--region REGION]... [--plan PLAN] [--catalog FILE] [--format json|csv]
    cloudcostguard pricing coverage [--database-url URL | --catalog FILE] [--plan PLAN [--usage FILE]]

``sync`` downloads AWS's public Price List for the priced services and the regions asked for (the
plan's regions, else CCG_PRICING_REGIONS) into the catalog file that ``estimate`` then prices from.
``coverage`` shows what the active catalog can price, and with ``--plan`` which of a plan's components
would have no price and why. Errors are one line on stderr, exit 2; progress is on stderr, on a
terminal only.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cloudcostguard import errors
from cloudcostguard.cli.common import read_input


def register(commands: Any) -> None:
    """Add ``sync`` and ``coverage`` to the ``pricing`` subcommands."""
    sync = commands.add_parser(
        "sync",
        help="download AWS's public Price List into the local catalog file (no database)",
        description="Download the AWS Price List (service index → region index → regional offer file) for "
        "the priced services and the regions asked for, into the local catalog file that `estimate` "
        "uses. Unchanged files are not downloaded again; the previous catalog stays on any failure.",
    )
    sync.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="REGION",
        help="region to sync (repeatable; default: the --plan's regions, else CCG_PRICING_REGIONS); "
        "regions synced before stay in the file",
    )
    sync.add_argument("--plan", metavar="PLAN", help="sync the regions this plan (terraform show -json) uses")
    sync.add_argument(
        "--catalog", metavar="FILE", help="catalog file to write (env CCG_CATALOG_FILE; default: cache dir)"
    )
    sync.add_argument(
        "--format",
        choices=("json", "csv"),
        default="json",
        help="offer file format to download (default: json)",
    )
    sync.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    sync.set_defaults(handler=run_sync)

    coverage = commands.add_parser(
        "coverage",
        help="what the active catalog can price; with --plan, which components would have no price",
        description="List the services, regions and product families the active catalog can price, "
        "with counts and dates. With --plan, list the plan's components that would have no price and "
        "which service, region or attribute is missing.",
    )
    source = coverage.add_mutually_exclusive_group()
    source.add_argument(
        "--database-url", metavar="URL", help="the PostgreSQL pricing store (env CCG_DATABASE_URL)"
    )
    source.add_argument("--catalog", metavar="FILE", help="a catalog file (default: the synced one, if any)")
    coverage.add_argument("--plan", metavar="PLAN", help="plan JSON (terraform show -json), or -")
    coverage.add_argument("--usage", metavar="FILE", help="usage file for --plan (Infracost-compatible YAML)")
    coverage.add_argument("--default-region", metavar="REGION", help="region when the plan sets none")
    coverage.set_defaults(handler=run_coverage)


# --- sync -------------------------------------------------------------------------------------------


def run_sync(args: argparse.Namespace) -> int:
    from cloudcostguard.pricing.catalog_file import default_catalog_path  # noqa: PLC0415
    from cloudcostguard.pricing.sync import describe, sync_catalog  # noqa: PLC0415
    from cloudcostguard.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    regions = list(args.region)
    if not regions and args.plan:
        regions = _plan_regions(args.plan, settings)
    if not regions:
        regions = list(settings.pricing_regions)
    path = Path(args.catalog) if args.catalog else settings.catalog_file or default_catalog_path()
    show = False if args.no_progress else None  # None: on a terminal only

    async def main() -> Any:
        return await sync_catalog(settings, regions, path, file_format=args.format, show_progress=show)

    result = asyncio.run(main())
    for line in describe(result):
        print(line)
    return 0


def _plan_regions(plan_path: str, settings: Any) -> list[str]:
    from cloudcostguard.estimation.registry import PRICERS, load_all_pricers  # noqa: PLC0415
    from cloudcostguard.plan.reader import read_plan  # noqa: PLC0415

    plan = read_plan(
        read_input(plan_path, what="plan", max_bytes=settings.max_plan_bytes),
        default_region=settings.default_region,
        max_bytes=settings.max_plan_bytes,
    )
    load_all_pricers()
    regions = {
        region
        for change in plan.resource_changes
        if change.resource_type in PRICERS
        for region in (change.region, change.before_region)
        if region
    }
    if not regions:
        raise errors.CloudCostGuardError(f"plan {plan_path} has no priced resource: no region to sync")
    return sorted(regions)


# --- coverage ---------------------------------------------------------------------------------------


def run_coverage(args: argparse.Namespace) -> int:
    from cloudcostguard.settings import load_settings  # noqa: PLC0415

    settings = load_settings(default_region=args.default_region)
    catalog, header, where = _catalog_with_header(args, settings)
    out = sys.stdout
    published = catalog.published_at or header.get("publishedAt")
    out.write(f"catalog: {catalog.source} {catalog.version}{where}\n")
    if published:
        out.write(f"published: {published}{_age_note(str(published))}\n")
    if args.plan:
        return _plan_coverage(args, settings, catalog)
    origin_dates = header.get("originDates") or {}
    file_dates = {
        (f.get("service"), f.get("region")): f.get("publicationDate")
        for f in header.get("files") or []
        if isinstance(f, dict)
    }
    rows = catalog.coverage()
    widths = [
        max([len(title)] + [len(str(getattr(r, field))) for r in rows])
        for title, field in (
            ("SERVICE", "service"),
            ("REGION", "region"),
            ("PRODUCT FAMILY", "product_family"),
        )
    ]
    out.write(
        f"{'SERVICE':<{widths[0]}}  {'REGION':<{widths[1]}}  {'PRODUCT FAMILY':<{widths[2]}}  "
        f"{'PRODUCTS':>8}  {'PRICES':>8}  AS OF\n"
    )
    for row in rows:
        as_of = _as_of(row, origin_dates, file_dates.get((row.service, row.region)) or published)
        out.write(
            f"{row.service:<{widths[0]}}  {row.region:<{widths[1]}}  {row.product_family:<{widths[2]}}  "
            f"{row.products:>8}  {row.prices:>8}  {as_of}\n"
        )
    services = {r.service for r in rows}
    regions = {r.region for r in rows}
    out.write(
        f"{sum(r.products for r in rows)} products, {sum(r.prices for r in rows)} prices; "
        f"{len(services)} services in {len(regions)} regions\n"
    )
    return 0


def _as_of(row: Any, origin_dates: dict[str, str], fallback: object) -> str:
    """The day (or range of days) a row's prices date from: its origins' dates (bundled snapshot),
    else the offer file's or the catalog's publication date."""
    days = sorted({str(day)[:10] for origin in row.origins if (day := origin_dates.get(origin))})
    if not days:
        return str(fallback)[:10] if fallback else "?"
    return days[0] if len(days) == 1 else f"{days[0]} … {days[-1]}"


def _plan_coverage(args: argparse.Namespace, settings: Any, catalog: Any) -> int:
    from cloudcostguard.estimation.missing_prices import missing_prices  # noqa: PLC0415
    from cloudcostguard.estimation.usage import Usage  # noqa: PLC0415
    from cloudcostguard.plan.reader import read_plan  # noqa: PLC0415

    if args.plan == "-" and args.usage == "-":
        raise errors.CloudCostGuardError("the plan and the usage file cannot both be read from stdin")
    plan = read_plan(
        read_input(args.plan, what="plan", max_bytes=settings.max_plan_bytes),
        default_region=settings.default_region,
        max_bytes=settings.max_plan_bytes,
    )
    usage = (
        Usage.parse(read_input(args.usage, what="usage", max_bytes=settings.max_plan_bytes))
        if args.usage
        else None
    )
    missing = missing_prices(plan, catalog, usage, hours_per_month=settings.hours_per_month)
    out = sys.stdout
    if not missing:
        out.write(f"every component of {args.plan} has a price in this catalog\n")
        return 0
    total = sum(len(m.components) for m in missing)
    out.write(f"{total} components of {len(missing)} resources would have no price:\n")
    for item in missing:
        out.write(f"\n{item.address} ({item.region})\n")
        for name in item.components:
            out.write(f"  not found: {name}\n")
        for lookup in item.lookups:
            asked = ", ".join(f"{k}={v}" for k, v in lookup.attributes)
            out.write(f"  {lookup.service} {lookup.region} [{asked}]\n    → {lookup.reason}\n")
    regions = sorted({m.region for m in missing} - catalog.covered_regions())
    if regions and catalog.source in ("bundled", "catalog-file"):
        flags = " ".join(f"--region {r}" for r in regions)
        out.write(f"\nfix: `cloudcostguard pricing sync {flags}` adds the AWS prices of those regions\n")
    return 0


def _catalog_with_header(args: argparse.Namespace, settings: Any) -> tuple[Any, dict[str, Any], str]:
    """The active catalog (the order `estimate` uses), its file header, and where it came from."""
    from cloudcostguard.cli.common import active_catalog  # noqa: PLC0415
    from cloudcostguard.pricing.catalog_file import catalog_path_to_read, read_catalog_file  # noqa: PLC0415
    from cloudcostguard.pricing.snapshot import load_bundled_document  # noqa: PLC0415

    url = args.database_url or (settings.database_url.get_secret_value() if settings.database_url else None)
    if url and not args.catalog:
        return active_catalog(url, None, settings), {}, ""
    path = catalog_path_to_read(args.catalog or settings.catalog_file)
    if path is not None:
        catalog_file = read_catalog_file(path)
        return catalog_file.catalog, catalog_file.header, f" ({path})"
    catalog, header = load_bundled_document()
    return catalog, header, ""


def _age_note(published: str) -> str:
    try:
        days = (datetime.now(UTC).date() - date.fromisoformat(published[:10])).days
    except ValueError:
        return ""
    return f" ({days} days ago)" if days >= 0 else ""

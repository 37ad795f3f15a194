"""``cloudcostguard pricing migrate|load|import-snapshot|status|export|prune|lookup``: the pricing store.

Every subcommand but ``load --dry-run`` needs PostgreSQL: ``--database-url URL`` or
``CCG_DATABASE_URL``. Errors are one line on stderr and exit code 2; progress goes to stderr,
results to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from cloudcostguard import errors
from cloudcostguard.settings import Settings, load_settings

T = TypeVar("T")
DEFAULT_KEEP = 3


def register(subcommands: Any) -> None:
    parser: argparse.ArgumentParser = subcommands.add_parser(
        "pricing",
        help="manage the PostgreSQL pricing store (AWS Price List offer files)",
        description="Load AWS Price List offer files into PostgreSQL as versioned prices, and inspect them.",
    )
    commands = parser.add_subparsers(dest="pricing_command", required=True, metavar="COMMAND")

    migrate = _command(commands, "migrate", "create or upgrade the pricing store's schema", _migrate)
    del migrate

    load = _command(
        commands, "load", "load offer files (JSON or CSV, plain or gzip) as a new current version", _load
    )
    load.add_argument("sources", nargs="*", metavar="FILE|URL", help="offer files or http(s) URLs")
    load.add_argument(
        "--from-aws",
        action="append",
        default=[],
        metavar="SERVICE",
        help="download SERVICE's regional offer files (with --region) from the AWS Price List Bulk API",
    )
    load.add_argument(
        "--region",
        action="append",
        default=[],
        metavar="REGION",
        help="region to download (--from-aws) and to keep (default: CCG_PRICING_REGIONS, else all)",
    )
    load.add_argument(
        "--service",
        action="append",
        default=[],
        metavar="OFFER_CODE",
        help="offer code to accept (default: CCG_PRICING_SERVICES, else every priced service)",
    )
    load.add_argument(
        "--version", dest="offer_version", metavar="VERSION", help="price list version (--from-aws)"
    )
    load.add_argument("--format", choices=("json", "csv"), default="json", help="file format to download")
    load.add_argument(
        "--fresh",
        action="store_true",
        help="the new version holds only these files (default: keep the current version's other "
        "services and regions)",
    )
    load.add_argument("--dry-run", action="store_true", help="read and count, load nothing (no database)")
    load.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")

    snapshot = _command(
        commands,
        "import-snapshot",
        "load a price snapshot (default: the bundled one) as a version",
        _import_snapshot,
    )
    snapshot.add_argument("snapshot", nargs="?", metavar="FILE", help="snapshot JSON (pricing export format)")
    snapshot.add_argument(
        "--merge", action="store_true", help="keep the current version's other services/regions"
    )

    status = _command(commands, "status", "list pricing versions, their row counts and age", _status)
    status.add_argument("--json", action="store_true", help="print JSON")

    export = _command(commands, "export", "write the current version as a price snapshot", _export)
    export.add_argument("--out", default="-", metavar="FILE", help="file to write (default: stdout)")
    export.add_argument(
        "--pricing-version", type=int, metavar="ID", help="a version other than the current one"
    )

    prune = _command(commands, "prune", "remove old versions and failed or abandoned loads", _prune)
    prune.add_argument(
        "--keep",
        type=int,
        default=DEFAULT_KEEP,
        metavar="N",
        help=f"ready versions to keep (default {DEFAULT_KEEP})",
    )
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed")

    lookup = _command(commands, "lookup", "show the current version's products matching attributes", _lookup)
    lookup.add_argument("service", metavar="SERVICE")
    lookup.add_argument("region", metavar="REGION")
    lookup.add_argument("attributes", nargs="*", metavar="KEY=VALUE")
    lookup.add_argument("--limit", type=int, default=20)


def _command(commands: Any, name: str, text: str, handler: Callable[[argparse.Namespace], int]) -> Any:
    parser = commands.add_parser(name, help=text, description=text[:1].upper() + text[1:] + ".")
    parser.add_argument(
        "--database-url", metavar="URL", help="PostgreSQL URL of the pricing store (env CCG_DATABASE_URL)"
    )
    parser.set_defaults(handler=handler)
    return parser


# --- plumbing ---------------------------------------------------------------------------------------


def _settings_and_url(args: argparse.Namespace, *, required: bool = True) -> tuple[Settings, str]:
    settings = load_settings()
    url = args.database_url or (settings.database_url.get_secret_value() if settings.database_url else "")
    if required and not url:
        raise errors.ConfigurationError("no database URL: pass --database-url or set CCG_DATABASE_URL")
    return settings, url


def _run(coroutine: Awaitable[T]) -> T:
    async def main() -> T:
        return await coroutine

    return asyncio.run(main())


async def _with_connection(
    url: str, settings: Settings, work: Callable[[Any], Awaitable[T]], doing: str
) -> T:
    from cloudcostguard.pricing.store import pool  # noqa: PLC0415 - asyncpg loads only when needed

    connection = await pool.connect(url, settings)
    try:
        with pool.database_errors(url, doing):
            return await work(connection)
    finally:
        await pool.close_quietly(connection)


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _file_title(summary: Any) -> str:
    version = f" {summary.offer_version}" if summary.offer_version else ""
    return f"{summary.source}: {summary.offer_code or '?'}{version} ({summary.file_format})"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


# --- migrate ----------------------------------------------------------------------------------------


def _migrate(args: argparse.Namespace) -> int:
    from cloudcostguard.pricing.store.migrate import migrate  # noqa: PLC0415

    settings, url = _settings_and_url(args)
    applied = _run(_with_connection(url, settings, migrate, "migrate the pricing store"))
    if applied:
        for migration in applied:
            _out(f"applied migration {migration.version:04d}_{migration.name}")
    else:
        _out("the pricing store is up to date")
    return 0


# --- load -------------------------------------------------------------------------------------------


def _load(args: argparse.Namespace) -> int:
    from cloudcostguard.pricing.offers.model import Selection  # noqa: PLC0415

    if not args.sources and not args.from_aws:
        raise errors.ConfigurationError("nothing to load: give offer files or URLs, or --from-aws SERVICE")
    if args.from_aws and not args.region:
        raise errors.ConfigurationError("--from-aws needs at least one --region")
    settings, url = _settings_and_url(args, required=not args.dry_run)
    selection = Selection.from_lists(
        args.service or settings.pricing_services, args.region or settings.pricing_regions
    )
    for service in args.from_aws:
        selection.check_service(service)  # before downloading hundreds of MB
    return _run(_load_async(args, settings, url, selection))


async def _load_async(args: argparse.Namespace, settings: Settings, url: str, selection: Any) -> int:
    with contextlib.ExitStack() as cleanup:
        remote = args.from_aws or any(s.startswith(("http://", "https://")) for s in args.sources)
        # Downloads go to a temporary folder, removed afterwards; local files are read where they are.
        folder = (
            cleanup.enter_context(tempfile.TemporaryDirectory(prefix="cloudcostguard-offers-"))
            if remote
            else ""
        )
        paths = await _gather_files(args, settings, Path(folder))
        if args.dry_run:
            return _dry_run(paths, selection)
        from cloudcostguard.pricing.store.bulk_load import load_offer_files  # noqa: PLC0415

        result = await load_offer_files(url, settings, paths, selection=selection, fresh=args.fresh)
    for summary in result.files:
        stats = summary.stats
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(stats.skipped.items()))
        _out(
            f"{_file_title(summary)}, {stats.products_kept} of {stats.products_seen} products, "
            f"{stats.prices_kept} prices" + (f"; skipped {skipped}" if skipped else "")
        )
    carried = f", carried over {len(result.carried_over)} service/region pairs from version " + str(
        result.base_version_id
    )
    _out(
        f"pricing version {result.version_id} is current: {result.product_count} products, "
        f"{result.price_count} prices{carried if result.carried_over else ''} "
        f"({result.seconds:.1f}s, {result.skus_per_second:,.0f} SKUs/s)"
    )
    return 0


async def _gather_files(args: argparse.Namespace, settings: Settings, folder: Path) -> list[tuple[Path, str]]:
    """Local files as given; URLs and --from-aws offers downloaded into ``folder`` first."""
    paths: list[tuple[Path, str]] = []
    remote: list[tuple[str, str, str]] = []  # (url, file name, label)
    for number, source in enumerate(args.sources):
        if source.startswith(("http://", "https://")):
            name = f"{number:03d}-" + (source.rstrip("/").rsplit("/", 1)[-1] or "offer")
            remote.append((source, name, source))
        else:
            paths.append((Path(source), source))
    if not remote and not args.from_aws:
        return paths
    from cloudcostguard.pricing.offers.download import PriceListClient  # noqa: PLC0415

    async with PriceListClient(settings, show_progress=not args.no_progress) as client:
        file_format: Literal["json", "csv"] = args.format
        for service in args.from_aws:
            for offer in await client.resolve(
                service, args.region, version=args.offer_version, file_format=file_format
            ):
                remote.append((offer.url, offer.file_name, f"{offer.service} {offer.region} ({offer.url})"))
        for address, name, label in remote:
            destination = folder / name
            await client.download(address, destination, label=name)
            paths.append((destination, label))
    return paths


def _dry_run(paths: list[tuple[Path, str]], selection: Any) -> int:
    from cloudcostguard.pricing.store.bulk_load import LoadProgress, read_offer_files  # noqa: PLC0415

    progress = LoadProgress()
    started = time.monotonic()
    products = prices = 0
    for batch in read_offer_files(paths, selection, progress):
        if batch.kind == "products":
            products += len(batch.rows)
        else:
            prices += len(batch.rows)
    seconds = time.monotonic() - started
    for summary in progress.files:
        stats = summary.stats
        _out(
            f"{_file_title(summary)}, {stats.products_kept} of {stats.products_seen} products, "
            f"{stats.prices_kept} prices, sha256 {summary.digest[:12]}"
        )
    _out(f"dry run: {products} products and {prices} prices would be loaded ({seconds:.1f}s); nothing loaded")
    return 0


# --- import-snapshot --------------------------------------------------------------------------------


def _import_snapshot(args: argparse.Namespace) -> int:
    from cloudcostguard.pricing.snapshot import load_bundled_catalog, read_snapshot_file, records_digest  # noqa: PLC0415
    from cloudcostguard.pricing.store.bulk_load import import_snapshot_records  # noqa: PLC0415

    settings, url = _settings_and_url(args)
    if args.snapshot:
        catalog = read_snapshot_file(Path(args.snapshot), source="snapshot")
        label = args.snapshot
    else:
        catalog = load_bundled_catalog()
        label = "bundled snapshot"
    records = catalog.records()
    result = _run(
        import_snapshot_records(
            url,
            settings,
            records,
            source=f"{label} ({catalog.version})",
            digest=records_digest(records),
            fresh=not args.merge,
        )
    )
    _out(
        f"pricing version {result.version_id} is current: {result.product_count} products, "
        f"{result.price_count} prices from {label} {catalog.version}"
    )
    return 0


# --- status -----------------------------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415

    from cloudcostguard.pricing.store import store  # noqa: PLC0415
    from cloudcostguard.pricing.store.migrate import check_schema  # noqa: PLC0415

    settings, url = _settings_and_url(args)

    async def work(connection: Any) -> list[Any]:
        await check_schema(connection)
        return await store.list_versions(connection)

    versions = _run(_with_connection(url, settings, work, "read the pricing store"))
    if args.json:
        sys.stdout.write(
            orjson.dumps([v.to_dict() for v in versions], option=orjson.OPT_INDENT_2).decode() + "\n"
        )
        return 0
    if not versions:
        _out("no pricing versions: load offer files with `cloudcostguard pricing load`")
        return 0
    now = datetime.now(UTC)
    _out(
        f"{'VERSION':>7}  {'STATE':<9} {'CUR':<3} {'READY AT':<20} {'AGE':>5} "
        f"{'PRODUCTS':>9} {'PRICES':>9}  SOURCE"
    )
    for version in versions:
        ready = version.ready_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if version.ready_at else "-"
        _out(
            f"{version.id:>7}  {version.state:<9} {'*' if version.is_current else '':<3} {ready:<20} "
            f"{_age(version.age_seconds(now)):>5} {version.product_count:>9} {version.price_count:>9}  "
            f"{version.source[:80]}" + (f"  error: {version.error}" if version.error else "")
        )
    current = next((v for v in versions if v.is_current), None)
    if current is None:
        _out("no version is current")
    else:
        _out(f"current: version {current.id} ({current.catalog_version}), digest {current.digest}")
        for service, counts in sorted(current.counts.items()):
            _out(
                f"  {service:<28} {counts.get('products', 0):>9} products {counts.get('prices', 0):>9} prices"
            )
    return 0


# --- export -----------------------------------------------------------------------------------------


def _export(args: argparse.Namespace) -> int:
    from cloudcostguard.pricing.snapshot import dump_snapshot, write_snapshot_file  # noqa: PLC0415
    from cloudcostguard.pricing.store import store  # noqa: PLC0415
    from cloudcostguard.pricing.store.migrate import check_schema  # noqa: PLC0415

    settings, url = _settings_and_url(args)

    async def work(connection: Any) -> tuple[Any, list[Any]]:
        await check_schema(connection)
        versions = {v.id: v for v in await store.list_versions(connection)}
        if args.pricing_version is not None:
            version = versions.get(args.pricing_version)
            if version is None or version.state != "ready":
                raise errors.PricingError(
                    f"pricing version {args.pricing_version} does not exist or is not ready"
                )
        else:
            version = next((v for v in versions.values() if v.is_current), None)
            if version is None:
                raise errors.PricingError("the pricing store has no current version: nothing to export")
        return version, await store.fetch_records(connection, version.id)

    version, records = _run(_with_connection(url, settings, work, "read the pricing store"))
    records.sort(key=lambda r: (r.service, r.region, sorted(r.attributes.items()), r.unit, r.tier_start))
    payload = dump_snapshot(
        records,
        version=version.catalog_version,
        source=f"postgresql pricing version {version.id}: {version.source}"[:500],
        generated_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        extra={"pricingVersion": version.id, "digest": version.digest},
    )
    if args.out == "-":
        sys.stdout.buffer.write(payload)
    else:
        try:
            write_snapshot_file(Path(args.out), payload)
        except OSError as err:
            raise errors.CloudCostGuardError(f"cannot write {args.out}: {err.strerror or err}") from err
        print(f"wrote {len(records)} records of pricing version {version.id} to {args.out}", file=sys.stderr)
    return 0


# --- prune ------------------------------------------------------------------------------------------


def _prune(args: argparse.Namespace) -> int:
    from cloudcostguard.pricing.store import store  # noqa: PLC0415

    if args.keep < 1:
        raise errors.ConfigurationError("--keep must be at least 1 (the current version is always kept)")
    settings, url = _settings_and_url(args)

    async def work(connection: Any) -> list[Any]:
        return await store.prune(connection, keep=args.keep, dry_run=args.dry_run)

    removed = _run(_with_connection(url, settings, work, "prune the pricing store"))
    verb = "would remove" if args.dry_run else "removed"
    for version in removed:
        _out(f"{verb} version {version.id} ({version.state}, {version.price_count} prices)")
    if not removed:
        _out("nothing to prune")
    return 0


# --- lookup -----------------------------------------------------------------------------------------


def _lookup(args: argparse.Namespace) -> int:
    import orjson  # noqa: PLC0415

    from cloudcostguard.pricing.store import store  # noqa: PLC0415
    from cloudcostguard.pricing.store.migrate import check_schema  # noqa: PLC0415

    attributes = {}
    for item in args.attributes:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise errors.ConfigurationError(f"attribute filters are KEY=VALUE, got {item!r}")
        attributes[key] = value
    settings, url = _settings_and_url(args)

    async def work(connection: Any) -> list[dict[str, Any]]:
        await check_schema(connection)
        current = await store.current_version(connection)
        if current is None:
            raise errors.PricingError("the pricing store has no current version")
        return await store.find_products(
            connection, current.id, args.service, args.region, attributes, limit=args.limit
        )

    products = _run(_with_connection(url, settings, work, "read the pricing store"))
    sys.stdout.write(orjson.dumps(products, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0

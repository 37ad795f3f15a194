"""Helpers shared by subcommands: reading input files and stdin with size limits."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from cloudcostguard import errors

if TYPE_CHECKING:
    from cloudcostguard.pricing.catalog import InMemoryCatalog
    from cloudcostguard.settings import Settings


def read_input(path: str, *, what: str, max_bytes: int) -> bytes:
    """Read PATH (``-`` for stdin), refusing more than ``max_bytes`` without reading it all.

    Errors are one line naming the path: missing file, a directory, unreadable, too large, or stdin
    left on a terminal (reading it would wait for typing forever).
    """
    try:
        if path == "-":
            if sys.stdin is None or sys.stdin.isatty():
                raise errors.CloudCostGuardError(
                    f"{what} is read from stdin (-), but stdin is a terminal: pipe the {what} in",
                    reason="NotFound",
                )
            payload = sys.stdin.buffer.read(max_bytes + 1)
        else:
            # open(), not pathlib: importing pathlib (urllib.parse, ipaddress) costs ≈ 3 ms per start.
            with open(path, "rb") as handle:
                payload = handle.read(max_bytes + 1)
    except FileNotFoundError as err:
        raise errors.CloudCostGuardError(f"{what} file not found: {path}", reason="NotFound") from err
    except IsADirectoryError as err:
        raise errors.CloudCostGuardError(f"{what} path is a directory: {path}", reason="NotFound") from err
    except OSError as err:
        raise errors.CloudCostGuardError(
            f"cannot read {what} {path}: {err.strerror or err}", reason="NotFound"
        ) from err
    if len(payload) > max_bytes:
        raise errors.PlanTooLargeError(
            f"{what} {path} is larger than the limit of {max_bytes} bytes (CCG_MAX_PLAN_BYTES)"
        )
    return payload


def cli_settings(**overrides: Any) -> Any:
    """``settings.load_settings(**overrides)``, without importing pydantic when no ``CCG_`` variable is
    set: pydantic's import is more than half of pricing a small plan (BENCHMARKS.md, issue 8). The
    defaults are the Settings model's own (``settings_defaults``, generated, checked by a test), and
    the overrides are what argparse already typed; any CCG_ variable takes the validating path.
    """
    if any(name.upper().startswith("CCG_") for name in os.environ):
        from cloudcostguard.settings import load_settings  # noqa: PLC0415

        return load_settings(**overrides)
    from cloudcostguard.settings_defaults import DEFAULTS  # noqa: PLC0415

    return SimpleNamespace(**{**DEFAULTS, **{k: v for k, v in overrides.items() if v is not None}})


def active_catalog(
    database_url: str | None, catalog_file: str | None, settings: Settings
) -> InMemoryCatalog | None:
    """The catalog a one-shot command prices with, in this order: ``--database-url`` (or
    CCG_DATABASE_URL), then ``--catalog FILE`` / CCG_CATALOG_FILE / the default synced catalog file
    when it exists, then None (the bundled snapshot). A catalog file that was asked for by name but
    is missing, or that is damaged, is an error rather than a silent switch to other prices.
    """
    url = database_url or (settings.database_url.get_secret_value() if settings.database_url else None)
    if url:
        return catalog_from_database(url, settings)
    # Imported here, like the store below: `estimate` on the bundled prices loads neither.
    from cloudcostguard.pricing.catalog_file import catalog_path_to_read, read_catalog_file  # noqa: PLC0415

    path = catalog_path_to_read(catalog_file or settings.catalog_file)
    return None if path is None else read_catalog_file(path).catalog


def catalog_from_database(database_url: str, settings: Settings) -> InMemoryCatalog:
    # Imported here: asyncpg loads only when a database is asked for.
    from cloudcostguard.pricing.store.one_shot_catalog import load_catalog_once  # noqa: PLC0415

    return load_catalog_once(database_url, settings)

"""The local catalog file that ``pricing sync`` writes and ``estimate``/``run`` read.

A compact (v2) price snapshot, gzip'd, next to a ``sha256sum``-style checksum file
(``aws-prices.json.gz.sha256``), so that a copy carried into an air-gapped cluster can be checked
with ``sha256sum -c`` and a file damaged on the way is refused instead of read. Both are written
atomically (temporary file, fsync, rename): a reader or a crash never sees half a catalog. The
checksum file is renamed last, so a catalog whose checksum does not match it is one whose write did
not finish; readers refuse it and the writer's next run replaces both.

The default location is the user's cache directory (``$XDG_CACHE_HOME/cloudcostguard/``, else
``~/.cache/cloudcostguard/``); ``CCG_CATALOG_FILE`` names another.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cloudcostguard import errors
from cloudcostguard.pricing.catalog import InMemoryCatalog
from cloudcostguard.pricing.snapshot import parse_snapshot_document, write_snapshot_file

if TYPE_CHECKING:
    from pathlib import Path

CATALOG_SOURCE = "catalog-file"
FILE_NAME = "aws-prices.json.gz"
CHECKSUM_SUFFIX = ".sha256"


def default_catalog_path(environ: dict[str, str] | None = None) -> Path:
    from pathlib import Path  # noqa: PLC0415 - see _default_location

    return Path(_default_location(environ))


def _default_location(environ: dict[str, str] | None = None) -> str:
    """The default catalog file's path, by ``os.path``: `estimate` on the bundled prices checks that it
    is absent without importing pathlib (≈ 3 ms of a start)."""
    env = os.environ if environ is None else environ
    cache = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    return os.path.join(cache, "cloudcostguard", FILE_NAME)


def catalog_path_to_read(named: Path | str | None) -> Path | None:
    """The catalog file to price from: the one named (``--catalog``, ``CCG_CATALOG_FILE``), which must
    then exist; else the default one if ``pricing sync`` wrote it; None means the bundled snapshot."""
    if named:
        from pathlib import Path  # noqa: PLC0415

        return Path(named)
    default = _default_location()
    return default_catalog_path() if os.path.exists(default) else None


def checksum_path(path: Path) -> Path:
    return path.with_name(path.name + CHECKSUM_SUFFIX)


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """A catalog read from a catalog file, with the file's header (sync's record of each offer file)."""

    path: Path
    catalog: InMemoryCatalog
    header: dict[str, Any]

    @property
    def files(self) -> list[dict[str, Any]]:
        """What ``pricing sync`` downloaded: service, region, url, version, publicationDate, sha256."""
        files = self.header.get("files")
        return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def write_catalog_file(path: Path, payload: bytes) -> str:
    """Write the catalog and its checksum file; returns the sha256."""
    digest = hashlib.sha256(payload).hexdigest()
    try:
        write_snapshot_file(path, payload)
        write_snapshot_file(checksum_path(path), f"{digest}  {path.name}\n".encode())
    except OSError as err:
        raise errors.PricingError(f"cannot write the catalog file {path}: {err.strerror or err}") from err
    return digest


def read_catalog_file(path: Path, *, source: str = CATALOG_SOURCE) -> CatalogFile:
    """Read and verify a catalog file; one-line ``PricingError`` when it is missing, damaged or stale."""
    try:
        payload = path.read_bytes()
    except FileNotFoundError as err:
        raise errors.PricingError(
            f"no catalog file at {path}: run `cloudcostguard pricing sync`", reason="NotFound"
        ) from err
    except OSError as err:
        raise errors.PricingError(f"cannot read the catalog file {path}: {err.strerror or err}") from err
    expected = _expected_checksum(path)
    if expected is not None and hashlib.sha256(payload).hexdigest() != expected:
        raise errors.PricingError(
            f"the catalog file {path} does not match its checksum file {checksum_path(path).name}: "
            "it is damaged or was only half copied; run `cloudcostguard pricing sync` again"
        )
    try:
        catalog, header = parse_snapshot_document(payload, source=source)
    except errors.PricingError as err:
        raise errors.PricingError(f"the catalog file {path} cannot be read: {err}") from err
    return CatalogFile(path, catalog, header)


def _expected_checksum(path: Path) -> str | None:
    """The checksum file's digest; None when there is no checksum file (a hand-copied catalog)."""
    try:
        text = checksum_path(path).read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise errors.PricingError(f"cannot read {checksum_path(path)}: {err.strerror or err}") from err
    digest = text.split(maxsplit=1)[0] if text.strip() else ""
    if len(digest) != 64:
        raise errors.PricingError(f"{checksum_path(path)} is not a sha256 checksum file")
    return digest.lower()

"""Helpers shared by subcommands: reading input files and stdin with size limits."""

from __future__ import annotations

import sys
from pathlib import Path

from cloudcostguard import errors


def read_input(path: str, *, what: str, max_bytes: int) -> bytes:
    """Read PATH (``-`` for stdin), refusing more than ``max_bytes`` without reading it all."""
    try:
        if path == "-":
            payload = sys.stdin.buffer.read(max_bytes + 1)
        else:
            with Path(path).open("rb") as handle:
                payload = handle.read(max_bytes + 1)
    except FileNotFoundError as err:
        raise errors.CloudCostGuardError(f"{what} file not found: {path}", reason="NotFound") from err
    except IsADirectoryError as err:
        raise errors.CloudCostGuardError(f"{what} path is a directory: {path}", reason="NotFound") from err
    except OSError as err:
        raise errors.CloudCostGuardError(
            f"cannot read {what} {path}: {err.strerror}", reason="NotFound"
        ) from err
    if len(payload) > max_bytes:
        raise errors.PlanTooLargeError(f"{what} is larger than the limit of {max_bytes} bytes")
    return payload

"""Helpers shared by subcommands: reading input files and stdin with size limits."""

from __future__ import annotations

import sys
from pathlib import Path

from cloudcostguard import errors


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
            with Path(path).open("rb") as handle:
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

"""``cloudcostguard …``: one parser; each subcommand lives in its own module with ``register()``.

Errors reach the user as one line on stderr and exit code 2 (bad input) — never a traceback.

Only the chosen subcommand's module is imported: several import the pydantic settings at the top
(about 0.3 s), and ``cloudcostguard --help`` or ``cloudcostguard estimate …`` should not pay for
``run`` or ``pricing``. The others appear in the parser as one-line stubs for the listing.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from cloudcostguard import errors
from cloudcostguard.version import __version__

EXIT_BAD_INPUT = 2

# Subcommand → (module with register(subcommands), its one-line help in the command listing).
COMMANDS: dict[str, tuple[str, str]] = {
    "estimate": ("cloudcostguard.cli.estimate", "price a Terraform plan (terraform show -json)"),
    "pricing": (
        "cloudcostguard.cli.pricing",
        "sync AWS prices to a local catalog file, or manage the PostgreSQL pricing store",
    ),
    "run": ("cloudcostguard.cli.run", "run the operator and the admission webhook"),
    "policy": ("cloudcostguard.cli.policy", "work with CostPolicies"),
    "usage": ("cloudcostguard.cli.usage", "work with usage files"),
}


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter at the width it would pick, found without ``shutil``: argparse makes a
    formatter for every argument added, and its own imports shutil (with bz2 and lzma, ≈ 3 ms of a
    start) for ``get_terminal_size``, whose rule this repeats: ``COLUMNS``, else the terminal, else 80."""

    def __init__(
        self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _terminal_columns() - 2 if width is None else width
        )


def _terminal_columns() -> int:
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    stdout = sys.__stdout__
    try:
        return (os.get_terminal_size(stdout.fileno()).columns if stdout is not None else 0) or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` with that formatter; subcommands' parsers are of the same class."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with ``command``, only that subcommand is registered in full (the others as
    stubs), and ``""`` registers none (enough for ``--help``, ``--version`` and usage errors)."""
    parser = _Parser(
        prog="cloudcostguard",
        description="Cost guardrails for Terraform plans shipped through Kubernetes and GitOps.",
    )
    parser.add_argument("--version", action="version", version=f"cloudcostguard {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, summary) in COMMANDS.items():
        if command is None or command == name:
            importlib.import_module(module_name).register(subcommands)
        else:
            subcommands.add_parser(name, help=summary)
    return parser


def _command(argv: Sequence[str]) -> str:
    """The subcommand named on the command line ("" when none is): top-level options take no values."""
    for argument in argv:
        if not argument.startswith("-"):
            return argument if argument in COMMANDS else ""
    return ""


# One short pass each: read, price, print, exit. What they build holds no reference cycles (see
# ``performance.paused_gc``), so the cyclic collector is paused throughout, imports included: it would
# only walk the modules and the price catalog again and again (≈ 7 % of pricing a one-resource plan).
# Not for `run` (a server) or `pricing` (aiohttp and asyncio make cycles).
PAUSED_COLLECTOR_COMMANDS = frozenset({"estimate"})


def main(argv: Sequence[str] | None = None) -> None:
    arguments = list(sys.argv[1:] if argv is None else argv)
    command = _command(arguments)
    if command not in PAUSED_COLLECTOR_COMMANDS:
        sys.exit(_run(command, arguments))
    from cloudcostguard.performance import age_young_objects, paused_gc  # noqa: PLC0415

    with paused_gc():
        try:
            code = _run(command, arguments)
        finally:
            age_young_objects()  # the collector comes back without a backlog of young objects
    sys.exit(code)


def _run(command: str, arguments: list[str]) -> int:
    parser = build_parser(command)
    args = parser.parse_args(arguments)
    try:
        code: int = args.handler(args)
    except errors.CloudCostGuardError as err:
        print(f"cloudcostguard: error: {err}", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly. Point stdout at /dev/null so that the
        # interpreter's final flush does not complain about the closed pipe.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = 0
    return code

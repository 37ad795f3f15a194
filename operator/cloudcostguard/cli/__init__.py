"""``cloudcostguard …``: one parser; each subcommand lives in its own module with ``register()``.

Errors reach the user as one line on stderr and exit code 2 (bad input) — never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from cloudcostguard import __version__, errors
from cloudcostguard.cli import estimate as estimate_command

EXIT_BAD_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cloudcostguard",
        description="Cost guardrails for Terraform plans shipped through Kubernetes and GitOps.",
    )
    parser.add_argument("--version", action="version", version=f"cloudcostguard {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    estimate_command.register(subcommands)
    for module_name in ("pricing", "run", "policy"):
        # Subcommands of later subsystems register themselves when their module exists.
        try:
            module = __import__(f"cloudcostguard.cli.{module_name}", fromlist=["register"])
        except ModuleNotFoundError as err:
            if err.name != f"cloudcostguard.cli.{module_name}":
                raise
            continue
        module.register(subcommands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = args.handler(args)
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
    sys.exit(code)

"""``jupyter-emr-workspace``: admin commands, one subcommand per job.

Parts add their subcommands in ``COMMANDS`` (module paths exposing
``register(subparsers)``; each registered parser sets ``func(args) -> int``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: list[str] = [
    "jupyter_emr_workspace.contents.importer",
    "jupyter_emr_workspace.executions.cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="jupyter-emr-workspace",
        description="Admin commands for jupyter-emr-workspace (EMR Studio Workspaces).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())

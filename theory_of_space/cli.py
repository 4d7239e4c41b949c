"""The ``tos`` command line: each subcommand lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from theory_of_space import __version__
from theory_of_space.agents.clients import MissingDependencyError
from theory_of_space.commands.batch import add_batch_parser
from theory_of_space.commands.evaluate import add_evaluate_parser
from theory_of_space.commands.explore import add_explore_parsers
from theory_of_space.commands.probe import add_probe_parser
from theory_of_space.commands.render import add_render_parser
from theory_of_space.commands.run import add_run_parsers
from theory_of_space.steering.cli import add_steer_parser


class _ExactParser(argparse.ArgumentParser):
    """A parser that takes only whole option names: ``--set`` must never be read as ``--setting``.

    Subcommand parsers are made with the same class, so the rule holds at every level.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    parser = _ExactParser(prog="tos", description="Theory of Space: explore and evaluate.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True)
    add_run_parsers(subparsers)
    add_batch_parser(subparsers)
    add_explore_parsers(subparsers)
    add_evaluate_parser(subparsers)
    add_probe_parser(subparsers)
    add_steer_parser(subparsers)
    add_render_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen subcommand; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, MissingDependencyError) as error:
        print(f"tos {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

"""Command line: ``python -m sessrec <command> --help``.

Exit codes: 0 success; 2 bad usage or parameter, including an unusable output path
(:class:`ParameterError`, :class:`OutputPathError`, argparse errors); 3 bad input data or
checkpoint (:class:`DataFormatError`, :class:`CheckpointError`, any other
:class:`SessrecError`); 1 anything else, reported in one line (``--debug`` shows the
traceback). Output paths are checked before any work starts.

Commands are grouped by module, each adding its own subcommands: :mod:`~sessrec.cli.data`
(prepare, demo, stats, models), :mod:`~sessrec.cli.results`, :mod:`~sessrec.cli.train`,
:mod:`~sessrec.cli.evaluate` and :mod:`~sessrec.cli.experiments` (benchmark, progress, tune,
sweep), :mod:`~sessrec.cli.user_context` (``users``: the user-context task) and
:mod:`~sessrec.cli.docs`; :mod:`~sessrec.cli.common` holds what they share.
"""

from __future__ import annotations

import argparse
import os
import sys

from sessrec.cli import data, docs, evaluate, experiments, results, train, user_context
from sessrec.cli.common import (EXIT_DATA, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, SHARED_DATASETS, check_output_dir,
                                check_output_file)
from sessrec.errors import OutputPathError, ParameterError, SessrecError, TrainingError, clip

__all__ = ["EXIT_DATA", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "SHARED_DATASETS", "build_parser", "check_output_dir",
           "check_output_file", "main", "main_entry"]


def build_parser() -> argparse.ArgumentParser:
    from sessrec.models.registry import REGISTRY

    SUBJECT = next(spec.name for spec in REGISTRY if spec.subject)  # noqa: N806 - the subject model's name
    parser = argparse.ArgumentParser(prog="python -m sessrec", description="Session-based recommendation workbench.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an unexpected error (also: SESSREC_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)
    for group in (data, results, train, evaluate, experiments, user_context, docs):  # each module adds its own subcommands
        group.add_commands(sub, SUBJECT)
    # the docs command documents every command: it gets the parser here rather than importing this module
    parser.set_defaults(root_parser=parser)
    return parser


def _fail(exc: BaseException | str, code: int) -> int:
    print(f"error: {clip(str(exc))}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run one command; anticipated bad input gives a one-line ``error:`` and exit 2 or 3."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("SESSREC_DEBUG", "") not in ("", "0")
    try:
        # commands that never compute with torch stay light
        if args.command not in ("models", "stats", "results", "progress", "docs"):
            from sessrec.runtime import configure_torch_threads

            configure_torch_threads()
        return args.func(args)
    except (ParameterError, OutputPathError) as exc:  # before SessrecError: both are subclasses
        return _fail(exc, EXIT_USAGE)
    except TrainingError as exc:  # training diverged (non-finite loss): not the input's fault as such
        return _fail(exc, EXIT_FAILURE)
    except SessrecError as exc:  # DataFormatError, CheckpointError: the input is wrong
        return _fail(exc, EXIT_DATA)
    except ValueError as exc:  # parameters checked by plain ValueError (model factory, configs)
        if debug:
            raise
        return _fail(exc, EXIT_USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`sessrec results | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except OSError as exc:  # a file system problem outside the checks (disk full, permissions)
        if debug:
            raise
        return _fail(f"{type(exc).__name__}: {exc}", EXIT_FAILURE)
    except Exception as exc:  # noqa: BLE001 - a bug or an input nobody anticipated: one line, not a traceback
        if debug:
            raise
        print(f"error: unexpected {type(exc).__name__}: {clip(str(exc), 500)}", file=sys.stderr)
        print("(this is a bug or an input sessrec does not check yet; rerun with "
              "`python -m sessrec --debug ...` for the traceback, and please report it)", file=sys.stderr)
        return EXIT_FAILURE


def main_entry() -> None:
    """The ``sessrec`` console command (``pip install -e .``): the same as ``python -m sessrec``."""
    sys.exit(main())

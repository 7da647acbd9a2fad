"""What every command group shares: exit codes, option types, output-path checks."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import numpy as np

from sessrec.errors import OutputPathError, ParameterError, quote

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_DATA = 0, 1, 2, 3

#: the shared benchmark folders and how to import them (protocol facts from their README)
SHARED_DATASETS: dict[str, dict[str, Any]] = {
    "yoochoose1_64": {"train": "derived_train_sessions.tsv.gz", "test": "derived_test_sessions.tsv.gz", "min_position": 1,
                      "description": "YOOCHOOSE 1/64, SR-GNN preprocessing (item ids renumbered; no times in train)"},
    "diginetica": {"train": "derived_train_sessions.tsv.gz", "test": "derived_test_sessions.tsv.gz", "min_position": 1,
                   "description": "Diginetica (CIKM Cup 2016), SR-GNN / GCE-GNN preprocessing"},
    "retailrocket": {"train": "derived_train_sessions.tsv.gz", "test": "derived_test_sessions.tsv.gz", "min_position": 2,
                     "description": "RetailRocket views, COTREC preprocessing; published protocol predicts from position 2"},
    "rsc15_100k": {"train": "yoochoose-clicks-100k_train_full.txt.gz", "test": "yoochoose-clicks-100k_test.txt.gz",
                   "train_tr": "yoochoose-clicks-100k_train_tr.txt.gz", "valid": "yoochoose-clicks-100k_train_valid.txt.gz",
                   "min_position": 1, "description": "YOOCHOOSE clicks extract, session-rec preprocessing (about a week)"},
}


TIE_MODE_HELP = ("how a target tied with other items is ranked: median (default; the expected rank under random "
                 "tie-breaking, used for every comparison), standard (the best rank of the tie; what published "
                 "GRU4Rec numbers use) or conservative (the worst rank)")


def int_at_least(low: int):
    """argparse ``type=``: an integer ``>= low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an integer (allowed: an integer >= {low})") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is not allowed (allowed: an integer >= {low})")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def positive_float(text: str) -> float:
    """argparse ``type=``: a finite number ``> 0``."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a number (allowed: a finite number > 0)") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text[:40]} is not allowed (allowed: a finite number > 0)")
    return value


def check_min_position(min_position: int, test: Any, split: str) -> None:
    """Refuse a ``min_position`` that leaves no event of ``test`` to evaluate (NaN metrics otherwise)."""
    longest = int(test.lengths.max()) if test.n_sessions else 0
    if min_position < 1 or min_position >= longest:
        raise ParameterError(
            f"--min-position {min_position} is not allowed: the longest {split} session has {longest} events, "
            f"so no event would be evaluated (allowed: 1 to {max(longest - 1, 1)})"
        )


def sampled_settings(args: argparse.Namespace, n_items: int, catalogue: str) -> Any:
    """The :class:`SampledSettings` of ``--protocol sampled`` (None for ``full``), checked against
    a catalogue of ``n_items`` items; sampling options without ``--protocol sampled`` are refused."""
    from sessrec.evaluation.sampled import (DEFAULT_NEGATIVES, DEFAULT_SAMPLER, DEFAULT_SAMPLING,
                                            DEFAULT_SAMPLING_SEED, SampledSettings)

    given = [flag for flag, value in (("--negatives", args.negatives), ("--sampling", args.sampling),
                                      ("--sampling-seed", args.sampling_seed), ("--sampler", args.sampler))
             if value is not None]
    if args.protocol != "sampled":
        if given:
            raise ParameterError(f"{', '.join(given)} only apply to --protocol sampled (the default protocol ranks "
                                 "the full catalogue)")
        return None
    settings = SampledSettings(
        DEFAULT_NEGATIVES if args.negatives is None else args.negatives,
        DEFAULT_SAMPLING if args.sampling is None else args.sampling,
        DEFAULT_SAMPLING_SEED if args.sampling_seed is None else args.sampling_seed,
        DEFAULT_SAMPLER if args.sampler is None else args.sampler,
    )
    if settings.negatives >= n_items:
        raise ParameterError(
            f"--negatives {settings.negatives} is not allowed: {catalogue} has {n_items:,} items, so at most "
            f"{n_items - 1:,} items other than the target can be drawn (allowed: 1 to {max(n_items - 1, 1)})"
        )
    return settings


def print_stats(info: dict[str, Any]) -> None:
    from sessrec.data.preprocess import readable_statistics

    print(f"dataset {info['name']}:")
    print(readable_statistics(info["splits"]).to_string())


def check_writable(folder: Path, flag: str, path: Path) -> None:
    """The nearest existing ancestor of ``folder`` must be a writable folder."""
    for existing in (folder, *folder.parents):
        if existing.exists():
            if not existing.is_dir():
                raise OutputPathError(f"{flag} {path}: {existing} is a file, not a folder")
            if not os.access(existing, os.W_OK | os.X_OK):
                raise OutputPathError(f"{flag} {path}: no permission to write in {existing}")
            return


def check_output_dir(path: str | Path, flag: str) -> Path:
    """An output folder: an existing folder or one that can be created (not a file)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{flag} {path}: exists and is not a folder (give a folder)")
    check_writable(path, flag, path)
    return path


def check_output_file(path: str | Path, flag: str, suffixes: tuple[str, ...] = ()) -> Path:
    """An output file: not an existing folder, its folder creatable, one of ``suffixes`` if given."""
    path = Path(path)
    if path.is_dir():
        raise OutputPathError(f"{flag} {path}: is a folder (give a file name)")
    if path.exists() and not path.is_file():
        raise OutputPathError(f"{flag} {path}: exists and is not a regular file")
    if suffixes and path.suffix.lower() not in suffixes:
        raise OutputPathError(f"{flag} {path}: the file name must end in {' or '.join(suffixes)}")
    check_writable(path.parent, flag, path)
    return path


def dataset_name_arg(args: argparse.Namespace) -> str:
    """``--name`` or the output folder's name, checked before any work (it becomes a folder name)."""
    from sessrec.data.dataset import NAME_RULE, is_dataset_name

    name = args.name or Path(args.out).resolve().name
    if not is_dataset_name(name):
        how = "--name" if args.name else "the folder name of --out (pass --name)"
        raise ParameterError(f"dataset name {quote(name)} from {how} is not allowed ({NAME_RULE})")
    return name


def add_protocol_options(command: argparse.ArgumentParser) -> None:
    """``--protocol``, ``--negatives``, ``--sampling``, ``--sampling-seed``, ``--sampler`` (evaluate, benchmark)."""
    command.add_argument("--protocol", default="full", choices=["full", "sampled"],
                         help="full (default): rank the whole training catalogue; sampled: ALSO rank each target "
                              "among --negatives random other items, the protocol of many papers (not comparable "
                              "with full-ranking numbers; the record keeps both)")
    command.add_argument("--negatives", type=int_at_least(1),
                         help="sampled protocol: negatives drawn per event (default 99; fewer than the catalogue)")
    command.add_argument("--sampling", choices=["uniform", "popularity"],
                         help="sampled protocol: draw negatives uniformly (default) or in proportion to their "
                              "training clicks; never the target, no repeats")
    command.add_argument("--sampling-seed", type=int_at_least(0),
                         help="sampled protocol: seed of the negative sampler (default 0; recorded); the same seed "
                              "gives every model the same negatives")
    command.add_argument("--sampler", type=int, choices=[1, 2],
                         help="sampled protocol: 2 (default) keeps the first distinct of independent draws; 1, the "
                              "older exponential keys over the whole catalogue (about 10x slower, other negatives; "
                              "what records without a sampler used); recorded")

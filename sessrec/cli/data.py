"""Commands that make and describe datasets: prepare (raw, split, shared), demo, stats, models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from sessrec.cli.common import (EXIT_OK, SHARED_DATASETS, check_output_dir, dataset_name_arg, int_at_least, positive_float,
                                print_stats)
from sessrec.errors import ParameterError, SessrecError


def cmd_prepare_raw(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import write_dataset
    from sessrec.data.preprocess import PreprocessConfig, preprocess_events
    from sessrec.data.readers import RAW_READERS

    reader = RAW_READERS[args.format]
    check_output_dir(args.out, "--out")
    name = dataset_name_arg(args)
    print(f"reading {args.input} ({args.format}) ...", file=sys.stderr)
    events = reader(args.input, session_gap=args.session_gap) if args.format == "retailrocket" else reader(args.input)
    config = PreprocessConfig(args.min_item_support, args.min_session_length, args.test_days, args.valid_days)
    splits = preprocess_events(events, config)
    info = write_dataset(
        args.out, splits, name=name,
        description=f"{args.format} raw file, GRU4Rec-style preprocessing",
        provenance={"source": str(args.input), "format": args.format, "config": vars(config),
                    "command": " ".join(sys.argv)},
        min_position=args.min_position,
    )
    print_stats(info)
    return EXIT_OK


def _read_table(path: str, args: argparse.Namespace) -> pd.DataFrame:
    from sessrec.data.readers import read_session_table

    return read_session_table(path, sep=args.sep, session_col=args.session_col, item_col=args.item_col,
                              time_col=args.time_col, pos_col=args.pos_col)


def cmd_prepare_split(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import write_dataset

    if bool(args.valid_train) != bool(args.valid):
        raise ParameterError("--valid-train and --valid go together")
    check_output_dir(args.out, "--out")
    name = dataset_name_arg(args)
    splits = {"train": _read_table(args.train, args), "test": _read_table(args.test, args)}
    if args.valid_train:
        splits["train_tr"] = _read_table(args.valid_train, args)
        splits["valid"] = _read_table(args.valid, args)
    info = write_dataset(
        args.out, splits, name=name, description=args.description or "",
        provenance={"train": args.train, "test": args.test, "command": " ".join(sys.argv)},
        min_position=args.min_position,
    )
    print_stats(info)
    return EXIT_OK


def cmd_prepare_shared(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import write_dataset
    from sessrec.data.preprocess import prediction_cases, split_last_sessions
    from sessrec.data.readers import read_session_table

    source = Path(args.source)
    names = args.datasets or list(SHARED_DATASETS)
    unknown = [name for name in names if name not in SHARED_DATASETS]
    if unknown:
        raise ParameterError(f"unknown shared dataset(s) {', '.join(map(repr, unknown))} (known: {', '.join(SHARED_DATASETS)})")
    for name in names:
        check_output_dir(Path(args.out) / name, "--out")
    for name in names:
        spec = SHARED_DATASETS[name]
        folder = source / name
        if not folder.is_dir():
            raise SessrecError(f"{folder}: not found (is --source the shared data folder?)")
        wanted = [split for split in ("train", "test", "train_tr", "valid") if split in spec]
        splits = {}
        steps = tqdm(wanted, desc=f"{name}: reading", unit="split", disable=args.quiet, leave=False)
        for split in steps:
            steps.set_postfix_str(spec[split])
            splits[split] = read_session_table(folder / spec[split])
        provenance = {"source": str(folder), "files": {s: spec[s] for s in splits}, "command": " ".join(sys.argv)}
        if "valid" not in splits:  # order but no time in train: the latest sessions, as many cases as test
            n_cases = prediction_cases(splits["test"], spec["min_position"])
            splits["train_tr"], splits["valid"] = split_last_sessions(splits["train"], n_cases, spec["min_position"])
            provenance["validation"] = (f"valid = the most recent training sessions (file order) holding at least "
                                        f"{n_cases:,} prediction cases, as many as test; train_tr = the rest of train")
        if not args.quiet:
            print(f"{name}: writing {Path(args.out) / name}", file=sys.stderr)
        info = write_dataset(
            Path(args.out) / name, splits, name=name, description=spec["description"],
            provenance=provenance, min_position=spec["min_position"],
        )
        print_stats(info)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from sessrec.demo_build import build_demo

    check_output_dir(args.out, "--out")
    check_output_dir(args.checkpoints, "--checkpoints")
    build_demo(Path(args.out), Path(args.checkpoints), seed=args.seed, train_models=not args.no_models,
               progress=not args.quiet)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import load_dataset

    print_stats(load_dataset(args.dataset).info)
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from sessrec.models.registry import FAMILIES, SPECS

    for family, title in FAMILIES.items():
        members = [spec for spec in SPECS.values() if spec.family == family]
        if members:
            print(title)
            for spec in members:
                print(f"  {spec.name:<16} {spec.label:<14} {spec.summary}")
    return EXIT_OK


def add_commands(sub: Any, subject: str) -> None:
    """Add this group's subcommands to the ``sub`` parsers (``subject``: the subject model's name)."""
    prep = sub.add_parser("prepare", help="prepare a dataset folder from raw or pre-split files")
    prep_sub = prep.add_subparsers(dest="kind", required=True)
    raw = prep_sub.add_parser("raw", help="raw YOOCHOOSE / RetailRocket / Diginetica file -> GRU4Rec-style splits")
    raw.add_argument("--format", required=True, choices=["yoochoose", "retailrocket", "diginetica"],
                     help="which raw log the input is")
    raw.add_argument("--input", required=True, help="the raw file (.csv/.dat, optionally .gz)")
    raw.add_argument("--out", required=True, help="output folder, e.g. data/retailrocket_raw")
    raw.add_argument("--name", help="dataset name (default: folder name)")
    raw.add_argument("--test-days", type=positive_float, default=1.0, help="last N days form the test set (default 1)")
    raw.add_argument("--valid-days", type=positive_float, default=1.0, help="last N days of train form the validation set")
    raw.add_argument("--min-item-support", type=int_at_least(1), default=5,
                     help="drop items with fewer events, repeatedly (default 5)")
    raw.add_argument("--min-session-length", type=int_at_least(2), default=2,
                     help="drop shorter sessions, repeatedly (default 2)")
    raw.add_argument("--session-gap", type=positive_float, default=1800.0, help="RetailRocket: seconds between sessions")
    raw.add_argument("--min-position", type=int_at_least(1), default=1, help="first predicted position in evaluation")
    raw.set_defaults(func=cmd_prepare_raw)

    split = prep_sub.add_parser("split", help="already split session files (GRU4Rec TSV or benchmark TSV)")
    split.add_argument("--train", required=True, help="training sessions file (TSV/CSV, optionally .gz)")
    split.add_argument("--test", required=True, help="test sessions file")
    split.add_argument("--valid-train", help="training part of a validation split")
    split.add_argument("--valid", help="validation part of a validation split")
    split.add_argument("--out", required=True, help="output dataset folder, e.g. data/mine")
    split.add_argument("--name", help="dataset name (default: the folder name)")
    split.add_argument("--description", help="one line stored in dataset.json and shown in the app")
    split.add_argument("--min-position", type=int_at_least(1), default=1,
                       help="first predicted position in evaluation (default 1; RetailRocket's protocol uses 2)")
    for flag in ("--sep", "--session-col", "--item-col", "--time-col", "--pos-col"):
        split.add_argument(flag, help="override auto-detection")
    split.set_defaults(func=cmd_prepare_split)

    shared = prep_sub.add_parser("shared", help="import the benchmark splits of the shared data folder")
    shared.add_argument("--source", default="../shared/data",
                        help="the shared data folder holding one sub-folder per dataset (default: ../shared/data)")
    shared.add_argument("--out", default="data", help="where the prepared dataset folders go (default: data)")
    shared.add_argument("--quiet", action="store_true", help="no progress output")
    shared.add_argument("datasets", nargs="*", help=f"subset of {', '.join(SHARED_DATASETS)} (default: all)")
    shared.set_defaults(func=cmd_prepare_shared)

    demo = sub.add_parser("demo", help="generate the synthetic demo dataset and its checkpoints")
    demo.add_argument("--out", default="data/demo", help="dataset folder to write (default: data/demo)")
    demo.add_argument("--checkpoints", default="checkpoints/demo",
                      help="folder for the demo checkpoints (default: checkpoints/demo)")
    demo.add_argument("--seed", type=int_at_least(0), default=42,
                      help="generator seed; the same seed gives the same shop (default 42)")
    demo.add_argument("--no-models", action="store_true", help="only the data, no checkpoints")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    demo.set_defaults(func=cmd_demo)

    stats = sub.add_parser("stats", help="print the statistics table of a prepared dataset")
    stats.add_argument("--dataset", required=True, help="prepared dataset folder, e.g. data/diginetica")
    stats.set_defaults(func=cmd_stats)

    models = sub.add_parser("models", help="list the registered models by family")
    models.set_defaults(func=cmd_models)


"""Command line: ``python -m sessrec <command> --help``.

Exit codes: 0 success, 2 bad usage, 3 bad input data or checkpoint, 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessrec.errors import SessrecError

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


def _print_stats(info: dict[str, Any]) -> None:
    table = pd.DataFrame(info["splits"]).T
    print(f"dataset {info['name']}:")
    print(table.to_string())


# -- commands ---------------------------------------------------------------------------


def cmd_prepare_raw(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import write_dataset
    from sessrec.data.preprocess import PreprocessConfig, preprocess_events
    from sessrec.data.readers import RAW_READERS

    reader = RAW_READERS[args.format]
    print(f"reading {args.input} ({args.format}) ...", file=sys.stderr)
    events = reader(args.input, session_gap=args.session_gap) if args.format == "retailrocket" else reader(args.input)
    config = PreprocessConfig(args.min_item_support, args.min_session_length, args.test_days, args.valid_days)
    splits = preprocess_events(events, config)
    info = write_dataset(
        args.out, splits, name=args.name or Path(args.out).name,
        description=f"{args.format} raw file, GRU4Rec-style preprocessing",
        provenance={"source": str(args.input), "format": args.format, "config": vars(config),
                    "command": " ".join(sys.argv)},
        min_position=args.min_position,
    )
    _print_stats(info)
    return EXIT_OK


def _read_table(path: str, args: argparse.Namespace) -> pd.DataFrame:
    from sessrec.data.readers import read_session_table

    return read_session_table(path, sep=args.sep, session_col=args.session_col, item_col=args.item_col,
                              time_col=args.time_col, pos_col=args.pos_col)


def cmd_prepare_split(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import write_dataset

    splits = {"train": _read_table(args.train, args), "test": _read_table(args.test, args)}
    if bool(args.valid_train) != bool(args.valid):
        raise SessrecError("--valid-train and --valid go together")
    if args.valid_train:
        splits["train_tr"] = _read_table(args.valid_train, args)
        splits["valid"] = _read_table(args.valid, args)
    info = write_dataset(
        args.out, splits, name=args.name or Path(args.out).name, description=args.description or "",
        provenance={"train": args.train, "test": args.test, "command": " ".join(sys.argv)},
        min_position=args.min_position,
    )
    _print_stats(info)
    return EXIT_OK


def cmd_prepare_shared(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import write_dataset
    from sessrec.data.readers import read_session_table

    source = Path(args.source)
    names = args.datasets or list(SHARED_DATASETS)
    for name in names:
        if name not in SHARED_DATASETS:
            raise SessrecError(f"unknown shared dataset '{name}' (known: {', '.join(SHARED_DATASETS)})")
        spec = SHARED_DATASETS[name]
        folder = source / name
        if not folder.is_dir():
            raise SessrecError(f"{folder}: not found (is --source the shared data folder?)")
        splits = {split: read_session_table(folder / spec[split]) for split in ("train", "test", "train_tr", "valid") if split in spec}
        info = write_dataset(
            Path(args.out) / name, splits, name=name, description=spec["description"],
            provenance={"source": str(folder), "files": {s: spec[s] for s in splits}, "command": " ".join(sys.argv)},
            min_position=spec["min_position"],
        )
        _print_stats(info)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from sessrec.demo_build import build_demo

    build_demo(Path(args.out), Path(args.checkpoints), seed=args.seed, train_models=not args.no_models,
               progress=not args.quiet)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import load_dataset

    _print_stats(load_dataset(args.dataset).info)
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.training import train_model
    from sessrec.models.factory import parse_assignments

    dataset = load_dataset(args.dataset)
    params = parse_assignments(args.set or [])
    model, meta = train_model(dataset, args.model, params=params, preset=args.preset, split=args.split,
                              progress=not args.quiet)
    from sessrec.models.io import save_model

    out = Path(args.out) if args.out else Path("checkpoints") / dataset.name / f"{args.model}.pt"
    save_model(model, out, meta)
    print(f"saved {out}")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import load_dataset
    from sessrec.evaluation import evaluate, paired_test
    from sessrec.experiments.training import train_model
    from sessrec.models.io import load_model

    dataset = load_dataset(args.dataset)
    test_split = "valid" if args.split == "valid" else "test"
    train_split = "train_tr" if args.split == "valid" else "train"
    test = dataset.sessions(test_split)
    train = dataset.sessions(train_split)
    min_position = args.min_position or dataset.min_position
    models = []
    for path in args.checkpoint or []:
        models.append((Path(path).stem, load_model(path)))
    for name in args.model or []:
        model, _ = train_model(dataset, name, split=train_split, progress=not args.quiet)
        models.append((name, model))
    if not models:
        raise SessrecError("nothing to evaluate: give --checkpoint FILE and/or --model NAME")
    results = []
    for label, model in models:
        if not np.isin(model.item_index.item_ids, train.unique_items()).all():
            print(f"warning: {label} was trained on items that are not in {dataset.name}/{train_split}", file=sys.stderr)
        res = evaluate(model, test, ks=tuple(args.ks), tie_mode=args.tie_mode, min_position=min_position,
                       train=train, progress=not args.quiet)
        results.append((label, res))
        m = res.metrics
        print(f"{label:>24s}  Recall@20 {m.get('recall@20', float('nan')):.4f}  MRR@20 {m.get('mrr@20', float('nan')):.4f}"
              f"  tied targets {res.tied_target_share:.1%} ({args.tie_mode} ties)"
              f"  ({res.n_events} events, {res.seconds:.2f} s)")
    record = {
        "dataset": dataset.name, "split": test_split, "tie_mode": args.tie_mode, "min_position": min_position,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv),
        "results": [{"label": label, **res.summary()} for label, res in results],
    }
    if len(results) > 1:
        base_label, base = results[0]
        record["significance"] = [
            {"a": base_label, "b": label, **paired_test(base.ranks, res.ranks, "mrr", 20).to_dict()}
            for label, res in results[1:]
        ]
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            rows = [{"label": label, "model": r.model, **r.metrics} for label, r in results]
            pd.DataFrame(rows).to_csv(out, index=False)
        else:
            out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {out}")
    if args.ranks:
        np.savez_compressed(args.ranks, **{label: res.ranks for label, res in results})
        print(f"wrote per-event ranks to {args.ranks}")
    return EXIT_OK


def cmd_benchmark(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.benchmark import BASELINE_SPECS, load_specs, run_benchmark
    from sessrec.experiments.records import aggregate, load_run_records, metrics_table

    dataset = load_dataset(args.dataset)
    specs = load_specs(args.config) if args.config else list(BASELINE_SPECS)
    if args.only:
        specs = [s for s in specs if s.label in set(args.only)]
        if not specs:
            raise SessrecError(f"--only {args.only}: no such labels in the config")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    run_benchmark(dataset, specs, seeds, args.out, tie_mode=args.tie_mode, progress=not args.quiet)
    records = load_run_records(args.out)
    summary_path = Path(args.out) / "summary.csv"
    aggregate(metrics_table(records)).to_csv(summary_path, index=False, float_format="%.6f")
    print(f"wrote {summary_path} (mean, std and number of seeds of every metric over all run records)")
    table = aggregate(metrics_table([r for r in records if r.get("dataset") == dataset.name]))
    summary = table[table["k"] == 20].pivot_table(index="label", columns="metric", values="mean")
    if not summary.empty:
        print(summary[[c for c in ("recall", "mrr", "ndcg") if c in summary.columns]].round(4).to_string())
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    import optuna

    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.sweep import load_space, run_sweep
    from sessrec.models.factory import parse_assignments

    if args.quiet:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = run_sweep(
            load_dataset(args.dataset), args.model, load_space(args.space), fixed=parse_assignments(args.fixed or []),
            n_trials=args.n_trials, storage=args.storage, study_name=args.study, metric=args.metric, seed=args.seed,
        )
    except ImportError as exc:
        raise SessrecError(f"storage {args.storage}: {exc} (PostgreSQL needs the psycopg package)") from exc
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    print(f"study {study.study_name}: {len(done)} complete trials in {args.storage}")
    if done:
        print(f"best {args.metric} = {study.best_value:.4f} with {study.best_params}")
    return EXIT_OK


# -- parser ------------------------------------------------------------------------------


TIE_MODE_HELP = ("how a target tied with other items is ranked: median (default; the expected rank under random "
                 "tie-breaking, used for every comparison), standard (the best rank of the tie; what published "
                 "GRU4Rec numbers use) or conservative (the worst rank)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sessrec", description="Session-based recommendation workbench.")
    sub = parser.add_subparsers(dest="command", required=True)

    prep = sub.add_parser("prepare", help="prepare a dataset folder from raw or pre-split files")
    prep_sub = prep.add_subparsers(dest="kind", required=True)
    raw = prep_sub.add_parser("raw", help="raw YOOCHOOSE / RetailRocket / Diginetica file -> GRU4Rec-style splits")
    raw.add_argument("--format", required=True, choices=["yoochoose", "retailrocket", "diginetica"])
    raw.add_argument("--input", required=True, help="the raw file (.csv/.dat, optionally .gz)")
    raw.add_argument("--out", required=True, help="output folder, e.g. data/retailrocket_raw")
    raw.add_argument("--name", help="dataset name (default: folder name)")
    raw.add_argument("--test-days", type=float, default=1.0, help="last N days form the test set (default 1)")
    raw.add_argument("--valid-days", type=float, default=1.0, help="last N days of train form the validation set")
    raw.add_argument("--min-item-support", type=int, default=5)
    raw.add_argument("--min-session-length", type=int, default=2)
    raw.add_argument("--session-gap", type=float, default=1800.0, help="RetailRocket: seconds between sessions")
    raw.add_argument("--min-position", type=int, default=1, help="first predicted position in evaluation")
    raw.set_defaults(func=cmd_prepare_raw)

    split = prep_sub.add_parser("split", help="already split session files (GRU4Rec TSV or benchmark TSV)")
    split.add_argument("--train", required=True)
    split.add_argument("--test", required=True)
    split.add_argument("--valid-train", help="training part of a validation split")
    split.add_argument("--valid", help="validation part of a validation split")
    split.add_argument("--out", required=True)
    split.add_argument("--name")
    split.add_argument("--description")
    split.add_argument("--min-position", type=int, default=1)
    for flag in ("--sep", "--session-col", "--item-col", "--time-col", "--pos-col"):
        split.add_argument(flag, help="override auto-detection")
    split.set_defaults(func=cmd_prepare_split)

    shared = prep_sub.add_parser("shared", help="import the benchmark splits of the shared data folder")
    shared.add_argument("--source", default="../shared/data")
    shared.add_argument("--out", default="data")
    shared.add_argument("datasets", nargs="*", help=f"subset of {', '.join(SHARED_DATASETS)}")
    shared.set_defaults(func=cmd_prepare_shared)

    demo = sub.add_parser("demo", help="generate the synthetic demo dataset and its checkpoints")
    demo.add_argument("--out", default="data/demo")
    demo.add_argument("--checkpoints", default="checkpoints/demo")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--no-models", action="store_true", help="only the data, no checkpoints")
    demo.add_argument("--quiet", action="store_true")
    demo.set_defaults(func=cmd_demo)

    stats = sub.add_parser("stats", help="print the statistics table of a prepared dataset")
    stats.add_argument("--dataset", required=True)
    stats.set_defaults(func=cmd_stats)

    train = sub.add_parser("train", help="train one model and save a checkpoint")
    train.add_argument("--dataset", required=True, help="prepared dataset folder")
    train.add_argument("--model", required=True, help="most_popular, last_item, item_knn or gru4rec")
    train.add_argument("--preset", help="named GRU4Rec parameter set (see README)")
    train.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="hyperparameters, e.g. loss=bpr-max layers=100")
    train.add_argument("--split", default="train", choices=["train", "train_tr"])
    train.add_argument("--out", help="checkpoint path (default checkpoints/<dataset>/<model>.pt)")
    train.add_argument("--quiet", action="store_true")
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate checkpoints and/or freshly fitted baselines")
    ev.add_argument("--dataset", required=True)
    ev.add_argument("--checkpoint", nargs="*", help="checkpoint files")
    ev.add_argument("--model", nargs="*", help="models to fit on the train split first (baselines)")
    ev.add_argument("--split", default="test", choices=["test", "valid"])
    ev.add_argument("--tie-mode", default="median", choices=["median", "standard", "conservative"],
                    help=TIE_MODE_HELP)
    ev.add_argument("--min-position", type=int, help="default: the dataset's protocol")
    ev.add_argument("--ks", type=int, nargs="+", default=[1, 5, 10, 20])
    ev.add_argument("--out", help="results file (.json or .csv)")
    ev.add_argument("--ranks", help="also write per-event ranks (.npz) for significance tests")
    ev.add_argument("--quiet", action="store_true")
    ev.set_defaults(func=cmd_evaluate)
    bench = sub.add_parser("benchmark", help="run models x seeds on a dataset, one run record each (resumable)")
    bench.add_argument("--dataset", required=True)
    bench.add_argument("--config", help="JSON file listing the models (default: the three baselines)")
    bench.add_argument("--only", nargs="*", help="run only these labels of the config")
    bench.add_argument("--seeds", type=int, default=3, help="seeds per seeded model (default 3)")
    bench.add_argument("--first-seed", type=int, default=1)
    bench.add_argument("--tie-mode", default="median", choices=["median", "standard", "conservative"],
                       help=TIE_MODE_HELP)
    bench.add_argument("--out", default="results", help="results root")
    bench.add_argument("--quiet", action="store_true")
    bench.set_defaults(func=cmd_benchmark)
    sweep = sub.add_parser("sweep", help="Optuna hyperparameter sweep on train_tr/valid (workers can share a study)")
    sweep.add_argument("--dataset", required=True)
    sweep.add_argument("--model", default="gru4rec")
    sweep.add_argument("--space", required=True, help="JSON parameter space (see sweeps/)")
    sweep.add_argument("--fixed", nargs="*", metavar="KEY=VALUE", help="parameters held fixed")
    sweep.add_argument("--n-trials", type=int, default=20, help="trials run by THIS worker")
    sweep.add_argument("--storage", default="sqlite:///results/sweeps.db",
                       help="Optuna storage URL: sqlite:///file.db or postgresql://user:pass@host/db")
    sweep.add_argument("--study", help="study name (default <dataset>-<model>); same name = shared study")
    sweep.add_argument("--metric", default="mrr@20")
    sweep.add_argument("--seed", type=int, help="sampler seed")
    sweep.add_argument("--quiet", action="store_true")
    sweep.set_defaults(func=cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SessrecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_DATA
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130

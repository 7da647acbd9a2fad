"""Command line: ``python -m sessrec <command> --help``.

Exit codes: 0 success; 2 bad usage or parameter, including an unusable output path
(:class:`ParameterError`, :class:`OutputPathError`, argparse errors); 3 bad input data or
checkpoint (:class:`DataFormatError`, :class:`CheckpointError`, any other
:class:`SessrecError`); 1 anything else, reported in one line (``--debug`` shows the
traceback). Output paths are checked before any work starts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from sessrec.errors import (CheckpointError, OutputPathError, ParameterError, SessrecError, TrainingError, clip,
                            quote)

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


# -- option types: a bad number is a usage error (exit 2) naming the allowed range ---------


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
    from sessrec.evaluation.sampled import (DEFAULT_NEGATIVES, DEFAULT_SAMPLING, DEFAULT_SAMPLING_SEED,
                                            SampledSettings)

    given = [flag for flag, value in (("--negatives", args.negatives), ("--sampling", args.sampling),
                                      ("--sampling-seed", args.sampling_seed)) if value is not None]
    if args.protocol != "sampled":
        if given:
            raise ParameterError(f"{', '.join(given)} only apply to --protocol sampled (the default protocol ranks "
                                 "the full catalogue)")
        return None
    settings = SampledSettings(
        DEFAULT_NEGATIVES if args.negatives is None else args.negatives,
        DEFAULT_SAMPLING if args.sampling is None else args.sampling,
        DEFAULT_SAMPLING_SEED if args.sampling_seed is None else args.sampling_seed,
    )
    if settings.negatives >= n_items:
        raise ParameterError(
            f"--negatives {settings.negatives} is not allowed: {catalogue} has {n_items:,} items, so at most "
            f"{n_items - 1:,} items other than the target can be drawn (allowed: 1 to {max(n_items - 1, 1)})"
        )
    return settings


def _print_stats(info: dict[str, Any]) -> None:
    from sessrec.data.preprocess import readable_statistics

    print(f"dataset {info['name']}:")
    print(readable_statistics(info["splits"]).to_string())


# -- output paths: checked before any work -------------------------------------------------


def _check_writable(folder: Path, flag: str, path: Path) -> None:
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
    _check_writable(path, flag, path)
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
    _check_writable(path.parent, flag, path)
    return path


def _dataset_name(args: argparse.Namespace) -> str:
    """``--name`` or the output folder's name, checked before any work (it becomes a folder name)."""
    from sessrec.data.dataset import NAME_RULE, is_dataset_name

    name = args.name or Path(args.out).resolve().name
    if not is_dataset_name(name):
        how = "--name" if args.name else "the folder name of --out (pass --name)"
        raise ParameterError(f"dataset name {quote(name)} from {how} is not allowed ({NAME_RULE})")
    return name


# -- commands ---------------------------------------------------------------------------


def cmd_prepare_raw(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import write_dataset
    from sessrec.data.preprocess import PreprocessConfig, preprocess_events
    from sessrec.data.readers import RAW_READERS

    reader = RAW_READERS[args.format]
    check_output_dir(args.out, "--out")
    name = _dataset_name(args)
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
    _print_stats(info)
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
    name = _dataset_name(args)
    splits = {"train": _read_table(args.train, args), "test": _read_table(args.test, args)}
    if args.valid_train:
        splits["train_tr"] = _read_table(args.valid_train, args)
        splits["valid"] = _read_table(args.valid, args)
    info = write_dataset(
        args.out, splits, name=name, description=args.description or "",
        provenance={"train": args.train, "test": args.test, "command": " ".join(sys.argv)},
        min_position=args.min_position,
    )
    _print_stats(info)
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
        _print_stats(info)
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

    _print_stats(load_dataset(args.dataset).info)
    return EXIT_OK


def cmd_models(args: argparse.Namespace) -> int:
    from sessrec.models.registry import FAMILIES, REGISTRY

    for family, title in FAMILIES.items():
        members = [spec for spec in REGISTRY if spec.family == family]
        if members:
            print(title)
            for spec in members:
                print(f"  {spec.name:<16} {spec.label:<14} {spec.summary}")
    return EXIT_OK


def cmd_progress(args: argparse.Namespace) -> int:
    """Print where the long benchmark runs stand (training checkpoints and claims)."""
    from sessrec.experiments.progress import progress_lines

    for flag, path in (("--out", Path(args.out)), ("--partials", Path(args.partials))):
        if path.exists() and not path.is_dir():
            raise ParameterError(f"{flag} {path}: not a folder")
    for line in progress_lines(args.out, args.partials):
        print(line)
    return EXIT_OK


def _breakdown_events(data_root: Path, dataset: str):
    """The benchmark's test events of ``data_root/dataset`` for ``--breakdown reclick``."""
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.analysis import benchmark_events

    folder = data_root / dataset
    if not (folder / "dataset.json").is_file():
        raise ParameterError(f"--breakdown reclick needs the test sessions of {dataset}: no prepared dataset at "
                             f"{folder} (python -m sessrec prepare shared ...; or --data <folder of datasets>)")
    return benchmark_events(load_dataset(folder))


def _print_breakdowns(records: list[dict], datasets: list[str], by: str, metrics: tuple[str, ...],
                      ks: tuple[int, ...], fmt: str, data_root: Path) -> int:
    """RQ4 of ``results --breakdown``: every model's metric@k by position, target popularity or re-click."""
    from sessrec.experiments import questions
    from sessrec.experiments import tables

    what = {"position": "position of the predicted click (1 = second click)",
            "popularity": "training clicks of the true item (quintiles of test events)",
            "reclick": "re-click (the true item was clicked earlier in the session) or new"}[by]
    csv_frames: dict[str, list] = {}
    for dataset in datasets:
        events = _breakdown_events(data_root, dataset) if by == "reclick" else None
        for metric in metrics:
            for k in ks:
                frame = questions.breakdown_frame(records, dataset, by, metric, k, events)
                if frame.empty:
                    print(f"{dataset}: no run with per-event ranks" + (
                        f" evaluated on the test events of {data_root / dataset}" if by == "reclick" else ""),
                          file=sys.stderr)
                    continue
                wide = questions.breakdown_wide(frame)
                name = tables.metric_name(metric, k)
                if fmt == "csv":
                    csv_frames.setdefault(dataset, []).append(
                        wide.assign(Dataset=dataset, Metric=name).set_index(["Dataset", "Metric"], append=True))
                    continue
                cells = wide.apply(lambda column: [f"{v:.4f}" if v == v else "" for v in column])
                title = f"{dataset}: {name} by {what}; test events per bucket: {questions.bucket_counts(frame)}"
                print(tables.to_latex(cells, caption=title, label=f"tab:{dataset}-{by}-{metric}{k}")
                      if fmt == "latex" else f"**{title}**\n\n{tables.to_markdown(cells)}")
    # the buckets differ between datasets: one CSV block per dataset, separated by an empty line
    print("\n".join(pd.concat(frames).reorder_levels(["Dataset", "Metric", "Model"]).to_csv(float_format="%.6f")
                    for frames in csv_frames.values()), end="")
    return EXIT_OK


def _strict_default() -> bool:
    """``results`` is strict by default in CI (``CI`` set to anything but empty, 0 or false)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _record_notices(data: Any) -> list[str]:
    """One line per file the results tables could not use, naming the file and why."""
    notices = [f"skipped {bad['_path']}: {bad['error']}" for bad in data.errors]
    if data.reference_error:
        notices.append(f"published numbers not shown: {data.reference_error}")
    return notices


def cmd_results_check(args: argparse.Namespace) -> int:
    """``results --check``: verify every record of a folder (schema, ranges, ranks file and checksum)."""
    from sessrec.experiments import records as rec
    from sessrec.experiments import tables

    root = Path(args.root)
    if not root.is_dir():
        raise ParameterError(f"--root {root}: no such folder")
    data = tables.load(root)
    found = rec.load_run_records(root)
    usable = rec.valid_records(found)
    unchecked = [r["_path"] for r in usable if rec.CHECKSUM_KEY not in r]
    notices = _record_notices(data)
    for line in notices:
        print(line, file=sys.stderr)
    for path in unchecked:
        print(f"no checksum in {path} (written before records kept one; its ranks are not verified)", file=sys.stderr)
    references = "none" if data.reference_error is None and data.references.empty else (
        "unreadable" if data.reference_error else f"{len(data.references)} rows")
    print(f"checked {len(found)} run records under {root}: {len(usable) - len(unchecked)} valid with matching "
          f"ranks checksums, {len(unchecked)} valid without a checksum, {len(data.errors)} unusable; "
          f"published numbers ({rec.REFERENCES_FILE}): {references}")
    return EXIT_DATA if notices or unchecked else EXIT_OK


def cmd_results(args: argparse.Namespace) -> int:
    from sessrec.experiments import tables

    if args.check:
        return cmd_results_check(args)
    data = tables.load(args.root)
    notices = _record_notices(data)
    for line in notices:
        print(f"warning: {line}", file=sys.stderr)
    strict = _strict_default() if args.strict is None else args.strict
    status = _print_results(args, data)
    if notices and strict:
        print(f"error: {len(notices)} file(s) under {args.root} could not be used (see the warnings above; "
              "`python -m sessrec results --check` lists them; --no-strict accepts them)", file=sys.stderr)
        return EXIT_DATA
    return status


def _print_results(args: argparse.Namespace, data: Any) -> int:
    """The tables of ``results`` (or its ``--breakdown``) over the usable records in ``data``."""
    from sessrec.experiments import questions
    from sessrec.experiments import tables

    if data.empty:
        raise ParameterError(f"no full-ranking run records under {args.root} (run `python -m sessrec benchmark` first)")
    available = sorted({r["dataset"] for r in data.records})
    unknown = [d for d in args.dataset or [] if d not in available]
    if unknown:
        raise ParameterError(f"no results for {', '.join(unknown)} under {args.root} (results exist for: "
                             f"{', '.join(available)})")
    metrics, ks = tuple(args.metrics), tuple(args.ks)
    datasets = args.dataset or available
    if args.breakdown:
        return _print_breakdowns(data.records, datasets, args.breakdown, metrics, ks, args.format, Path(args.data))
    views = {d: questions.settings_view(data.records, d, args.settings or questions.default_settings_view(data.records, d))
             for d in datasets}
    summaries = {d: tables.summary_of(views[d].records) for d in datasets}
    wides = {d: tables.wide_table(summaries[d], d, metrics, ks, tied=args.format != "latex") for d in datasets}
    if all(wide.empty for wide in wides.values()):
        raise ParameterError(f"no results for {', '.join(metrics)} at k = {', '.join(map(str, ks))} in "
                             f"{', '.join(datasets)} (see `python -m sessrec results` for what there is)")
    protocols = tables.protocol_lines(data.records)
    csv_frames = []
    for dataset in datasets:
        summary, wide = summaries[dataset], wides[dataset]
        title = f"{dataset} ({protocols[dataset]}; settings: {questions.SETTINGS_VIEWS[views[dataset].view]})"
        note = questions.settings_note(views[dataset])
        if note:
            print(f"note: {dataset}: {note}", file=sys.stderr)
        if wide.empty:
            notice = f"{title}: no results for {', '.join(metrics)} at k = {', '.join(map(str, ks))}"
            print(notice, file=sys.stderr) if args.format == "csv" else print(notice + "\n")
            continue
        if args.format == "csv":  # one table for every dataset, columns aligned by name, one header
            csv_frames.append(wide.assign(Dataset=dataset).set_index("Dataset", append=True))
            continue
        verdicts = questions.verdict_lines(summary, dataset, metrics, ks)
        # RQ5 (at k = 20), where modern models ran: them against GRU4Rec, with the published numbers
        has_modern = any(r.get("dataset") == dataset and r.get("model") in questions.MODERN_MODELS
                         for r in data.records)
        modern_full = questions.modern_table(data.records, dataset, data.references) if has_modern else pd.DataFrame()
        modern = questions.modern_text_table(modern_full)
        modern_lines = [line for line, _ in questions.modern_verdict_lines(data.records, dataset)] if has_modern else []
        modern_lines += questions.reproduction_lines(modern_full)
        if args.format == "latex":
            print("".join(f"% {line.replace('**', '')}\n" for line in verdicts)
                  + tables.to_latex(wide, caption=title, label=f"tab:{dataset}"))
            if not modern.empty:
                print("".join(f"% {line.replace('**', '')}\n" for line in modern_lines)
                      + tables.to_latex(modern, caption=f"{dataset}: GRU4Rec and the modern neural models",
                                        label=f"tab:{dataset}-modern", bold=["Recall@20", "MRR@20"]))
        else:
            print(f"**{title}**\n\n{tables.to_markdown(wide)}")
            print("".join(f"- {line}\n" for line in verdicts))
            if not modern.empty:
                print(f"Modern neural models on {dataset} (RQ5; published numbers and their sources: "
                      f"{args.root}/reference_numbers.csv; train s: mean over seeds of the seconds of every training "
                      f"epoch, the choice of epochs included, wall time for models without epochs; background "
                      f"runs, not a speed figure):\n\n{tables.to_markdown(modern, bold=['Recall@20', 'MRR@20'])}")
                print("".join(f"- {line}\n" for line in modern_lines))
    if csv_frames:
        frame = pd.concat(csv_frames).reorder_levels(["Dataset", "Model"])
        print(frame.to_csv(), end="")
    return EXIT_OK


def cmd_train(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.training import benchmark_settings, resolve_params, train_model
    from sessrec.models.factory import make_model, model_names, parse_assignments
    from sessrec.models.io import save_model
    from sessrec.models.registry import EPOCHS
    from sessrec.models.registry import spec as model_spec

    params = parse_assignments(args.set or [])
    if args.resume:
        return _resume_training(args, params)
    if args.all:
        if args.model or args.out or args.set or args.preset or args.checkpoint_every_epoch:
            raise ParameterError("--all trains every model at the dataset's benchmark settings: --model, --out, "
                                 "--set, --preset and --checkpoint-every-epoch go with --model")
        dataset = load_dataset(args.dataset)
        folder = check_output_dir(Path(args.checkpoints) / dataset.name, "--checkpoints")
        plan = benchmark_settings(dataset.name, model_names(), args.config_dir)
        for settings in plan:  # every configuration builds before the first training starts
            make_model(settings.model, resolve_params(settings.model, settings.params, settings.preset))
        print(f"training {len(plan)} models on {dataset.name} -> {folder}/")
        for settings in plan:
            model, meta = train_model(dataset, settings.model, params=settings.params, preset=settings.preset,
                                      split=args.split, progress=not args.quiet, validation=settings.validation)
            out = save_model(model, folder / f"{settings.model}.pt", meta, training_state=_training_state_of(model))
            print(f"{settings.model:>14}: {meta['train_seconds']:7.1f} s  -> {out}  (settings: {settings.source})")
        return EXIT_OK
    if not args.model:
        raise ParameterError("train: give --model NAME, --all, or --resume CHECKPOINT")
    make_model(args.model, resolve_params(args.model, params, args.preset))  # bad parameters fail before any work
    if args.checkpoint_every_epoch and model_spec(args.model).trains != EPOCHS:
        raise ParameterError(f"--checkpoint-every-epoch: {args.model} does not train with a per-epoch callback "
                             "(models that early-stop keep their own per-epoch checkpoints in benchmark runs)")
    dataset = load_dataset(args.dataset)
    # the dataset name is validated on load, so the default path stays under the checkpoint root
    out = Path(args.out) if args.out else Path(args.checkpoints) / dataset.name / f"{args.model}.pt"
    check_output_file(out, "--out" if args.out else "checkpoint path")
    callback = _epoch_saver(out, dataset, args, args.split) if args.checkpoint_every_epoch else None
    model, meta = train_model(dataset, args.model, params=params, preset=args.preset, split=args.split,
                              progress=not args.quiet, callback=callback)
    save_model(model, out, meta, training_state=_training_state_of(model))
    print(f"saved {out}")
    return EXIT_OK

def _training_state_of(model: Any) -> Any:
    """The model's training state when it has one (GRU4Rec), so the checkpoint can be resumed."""
    return model.training_state() if hasattr(model, "training_state") else None


def _epoch_saver(out: Path, dataset: Any, args: argparse.Namespace, split: str):
    """A ``(model, epoch record)`` callback that saves weights + training state after every epoch (atomically)."""
    from sessrec.models.io import save_model

    def save(model: Any, record: dict[str, Any]) -> None:
        meta = {"dataset": dataset.name, "dataset_identity": dataset.identity(split),
                "dataset_path": str(dataset.path), "train_split": split,
                "training_log": list(model.training_log), "preset": args.preset, "partial": True}
        save_model(model, out, meta, training_state=model.training_state())
        if not args.quiet:
            print(f"saved {out} after epoch {record['epoch']}", file=sys.stderr)

    return save


def _resume_training(args: argparse.Namespace, params: dict[str, Any]) -> int:
    """``train --resume CHECKPOINT``: continue the training stored with the checkpoint."""
    import time as _time

    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.training import machine_description
    from sessrec.models.io import load_model, load_training_state, save_model
    from sessrec.models.validation import check_device, check_int

    model = load_model(args.resume)
    if not hasattr(model, "training_state"):
        raise ParameterError(f"--resume: {model.name} is not trained by epochs; there is nothing to continue")
    state = load_training_state(args.resume)
    if state is None:
        raise CheckpointError(f"{args.resume}: holds weights only, no training state to resume "
                              "(checkpoints written by this version of `train` can be resumed)")
    if args.model and args.model != model.name:
        raise ParameterError(f"--model {args.model} does not match the checkpoint's model '{model.name}'")
    if args.preset:
        raise ParameterError("--preset cannot be combined with --resume (the checkpoint holds the parameters)")
    other = sorted(set(params) - {"n_epochs", "n_threads", "device"})
    if other:
        raise ParameterError(f"--resume: only n_epochs, n_threads and device can be changed, not {', '.join(other)}")
    if "n_epochs" in params:
        model.n_epochs = check_int("n_epochs", params["n_epochs"], min=state.epoch + 1, owner=model.name)
    if "n_threads" in params:
        model.n_threads = check_int("n_threads", params["n_threads"], min=1, owner=model.name)
    if "device" in params:  # e.g. continue on the CPU a training begun on a GPU
        model.device = check_device("device", params["device"], owner=model.name)
    if state.epoch >= model.n_epochs:
        raise ParameterError(f"{args.resume}: all {model.n_epochs} epochs are done; "
                             f"raise them with --set n_epochs=N (allowed: N > {state.epoch})")
    split = model.checkpoint_meta.get("train_split", args.split)
    dataset = load_dataset(args.dataset)
    out = Path(args.out) if args.out else Path(args.resume)
    saver = _epoch_saver(out, dataset, args, split) if args.checkpoint_every_epoch else None
    if not args.quiet:
        print(f"resuming {args.resume} after epoch {state.epoch} of {model.n_epochs}", file=sys.stderr)
    started = _time.perf_counter()
    model.fit(dataset.sessions(split), progress=not args.quiet, resume=state,
              callback=(lambda record: saver(model, record)) if saver else None)
    meta = {
        "dataset": dataset.name, "dataset_identity": dataset.identity(split), "dataset_path": str(dataset.path),
        "dataset_statistics": dataset.info.get("splits", {}), "train_split": split,
        "preset": model.checkpoint_meta.get("preset"),
        "train_seconds": float(model.checkpoint_meta.get("train_seconds", 0.0)) + _time.perf_counter() - started,
        "training_log": list(model.training_log), "machine": machine_description(),
        "resumed_from": {"path": str(args.resume), "epoch": state.epoch},
    }
    save_model(model, out, meta, training_state=model.training_state())
    print(f"saved {out}")
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import check_known_items, load_dataset
    from sessrec.evaluation import evaluate, paired_test
    from sessrec.experiments.training import train_model
    from sessrec.models.io import load_model

    if args.out:
        check_output_file(args.out, "--out")
    if args.ranks:
        check_output_file(args.ranks, "--ranks", (".npz",))
    if not args.checkpoint and not args.model:
        raise ParameterError("nothing to evaluate: give --checkpoint FILE and/or --model NAME")
    dataset = load_dataset(args.dataset)
    test_split = "valid" if args.split == "valid" else "test"
    train_split = "train_tr" if args.split == "valid" else "train"
    test = dataset.sessions(test_split)
    train = dataset.sessions(train_split)
    check_known_items(test.items, train.items, f"{dataset.path}: {test_split} split", train_split)
    min_position = dataset.min_position if args.min_position is None else args.min_position
    check_min_position(min_position, test, test_split)
    # checked on the training catalogue before any work, and again per model below
    sampled = sampled_settings(args, len(train.unique_items()), f"the {dataset.name}/{train_split} catalogue")
    models = []
    for path in args.checkpoint or []:
        models.append((Path(path).stem, load_model(path)))
    for name in args.model or []:
        model, _ = train_model(dataset, name, split=train_split, progress=not args.quiet)
        models.append((name, model))
    results = []
    for label, model in models:
        if not np.isin(model.item_index.item_ids, train.unique_items()).all():
            print(f"warning: {label} was trained on items that are not in {dataset.name}/{train_split}", file=sys.stderr)
        protocol = {}
        if sampled is not None:
            sampled_settings(args, model.n_items, f"the catalogue of {label}")
            protocol = {"protocol": "sampled", "negatives": sampled.negatives, "sampling": sampled.sampling,
                        "sampling_seed": sampled.seed}
        res = evaluate(model, test, ks=tuple(args.ks), tie_mode=args.tie_mode, min_position=min_position,
                       train=train, progress=not args.quiet, **protocol)
        if res.n_events == 0:  # metrics would be 0/0
            raise SessrecError(
                f"{label}: no event of {dataset.path}/{test_split} can be evaluated: every test session has fewer "
                f"than {min_position + 1} items known to the model ({res.counts})"
            )
        results.append((label, res))
        m = res.metrics
        print(f"{label:>24s}  Recall@20 {m.get('recall@20', float('nan')):.4f}  MRR@20 {m.get('mrr@20', float('nan')):.4f}"
              f"  tied targets {res.tied_target_share:.1%} ({args.tie_mode} ties)"
              f"  ({res.n_events} events, {res.seconds:.2f} s)")
        if res.sampled is not None:
            s = res.sampled.metrics
            k = 10 if 10 in args.ks else max(args.ks)
            print(f"{'':>24s}  sampled, {sampled.describe()}: HitRate@{k} {s[f'recall@{k}']:.4f}  "
                  f"MRR@{k} {s[f'mrr@{k}']:.4f}  Precision@{k} {s[f'precision@{k}']:.4f}")
    record = {
        "dataset": dataset.name, "split": test_split, "tie_mode": args.tie_mode, "min_position": min_position,
        "protocol": "full" if sampled is None else "sampled",
        **({} if sampled is None else {"sampled": {"negatives": sampled.negatives, "sampling": sampled.sampling,
                                                   "seed": sampled.seed}}),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": " ".join(sys.argv),
        "results": [{"label": label, **res.summary()} for label, res in results],
    }
    if len(results) > 1:
        base_label, base = results[0]
        record["significance"] = [
            {"a": base_label, "b": label, **paired_test(base.ranks, res.ranks, "mrr", 20).to_dict()}
            for label, res in results[1:]
        ]
    print(_metrics_table(results, args.ks))
    if sampled is not None:
        print(f"sampled protocol ({sampled.describe()}; rank among the target and its negatives):")
        print(_metrics_table([(label, res.sampled) for label, res in results], args.ks))
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".csv":
            rows = [{"label": label, "model": r.model, **r.metrics,
                     **({f"sampled_{key}": v for key, v in r.sampled.metrics.items()} if r.sampled else {})}
                    for label, r in results]
            pd.DataFrame(rows).to_csv(out, index=False)
        else:
            out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {out}")
    if args.ranks:
        Path(args.ranks).parent.mkdir(parents=True, exist_ok=True)
        arrays = {label: res.ranks for label, res in results}
        arrays.update({f"sampled_{label}": res.sampled.ranks for label, res in results if res.sampled is not None})
        np.savez_compressed(args.ranks, **arrays)
        print(f"wrote per-event ranks to {args.ranks}")
    if not args.out and not args.ranks:
        print("(results not saved: add --out results.json or .csv, and --ranks ranks.npz for significance tests)")
    return EXIT_OK


def _metrics_table(results: list, ks: list[int]) -> str:
    """Recall, MRR and NDCG at every cut-off, one row per model, as printed by ``evaluate``
    (``results``: ``(label, object with .metrics)`` pairs)."""
    rows = {}
    for label, res in results:
        rows[label] = {f"{name}@{k}": res.metrics.get(f"{key}@{k}", float("nan"))
                       for key, name in (("recall", "Recall"), ("mrr", "MRR"), ("ndcg", "NDCG")) for k in ks}
    return pd.DataFrame(rows).T.to_string(float_format=lambda v: f"{v:.4f}")


def cmd_benchmark(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.benchmark import BASELINE_SPECS, load_specs, run_benchmark, validate_specs
    from sessrec.experiments.records import aggregate, load_run_records, metrics_table, write_summary

    from sessrec.data.dataset import check_known_items

    check_output_dir(args.out, "--out")
    specs = load_specs(args.config) if args.config else list(BASELINE_SPECS)
    if args.only:
        specs = [s for s in specs if s.label in set(args.only)]
        if not specs:
            raise ParameterError(f"--only {args.only}: no such labels in the config")
    _check_labels(specs, args.config)
    validate_specs(specs)  # every configuration builds before the first run starts
    dataset = load_dataset(args.dataset)
    # the name was validated on load: records go to <out>/<name>/, never elsewhere
    check_output_dir(Path(args.out) / dataset.name, "--out")
    check_known_items(dataset.test.items, dataset.train.items, f"{dataset.path}: test split")
    sampled = sampled_settings(args, len(dataset.train.unique_items()), f"the {dataset.name} training catalogue")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    run_benchmark(dataset, specs, seeds, args.out, tie_mode=args.tie_mode, progress=not args.quiet, sampled=sampled)
    records = load_run_records(args.out)
    summary_path = write_summary(args.out, records)
    print(f"wrote {summary_path} (mean, std and number of seeds of every metric over all run records, "
          "one row per protocol)")
    protocol = "full" if sampled is None else sampled.key
    table = aggregate(metrics_table([r for r in records if r.get("dataset") == dataset.name]))
    table = table[table["protocol"] == protocol]
    k = 20 if sampled is None else 10
    summary = table[table["k"] == k].pivot_table(index="label", columns="metric", values="mean")
    if not summary.empty:
        print(f"{protocol} protocol, k = {k}:")
        print(summary[[c for c in summary.columns if c.removeprefix("sampled_") in ("recall", "mrr", "ndcg")]]
              .round(4).to_string())
    return EXIT_OK


def _check_labels(specs: list, config: str | None) -> None:
    """Run labels become file names (``<out>/<dataset>/<label>-seed<n>.json``): safe names only."""
    from sessrec.data.dataset import NAME_RULE, is_dataset_name

    for spec in specs:
        if not is_dataset_name(spec.label):
            raise ParameterError(f"{config}: label {quote(spec.label)} cannot be used as a file name ({NAME_RULE})")


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


def cmd_tune(args: argparse.Namespace) -> int:
    """``tune``: the equal-budget studies of one dataset (see :mod:`sessrec.experiments.tuning`)."""
    import optuna

    from sessrec.data.dataset import load_dataset
    from sessrec.experiments import tuning as tn

    declared = tn.load_tuning(args.tuning)
    labels = args.model or list(declared)
    unknown = [label for label in labels if label not in declared]
    if unknown:
        raise ParameterError(f"--model: no tuning declared for {', '.join(unknown)} in {args.tuning} "
                             f"(declared: {', '.join(declared)})")
    dataset = load_dataset(args.dataset)
    budget = tn.load_budget(dataset.name, args.budget)
    if args.quiet or args.status or args.export or args.write_config:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not args.storage.startswith(("sqlite:///", "postgresql", "mysql")):
        raise ParameterError(f"--storage {args.storage[:80]}: expected sqlite:///file.db or postgresql://...")
    if args.snapshot:
        print(f"copied {args.storage} to {tn.snapshot_sqlite(args.storage, args.snapshot)}")
        return EXIT_OK
    reports = []
    for label in labels:
        tuned = declared[label]
        if args.status or args.write_config or args.export:
            study = tn.existing_study(dataset, tuned, args.storage)
            if study is None:
                print(f"{tn.study_name(dataset.name, label)}: no study yet")
                continue
            tn.fail_dead_trials(study)
            rep = tn.report(study, tuned, budget, tn.study_starts(tuned, dataset.name))
        else:
            rep = tn.tune(dataset, tuned, budget, storage=args.storage, seed=args.seed, progress=not args.quiet,
                          max_trials=args.max_trials)
            study = tn.open_study(dataset, tuned, args.storage) if args.export else None
        reports.append(rep)
        print(rep.line())
        for line in rep.start_lines():
            print(line)
        if args.export:
            out = Path(args.export) / dataset.name / f"{label}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps({"study": rep.to_json(), "trials": tn.export_trials(study)}, indent=2) + "\n")
    if args.write_config:
        out = check_output_file(Path(args.write_config) / f"{dataset.name}.json", "--write-config", (".json",))
        out.parent.mkdir(parents=True, exist_ok=True)
        config = tn.refit_config(reports, declared, dataset.name)
        out.write_text(json.dumps(config, indent=2) + "\n")
        print(f"wrote {out}: {len(config['models'])} tuned setting(s); refit and evaluate them with "
              f"`python -m sessrec benchmark --dataset {args.dataset} --config {out} --seeds 3`")
    return EXIT_OK


# -- parser ------------------------------------------------------------------------------


def add_protocol_options(command: argparse.ArgumentParser) -> None:
    """``--protocol``, ``--negatives``, ``--sampling``, ``--sampling-seed`` (evaluate, benchmark)."""
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


TIE_MODE_HELP = ("how a target tied with other items is ranked: median (default; the expected rank under random "
                 "tie-breaking, used for every comparison), standard (the best rank of the tie; what published "
                 "GRU4Rec numbers use) or conservative (the worst rank)")


def build_parser() -> argparse.ArgumentParser:
    from sessrec.models.registry import REGISTRY

    SUBJECT = next(spec.name for spec in REGISTRY if spec.subject)  # noqa: N806 - the subject model's name
    parser = argparse.ArgumentParser(prog="python -m sessrec", description="Session-based recommendation workbench.")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an unexpected error (also: SESSREC_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True)

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

    results = sub.add_parser("results", help="print the committed benchmark results (RQ1 tables, where GRU4Rec "
                             "loses, each modern model against it) as Markdown, LaTeX or CSV")
    results.add_argument("--root", default="results", help="folder of run records (default: results)")
    results.add_argument("--dataset", nargs="+", help="datasets to print (default: every dataset with results)")
    results.add_argument("--metrics", nargs="+", default=["recall", "mrr"], choices=["recall", "mrr", "ndcg"],
                         help="accuracy metrics (default: recall mrr)")
    results.add_argument("--ks", nargs="+", type=int_at_least(1), default=[20], help="cut-offs (default: 20)")
    results.add_argument("--format", choices=["markdown", "latex", "csv"], default="markdown",
                         help="markdown (default; the best value per column in bold, then the verdict lines), "
                              "latex (booktabs; verdicts as comments) or csv")
    results.add_argument("--breakdown", choices=["position", "popularity", "reclick"],
                         help="instead of the tables: RQ4, every model's metrics by the position of the predicted "
                              "click, by the training popularity of the true item, or by whether the true item was "
                              "clicked earlier in the session (reclick; reads the test split from --data) "
                              "(the Benchmarks page's RQ4)")
    results.add_argument("--data", default="data",
                         help="folder of prepared datasets, for --breakdown reclick (default: data)")
    results.add_argument("--settings", choices=["tuned", "published"],
                         help="RQ1 at each model's tuned setting (equal-budget tuning, `sessrec tune`) or at its "
                              "published one (default: tuned on a dataset where every tunable model has its tuned "
                              "run, else published)")
    results.add_argument("--check", action="store_true",
                         help="instead of the tables: verify every record under --root (schema, metric ranges, "
                              "counts, ranks file length and checksum) and say what was found; exit 3 on any problem")
    strictness = results.add_mutually_exclusive_group()
    strictness.add_argument("--strict", dest="strict", action="store_true", default=None,
                            help="exit 3 when any record or the published numbers could not be used "
                                 "(the default where the CI environment variable is set)")
    strictness.add_argument("--no-strict", dest="strict", action="store_false",
                            help="print the tables of the usable records and exit 0 (the default elsewhere)")
    results.set_defaults(func=cmd_results)

    train = sub.add_parser("train", help="train one model (or --all) and save checkpoints")
    train.add_argument("--dataset", required=True, help="prepared dataset folder, e.g. data/rsc15_100k")
    which = train.add_mutually_exclusive_group()
    which.add_argument("--model", help="registry name of the model to train (see `python -m sessrec models`); "
                       "required unless --all or --resume")
    which.add_argument("--all", action="store_true",
                       help="train every registered model at the dataset's benchmark settings "
                            "(benchmarks/<dataset>.json; model defaults where it has none) into "
                            "<checkpoints>/<dataset>/<model>.pt, where the app finds them")
    train.add_argument("--checkpoints", default="checkpoints", help="checkpoint root folder (default: checkpoints)")
    train.add_argument("--config-dir", default="benchmarks",
                       help="folder of the per-dataset benchmark configs read by --all (default: benchmarks)")
    train.add_argument("--preset", help="named GRU4Rec parameter set (see README)")
    train.add_argument("--set", nargs="*", metavar="KEY=VALUE", help="hyperparameters, e.g. loss=bpr-max layers=100")
    train.add_argument("--split", default="train", choices=["train", "train_tr"],
                       help="training split (default: train; train_tr is the tuning split)")
    train.add_argument("--out", help="checkpoint path (default: <checkpoints>/<dataset>/<model>.pt; "
                       "with --resume: the resumed file)")
    train.add_argument("--resume", metavar="CHECKPOINT",
                       help="continue the training saved in CHECKPOINT (same dataset; --set n_epochs=N to extend)")
    train.add_argument("--checkpoint-every-epoch", action="store_true",
                       help="save weights + training state to --out after every epoch (resumable)")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate checkpoints and/or freshly fitted baselines")
    ev.add_argument("--dataset", required=True, help="prepared dataset folder")
    ev.add_argument("--checkpoint", nargs="*", help="checkpoint files")
    ev.add_argument("--model", nargs="*", help="models to fit on the train split first (baselines)")
    ev.add_argument("--split", default="test", choices=["test", "valid"],
                    help="test: train -> test (default); valid: train_tr -> valid (tuning split)")
    ev.add_argument("--tie-mode", default="median", choices=["median", "standard", "conservative"],
                    help=TIE_MODE_HELP)
    ev.add_argument("--min-position", type=int_at_least(1), help="default: the dataset's protocol")
    ev.add_argument("--ks", type=int_at_least(1), nargs="+", default=[1, 5, 10, 20],
                    help="cut-offs k of the metrics (default: 1 5 10 20)")
    ev.add_argument("--out", help="results file (.json or .csv)")
    ev.add_argument("--ranks", help="also write per-event ranks (.npz) for significance tests (sampled protocol: "
                    "also sampled_<label>)")
    add_protocol_options(ev)
    ev.add_argument("--quiet", action="store_true", help="no progress bars")
    ev.set_defaults(func=cmd_evaluate)
    bench = sub.add_parser("benchmark", help="run models x seeds on a dataset, one run record each (resumable)")
    bench.add_argument("--dataset", required=True, help="prepared dataset folder")
    bench.add_argument("--config", help="JSON file listing the models (default: the three baselines)")
    bench.add_argument("--only", nargs="*", help="run only these labels of the config")
    bench.add_argument("--seeds", type=int_at_least(1), default=3, help="seeds per seeded model (default 3)")
    bench.add_argument("--first-seed", type=int_at_least(0), default=1,
                       help="seeds are first-seed, first-seed+1, ... (default 1)")
    bench.add_argument("--tie-mode", default="median", choices=["median", "standard", "conservative"],
                       help=TIE_MODE_HELP)
    bench.add_argument("--out", default="results", help="results root")
    add_protocol_options(bench)
    bench.add_argument("--quiet", action="store_true", help="no progress bars")
    bench.set_defaults(func=cmd_benchmark)

    progress = sub.add_parser("progress", help="where the long benchmark runs stand: epoch, best validation score, "
                              "who is running them, claims left by processes that are gone")
    progress.add_argument("--out", default="results", help="results root holding the claims (default: results)")
    progress.add_argument("--partials", default=str(Path("checkpoints") / "partial"),
                          help="folder of the per-epoch training checkpoints (default: checkpoints/partial)")
    progress.set_defaults(func=cmd_progress)
    tune = sub.add_parser("tune", help="equal-budget Optuna studies on train_tr/valid: one per (dataset, model), "
                          "resumable, pruned per epoch (sweeps/tuning.json, sweeps/budget.json)")
    tune.add_argument("--dataset", required=True, help="prepared dataset folder with train_tr and valid splits")
    tune.add_argument("--model", nargs="+", metavar="LABEL",
                      help="labels of sweeps/tuning.json to tune, in this order (default: all, in the file's order)")
    tune.add_argument("--tuning", default="sweeps/tuning.json", help="what is tuned (default: sweeps/tuning.json)")
    tune.add_argument("--budget", default="sweeps/budget.json", help="budget per dataset (default: sweeps/budget.json)")
    tune.add_argument("--storage", default="sqlite:///sweeps/studies/studies.db",
                      help="Optuna storage URL (default: sqlite:///sweeps/studies/studies.db; postgresql://... "
                           "lets workers on several machines share the studies)")
    tune.add_argument("--max-trials", type=int_at_least(1),
                      help="stop this worker after this many trials per study (the budget still rules)")
    tune.add_argument("--seed", type=int_at_least(0), default=0, help="TPE sampler seed (default 0)")
    tune.add_argument("--status", action="store_true", help="only say where each study stands")
    tune.add_argument("--export", metavar="FOLDER",
                      help="also write every trial as JSON to FOLDER/<dataset>/<label>.json (e.g. sweeps/studies)")
    tune.add_argument("--write-config", metavar="FOLDER",
                      help="write FOLDER/<dataset>.json, a benchmark config of each study's best setting "
                           "(e.g. benchmarks/tuned), and run no trial")
    tune.add_argument("--snapshot", metavar="FILE",
                      help="only copy the SQLite --storage to FILE, consistently even while workers write to it "
                           "(to commit the studies of a tuning still running)")
    tune.add_argument("--quiet", action="store_true", help="no progress bars")
    tune.set_defaults(func=cmd_tune)

    sweep = sub.add_parser("sweep", help="Optuna hyperparameter sweep on train_tr/valid (workers can share a study)")
    sweep.add_argument("--dataset", required=True, help="prepared dataset folder with train_tr and valid splits")
    sweep.add_argument("--model", default=SUBJECT, help=f"registry name of the model to tune (default: {SUBJECT})")
    sweep.add_argument("--space", required=True, help="JSON parameter space (see sweeps/)")
    sweep.add_argument("--fixed", nargs="*", metavar="KEY=VALUE", help="parameters held fixed")
    sweep.add_argument("--n-trials", type=int_at_least(1), default=20, help="trials run by THIS worker")
    sweep.add_argument("--storage", default="sqlite:///results/sweeps.db",
                       help="Optuna storage URL: sqlite:///file.db or postgresql://user:pass@host/db")
    sweep.add_argument("--study", help="study name (default <dataset>-<model>); same name = shared study")
    sweep.add_argument("--metric", default="mrr@20", help="validation metric to maximise (default: mrr@20)")
    sweep.add_argument("--seed", type=int_at_least(0), help="sampler seed")
    sweep.add_argument("--quiet", action="store_true", help="no progress bars")
    sweep.set_defaults(func=cmd_sweep)
    return parser


def _fail(exc: BaseException, code: int) -> int:
    print(f"error: {clip(str(exc))}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    """Run one command; anticipated bad input gives a one-line ``error:`` and exit 2 or 3."""
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("SESSREC_DEBUG", "") not in ("", "0")
    try:
        # commands that never compute with torch stay light
        if args.command not in ("models", "stats", "results", "progress"):
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

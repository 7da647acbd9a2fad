"""`results`: the RQ tables of a results folder, its breakdowns, and `--check` of every record."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from sessrec.cli.common import EXIT_DATA, EXIT_OK, int_at_least
from sessrec.errors import ParameterError


def _breakdown_events(data_root: Path, dataset: str):
    """The benchmark's test events of ``data_root/dataset`` for ``--breakdown reclick``."""
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.analysis.breakdowns import benchmark_events

    folder = data_root / dataset
    if not (folder / "dataset.json").is_file():
        raise ParameterError(f"--breakdown reclick needs the test sessions of {dataset}: no prepared dataset at "
                             f"{folder} (python -m sessrec prepare shared ...; or --data <folder of datasets>)")
    return benchmark_events(load_dataset(folder))


def _print_breakdowns(records: list[dict], datasets: list[str], by: str, metrics: tuple[str, ...],
                      ks: tuple[int, ...], fmt: str, data_root: Path) -> int:
    """RQ4 of ``results --breakdown``: every model's metric@k by position, target popularity or re-click."""
    from sessrec.experiments.analysis import questions
    from sessrec.experiments.analysis import tables

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
    from sessrec.experiments.analysis import tables

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
    from sessrec.experiments.analysis import tables

    if args.check:
        return cmd_results_check(args)
    data = tables.load(args.root)
    if args.sampled:
        return _print_sampled(args, data)
    if args.format == "records":
        return _print_record_tables(args)
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


def _print_sampled(args: argparse.Namespace, data: Any) -> int:
    """``results --sampled``: the sampled-protocol runs, full ranking beside sampled."""
    from sessrec.experiments.analysis import protocols
    from sessrec.experiments.records import load_run_records

    records = [r for r in load_run_records(args.root) if args.dataset is None or r.get("dataset") in args.dataset]
    text = protocols.sampled_markdown(records, args.ks[0] if args.ks else 10)
    if not text:
        raise ParameterError(f"no sampled-protocol run records under {args.root}"
                             + (f" for {', '.join(args.dataset)}" if args.dataset else ""))
    print(text)
    return EXIT_OK


def _print_record_tables(args: argparse.Namespace) -> int:
    """``results --format records``: every full-ranking run of the chosen groups, one table a dataset."""
    from sessrec.experiments.analysis import tables
    from sessrec.experiments.records import load_run_records

    groups = set(args.group.split(","))
    records = [r for r in load_run_records(args.root) if (args.dataset is None or r.get("dataset") in args.dataset)
               and ("all" in groups or r.get("group", "main") in groups)]
    text = tables.record_tables_markdown(records, (args.ks or [20])[0])
    if not text:
        raise ParameterError(f"no full-ranking run records under {args.root} for group {args.group}")
    print(text)
    return EXIT_OK


def _loss_text(losses: pd.DataFrame) -> pd.DataFrame:
    """:func:`questions.tuned_loss_table` as text, one row per loss."""
    text = losses.set_index("Loss").copy()
    for column in ("Recall@20", "MRR@20"):
        text[column] = text[column].map(lambda v: f"{v:.4f}")
    column = next(c for c in text.columns if c.startswith("Wilcoxon"))
    text[column] = text[column].map(lambda v: "" if v is None or pd.isna(v) else f"{v:.2g}")
    return text


def _print_results(args: argparse.Namespace, data: Any) -> int:
    """The tables of ``results`` (or its ``--breakdown``) over the usable records in ``data``."""
    from sessrec.experiments.analysis import questions
    from sessrec.experiments.analysis import tables

    if data.empty:
        raise ParameterError(f"no full-ranking run records under {args.root} (run `python -m sessrec benchmark` first)")
    available = sorted({r["dataset"] for r in data.records})
    unknown = [d for d in args.dataset or [] if d not in available]
    if unknown:
        raise ParameterError(f"no results for {', '.join(unknown)} under {args.root} (results exist for: "
                             f"{', '.join(available)})")
    metrics, ks = tuple(args.metrics), tuple(args.ks or [20])
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
        has_modern = any(r.get("dataset") == dataset and r.get("model") in questions.modern_models()
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
            losses = questions.tuned_loss_table(data.records, dataset)
            if len(losses) > 1:
                print(f"GRU4Rec's losses on {dataset}, each from its own study (RQ2 from the studies: the best "
                      f"validation trial per loss, refitted; no setting chosen on test):\n\n"
                      f"{tables.to_markdown(_loss_text(losses), bold=['Recall@20', 'MRR@20'])}")
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


def add_commands(sub: Any, subject: str) -> None:
    """Add this group's subcommands to the ``sub`` parsers (``subject``: the subject model's name)."""
    results = sub.add_parser("results", help="print the committed benchmark results (RQ1 tables, where GRU4Rec "
                             "loses, each modern model against it) as Markdown, LaTeX or CSV")
    results.add_argument("--root", default="results", help="folder of run records (default: results)")
    results.add_argument("--dataset", nargs="+", help="datasets to print (default: every dataset with results)")
    results.add_argument("--metrics", nargs="+", default=["recall", "mrr"], choices=["recall", "mrr", "ndcg"],
                         help="accuracy metrics (default: recall mrr)")
    results.add_argument("--ks", nargs="+", type=int_at_least(1),
                         help="cut-offs (default: 20; with --sampled: 10, and the first one given)")
    results.add_argument("--format", choices=["markdown", "latex", "csv", "records"], default="markdown",
                         help="markdown (default; the best value per column in bold, then the verdict lines), "
                              "latex (booktabs; verdicts as comments), csv, or records: every run label of "
                              "--group, mean ± std over seeds with tie share, seeds and seconds (the README's tables)")
    results.add_argument("--group", default="main,modern",
                         help="with --format records: run groups, comma-separated (main, modern, losses, factors) "
                              "or all (default: main,modern)")
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
    results.add_argument("--sampled", action="store_true",
                         help="instead of the tables: the sampled-protocol runs, each model's full-ranking metrics "
                              "beside its sampled ones and the rank changes (k from --ks, default 10)")
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


"""Long experiments: benchmark (resumable runs), progress, tune (equal-budget studies), sweep."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sessrec.cli.common import (EXIT_OK, TIE_MODE_HELP, add_protocol_options, check_output_dir, check_output_file,
                                int_at_least, sampled_settings)
from sessrec.errors import ParameterError, SessrecError, quote


def cmd_benchmark(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.runs.benchmark import baseline_specs, load_specs, run_benchmark, validate_specs
    from sessrec.experiments.records import aggregate, load_run_records, metrics_table, write_summary

    from sessrec.data.dataset import check_known_items

    from sessrec.cli.user_context import benchmark_user_folder, is_user_context_folder

    if is_user_context_folder(args.dataset):
        return benchmark_user_folder(args)
    check_output_dir(args.out, "--out")
    specs = load_specs(args.config) if args.config else baseline_specs()
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


def cmd_timing(args: argparse.Namespace) -> int:
    """Time one training run of every configuration of the configs (CPU seconds, one thread)."""
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.records import load_run_records, valid_records
    from sessrec.experiments.runs.benchmark import load_specs, validate_specs
    from sessrec.experiments.runs.timing import run_timings

    check_output_dir(args.out, "--out")
    specs = [spec for config in args.config for spec in load_specs(config)]
    if args.only:
        specs = [s for s in specs if s.label in set(args.only)]
        if not specs:
            raise ParameterError(f"--only {args.only}: no such labels in the configs")
    validate_specs(specs)
    dataset = load_dataset(args.dataset)
    records: dict[str, dict[str, Any]] = {}
    for record in sorted(valid_records(load_run_records(args.out)), key=lambda r: (r.get("seed") or 0)):
        if record.get("dataset") == dataset.name and record.get("protocol", {}).get("ranking") == "full catalogue":
            records.setdefault(str(record["label"]), record)  # the lowest seed's run
    path = run_timings(dataset, specs, args.out, records, max_epochs=args.max_epochs, again=args.again,
                       log=(lambda _: None) if args.quiet else print)
    print(f"wrote {path}")
    return EXIT_OK


def cmd_progress(args: argparse.Namespace) -> int:
    """Print where the long benchmark runs stand (training checkpoints and claims)."""
    from sessrec.experiments.runs.progress import progress_lines

    for flag, path in (("--out", Path(args.out)), ("--partials", Path(args.partials))):
        if path.exists() and not path.is_dir():
            raise ParameterError(f"{flag} {path}: not a folder")
    for line in progress_lines(args.out, args.partials):
        print(line)
    return EXIT_OK


def cmd_tune(args: argparse.Namespace) -> int:
    """``tune``: the equal-budget studies of one dataset (see :mod:`sessrec.experiments.runs.tuning`)."""
    import optuna

    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.runs import tuning as tn

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
        if label in budget.published_only:
            if args.model:  # named on purpose: refuse; the default list just says why it is left out
                budget.check_tunable(label)
            print(f"{tn.study_name(dataset.name, tuned.study_label)}: published settings only "
                  f"({budget.published_only[label]})")
            continue
        if args.status or args.write_config or args.export:
            study = tn.existing_study(dataset, tuned, args.storage)
            if study is None:
                print(f"{tn.study_name(dataset.name, tuned.study_label)}: no study yet")
                continue
            tn.fail_dead_trials(study)
            rep = tn.report(study, tuned, budget, tn.study_starts(tuned, dataset.name))
        else:
            rep = tn.tune(dataset, tuned, budget, storage=args.storage, seed=args.seed, progress=not args.quiet,
                          max_trials=args.max_trials, only_worker=args.only_worker)
            study = tn.open_study(dataset, tuned, args.storage) if args.export else None
        reports.append(rep)
        print(rep.line())
        for line in rep.start_lines():
            print(line)
        if args.export:
            assert study is not None  # found or opened above whenever --export is given
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


def cmd_sweep(args: argparse.Namespace) -> int:
    import optuna

    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.runs.sweep import load_space
    from sessrec.experiments.runs.tuning import run_sweep
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


def add_commands(sub: Any, subject: str) -> None:
    """Add this group's subcommands to the ``sub`` parsers (``subject``: the subject model's name)."""
    bench = sub.add_parser("benchmark", help="run models x seeds on a dataset, one run record each (resumable)")
    bench.add_argument("--dataset", required=True, help="prepared dataset folder, or a user-context folder "
                       "(every user-context model or --only these, records under <out>/users/)")
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

    timing = sub.add_parser("timing", help="CPU seconds of one training run of each configuration, one thread, "
                                           "into <out>/timings.json (the cost-accuracy chart's training cost)")
    timing.add_argument("--dataset", required=True, help="prepared dataset folder")
    timing.add_argument("--config", nargs="+", required=True,
                        help="benchmark config(s), e.g. benchmarks/<dataset>.json benchmarks/tuned/<dataset>.json")
    timing.add_argument("--only", nargs="*", help="time only these labels")
    timing.add_argument("--max-epochs", type=int_at_least(1), default=None,
                        help="train at most this many epochs and scale the CPU seconds per epoch to the run's "
                             "epochs (default: all of them)")
    timing.add_argument("--again", action="store_true",
                        help="time configurations already timed once more and keep the fewest CPU seconds of all "
                             "their measurements (another job on the machine only ever adds time)")
    timing.add_argument("--out", default="results", help="results root: its run records give each run's epochs")
    timing.add_argument("--quiet", action="store_true", help="print only where the file went")
    timing.set_defaults(func=cmd_timing)

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
    tune.add_argument("--only-worker", action="store_true",
                      help="this is the only worker on --storage: a trial still marked running was left by a "
                           "process that is gone (another machine, an ended session) and is marked failed first")
    tune.add_argument("--quiet", action="store_true", help="no progress bars")
    tune.set_defaults(func=cmd_tune)

    sweep = sub.add_parser("sweep", help="a free study: tune's objective (train_tr -> valid, per-epoch pruning) for "
                           "any model and space, outside the equal budget (workers can share a study)")
    sweep.add_argument("--dataset", required=True, help="prepared dataset folder with train_tr and valid splits")
    sweep.add_argument("--model", default=subject, help=f"registry name of the model to tune (default: {subject})")
    sweep.add_argument("--space", required=True, help="JSON parameter space (see sweeps/)")
    sweep.add_argument("--fixed", nargs="*", metavar="KEY=VALUE", help="parameters held fixed")
    sweep.add_argument("--n-trials", type=int_at_least(1), default=20, help="trials run by THIS worker")
    sweep.add_argument("--storage", default="sqlite:///results/sweeps.db",
                       help="Optuna storage URL: sqlite:///file.db or postgresql://user:pass@host/db (default "
                       "sqlite:///results/sweeps.db: free studies stay out of tune's committed equal-budget studies)")
    sweep.add_argument("--study", help="study name (default <dataset>-<model>); same name = shared study")
    sweep.add_argument("--metric", default="mrr@20", help="validation metric to maximise (default: mrr@20)")
    sweep.add_argument("--seed", type=int_at_least(0), help="sampler seed")
    sweep.add_argument("--quiet", action="store_true", help="no progress bars")
    sweep.set_defaults(func=cmd_sweep)

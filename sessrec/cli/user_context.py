"""`users`: the user-context task (known users in a context): prepare, train, evaluate, table, recommend, db.

``users prepare demo`` writes the demo shop's users (``data/shop_users``, committed);
``users prepare movielens --source WHEEL`` reads MovieLens-100k from RecBole's wheel;
``users train`` trains every model once and saves its checkpoint (the online path's models);
``users evaluate`` trains every model with seeds, evaluates it and writes the records;
``users table`` prints the comparison and the significance test from the records;
``users recommend`` runs the online path (cache, models in parallel, fallback) for one
user in one context; ``users db`` creates and fills the database; ``users migrate-encoders``
copies the checkpoints' encoders into it.

The session commands ``train``, ``evaluate`` and ``benchmark`` also take a user-context folder
(:func:`is_user_context_folder`): they call :func:`train_user_folder`, :func:`evaluate_user_folder`
and :func:`benchmark_user_folder` here.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sessrec.cli.common import EXIT_OK, check_output_dir, check_output_file, int_at_least
from sessrec.errors import ParameterError
from sessrec.models.registry import USER_CONTEXT

DEFAULT_RESULTS = "results/users"
DEMO_USERS = "data/shop_users"


def _print_report(lines: list[str]) -> None:
    for line in lines:
        print(line)


def cmd_prepare(args: argparse.Namespace) -> int:
    from sessrec.data.user_data import clean_interactions, write_user_dataset

    out = check_output_dir(args.out or (DEMO_USERS if args.source_kind == "demo" else "data/ml-100k"), "--out")
    if args.source_kind == "demo":
        import pandas as pd

        from sessrec.data.shop_users import ShopUsersConfig, generate_shop_users, shop_users_info

        catalogue = Path(args.catalogue)
        if not catalogue.is_file():
            raise ParameterError(f"--catalogue {catalogue}: no such file (the demo shop's items.csv)")
        config = ShopUsersConfig(seed=args.seed, n_users=args.n_users)
        interactions, items, users = generate_shop_users(pd.read_csv(catalogue), config)
        info = shop_users_info(config, catalogue)
    else:
        from sessrec.data.movielens import movielens_info, read_movielens_100k

        if not args.source:
            raise ParameterError("users prepare movielens needs --source (RecBole's wheel, e.g. "
                                 "`pip download recbole --no-deps -d /tmp/recbole`, or a folder with ml-100k.*)")
        interactions, items, users = read_movielens_100k(args.source)
        info = movielens_info(Path(args.source))
    interactions, report = clean_interactions(interactions)
    _print_report(report.lines())
    write_user_dataset(out, interactions, items, users, info)
    from sessrec.data.user_data import load_user_dataset

    stats = load_user_dataset(out).info["stats"]
    print(f"wrote {out}: {stats['users']:,} users, {stats['items']:,} items, {stats['interactions']:,} interactions "
          f"({stats['positives']:,} positive, {stats['ratings']:,} rated); train {stats['train']['interactions']:,}, "
          f"test {stats['test']['interactions']:,}")
    return EXIT_OK


def _settings(args: argparse.Namespace) -> Any:
    from sessrec.experiments.runs.user_context import PipelineSettings, user_context_models
    from sessrec.models.factory import parse_assignments

    models = args.model or user_context_models()
    overrides: dict[str, dict[str, Any]] = {}
    for item in args.set or []:
        if ":" not in item.split("=", 1)[0]:
            raise ParameterError(f"--set {item}: expected MODEL:KEY=VALUE, e.g. encm:learning_rate=0.002")
        model, assignment = item.split(":", 1)
        overrides.setdefault(model, {}).update(parse_assignments([assignment]))
    return PipelineSettings(models=list(models), seeds=list(range(1, args.seeds + 1)), negatives=args.negatives,
                            overrides=overrides)


def cmd_train(args: argparse.Namespace) -> int:
    from sessrec.data.user_data import load_user_dataset
    from sessrec.experiments.runs.user_context import train_and_save

    dataset = load_user_dataset(args.dataset)
    out = check_output_dir(args.out, "--out")
    settings = _settings(argparse.Namespace(model=args.model, set=args.set, seeds=1, negatives=99))
    for line in train_and_save(dataset, settings.models, out, settings.overrides or {}, progress=not args.quiet):
        print(line)
    return EXIT_OK


def cmd_tune(args: argparse.Namespace) -> int:
    from sessrec.data.user_data import load_user_dataset
    from sessrec.experiments.runs.user_context_tuning import tune_models

    dataset = load_user_dataset(args.dataset)
    folder = check_output_dir(args.out, "--out")
    models = args.model or ["bmf", "neumf", "encm", "lncm"]
    try:
        tune_models(dataset, list(models), folder, trials=args.trials)
    except ValueError as exc:
        raise ParameterError(str(exc)) from None
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    from sessrec.data.user_data import load_user_dataset
    from sessrec.experiments.runs.user_context import run_models

    dataset = load_user_dataset(args.dataset)
    out = check_output_dir(args.out, "--out")
    settings = _settings(args)
    if args.tuned:
        from sessrec.experiments.runs.user_context_tuning import METRIC, best_trials

        if args.set:
            raise ParameterError("--tuned and --set cannot be combined (the study decides the settings)")
        try:
            best = best_trials(args.tuned)
        except ValueError as exc:
            raise ParameterError(f"--tuned {exc}") from None
        chosen = {model: dict(trial["params"]) for model, trial in best.items()}
        settings.provenance = {model: {"study": Path(args.tuned).as_posix(), "trials": trial["trials"],
                                       "trial": trial["trial"], f"valid {METRIC}": trial[METRIC]}
                               for model, trial in best.items()}
        untuned = [m for m in settings.models if m not in chosen]
        if args.model and untuned:
            raise ParameterError(f"--tuned {args.tuned}: no study of {', '.join(untuned)}")
        settings.models = [m for m in settings.models if m in chosen]
        settings.overrides, settings.tag = chosen, "tuned"
    run_models(dataset, settings, out=out, progress=not args.quiet)
    return cmd_table(argparse.Namespace(results=args.out, dataset=dataset.name, metric="ndcg@10"))


def cmd_table(args: argparse.Namespace) -> int:
    from sessrec.experiments.runs.user_context import load_records, results_markdown

    records = load_records(Path(args.results), args.dataset)
    if not records:
        raise ParameterError(f"no user-context record of '{args.dataset}' under {args.results} "
                             "(python -m sessrec users evaluate --dataset ...)")
    print(results_markdown(records, args.dataset, args.metric))
    return EXIT_OK


def cmd_recommend(args: argparse.Namespace) -> int:
    from sessrec.serving.online import OnlineRecommender, parse_context

    if args.checkpoints is not None and not Path(args.checkpoints).is_dir():
        # a missing model is served by the fallback, but a mistyped folder is the caller's error
        raise ParameterError(f"--checkpoints {args.checkpoints}: no such folder")
    service = OnlineRecommender.open(args.dataset, args.checkpoints, db_url=args.db)
    answer = service.recommend(args.user, parse_context(args.context or []), k=args.k, use_cache=not args.no_cache)
    for line in answer.report_lines():
        print(line)
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    from sessrec.data.user_data import load_user_dataset
    from sessrec.serving.store import Store

    dataset = load_user_dataset(args.dataset)  # before connecting: a bad folder creates no database file
    store = Store.connect(args.db)
    counts = store.load_dataset(dataset)
    print(f"{store.url_for_display}: " + ", ".join(f"{n:,} {table}" for table, n in counts.items()))
    return EXIT_OK


def cmd_migrate_encoders(args: argparse.Namespace) -> int:
    from sessrec.models.io import read_user_checkpoint
    from sessrec.serving.store import Store

    folder = Path(args.checkpoints)
    paths = sorted(folder.glob("*.pt"))
    if not paths:
        raise ParameterError(f"--checkpoints {folder}: no user-context checkpoint (*.pt) there")
    store = Store.connect(args.db)
    for path in paths:
        payload = read_user_checkpoint(path)
        dataset = str(payload.get("meta", {}).get("dataset") or args.dataset_name or folder.parent.name)
        rows = store.save_encoders(dataset, str(payload["model"]), payload["encoders"])
        print(f"{path}: {rows:,} encoder rows of {payload['model']} ({dataset}) -> {store.url_for_display}")
    return EXIT_OK


def add_commands(sub: Any, subject: str) -> None:
    """Add the ``users`` command and its subcommands."""
    users = sub.add_parser("users", help="the user-context task: known users in a context (ENCM, LNCM, NeuMF, BMF)")
    actions = users.add_subparsers(dest="users_command", required=True)

    prepare = actions.add_parser("prepare", help="write a prepared user-context dataset (demo users or MovieLens-100k)")
    prepare.add_argument("source_kind", choices=["demo", "movielens"],
                         help="demo: the demo shop's generated users; movielens: MovieLens-100k from RecBole's files")
    prepare.add_argument("--source", help="movielens: RecBole's wheel (.whl), an installed recbole folder, or a "
                         "folder with ml-100k.inter/.user/.item")
    prepare.add_argument("--out", help=f"output folder (default: {DEMO_USERS} or data/ml-100k)")
    prepare.add_argument("--catalogue", default="data/demo/items.csv", help="demo: the shop's items (default: %(default)s)")
    prepare.add_argument("--seed", type=int, default=42, help="demo: generator seed (default: %(default)s)")
    prepare.add_argument("--n-users", type=int_at_least(10), default=1000, help="demo: users (default: %(default)s)")
    prepare.set_defaults(func=cmd_prepare)

    train = actions.add_parser("train", help="train every user-context model once and save its checkpoint")
    train.add_argument("--dataset", required=True, help=f"prepared user-context folder, e.g. {DEMO_USERS}")
    train.add_argument("--model", nargs="+", help="models (default: every registered user-context model)")
    train.add_argument("--set", nargs="*", metavar="MODEL:KEY=VALUE", help="hyperparameters, e.g. bmf:embedding_dim=64")
    train.add_argument("--out", required=True, help="checkpoint folder, e.g. checkpoints/ml-100k/users")
    train.add_argument("--quiet", action="store_true", help="no progress bars")
    train.set_defaults(func=cmd_train)

    bench = actions.add_parser("evaluate", help="train every user-context model with seeds, evaluate, write records")
    bench.add_argument("--dataset", required=True, help=f"prepared user-context folder, e.g. {DEMO_USERS}")
    bench.add_argument("--model", nargs="+", help="models (default: every registered user-context model)")
    bench.add_argument("--seeds", type=int_at_least(1), default=3, help="training seeds (default: %(default)s)")
    bench.add_argument("--negatives", type=int_at_least(1), default=99, help="sampled negatives (default: %(default)s)")
    bench.add_argument("--set", nargs="*", metavar="MODEL:KEY=VALUE", help="hyperparameters, e.g. bmf:embedding_dim=64")
    bench.add_argument("--tuned", metavar="STUDY", help="evaluate each model's best validation setting in this study "
                       "(users tune writes it, e.g. sweeps/users/ml-100k.json); records are '<model>-tuned' runs")
    bench.add_argument("--out", default=DEFAULT_RESULTS, help="records folder (default: %(default)s)")
    bench.add_argument("--quiet", action="store_true", help="no progress bars")
    bench.set_defaults(func=cmd_evaluate)

    tune = actions.add_parser("tune", help="tune models on a validation split carved from train (random search, "
                              "resumable; the same space and trials for every model)")
    tune.add_argument("--dataset", required=True, help=f"prepared user-context folder, e.g. {DEMO_USERS}")
    tune.add_argument("--model", nargs="+", help="models (default: bmf neumf encm lncm)")
    tune.add_argument("--trials", type=int_at_least(1), default=16, help="trials per model (default: %(default)s)")
    tune.add_argument("--out", default="sweeps/users", help="study folder; the study is <out>/<dataset>.json "
                      "(default: %(default)s)")
    tune.set_defaults(func=cmd_tune)

    table = actions.add_parser("table", help="the comparison and significance tables of the records")
    table.add_argument("--dataset", required=True, help="dataset name, e.g. shop_users or ml-100k")
    table.add_argument("--results", default=DEFAULT_RESULTS, help="records folder (default: %(default)s)")
    table.add_argument("--metric", default="ndcg@10", choices=["ndcg@10", "hitrate@10", "map@10"],
                       help="per-case metric of the significance test (default: %(default)s)")
    table.set_defaults(func=cmd_table)

    rec = actions.add_parser("recommend", help="the online path for one user in one context")
    rec.add_argument("--dataset", default=DEMO_USERS, help="prepared user-context folder (default: %(default)s)")
    rec.add_argument("--checkpoints", default="checkpoints/demo/users",
                     help="folder of the trained models (default: %(default)s)")
    rec.add_argument("--user", type=int, required=True, help="user id")
    rec.add_argument("--context", nargs="*", metavar="FEATURE=VALUE",
                     help="context, e.g. time_of_day=evening device=mobile (default: now, and the user's device)")
    rec.add_argument("--k", type=int_at_least(1), default=10, help="list length (default: %(default)s)")
    rec.add_argument("--db", help="database URL (default: SESSREC_DB or sqlite:///<home>/.sessrec/sessrec.db)")
    rec.add_argument("--no-cache", action="store_true", help="recompute even when the cache holds an answer")
    rec.set_defaults(func=cmd_recommend)

    db = actions.add_parser("db", help="create the database tables and load a prepared dataset into them")
    db.add_argument("--dataset", default=DEMO_USERS, help="prepared user-context folder (default: %(default)s)")
    db.add_argument("--db", help="database URL: sqlite:///file.db, mysql+pymysql://..., postgresql+psycopg://... "
                    "(default: SESSREC_DB or sqlite:///<home>/.sessrec/sessrec.db)")
    db.set_defaults(func=cmd_db)

    migrate = actions.add_parser("migrate-encoders",
                                 help="copy the encoders (user, item, context value -> index) of checkpoints into the database")
    migrate.add_argument("--checkpoints", default="checkpoints/demo/users",
                         help="folder of user-context checkpoints (default: %(default)s)")
    migrate.add_argument("--dataset-name", help="dataset name where a checkpoint does not record one")
    migrate.add_argument("--db", help="database URL (default: SESSREC_DB or sqlite:///<home>/.sessrec/sessrec.db)")
    migrate.set_defaults(func=cmd_migrate_encoders)


# -- the session commands on a user-context folder ----------------------------------------
# `train`, `evaluate` and `benchmark` take a prepared user-context folder as they take a
# session dataset: the folder says which task it holds, and these functions serve it.

def is_user_context_folder(path: str | Path) -> bool:
    """Whether ``path`` holds a prepared user-context dataset (its ``user_dataset.json``)."""
    from sessrec.data.user_data import INFO_FILE

    return (Path(path) / INFO_FILE).is_file()


def _refuse(flags: list[tuple[str, bool]], dataset: str) -> None:
    given = [flag for flag, is_given in flags if is_given]
    if given:
        raise ParameterError(f"{', '.join(given)}: not for a user-context dataset ({dataset} holds known users, "
                             "not sessions)")


def _user_model_name(name: str) -> str:
    from sessrec.experiments.runs.user_context import user_context_models

    if name not in user_context_models():
        raise ParameterError(f"--model {name}: not a user-context model (choose from "
                             f"{', '.join(user_context_models())})")
    return name


def _epoch_saver(model: Any, out: Path, dataset_name: str, quiet: bool) -> Any:
    def save(record: dict[str, Any]) -> None:
        model.save(out, meta={"dataset": dataset_name})
        if not quiet:
            print(f"epoch {record['epoch']}: loss {record['loss']:.4f} -> {out}", file=sys.stderr)
    return save


def train_user_folder(args: argparse.Namespace) -> int:
    """``train`` on a user-context folder: ``--model``, ``--all`` or ``--resume``, with ``--set``,
    ``--out`` and ``--checkpoint-every-epoch``; checkpoints go to ``<checkpoints>/<dataset>/users/``."""
    from sessrec.data.user_data import load_user_dataset
    from sessrec.models.factory import make_model, parse_assignments
    from sessrec.models.io import load_model
    from sessrec.models.registry import SPECS
    from sessrec.models.validation import check_int

    _refuse([("--preset", bool(args.preset)), ("--split", args.split != "train")], args.dataset)
    dataset = load_user_dataset(args.dataset)
    train, _ = dataset.split()
    params = parse_assignments(args.set or [])
    if args.resume:
        model = load_model(args.resume)
        if SPECS[model.name].task != USER_CONTEXT:
            raise ParameterError(f"--resume {args.resume}: holds a session model; this dataset is a user-context one")
        other = sorted(set(params) - {"n_epochs"})
        if other:
            raise ParameterError(f"--resume: only n_epochs can be changed, not {', '.join(other)}")
        if "n_epochs" in params:
            model.n_epochs = check_int("n_epochs", params["n_epochs"], min=model.epochs_done + 1, owner=model.name)
        if model.epochs_done >= model.n_epochs:
            raise ParameterError(f"{args.resume}: all {model.n_epochs} epochs are done; raise them with "
                                 f"--set n_epochs=N (allowed: N > {model.epochs_done})")
        out = Path(args.out) if args.out else Path(args.resume)
        check_output_file(out, "--out")
        saver = _epoch_saver(model, out, dataset.name, args.quiet) if args.checkpoint_every_epoch else None
        model.fit(train, resume=model.training_state(), progress=not args.quiet, callback=saver)
        model.save(out, meta={"dataset": dataset.name})
        print(f"resumed {model.name} to epoch {model.epochs_done}: saved {out}")
        return EXIT_OK
    if args.all and (args.model or args.out or args.set or args.checkpoint_every_epoch):
        raise ParameterError("--all trains every user-context model at its registry settings: --model, --out, --set "
                             "and --checkpoint-every-epoch go with --model")
    if not args.all and not args.model:
        raise ParameterError("train: give --model NAME, --all, or --resume CHECKPOINT")
    from sessrec.experiments.runs.user_context import user_context_models

    names = user_context_models() if args.all else [_user_model_name(args.model)]
    folder = Path(args.checkpoints) / dataset.models_folder
    for name in names:
        spec = SPECS[name]
        if not spec.trains_in_epochs:
            print(f"{name}: counted from the data when used, no checkpoint")
            continue
        model = make_model(name, {**(spec.demo or {}), **params})
        out = Path(args.out) if args.out else folder / f"{name}.pt"
        check_output_file(out, "--out" if args.out else "checkpoint path")
        saver = _epoch_saver(model, out, dataset.name, args.quiet) if args.checkpoint_every_epoch else None
        model.fit(train, progress=not args.quiet, callback=saver)
        model.save(out, meta={"dataset": dataset.name})
        print(f"{name}: {model.epochs_done} epochs, final loss {model.loss_history[-1]:.4f}: saved {out}")
    return EXIT_OK


def evaluate_user_folder(args: argparse.Namespace) -> int:
    """``evaluate`` on a user-context folder: checkpoints and/or models fitted on train, judged by
    the task's protocol (leave-one-out HR/NDCG/AUC with 99 negatives, P@10/MAP@10, RMSE/MAE)."""
    import json

    import pandas as pd

    from sessrec.data.user_data import load_user_dataset
    from sessrec.experiments.runs.user_context import METRICS, evaluate_trained, train_user_model
    from sessrec.models.io import load_model
    from sessrec.models.registry import SPECS

    _refuse([("--split valid", args.split != "test"), ("--ranks", bool(args.ranks)),
             ("--min-position", args.min_position is not None), ("--tie-mode", args.tie_mode != "median"),
             ("--protocol", args.protocol != "full")], args.dataset)
    if not args.checkpoint and not args.model:
        raise ParameterError("nothing to evaluate: give --checkpoint FILE and/or --model NAME")
    if args.out:
        check_output_file(args.out, "--out", (".json", ".csv"))
    dataset = load_user_dataset(args.dataset)
    train, test = dataset.split()
    models = []
    for path in args.checkpoint or []:
        model = load_model(path)
        if SPECS[model.name].task != USER_CONTEXT:
            raise ParameterError(f"--checkpoint {path}: holds a session model; this dataset is a user-context one")
        models.append((Path(path).stem, model))
    for name in args.model or []:
        models.append((name, train_user_model(_user_model_name(name), train, seed=1, progress=not args.quiet)[0]))
    rows = []
    for label, model in models:
        metrics = evaluate_trained(model, dataset, train, test)["metrics"]
        rows.append({"model": label, **{METRICS[m]: v for m, v in metrics.items() if m in METRICS}})
    table = pd.DataFrame(rows).set_index("model")
    print(f"{dataset.name}: leave-one-out with 99 sampled negatives, per-user lists, calibrated ratings")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    if args.out:
        if str(args.out).endswith(".csv"):
            table.to_csv(args.out)
        else:
            Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
        print(f"wrote {args.out}")
    return EXIT_OK


def benchmark_user_folder(args: argparse.Namespace) -> int:
    """``benchmark`` on a user-context folder: every user-context model (or ``--only`` these) with
    ``--seeds`` seeds at its registry settings; records under ``<out>/users/<dataset>/``."""
    from sessrec.data.user_data import load_user_dataset
    from sessrec.experiments.runs.user_context import PipelineSettings, run_models, user_context_models

    _refuse([("--config", bool(args.config)), ("--tie-mode", args.tie_mode != "median"),
             ("--protocol", args.protocol != "full")], args.dataset)
    models = [_user_model_name(m) for m in args.only] if args.only else user_context_models()
    dataset = load_user_dataset(args.dataset)
    out = check_output_dir(Path(args.out) / "users", "--out")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    run_models(dataset, PipelineSettings(models=models, seeds=seeds), out=out, progress=not args.quiet)
    return cmd_table(argparse.Namespace(results=out, dataset=dataset.name, metric="ndcg@10"))

"""`train`: one model, every model (--all) or a resumed training, saved as checkpoints."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from sessrec.cli.common import EXIT_OK, check_output_dir, check_output_file
from sessrec.errors import CheckpointError, ParameterError


def cmd_train(args: argparse.Namespace) -> int:
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.runs.training import benchmark_settings, resolve_params, train_model
    from sessrec.models.factory import make_model, model_names, parse_assignments
    from sessrec.models.io import save_model
    from sessrec.models.registry import spec as model_spec

    from sessrec.cli.user_context import is_user_context_folder, train_user_folder

    if is_user_context_folder(args.dataset):
        return train_user_folder(args)
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
    if args.checkpoint_every_epoch and not model_spec(args.model).trains_in_epochs:
        raise ParameterError(f"--checkpoint-every-epoch: {args.model} does not train in epochs "
                             "(it is fitted in one pass; there is nothing to save between epochs)")
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
    """The model's training state when it trains in epochs, so the checkpoint can be resumed."""
    from sessrec.models.registry import spec as model_spec

    return model.training_state() if model_spec(model.name).trains_in_epochs else None


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
    from sessrec.experiments.runs.training import machine_description
    from sessrec.models.io import load_model, load_training_state, save_model
    from sessrec.models.validation import check_device, check_int

    from sessrec.models.registry import spec as model_spec

    model = load_model(args.resume)
    if not model_spec(model.name).trains_in_epochs:
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


def add_commands(sub: Any, subject: str) -> None:
    """Add this group's subcommands to the ``sub`` parsers (``subject``: the subject model's name)."""
    train = sub.add_parser("train", help="train one model (or --all) and save checkpoints")
    train.add_argument("--dataset", required=True, help="prepared dataset folder, e.g. data/rsc15_100k, or a "
                       "user-context folder (data/shop_users): its models go to <checkpoints>/<name>/users/")
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


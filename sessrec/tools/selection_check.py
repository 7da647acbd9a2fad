"""One-factor check of a neural benchmark entry on its epoch-selection data.

    OMP_NUM_THREADS=1 python -m sessrec.tools.selection_check data/yoochoose1_64 benchmarks/yoochoose1_64.json \
        sasrec --epochs 10 --set dropout_rate=0.2 [--seed 1] [--record results/yoochoose1_64/sasrec-seed1.json]

Trains the config entry ``label`` with the settings given by ``--set`` changed, on the same
training sessions and held-out sessions the benchmark runner uses to choose the number of
epochs (its ``validation`` setting, fixed held-out draw), and prints the training loss and
the held-out Recall@20 after every epoch; with ``--record`` (a committed run record of the
same entry and seed) its selection log is printed beside them. It answers "does this
setting move the model on held-out data?" without touching the test split, and it writes
no record or checkpoint: a result worth keeping goes through the benchmark runner.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


from sessrec.data.dataset import load_dataset
from sessrec.experiments.runs.benchmark import load_specs
from sessrec.experiments.runs.training import recall_callback, resolve_params, validation_data
from sessrec.errors import ParameterError
from sessrec.models.factory import make_model, parse_assignments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", help="prepared dataset folder")
    parser.add_argument("config", help="benchmark config (benchmarks/<dataset>.json)")
    parser.add_argument("label", help="the entry's label in the config, e.g. sasrec")
    parser.add_argument("--epochs", type=int, default=10, help="epochs to train (no early stop; default 10)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="settings changed from the entry's, as for `train --set` (e.g. dropout_rate=0.2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--record", help="run record of the same entry and seed, to print its selection log beside")
    args = parser.parse_args(argv)

    spec = next((s for s in load_specs(args.config) if s.label == args.label), None)
    if spec is None:
        parser.error(f"no entry labelled {args.label!r} in {args.config}")
    if spec.validation is None:
        parser.error(f"entry {args.label!r} has no 'validation': it chooses no epochs to check against")
    reference: list[dict] = []  # the record's per-epoch selection log
    if args.record:
        record = json.loads(Path(args.record).read_text())
        reference = record.get("selection_log") or []
        if not reference:
            parser.error(f"{args.record} has no selection_log")
    try:
        changes = parse_assignments(args.set)
    except ParameterError as exc:
        parser.error(str(exc))
    params = {**resolve_params(spec.model, spec.params, spec.preset), "seed": args.seed, **changes,
              "n_epochs": args.epochs, "patience": args.epochs}
    dataset = load_dataset(args.dataset)
    train, valid = validation_data(dataset, "train", spec.validation)
    assert valid is not None  # spec.validation is set (checked above)
    model = make_model(spec.model, params)
    score = recall_callback(valid, min_position=dataset.min_position)
    print(f"{spec.label} on {dataset.name}, seed {args.seed}, changed: {changes or 'nothing'}; "
          f"{train.n_sessions:,} training and {valid.n_sessions:,} held-out sessions", flush=True)
    started = time.perf_counter()

    def scored(m) -> float:
        value = score(m)
        epoch = len(m.training_log) + 1  # the log entry of this epoch is appended after the callback
        line = f"epoch {epoch:>3}  held-out Recall@20 {value:.4f}  ({time.perf_counter() - started:,.0f} s)"
        if epoch <= len(reference):
            line += f"   record: loss {reference[epoch - 1]['loss']:.3f}  Recall@20 {reference[epoch - 1]['valid']:.4f}"
        print(line, flush=True)
        return value

    model.fit(train, validate=scored, progress=False)
    for entry in model.training_log:
        print(f"epoch {entry['epoch']:>3}  training loss {entry['loss']:.3f}")
    best = max(model.training_log, key=lambda e: e["valid"])
    print(f"best held-out Recall@20 {best['valid']:.4f} after epoch {best['epoch']}"
          + (f"; the record's best {max(e['valid'] for e in reference):.4f}" if reference else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

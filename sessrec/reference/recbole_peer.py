"""Peer check: sessrec's NeuMF and BMF beside RecBole's NeuMF and BPR, same split, same protocol.

Usage (RecBole in a scratch virtual environment outside this checkout, never a dependency of
sessrec; RecBole 1.2.1 needs ``numpy<2``, whose aliases it sets at start, and ``pandas<3``,
whose copy-on-write silently undoes its in-place ``fillna``)::

    python3 -m venv /scratch/recbole-env
    /scratch/recbole-env/bin/pip install torch==2.13.0 recbole==1.2.1 "numpy<2" "pandas<3"
    python -m sessrec users prepare movielens --source recbole-1.2.1-py3-none-any.whl --out data/ml-100k
    python -m sessrec.reference.recbole_peer --recbole-python /scratch/recbole-env/bin/python \\
        --dataset data/ml-100k [--epochs 20] [--embedding-dim 16] [--learning-rate 0.001] \\
        [--negatives 4] [--batch-size 256] [--seed 1] [--repeats 1] [--work DIR] [--json out.json] \\
        [--set bmf:KEY=VALUE ...]
    python -m sessrec.reference.recbole_peer --dataset data/ml-100k --export-only DIR   # the files only

**What is compared.** On one prepared user-context dataset: HR@10, NDCG@10 and seconds per
training epoch of sessrec's NeuMF and BMF and RecBole's NeuMF and BPR, run interleaved (sessrec
NeuMF, RecBole NeuMF, sessrec BMF, RecBole BPR; ``--repeats`` rounds, each round's seed one
higher), all on one thread, with the same settings where the two implementations allow:
embedding size, Adam's learning rate, no weight decay, epochs, ``negatives`` uniform training
negatives per positive (fresh each epoch), batch size; NeuMF with sessrec's tower (GMF of
``embedding-dim``, MLP embeddings of ``mlp_layers[0] / 2``, layers ``mlp_layers[1:]``, no dropout:
RecBole's ``dropout_prob`` is set to 0). Seconds per epoch are the mean over the epochs of the
training pass alone (negative sampling included, evaluation and data loading not). ``--set``
gives sessrec's models other settings (a tuned BMF, say: ``--set bmf:embedding_dim=64``); their
row names them, and RecBole's models keep the shared ones.

**The same split.** RecBole reads sessrec's split through its ``benchmark_filename`` mechanism:
three atomic files ``<token>.train.inter``, ``<token>.valid.inter`` and ``<token>.test.inter``
(columns ``user_id:token item_id:token label:float timestamp:float``; RecBole loads only the user
and item columns) under ``<work>/<token>/`` with ``token = sessrec-<dataset name>`` (not the bare
name: RecBole swaps ``ml-100k`` for the copy in its package):

* train: the train part's positives (label >= 1), exactly what sessrec's models learn from;
* test: sessrec's leave-one-out cases, one a test user: their last test positive
  (:func:`sessrec.experiments.runs.user_context.last_test_positives`);
* valid: every other interaction (the train part's non-positives, the rest of the test part).

sessrec ranks each case among 99 items the user never interacted with (train or test, any
label), drawn distinct and uniformly from every item of the dataset; RecBole (``eval_args``:
``mode: uni99``, ``group_by: user``; ``order`` and ``split`` are ignored with benchmark files;
``metrics: [Hit, NDCG]``, ``topk: 10``) ranks the test file's positive of each user among 99
items drawn uniformly from every item of its three files (the same items) and redrawn while
the user has them in any of the three files (the same exclusion set: that is what the valid
file is for). RecBole's counts of users, items and test cases are checked against sessrec's.

**What differs**, all of it RecBole's design, not a setting:

* the negatives: RecBole draws its own (its NumPy generator, seeded by ``seed``), with
  replacement, and a drawn item repeated in one case counts once (its scores go to a matrix
  indexed by item), so a case has at most 99 distinct negatives (about 96 on MovieLens-100k);
  sessrec's are 99 distinct ones from ``--eval-seed``, the same for both sessrec models;
* ties: sessrec gives the median rank of a tie (on logits); RecBole cuts its top 10 with
  ``torch.topk``, which orders equal scores as it happens to, and RecBole's NeuMF scores with a
  float32 sigmoid, which saturates to ties at 1.0 for logits above about 17;
* validation: none on either side. Both train ``--epochs`` epochs and test the last one;
  RecBole's fit gets no validation data (``valid_metric`` NDCG@10 is set but never computed),
  its valid file only widens the test sampler's exclusion set, as said above;
* training negatives: sessrec draws from the items of the train part (any label) other than
  the user's training positives, RecBole from every item of the three files other than the
  user's train-file items, so an item seen only in the test part is a training negative in
  RecBole and an unknown (index 0, zero) embedding in sessrec; untrained items keep RecBole's
  initialisation (N(0, 0.01²) for NeuMF, Xavier for BPR) instead;
* batches: sessrec shuffles all positives and negatives of an epoch together into batches of
  ``batch-size`` rows; RecBole batches ``batch-size // (1 + negatives)`` positives with their
  negatives (NeuMF, binary cross-entropy) or ``batch-size // negatives`` positives with
  ``negatives`` pairs each (BPR);
* BPR is not BMF: no biases, the pairwise log-sigmoid loss; it is RecBole's matrix
  factorisation, the peer the issue names for sessrec's BMF.

RecBole runs in a child process of ``--recbole-python`` from a generated runner script (our own
text, written into the scratch folder) through its public API: ``Config``, ``create_dataset``,
``data_preparation``, ``get_model``, ``get_trainer``, ``fit``, ``evaluate``. Data and results pass
as files; nothing of RecBole is imported into sessrec, and nothing is copied from its code.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from sessrec.data.interactions import Interactions
from sessrec.data.user_data import UserDataset, load_user_dataset
from sessrec.evaluation.user_context import DEFAULT_NEGATIVES, evaluate_user_context
from sessrec.errors import ParameterError
from sessrec.experiments.runs.user_context import last_test_positives
from sessrec.models.factory import make_model, parse_assignments

PARTS = ("train", "valid", "test")
#: the atomic files' header: RecBole's ``name:type`` columns
HEADER = ("user_id:token", "item_id:token", "label:float", "timestamp:float")
K = 10
#: (side, model) in the interleaved order of one round
ORDER = (("sessrec", "neumf"), ("recbole", "NeuMF"), ("sessrec", "bmf"), ("recbole", "BPR"))
LABELS = {"neumf": "NeuMF", "bmf": "BMF", "NeuMF": "NeuMF", "BPR": "BPR"}


def benchmark_token(dataset: UserDataset) -> str:
    """RecBole's dataset name for the files (never a name RecBole ships a copy of)."""
    return f"sessrec-{dataset.name}"


def benchmark_rows(dataset: UserDataset) -> dict[str, np.ndarray]:
    """Row indices into ``dataset.interactions`` of each benchmark file (see the module docstring)."""
    frame = dataset.interactions
    test_rows = np.flatnonzero(dataset.test_mask())
    part = frame.iloc[test_rows]
    # sessrec's own rule picks the cases; carrying each row's position in the item column
    # brings back which rows it picked
    positions = Interactions(part["UserId"].to_numpy(np.int64), np.arange(len(part), dtype=np.int64),
                             part["Label"].to_numpy(np.float32), part["Time"].to_numpy(np.float64))
    cases, _ = last_test_positives(positions)
    test = test_rows[cases.item]
    train = np.flatnonzero(~dataset.test_mask() & (frame["Label"].to_numpy() >= 1.0))
    valid = np.setdiff1d(np.arange(len(frame)), np.concatenate([train, test]))
    return {"train": train, "valid": valid, "test": test}


def write_benchmark(dataset: UserDataset, folder: str | Path) -> dict[str, Path]:
    """Write the three atomic files under ``folder/<token>/``; their paths by part."""
    token = benchmark_token(dataset)
    where = Path(folder) / token
    where.mkdir(parents=True, exist_ok=True)
    frame = dataset.interactions
    paths = {}
    for part, rows in benchmark_rows(dataset).items():
        chosen = frame.iloc[rows]
        order = np.lexsort((rows, chosen["Time"].to_numpy(), chosen["UserId"].to_numpy()))
        chosen = chosen.iloc[order]
        out = pd.DataFrame({HEADER[0]: chosen["UserId"].astype(np.int64).to_numpy(),
                            HEADER[1]: chosen["ItemId"].astype(np.int64).to_numpy(),
                            HEADER[2]: chosen["Label"].to_numpy(np.float64),
                            HEADER[3]: chosen["Time"].astype(np.int64).to_numpy()})
        paths[part] = where / f"{token}.{part}.inter"
        out.to_csv(paths[part], sep="\t", index=False, float_format="%g")
    return paths


def read_atomic(path: str | Path) -> tuple[list[str], pd.DataFrame]:
    """``(header, rows)`` of an atomic file: the ``name:type`` header as written, the rows with the
    bare names (floats as float64, every other type as text)."""
    header = Path(path).read_text().split("\n", 1)[0].split("\t")
    dtypes = {h: (np.float64 if h.endswith(":float") else str) for h in header}
    frame = pd.read_csv(path, sep="\t", dtype=dtypes, keep_default_na=False)
    frame.columns = [h.split(":")[0] for h in frame.columns]
    return header, frame


#: run by ``--recbole-python`` inside the scratch folder: one RecBole model, trained and tested
RUNNER = r'''
import json, os, sys, time
import torch
torch.set_num_threads(1)
import recbole
from recbole.config import Config
from recbole.data import create_dataset, data_preparation
from recbole.utils import init_seed, get_model, get_trainer

settings = json.load(open(sys.argv[1]))
model_name, token = settings.pop("model"), settings.pop("dataset")
config = Config(model=model_name, dataset=token, config_dict=settings)
init_seed(config["seed"], config["reproducibility"])
started = time.perf_counter()
dataset = create_dataset(config)
train_data, valid_data, test_data = data_preparation(config, dataset)
load_seconds = time.perf_counter() - started
init_seed(config["seed"] + config["local_rank"], config["reproducibility"])  # as run_recbole does
model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
epoch_seconds = []
train_epoch = trainer._train_epoch
def timed_epoch(*args, **kwargs):
    begun = time.perf_counter()
    loss = train_epoch(*args, **kwargs)
    epoch_seconds.append(time.perf_counter() - begun)
    return loss
trainer._train_epoch = timed_epoch
trainer.fit(train_data, valid_data=None, saved=False, show_progress=False, verbose=False)
result = trainer.evaluate(test_data, load_best_model=False, show_progress=False)
json.dump({"metrics": {k: float(v) for k, v in result.items()}, "epoch_seconds": epoch_seconds,
           "losses": [float(trainer.train_loss_dict[e]) for e in sorted(trainer.train_loss_dict)],
           "load_seconds": load_seconds, "users": int(dataset.user_num - 1), "items": int(dataset.item_num - 1),
           "parts": [len(train_data._dataset), len(valid_data._dataset), len(test_data._dataset)],
           "test_users": int(len(test_data.uid_list)), "threads": torch.get_num_threads(),
           "recbole": recbole.__version__, "torch": torch.__version__}, open(sys.argv[2], "w"))
'''


def recbole_settings(model: str, token: str, work: Path, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """RecBole's config dict for ``model`` (``NeuMF`` or ``BPR``) with the shared settings."""
    settings: dict[str, Any] = {
        "model": model, "dataset": token, "data_path": str(work), "benchmark_filename": list(PARTS),
        "load_col": {"inter": ["user_id", "item_id"]}, "USER_ID_FIELD": "user_id", "ITEM_ID_FIELD": "item_id",
        "use_gpu": False, "seed": seed, "reproducibility": True, "state": "WARNING", "show_progress": False,
        "checkpoint_dir": str(work / "saved"), "worker": 0, "shuffle": True,
        "epochs": args.epochs, "train_batch_size": args.batch_size, "learner": "adam",
        "learning_rate": args.learning_rate, "weight_decay": 0.0,
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": args.negatives, "alpha": 1.0,
                                  "dynamic": False, "candidate_num": 0},
        "eval_args": {"split": {"RS": [0.8, 0.1, 0.1]}, "group_by": "user", "order": "TO",
                      "mode": f"uni{DEFAULT_NEGATIVES}"},
        "metrics": ["Hit", "NDCG"], "topk": [K], "valid_metric": f"NDCG@{K}", "eval_batch_size": 4096,
    }
    if model == "NeuMF":
        settings.update({"mf_embedding_size": args.embedding_dim, "mlp_embedding_size": args.mlp_layers[0] // 2,
                         "mlp_hidden_size": list(args.mlp_layers[1:]), "dropout_prob": 0.0,
                         "mf_train": True, "mlp_train": True, "use_pretrain": False})
    elif model == "BPR":
        settings["embedding_size"] = args.embedding_dim
    else:
        raise ValueError(f"no RecBole settings for {model!r} (NeuMF or BPR)")
    return settings


def run_recbole(python: str, model: str, token: str, work: Path, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """One RecBole model in a child process of ``python``; its results."""
    config_path, out_path = work / f"{model}_seed{seed}.config.json", work / f"{model}_seed{seed}.result.json"
    config_path.write_text(json.dumps(recbole_settings(model, token, work, args, seed), indent=1))
    runner = work / "recbole_runner.py"
    runner.write_text(RUNNER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    started = time.perf_counter()
    done = subprocess.run([python, str(runner), str(config_path), str(out_path)], cwd=work, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0 or not out_path.is_file():
        raise SystemExit(f"error: RecBole's {model} failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    result["wall_seconds"] = time.perf_counter() - started
    return result


def run_sessrec(name: str, train: Interactions, cases: Interactions, rest: Interactions,
                args: argparse.Namespace, seed: int) -> dict[str, Any]:
    """One sessrec model fitted on ``train`` and scored on the leave-one-out ``cases``."""
    params: dict[str, Any] = {"embedding_dim": args.embedding_dim, "n_epochs": args.epochs,
                              "batch_size": args.batch_size, "learning_rate": args.learning_rate, "l2": 0.0,
                              "negatives": args.negatives, "seed": seed}
    if name == "neumf":
        params["mlp_layers"] = list(args.mlp_layers)
    params.update(args.overrides.get(name, {}))
    seconds: list[float] = []
    model = make_model(name, params)
    model.fit(train, progress=False, callback=lambda record: seconds.append(float(record["seconds"])))
    result = evaluate_user_context(model, train, cases, negatives=DEFAULT_NEGATIVES, ks=(K,), seed=args.eval_seed,
                                   also_seen=rest)
    return {"metrics": {"hit@10": result.metrics[f"hitrate@{K}"], "ndcg@10": result.metrics[f"ndcg@{K}"]},
            "set": ", ".join(f"{k}={v}" for k, v in args.overrides.get(name, {}).items()),
            "epoch_seconds": seconds, "losses": list(model.loss_history), "test_users": int(len(cases)),
            "threads": torch.get_num_threads(), "torch": torch.__version__}


def check_same_data(recbole: dict[str, Any], expected: dict[str, Any], model: str) -> None:
    """Stop if RecBole read other users, items or cases than sessrec's split holds."""
    seen = {"users": recbole["users"], "items": recbole["items"], "test_users": recbole["test_users"],
            "parts": recbole["parts"]}
    want = {"users": expected["users"], "items": expected["items"], "test_users": expected["test_users"],
            "parts": expected["parts"]}
    if seen != want:
        raise SystemExit(f"error: RecBole's {model} read {seen}, sessrec's split holds {want}")


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (side, model): means (and sd over rounds) of HR@10, NDCG@10, s/epoch."""
    rows = []
    for side, model in ORDER:
        mine = [r for r in runs if r["side"] == side and r["model"] == model]
        if not mine:
            continue
        name = (f"sessrec{' (' + mine[0]['set'] + ')' if mine[0].get('set') else ''}" if side == "sessrec"
                else f"RecBole {mine[0]['recbole']}")
        row: dict[str, Any] = {"model": LABELS[model], "implementation": name,
                               "rounds": len(mine), "epochs": len(mine[0]["epoch_seconds"]),
                               "test cases": mine[0]["test_users"]}
        for key, label in (("hit@10", "HR@10"), ("ndcg@10", "NDCG@10")):
            values = [r["metrics"][key] for r in mine]
            row[label] = float(np.mean(values))
            row[f"{label} sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
        per_epoch = [float(np.mean(r["epoch_seconds"])) for r in mine]
        row["s/epoch"] = float(np.mean(per_epoch))
        row["s/epoch sd"] = float(np.std(per_epoch, ddof=1)) if len(per_epoch) > 1 else None
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    def cell(row: dict[str, Any], label: str, digits: int) -> str:
        sd = row.get(f"{label} sd")
        return f"{row[label]:.{digits}f}" + (f" ± {sd:.{digits}f}" if sd is not None else "")
    lines = ["| model | implementation | HR@10 | NDCG@10 | s/epoch | epochs | test cases | rounds |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['implementation']} | {cell(r, 'HR@10', 4)} | {cell(r, 'NDCG@10', 4)} | "
              f"{cell(r, 's/epoch', 2)} | {r['epochs']} | {r['test cases']} | {r['rounds']} |" for r in rows]
    return "\n".join(lines)


def compare(args: argparse.Namespace) -> dict[str, Any]:
    dataset = load_user_dataset(args.dataset)
    train, test = dataset.split()
    cases, rest = last_test_positives(test)
    rows = benchmark_rows(dataset)
    frame = dataset.interactions
    expected: dict[str, Any] = {"users": int(frame["UserId"].nunique()), "items": int(frame["ItemId"].nunique()),
                "test_users": int(len(cases)), "parts": [int(len(rows[p])) for p in PARTS]}
    if not np.array_equal(frame["UserId"].to_numpy()[np.sort(rows["test"])], cases.user) or \
            not np.array_equal(frame["ItemId"].to_numpy()[np.sort(rows["test"])], cases.item):
        raise SystemExit("error: the test file's rows are not sessrec's leave-one-out cases")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="recbole-peer-"))
    work = work.resolve()
    try:
        write_benchmark(dataset, work)
        token = benchmark_token(dataset)
        load_before = os.getloadavg()
        runs: list[dict[str, Any]] = []
        for round_ in range(args.repeats):
            seed = args.seed + round_
            for side, model in ORDER:
                if side == "sessrec":
                    result = run_sessrec(model, train, cases, rest, args, seed)
                else:
                    result = run_recbole(args.recbole_python, model, token, work, args, seed)
                    check_same_data(result, expected, model)
                result.update({"side": side, "model": model, "seed": seed})
                runs.append(result)
                print(f"round {round_ + 1} {side} {LABELS[model]}: HR@10 {result['metrics']['hit@10']:.4f}  "
                      f"NDCG@10 {result['metrics']['ndcg@10']:.4f}  {np.mean(result['epoch_seconds']):.2f} s/epoch",
                      file=sys.stderr, flush=True)
        load_after = os.getloadavg()
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return {"dataset": dataset.name, "benchmark_files": {p: int(len(rows[p])) for p in PARTS}, **expected,
            "settings": {"embedding_dim": args.embedding_dim, "mlp_layers": list(args.mlp_layers),
                         "epochs": args.epochs, "learning_rate": args.learning_rate, "l2": 0.0,
                         "negatives_per_positive": args.negatives, "batch_size": args.batch_size,
                         "test_negatives": DEFAULT_NEGATIVES, "seed": args.seed, "eval_seed": args.eval_seed,
                         "repeats": args.repeats, "threads": 1, "sessrec_set": args.overrides},
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "load_before": list(load_before),
                        "load_after": list(load_after)},
            "table": summary(runs), "runs": runs}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--dataset", default="data/ml-100k", help="a prepared user-context dataset folder")
    parser.add_argument("--recbole-python", help="a Python with RecBole 1.2.1 installed (numpy<2, pandas<3)")
    parser.add_argument("--export-only", metavar="DIR", help="only write RecBole's three atomic files under DIR")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--embedding-dim", type=int, default=16)
    parser.add_argument("--mlp-layers", type=int, nargs="+", default=[64, 32, 16])
    parser.add_argument("--learning-rate", type=float, default=0.001)
    parser.add_argument("--negatives", type=int, default=4, help="training negatives per positive")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--seed", type=int, default=1, help="training seed (RecBole's seed too)")
    parser.add_argument("--eval-seed", type=int, default=0, help="sessrec's test negatives")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds, the seed one higher each")
    parser.add_argument("--work", help="scratch folder for RecBole's files (kept); default a temporary one")
    parser.add_argument("--set", nargs="*", default=[], metavar="MODEL:KEY=VALUE",
                        help="sessrec-only settings over the shared ones, e.g. bmf:embedding_dim=64 (a tuned BMF); "
                             "the row says so")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    args.overrides = {}
    for item in args.set:
        model, _, assignment = item.partition(":")
        if model not in ("neumf", "bmf") or "=" not in assignment:
            parser.error(f"--set {item!r}: expected neumf:KEY=VALUE or bmf:KEY=VALUE")
        try:
            args.overrides.setdefault(model, {}).update(parse_assignments([assignment]))
        except ParameterError as exc:
            parser.error(f"--set {item!r}: {exc}")
    if args.export_only:
        for part, path in write_benchmark(load_user_dataset(args.dataset), args.export_only).items():
            print(f"{part}: {path}")
        return 0
    if not args.recbole_python:
        parser.error("--recbole-python is needed (or --export-only DIR)")
    if len(args.mlp_layers) < 2 or args.mlp_layers[0] % 2:
        parser.error("--mlp-layers: at least two widths, the first even (it is split between user and item)")
    if min(args.epochs, args.embedding_dim, args.negatives, args.batch_size, args.repeats) < 1:
        parser.error("--epochs, --embedding-dim, --negatives, --batch-size and --repeats must be >= 1")
    torch.set_num_threads(1)
    report = compare(args)
    print(f"{report['dataset']}: leave-one-out, one case per test user among {DEFAULT_NEGATIVES} sampled negatives; "
          f"{report['settings']}")
    print(markdown(report["table"]))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

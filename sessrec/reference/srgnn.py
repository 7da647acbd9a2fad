"""Same-run speed and accuracy of our SR-GNN against the authors' PyTorch code (prints figures; not a test).

The reference code (CRIPAC-DIG/SR-GNN, folder ``pytorch_code``: ``model.py`` and
``utils.py``) is *not* part of sessrec: keep a copy outside this checkout and point
``--reference`` at it; it is imported from there at run time::

    git clone https://github.com/CRIPAC-DIG/SR-GNN ../scratch/SR-GNN
    python -m sessrec.reference.srgnn --reference ../scratch/SR-GNN/pytorch_code \\
        --dataset data/yoochoose1_64 --pairs 3 --epochs 1 --threads 2

For ``--pairs`` interleaved rounds (the reference first in odd rounds, last in even
ones), each implementation runs in a fresh subprocess (``--threads`` torch threads,
the same in ``OMP_NUM_THREADS``/``MKL_NUM_THREADS``/``OPENBLAS_NUM_THREADS``, passive
OpenMP waiting for both) and

* trains ``--epochs`` epochs on the same cases: every prefix of every training session
  -> its next item, with item ids shifted by one for the reference (it keeps 0 for
  padding), the same hyperparameters (hidden 100, batch 100, Adam lr 0.001, L2 1e-5,
  one propagation step, lr x0.1 every 3 epochs with the first decay after epoch 2) and
  the same seed. The reference trains exactly as its ``train_test`` does (its scheduler
  step, its ``Data`` shuffle and batching, which builds each batch's graphs in NumPy,
  its ``forward`` and cross-entropy, Adam), without the progress prints and with the
  loss summed as a float (``total_loss += loss`` would keep every batch's graph). Ours
  runs ``SRGNN.fit`` once per value of ``--bucket-batches`` (batches bucketed by length;
  1 gives plain random batches like the reference's; ``--bucket-batches 64 1`` times
  both in the same rounds). Only the epochs are timed (wall and CPU seconds
  each, and training cases per wall second), not loading the data or building the cases.
* evaluates the test split with *one* metric code, ``sessrec.evaluation.evaluate``:
  Recall@20 and MRR@20 over every test prefix (each position after the first), the
  whole catalogue ranked. The reference model is read through a small adapter: the
  session so far, ids + 1, goes through the reference's own ``Data`` and ``forward``,
  whose scores (one column per item id 1..n, i.e. our dense item 0..n-1) are ranked
  like ours. Ties: ``median`` (a target tied with others gets the mean of the ranks
  they share, the expected rank under random tie-breaking; the reference's own
  ``topk`` breaks ties arbitrarily). The share of targets with a tie is printed; with
  float scores it is normally 0.

The table gives, for each of our settings, seconds per epoch of both, the ratio
reference / ours (above 1: ours is faster), Recall@20 / MRR@20 of both and the load
average (1, 5, 15 min) before and after each round. Timings mean something only on an
otherwise idle machine.
``--max-batches N`` cuts every epoch after N mini-batches (a smoke test; its
accuracy is meaningless).

Compatibility: the reference code runs unchanged with numpy 2 and torch 2 on the CPU
(``trans_to_cuda`` is a no-op without CUDA). Its ``utils.py`` imports ``networkx``
for a graph helper that training never calls; where networkx is not installed, an
empty stand-in module is registered so the import succeeds. torch warns once that its
scheduler is stepped before the optimiser (it was written for torch 0.4; the schedule
is the one described above) and that ``torch.Tensor`` of a list of arrays is slow
(that cost is part of what is measured); both warnings are silenced.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path
from typing import Any


#: the paper's and the reference code's settings (its main.py defaults), for both
HIDDEN, BATCH, LR, L2, STEP, LR_DC, LR_DC_STEP = 100, 100, 0.001, 1e-5, 1, 0.1, 3
K = 20
TIE_MODE = "median"


# -- shared -------------------------------------------------------------------------------

def load_split(folder: Path) -> tuple[Any, Any, Any, Any]:
    """Train and test sessions, the training catalogue and the prefix cases (dense item indices)."""
    from sessrec.data.dataset import load_dataset
    from sessrec.data.sessions import ItemIndex
    from sessrec.models.neural.cases import prefix_cases

    dataset = load_dataset(folder)
    item_index = ItemIndex.from_items(dataset.train.items)
    flat = item_index.to_index(dataset.train.items)
    return dataset.train, dataset.test, item_index, prefix_cases(dataset.train, flat)


def evaluation(model: Any, test: Any) -> dict[str, Any]:
    """Recall@20 / MRR@20 of ``model`` on every test prefix, whole catalogue, ``median`` ties."""
    from sessrec.evaluation import evaluate

    result = evaluate(model, test, ks=(K,), tie_mode=TIE_MODE, beyond_accuracy=False)
    return {"recall": result.metrics[f"recall@{K}"], "mrr": result.metrics[f"mrr@{K}"],
            "test_events": result.n_events, "tied_share": result.tied_target_share, "eval_s": result.seconds}


# -- our SR-GNN -----------------------------------------------------------------------------

def run_ours(args: argparse.Namespace) -> dict[str, Any]:
    """Train our SR-GNN for ``--epochs`` epochs (each one timed), then evaluate it."""
    import torch

    from sessrec.models.neural import SRGNN

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    train, test, _, cases = load_split(Path(args.dataset))
    model = SRGNN(hidden_size=HIDDEN, step=STEP, batch_size=BATCH, learning_rate=LR, l2=L2, lr_dc=LR_DC,
                  lr_dc_step=LR_DC_STEP, n_epochs=args.epochs, seed=args.seed, n_threads=args.threads,
                  bucket_batches=args.bucket_batches)
    setup_s = time.perf_counter() - started
    epochs: list[dict[str, Any]] = []
    run_epoch, make_batches = model._run_epoch, model._batches
    if args.max_batches:
        model._batches = lambda cases: make_batches(cases)[: args.max_batches]  # type: ignore[method-assign]

    def timed_epoch(*a: Any, **kw: Any) -> dict[str, Any]:
        wall, cpu = time.perf_counter(), time.process_time()
        record = run_epoch(*a, **kw)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        epochs.append({"wall_s": wall, "cpu_s": cpu, "cases": record["events"], "batches": record["batches"],
                       "loss": record["loss"], "lr": record["lr"]})
        return record

    model._run_epoch = timed_epoch  # type: ignore[method-assign]
    model.fit(train, progress=False)
    return {"epochs": epochs, "setup_s": setup_s, "n_cases": len(cases), **evaluation(model, test)}


# -- the reference code ---------------------------------------------------------------------

def import_reference(folder: Path) -> tuple[types.ModuleType, types.ModuleType]:
    """The reference's ``model`` and ``utils`` modules, imported from ``folder`` under private names."""
    if importlib.util.find_spec("networkx") is None:  # utils.py imports it for build_graph, never called here
        sys.modules["networkx"] = types.ModuleType("networkx")
    modules = []
    for name in ("model", "utils"):
        spec = importlib.util.spec_from_file_location(f"srgnn_reference_{name}", folder / f"{name}.py")
        assert spec is not None and spec.loader is not None  # a .py file always has a source loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        modules.append(module)
    return modules[0], modules[1]


def reference_options() -> types.SimpleNamespace:
    """The reference's ``opt`` (its main.py arguments) with the shared settings."""
    return types.SimpleNamespace(hiddenSize=HIDDEN, batchSize=BATCH, nonhybrid=False, step=STEP, lr=LR, l2=L2,
                                 lr_dc=LR_DC, lr_dc_step=LR_DC_STEP)


def reference_adapter(ref_model: types.ModuleType, ref_utils: types.ModuleType, net: Any, item_index: Any) -> Any:
    """The trained reference network as a sessrec ``SessionModel`` (streaming interface).

    The state is the session so far (our dense indices); ``scores`` runs the reference's
    own ``Data`` (padding, per-session graphs) and ``forward`` on those sessions, ids + 1.
    """
    import numpy as np
    import torch

    from sessrec.models.base import BaseSessionModel
    from sessrec.models.neural.cases import SequenceState

    class ReferenceSRGNN(SequenceState, BaseSessionModel):
        name = "srgnn-reference"

        def __init__(self) -> None:
            super().__init__()
            self.item_index = item_index

        def _dev(self) -> torch.device:
            return torch.device("cpu")

        def scores(self, state: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            seq, lengths = state
            out = torch.zeros(seq.shape[0], self.n_items)
            rows = np.flatnonzero(lengths.numpy() > 0)  # an empty session scores 0 everywhere, as ours
            if len(rows):
                items, n = seq.numpy(), lengths.numpy()
                sessions = [(items[r, : n[r]] + 1).tolist() for r in rows]
                data = ref_utils.Data((sessions, [1] * len(sessions)), shuffle=False)  # targets unused
                _, scores = ref_model.forward(net, np.arange(len(sessions)), data)
                out[torch.from_numpy(rows)] = scores.detach().float().cpu()
            return out

    return ReferenceSRGNN()


def reference_setup(args: argparse.Namespace) -> types.SimpleNamespace:
    """The reference's modules, its untrained network and its training ``Data`` on ``--dataset``'s
    prefix cases (ids + 1), seeded with ``--seed``, plus our test split and item index."""
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message=".*lr_scheduler.step\\(\\).*")
    warnings.filterwarnings("ignore", message=".*list of numpy.ndarrays is extremely slow.*")
    ref_model, ref_utils = import_reference(Path(args.reference))
    _, test, item_index, cases = load_split(Path(args.dataset))
    flat = cases.flat
    sequences = [(flat[s : s + n] + 1).tolist() for s, n in zip(cases.start, cases.length)]
    targets = (flat[cases.start + cases.length] + 1).tolist()
    np.random.seed(args.seed)  # the reference shuffles with NumPy's global generator
    torch.manual_seed(args.seed)  # and initialises with torch's
    train_data = ref_utils.Data((sequences, targets), shuffle=True)
    net = ref_model.SessionGraph(reference_options(), item_index.n_items + 1)
    return types.SimpleNamespace(model=ref_model, utils=ref_utils, net=net, train_data=train_data, test=test,
                                 item_index=item_index, n_cases=len(cases))


def reference_epoch(ref: types.SimpleNamespace, max_batches: int = 0, progress: bool = False) -> dict[str, Any]:
    """One epoch of the reference exactly as its ``train_test`` trains (scheduler step first), timed;
    ``progress``: a progress bar on stderr."""
    import torch
    from tqdm.auto import tqdm

    net, train_data = ref.net, ref.train_data
    wall, cpu = time.perf_counter(), time.process_time()
    net.scheduler.step()  # before the epoch, as train_test does
    net.train()
    slices = train_data.generate_batch(net.batch_size)
    if max_batches:
        slices = slices[:max_batches]
    total, n_cases = 0.0, 0
    for i in tqdm(slices, desc="reference epoch", unit="batch", disable=not progress, mininterval=5):
        net.optimizer.zero_grad()
        batch_targets, scores = ref.model.forward(net, i, train_data)
        batch_targets = ref.model.trans_to_cuda(torch.Tensor(batch_targets).long())
        loss = net.loss_function(scores, batch_targets - 1)
        loss.backward()
        net.optimizer.step()
        total += loss.item() * len(i)
        n_cases += len(i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"wall_s": wall, "cpu_s": cpu, "cases": n_cases, "batches": len(slices),
            "loss": total / max(n_cases, 1), "lr": net.optimizer.param_groups[0]["lr"]}


def reference_accuracy(ref: types.SimpleNamespace) -> dict[str, Any]:
    """Recall@20 / MRR@20 of the reference network on our test split, through :func:`reference_adapter`."""
    import torch

    ref.net.eval()
    with torch.no_grad():
        return evaluation(reference_adapter(ref.model, ref.utils, ref.net, ref.item_index), ref.test)


def run_reference(args: argparse.Namespace) -> dict[str, Any]:
    """Train the reference for ``--epochs`` epochs as its ``train_test`` does (each epoch timed), then evaluate it."""
    started = time.perf_counter()
    ref = reference_setup(args)
    setup_s = time.perf_counter() - started
    epochs = [reference_epoch(ref, args.max_batches) for _ in range(args.epochs)]
    return {"epochs": epochs, "setup_s": setup_s, "n_cases": ref.n_cases, **reference_accuracy(ref)}


# -- driver ---------------------------------------------------------------------------------

def worker(args: argparse.Namespace) -> None:
    import torch

    from sessrec.runtime import peak_rss_mb

    out = run_reference(args) if args.worker == "reference" else run_ours(args)
    out.update(peak_rss_mb=peak_rss_mb(), threads=torch.get_num_threads(), torch=torch.__version__)
    print("RESULT " + json.dumps(out))


def spawn(impl: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one implementation in a fresh interpreter; its RESULT line as a dict."""
    command = [sys.executable, "-m", "sessrec.reference.srgnn", "--worker", impl, "--reference", args.reference, "--dataset", args.dataset,
               "--epochs", str(args.epochs), "--threads", str(args.threads), "--seed", str(args.seed),
               "--max-batches", str(args.max_batches), "--bucket-batches", str(args.bucket_batches)]
    threads = str(args.threads)
    env = {**os.environ, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
           "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        which = f"ours (bucket_batches={args.bucket_batches})" if impl == "ours" else impl
        sys.exit(f"{which} run failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", required=True, help="folder holding the reference model.py and utils.py")
    parser.add_argument("--dataset", default="data/yoochoose1_64", help="prepared dataset folder")
    parser.add_argument("--pairs", type=int, default=3, help="interleaved rounds of runs (default 3)")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs per run (default 1)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of both (default 2)")
    parser.add_argument("--seed", type=int, default=1, help="seed of both (default 1)")
    parser.add_argument("--max-batches", type=int, default=0,
                        help="cut every epoch after this many mini-batches (smoke test; default 0: whole epochs)")
    parser.add_argument("--bucket-batches", type=int, nargs="+", default=[64],
                        help="our SR-GNN's length bucketing, one run of ours per value in every round "
                             "(default 64, ours' default; 1: plain random batches)")
    parser.add_argument("--worker", choices=["reference", "ours"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    for name in ("pairs", "epochs", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    if min(args.bucket_batches) < 1 or len(set(args.bucket_batches)) < len(args.bucket_batches):
        parser.error("--bucket-batches takes distinct values >= 1")
    if args.max_batches < 0 or args.seed < 0:
        parser.error("--max-batches and --seed must be >= 0")
    args.reference = str(Path(args.reference).resolve())
    if args.worker:
        args.bucket_batches = args.bucket_batches[0]
        return worker(args)
    missing = [f for f in ("model.py", "utils.py") if not (Path(args.reference) / f).is_file()]
    if missing:
        sys.exit(f"{args.reference}: no {' or '.join(missing)} (the reference's pytorch_code folder goes there)")

    cut = f"epochs cut at {args.max_batches} mini-batches (smoke test)" if args.max_batches else "whole epochs"
    settings = ", ".join(f"bucket_batches={b}" for b in args.bucket_batches)
    print(f"date {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, no GPU; "
          f"{args.dataset}; {args.epochs} epoch(s) per run, {cut}; {args.threads} threads; seed {args.seed}; "
          f"ours {settings}; ties {TIE_MODE}; load {load()}", flush=True)
    runs_of_ours = [("ours", b) for b in args.bucket_batches]
    rows = []
    for pair in range(1, args.pairs + 1):
        order = [("reference", 0)] + runs_of_ours if pair % 2 else runs_of_ours[::-1] + [("reference", 0)]
        before = load()
        runs = {}
        for impl, bucket in order:
            runs[impl, bucket] = spawn(impl, argparse.Namespace(**{**vars(args), "bucket_batches": bucket or 1}))
        after = load()
        ref = runs["reference", 0]
        first = "reference" if pair % 2 else "ours"
        for bucket in args.bucket_batches:
            ours = runs["ours", bucket]
            print(f"round {pair} ({first} first), ours bucket_batches={bucket}: {ours['n_cases']} training cases, "
                  f"{ours['test_events']} test events; setup s ours {ours['setup_s']:.1f} reference {ref['setup_s']:.1f}; "
                  f"peak RSS MB ours {ours['peak_rss_mb']:.0f} reference {ref['peak_rss_mb']:.0f}; "
                  f"threads {ours['threads']}/{ref['threads']}; eval s ours {ours['eval_s']:.1f} reference (adapter) "
                  f"{ref['eval_s']:.1f}; tied targets ours {ours['tied_share']:.2%} reference {ref['tied_share']:.2%}",
                  flush=True)
            for e, (o, r) in enumerate(zip(ours["epochs"], ref["epochs"]), 1):
                print(f"  epoch {e}: ours {o['batches']} batches {o['wall_s']:.1f} s (CPU {o['cpu_s']:.1f}) "
                      f"loss {o['loss']:.4f} lr {o['lr']:.2g}; reference {r['batches']} batches {r['wall_s']:.1f} s "
                      f"(CPU {r['cpu_s']:.1f}) loss {r['loss']:.4f} lr {r['lr']:.2g}", flush=True)
                rows.append({"pair": pair, "bucket": bucket, "epoch": e, "ours": o, "ref": r, "before": before,
                             "after": after, "acc": (ours["recall"], ours["mrr"], ref["recall"], ref["mrr"]),
                             "last": e == len(ours["epochs"])})

    print(f"\n{'round':>5} {'bucket':>6} {'ep':>2} | {'s/epoch ours':>12} {'reference':>9} {'ratio':>6} | "
          f"{'CPU s ours':>10} {'reference':>9} | {'cases/s ours':>12} {'reference':>9} | {'R@20 ours':>9} {'ref':>6} | "
          f"{'MRR@20 ours':>11} {'ref':>6} | load before -> after")
    for row in rows:
        o, r = row["ours"], row["ref"]
        if row["last"]:  # accuracy is measured once, after a run's last epoch
            recall_ours, mrr_ours, recall_ref, mrr_ref = row["acc"]
            acc = f"{recall_ours:9.4f} {recall_ref:6.4f} | {mrr_ours:11.4f} {mrr_ref:6.4f}"
        else:
            acc = f"{'':>9} {'':>6} | {'':>11} {'':>6}"
        print(f"{row['pair']:>5} {row['bucket']:>6} {row['epoch']:>2} | {o['wall_s']:12.1f} {r['wall_s']:9.1f} "
              f"{r['wall_s'] / o['wall_s']:5.2f}x | {o['cpu_s']:10.1f} {r['cpu_s']:9.1f} | "
              f"{o['cases'] / o['wall_s']:12.0f} {r['cases'] / r['wall_s']:9.0f} | {acc} | {row['before']} -> {row['after']}")
    print()
    for bucket in args.bucket_batches:
        mine = [row for row in rows if row["bucket"] == bucket]
        ratios = [row["ref"]["wall_s"] / row["ours"]["wall_s"] for row in mine]
        cpu_ratios = [row["ref"]["cpu_s"] / row["ours"]["cpu_s"] for row in mine]
        recall_gap = [row["acc"][0] - row["acc"][2] for row in mine if row["last"]]
        print(f"ours bucket_batches={bucket}: ratio reference / ours (above 1: ours faster), wall s/epoch: median "
              f"{statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}); CPU s/epoch: median "
              f"{statistics.median(cpu_ratios):.2f}x; Recall@20 ours - reference after {args.epochs} epoch(s): "
              f"median {statistics.median(recall_gap):+.4f}"
              + ("" if not args.max_batches else "  [cut epochs: a smoke test, not a measurement]"), flush=True)


if __name__ == "__main__":
    main()

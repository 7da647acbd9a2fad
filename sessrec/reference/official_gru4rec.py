"""Same-run speed of our GRU4Rec against the official GRU4Rec PyTorch code (prints figures; not a test).

The official code is *not* part of sessrec (its licence forbids reuse): fetch it into a
scratch folder beside this checkout and point ``--official`` at it::

    git clone https://github.com/hidasib/GRU4Rec_PyTorch_Official ../scratch/gru4rec_official
    python -m sessrec.reference.official_gru4rec --official ../scratch/gru4rec_official \\
        --dataset data/yoochoose1_64 --batch-sizes 32 128 --pairs 3

For every batch size, ``--pairs`` interleaved pairs are run (official first in odd
pairs, sessrec first in even ones). Each run is a fresh subprocess with the default
environment and torch's default thread count, that trains one epoch of the reference
setting (cross-entropy, 100 units, n_sample 2048, the official RSC15 parameters) and
then evaluates the test split: the official ``batch_eval`` (Recall and MRR at the
cut-offs) against our ``evaluate`` with *every* metric (Recall, MRR, NDCG, coverage,
popularity, intra-list diversity). Our accuracy-only evaluation is timed as well, so
the overhead of the beyond-accuracy metrics is printed; loading sessrec's compiled
ranking loops (once per process, before its first evaluation) is timed and printed on its
own, outside the evaluation's time. Ratios are sessrec / official
within the same pair; the machine's load average is printed with every row.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


#: official RSC15 best parameters (cross-entropy, shared embedding), both implementations
REFERENCE: dict[str, Any] = dict(loss="cross-entropy", layers=[100], dropout_p_embed=0.1, dropout_p_hidden=0.0,
                 learning_rate=0.1, momentum=0.0, n_sample=2048, sample_alpha=0.75, logq=1.0,
                 constrained_embedding=True)
CUTOFFS = (5, 20)


def run_official(folder: Path, batch_size: int, official: Path) -> dict:
    sys.path.insert(0, str(official))
    import torch
    from evaluation import batch_eval  # official code
    from gru4rec_pytorch import GRU4Rec as OfficialGRU4Rec

    from sessrec.data.dataset import load_dataset
    from sessrec.runtime import peak_rss_mb

    dataset = load_dataset(folder)
    train, test = dataset.train.to_frame(), dataset.test.to_frame()
    for frame in (train, test):  # derived splits keep order, not times: file order stands in for time
        if "Time" not in frame:
            frame["Time"] = range(len(frame))
    model = OfficialGRU4Rec(**REFERENCE, batch_size=batch_size, n_epochs=1, device=torch.device("cpu"))
    started = time.perf_counter()
    model.fit(train)
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    recall, mrr = batch_eval(model, test, cutoff=list(CUTOFFS), batch_size=512, mode="standard")
    eval_s = time.perf_counter() - started
    n_events = dataset.train.n_events - dataset.train.n_sessions
    return {"train_s": train_s, "train_events_per_s": n_events / train_s, "eval_s": eval_s,
            "recall@20": float(recall[20]), "mrr@20": float(mrr[20]), "peak_rss_mb": peak_rss_mb(),
            "threads": torch.get_num_threads()}


def run_sessrec(folder: Path, batch_size: int) -> dict:
    import torch

    from sessrec.data.dataset import load_dataset
    from sessrec.evaluation import evaluate
    from sessrec.evaluation.ranking import warm_up
    from sessrec.models.gru4rec import GRU4Rec
    from sessrec.runtime import peak_rss_mb

    dataset = load_dataset(folder)
    train, test = dataset.train, dataset.test
    model = GRU4Rec(**REFERENCE, batch_size=batch_size, n_epochs=1, seed=1)
    started = time.perf_counter()
    model.fit(train, progress=False)
    train_s = time.perf_counter() - started
    kernels_s = warm_up()  # once per process: reported on its own, not in the evaluation's time
    full = evaluate(model, test, ks=CUTOFFS, tie_mode="standard", train=train)
    accuracy_only = evaluate(model, test, ks=CUTOFFS, tie_mode="standard", beyond_accuracy=False)
    n_events = train.n_events - train.n_sessions
    return {"train_s": train_s, "train_events_per_s": n_events / train_s, "eval_s": full.seconds,
            "eval_accuracy_only_s": accuracy_only.seconds, "recall@20": full.metrics["recall@20"],
            "mrr@20": full.metrics["mrr@20"], "n_metrics": len(full.metrics), "peak_rss_mb": peak_rss_mb(),
            "kernels_s": kernels_s,
            "threads": torch.get_num_threads()}


def worker(args: argparse.Namespace) -> None:
    if args.worker == "official":
        out = run_official(Path(args.dataset), args.batch_size, Path(args.official))
    else:
        out = run_sessrec(Path(args.dataset), args.batch_size)
    print("RESULT " + json.dumps(out))


def spawn(impl: str, args: argparse.Namespace, batch_size: int) -> dict:
    command = [sys.executable, "-m", "sessrec.reference.official_gru4rec", "--worker", impl, "--dataset", args.dataset,
               "--batch-size", str(batch_size), "--official", args.official]
    done = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        sys.exit(f"{impl} run failed:\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--official", required=True, help="folder holding the official gru4rec_pytorch.py")
    parser.add_argument("--dataset", default="data/yoochoose1_64", help="prepared dataset folder")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--pairs", type=int, default=3, help="interleaved pairs per batch size")
    parser.add_argument("--worker", choices=["official", "sessrec"], help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if not (Path(args.official) / "gru4rec_pytorch.py").is_file():
        sys.exit(f"{args.official}: no gru4rec_pytorch.py (clone the official code there)")

    print(f"date {time.strftime('%Y-%m-%d %H:%M')}, {platform.machine()}, {os.cpu_count()} cores, no GPU; "
          f"{args.dataset}; one epoch + test-split evaluation per run; {load()}")
    for batch_size in args.batch_sizes:
        ratios: dict[str, list[float]] = {"train": [], "eval": []}
        for pair in range(1, args.pairs + 1):
            order = ["official", "sessrec"] if pair % 2 else ["sessrec", "official"]
            runs = {impl: spawn(impl, args, batch_size) for impl in order}
            off, ours = runs["official"], runs["sessrec"]
            ratios["train"].append(ours["train_events_per_s"] / off["train_events_per_s"])
            ratios["eval"].append(off["eval_s"] / ours["eval_s"])
            overhead = ours["eval_s"] / ours["eval_accuracy_only_s"] - 1
            print(f"batch {batch_size:>3d} pair {pair} ({order[0]} first), {load()}\n"
                  f"  training ev/s  official {off['train_events_per_s']:8.0f}  sessrec {ours['train_events_per_s']:8.0f}"
                  f"  ratio {ratios['train'][-1]:.2f}x\n"
                  f"  evaluation s   official {off['eval_s']:8.2f}  sessrec {ours['eval_s']:8.2f}"
                  f" ({ours['n_metrics']} metrics; accuracy only {ours['eval_accuracy_only_s']:.2f} s,"
                  f" beyond-accuracy +{overhead:.0%})  ratio {ratios['eval'][-1]:.2f}x\n"
                  f"  sessrec's compiled loops loaded once per process in {ours['kernels_s']:.2f} s (not in its time)\n"
                  f"  Recall@20/MRR@20 official {off['recall@20']:.4f}/{off['mrr@20']:.4f}"
                  f"  sessrec {ours['recall@20']:.4f}/{ours['mrr@20']:.4f}\n"
                  f"  peak RSS MB    official {off['peak_rss_mb']:8.0f}  sessrec {ours['peak_rss_mb']:8.0f}"
                  f"  (threads {off['threads']}/{ours['threads']})", flush=True)
        print(f"batch {batch_size}: training ratio median {statistics.median(ratios['train']):.2f}x "
              f"(range {min(ratios['train']):.2f}-{max(ratios['train']):.2f}); evaluation ratio median "
              f"{statistics.median(ratios['eval']):.2f}x (range {min(ratios['eval']):.2f}-{max(ratios['eval']):.2f})",
              flush=True)


if __name__ == "__main__":
    main()

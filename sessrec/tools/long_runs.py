"""Run the long benchmark runs (the modern neural models) in an order that gives every model
one seed on every dataset before any model gets a second one.

The plan names each dataset and how many seeds it gets (by default the benchmark's: 3 on
yoochoose1_64 and diginetica, 1 on retailrocket and rsc15_100k). The queue holds, for
seed 1, 2, ... in turn, every dataset of the plan that gets that seed and every entry of
the chosen group in its ``benchmarks/<dataset>.json``. Each queued run is one call of
``python -m sessrec benchmark ... --only <label> --first-seed <seed> --seeds 1`` (one
thread), so the runner's claims, per-epoch checkpoints and resumption apply unchanged:

    python -m sessrec.tools.long_runs --list           # the queue, and where each run stands
    python -m sessrec.tools.long_runs                  # run it (again after an interruption: it resumes)
    python -m sessrec.tools.long_runs --reverse        # a second stream, one per core: it starts
                                                 # each seed's runs from the other end

A run that reuses seed 1's choice of epochs waits for that record; a run another live
process holds is left to it. The queue is walked until a pass completes no run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


from sessrec.experiments.runs.benchmark import RunSpec, load_specs, selection_source
from sessrec.experiments.runs.progress import claims
from sessrec.experiments.records import run_problem

#: the benchmark's plan for the modern neural models: seeds per dataset
DEFAULT_PLAN = ("yoochoose1_64:3", "diginetica:3", "retailrocket:1", "rsc15_100k:1")


@dataclass(frozen=True)
class QueuedRun:
    dataset: str
    spec: RunSpec
    seed: int

    @property
    def run_id(self) -> str:
        return self.spec.run_id(self.seed)


def parse_plan(items: list[str]) -> dict[str, int]:
    """``["yoochoose1_64:3", "retailrocket:1"]`` -> ``{"yoochoose1_64": 3, "retailrocket": 1}``."""
    plan: dict[str, int] = {}
    for item in items:
        name, _, seeds = item.partition(":")
        if not name or not seeds.isdigit() or int(seeds) < 1:
            raise ValueError(f"expected dataset:seeds with seeds >= 1, got {item!r}")
        if name in plan:
            raise ValueError(f"dataset {name!r} is named twice in the plan")
        plan[name] = int(seeds)
    return plan


def build_queue(plan: dict[str, int], specs: dict[str, list[RunSpec]], group: str,
                reverse: bool = False) -> list[QueuedRun]:
    """Seed 1 of every (dataset, entry of ``group``), then seed 2 where the plan has it, and so on;
    within a seed, datasets in plan order and entries in config order (both reversed with
    ``reverse``). Only seeded entries (models trained from a seed) are queued."""
    queue = []
    for seed in range(1, max(plan.values(), default=0) + 1):
        level = [QueuedRun(dataset, spec, seed) for dataset, n_seeds in plan.items() if n_seeds >= seed
                 for spec in specs[dataset] if spec.group == group and spec.seeded]
        queue += level[::-1] if reverse else level
    return queue


def state(run: QueuedRun, root: Path) -> tuple[str, str]:
    """``(kind, text)``: kind is "complete", "held" (by a live process, or by one on another
    host that cannot be checked from here), "waiting" (for seed 1's choice of epochs) or "to run"."""
    if run_problem(root, run.dataset, run.run_id) is None:
        return "complete", "complete"
    for claim in claims(root):  # the progress report's reading of the claim files
        if (claim.dataset, claim.run_id) == (run.dataset, run.run_id) and claim.alive is not False:
            return "held", claim.describe()
    _, waiting = selection_source(root, run.dataset, run.spec, run.seed)
    if waiting:
        return "waiting", waiting
    return "to run", "to run"


def estimate_seconds(run: QueuedRun, root: Path) -> float | None:
    """Training seconds a run that reuses another run's choice of epochs should take: the
    seconds of that run's refit epochs (same epochs, same data, this machine); None for a
    run that chooses its own epochs, or whose source is not complete yet."""
    source, _ = selection_source(root, run.dataset, run.spec, run.seed)
    seconds = [float(e["seconds"]) for e in (source or {}).get("training_log") or [] if "seconds" in e]
    return sum(seconds) if seconds else None


def list_queue(queue: list[QueuedRun], root: Path) -> None:
    """Print each run's state, with the time estimate where there is one, and a total."""
    estimates, unknown = [], 0
    for run in queue:
        kind, text = state(run, root)
        seconds = estimate_seconds(run, root) if kind == "to run" else None
        if kind in ("to run", "waiting"):
            if seconds is None:
                unknown += 1
            else:
                estimates.append(seconds)
                text += f" (about {seconds / 3600:.1f} h of training, as its seed {run.spec.epochs_from_seed}'s refit)"
        print(f"{run.dataset}/{run.run_id}: {text}")
    if estimates or unknown:
        print(f"not started: {len(estimates) + unknown} run(s); about {sum(estimates) / 3600:.1f} h of one-thread "
              f"training for the {len(estimates)} with an estimate"
              + (f", no estimate for {unknown} (they choose their own epochs, or wait for the run that does)"
                 if unknown else ""))


def command(run: QueuedRun, data: Path, configs: Path, root: Path) -> list[str]:
    return [sys.executable, "-m", "sessrec", "benchmark", "--dataset", str(data / run.dataset),
            "--config", str(configs / f"{run.dataset}.json"), "--only", run.spec.label,
            "--first-seed", str(run.seed), "--seeds", "1", "--out", str(root)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plan", nargs="+", default=list(DEFAULT_PLAN), metavar="DATASET:SEEDS",
                        help=f"datasets and their seeds, in order (default: {' '.join(DEFAULT_PLAN)})")
    parser.add_argument("--group", default="modern", help="the config entries to run (default: modern)")
    parser.add_argument("--reverse", action="store_true", help="walk each seed's runs from the other end")
    parser.add_argument("--list", action="store_true", help="print the queue and each run's state; run nothing")
    parser.add_argument("--data", type=Path, default=Path("data"), help="prepared datasets (default: data)")
    parser.add_argument("--configs", type=Path, default=Path("benchmarks"), help="benchmark configs (default: benchmarks)")
    parser.add_argument("--root", type=Path, default=Path("results"), help="results root (default: results)")
    args = parser.parse_args(argv)
    try:
        plan = parse_plan(args.plan)
        specs = {dataset: load_specs(args.configs / f"{dataset}.json") for dataset in plan}
    except ValueError as exc:
        parser.error(str(exc))
    queue = build_queue(plan, specs, args.group, args.reverse)
    if not queue:
        parser.error(f"no seeded entry of group {args.group!r} in the configs of {', '.join(plan)}")
    if args.list:
        list_queue(queue, args.root)
        return 0
    missing = [str(args.data / d) for d in plan if not (args.data / d / "dataset.json").is_file()]
    if missing:
        parser.error(f"not a prepared dataset: {', '.join(missing)} (python -m sessrec prepare shared ...)")
    # one thread per stream unless told otherwise; the subprocesses import the installed sessrec
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    failed: set[str] = set()
    while True:
        completed = 0
        for run in queue:
            kind, text = state(run, args.root)
            if kind != "to run":
                print(f"skip {run.dataset}/{run.run_id}: {text}", flush=True)
                continue
            print(f"start {run.dataset}/{run.run_id}", flush=True)
            code = subprocess.call(command(run, args.data, args.configs, args.root), env=env)
            if code != 0:
                failed.add(f"{run.dataset}/{run.run_id}")
                print(f"{run.dataset}/{run.run_id} failed (exit code {code}); going on", flush=True)
            completed += state(run, args.root)[0] == "complete"
        if completed == 0:  # nothing more this stream can do now: the rest is held elsewhere, waits, or fails
            states = [(r, *state(r, args.root)) for r in queue]
            left = [f"{r.dataset}/{r.run_id} ({text})" for r, kind, text in states if kind != "complete"]
            print(f"done: {len(queue) - len(left)} of {len(queue)} runs complete"
                  + (f"; not complete: {'; '.join(left)}" if left else ""))
            # a failure, or a run this stream could start but did not complete, is an error
            return 1 if failed or any(kind == "to run" for _, kind, _ in states) else 0


if __name__ == "__main__":
    sys.exit(main())

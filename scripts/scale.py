"""sessrec at the full YOOCHOOSE size: time and peak memory of every stage as the log grows (prints figures).

    python scripts/scale.py                                  # 1M, 4M, 16M and 27M events
    python scripts/scale.py --sizes 1000000 4000000 --work /tmp/scale
    python scripts/scale.py --sizes 27000000 --stages prepare evaluate vsknn stan catalogue --work /tmp/scale

For every size a synthetic log with the full dataset's shape (``sessrec.data.synthetic``) is
written in YOOCHOOSE's raw format, then each stage runs in a fresh process (so that its peak
resident memory, VmHWM, is its own):

* ``prepare``   ``python -m sessrec prepare raw --format yoochoose`` (last day = test);
* ``gru4rec``   one GRU4Rec epoch at the official RSC15 setting (cross-entropy, 100 units,
                batch 32, 2048 extra negatives), saved for the next stage;
* ``evaluate``  that model on the test split with every metric (full ranking, median ties);
* ``vsknn``, ``stan``  fit and evaluate with every metric, each at its registry default;
* ``catalogue`` the app's catalogue of the dataset (``Catalogue.from_dataset``), as the
                playground loads it.

The table at the end gives seconds and peak RSS per stage and size, and the growth exponent
of each (the slope of log seconds, or log memory, against log events between the two largest
sizes: 1 is linear). Every measurement is also kept in ``--results`` (JSON, default
``docs/figures/scale.json``) as it is taken: a run stopped half-way goes on from there when
started again, stages already measured at a size are not run again (``--again`` runs them
anyway), and ``--report`` prints the Markdown table of the file alone. Threads:
``SESSREC_THREADS`` (default: what the machine gives). Generated files stay in ``--work``
(several GB at 27M events); delete them afterwards.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

STAGES = ("prepare", "gru4rec", "evaluate", "vsknn", "stan", "catalogue")
DEFAULT_SIZES = (1_000_000, 4_000_000, 16_000_000, 27_000_000)
#: the official RSC15 setting (as perf_record.py), one epoch
GRU4REC = dict(loss="cross-entropy", layers=[100], batch_size=32, dropout_p_embed=0.1, dropout_p_hidden=0.0,
               learning_rate=0.1, momentum=0.0, n_sample=2048, sample_alpha=0.75, logq=1.0,
               constrained_embedding=True, n_epochs=1, seed=1)


def run_stage(stage: str, folder: Path) -> dict:
    """One stage in this process; returns what it measured (the caller adds the peak RSS)."""
    from sessrec.data.dataset import load_dataset
    from sessrec.evaluation import evaluate
    from sessrec.models.factory import make_model
    from sessrec.models.io import load_model, save_model

    data, checkpoint = folder / "data", folder / "gru4rec.pt"
    started = time.perf_counter()
    if stage == "prepare":
        from sessrec.cli import main
        code = main(["prepare", "raw", "--format", "yoochoose", "--input", str(folder / "clicks.dat"), "--out", str(data)])
        if code:
            raise SystemExit(f"prepare failed with exit code {code}")
        dataset = load_dataset(data)
        return {"seconds": time.perf_counter() - started, "train events": dataset.train.n_events,
                "test events": dataset.test.n_events, "items": int(dataset.train.unique_items().size)}
    dataset = load_dataset(data)
    if stage == "gru4rec":
        model = make_model("gru4rec", dict(GRU4REC))
        model.fit(dataset.train, progress=False)
        seconds = time.perf_counter() - started
        save_model(model, checkpoint)
        return {"seconds": seconds, "events/s": dataset.train.n_events / seconds}
    if stage == "evaluate":
        model = load_model(checkpoint)
        started = time.perf_counter()
        result = evaluate(model, dataset.test, min_position=dataset.min_position, train=dataset.train)
        return {"seconds": time.perf_counter() - started, "events": result.n_events,
                "recall@20": result.metrics["recall@20"]}
    if stage in ("vsknn", "stan"):
        model = make_model(stage, {})
        model.fit(dataset.train, progress=False)
        fit_s = time.perf_counter() - started
        result = evaluate(model, dataset.test, min_position=dataset.min_position, train=dataset.train)
        return {"seconds": time.perf_counter() - started, "fit s": fit_s, "evaluate s": result.seconds,
                "recall@20": result.metrics["recall@20"]}
    if stage == "catalogue":
        from sessrec.ui.catalogue import Catalogue
        catalogue = Catalogue.from_dataset(dataset)
        return {"seconds": time.perf_counter() - started, "items": len(catalogue.items)}
    raise ValueError(f"unknown stage {stage}")


def stage_worker(stage: str, folder: str) -> None:
    from sessrec.runtime import peak_rss_mb
    result = run_stage(stage, Path(folder))
    result["peak RSS MB"] = peak_rss_mb()
    print("RESULT " + json.dumps(result), flush=True)


def in_fresh_process(stage: str, folder: Path) -> dict:
    done = subprocess.run([sys.executable, __file__, "--stage", stage, str(folder)], capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"failed": f"exit {done.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1][len("RESULT "):])


def growth(sizes: list[int], values: list[float]) -> str:
    """Slope of log value against log size between the two largest sizes measured."""
    points = [(s, v) for s, v in zip(sizes, values) if v and v > 0]
    if len(points) < 2:
        return "-"
    (s0, v0), (s1, v1) = points[-2], points[-1]
    return f"{math.log(v1 / v0) / math.log(s1 / s0):.2f}"


def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"runs": {}}


def save_results(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    temporary.replace(path)


def report(results: dict) -> str:
    """The Markdown table of every stage and size in ``results``, with growth exponents."""
    runs = results["runs"]
    sizes = sorted({int(size) for stage in runs.values() for size in stage})
    lines = ["| stage | " + " | ".join(f"{s / 1e6:g}M events" for s in sizes) + " | growth (time, memory) |",
             "|---|" + "---|" * (len(sizes) + 1)]
    for stage in STAGES:
        rows = runs.get(stage, {})
        if not rows:
            continue
        cells = []
        for size in sizes:
            r = rows.get(str(size))
            cells.append("-" if r is None else "failed" if "failed" in r else
                         f"{r['seconds']:,.1f} s, {r['peak RSS MB'] / 1024:.2f} GB")
        seconds = [rows.get(str(s), {}).get("seconds") for s in sizes]
        memory = [rows.get(str(s), {}).get("peak RSS MB") for s in sizes]
        lines.append(f"| {stage} | " + " | ".join(cells) + f" | {growth(sizes, seconds)}, {growth(sizes, memory)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=list(DEFAULT_SIZES), help="clicks in each log")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--work", default="artifacts/scale", help="where the logs and prepared folders go")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", default="docs/figures/scale.json", help="measurements kept here (JSON)")
    parser.add_argument("--again", action="store_true", help="run stages already in --results again")
    parser.add_argument("--report", action="store_true", help="print the table of --results and stop")
    parser.add_argument("--stage", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        return stage_worker(*args.stage)
    results_path = Path(args.results)
    results = load_results(results_path)
    if args.report:
        print(report(results))
        return

    from sessrec.data.synthetic import synthetic_clicks, write_yoochoose_clicks

    print(f"{time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} cores, no GPU; SESSREC_THREADS="
          f"{os.environ.get('SESSREC_THREADS', '(machine default)')}; load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    table: dict[str, dict[int, dict]] = {stage: {} for stage in args.stages}
    for size in args.sizes:
        folder = Path(args.work) / f"{size}"
        clicks_file = folder / "clicks.dat"
        if not clicks_file.exists():
            started = time.perf_counter()
            write_yoochoose_clicks(synthetic_clicks(size, seed=args.seed), clicks_file)
            print(f"{size:,} clicks: log written in {time.perf_counter() - started:.0f} s "
                  f"({clicks_file.stat().st_size / 1e9:.2f} GB)", flush=True)
        for stage in args.stages:
            kept = results["runs"].get(stage, {}).get(str(size))
            if kept is not None and "failed" not in kept and not args.again:
                table[stage][size] = kept
                print(f"  {size:>11,} {stage:>9s}: measured before (see {results_path})", flush=True)
                continue
            result = in_fresh_process(stage, folder)
            result["measured"] = time.strftime("%Y-%m-%d %H:%M")
            result["load"] = round(os.getloadavg()[0], 2)
            table[stage][size] = result
            results["runs"].setdefault(stage, {})[str(size)] = result
            save_results(results_path, results)
            shown = ", ".join(f"{k} {v:,.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items())
            print(f"  {size:>11,} {stage:>9s}: {shown}", flush=True)

    print("\nstage       " + "".join(f"{s:>22,}" for s in args.sizes) + "   growth (time, memory)")
    for stage, rows in table.items():
        cells = []
        for size in args.sizes:
            r = rows.get(size, {})
            cells.append("failed" if "failed" in r else f"{r.get('seconds', float('nan')):9.1f} s {r.get('peak RSS MB', float('nan')) / 1024:5.2f} GB")
        seconds = [rows.get(s, {}).get("seconds") for s in args.sizes]
        memory = [rows.get(s, {}).get("peak RSS MB") for s in args.sizes]
        print(f"{stage:<12s}" + "".join(f"{c:>22s}" for c in cells) + f"   {growth(args.sizes, seconds)}, "
              f"{growth(args.sizes, memory)}")


if __name__ == "__main__":
    main()

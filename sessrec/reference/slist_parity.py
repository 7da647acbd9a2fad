"""Parity: the SLIST authors' code against sessrec's SLIST, same training data and settings.

Usage (the authors' repository ``jin530/SLIST`` checked out somewhere, and a Python where their
code runs: it was written for pandas 1.x and needs scikit-learn, e.g. a scratch virtual
environment with ``pip install "pandas<2" "numpy<2" scipy scikit-learn tqdm``)::

    python -m sessrec.reference.slist_parity /path/to/SLIST --authors-python /scratch/env/bin/python \
        --dataset data/rsc15_100k [--events 2000] [--json out.json] [--set alpha=0.4 ...]

Both fit on the dataset's training split with the authors' setting for it (their configs:
``reg`` 10, ``direction`` ``sr``; ``alpha`` / ``train_weight`` / ``predict_weight`` /
``session_weight`` 0.4 / 1 / 1 / 4 for rsc15, 0.8 / 1 / 2 / 128 for Diginetica, 0.2 / 0.25 / 4 /
256 for RetailRocket; ``--set`` overrides). Reported: the largest absolute difference between
the two item-item matrices ``B``; then, for the first test sessions (at least ``--events``
prediction events, unknown items removed), the share of identical top-20 lists, sets and
top-1 (both cut with one rule: score descending, ties by the lower item index), and
HitRate@20 / MRR@20 of both on these events.

The authors' file runs in a child process of ``--authors-python``, inside a fresh temporary
folder: it caches its training rows as pickles under ``./data_ckpt/`` and would read them back
on a later run, so every run starts from an empty folder and no pickle is ever read. Data
passes between the two processes as CSV and ``.npy`` files (``allow_pickle=False``). Their predictions
are divided by their maximum, which keeps the order unless that maximum is negative.
Not needed by the tests; nothing in sessrec imports the authors' code.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from sessrec.data.dataset import load_dataset
from sessrec.models.factory import make_model, parse_assignments
from sessrec.reference.session_rec import test_events, top_n, train_frame

#: the authors' configs per dataset (their conf/ files): our parameter names
AUTHORS_SETTINGS: dict[str, dict[str, Any]] = {
    "rsc15_100k": {"alpha": 0.4, "train_weight": 1.0, "predict_weight": 1.0, "session_weight": 4.0},
    "yoochoose1_64": {"alpha": 0.4, "train_weight": 1.0, "predict_weight": 1.0, "session_weight": 4.0},
    "diginetica": {"alpha": 0.8, "train_weight": 1.0, "predict_weight": 2.0, "session_weight": 128.0},
    "retailrocket": {"alpha": 0.2, "train_weight": 0.25, "predict_weight": 4.0, "session_weight": 256.0},
}
COMMON = {"reg": 10.0, "direction": "sr", "normalize": "l1", "epsilon": 10.0}


#: run by ``--authors-python`` in a scratch folder: fit their SLIST, score every event
AUTHORS_DRIVER = r"""
import importlib.util, json, os, sys, time
import numpy as np, pandas as pd
checkout, work = sys.argv[1], sys.argv[2]
spec = importlib.util.spec_from_file_location("authors_slist", os.path.join(checkout, "algorithms", "slist", "slist.py"))
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
params = json.load(open(os.path.join(work, "params.json")))
train = pd.read_csv(os.path.join(work, "train.csv"))
events = pd.read_csv(os.path.join(work, "events.csv"))
item_ids = np.load(os.path.join(work, "item_ids.npy"), allow_pickle=False)
os.chdir(work); os.mkdir("data_ckpt")
model = module.SLIST(**params)
started = time.perf_counter(); model.fit(train); seconds = time.perf_counter() - started
np.save("enc_w.npy", np.asarray(model.enc_w, dtype=np.float32)[np.ix_(model.itemidmap[item_ids].values, model.itemidmap[item_ids].values)])
top = []
for session, item in zip(events["session"].tolist(), events["item"].tolist()):
    scores = model.predict_next(session, item, item_ids).to_numpy(np.float64)
    part = np.argpartition(-scores, 19)[:20]
    pool = np.flatnonzero(scores >= scores[part].min())
    top.append(pool[np.lexsort((pool, -scores[pool]))][:20])
np.save("top20.npy", np.asarray(top, dtype=np.int64))
json.dump({"fit_seconds": seconds}, open("done.json", "w"))
"""


def hit_and_rr(top: np.ndarray, target: int) -> tuple[float, float]:
    where = np.flatnonzero(top == target)
    return (1.0, 1.0 / (where[0] + 1)) if len(where) else (0.0, 0.0)


def compare(checkout: str, authors_python: str, dataset_path: str, max_events: int,
            overrides: dict[str, Any]) -> dict[str, Any]:
    if not (Path(checkout) / "algorithms" / "slist" / "slist.py").is_file():
        raise SystemExit(f"error: {checkout}: no algorithms/slist/slist.py (give the root of a jin530/SLIST checkout)")
    dataset = load_dataset(dataset_path)
    params = {**COMMON, **AUTHORS_SETTINGS.get(dataset.name, AUTHORS_SETTINGS["rsc15_100k"]), **overrides}
    started = time.perf_counter()
    ours = make_model("slist", params).fit(dataset.train, progress=False)
    seconds_ours = time.perf_counter() - started
    item_ids = ours.item_index.item_ids
    # every prediction event, in order: the prefix's last click, the true next item
    rows, ours_top, targets = [], [], []
    for s, items, _times in test_events(dataset, item_ids, max_events):
        idx = ours.item_index.to_index(items)
        state = ours.init_state(1)
        for p in range(len(items) - 1):
            with torch.inference_mode():
                state = ours.step(state, torch.tensor([idx[p]]))
                scores = ours.scores(state)[0].double().numpy()
            rows.append((s, int(items[p])))
            ours_top.append(top_n(scores))
            targets.append(int(idx[p + 1]) if p + 1 >= dataset.min_position else -1)
    with tempfile.TemporaryDirectory(prefix="slist-parity-") as work:
        folder = Path(work)
        (folder / "params.json").write_text(json.dumps(params))
        train_frame(dataset).to_csv(folder / "train.csv", index=False)
        pd.DataFrame(rows, columns=["session", "item"]).to_csv(folder / "events.csv", index=False)
        np.save(folder / "item_ids.npy", item_ids)
        done = subprocess.run([authors_python, "-c", AUTHORS_DRIVER, str(Path(checkout).resolve()), work],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"error: the authors' code failed: {done.stderr.strip()[-800:]}")
        b_theirs = np.load(folder / "enc_w.npy", allow_pickle=False).astype(np.float64)
        their_top = np.load(folder / "top20.npy", allow_pickle=False)
        seconds_theirs = json.loads((folder / "done.json").read_text())["fit_seconds"]
    b_ours = ours.weights.double().numpy()
    stats = {"same_list": 0, "same_set": 0, "same_top1": 0, "events": 0}
    metrics = {"ours": np.zeros(2), "authors": np.zeros(2)}
    for a, b, target in zip(ours_top, their_top, targets):
        if target < 0:  # before the dataset's first predicted position
            continue
        stats["same_list"] += int(np.array_equal(a, b))
        stats["same_set"] += int(set(a.tolist()) == set(b.tolist()))
        stats["same_top1"] += int(a[0] == b[0])
        stats["events"] += 1
        metrics["ours"] += hit_and_rr(a, target)
        metrics["authors"] += hit_and_rr(b, target)
    n = max(stats["events"], 1)
    return {
        "dataset": dataset.name, "params": params, "n_items": int(len(item_ids)),
        "max_abs_difference_B": float(np.abs(b_ours - b_theirs).max()),
        "max_abs_B": float(np.abs(b_theirs).max()),
        "events": stats["events"],
        "same_top20_list": stats["same_list"] / n, "same_top20_set": stats["same_set"] / n,
        "same_top1": stats["same_top1"] / n,
        "hitrate@20": {k: float(v[0] / n) for k, v in metrics.items()},
        "mrr@20": {k: float(v[1] / n) for k, v in metrics.items()},
        "fit_seconds": {"ours": round(seconds_ours, 2), "authors": round(seconds_theirs, 2)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", help="root of a jin530/SLIST checkout")
    parser.add_argument("--authors-python", required=True,
                        help="a Python that runs the authors' code (pandas<2, numpy<2, scipy, scikit-learn, tqdm)")
    parser.add_argument("--dataset", default="data/rsc15_100k")
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args(argv)
    report = compare(args.checkout, args.authors_python, args.dataset, args.events, parse_assignments(args.set))
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Builders for the app tests: small folders the app reads instead of the repository's."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"


@dataclass
class AppRoots:
    data: Path
    checkpoints: Path
    results: Path

    def env(self) -> dict[str, str]:
        return {"SESSREC_DATA_ROOT": str(self.data), "SESSREC_CHECKPOINT_ROOT": str(self.checkpoints),
                "SESSREC_RESULTS_ROOT": str(self.results)}


def build_app_roots(base: Path) -> AppRoots:
    from sessrec.data.dataset import load_dataset
    from sessrec.models import io
    from sessrec.models.item_knn import ItemKNN
    from sessrec.models.last_item import LastItem
    from sessrec.models.popular import MostPopular

    roots = AppRoots(base / "data", base / "checkpoints", base / "results")
    roots.data.mkdir()
    os.symlink(DEMO, roots.data / "demo")
    roots.results.mkdir()
    dataset = load_dataset(roots.data / "demo")
    train = dataset.train
    for cls in (MostPopular, LastItem, ItemKNN):
        io.save_model(cls().fit(train), roots.checkpoints / "demo" / f"{cls.name}.pt", {"dataset": "demo"})
    foreign = MostPopular().fit(_sessions([[1, 2, 3], [2, 3]]))
    io.save_model(foreign, roots.checkpoints / "other" / "most_popular.pt", {"dataset": "other"})
    (roots.checkpoints / "broken").mkdir()
    (roots.checkpoints / "broken" / "gru4rec.pt").write_bytes(b"not a checkpoint")
    return roots


def _sessions(lists):
    from sessrec.data.sessions import Sessions

    rows = [(s, item, pos) for s, items in enumerate(lists) for pos, item in enumerate(items)]
    return Sessions.from_frame(pd.DataFrame(rows, columns=["SessionId", "ItemId", "Pos"]))


def write_fake_results(root: Path, dataset: str = "demo", n_events: int = 400, seeds=(1, 2),
                       questions: bool = True) -> None:
    """Run records in the runner's format (records.write_run) with made-up ranks.

    RQ1 (group main): GRU4Rec (cross-entropy) over ``seeds`` and the three baselines, the
    baselines without a ``group`` key as records written before it existed. Item-KNN is
    made better than GRU4Rec at k=1 (the page must show where GRU4Rec loses). With
    ``questions``: RQ2 loss runs and RQ3 one-factor runs on the same dataset."""
    from sessrec.evaluation import metrics_from_ranks
    from sessrec.experiments.records import write_run

    rng = np.random.default_rng(0)
    positions = np.tile(np.arange(1, 9), n_events // 8 + 1)[:n_events].astype(np.int32)
    popularity = rng.integers(1, 500, n_events).astype(np.int32)
    reference = {"loss": "cross-entropy", "layers": [100], "batch_size": 32, "n_sample": 2048, "n_epochs": 5,
                 "learning_rate": 0.1, "momentum": 0.0, "sample_alpha": 0.75, "logq": 1.0, "dropout_p_embed": 0.1}

    def run(label, model, seed, quality, log, group="main", params=None, seconds=10.0, top1=None):
        ranks = np.minimum(rng.geometric(quality, n_events), 2000).astype(float)
        if top1 is not None:  # share of events ranked first
            ranks[rng.random(n_events) < top1] = 1.0
        record = {"run_id": label if seed is None else f"{label}-seed{seed}", "label": label, "model": model,
                  "dataset": dataset, "seed": seed, "hyperparameters": {**(params or {}), "seed": seed},
                  "training_log": log, "train_seconds": seconds,
                  "evaluation": {"metrics": metrics_from_ranks(ranks), "tie_mode": "standard", "min_position": 1,
                                 "seconds": 1.0, "n_events": n_events, "n_sessions": n_events // 4,
                                 "n_items": 2425, "n_test_events_raw": n_events + 17,
                                 "n_unknown_items_removed": 17, "n_sessions_dropped": 3},
                  "library_versions": {}, "machine": {}, "command": "test", "created": "2026-01-01T00:00:00"}
        if group is not None:
            record["group"] = group
        write_run(root, record, {"ranks": ranks, "positions": positions, "targets": np.arange(n_events, dtype=np.int32),
                                 "target_popularity": popularity})

    def log(seed, epochs=5, speed=20000.0, seconds=10.0):  # the epochs take the run's training seconds
        return [{"epoch": e, "loss": 5.0 / e + 0.01 * seed, "seconds": seconds / epochs, "events_per_s": speed}
                for e in range(1, epochs + 1)]

    for seed in seeds:
        run("gru4rec-xe", "gru4rec", seed, 0.15, log(seed), params=reference)
    for label, q, top1 in (("most_popular", 0.01, None), ("last_item", 0.05, None), ("item_knn", 0.08, 0.5)):
        run(label, label, None, q, [], group=None, params={}, top1=top1)
    if questions:
        for seed in seeds:
            run("gru4rec-bprmax", "gru4rec", seed, 0.14, log(seed), params={**reference, "loss": "bpr-max"})
            run("rq2-top1", "gru4rec", seed, 0.10, log(seed), group="losses", params={**reference, "loss": "top1"})
            for label, change, q, secs in (("rq3-layers200", {"layers": [200]}, 0.16, 25.0),
                                           ("rq3-epochs1", {"n_epochs": 1}, 0.11, 2.0)):
                run(label, "gru4rec", seed, q, log(seed, change.get("n_epochs", 5), seconds=secs), group="factors",
                    params={**reference, **change}, seconds=secs)
    pd.DataFrame([
        {"dataset": dataset, "model": "gru4rec", "metric": "recall", "k": 20, "value": 0.6,
         "source": "a paper", "protocol_note": "sampled evaluation in the paper"},
    ]).to_csv(root / "reference_numbers.csv", index=False)


# -- the playground's recommendation lists (one st.components.v2 component, see sessrec.ui.rec_lists)
def rec_lists(at) -> dict[str, list[dict]]:
    """Role -> the rows every shown list sends to the browser (id, rank, name, mark, score, title)."""
    import json

    out = {}
    for element in at.get("bidi_component"):
        if element.proto.component_name == "sessrec_rec_lists":
            for view in json.loads(element.proto.json)["lists"]:
                out[view["role"]] = view["rows"]
    return out


def rec_items(at, role: str) -> list[int]:
    return [row["id"] for row in rec_lists(at).get(role, [])]


def pick(at, item_id: int) -> None:
    """Click a recommendation as the browser does: the component's ``pick`` trigger, then a re-run.

    AppTest cannot click inside a custom component, so the trigger value the component's
    JavaScript sends is added to the widget states by hand (the browser test clicks for real).
    """
    import json

    from streamlit.components.v2.bidi_component.main import _make_trigger_id

    from sessrec.ui.rec_lists import PICK

    element = next(e for e in at.get("bidi_component") if e.proto.component_name == "sessrec_rec_lists"
                   and any(row["id"] == item_id for view in json.loads(e.proto.json)["lists"] for row in view["rows"]))
    states = at._tree.get_widget_states()
    trigger = states.widgets.add()
    trigger.id = _make_trigger_id(element.proto.id, "events")
    trigger.json_trigger_value = json.dumps([{"event": PICK, "value": item_id}])
    at._run(states)


BENCH_TABS = ("RQ1 · vs other models", "RQ2 · Losses", "RQ3 · Factors", "RQ4 · Wins and losses",
              "RQ5 · Modern models", "Published", "All runs")


def open_app(page: str | None = None, query: dict | None = None):
    """The app, run once, on ``page`` (AppTest)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90)
    if query:
        at.query_params.update(query)
    at.run()
    if page and page != "pages/playground.py":
        at.switch_page(page).run()
    return at


def open_tab(at, prefix: str):
    """Open the Benchmarks tab whose label starts with ``prefix`` and run."""
    label = next(t for t in BENCH_TABS if t.startswith(prefix))
    at.session_state["bm_tab"] = label
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at

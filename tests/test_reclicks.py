"""Re-clicks: the test events' flags (``analysis.benchmark_events``) and ``sessrec.tools.reclicks``."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

from sessrec.cli import main
from sessrec.data.dataset import load_dataset, write_dataset
from sessrec.experiments.analysis.breakdowns import benchmark_events
from sessrec.experiments.records import load_ranks, load_run_records
from tests.helpers import sessions_of

TEST_SESSIONS = ([1, 2, 1, 3], [4, 5, 5], [6, 7, 8, 6], [9, 40, 9])  # 40 is never trained: left out
RECLICK = [False, True, False, False, True, False, False, True, True]  # after dropping item 40


def test_reclicks_splits_each_models_recall_by_targets_already_in_the_session(tmp_path, capsys) -> None:
    reclicks = importlib.import_module("sessrec.tools.reclicks")
    rng = np.random.default_rng(0)
    train = [list(rng.integers(1, 31, size=int(rng.integers(2, 7)))) for _ in range(200)]
    write_dataset(tmp_path / "toy", {"train": sessions_of(*train).to_frame(),
                                     "test": sessions_of(*TEST_SESSIONS, start_id=900).to_frame()}, name="toy")
    config = tmp_path / "toy.json"
    config.write_text(json.dumps({"models": [{"label": "last_item", "model": "last_item"},
                                             {"label": "spop", "model": "spop"}]}))
    results = tmp_path / "results"
    assert main(["benchmark", "--dataset", str(tmp_path / "toy"), "--config", str(config),
                 "--out", str(results), "--quiet"]) == 0
    capsys.readouterr()

    events = benchmark_events(load_dataset(tmp_path / "toy"))
    reclick = events.reclick
    assert reclick.tolist() == RECLICK
    records = load_run_records(results)
    for record in records:
        assert events.matches(record)  # the ranks files' event order
        assert np.array_equal(load_ranks(record, "targets"), events.targets)

    assert reclicks.main([str(tmp_path / "toy"), "--results", str(results), "--k", "1"]) == 0
    out = capsys.readouterr().out
    assert "toy: Recall@1; 9 test events, 4 re-clicks (44.4%)" in out
    spop = next(r for r in records if r["label"] == "spop")
    hit = load_ranks(spop, "ranks") <= 1
    row = next(line for line in out.splitlines() if line.startswith("| S-POP |"))
    cells = [c.strip("* |") for c in row.split(" | ")[1:3]]
    assert cells == [f"{hit[reclick].mean():.4f}", f"{hit[~reclick].mean():.4f}"]
    assert hit[~reclick].mean() == 0.0  # S-POP only ranks the session's own items above the rest

    # a run evaluated on other events is named and left out, not misread
    other = [list(s) for s in TEST_SESSIONS[:2]]
    write_dataset(tmp_path / "toy2", {"train": sessions_of(*train).to_frame(),
                                      "test": sessions_of(*other, start_id=900).to_frame()}, name="toy")
    with pytest.raises(SystemExit):
        reclicks.main([str(tmp_path / "toy2"), "--results", str(results)])
    err = capsys.readouterr().err
    assert "last_item: evaluated on other test events than the dataset's; left out" in err
    assert "no run of toy was evaluated on its current test events" in err

import numpy as np
import pytest

from sessrec.experiments.analysis.breakdowns import BenchmarkEvents, breakdown, by_popularity, by_position, by_reclick
from sessrec.experiments.records import load_run_records, write_run


def test_by_position_buckets():
    ranks = np.array([1, 30, 2, 2, 50, 1.0])
    positions = np.array([1, 1, 2, 4, 5, 12])
    table = by_position(ranks, positions, "recall", 20).set_index("bucket")
    assert table.loc["1", "value"] == 0.5 and table.loc["1", "n"] == 2
    assert table.loc["4-5", "value"] == 0.5
    assert table.loc["10+", "value"] == 1.0
    assert "6-9" not in table.index


def test_by_popularity_uses_shared_edges():
    ranks = np.array([1, 1, 50, 50.0])
    pop = np.array([1, 2, 100, 200])
    table = by_popularity(ranks, pop, "recall", 20, edges=np.array([0, 10, 1000]))
    assert table["value"].tolist() == [1.0, 0.0]


def test_breakdown_over_run_records(tmp_path):
    for seed, shift in ((1, 0), (2, 30)):
        record = {"run_id": f"m-seed{seed}", "label": "m", "model": "m", "dataset": "d", "seed": seed,
                  "evaluation": {"metrics": {"recall@20": 0.5}, "n_events": 2}}
        arrays = {"ranks": np.array([1.0 + shift, 25.0]), "positions": np.array([1, 2]),
                  "targets": np.array([0, 1]), "target_popularity": np.array([5, 50])}
        write_run(tmp_path, record, arrays)
    table = breakdown(load_run_records(tmp_path), by="position", metric="recall", k=20)
    assert table.set_index("bucket").loc["1", "value"] == pytest.approx(0.5)  # hit in seed 1, miss in seed 2
    with pytest.raises(ValueError):
        breakdown([], by="weekday")


def test_by_reclick_and_its_breakdown_only_over_runs_on_the_same_events(tmp_path):
    table = by_reclick(np.array([1, 30, 2, 50.0]), np.array([True, True, False, False]), "recall", 20)
    assert table["bucket"].tolist() == ["re-click", "new to the session"] and table["value"].tolist() == [0.5, 0.5]
    assert by_reclick(np.array([1.0]), np.array([False]))["bucket"].tolist() == ["new to the session"]

    for run, targets in (("same", [0, 1, 2]), ("other", [0, 1, 3])):
        record = {"run_id": run, "label": run, "model": "m", "dataset": "d",
                  "evaluation": {"metrics": {"recall@20": 2 / 3}, "n_events": 3}}
        write_run(tmp_path, record, {"ranks": np.array([1.0, 1.0, 99.0]), "positions": np.array([1, 2, 3]),
                                     "targets": np.array(targets), "target_popularity": np.array([5, 5, 5])})
    records = load_run_records(tmp_path)
    events = BenchmarkEvents(targets=np.array([0, 1, 2]), reclick=np.array([False, True, True]))
    table = breakdown(records, by="reclick", events={"d": events})
    assert set(table["label"]) == {"same"}  # "other" was ranked on other targets: left out, not misread
    assert table.set_index("bucket")["value"].to_dict() == {"re-click": 0.5, "new to the session": 1.0}
    assert breakdown(records, by="reclick").empty  # no test events for the dataset: nothing to split


def test_run_names_and_the_rq3_reference_come_from_the_benchmark_configs(tmp_path):
    """No hand table of GRU4Rec run labels in generic code (issue 43): a config entry's "name" is
    how its runs are shown, and the questions config names RQ3's reference run."""
    import json
    from pathlib import Path

    from sessrec.experiments.analysis import questions, tables

    (tmp_path / "a.json").write_text(json.dumps({"models": [{"label": "my-run", "name": "My run", "model": "sr"},
                                                            {"label": "plain", "model": "sr"}]}))
    (tmp_path / "broken.json").write_text("{not json")
    assert tables.run_names(tmp_path) == {"my-run": "My run"}
    committed = {m["label"]: m.get("name") for m in json.loads(
        (Path(tables.CONFIG_DIR) / "rsc15_100k_questions.json").read_text())["models"]}
    assert tables.pretty_label("rq2-top1max") == committed["rq2-top1max"] == "GRU4Rec (TOP1-max)"
    assert tables.pretty_label("rq2-top1max-tuned") == "GRU4Rec (TOP1-max, tuned)"
    assert questions.reference_label() == "gru4rec-xe"
    assert questions.rq2_shared() == {"gru4rec-xe", "gru4rec-bprmax"}  # RQ1 runs that are two of RQ2's losses
    for module in (tables, questions):
        assert '"gru4rec-xe"' not in Path(module.__file__).read_text(), "no GRU4Rec run label typed in"


def test_the_cost_frame_names_runs_and_keeps_those_with_a_training_time(tmp_path):
    from sessrec.experiments.analysis import tables
    from sessrec.experiments.records import load_run_records, valid_records
    from tests.app_support import write_fake_results

    write_fake_results(tmp_path, questions=False)
    records = [{**r, "train_seconds": 0.0, "training_log": []} if r["label"] == "most_popular" else r
               for r in valid_records(load_run_records(tmp_path))]  # nothing measured for MostPopular
    frame = tables.cost_frame(records)
    assert list(frame.columns) == ["Run", "Train s", "Cost from", "_recall@20", "_mrr@20"]
    assert (frame["Train s"] > 0).all() and frame["Train s"].is_monotonic_increasing
    assert "MostPopular" not in set(frame["Run"]) and "LastItem" in set(frame["Run"])
    assert "GRU4Rec (cross-entropy)" in set(frame["Run"]), "display names, not run labels"
    assert set(frame["Cost from"]) == {tables.FROM_RECORDS}
    # a timed configuration takes its timed CPU seconds, the others keep their records' seconds
    timed = tables.cost_frame(records, {"gru4rec-xe": {"cpu_seconds": 12345.0}, "most_popular": {"cpu_seconds": 0.5}})
    row = timed.set_index("Run").loc["GRU4Rec (cross-entropy)"]
    assert row["Train s"] == 12345.0 and row["Cost from"] == tables.TIMED
    assert timed["Train s"].iloc[-1] == 12345.0, "cheapest first"
    assert "MostPopular" in set(timed["Run"]), "timed, so it has a cost now"
    others = timed[timed["Run"] != "GRU4Rec (cross-entropy)"].set_index("Run")["Train s"]
    assert others.drop("MostPopular").equals(frame[frame["Run"] != "GRU4Rec (cross-entropy)"].set_index("Run")["Train s"])

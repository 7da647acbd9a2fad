"""`sessrec timing` (sessrec.experiments.runs.timing): one training run per configuration, CPU
seconds on one thread, kept in results/timings.json, resumable, and re-timed when settings change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sessrec.cli import EXIT_OK, main
from sessrec.experiments.runs import timing

DEMO = Path(__file__).resolve().parents[1] / "data" / "demo"
GRU = {"layers": [8], "batch_size": 32, "n_epochs": 3, "n_sample": 16}


def _config(path: Path, gru: dict) -> Path:
    path.write_text(json.dumps({"models": [{"label": "last_item", "model": "last_item"},
                                           {"label": "gru4rec-small", "model": "gru4rec", "params": gru}]}))
    return path


def test_timing_trains_each_configuration_once_and_keeps_its_cpu_seconds(tmp_path, monkeypatch):
    config = _config(tmp_path / "c.json", GRU)
    out = tmp_path / "results"
    assert main(["timing", "--dataset", str(DEMO), "--config", str(config), "--out", str(out), "--max-epochs", "1",
                 "--quiet"]) == EXIT_OK
    entries = timing.load_timings(out)["demo"]
    assert set(entries) == {"last_item", "gru4rec-small"}
    gru = entries["gru4rec-small"]
    assert gru["epochs"] == 3 and gru["epochs_timed"] == 1 and "1 of 3 epochs" in gru["how"]
    assert gru["cpu_seconds"] > 0 and gru["machine"]["torch_threads"] == 1
    assert entries["last_item"]["epochs"] is None and entries["last_item"]["how"] == "fitted once"
    # timed already with these settings: nothing trains again
    monkeypatch.setattr(timing, "train_model", lambda *a, **k: pytest.fail("trained again"))
    assert main(["timing", "--dataset", str(DEMO), "--config", str(config), "--out", str(out), "--quiet"]) == EXIT_OK
    # other settings: timed again, and only that configuration
    trained = []
    monkeypatch.setattr(timing, "train_model", lambda dataset, name, **k: trained.append((name, k["params"])))
    _config(config, {**GRU, "layers": [16]})
    assert main(["timing", "--dataset", str(DEMO), "--config", str(config), "--out", str(out), "--quiet"]) == EXIT_OK
    assert [name for name, _ in trained] == ["gru4rec"] and trained[0][1]["n_epochs"] == 3
    assert trained[0][1]["seed"] == 1


def test_the_epochs_timed_are_those_the_committed_run_trained():
    assert timing.run_epochs({"selected_epochs": 7, "training_log": [{}] * 12}, {"n_epochs": 30}) == 7
    assert timing.run_epochs({"training_log": [{}] * 4}, {"n_epochs": 10}) == 4
    assert timing.run_epochs(None, {"n_epochs": 5}) == 5


def test_an_unknown_label_is_refused_in_one_line(tmp_path, capsys):
    config = _config(tmp_path / "c.json", GRU)
    assert main(["timing", "--dataset", str(DEMO), "--config", str(config), "--out", str(tmp_path),
                 "--only", "nope"]) != EXIT_OK
    err = capsys.readouterr().err.strip()
    assert "no such labels" in err and "\n" not in err


def test_a_configuration_that_cannot_train_here_is_reported_and_the_rest_are_timed(tmp_path, monkeypatch):
    """SLIST refuses a fit that will not fit in memory (a ValueError): that label is skipped, saying why."""
    config = _config(tmp_path / "c.json", GRU)
    real = timing.time_one

    def refuse_gru(dataset, spec, record, **kwargs):
        if spec.model == "gru4rec":
            raise ValueError("gru4rec: needs 99 GB, 20 GB available")
        return real(dataset, spec, record, **kwargs)

    monkeypatch.setattr(timing, "time_one", refuse_gru)
    lines: list[str] = []
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.runs.benchmark import load_specs

    timing.run_timings(load_dataset(DEMO), load_specs(config), tmp_path, {}, log=lines.append)
    assert set(timing.load_timings(tmp_path)["demo"]) == {"last_item"}
    assert any("not timed: gru4rec: needs 99 GB" in line for line in lines)


def test_timing_again_keeps_the_fewest_cpu_seconds_of_every_measurement(tmp_path, monkeypatch):
    config = _config(tmp_path / "c.json", GRU)
    out = tmp_path / "results"
    cpu = iter([5.0, 2.0, 9.0])  # CPU seconds of the gru4rec measurements, in turn
    real = timing.time_one

    def fake(dataset, spec, record, **kwargs):
        entry = real(dataset, spec, record, **kwargs) if spec.model != "gru4rec" else {
            "model": "gru4rec", "settings": timing.settings_key(spec), "cpu_seconds": next(cpu),
            "wall_seconds": 1.0, "epochs": 3, "epochs_timed": 1, "how": "1 of 3 epochs timed",
            "load_before": 0.5, "measured": "t", "machine": {}}
        return entry

    monkeypatch.setattr(timing, "time_one", fake)
    args = ["timing", "--dataset", str(DEMO), "--config", str(config), "--out", str(out), "--quiet"]
    assert main(args) == EXIT_OK and main(args + ["--again"]) == EXIT_OK
    gru = timing.load_timings(out)["demo"]["gru4rec-small"]
    assert gru["cpu_seconds"] == 2.0 and gru["n_measurements"] == 2  # the second, faster one
    assert main(args + ["--again"]) == EXIT_OK
    gru = timing.load_timings(out)["demo"]["gru4rec-small"]
    assert gru["cpu_seconds"] == 2.0 and [m["cpu_seconds"] for m in gru["measurements"]] == [5.0, 2.0, 9.0]
    assert timing.load_timings(out)["demo"]["last_item"]["n_measurements"] == 3
    # other settings start a new list: the old measurements timed something else
    _config(config, {**GRU, "layers": [16]})
    monkeypatch.setattr(timing, "time_one", lambda d, spec, r, **k: {**gru, "settings": timing.settings_key(spec),
                                                                      "cpu_seconds": 7.0, "measurements": None})
    assert main(args) == EXIT_OK
    gru = timing.load_timings(out)["demo"]["gru4rec-small"]
    assert gru["cpu_seconds"] == 7.0 and gru["n_measurements"] == 1


def test_an_entry_from_before_measurements_counts_as_one_measurement():
    held = {"settings": "s", "cpu_seconds": 3.0, "wall_seconds": 4.0, "load_before": 2.4, "measured": "old"}
    new = {"settings": "s", "cpu_seconds": 1.5, "wall_seconds": 1.6, "load_before": 0.9, "measured": "new", "how": "x"}
    merged = timing.merge_measurement(held, new)
    assert merged["cpu_seconds"] == 1.5 and merged["measured"] == "new" and merged["n_measurements"] == 2
    merged = timing.merge_measurement(held, {**new, "cpu_seconds": 6.0})
    assert (merged["cpu_seconds"], merged["wall_seconds"], merged["measured"]) == (3.0, 4.0, "old")

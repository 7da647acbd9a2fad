"""Training from the app: jobs in their own process, one writer per checkpoint, cancel,
the CLI's errors for bad hyperparameters, and the Train page driving a tiny training."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from sessrec.errors import OutputPathError
from sessrec.experiments.runs import jobs
from tests.app_support import DEMO, REPO, build_app_roots


def wait_for(folder: Path, states: tuple[str, ...], timeout: float = 240.0) -> jobs.JobView:
    deadline = time.time() + timeout
    while time.time() < deadline:
        view = jobs.read_job(folder)
        if view.state in states:
            return view
        time.sleep(0.5)
    raise AssertionError(f"job {folder.name} still {jobs.read_job(folder).state}: {jobs.output_log(folder)}")


def test_job_trains_in_its_own_process_and_writes_the_checkpoint(tmp_path):
    out = tmp_path / "ck" / "demo" / "item_knn.pt"
    job_id = jobs.start_job(jobs.JobSpec(str(DEMO), "item_knn", {"lambda_": 5}, None, str(out)), tmp_path / "jobs")
    view = wait_for(tmp_path / "jobs" / job_id, ("done", "failed"))
    assert view.state == "done", view.message + jobs.output_log(view.folder)
    assert view.pid != os.getpid()
    from sessrec.models.io import read_checkpoint

    payload = read_checkpoint(out)
    assert payload["hyperparameters"]["lambda_"] == 5 and payload["meta"]["dataset"] == "demo"
    assert not list(out.parent.glob(".*.training")), "the checkpoint's lock is released"


def test_epochs_are_reported_and_a_job_can_be_cancelled(tmp_path):
    out = tmp_path / "ck" / "gru4rec.pt"
    params = {"layers": [16], "n_epochs": 200, "batch_size": 32, "n_sample": 64, "n_threads": 1}
    job_id = jobs.start_job(jobs.JobSpec(str(DEMO), "gru4rec", params, None, str(out)), tmp_path / "jobs")
    folder = tmp_path / "jobs" / job_id
    deadline = time.time() + 240
    while time.time() < deadline and not jobs.read_job(folder).epochs:
        time.sleep(0.5)
    view = jobs.read_job(folder)
    assert view.epochs and "loss" in view.epochs[0] and view.n_epochs == 200, jobs.output_log(folder)
    assert jobs.cancel_job(folder)
    view = wait_for(folder, ("cancelled", "failed", "done"))
    assert view.state == "cancelled" and not out.exists()
    assert not jobs.cancel_job(folder), "a finished job cannot be cancelled again"


def test_two_jobs_never_write_the_same_checkpoint(tmp_path):
    out = tmp_path / "ck" / "last_item.pt"
    out.parent.mkdir(parents=True)
    busy = tmp_path / "jobs" / "busy"
    busy.mkdir(parents=True)
    (busy / "job.json").write_text(json.dumps({"spec": {"dataset": str(DEMO), "model": "last_item", "out": str(out)}}))
    (busy / "status.json").write_text(json.dumps({"state": "running", "pid": os.getpid()}))
    (out.parent / ".last_item.pt.training").write_text("busy")
    with pytest.raises(OutputPathError, match="busy is already training"):
        jobs.start_job(jobs.JobSpec(str(DEMO), "last_item", {}, None, str(out)), tmp_path / "jobs")
    # the owner died without cleaning up: its claim is taken over
    (busy / "status.json").write_text(json.dumps({"state": "running", "pid": 2 ** 22 + 12345}))
    job_id = jobs.start_job(jobs.JobSpec(str(DEMO), "last_item", {}, None, str(out)), tmp_path / "jobs")
    assert wait_for(tmp_path / "jobs" / job_id, ("done", "failed")).state == "done"


@pytest.mark.parametrize("params, message", [
    ({"n_neighbors": "abc"}, "n_neighbors"),
    ({"no_such_parameter": 1}, "no parameter"),
])
def test_bad_hyperparameters_are_refused_before_any_process_starts(tmp_path, params, message):
    with pytest.raises((ValueError, TypeError)) as info:
        jobs.start_job(jobs.JobSpec(str(DEMO), "item_knn", params, None, str(tmp_path / "x.pt")), tmp_path / "jobs")
    assert message in str(info.value)
    assert not (tmp_path / "jobs").exists()


def test_train_page_runs_a_tiny_training_to_completion(tmp_path, monkeypatch):
    roots = build_app_roots(tmp_path)
    for key, value in roots.env().items():
        monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="train_model").select("last_item").run()
    at.text_input(key="train_out::last_item").input("from_app.pt").run()
    next(b for b in at.button if b.label == "Start training").click().run()
    assert not at.error, [e.value for e in at.error]
    assert any("Started job" in s.value for s in at.success)
    folder = next((roots.checkpoints / ".jobs").iterdir())
    assert wait_for(folder, ("done", "failed")).state == "done"
    at.run()
    assert any("saved" in c.value and "from_app.pt" in c.value for c in at.caption)
    # the new checkpoint is offered in the playground for this dataset
    at.switch_page("pages/playground.py").run()
    key = f"checkpoint::last_item::{roots.data / 'demo'}"
    assert any(str(o).endswith("demo/from_app.pt") for o in at.sidebar.selectbox(key=key).options)


def test_the_form_is_prefilled_on_every_dataset_and_one_epoch_draws_a_point():
    import pandas as pd

    from sessrec.ui import charts
    from sessrec.ui.train import STATE_ICONS, default_params_text

    text, source = default_params_text("demo", "gru4rec")
    assert "layers=" in text and "demo checkpoint" in source, "the demo has no benchmark config"
    text, source = default_params_text("demo", "vstan")
    assert "k=" in text and "defaults" in source
    spec = charts.job_loss(pd.DataFrame({"epoch": [1], "loss": [0.5]})).to_dict()
    assert spec["encoding"]["x"]["scale"]["domain"] == [1, 2] and spec["encoding"]["x"]["axis"]["format"] == "d"
    assert all(icon.startswith(":material/") for icon in STATE_ICONS.values()), "no emoji that need a font"

"""The sidebar and the live pages on more than one dataset: the dataset choice sticks at the
first click, links that name unknown datasets say so, checkpoints are matched by the
identity of their training data (name + fingerprint), never by overlapping item ids."""

from __future__ import annotations

import json
import re
import shutil

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.app_support import DEMO, REPO, build_app_roots, rec_lists


@pytest.fixture()
def two_datasets(tmp_path, monkeypatch):
    roots = build_app_roots(tmp_path)
    twin = roots.data / "twin"
    shutil.copytree(DEMO, twin)
    info = json.loads((twin / "dataset.json").read_text())
    info["name"] = "twin"
    (twin / "dataset.json").write_text(json.dumps(info))
    for key, value in roots.env().items():
        monkeypatch.setenv(key, value)
    return roots


def open_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90)
    if query:
        at.query_params.update(query)
    return at.run()


def selected_dataset(at: AppTest) -> str:
    return str(at.sidebar.selectbox(key="dataset").value)


def test_dataset_choice_sticks_at_the_first_click(two_datasets):
    at = open_app()
    assert selected_dataset(at).endswith("demo")
    at.sidebar.selectbox(key="dataset").select(str(two_datasets.data / "twin")).run()
    assert not at.exception
    assert selected_dataset(at).endswith("twin")
    at.run()  # the playground has written ?dataset= back: a later run must not undo the choice
    assert selected_dataset(at).endswith("twin")


@pytest.mark.parametrize("wanted", ["nope", "../../etc", "/abs/path"])
def test_unknown_dataset_in_link_is_said(two_datasets, wanted):
    at = open_app({"dataset": wanted, "session": "1001,1002"})
    assert not at.exception
    text = " ".join(w.value for w in at.warning) + " ".join(w.value for w in at.sidebar.warning)
    assert "not among the prepared datasets" in text and "session was not loaded" in text
    assert wanted[:20] in text


def test_repeated_session_parameter_keeps_every_value(two_datasets):
    at = open_app({"dataset": "demo", "session": ["1001", "1002"]})
    assert not at.exception
    assert len([b for b in at.button if b.key and b.key.startswith("rm_")]) == 2


def test_checkpoint_matched_by_dataset_identity(two_datasets):
    """A twin dataset with identical items gets none of the demo's checkpoints; a checkpoint
    written with the twin's identity is offered there; a changed training split is refused."""
    from sessrec.data.dataset import load_dataset
    from sessrec.models import io
    from sessrec.models.last_item import LastItem

    twin = load_dataset(two_datasets.data / "twin")
    model = LastItem().fit(twin.train)
    io.save_model(model, two_datasets.checkpoints / "twin" / "last_item.pt",
                  {"dataset": "twin", "dataset_identity": twin.identity()})
    stale = dict(twin.identity(), fingerprint="0" * 16)
    io.save_model(model, two_datasets.checkpoints / "twin" / "stale_last_item.pt",
                  {"dataset": "twin", "dataset_identity": stale})
    at = open_app({"dataset": "twin"})
    assert not at.exception
    options = [str(o) for o in at.sidebar.selectbox(key=f"checkpoint::last_item::{two_datasets.data / 'twin'}").options]
    assert any(o.endswith("twin/last_item.pt") for o in options)
    assert not any("stale" in o or "/demo/" in o for o in options)
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "another version of 'twin'" in captions


def test_fingerprint_follows_content_not_file(tmp_path):
    from sessrec.data.dataset import load_dataset

    a = load_dataset(DEMO)
    copy = tmp_path / "copy"
    shutil.copytree(DEMO, copy)
    assert load_dataset(copy).fingerprint() == a.fingerprint()
    assert a.fingerprint("train") != a.fingerprint("train_tr")


def test_seeds_aggregate_to_mean_and_band():
    import pandas as pd

    from sessrec.ui.curves import aggregate_seeds

    frame = pd.DataFrame({"Config": ["a"] * 4 + ["b"], "epoch": [1, 1, 2, 2, 1],
                          "loss": [1.0, 3.0, 0.5, 0.5, 7.0]})
    out = aggregate_seeds(frame, "loss").set_index(["Config", "epoch"])
    assert out.loc[("a", 1), "mean"] == 2.0 and out.loc[("a", 1), "seeds"] == 2
    assert out.loc[("a", 1), "upper"] - out.loc[("a", 1), "lower"] == pytest.approx(2 * 2 ** 0.5)
    assert out.loc[("a", 2), "std"] == 0.0 and out.loc[("b", 1), "std"] == 0.0  # one seed: no band, no NaN


def test_no_model_shown_is_a_hint_not_an_error(two_datasets):
    at = open_app()
    key = next(m.key for m in at.sidebar.multiselect if m.key and m.key.startswith("shown_models::"))
    at.sidebar.multiselect(key=key).set_value([]).run()
    assert not at.exception
    assert any("choose at least one" in i.value for i in at.info)
    at.switch_page("pages/replay.py").run()
    assert not at.exception


def test_benchmarks_follow_the_sidebar_dataset(two_datasets, tmp_path, monkeypatch):
    from tests.app_support import write_fake_results

    results = tmp_path / "results_bm"
    write_fake_results(results, dataset="demo", questions=False)
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = open_app()
    at.switch_page("pages/benchmarks.py").run()
    assert not at.exception
    assert any("Results on **demo" in c.value for c in at.caption)
    assert not [s for s in at.selectbox if s.key == "bm_dataset"], "no second dataset selector"
    at.sidebar.selectbox(key="dataset").select(str(two_datasets.data / "twin")).run()
    assert not at.exception
    assert any("No benchmark results for the sidebar's dataset **twin**" in i.value for i in at.info)


def test_playground_instruments_edit_explain_and_agree(two_datasets):
    at = open_app({"dataset": "demo", "session": "1001,1002,1003"})
    assert not at.exception
    chips = lambda: [b.key for b in at.button if b.key and b.key.startswith("rm_")]  # noqa: E731
    assert [k.split("_")[2] for k in chips()] == ["1001", "1002", "1003"]
    # what if: move the last click earlier; the session order follows, and the lists of the
    # models that read the last click (LastItem, Item-KNN) mark what changed
    at.session_state["pg_edit"] = True  # open the what-if panel
    at.run()
    at.selectbox(key="pg_edit_pos").set_value(2).run()
    at.button(key="pg_move_left").click().run()
    assert not at.exception
    assert [k.split("_")[2] for k in chips()] == ["1001", "1003", "1002"]
    assert any(row["change"] for rows in rec_lists(at).values() for row in rows), \
        "an edit that changes the lists is marked"
    at.text_input(key="pg_replace_id").input("99999999").run()
    at.button(key="pg_replace").click().run()
    assert any("not an item id" in e.value for e in at.error)
    assert [k.split("_")[2] for k in chips()] == ["1001", "1003", "1002"], "a bad replacement changes nothing"


def test_rq5_puts_modern_models_beside_gru4rec(tmp_path, monkeypatch):
    """RQ5 on fake records: a modern model's row appears next to GRU4Rec with the published number."""
    import pandas as pd

    from sessrec.experiments.analysis import questions
    from sessrec.experiments.analysis import tables as bm
    from tests.app_support import write_fake_results

    results = tmp_path / "results_rq5"
    write_fake_results(results, dataset="yoochoose1_64", questions=False)
    from sessrec.experiments.records import load_run_records

    records = load_run_records(results)
    modern = dict(next(r for r in records if r["model"] == "gru4rec"), model="srgnn", label="srgnn", group="modern")
    refs = pd.DataFrame([{"dataset": "yoochoose1_64", "model": "sr_gnn", "metric": "recall", "k": 20, "value": 0.7057}])
    table = questions.modern_table(records + [modern], "yoochoose1_64", refs)
    assert set(table["Model"]) == {"GRU4Rec", "SR-GNN"}
    row = table[table["Model"] == "SR-GNN"].iloc[0]
    assert row["Published Recall@20"] == 0.7057 and pd.isna(table[table["Model"] == "GRU4Rec"].iloc[0]["Published Recall@20"])
    assert abs(row["Recall@20 vs paper %"] - 100 * (row["_recall@20"] - 0.7057) / 0.7057) < 1e-9
    assert pd.isna(row["MRR@20 vs paper %"]), "no published MRR@20 in the reference table: no difference"
    text = questions.modern_text_table(table).set_index("Model")
    assert text.loc["SR-GNN", "Recall@20 vs paper"] == f"{row['Recall@20 vs paper %']:+.2f} %"
    assert text.loc["SR-GNN", "MRR@20 vs paper"] == "-"

    # training time: the epochs summed (a run resumed across processes has a short wall time), wall time otherwise
    assert bm.training_seconds({"train_seconds": 90.0, "train_seconds_epochs": 300.0}) == 300.0
    assert bm.training_seconds({"train_seconds": 90.0, "train_seconds_epochs": 0.0}) == 90.0
    logged = {"train_seconds": 90.0, "training_log": [{"seconds": 3.0}, {"seconds": 4.0}],
              "selection_log": [{"seconds": 5.0}]}
    assert bm.training_seconds(logged) == 12.0, "records without the sum: the epoch logs, selection included"
    assert bm.training_seconds({}) is None
    resumed = [dict(modern, seed=s, train_seconds=10.0, train_seconds_epochs=e) for s, e in ((1, 100.0), (2, 300.0))]
    table = questions.modern_table(records + resumed, "yoochoose1_64", refs).set_index("Model")
    assert table.loc["SR-GNN", "Train s"] == 200.0


def test_rq5_lists_the_runs_still_in_progress(tmp_path, monkeypatch):
    """A run training in the background (its per-epoch checkpoint and claim) is listed under RQ5."""
    import os
    import socket

    from sessrec.models.neural import NARM
    from tests.app_support import write_fake_results
    from tests.helpers import sessions_of
    from tests.app_support import open_tab

    results = tmp_path / "results"
    write_fake_results(results, dataset="yoochoose1_64", questions=False)
    partial = tmp_path / "checkpoints" / "partial" / "yoochoose1_64"
    partial.mkdir(parents=True)
    train = sessions_of(*[[1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 1]] * 4)
    NARM(hidden_size=8, embedding_dim=8, batch_size=16, n_epochs=2, n_threads=1).fit(
        train, validate=lambda model: 0.5, progress=False, checkpoint=partial / "narm-seed1.pt")
    claim = {"pid": os.getpid(), "host": socket.gethostname(), "created": 0}
    (results / "yoochoose1_64" / "narm-seed1.claim").write_text(json.dumps(claim))
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    monkeypatch.setenv("SESSREC_CHECKPOINT_ROOT", str(tmp_path / "checkpoints"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/benchmarks.py").run()
    at.selectbox(key="bm_dataset").set_value("yoochoose1_64").run()
    open_tab(at, "RQ5")
    running = next(m.value for m in at.markdown if m.value.startswith("**Still running on yoochoose1_64**"))
    assert "- narm-seed1: choosing the number of epochs on held-out sessions: epoch 2 of 2" in running
    assert f"claimed by pid {os.getpid()} (running)" in running


def test_rq5_tab_on_the_committed_results(monkeypatch):
    """The RQ5 tab over the repository's own run records: rsc15_100k has modern runs."""
    from tests.app_support import open_tab

    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(REPO / "results"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/benchmarks.py").run()
    assert not at.exception
    at.selectbox(key="bm_dataset").set_value("rsc15_100k").run()  # the demo (sidebar) has no results
    open_tab(at, "RQ5")
    text = " ".join(m.value for m in at.markdown)
    assert "**RQ5.**" in text
    # the verdict is said in words, one line per modern model run on the shown dataset
    boxes = [box.value for box in [*at.warning, *at.success]]
    summary = pd.read_csv(REPO / "results" / "summary.csv")  # the figure the committed records give
    srgnn = summary[(summary["dataset"] == "rsc15_100k") & (summary["label"] == "srgnn")
                    & (summary["metric"] == "recall") & (summary["k"] == 20) & (summary["protocol"] == "full")]
    assert any("**SR-GNN** (" in box and f"Recall@20 {srgnn['mean'].item():.4f} vs" in box for box in boxes), boxes
    # where the paper published numbers on the same split, the page says whether they are reproduced
    at.selectbox(key="bm_dataset").set_value("diginetica").run()
    open_tab(at, "RQ5")
    text = " ".join(m.value for m in at.markdown)
    assert "**Are the published numbers reproduced?**" in text
    for model, bar in (("SR-GNN", 2), ("NARM", 3)):  # the verdict's words depend on the committed numbers
        line = rf"- \*\*{model}\*\*: Recall@20 [+-]\d+\.\d+ %, MRR@20 [+-]\d+\.\d+ % from the paper: " \
               rf"(within|outside) its {bar} % bar"
        assert re.search(line, text), text

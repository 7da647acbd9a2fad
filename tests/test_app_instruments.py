"""The instruments in the app (AppTest): attention and evidence in the why panel, the same
instruments on Replay, and test-set agreement on the Benchmarks page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.app_support import DEMO, REPO, write_fake_results  # noqa: E402


@pytest.fixture()
def committed(tmp_path, monkeypatch):
    """The demo dataset with the committed checkpoints of every registered model."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "demo").symlink_to(DEMO)
    monkeypatch.setenv("SESSREC_DATA_ROOT", str(data))
    monkeypatch.setenv("SESSREC_CHECKPOINT_ROOT", str(REPO / "checkpoints"))
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(tmp_path / "results"))
    return data


def open_app(models: list[str], query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    if query:
        at.query_params.update(query)
    at.run()
    at.session_state[at.sidebar.multiselect[0].key] = models
    return at.run()


def chart_titles(at: AppTest) -> list[str]:
    titles = []
    for chart in at.get("vega_lite_chart"):
        spec = json.loads(chart.proto.spec)
        for part in [spec, *spec.get("hconcat", []), *spec.get("layer", [])]:
            title = part.get("title")
            titles.append(title if isinstance(title, str) else (title or {}).get("text", ""))
    return titles


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_why_panel_shows_attention_for_attention_models_and_evidence_for_counting_models(committed):
    at = open_app(["narm", "vstan", "sr"], {"dataset": "demo", "session": "1001,1002,1003"})
    at.session_state["pg_why"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="pg_why_model").set_value("NARM").run()
    assert "attention (not attribution)" in chart_titles(at) and "leave-one-out attribution" in chart_titles(at)
    assert "NARM's **attention (not attribution)**" in captions(at) and "sum 1 over the clicks it read" in captions(at)
    assert not any("Neighbour" in d.value.columns for d in at.dataframe), "no evidence table for NARM"

    at.selectbox(key="pg_why_model").set_value("VSTAN").run()
    assert not at.exception and "attention (not attribution)" not in chart_titles(at)
    table = next(d.value for d in at.dataframe if "Neighbour" in d.value.columns)
    assert {"Similarity", "Has item", "Contribution", "Items"} <= set(table.columns) and len(table)
    assert "neighbours hold the item" in captions(at) and "the model's score" in captions(at)

    at.selectbox(key="pg_why_model").set_value("SR").run()
    table = next(d.value for d in at.dataframe if "Rule weight" in d.value.columns)
    assert len(table) == 3 and table["Used"].tolist() == [False, False, True]  # one row per click, last one counts


def test_replay_has_the_instruments_on_the_replayed_prefix(committed):
    at = open_app(["sasrec", "item_knn"])
    at.switch_page("pages/replay.py").run()
    at.number_input(key="rp_index").set_value(3).run()
    at.session_state["rp_why"] = True
    at.session_state["rp_agree"] = True
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    item = at.selectbox(key="rp_why_item")
    assert item.options[0].startswith("true next item"), "the true next item is offered first"
    assert "attention (not attribution)" in chart_titles(at)  # SASRec is the first model
    at.selectbox(key="rp_why_model").set_value("Item-KNN").run()
    assert any("Similarity" in d.value.columns for d in at.dataframe)
    assert any("RBO" in d.value.columns for d in at.dataframe), "agreement of the shown lists"
    # what if: the prefix opens in the playground, ready to edit
    at.button(key="rp_what_if").click().run()
    assert not at.exception and at.title[0].value == "Session playground"
    assert [b.key.split("_")[2] for b in at.button if b.key and b.key.startswith("rm_")], "the prefix is the session"


def test_benchmarks_agreement_tab_on_made_up_runs(committed, tmp_path, monkeypatch):
    results = tmp_path / "results"
    write_fake_results(results, questions=False)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/benchmarks.py").run()
    at.session_state["bm_tab"] = "Agreement"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("vega_lite_chart")) == 1, "the heatmap"
    table = at.dataframe[-1].value
    assert list(table.columns) == ["A", "B", "both", "only A", "only B", "neither", "Jaccard"]
    assert len(table) == 6, "4 runs (first seed of GRU4Rec, 3 baselines): 6 pairs"
    shares = table[["both", "only A", "only B", "neither"]].sum(axis=1).to_numpy()
    np.testing.assert_allclose(shares, 1.0)
    at.selectbox(key="bm_agree_measure").set_value("only A").run()
    assert not at.exception


def test_benchmarks_agreement_on_the_committed_results(committed, monkeypatch):
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(REPO / "results"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/benchmarks.py").run()
    at.selectbox(key="bm_dataset").set_value("rsc15_100k").run()
    at.session_state["bm_tab"] = "Agreement"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # a run left out is named with its reason (e.g. runs evaluated on other test events)
    for box in (i.value for i in at.info if i.value.startswith("Left out")):
        listed = [line[2:] for line in box.splitlines() if line.startswith("- ")]
        assert listed and all(": " in line for line in listed), box
    assert "GRU4Rec (cross-entropy)" in set(at.dataframe[-1].value["A"]) | set(at.dataframe[-1].value["B"])


def test_pair_matrix_reads_rows_against_columns():
    from sessrec.experiments.analysis.explain import run_agreement
    from sessrec.ui.agreement_view import pair_matrix

    arrays = {"x": np.array([1, 30, 5, 50]), "y": np.array([2, 3, 40, 60])}
    runs = [{"run_id": n, "label": n, "dataset": "toy", "seed": None, "evaluation": {"n_events": 4}} for n in arrays]
    found = run_agreement(runs, 20, load=lambda r, name: arrays[r["label"]] if name == "ranks" else np.arange(4))
    only = pair_matrix(found, "only A").set_index(["Row", "Column"])["Value"]
    assert only[("x", "y")] == 0.25 and only[("y", "x")] == 0.25 and only[("x", "x")] == 0.0
    both = pair_matrix(found, "both").set_index(["Row", "Column"])["Value"]
    assert both[("x", "x")] == 0.5 and both[("x", "y")] == 0.25  # diagonal: the model's own hit rate
    assert isinstance(pair_matrix(found, "Jaccard"), pd.DataFrame)


def test_replay_of_a_two_click_session_and_random_run_clean(committed):
    """A two-click session has one step: Replay shows it without a slider (a 1..1 slider used to
    raise), and the Random button sets the session without a Session State warning."""
    from sessrec.data.dataset import load_dataset

    test = load_dataset(DEMO).test
    two = next(i for i in range(test.n_sessions) if len(test.session(i)) == 2)
    at = open_app(["gru4rec", "item_knn"])
    at.switch_page("pages/replay.py").run()
    at.number_input(key="rp_index").set_value(two + 1).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.slider, "one step: nothing to slide"
    assert any("True next item" in m.value for m in at.markdown)
    at.button(key="rp_random").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.warning or all("rp_index" not in w.value for w in at.warning)


def test_the_what_if_error_goes_with_the_id_that_caused_it(committed):
    at = open_app(["gru4rec", "item_knn"], {"dataset": "demo", "session": "1001,1002,1003"})
    at.session_state["pg_edit"] = True
    at.run()
    at.text_input(key="pg_replace_id").input("99999999").run()
    at.button(key="pg_replace").click().run()
    assert any("is not an item id" in e.value for e in at.error)
    at.text_input(key="pg_replace_id").input("").run()
    assert not at.error, "clearing the box dismisses the error"
    at.text_input(key="pg_replace_id").input("99999999").run()
    at.button(key="pg_replace").click().run()
    at.button(key="pg_edit_remove").click().run()
    assert not at.error and not at.exception, "an edit dismisses it too"


def test_sr_gnn_attention_says_its_weights_are_not_normalised(committed):
    at = open_app(["srgnn", "narm"], {"dataset": "demo", "session": "1001,1002,1003"})
    at.session_state["pg_why"] = True
    at.run()
    at.selectbox(key="pg_why_model").set_value("SR-GNN").run()
    assert not at.exception
    assert "not normalised" in captions(at)
    at.selectbox(key="pg_why_model").set_value("NARM").run()
    assert "not normalised" not in captions(at), "NARM's softmax sums to 1"

"""The Streamlit app: every page renders on the demo (AppTest), the playground reacts to
clicks, bad input gives friendly messages; plus the plain helpers behind the pages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.app_support import open_app, open_tab, pick, rec_items, rec_lists, write_fake_results  # noqa: E402

PAGES = ["pages/playground.py", "pages/replay.py", "pages/benchmarks.py", "pages/training.py",
         "pages/explorer.py", "pages/how_it_works.py"]


def rec_ids(at: AppTest, role: str) -> list[int]:
    return rec_items(at, role)


def session_keys(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith("rm_")]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_demo(app_env, page):
    at = open_app(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, "page shows a title"


def test_playground_clicks_change_session_and_recommendations(app_env):
    at = open_app()
    assert not at.exception
    assert session_keys(at) == []
    before = rec_ids(at, "last_item")
    first = next(b for b in at.button if b.key and b.key.startswith("cat_"))
    first.click().run()
    assert len(session_keys(at)) == 1
    after_one = rec_ids(at, "last_item")
    assert after_one != before, "LastItem reacts to the click"
    # clicking a recommended item appends it too
    pick(at, rec_ids(at, "item_knn")[0])
    assert len(session_keys(at)) == 2
    assert rec_ids(at, "last_item") != after_one
    link = at.query_params["session"]
    link = link if isinstance(link, str) else link[0]
    assert link.count(",") == 1, "the session is in the URL"
    # the missing GRU4Rec is replaced by the popularity fallback, with a visible note
    assert any("popularity fallback" in w.value for w in at.warning)
    # undo, remove, reset
    at.button(key="pg_undo").click().run()
    assert len(session_keys(at)) == 1
    at.button(key=session_keys(at)[0]).click().run()
    assert session_keys(at) == []
    at.button(key=next(b.key for b in at.button if b.key.startswith("cat_"))).click().run()
    at.button(key="pg_reset").click().run()
    assert session_keys(at) == [] and not at.exception


def test_playground_charts_are_lazy(app_env):
    """No chart is computed on a click until the charts panel is opened; then only the open tab."""
    at = open_app()
    at.button(key=next(b.key for b in at.button if b.key.startswith("cat_"))).click().run()
    assert not at.get("vega_lite_chart"), "no chart on the click path"
    at.session_state["pg_charts"] = True  # open the expander
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("vega_lite_chart")) == 1, "only the open tab's chart"
    at.session_state["pg_chart_tab"] = "Rank trajectory"
    at.run()
    assert not at.exception and len(at.get("vega_lite_chart")) == 1
    assert any("Ranks of" in c.value for c in at.caption)


def test_playground_search_and_k(app_env):
    at = open_app()
    at.text_input(key=next(t.key for t in at.text_input if t.key.startswith("pg_query"))).input("1001").run()
    cat = [b.key for b in at.button if b.key.startswith("cat_")]
    assert cat[0] == "cat_1001", "an exact id match comes first"
    at.text_input(key=next(t.key for t in at.text_input if t.key.startswith("pg_query"))).input("zzzz-nothing").run()
    assert any("No item matches" in w.value for w in at.warning)
    at.slider(key="pg_k").set_value(5).run()
    assert len(rec_ids(at, "gru4rec")) == 5 and not at.exception
    # before the first click LastItem has no evidence: a one-line note, no borrowed ranking
    assert rec_ids(at, "last_item") == []


def test_shared_link_with_unknown_ids_is_a_friendly_warning(app_env):
    at = open_app(query={"dataset": "demo", "session": "1001,99999999,abc,1002"})
    assert not at.exception
    assert len(session_keys(at)) == 2
    text = " ".join(w.value for w in at.warning)
    assert "99999999" in text and "not in this dataset" in text


def test_models_link_chooses_the_columns_and_names_unknown_models(app_env):
    at = open_app(query={"dataset": "demo", "models": "item_knn,gru4rec,nosuchmodel"})
    assert not at.exception
    assert set(rec_lists(at)) == {"item_knn", "gru4rec"}  # the columns, whatever they show before a click
    assert "nosuchmodel" in " ".join(w.value for w in at.sidebar.warning)
    every = open_app(query={"models": "all"})
    assert not every.exception and {"sr", "narm", "most_popular"} <= set(rec_lists(every))


def test_broken_and_foreign_checkpoints_do_not_take_the_app_down(app_env):
    at = open_app()
    assert not at.exception
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "broken/gru4rec.pt" in captions and "❌" in captions
    # a checkpoint of another dataset is listed with the reason, but never offered
    assert "other/most_popular.pt" in captions and "not offered: trained on dataset 'other'" in captions
    key = next(s.key for s in at.sidebar.selectbox if s.key and s.key.startswith("checkpoint::most_popular"))
    assert not any("other" in str(o) for o in at.sidebar.selectbox(key=key).options)


def test_a_benchmark_runs_training_state_is_never_offered_as_a_model():
    import numpy as np

    from sessrec.ui.models import CheckpointEntry, catalogue_fit

    items = np.arange(1, 10)
    finished = CheckpointEntry(path="checkpoints/demo/narm-seed1.pt", mtime=0.0, model="narm", dataset="demo",
                               item_ids=items)
    assert catalogue_fit(finished, "demo", items, lambda split: "x") is None
    # same model, same dataset name in its metadata, but in the runner's per-epoch folder
    training = CheckpointEntry(**{**finished.__dict__, "path": "checkpoints/partial/demo/narm-seed1.pt"})
    assert "per-epoch training state" in catalogue_fit(training, "demo", items, lambda split: "x")


def test_benchmarks_empty_then_with_records(app_env, tmp_path, monkeypatch):
    at = open_app("pages/benchmarks.py")
    assert any("No benchmark results" in i.value for i in at.info)
    results = tmp_path / "results"
    write_fake_results(results)
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = open_app("pages/benchmarks.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.dataframe, "the results table is shown"
    assert any("Training cost of 0 of" in c.value for c in at.caption), "no configuration timed yet"
    (results / "timings.json").write_text(json.dumps({"datasets": {"demo": {"gru4rec-xe": {"cpu_seconds": 42.0}}}}))
    at = open_app("pages/benchmarks.py")
    assert not at.exception and any("Training cost of 1 of" in c.value for c in at.caption), "the timed cost is used"
    at = open_app("pages/training.py")
    assert not at.exception and at.dataframe
    at.radio(key="tc_measure").set_value("events_per_second").run()
    assert not at.exception and not any("did not log" in i.value for i in at.info), "events/s from the trainer's log"


def test_benchmark_research_question_views(app_env, tmp_path, monkeypatch):
    results = tmp_path / "results"
    write_fake_results(results)
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = open_app("pages/benchmarks.py")
    assert not at.exception, [e.value for e in at.exception]
    # the protocol, with the unknown-item counts from the records
    protocol = " ".join(m.value for m in at.markdown)
    assert "full ranking" in protocol and "**17**" in protocol and "p ≥ 1" in protocol and "`standard`" in protocol

    # RQ1 (open by default): every model, and GRU4Rec's loss to Item-KNN at k=1 is stated
    recall, mrr = at.dataframe[0].value, at.dataframe[1].value  # one table per metric
    assert list(recall.columns) == ["Recall@1", "Recall@5", "Recall@10", "Recall@20", "Tied targets"]
    assert list(mrr.columns) == ["MRR@1", "MRR@5", "MRR@10", "MRR@20", "Tied targets"]
    assert {"GRU4Rec (cross-entropy)", "GRU4Rec (BPR-max)", "Item-KNN", "LastItem", "MostPopular"} == set(recall.index)
    assert recall.loc["GRU4Rec (cross-entropy)", "Recall@20"].count("±") == 1
    loses = " ".join(w.value for w in at.warning if "loses" in w.value)
    assert "**Item-KNN** beats every GRU4Rec run on Recall@1" in loses
    matrix = at.dataframe[2].value
    assert list(matrix.columns) == ["k=1", "k=5", "k=10", "k=20"]
    assert matrix.loc[("GRU4Rec (cross-entropy)", "Item-KNN"), "k=1"].endswith("▼")
    assert matrix.loc[("GRU4Rec (cross-entropy)", "MostPopular"), "k=20"].endswith("▲")
    sig = at.dataframe[3].value  # every test, in the expander
    row = sig[(sig["k"] == 1) & (sig["Baseline"] == "Item-KNN") & (sig["GRU4Rec"] == "GRU4Rec (cross-entropy)")]
    assert row["Verdict (p<0.05)"].item().startswith("WORSE") and row["Seeds"].item() == 2

    # RQ2: the losses, same dataset, with training cost
    at = open_tab(at, "RQ2")
    losses = at.dataframe[0].value
    assert list(losses["Loss"]) == ["cross-entropy", "BPR-max", "TOP1"]  # sorted by MRR@20
    assert (losses["Events/s"] == 20000.0).all() and "Train s" in losses

    # RQ3: the factor and its values are read from the hyperparameters
    at = open_tab(at, "RQ3")
    factors = at.dataframe[0].value.set_index("Run")
    assert factors.loc["gru4rec-xe", "Factor"] == "(reference)"
    assert factors.loc["rq3-layers200", "Factor"] == "hidden units"
    assert factors.loc["rq3-layers200", "Change"] == "100 → 200"
    assert factors.loc["rq3-epochs1", "Change"] == "5 → 1"
    assert factors.loc["rq3-layers200", "Time × ref"] == pytest.approx(2.5)
    assert factors.loc["rq3-epochs1", "Δ Recall@20"] < 0

    # RQ4: by position, then by popularity; one row per RQ1 model
    at = open_tab(at, "RQ4")
    by_position = at.dataframe[0].value
    assert list(by_position.columns) == ["1", "2", "3", "4-5", "6-9"] and len(by_position) == 5
    at.radio(key="bm_rq4_by").set_value("popularity").run()
    assert not at.exception and all("clicks" in c for c in at.dataframe[0].value.columns)
    at.radio(key="bm_rq4_by").set_value("reclick").run()  # the demo is prepared; the fake runs' targets are not its
    assert not at.exception and any("No run was evaluated on the test events of" in i.value for i in at.info)

    # published numbers: beside our RQ1 runs only (not the bigger RQ3 model), protocol note as a warning
    at = open_tab(at, "Published")
    beside = at.dataframe[0].value
    ours = [r for r in records_of(results) if r["label"] == "gru4rec-xe"]
    expected = np.mean([r["evaluation"]["metrics"]["recall@20"] for r in ours])
    assert beside["Ours (best run)"].item() == pytest.approx(expected)
    assert any("sampled evaluation in the paper" in i.value for i in at.info)


def test_rq4_splits_real_runs_by_reclick(app_env, tmp_path, monkeypatch):
    import json

    from sessrec.cli import main
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.analysis.breakdowns import benchmark_events, breakdown

    demo = app_env.data / "demo"
    config = tmp_path / "demo.json"
    config.write_text(json.dumps({"models": [{"label": "last_item", "model": "last_item"},
                                             {"label": "spop", "model": "spop"}]}))
    results = tmp_path / "results"
    assert main(["benchmark", "--dataset", str(demo), "--config", str(config), "--out", str(results), "--quiet"]) == 0
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = open_tab(open_app("pages/benchmarks.py"), "RQ4")
    at.radio(key="bm_rq4_by").set_value("reclick").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = at.dataframe[0].value
    events = benchmark_events(load_dataset(demo))
    expected = breakdown(records_of(results), by="reclick", events={"demo": events})
    expected = expected.pivot_table(index="label", columns="bucket", values="value")
    assert list(shown.columns) == ["re-click", "new to the session"]
    assert shown.loc["S-POP"].tolist() == pytest.approx(expected.loc["spop", list(shown.columns)].tolist())
    assert shown.loc["S-POP", "new to the session"] < shown.loc["S-POP", "re-click"]
    assert any(f"re-click: {int(events.reclick.sum()):,}" in c.value for c in at.caption)


def records_of(root):
    from sessrec.experiments.records import load_run_records

    return load_run_records(root)


# -- plain helpers ----------------------------------------------------------------------


def big_catalogue(n: int = 45_000):
    from sessrec.ui.catalogue import Catalogue

    rng = np.random.default_rng(1)
    items = pd.DataFrame({"ItemId": np.arange(1, n + 1) * 7, "Name": [f"thing {i}" for i in range(n)],
                          "Category": rng.choice(["a", "b", "c"], n), "Popularity": rng.integers(0, 1000, n)})
    return Catalogue(items)


def test_catalogue_search_on_a_big_catalogue():
    cat = big_catalogue()
    hits = cat.search("thing 4242", "a", "popularity")
    page = cat.page(hits, 1, 24)
    by_id = cat.search("70", None, "name")
    assert len(page) > 0 and set(page["Category"]) <= {"a"}
    assert page["Name"].str.contains("thing 4242", regex=False).all()
    assert cat.items.iloc[by_id[0]]["ItemId"] == 70
    assert len(cat.popular(8)) == 8
    assert cat.popular(8)["Popularity"].is_monotonic_decreasing


def test_session_link_parsing():
    from sessrec.ui.session import format_session, parse_session

    parsed = parse_session("5, 6;x,999", lambda i: i < 100)
    assert parsed.items == [5, 6] and parsed.unknown == [999] and parsed.invalid == ["x"]
    assert len(parsed.problems()) == 2
    assert format_session([5, 6]) == "5,6"
    assert parse_session(None, lambda i: True).items == []


def test_rank_trajectory_and_histogram():
    from sessrec.models.last_item import LastItem
    from sessrec.evaluation.metrics import ranks_in
    from sessrec.ui.playground import rank_trajectory, score_histogram
    from tests.app_support import _sessions

    model = LastItem().fit(_sessions([[1, 2, 3], [2, 3, 4], [3, 4, 1], [1, 2]]))
    traj = rank_trajectory(model, [1, 2], [3, 4], exclude_seen=True)
    assert list(traj["Step"].unique()) == [1, 2]
    assert traj[(traj["Step"] == 2) & (traj["ItemId"] == 3)]["Rank"].item() == 1
    assert ranks_in(np.array([0.5, 0.9, 0.1]), np.array([0, 1, 2])).tolist() == [2, 1, 3]
    hist = score_histogram(np.r_[np.arange(100.0), -np.inf])
    assert hist["Count"].sum() == 100


def test_research_question_helpers():
    from sessrec.experiments.analysis import questions
    from sessrec.experiments.analysis import tables as bm

    old = {"label": "item_knn", "dataset": "d"}  # written before records had a group
    assert questions.group_of(old) == "main" and questions.question_of(old) == "rq1"
    assert questions.question_of({"label": "rq2-top1max", "group": "losses"}) == "rq2"
    assert questions.question_of({"label": "rq3-batch128"}) == "rq3"
    records = [{"label": "gru4rec-xe", "dataset": "d"}, {"label": "rq3-batch128", "dataset": "d"}, old]
    assert [r["label"] for r in questions.records_for(records, "rq3", "d")] == ["gru4rec-xe", "rq3-batch128"]
    assert questions.factor_changes({"batch_size": 32, "seed": 1, "layers": [100]},
                             {"batch_size": 128, "seed": 2, "layers": [100]}) == [("batch_size", 32, 128)]
    summary = pd.DataFrame({"dataset": ["d"] * 2, "label": ["gru4rec-xe", "item_knn"], "model": ["gru4rec", "item_knn"],
                            "metric": ["mrr"] * 2, "k": [20, 20], "mean": [0.30, 0.31], "std": [0.01, 0.0], "n": [3, 1]})
    verdict = questions.rq1_verdicts(summary, "d", ("mrr",), (20,))
    assert verdict["Outcome"].item() == "loses" and verdict["Model"].item() == "Item-KNN"
    # every model ahead of GRU4Rec is named, not only the best one; a NaN mean is no verdict at all
    more = pd.concat([summary, pd.DataFrame({"dataset": ["d"] * 2, "label": ["sr", "sknn"], "model": ["sr", "sknn"],
                                             "metric": ["mrr"] * 2, "k": [20, 20], "mean": [0.305, float("nan")],
                                             "std": [0.0] * 2, "n": [1, 1]})])
    assert [line.split("**")[1] for line in questions.verdict_lines(more, "d", ("mrr",), (20,))] == ["Item-KNN", "SR"]
    assert "SKNN" not in set(questions.rq1_verdicts(more, "d", ("mrr",), (20,))["Model"])
    assert questions.verdict_lines(summary, "d", ("mrr",), (20,)) == ["**Item-KNN** beats every GRU4Rec run on MRR@20 (0.3100 vs 0.3000)"]
    # a tie is neither a win nor a loss, and is said as such
    for mean, expected in ((0.30, "**Item-KNN** ties with the best GRU4Rec run on MRR@20 (0.3000 vs 0.3000)"),
                           # equal as shown (4 decimals): a tie, never "beats ... (0.3000 vs 0.3000)"
                           (0.30004, "**Item-KNN** ties with the best GRU4Rec run on MRR@20 (0.3000 vs 0.3000)"),
                           (0.29, "The best GRU4Rec run beats every other model on all 1 metric/k columns.")):
        even = summary.assign(mean=[0.30, mean])
        assert questions.verdict_lines(even, "d", ("mrr",), (20,)) == [expected]
        assert questions.loss_summary(questions.rq1_verdicts(even, "d", ("mrr",), (20,))) == []
    assert bm.training_speed({"training_log": [{"events_per_s": 10.0}, {"events_per_s": 30.0}]}) == 20.0


def test_rq5_says_plainly_where_gru4rec_wins_and_loses():
    from sessrec.experiments.analysis import questions

    def run(label, model, seed, recall, mrr, dataset="d"):
        return {"dataset": dataset, "label": label, "model": model, "seed": seed,
                "evaluation": {"metrics": {"recall@20": recall, "mrr@20": mrr}}}

    records = [run("gru4rec-xe", "gru4rec", s, 0.70 + 0.01 * s, 0.31) for s in (1, 2, 3)]
    records += [run("narm", "narm", 1, 0.73, 0.30), run("srgnn", "srgnn", 1, 0.70, 0.29),
                run("sasrec", "sasrec", 1, 0.72, 0.31), run("item_knn", "item_knn", None, 0.99, 0.99),
                run("narm", "narm", 1, 0.99, 0.99, dataset="other")]
    lines = dict(questions.modern_verdict_lines(records, "d"))
    assert lines == {  # GRU4Rec: mean recall 0.72 over 3 seeds; Item-KNN and the other dataset play no part
        "**NARM** (1 seed) against GRU4Rec (cross-entropy) (3 seeds): Recall@20 0.7300 vs 0.7200 (higher), "
        "MRR@20 0.3000 vs 0.3100 (lower)": False,
        "**SR-GNN** (1 seed) against GRU4Rec (cross-entropy) (3 seeds): Recall@20 0.7000 vs 0.7200 (lower), "
        "MRR@20 0.2900 vs 0.3100 (lower)": True,
        "**SASRec** (1 seed) against GRU4Rec (cross-entropy) (3 seeds): Recall@20 0.7200 vs 0.7200 (equal), "
        "MRR@20 0.3100 vs 0.3100 (equal)": False,
    }
    assert questions.modern_verdict_lines(records, "other") == []  # no GRU4Rec run there: nothing to say

    # a model with one metric missing (NaN) is never counted as beaten on both
    partial = records + [run("narm", "narm", 1, 0.60, float("nan"), dataset="e"),
                         run("gru4rec-xe", "gru4rec", 1, 0.70, 0.31, dataset="e")]
    assert questions.modern_verdict_lines(partial, "e") == [
        ("**NARM** (1 seed) against GRU4Rec (cross-entropy) (1 seed): Recall@20 0.6000 vs 0.7000 (lower)", False)]
    # the two metrics' best GRU4Rec runs differ: each comparison names its run
    split = [run("gru4rec-xe", "gru4rec", 1, 0.70, 0.30, dataset="f"), run("gru4rec-bprmax", "gru4rec", 1, 0.60, 0.32,
             dataset="f"), run("srgnn", "srgnn", 1, 0.71, 0.31, dataset="f")]
    assert questions.modern_verdict_lines(split, "f") == [(
        "**SR-GNN** (1 seed) against the best GRU4Rec run of each metric: Recall@20 0.7100 vs 0.7000 (GRU4Rec "
        "(cross-entropy), 1 seed; higher), MRR@20 0.3100 vs 0.3200 (GRU4Rec (BPR-max), 1 seed; lower)", False)]


def test_rq5_says_whether_the_published_numbers_are_reproduced():
    import pandas as pd

    from sessrec.experiments.analysis import questions

    def run(model, seed, recall, mrr):
        return {"dataset": "d", "label": model, "model": model, "seed": seed,
                "evaluation": {"metrics": {"recall@20": recall, "mrr@20": mrr}}}

    refs = pd.DataFrame([{"dataset": "d", "model": m, "metric": metric, "k": 20, "value": v}
                         for m, metric, v in (("sr_gnn", "recall", 0.50), ("sr_gnn", "mrr", 0.20),
                                              ("narm", "recall", 0.50), ("narm", "mrr", 0.20),
                                              ("gru4rec", "recall", 0.40))])
    records = [run("srgnn", s, 0.5098, 0.2) for s in (1, 2, 3)]  # +1.96 %: inside 2 %
    records += [run("narm", 1, 0.52, 0.2062), run("sasrec", 1, 0.6, 0.3), run("gru4rec", 1, 0.45, 0.2)]
    lines = questions.reproduction_lines(questions.modern_table(records, "d", refs))
    assert sorted(lines) == [  # GRU4Rec and SASRec have no bar
        "**NARM**: Recall@20 +4.00 %, MRR@20 +3.10 % from the paper: outside its 3 % bar on Recall@20 and MRR@20, "
        "above the paper (provisional: 1 of the 3 seeds the bar is judged on)",
        "**SR-GNN**: Recall@20 +1.96 %, MRR@20 +0.00 % from the paper: within its 2 % bar (mean of 3 seeds)"]
    # judged as shown: -2.004 % reads "-2.00 %" and is within the bar; below the paper counts as much as above
    records = [run("srgnn", 1, 0.48998, 0.19), run("narm", 1, 0.5, 0.21)]
    lines = questions.reproduction_lines(questions.modern_table(records, "d", refs))
    assert sorted(lines) == [
        "**NARM**: Recall@20 +0.00 %, MRR@20 +5.00 % from the paper: outside its 3 % bar on MRR@20, above the paper "
        "(provisional: 1 of the 3 seeds the bar is judged on)",
        "**SR-GNN**: Recall@20 -2.00 %, MRR@20 -5.00 % from the paper: outside its 2 % bar on MRR@20, below the paper "
        "(provisional: 1 of the 3 seeds the bar is judged on)"]
    # misses on both sides of the paper: each says its own
    mixed = questions.reproduction_lines(questions.modern_table([run("srgnn", 1, 0.52, 0.19)], "d", refs))
    assert mixed == ["**SR-GNN**: Recall@20 +4.00 %, MRR@20 -5.00 % from the paper: outside its 2 % bar on "
                     "Recall@20 above the paper and MRR@20 below the paper (provisional: 1 of the 3 seeds "
                     "the bar is judged on)"]
    # no published number for the dataset: nothing to judge
    assert questions.reproduction_lines(questions.modern_table(records, "d", refs.iloc[:0])) == []
    assert questions.reproduction_lines(pd.DataFrame()) == []


def test_latex_and_references():
    from sessrec.experiments.analysis import tables as bm

    summary = pd.DataFrame({"dataset": ["d"] * 2, "label": ["gru4rec", "item_knn"], "model": ["gru4rec", "item_knn"],
                            "metric": ["recall"] * 2, "k": [20, 20], "mean": [0.5, 0.4], "std": [0.01, 0.0], "n": [3, 1]})
    wide = bm.wide_table(summary, "d", ("recall",), (20,))
    assert wide.loc["GRU4Rec", "Recall@20"] == "0.5000 ± 0.0100"
    tex = bm.to_latex(wide)
    assert r"\textbf{0.5000 $\pm$ 0.0100}" in tex and r"\toprule" in tex
    # every cell is escaped for LaTeX, not only the row names
    assert r"47.1\%" in bm.to_latex(pd.DataFrame({"Tied": ["47.1%"]}, index=pd.Index(["a_b"], name="Model")))
    refs = pd.DataFrame([{"dataset": "d", "model": "GRU4Rec", "metric": "Recall", "k": 20, "value": 0.6,
                          "source": "paper", "protocol_note": "sampled"}])
    beside = bm.references_beside(summary, refs)
    assert beside["Ours (best run)"].item() == 0.5


def test_diagrams_are_dot():
    from sessrec.ui import diagrams

    for dot in (diagrams.offline_pipeline(), diagrams.online_inference()):
        assert dot.startswith("digraph") and dot.count("{") == dot.count("}")


def test_an_empty_session_offers_a_random_test_session(app_env):
    at = open_app()
    assert session_keys(at) == []
    at.button(key="pg_random_session").click().run()
    assert not at.exception, [e.value for e in at.exception]
    clicks = session_keys(at)
    assert clicks, "a real test session's clicks are loaded"
    # GRU4Rec scores every item, so it ranks whatever session was drawn (LastItem ranks nothing
    # when the drawn session's last click has no successor in training: the draw is random)
    assert rec_ids(at, "gru4rec"), "after the session is loaded GRU4Rec ranks again"
    assert not [b for b in at.button if b.key == "pg_random_session"], "offered only while the session is empty"


def test_the_demo_checkpoints_the_session_pages_list_all_load():
    """The user-context models (checkpoints/demo/users/) are the Known users page's; the session
    pages neither list them nor call them unreadable."""
    from sessrec.ui.models import find_checkpoint_files, load_checkpoint

    root = Path(__file__).resolve().parents[1] / "checkpoints"
    files = find_checkpoint_files(root)
    assert files and not [p for p in files if p.parent.name == "users"]
    assert (root / "demo" / "users" / "encm.pt").is_file()
    for path in files:
        load_checkpoint(path)  # raises CheckpointError for an unreadable one


def test_rq1_tables_rank_models_best_first_and_show_every_row(app_env, tmp_path, monkeypatch):
    results = tmp_path / "results"
    write_fake_results(results, questions=False)
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = open_app("pages/benchmarks.py")
    assert not at.exception, [e.value for e in at.exception]
    tables = [d for d in at.dataframe if any(str(c).startswith("MRR@") for c in d.value.columns)]
    assert tables
    for table in tables:
        frame = table.value
        last = [c for c in frame.columns if str(c).startswith("MRR@")][-1]
        means = [float(str(v).split("±")[0]) for v in frame[last]]
        assert means == sorted(means, reverse=True), "best first by the largest cut-off"
    # the page sizes each table to its rows (AppTest does not expose the height; the helper's rule)
    from sessrec.ui.charts import table_height

    assert all(table_height(n) >= 35 * (n + 1) for n in (1, 15, 40))


def test_the_benchmarks_dataset_pick_survives_leaving_the_page(app_env, tmp_path, monkeypatch):
    """The sidebar's dataset (demo) has no results: the page's own picker chooses, and keeps its
    choice when the user goes to another page and comes back."""
    results = tmp_path / "results"
    write_fake_results(results, dataset="rsc15_100k", questions=False)
    write_fake_results(results, dataset="diginetica", questions=False)
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = open_app("pages/benchmarks.py")
    at.selectbox(key="bm_dataset").set_value("rsc15_100k").run()
    at.switch_page("pages/replay.py").run()
    at.switch_page("pages/benchmarks.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="bm_dataset").value == "rsc15_100k"


def test_how_it_works_draws_every_registered_session_model():
    from sessrec.models.registry import SESSION, models_of
    from sessrec.ui import diagrams

    drawn = diagrams.online_inference()
    assert all(spec.label in drawn for spec in models_of(SESSION))
    assert drawn.count("-> topk;") == drawn.count("cache -> m_"), "every family node feeds the lists"


def test_training_curves_name_each_loss_and_give_each_model_its_own_settings_table():
    from sessrec.ui import curves

    assert curves.loss_name({"loss": "bpr-max"}, "gru4rec") == "bpr-max"
    assert curves.loss_name({"hidden_size": 100}, "narm") == "NARM's own"
    records = [
        {"dataset": "d", "run_id": "g-seed1", "model": "gru4rec", "train_seconds": 3.0,
         "hyperparameters": {"loss": "cross-entropy", "layers": [100, 100]}, "training_log": [{"epoch": 1}]},
        {"dataset": "d", "run_id": "n-seed1", "model": "narm", "train_seconds": 5.0,
         "hyperparameters": {"hidden_size": 100, "extra": {"a": 1}}, "training_log": [{"epoch": 1}]},
    ]
    tables = curves.hyperparameter_tables(records, [], ["d · g-seed1", "d · n-seed1"])
    assert set(tables) == {"GRU4Rec", "NARM"}
    assert "hidden_size" not in tables["GRU4Rec"] and "loss" not in tables["NARM"], "no empty columns"
    assert tables["GRU4Rec"].loc["d · g-seed1", "layers"] == "100, 100"
    assert tables["NARM"].loc["d · n-seed1", "extra"] == "a=1", "nested settings as text, not JSON"


def test_models_all_survives_a_click_and_folds_the_checkpoint_pickers(app_env):
    at = open_app(query={"dataset": "demo", "models": "all"})
    assert not at.exception
    at.button(key=next(b.key for b in at.button if b.key.startswith("cat_"))).click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.query_params["models"] == "all" and at.query_params["session"], "the link still shows every model"
    assert [e.label for e in at.sidebar.expander if e.label.startswith("Checkpoints (")], \
        "fourteen pickers folded into one expander"
    few = open_app(query={"dataset": "demo", "models": "gru4rec,item_knn"})
    few.button(key=next(b.key for b in few.button if b.key.startswith("cat_"))).click().run()
    assert few.query_params["models"] == "gru4rec,item_knn"
    assert not [e.label for e in few.sidebar.expander if e.label.startswith("Checkpoints (")]


def test_models_without_a_checkpoint_are_named_and_offered_for_training(app_env, monkeypatch):
    """app_env has checkpoints for the baselines only: GRU4Rec's column is the fallback, and the
    playground offers to train it in the background (the Train page's jobs)."""
    from sessrec.ui import train as ui_train

    started = []
    monkeypatch.setattr(ui_train, "start_missing",
                        lambda path, name, models: started.append((name, models)) or ["job-1"])
    at = open_app(query={"dataset": "demo", "models": "gru4rec,item_knn"})
    assert not at.exception
    assert any("No trained GRU4Rec for demo yet" in m.value for m in at.markdown)
    at.button(key="pg_train_missing::demo::button").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert started == [("demo", ["gru4rec"])], "only the model without a checkpoint"
    assert any("Training started (1 job(s))" in c.value for c in at.caption)


def test_the_missing_models_jobs_write_where_the_sidebar_looks(tmp_path, monkeypatch):
    from sessrec.experiments.runs import jobs
    from sessrec.ui import train as ui_train

    monkeypatch.setenv("SESSREC_CHECKPOINT_ROOT", str(tmp_path / "checkpoints"))
    specs = []
    monkeypatch.setattr(jobs, "start_job", lambda spec, root: specs.append((spec, root)) or spec.model)
    assert ui_train.start_missing("data/demo", "demo", ["most_popular", "gru4rec"]) == ["most_popular", "gru4rec"]
    assert [Path(s.out) for s, _ in specs] == [tmp_path / "checkpoints" / "demo" / f"{m}.pt"
                                               for m in ("most_popular", "gru4rec")]
    assert specs[1][0].params["layers"] == 96, "the demo checkpoint's settings, as the Train page prefills"


def test_all_runs_says_which_runs_compared_settings_on_test(app_env, tmp_path, monkeypatch):
    results = tmp_path / "results"
    write_fake_results(results)  # RQ1 runs plus RQ2 and RQ3 runs
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = open_tab(open_app("pages/benchmarks.py"), "All runs")
    table = at.dataframe[-1].value
    assert list(table.columns[:4]) == ["Dataset", "Model", "Run", "Run label"]
    assert table["Metric"].iloc[0] == "MRR" and table["k"].iloc[0] == table["k"].max()
    kinds = dict(zip(table["Run label"], table["Run"]))
    assert kinds["gru4rec-xe"] == "RQ1" and any(k.startswith("rq3-") and v.startswith("RQ3 (settings compared on test")
                                                for k, v in kinds.items())

"""The Streamlit app: every page renders on the demo (AppTest), the playground reacts to
clicks, bad input gives friendly messages; plus the plain helpers behind the pages."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

from tests.app_support import REPO, write_fake_results  # noqa: E402

PAGES = ["pages/playground.py", "pages/replay.py", "pages/benchmarks.py", "pages/training.py",
         "pages/explorer.py", "pages/how_it_works.py"]


def open_app(page: str | None = None, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90)
    if query:
        at.query_params.update(query)
    at.run()
    if page and page != "pages/playground.py":
        at.switch_page(page).run()
    return at


def rec_ids(at: AppTest, role: str) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith(f"rec_{role}_")]


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
    at.button(key=rec_ids(at, "item_knn")[0]).click().run()
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


def test_playground_search_and_k(app_env):
    at = open_app()
    at.text_input(key=next(t.key for t in at.text_input if t.key.startswith("pg_query"))).input("1001").run()
    cat = [b.key for b in at.button if b.key.startswith("cat_")]
    assert cat[0] == "cat_1001", "an exact id match comes first"
    at.text_input(key=next(t.key for t in at.text_input if t.key.startswith("pg_query"))).input("zzzz-nothing").run()
    assert any("No item matches" in w.value for w in at.warning)
    at.slider(key="pg_k").set_value(5).run()
    assert len(rec_ids(at, "last_item")) == 5 and not at.exception


def test_shared_link_with_unknown_ids_is_a_friendly_warning(app_env):
    at = open_app(query={"dataset": "demo", "session": "1001,99999999,abc,1002"})
    assert not at.exception
    assert len(session_keys(at)) == 2
    text = " ".join(w.value for w in at.warning)
    assert "99999999" in text and "not in this dataset" in text


def test_broken_and_foreign_checkpoints_do_not_take_the_app_down(app_env):
    at = open_app()
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "broken/gru4rec.pt" in captions and "❌" in captions
    assert "other/most_popular.pt" in captions and "⚠️" in captions
    # choose the foreign checkpoint: a warning, recommendations still shown
    key = next(s.key for s in at.sidebar.selectbox if s.key and s.key.startswith("checkpoint::most_popular"))
    foreign = next(o for o in at.sidebar.selectbox(key=key).options if "other" in o)
    at.sidebar.selectbox(key=key).select(str(app_env.checkpoints / "other" / "most_popular.pt")).run()
    assert not at.exception
    assert any("trained on dataset 'other'" in w.value for w in at.warning), foreign


def test_benchmarks_empty_then_with_records(app_env, tmp_path, monkeypatch):
    at = open_app("pages/benchmarks.py")
    assert any("No benchmark results" in i.value for i in at.info)
    results = tmp_path / "results"
    write_fake_results(results)
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = open_app("pages/benchmarks.py")
    assert not at.exception, [e.value for e in at.exception]
    assert at.dataframe, "the results table is shown"
    assert any("Protocols differ" in w.value for w in at.warning)
    at = open_app("pages/training.py")
    assert not at.exception and at.dataframe


# -- plain helpers ----------------------------------------------------------------------


def big_catalogue(n: int = 45_000):
    from sessrec.ui.catalogue import Catalogue

    rng = np.random.default_rng(1)
    items = pd.DataFrame({"ItemId": np.arange(1, n + 1) * 7, "Name": [f"thing {i}" for i in range(n)],
                          "Category": rng.choice(["a", "b", "c"], n), "Popularity": rng.integers(0, 1000, n)})
    return Catalogue(items)


def test_catalogue_search_is_fast_on_a_big_catalogue():
    cat = big_catalogue()
    started = time.perf_counter()
    hits = cat.search("thing 4242", "a", "popularity")
    page = cat.page(hits, 1, 24)
    by_id = cat.search("70", None, "name")
    assert time.perf_counter() - started < 1.0
    assert set(page["Category"]) <= {"a"}
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
    from sessrec.ui.playground import rank_trajectory, ranks_in, score_histogram
    from tests.app_support import _sessions

    model = LastItem().fit(_sessions([[1, 2, 3], [2, 3, 4], [3, 4, 1], [1, 2]]))
    traj = rank_trajectory(model, [1, 2], [3, 4], exclude_seen=True)
    assert list(traj["Step"].unique()) == [1, 2]
    assert traj[(traj["Step"] == 2) & (traj["ItemId"] == 3)]["Rank"].item() == 1
    assert ranks_in(np.array([0.5, 0.9, 0.1]), np.array([0, 1, 2])).tolist() == [2, 1, 3]
    hist = score_histogram(np.r_[np.arange(100.0), -np.inf])
    assert hist["Count"].sum() == 100


def test_latex_and_references():
    from sessrec.ui import benchmarks as bm

    summary = pd.DataFrame({"dataset": ["d"] * 2, "label": ["gru4rec", "item_knn"], "model": ["gru4rec", "item_knn"],
                            "metric": ["recall"] * 2, "k": [20, 20], "mean": [0.5, 0.4], "std": [0.01, 0.0], "n": [3, 1]})
    wide = bm.wide_table(summary, "d", ("recall",), (20,))
    assert wide.loc["GRU4Rec", "Recall@20"] == "0.5000 ± 0.0100"
    tex = bm.to_latex(wide)
    assert r"\textbf{0.5000 $\pm$ 0.0100}" in tex and r"\toprule" in tex
    refs = pd.DataFrame([{"dataset": "d", "model": "GRU4Rec", "metric": "Recall", "k": 20, "value": 0.6,
                          "source": "paper", "protocol_note": "sampled"}])
    beside = bm.references_beside(summary, refs)
    assert beside["Ours (best run)"].item() == 0.5


def test_diagrams_are_dot():
    from sessrec.ui import diagrams

    for dot in (diagrams.offline_pipeline(), diagrams.online_inference()):
        assert dot.startswith("digraph") and dot.count("{") == dot.count("}")

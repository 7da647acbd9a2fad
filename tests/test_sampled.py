"""The sampled-negatives protocol: counts against brute force, the sampler, the evaluator
hook, Precision/MAP, records and summary, the CLI and the order-change analysis."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from sessrec.cli import EXIT_OK, EXIT_USAGE, main
from sessrec.evaluation import evaluate, metrics_from_ranks, per_event_metric, ranks_from_counts
from sessrec.evaluation.sampled import NegativeSampler, SampledSettings, sampled_counts
from sessrec.experiments.analysis import protocols
from sessrec.experiments.records import (aggregate, full_ranking_records, load_run_records, metrics_table,
                                         protocol_of, write_run)
from tests.helpers import sessions_of
from tests.helpers import identity_successor_model, prepared_toy


def brute_force(scores: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor) -> tuple[list[int], list[int]]:
    better, tied = [], []
    for row, target, drawn in zip(scores.tolist(), targets.tolist(), negatives.tolist()):
        better.append(sum(row[j] > row[target] for j in drawn))
        tied.append(sum(row[j] == row[target] for j in drawn))
    return better, tied


def test_sampled_counts_by_hand():
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.1, 0.7, 0.5],
                           [0.0, 0.2, 0.3, 0.4, 0.5, 0.6]])
    targets = torch.tensor([1, 5])
    negatives = torch.tensor([[0, 2, 3], [0, 1, 2]])
    better, tied = sampled_counts(scores, targets, negatives)
    # row 0: 0.9 beats the target's 0.5, item 2 ties it, 0.1 is below; row 1: the target is best
    assert better.tolist() == [1, 0] and tied.tolist() == [1, 0]
    assert ranks_from_counts(better, tied, "median").tolist() == [2.5, 1.0]
    assert ranks_from_counts(better, tied, "standard").tolist() == [2.0, 1.0]
    assert ranks_from_counts(better, tied, "conservative").tolist() == [3.0, 1.0]


def test_sampled_counts_match_brute_force_with_many_ties_and_non_finite_scores():
    gen = torch.Generator().manual_seed(3)
    scores = torch.randint(0, 4, (300, 30), generator=gen).float()  # many ties
    scores[5, :] = float("nan")
    scores[7, 3] = float("inf")  # a non-finite score never ranks above a finite one
    targets = torch.randint(0, 30, (300,), generator=gen)
    sampler = NegativeSampler(30, SampledSettings(negatives=12, seed=1))
    negatives = sampler.draw(targets)
    better, tied = sampled_counts(scores, targets, negatives)
    clean = torch.where(torch.isfinite(scores), scores, torch.full((), float("-inf")))
    assert (better.tolist(), tied.tolist()) == brute_force(clean, targets, negatives)
    assert better[5] == 0 and tied[5] == 12  # all NaN: every negative ties with the target


@pytest.mark.parametrize("sampling", ["uniform", "popularity"])
def test_negatives_are_distinct_and_never_the_target(sampling):
    popularity = np.arange(1, 51, dtype=float)
    sampler = NegativeSampler(50, SampledSettings(negatives=20, sampling=sampling, seed=7), popularity)
    targets = torch.arange(300) % 50
    drawn = sampler.draw(targets)
    assert drawn.shape == (300, 20)
    assert ((drawn >= 0) & (drawn < 50)).all()
    assert not (drawn == targets.view(-1, 1)).any()
    assert all(len(set(row)) == 20 for row in drawn.tolist())
    # drawing every other item leaves no choice: the negatives are the catalogue minus the target
    full = NegativeSampler(6, SampledSettings(negatives=5, sampling=sampling, seed=0), np.ones(6)).draw(torch.tensor([2]))
    assert sorted(full[0].tolist()) == [0, 1, 3, 4, 5]


@pytest.mark.parametrize("sampling", ["uniform", "popularity"])
def test_both_samplers_draw_from_the_same_distribution(sampling):
    """Sampler 2 (first distinct draws) and sampler 1 (exponential keys) draw other negatives with
    the same law: how often each item is drawn, and how often each pair is drawn together."""
    weights = np.array([5.0, 1, 0, 8, 2, 3, 1, 6, 4, 2])
    targets = torch.full((30_000,), 3)  # the most popular item is the target: many draws of it are dropped
    share = {}
    for sampler in (1, 2):
        drawn = NegativeSampler(10, SampledSettings(negatives=4, sampling=sampling, seed=sampler, sampler=sampler),
                                weights).draw(targets)
        assert not (drawn == 3).any() and all(len(set(row)) == 4 for row in drawn[:500].tolist())
        together = np.zeros((10, 10))
        for a in range(4):
            for b in range(4):
                if a != b:
                    np.add.at(together, (drawn[:, a].numpy(), drawn[:, b].numpy()), 1)
        share[sampler] = (np.bincount(drawn.flatten().numpy(), minlength=10) / len(targets), together / len(targets))
    assert np.abs(share[1][0] - share[2][0]).max() < 0.02  # 30,000 rows: a standard error under 0.004
    assert np.abs(share[1][1] - share[2][1]).max() < 0.02
    if sampling == "popularity":
        assert share[2][0][2] == 0, "an item without clicks is never drawn"
    # the samplers' negatives differ: a record says which one drew them
    assert SampledSettings(sampler=1).key == "sampled-uniform-99-v1" and SampledSettings().key == "sampled-uniform-99"


def test_sampler_two_falls_back_to_keys_for_dense_draws_and_refuses_unknown_versions():
    dense = NegativeSampler(10, SampledSettings(negatives=6, seed=0))  # 12 > 10 items: rejection would waste draws
    assert dense.use_keys and sorted(dense.draw(torch.tensor([0]))[0].tolist())[0] >= 1
    assert not NegativeSampler(10, SampledSettings(negatives=5, seed=0)).use_keys
    with pytest.raises(ValueError, match="sampler = 3 is not allowed"):
        NegativeSampler(10, SampledSettings(negatives=2, sampler=3))


def test_popularity_sampling_follows_training_counts():
    counts = np.array([5.0, 1.0, 2.0, 3.0, 4.0])
    sampler = NegativeSampler(5, SampledSettings(negatives=1, sampling="popularity", seed=11), counts)
    drawn = sampler.draw(torch.zeros(20_000, dtype=torch.int64))[:, 0].numpy()  # target item 0: never drawn
    share = np.bincount(drawn, minlength=5) / len(drawn)
    assert share[0] == 0
    np.testing.assert_allclose(share[1:], counts[1:] / counts[1:].sum(), atol=0.015)  # 0.1, 0.2, 0.3, 0.4
    uniform = NegativeSampler(5, SampledSettings(negatives=1, seed=11)).draw(torch.zeros(20_000, dtype=torch.int64))
    np.testing.assert_allclose(np.bincount(uniform[:, 0].numpy(), minlength=5)[1:] / 20_000, 0.25, atol=0.015)
    # items without training clicks are never drawn
    never = NegativeSampler(5, SampledSettings(negatives=2, sampling="popularity", seed=0), np.array([1, 0, 1, 0, 1.0]))
    assert set(never.draw(torch.zeros(200, dtype=torch.int64)).flatten().tolist()) == {2, 4}


def test_uniform_sampling_is_reproducible_for_a_seed():
    targets = torch.arange(64) % 40

    def draw(seed):
        return NegativeSampler(40, SampledSettings(negatives=9, seed=seed)).draw(targets)

    assert torch.equal(draw(5), draw(5))
    assert not torch.equal(draw(5), draw(6))


def test_bad_sampled_settings_are_refused():
    with pytest.raises(ValueError, match="at most 9 items"):
        NegativeSampler(10, SampledSettings(negatives=10))
    with pytest.raises(ValueError, match="unknown sampling"):
        NegativeSampler(10, SampledSettings(sampling="random"))
    with pytest.raises(ValueError, match="needs the training clicks"):
        NegativeSampler(10, SampledSettings(negatives=3, sampling="popularity"))


def test_precision_and_map_by_hand():
    ranks = np.array([1.0, 3.0, 30.0, 2.5])
    m = metrics_from_ranks(ranks, ks=(1, 5))
    assert m["precision@5"] == pytest.approx(3 / 5 / 4)  # three hits in the top 5, one relevant item each
    assert m["precision@1"] == pytest.approx(1 / 4)
    assert m["map@5"] == pytest.approx((1 + 1 / 3 + 0 + 1 / 2.5) / 4)  # AP with one relevant item = 1 / rank
    assert m["map@5"] == m["mrr@5"]
    assert per_event_metric(ranks, "precision", 5).tolist() == [0.2, 0.2, 0.0, 0.2]


def test_sampled_evaluation_keeps_the_full_ranks_and_samples_from_the_same_scores():
    model = identity_successor_model(n=6)
    test = sessions_of([100, 101, 102], [103, 105], [104, 105, 100, 101])
    full = evaluate(model, test, ks=(1, 5), beyond_accuracy=False)
    for batch_size in (1, 2, 512):
        # every other item drawn: the sampled rank is the full rank
        res = evaluate(model, test, ks=(1, 5), beyond_accuracy=False, batch_size=batch_size, protocol="sampled",
                       negatives=5)
        assert res.sampled.ranks.tolist() == full.ranks.tolist() == [1, 1, 2, 1, 1, 1]
        assert res.metrics == full.metrics and res.sampled.metrics == full.metrics
    assert full.sampled is None and "sampled" not in full.summary()
    # 2 negatives: session 2's target (full rank 2, behind item 104) ranks 2 only when 104 is drawn
    small = [evaluate(model, test, ks=(1,), beyond_accuracy=False, protocol="sampled", negatives=2,
                      sampling_seed=seed) for seed in range(20)]
    assert all(r.sampled.ranks.max() <= 3 and r.sampled.ranks[[0, 1, 3, 4, 5]].tolist() == [1] * 5 for r in small)
    assert {r.sampled.ranks[2] for r in small} == {1.0, 2.0}
    again = evaluate(model, test, ks=(1,), beyond_accuracy=False, protocol="sampled", negatives=2, sampling_seed=3)
    assert again.sampled.ranks.tolist() == small[3].sampled.ranks.tolist()
    summary = again.summary()["sampled"]
    assert summary["protocol"] == "sampled-uniform-2" and summary["seed"] == 3 and summary["negatives"] == 2


def test_sampled_evaluation_refuses_bad_settings():
    model = identity_successor_model(n=6)
    test = sessions_of([100, 101, 102])
    with pytest.raises(ValueError, match="at most 5 items"):
        evaluate(model, test, protocol="sampled", negatives=6, beyond_accuracy=False)
    with pytest.raises(ValueError, match="needs the training sessions"):
        evaluate(model, test, protocol="sampled", negatives=2, sampling="popularity", beyond_accuracy=False)
    with pytest.raises(ValueError, match="unknown protocol"):
        evaluate(model, test, protocol="approximate", beyond_accuracy=False)


# -- command line, records and summary ----------------------------------------------------


def test_cli_refuses_too_many_negatives_and_stray_sampling_flags(tmp_path, capsys):
    toy = prepared_toy(tmp_path)  # 8 training items
    capsys.readouterr()
    code = main(["evaluate", "--dataset", str(toy), "--model", "most_popular", "--protocol", "sampled",
                 "--negatives", "8", "--quiet"])
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "--negatives 8 is not allowed" in err and "has 8 items" in err
    assert "allowed: 1 to 7" in err and "Traceback" not in err
    code = main(["benchmark", "--dataset", str(toy), "--out", str(tmp_path / "res"), "--protocol", "sampled",
                 "--negatives", "100", "--quiet"])
    assert code == EXIT_USAGE and "--negatives 100 is not allowed" in capsys.readouterr().err
    assert not (tmp_path / "res" / "toy").exists(), "refused before any run"
    code = main(["evaluate", "--dataset", str(toy), "--model", "most_popular", "--sampling", "popularity", "--quiet"])
    assert code == EXIT_USAGE and "only apply to --protocol sampled" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["evaluate", "--dataset", str(toy), "--model", "most_popular", "--protocol", "sampled", "--negatives", "0"])
    assert stop.value.code == EXIT_USAGE


def test_cli_evaluate_reports_both_protocols(tmp_path, capsys):
    toy = prepared_toy(tmp_path)
    out, ranks = tmp_path / "res.json", tmp_path / "ranks.npz"
    assert main(["evaluate", "--dataset", str(toy), "--model", "most_popular", "last_item", "--protocol", "sampled",
                 "--negatives", "3", "--sampling", "popularity", "--sampling-seed", "4", "--out", str(out),
                 "--ranks", str(ranks), "--quiet"]) == EXIT_OK
    assert "sampled protocol (3 popularity negatives (seed 4)" in capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["protocol"] == "sampled"
    assert record["sampled"] == {"negatives": 3, "sampling": "popularity", "seed": 4, "sampler": 2}
    first = record["results"][0]
    assert first["sampled"]["protocol"] == "sampled-popularity-3" and "precision@10" in first["sampled"]["metrics"]
    with np.load(ranks) as data:
        assert set(data.files) == {"most_popular", "last_item", "sampled_most_popular", "sampled_last_item"}
        assert data["sampled_last_item"].max() <= 4


def test_benchmark_sampled_runs_sit_beside_full_runs_without_mixing(tmp_path):
    toy = prepared_toy(tmp_path)
    res = tmp_path / "res"
    assert main(["benchmark", "--dataset", str(toy), "--out", str(res), "--quiet"]) == EXIT_OK
    assert main(["benchmark", "--dataset", str(toy), "--out", str(res), "--protocol", "sampled", "--negatives", "4",
                 "--quiet"]) == EXIT_OK
    records = load_run_records(res)
    ids = sorted(r["run_id"] for r in records)
    assert ids == sorted(["item_knn", "last_item", "most_popular", "item_knn-sampled-uniform-4-s0",
                          "last_item-sampled-uniform-4-s0", "most_popular-sampled-uniform-4-s0"])
    sampled = next(r for r in records if r["run_id"] == "last_item-sampled-uniform-4-s0")
    full = next(r for r in records if r["run_id"] == "last_item")
    assert sampled["protocol"]["sampled"] == {"negatives": 4, "sampling": "uniform", "seed": 0, "sampler": 2}
    assert sampled["evaluation"]["metrics"] == full["evaluation"]["metrics"], "same scores, same full ranking"
    assert protocol_of(sampled) == "sampled-uniform-4" and protocol_of(full) == "full"
    with np.load(res / "toy" / sampled["ranks_file"]) as data:
        assert len(data["sampled_ranks"]) == len(data["ranks"]) and data["sampled_ranks"].max() <= 5
    summary = pd.read_csv(res / "summary.csv")
    assert set(summary["protocol"]) == {"full", "sampled-uniform-4"}
    # a sampled record drawn by the other sampler is run again, not skipped as complete
    assert main(["benchmark", "--dataset", str(toy), "--out", str(res), "--protocol", "sampled", "--negatives", "4",
                 "--quiet"]) == EXIT_OK
    assert load_run_records(res) == records, "nothing changed: nothing run again"
    assert main(["benchmark", "--dataset", str(toy), "--out", str(res), "--protocol", "sampled", "--negatives", "4",
                 "--sampler", "1", "--quiet"]) == EXIT_OK
    old = {r["run_id"]: r for r in load_run_records(res)}
    assert old["last_item-sampled-uniform-4-v1-s0"]["protocol"]["sampled"]["sampler"] == 1
    (res / "toy" / "last_item-sampled-uniform-4-s0.json").write_text(
        json.dumps(old["last_item-sampled-uniform-4-v1-s0"] | {"run_id": "last_item-sampled-uniform-4-s0"}))
    main(["benchmark", "--dataset", str(toy), "--out", str(res), "--protocol", "sampled", "--negatives", "4",
          "--quiet"])
    redone = {r["run_id"]: r for r in load_run_records(res)}["last_item-sampled-uniform-4-s0"]
    assert redone["protocol"]["sampled"]["sampler"] == 2
    assert set(summary.loc[summary["protocol"] == "full", "metric"]) >= {"recall", "mrr", "precision", "map"}
    assert summary.loc[summary["protocol"] != "full", "metric"].str.startswith("sampled_").all()
    recall = summary[(summary["metric"] == "recall") & (summary["k"] == 20)]
    assert len(recall) == 3 and (recall["n"] == 1).all(), "one full-ranking number per model, never averaged with sampled"
    assert len(full_ranking_records(records)) == 3


# -- the order of models under both protocols ------------------------------------------------


def sampled_record(label: str, full: dict[str, float], sampled: dict[str, float], seed=None,
                   dataset: str = "d", negatives: int = 99) -> dict:
    return {"run_id": f"{label}-sampled", "label": label, "model": label, "dataset": dataset, "seed": seed,
            "evaluation": {"metrics": full, "sampled": {"protocol": f"sampled-uniform-{negatives}", "negatives": negatives,
                                                        "sampling": "uniform", "seed": 0, "metrics": sampled}}}


def test_order_changes_between_protocols():
    records = [
        sampled_record("a", {"recall@10": 0.50}, {"recall@10": 0.70}),
        sampled_record("b", {"recall@10": 0.40}, {"recall@10": 0.90}),
        sampled_record("c", {"recall@10": 0.30}, {"recall@10": 0.80}),
        sampled_record("d", {"recall@10": 0.10}, {"recall@10": 0.10}),
        {"run_id": "a", "label": "a", "model": "a", "dataset": "d", "evaluation": {"metrics": {"recall@10": 0.5}}},
    ]
    table = protocols.comparison_table(records, "d", "sampled-uniform-99", "recall", 10)
    assert table["label"].tolist() == ["a", "b", "c", "d"]
    assert table["full_rank"].tolist() == [1, 2, 3, 4] and table["sampled_rank"].tolist() == [3, 1, 2, 4]
    assert table["change"].tolist() == [-2, 1, 1, 0]
    assert sorted(protocols.swapped_pairs(table)) == [("a", "b"), ("a", "c")]
    assert protocols.kendall_tau(table) == pytest.approx((4 - 2) / 6)
    summary = protocols.order_summary(records)
    assert summary[["swapped", "pairs", "best_full", "best_sampled"]].values.tolist() == [[2, 6, "a", "b"]]
    long = metrics_table(records)
    assert set(long.loc[long["protocol"] == "full", "metric"]) == {"recall"}
    assert set(long.loc[long["protocol"] == "sampled-uniform-99", "metric"]) == {"sampled_recall"}
    assert len(aggregate(long)) == 5


def test_seeds_are_averaged_and_same_order_has_no_swaps():
    records = [sampled_record("g", {"mrr@10": 0.3}, {"mrr@10": 0.5}, seed=1),
               sampled_record("g", {"mrr@10": 0.5}, {"mrr@10": 0.7}, seed=2),
               sampled_record("k", {"mrr@10": 0.2}, {"mrr@10": 0.4})]
    table = protocols.comparison_table(records, "d", "sampled-uniform-99", "mrr", 10)
    g = table.set_index("label").loc["g"]
    assert g["runs"] == 2 and g["full"] == pytest.approx(0.4) and g["sampled"] == pytest.approx(0.6)
    assert protocols.swapped_pairs(table) == [] and protocols.kendall_tau(table) == 1.0


def write_sampled_runs(root, dataset: str = "demo", n_events: int = 400) -> None:
    """Sampled-protocol records beside the fake full-ranking ones: sampling reverses LastItem and Item-KNN."""
    rng = np.random.default_rng(5)
    for label, full_q, sampled_q in (("last_item", 0.05, 0.6), ("item_knn", 0.08, 0.3), ("most_popular", 0.01, 0.05)):
        ranks = np.minimum(rng.geometric(full_q, n_events), 2000).astype(float)
        sampled = np.minimum(rng.geometric(sampled_q, n_events), 100).astype(float)
        record = {"run_id": f"{label}-sampled-uniform-99-s0", "label": label, "model": label, "dataset": dataset,
                  "seed": None, "train_seconds": 1.0,
                  "evaluation": {"metrics": metrics_from_ranks(ranks), "tie_mode": "median", "min_position": 1,
                                 "seconds": 1.0, "n_events": n_events, "n_items": 2425,
                                 "sampled": {"protocol": "sampled-uniform-99", "negatives": 99, "sampling": "uniform",
                                             "seed": 0, "tie_mode": "median", "metrics": metrics_from_ranks(sampled)}}}
        write_run(root, record, {"ranks": ranks, "sampled_ranks": sampled,
                                 "positions": np.ones(n_events, dtype=np.int32),
                                 "targets": np.arange(n_events, dtype=np.int32),
                                 "target_popularity": np.ones(n_events, dtype=np.int32)})


def test_benchmarks_page_shows_sampled_vs_full(app_env, tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    from tests.app_support import write_fake_results
    from tests.app_support import open_app

    results = tmp_path / "results"
    write_fake_results(results, questions=False)
    write_sampled_runs(results)
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = open_app("pages/benchmarks.py")
    assert not at.exception, [e.value for e in at.exception]
    # the full-ranking tables never include the sampled runs (one run per baseline, not two)
    recall = at.dataframe[0].value
    assert {"GRU4Rec (cross-entropy)", "Item-KNN", "LastItem", "MostPopular"} == set(recall.index)
    assert "full ranking" in " ".join(m.value for m in at.markdown)
    at.session_state["bm_tab"] = "Sampled vs full"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    order = at.dataframe[0].value.set_index("Model")
    assert order.loc["Item-KNN", "Rank (full ranking)"] == 1 and order.loc["LastItem", "Rank (sampled)"] == 1
    assert order.loc["LastItem", "Move under sampling"] == "↑ 1" and order.loc["Item-KNN", "Move under sampling"] == "↓ 1"
    changed = " ".join(w.value for w in at.warning)
    assert "The order changes" in changed and "1 of 3 pairs" in changed
    assert any("99 uniform negatives" in str(o) for o in at.selectbox(key="bm_sampled_variant").options)


def test_a_sampled_record_without_its_sampled_ranks_is_not_complete(tmp_path):
    from sessrec.experiments.records import record_problem, run_problem

    record = sampled_record("a", {"recall@10": 0.5}, {"recall@10": 0.7}, dataset="toy")
    record["evaluation"]["n_events"] = 3
    write_run(tmp_path, record, {"ranks": np.ones(3)})  # the sampled ranks are missing
    assert run_problem(tmp_path, "toy", "a-sampled") == "its ranks file has no sampled ranks (a sampled run needs them)"
    write_run(tmp_path, record, {"ranks": np.ones(3), "sampled_ranks": np.ones(3)})
    assert run_problem(tmp_path, "toy", "a-sampled") is None
    broken = {**record, "ranks_file": "x", "evaluation": {"metrics": {"recall@10": 0.5}, "sampled": {"metrics": {"recall@10": "high"}}}}
    assert record_problem(broken) == "sampled metric 'recall@10' is not a number (str)"


def test_full_rank_equivalent_of_a_sampled_cut_off():
    # 99 uniform negatives among 2,933 items: sampled hit@10 ~ full rank <= 1 + 9.5 * 2932 / 99
    assert protocols.full_rank_equivalent(2933, 99, 10) == pytest.approx(282.36, abs=0.01)
    assert protocols.full_rank_equivalent(100, 99, 1) == pytest.approx(1.5)  # every item drawn: rank 1 only


def test_sampled_tab_on_the_committed_results(monkeypatch):
    """The committed sampled runs of rsc15_100k are behind the tab: GRU4Rec and the kNN models change places."""
    from streamlit.testing.v1 import AppTest

    from tests.app_support import REPO

    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(REPO / "results"))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params.update({"dataset": "rsc15_100k"})
    at.run()
    at.switch_page("pages/benchmarks.py").run()
    at.session_state["bm_tab"] = "Sampled vs full"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "rsc15_100k" in " ".join(c.value for c in at.caption) or at.selectbox(key="bm_dataset").value == "rsc15_100k"
    order = at.dataframe[0].value.set_index("Model")
    assert {"GRU4Rec (cross-entropy)", "VSTAN", "Item-KNN", "MostPopular"} <= set(order.index)
    assert (order["Move under sampling"] != "=").any()
    assert any("The order changes" in w.value for w in at.warning)

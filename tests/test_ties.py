"""Tie modes, the tied-target share and non-finite scores in the evaluator."""

import inspect
import json

import numpy as np
import pytest
import torch

from sessrec.errors import SessrecError
from sessrec.evaluation import NonFiniteScoresError, evaluate, ranks_from_counts
from sessrec.evaluation.metrics import rank_counts, ranks_of_targets
from tests.helpers import ScriptedModel, sessions_of

NAN, INF = float("nan"), float("inf")


def test_tie_modes_on_hand_checkable_scores():
    scores = torch.tensor([
        [0.5, 0.9, 0.5, 0.1, 0.5],  # target 0: one better, two others tied
        [0.2, 0.2, 0.2, 0.2, 0.2],  # target 3: everything tied
        [0.9, 0.8, 0.7, 0.6, 0.5],  # target 2: no tie, two better
    ])
    targets = torch.tensor([0, 3, 2])
    better, tied = rank_counts(scores, targets)
    assert better.tolist() == [1, 0, 2]
    assert tied.tolist() == [2, 4, 0]
    assert ranks_of_targets(scores, targets, "standard").tolist() == [2.0, 1.0, 3.0]
    assert ranks_of_targets(scores, targets, "conservative").tolist() == [4.0, 5.0, 3.0]
    assert ranks_of_targets(scores, targets, "median").tolist() == [3.0, 3.0, 3.0]
    assert ranks_of_targets(scores, targets).tolist() == [3.0, 3.0, 3.0]  # median is the default
    # the same from counts, for arrays as well as tensors
    assert ranks_from_counts(np.array([1, 0, 2]), np.array([2, 4, 0]), "median").tolist() == [3.0, 3.0, 3.0]


def test_median_is_the_mean_of_standard_and_conservative_on_random_ties():
    gen = torch.Generator().manual_seed(1)
    scores = torch.randint(0, 4, (257, 33), generator=gen).float()  # more rows than one block, many ties
    targets = torch.randint(0, 33, (257,), generator=gen)
    std, cons, med = (ranks_of_targets(scores, targets, m) for m in ("standard", "conservative", "median"))
    assert torch.equal(med, (std + cons) / 2)
    t = scores[torch.arange(257), targets].unsqueeze(1)
    assert torch.equal(rank_counts(scores, targets)[1], ((scores == t).sum(1) - 1).int())


def test_non_finite_scores_never_rank_above_finite_ones():
    scores = torch.tensor([[1.0, NAN, INF, -INF, 0.5]])
    # a finite target: +inf, -inf and NaN all count below it
    assert ranks_of_targets(scores, torch.tensor([0]), "standard").item() == 1
    assert ranks_of_targets(scores, torch.tensor([4]), "conservative").item() == 2
    # a non-finite target: below both finite items, tied with the other two non-finite ones
    for target in (1, 2, 3):
        assert ranks_of_targets(scores, torch.tensor([target]), "standard").item() == 3
        assert ranks_of_targets(scores, torch.tensor([target]), "conservative").item() == 5
        assert ranks_of_targets(scores, torch.tensor([target]), "median").item() == 4
    # a NaN row can never give rank 1 (the old behaviour gave every NaN target rank 1)
    all_nan = torch.full((1, 6), NAN)
    assert ranks_of_targets(all_nan, torch.tensor([2]), "median").item() == 3.5


def tied_model() -> ScriptedModel:
    """Four items; after item 0 items 1 and 2 tie at the top; after item 1 item 3 is alone on top;
    after 2 every item ties; after 3 item 0 is best and 1, 2 tie below it."""
    table = np.array([
        [0.0, 5.0, 5.0, 1.0],
        [0.0, 0.0, 1.0, 9.0],
        [2.0, 2.0, 2.0, 2.0],
        [3.0, 1.0, 1.0, 0.0],
        [1.0, 1.0, 1.0, 1.0],  # empty session
    ])
    return ScriptedModel(table, item_ids=np.array([10, 11, 12, 13]))


def test_tied_share_and_ranks_on_a_hand_example():
    test = sessions_of([10, 11, 13, 10], [12, 13], [13, 12])
    # events: 10->11 (better 0, tied 1), 11->13 (0, 0), 13->10 (0, 0); 12->13 (0, 3); 13->12 (1, 1)
    results = {m: evaluate(tied_model(), test, tie_mode=m, beyond_accuracy=False) for m in
               ("standard", "conservative", "median")}
    assert results["standard"].ranks.tolist() == [1, 1, 1, 1, 2]
    assert results["conservative"].ranks.tolist() == [2, 1, 1, 4, 3]
    assert results["median"].ranks.tolist() == [1.5, 1, 1, 2.5, 2.5]
    for r in results.values():
        assert r.n_tied.tolist() == [1, 0, 0, 3, 1]
        assert r.tied_target_share == pytest.approx(3 / 5)
        assert r.summary()["tied_target_share"] == pytest.approx(3 / 5)
        assert r.summary()["n_tied_events"] == 3
    assert results["median"].metrics["recall@1"] == pytest.approx(2 / 5)
    assert results["standard"].metrics["recall@1"] == pytest.approx(4 / 5)
    assert evaluate(tied_model(), test, beyond_accuracy=False).tie_mode == "median"


def test_no_ties_gives_a_zero_share_and_equal_modes():
    table = np.array([[4.0, 3.0, 2.0, 1.0]] * 5) + np.arange(5)[:, None] * 0.1
    model = ScriptedModel(table, item_ids=np.array([10, 11, 12, 13]))
    test = sessions_of([10, 11, 13, 10], [12, 13])
    std = evaluate(model, test, tie_mode="standard", beyond_accuracy=False)
    med = evaluate(model, test, tie_mode="median", beyond_accuracy=False)
    assert med.tied_target_share == 0.0
    assert np.array_equal(std.ranks, med.ranks) and std.metrics == med.metrics


class NaNSlotModel(ScriptedModel):
    """Scores one item NaN (or another non-finite value) whenever the last item read is ``bad_last``."""

    name = "nan_slot"

    def __init__(self, bad_last: int, value: float = NAN) -> None:
        super().__init__(tied_model().table.numpy() + np.arange(4) * 0.01, item_ids=np.array([10, 11, 12, 13]))
        self.bad_last, self.value = bad_last, value

    def scores(self, state):
        out = super().scores(state).clone()
        out[state[0] == self.bad_last, 3] = self.value
        return out


@pytest.mark.parametrize("value", [NAN, INF, -INF])
def test_a_model_with_non_finite_scores_is_an_error_naming_model_and_event(value):
    test = sessions_of([10, 11], [13, 12, 11], [12, 10], start_id=101)
    # item 12 (dense 2) is read by session 102 before its position 2 and by session 103 before its position 1
    kind = "NaN" if value != value else ("+inf" if value > 0 else "-inf")
    # one slot: sessions run one after the other, 102 comes first
    with pytest.raises(NonFiniteScoresError, match=r"'nan_slot'.*session 102, position 2") as info:
        evaluate(NaNSlotModel(bad_last=2, value=value), test, batch_size=1, beyond_accuracy=False)
    assert isinstance(info.value, SessrecError) and kind in str(info.value)
    # session-parallel: all three sessions start together, so 103 meets the item at its first step
    with pytest.raises(NonFiniteScoresError, match=r"'nan_slot'.*session 103, position 1"):
        evaluate(NaNSlotModel(bad_last=2, value=value), test, batch_size=4, beyond_accuracy=False)


def test_non_finite_scores_at_unevaluated_positions_are_ignored():
    # min_position=2: the scores after the first click are never used for a rank
    test = sessions_of([12, 10, 11])
    r = evaluate(NaNSlotModel(bad_last=2), test, min_position=2, beyond_accuracy=False)
    assert r.n_events == 1


def test_median_is_the_default_everywhere():
    from sessrec.cli import build_parser
    from sessrec.experiments.runs.benchmark import run_benchmark, run_one
    from sessrec.experiments.runs.tuning import run_sweep

    assert inspect.signature(evaluate).parameters["tie_mode"].default == "median"
    assert inspect.signature(run_one).parameters["tie_mode"].default == "median"
    assert inspect.signature(run_benchmark).parameters["tie_mode"].default == "median"
    assert inspect.signature(run_sweep).parameters["tie_mode"].default == "median"
    parser = build_parser()
    assert parser.parse_args(["evaluate", "--dataset", "x"]).tie_mode == "median"
    assert parser.parse_args(["benchmark", "--dataset", "x"]).tie_mode == "median"
    assert parser.parse_args(["evaluate", "--dataset", "x", "--tie-mode", "standard"]).tie_mode == "standard"


def test_benchmark_record_keeps_the_tie_mode_the_tied_share_and_consistent_ranks(tmp_path):
    from sessrec.experiments.records import load_ranks, load_run_records, metrics_table, write_run

    r = evaluate(tied_model(), sessions_of([10, 11, 13, 10], [12, 13], [13, 12]), beyond_accuracy=False)
    record = {"run_id": "scripted", "label": "scripted", "model": "scripted", "dataset": "toy",
              "evaluation": r.summary(), "protocol": {"tie_mode": r.tie_mode}}
    write_run(tmp_path, record, {"ranks": r.ranks.astype(np.float32), "n_tied": r.n_tied.astype(np.int32)})
    (loaded,) = load_run_records(tmp_path)
    assert json.loads((tmp_path / "toy" / "scripted.json").read_text())["evaluation"]["tied_target_share"] == 0.6
    assert load_ranks(loaded).tolist() == [1.5, 1, 1, 2.5, 2.5]
    table = metrics_table([loaded])
    share = table[table["metric"] == "tied_target_share"]
    assert share["value"].tolist() == [pytest.approx(0.6)]


def _retie_fake_results(root, shares: dict[str, float]) -> None:
    """Turn write_fake_results' records into median-tie records: baselines get a tied share, GRU4Rec
    runs are re-labelled the way the median-ties migration of issue 8 did (share unknown, a note)."""
    for path in root.glob("*/*.json"):
        record = json.loads(path.read_text())
        record["evaluation"]["tie_mode"] = "median"
        if record["label"] in shares:
            record["evaluation"]["tied_target_share"] = shares[record["label"]]
        else:
            record["evaluation"]["tied_target_share"] = None
            record["tie_mode_note"] = "re-labelled"
        path.write_text(json.dumps(record))


def test_benchmarks_page_shows_the_tied_share_beside_the_metrics(app_env, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.app_support import REPO, write_fake_results

    results = tmp_path / "results"
    write_fake_results(results, questions=False)
    _retie_fake_results(results, {"last_item": 0.47, "item_knn": 0.2, "most_popular": 0.001})
    monkeypatch.setenv("SESSREC_RESULTS_ROOT", str(results))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90)
    at.run()
    at.switch_page("pages/benchmarks.py").run()
    assert not at.exception, [e.value for e in at.exception]
    protocol = " ".join(m.value for m in at.markdown)
    assert "`median` (the expected rank under random tie-breaking" in protocol
    assert "2 GRU4Rec runs were evaluated with `standard` ties" in protocol
    recall = at.dataframe[0].value
    assert recall.loc["LastItem", "Tied targets"] == "47.0%"
    assert recall.loc["MostPopular", "Tied targets"] == "0.1%"
    assert recall.loc["GRU4Rec (cross-entropy)", "Tied targets"] == "not measured"
    assert any("published GRU4Rec numbers use" in c.value for c in at.caption)


def test_significance_refuses_to_pair_ranks_under_different_tie_modes():
    from sessrec.experiments.analysis import significance as sig

    def record(label, model, tie_mode):
        return {"run_id": label, "label": label, "model": model, "dataset": "d", "_path": label,
                "evaluation": {"tie_mode": tie_mode}}

    ranks = {"g": np.array([1.0, 2.0, 3.0]), "b": np.array([1.5, 2.0, 9.0])}
    records = [record("g", "gru4rec", "median"), record("b", "last_item", "standard")]
    table, notes = sig.significance(records, "d", "mrr", 20, load_ranks=lambda r: ranks[r["_path"]])
    assert table.empty and "different tie modes" in notes[0]
    records[1]["evaluation"]["tie_mode"] = "median"
    table, notes = sig.significance(records, "d", "mrr", 20, load_ranks=lambda r: ranks[r["_path"]])
    assert len(table) == 1 and not notes


def test_live_views_rank_with_the_same_tie_modes_as_the_evaluator():
    from sessrec.evaluation.metrics import ranks_in

    scores = np.array([0.5, 0.9, 0.5, 0.1, 0.5, np.nan])
    assert ranks_in(scores, np.array([0, 1, 3])).tolist() == [3.0, 1.0, 5.0]  # median by default
    assert ranks_in(scores, np.array([0]), tie_mode="standard").tolist() == [2.0]
    assert ranks_in(scores, np.array([0]), tie_mode="conservative").tolist() == [4.0]
    assert ranks_in(scores, np.array([5]), tie_mode="standard").tolist() == [6.0]  # NaN below every finite score
    expected = ranks_of_targets(torch.tensor(scores[None, :5], dtype=torch.float32), torch.tensor([2])).item()
    assert ranks_in(scores[:5], np.array([2])).item() == expected


def test_gru4rec_with_nan_weights_is_an_error_not_a_perfect_score():
    """The issue's case: NaN output weights used to give Recall@20 = MRR@20 = 1.0."""
    from sessrec.models.gru4rec import GRU4Rec

    rng = np.random.default_rng(0)
    train = sessions_of(*[list(rng.integers(0, 30, rng.integers(2, 8))) for _ in range(60)])
    model = GRU4Rec(layers=[8], batch_size=4, n_sample=8, sample_cache=800, n_epochs=1, seed=1).fit(train)
    test = sessions_of(*[list(rng.choice(model.item_index.item_ids, 4)) for _ in range(5)])
    assert np.isfinite(evaluate(model, test, beyond_accuracy=False).metrics["mrr@20"])
    model.WyBy[0, 0] = float("nan")  # one item's output weight
    with pytest.raises(NonFiniteScoresError, match=r"'gru4rec'.*NaN for 1 of \d+ items.*session \d+, position 1"):
        evaluate(model, test, beyond_accuracy=False)


def test_all_finite_catches_every_kind_and_survives_overflowing_sums():
    from sessrec.evaluation.metrics import all_finite

    assert all_finite(torch.tensor([[1.0, -2.0], [0.0, 3.0]]))
    for bad in (NAN, INF, -INF):
        assert not all_finite(torch.tensor([[1.0, bad], [0.0, 3.0]]))
    assert not all_finite(torch.tensor([[INF, -INF]]))  # the sum is NaN, still caught
    huge = torch.full((4, 4), 3e38)  # finite scores whose float32 sum overflows
    assert all_finite(huge)
    assert ranks_of_targets(huge, torch.tensor([0, 1, 2, 3]), "standard").tolist() == [1.0] * 4

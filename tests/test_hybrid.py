"""GRU4Rec + kNN (sessrec.models.hybrid): normalisation, blend and switch checked against the
components' own scores, checkpoints, the evaluator's streaming path and bad settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sessrec.errors import ParameterError
from sessrec.evaluation import evaluate
from sessrec.models import io
from sessrec.models.hybrid import Hybrid, normalise_rows
from tests.helpers import sessions_of

TRAIN = sessions_of(*[[1 + (s * 3 + i * (1 + s % 2)) % 9 for i in range(2 + s % 4)] for s in range(60)])
GRU = {"layers": [8], "batch_size": 4, "n_epochs": 1, "n_sample": 4, "learning_rate": 0.05}


def fitted(**params) -> Hybrid:
    return Hybrid(gru4rec_params=GRU, seed=3, neighbours="vstan", **params).fit(TRAIN, progress=False)


def test_rows_are_normalised_as_documented():
    rows = torch.tensor([[1.0, 3.0, 2.0], [5.0, 5.0, 5.0], [-2.0, 0.0, 2.0]])
    assert torch.allclose(normalise_rows(rows, "minmax"), torch.tensor([[0.0, 1.0, 0.5], [0, 0, 0], [0.0, 0.5, 1.0]]))
    std = float(np.std([-2.0, 0.0, 2.0]))
    assert torch.allclose(normalise_rows(rows, "zscore")[2], torch.tensor([-2.0, 0.0, 2.0]) / std)
    assert torch.equal(normalise_rows(rows, "zscore")[1], torch.zeros(3)), "a constant row becomes 0"
    # probabilities: GRU4Rec's logits through a softmax, a kNN row's positive scores over their sum
    e = np.exp([1.0, 3.0, 2.0])
    softmax = torch.tensor(e / e.sum(), dtype=torch.float32)
    assert torch.allclose(normalise_rows(rows, "probability", logits=True)[0], softmax)
    assert torch.allclose(normalise_rows(rows, "probability")[0], torch.tensor([1 / 6, 3 / 6, 2 / 6]))
    assert torch.allclose(normalise_rows(rows, "probability")[2], torch.tensor([0.0, 0.0, 1.0])), "negatives are 0"
    assert torch.equal(normalise_rows(-rows.abs(), "probability")[0], torch.zeros(3)), "no positive score: all 0"


def test_blend_is_the_weighted_sum_of_the_normalised_components():
    model = fitted(weight=0.3)
    session = [1, 4, 7]
    gru, _ = model.gru4rec.score_session(session)
    knn, _ = model.knn.score_session(session)
    ours, _ = model.score_session(session)
    expected = 0.3 * normalise_rows(torch.tensor(gru)[None], "minmax") + 0.7 * normalise_rows(torch.tensor(knn)[None],
                                                                                                "minmax")
    assert np.allclose(ours, expected[0].numpy(), atol=1e-6)
    assert len(set(np.round(ours, 6))) > 3, "the scores are not constant"


@pytest.mark.parametrize("weight,component", [(1.0, "gru4rec"), (0.0, "knn")])
def test_the_end_weights_rank_like_one_component(weight, component):
    model = fitted(weight=weight)
    session = [2, 5]
    alone, _ = getattr(model, component).score_session(session)
    ours, _ = model.score_session(session)
    assert np.allclose(ours, normalise_rows(torch.tensor(alone)[None], "minmax")[0].numpy(), atol=1e-6)


def test_switch_hands_a_session_that_repeats_to_the_neighbours():
    blend, switch = fitted(weight=0.6), fitted(weight=0.6, mode="switch")
    knn_only = fitted(weight=0.0)
    fresh, again = [1, 4, 7], [1, 4, 1]
    assert np.allclose(switch.score_session(fresh)[0], blend.score_session(fresh)[0]), "no repeat: the blend"
    assert np.allclose(switch.score_session(again)[0], knn_only.score_session(again)[0]), "a repeat: kNN alone"
    assert not np.allclose(blend.score_session(again)[0], knn_only.score_session(again)[0])


def test_streaming_evaluation_matches_one_session_at_a_time():
    """The evaluator's batched state (reset, select, step) gives the live path's scores."""
    model = fitted(weight=0.5, mode="switch")
    test = sessions_of([1, 4, 1, 2], [3, 3, 5], [2, 6, 8, 9, 2], start_id=500)
    result = evaluate(model, test, ks=(5,), beyond_accuracy=False, progress=False, batch_size=2)  # slots reused
    expected = []
    for s in range(test.n_sessions):
        items = list(test.session(s))
        for t in range(1, len(items)):
            scores, _ = model.score_session(items[:t])
            target = scores[model.item_index.to_index(np.array([items[t]]))[0]]
            expected.append(1 + (scores > target).sum() + ((scores == target).sum() - 1) / 2)
    assert np.allclose(result.ranks, expected)


def test_checkpoint_round_trip_scores_the_same(tmp_path):
    model = fitted(weight=0.4, normalise="zscore", mode="switch")
    io.save_model(model, tmp_path / "hybrid.pt", {"dataset": "toy"})
    loaded = io.load_model(tmp_path / "hybrid.pt")
    assert loaded.hyperparameters() == model.hyperparameters()
    for session in ([1, 4, 7], [1, 4, 1], []):
        assert np.array_equal(loaded.score_session(session)[0], model.score_session(session)[0])


@pytest.mark.parametrize("params,message", [
    ({"weight": 1.5}, "weight = 1.5"),
    ({"neighbours": "gru4rec"}, "neighbours = 'gru4rec'"),
    ({"mode": "average"}, "mode = 'average'"),
    ({"normalise": "rank"}, "normalise = 'rank'"),
    ({"gru4rec_params": [1]}, "gru4rec_params"),
])
def test_bad_settings_are_refused_in_one_line(params, message):
    with pytest.raises(ParameterError, match=message) as err:
        Hybrid(**params)
    assert "\n" not in str(err.value)


def test_a_probability_blend_mixes_gru4rec_softmax_and_the_neighbours_distribution():
    model = fitted(weight=0.25, normalise="probability")
    session = [1, 4, 7]
    gru, _ = model.gru4rec.score_session(session)
    knn, _ = model.knn.score_session(session)
    ours, _ = model.score_session(session)
    softmax = np.exp(gru - gru.max()) / np.exp(gru - gru.max()).sum()
    positive = np.clip(knn, 0, None)
    assert positive.sum() > 0, "the session has neighbours"
    assert np.allclose(ours, 0.25 * softmax + 0.75 * positive / positive.sum(), atol=1e-6)
    assert np.isclose(ours.sum(), 1.0, atol=1e-5), "a mixture of two distributions is one"


def test_slist_can_be_the_neighbour_model(tmp_path):
    slist = {"alpha": 0.5, "reg": 1.0, "direction": "sr", "train_weight": 1.0, "predict_weight": 1.0,
             "session_weight": -1}
    model = Hybrid(gru4rec_params=GRU, seed=3, neighbours="slist", neighbour_params=slist, weight=0.4,
                   normalise="zscore").fit(TRAIN, progress=False)
    session = [1, 4, 7]
    gru, _ = model.gru4rec.score_session(session)
    lin, _ = model.knn.score_session(session)
    assert len(set(np.round(lin, 5))) > 3, "SLIST's own scores, not a constant"
    expected = 0.4 * normalise_rows(torch.tensor(gru)[None], "zscore") + 0.6 * normalise_rows(
        torch.tensor(lin)[None], "zscore")
    assert np.allclose(model.score_session(session)[0], expected[0].numpy(), atol=1e-5)
    io.save_model(model, tmp_path / "gru4rec_slist.pt", {"dataset": "toy"})  # SLIST's weights travel too
    loaded = io.load_model(tmp_path / "gru4rec_slist.pt")
    assert loaded.neighbours == "slist" and np.array_equal(loaded.score_session(session)[0], model.score_session(session)[0])


def test_inside_reuse_fits_a_component_is_fitted_once_and_only_for_the_same_settings(monkeypatch):
    """A study that tunes only the blend fits GRU4Rec and the neighbours once; another seed, other
    neighbour settings or other sessions fit again, and outside the block nothing is kept."""
    from sessrec.models import gru4rec as gru4rec_module
    from sessrec.models import reuse

    fits = []
    original = gru4rec_module.GRU4Rec.fit

    def counting_fit(self, *args, **kwargs):
        fits.append(self.seed)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(gru4rec_module.GRU4Rec, "fit", counting_fit)
    with reuse.reuse_fits():
        first, second = fitted(weight=0.2), fitted(weight=0.8, mode="switch")
        assert first.gru4rec is second.gru4rec and first.knn is second.knn and reuse.reused_count() == 2
        assert fits == [3]
        reseeded = Hybrid(gru4rec_params=GRU, seed=4, neighbours="vstan").fit(TRAIN, progress=False)
        assert fits == [3, 4] and reseeded.knn is first.knn, "a new seed retrains GRU4Rec only"
        other = Hybrid(gru4rec_params=GRU, seed=4, neighbours="vstan", neighbour_params={"k": 50}).fit(
            TRAIN, progress=False)
        assert other.knn is not first.knn and other.gru4rec is reseeded.gru4rec
        shorter = sessions_of(*[list(TRAIN.session(s)) for s in range(TRAIN.n_sessions - 1)])
        assert Hybrid(gru4rec_params=GRU, seed=4, neighbours="vstan").fit(shorter, progress=False).knn is not \
            first.knn, "other sessions: fitted again"
    alone = fitted(weight=0.2)
    assert alone.gru4rec is not first.gru4rec and reuse.reused_count() == 0 and fits[-1] == 3
    # sharing changes no score: the blend of shared parts equals the blend of its own parts
    assert np.array_equal(alone.score_session([1, 4, 7])[0], first.score_session([1, 4, 7])[0])

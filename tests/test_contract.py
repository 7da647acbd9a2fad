"""The one training contract (sessrec.models.contract): every registered model, of either task,
takes the same fit options and uses them as its registry entry says; no caller probes a
signature."""

from __future__ import annotations

from pathlib import Path

import pytest

from sessrec.errors import ParameterError
from sessrec.models.factory import make_model, model_parameters
from sessrec.models.registry import EARLY_STOPPING, ONCE, SESSION, SPECS, USER_CONTEXT, models_of
from tests.helpers import sessions_of

REPO = Path(__file__).resolve().parents[1]
#: 40 short sessions over 8 items: every model trains on them in well under a second an epoch
TRAIN = sessions_of(*[[1 + (s + i) % 8 for i in range(2 + s % 3)] for s in range(40)])


def quick(name: str) -> dict:
    """Two epochs and one thread where the model has them; its defaults otherwise."""
    params = model_parameters(name)
    return {k: v for k, v in {"n_epochs": 2, "n_threads": 1, "seed": 3, "embedding_dim": 8}.items() if k in params}


def training_data(task: str):
    if task == SESSION:
        return TRAIN
    from sessrec.data.interactions import Interactions
    import numpy as np

    users = np.repeat(np.arange(1, 21), 4)
    items = (users * 3 + np.tile(np.arange(4), 20)) % 12 + 1
    return Interactions(user=users, item=items, label=np.ones(len(users)), time=np.arange(len(users), dtype=float),
                        context={"device": np.where(users % 2 == 0, "mobile", "desktop").astype(object)})


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_model_takes_every_option_and_uses_what_its_spec_declares(name, tmp_path):
    spec = SPECS[name]
    records, scored = [], []

    def validate(model) -> float:
        scored.append(1)
        return 0.5

    model = make_model(name, quick(name))
    fitted = model.fit(training_data(spec.task), validate=validate, progress=False, checkpoint=None, resume=None,
                       callback=records.append)
    assert fitted is model
    if spec.trains == ONCE:
        assert records == [] and scored == [], "a model trained once runs no epoch"
        with pytest.raises(ParameterError, match="no training to resume"):
            make_model(name, quick(name)).fit(training_data(spec.task), resume=object())  # type: ignore[arg-type]
    else:
        assert [r["epoch"] for r in records] == list(range(1, len(records) + 1)) and records
        assert all(r["valid"] == 0.5 for r in records), "validate's score is in every epoch's record"
        assert len(scored) == len(records)
        assert hasattr(model, "training_state") and model.training_state().epoch == len(records)
    if spec.trains == EARLY_STOPPING:  # its own per-epoch file, continued when it exists
        path = tmp_path / f"{name}.pt"
        make_model(name, quick(name)).fit(TRAIN, validate=validate, progress=False, checkpoint=path)
        assert path.is_file()


def test_no_caller_probes_a_signature():
    """Capabilities come from the registry, never from inspecting a model's fit or constructor."""
    offenders = [str(p.relative_to(REPO)) for p in (REPO / "sessrec").rglob("*.py")
                 if "inspect.signature" in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_parameters_come_from_the_models_own_hyperparameters():
    for name in SPECS:
        assert set(model_parameters(name)) == set(make_model(name).hyperparameters())
    assert {"seed", "n_epochs", "layers"} <= set(model_parameters("gru4rec"))
    assert "seed" not in model_parameters("most_popular")
    assert {s.name for s in models_of(USER_CONTEXT)} >= {"bmf", "neumf", "encm", "lncm", "context_pop"}

"""Published GRU4Rec hyperparameters, typed in from the official repositories.

Sources (read 2024 snapshots):

* ``hidasib/GRU4Rec_PyTorch_Official`` README, table "Best hyperparameters", and its
  ``paramfiles/*_best.py`` (the same values, except RSC15, see below). Tuned with
  Optuna, 200 runs per dataset and loss, on the official repo's *own* preprocessing
  of each dataset (not the SR-GNN-style splits under ``shared/data``).
* ``hidasib/GRU4Rec`` (Theano) ``param_samples/rsc15_bpr-max_constrained.py`` for a
  BPR-max setting on RSC15, the only published BPR-max parameters for that dataset.

The official repositories publish one loss per dataset: cross-entropy for
RSC15/Yoochoose/Rees46, BPR-max for Coveo/RetailRocket/Diginetica. No cross-entropy
parameters exist for RetailRocket or Diginetica, and none are made up here.

For RSC15 the README table and ``paramfiles/rsc15_xe_shared_100_best.py`` disagree;
both are kept (``rsc15_xe`` is the table, whose numbers the README reports).
"""

from __future__ import annotations

from typing import Any

# Every preset lists every hyperparameter the official files set, by the official names.
PRESETS: dict[str, dict[str, Any]] = {
    "rsc15_xe": dict(
        loss="cross-entropy", constrained_embedding=True, embedding=0, elu_param=0.0, layers=[100],
        batch_size=32, dropout_p_embed=0.1, dropout_p_hidden=0.0, learning_rate=0.1, momentum=0.0,
        n_sample=2048, sample_alpha=0.75, bpreg=0.0, logq=1.0, n_epochs=10,
    ),
    "rsc15_xe_paramfile": dict(
        loss="cross-entropy", constrained_embedding=True, embedding=0, elu_param=0.0, layers=[100],
        batch_size=32, dropout_p_embed=0.0, dropout_p_hidden=0.4, learning_rate=0.2, momentum=0.2,
        n_sample=2048, sample_alpha=0.5, bpreg=0.0, logq=1.0, n_epochs=10,
    ),
    "rsc15_bprmax": dict(
        loss="bpr-max", constrained_embedding=True, embedding=0, elu_param=0.5, layers=[100],
        batch_size=32, dropout_p_embed=0.0, dropout_p_hidden=0.0, learning_rate=0.2, momentum=0.1,
        n_sample=2048, sample_alpha=0.0, bpreg=0.5, logq=0.0, n_epochs=10,
    ),
    "yoochoose_xe": dict(
        loss="cross-entropy", constrained_embedding=True, embedding=0, elu_param=0.0, layers=[480],
        batch_size=48, dropout_p_embed=0.0, dropout_p_hidden=0.2, learning_rate=0.07, momentum=0.0,
        n_sample=2048, sample_alpha=0.2, bpreg=0.0, logq=1.0, n_epochs=10,
    ),
    "rees46_xe": dict(
        loss="cross-entropy", constrained_embedding=True, embedding=0, elu_param=0.0, layers=[512],
        batch_size=240, dropout_p_embed=0.45, dropout_p_hidden=0.0, learning_rate=0.065, momentum=0.0,
        n_sample=2048, sample_alpha=0.5, bpreg=0.0, logq=1.0, n_epochs=10,
    ),
    "coveo_bprmax": dict(
        loss="bpr-max", constrained_embedding=True, embedding=0, elu_param=1.0, layers=[512],
        batch_size=144, dropout_p_embed=0.35, dropout_p_hidden=0.0, learning_rate=0.05, momentum=0.4,
        n_sample=2048, sample_alpha=0.2, bpreg=1.85, logq=0.0, n_epochs=10,
    ),
    "retailrocket_bprmax": dict(
        loss="bpr-max", constrained_embedding=True, embedding=0, elu_param=0.5, layers=[224],
        batch_size=80, dropout_p_embed=0.5, dropout_p_hidden=0.05, learning_rate=0.05, momentum=0.4,
        n_sample=2048, sample_alpha=0.4, bpreg=1.95, logq=0.0, n_epochs=10,
    ),
    "diginetica_bprmax": dict(
        loss="bpr-max", constrained_embedding=True, embedding=0, elu_param=1.0, layers=[512],
        batch_size=128, dropout_p_embed=0.5, dropout_p_hidden=0.3, learning_rate=0.05, momentum=0.15,
        n_sample=2048, sample_alpha=0.3, bpreg=0.9, logq=0.0, n_epochs=10,
    ),
}

#: Where each preset comes from.
PRESET_SOURCES: dict[str, str] = {
    "rsc15_xe": "GRU4Rec_PyTorch_Official README, best hyperparameters table, RSC15",
    "rsc15_xe_paramfile": "GRU4Rec_PyTorch_Official paramfiles/rsc15_xe_shared_100_best.py",
    "rsc15_bprmax": "GRU4Rec (Theano) param_samples/rsc15_bpr-max_constrained.py (final_act elu-0.5)",
    "yoochoose_xe": "GRU4Rec_PyTorch_Official README table / paramfiles/yoochoose_xe_shared_best.py",
    "rees46_xe": "GRU4Rec_PyTorch_Official README table / paramfiles/rees46_xe_shared_best.py",
    "coveo_bprmax": "GRU4Rec_PyTorch_Official README table / paramfiles/coveo_bprmax_shared_best.py",
    "retailrocket_bprmax": "GRU4Rec_PyTorch_Official README table / paramfiles/retailrocket_bprmax_shared_best.py",
    "diginetica_bprmax": "GRU4Rec_PyTorch_Official README table / paramfiles/diginetica_bprmax_shared_best.py",
}

#: Recall@20 and MRR@20 the official README reports for the table's settings, on the
#: official repo's own preprocessing of each dataset (10 epochs, GPU). Not comparable
#: one-to-one with the SR-GNN-style splits in ``shared/data``.
PUBLISHED_RESULTS: dict[str, dict[str, float]] = {
    "rsc15_xe": {"recall@20": 0.7283, "mrr@20": 0.3205},
    "yoochoose_xe": {"recall@20": 0.6789, "mrr@20": 0.3024},
    "rees46_xe": {"recall@20": 0.5293, "mrr@20": 0.2008},
    "coveo_bprmax": {"recall@20": 0.3135, "mrr@20": 0.1010},
    "retailrocket_bprmax": {"recall@20": 0.5186, "mrr@20": 0.2175},
    "diginetica_bprmax": {"recall@20": 0.4995, "mrr@20": 0.1542},
}


def preset(name: str, **overrides: Any) -> dict[str, Any]:
    """A copy of preset ``name`` with ``overrides`` applied (e.g. ``n_epochs=2``)."""
    if name not in PRESETS:
        raise KeyError(f"unknown GRU4Rec preset '{name}' (known: {', '.join(sorted(PRESETS))})")
    params = {k: (list(v) if isinstance(v, list) else v) for k, v in PRESETS[name].items()}
    params.update(overrides)
    return params

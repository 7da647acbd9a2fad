"""RQ3 from the tuning studies: which of GRU4Rec's parameters mattered (Optuna's fANOVA
importances) and how the validation score moved with each (Optuna's slice plot)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from sessrec.models.registry import is_subject
from sessrec.ui.paths import studies_storage


@st.cache_data(show_spinner=False, ttl=300)
def _study_views(storage: str, dataset: str, labels: tuple[str, ...]) -> list[tuple[str, dict[str, float], str, int]]:
    """(study, importances, slice-plot JSON, complete trials) for each study of ``labels`` on ``dataset``."""
    import optuna

    from sessrec.experiments.runs.tuning import parameter_importances, stored_studies

    out = []
    names = set(stored_studies(storage))
    for label in labels:
        name = f"{dataset}/{label}"
        if name not in names:
            continue
        study = optuna.load_study(study_name=name, storage=storage)
        complete = sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.get_trials(deepcopy=False))
        figure = optuna.visualization.plot_slice(study).to_json() if complete else ""
        out.append((name, parameter_importances(study), figure, complete))
    return out


def subject_labels() -> tuple[str, ...]:
    """The tunable labels of the workbench's subject model (GRU4Rec's losses)."""
    from sessrec.experiments.analysis.questions import tunable_models

    return tuple(label for label, model in tunable_models().items() if is_subject(model))


def importance_panel(dataset: str) -> None:
    """Draw RQ3's tuning section for ``dataset`` (says so plainly where no study exists yet)."""
    import plotly.io

    storage = studies_storage()
    try:
        views = _study_views(storage, dataset, subject_labels())
    except Exception as exc:  # noqa: BLE001 - an unreadable storage must not break the page
        st.warning(f"Could not read the tuning studies ({storage}): {type(exc).__name__}: {exc}")
        return
    if not views:
        st.info(f"No GRU4Rec tuning study on **{dataset}** yet (`python -m sessrec tune --dataset data/{dataset} "
                "--model gru4rec-xe gru4rec-bprmax`).", icon=":material/hourglass_empty:")
        return
    for name, importances, figure, complete in views:
        st.markdown(f"**{name}** · {complete} complete trials")
        if importances:
            frame = pd.DataFrame({"Parameter": list(importances), "Importance": list(importances.values())})
            st.bar_chart(frame, x="Parameter", y="Importance", horizontal=True, height=40 + 28 * len(frame))
        else:
            st.caption("Too few complete trials with different scores for importances yet.")
        if figure:
            st.plotly_chart(plotly.io.from_json(figure), width="stretch")
    st.caption("Importances: Optuna's fANOVA estimate of how much of the variance of the validation score each "
               "parameter explains, over the study's complete trials (sums to 1). Slice plot: every trial's validation "
               "score against each parameter's value. Both describe the search on train_tr → valid, not the test split.")

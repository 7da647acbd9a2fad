"""The Train page's pieces: the job form's defaults and one job's panel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from sessrec.experiments.runs import jobs
from sessrec.ui import charts
from sessrec.ui.models import label_of
from sessrec.ui.paths import checkpoint_root, display_path

#: Material icons (Streamlit draws them on every machine; emoji need a font the machine may lack)
STATE_ICONS = {"queued": ":material/hourglass_empty:", "running": ":material/directions_run:",
               "done": ":material/check_circle:", "failed": ":material/error:", "cancelled": ":material/stop_circle:"}


def jobs_root() -> Path:
    return checkpoint_root() / ".jobs"


def default_params_text(dataset_name: str, model: str) -> tuple[str, str]:
    """``(key=value lines, where they come from)``: the dataset's benchmark settings."""
    from sessrec.experiments.runs.training import benchmark_settings

    from sessrec.models.factory import make_model
    from sessrec.models.registry import spec as model_spec

    try:
        settings = benchmark_settings(dataset_name, [model])[0]
    except ValueError as exc:
        settings, problem = None, f"benchmark config unreadable ({exc}); "
    else:
        problem = ""
    if settings is not None and settings.params:
        params, source = dict(settings.params), settings.source
    else:  # no benchmark setting: the demo checkpoint's settings on the demo, else every default
        demo = model_spec(model).demo
        if dataset_name == "demo" and demo:
            params = {k: v for k, v in demo.items() if "{checkpoints}" not in str(v)}
            source = problem + "the committed demo checkpoint's settings (sessrec.models.registry)"
        else:
            params, source = make_model(model).hyperparameters(), problem + "the model's defaults"
    return "\n".join(f"{key}={_text(value)}" for key, value in params.items() if value is not None), source


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_text(v) for v in value)
    return str(value)


def parse_params_text(text: str) -> dict[str, Any]:
    """``key=value`` per line (blank lines and ``#`` comments skipped), parsed as the CLI's ``--set``."""
    from sessrec.models.factory import parse_assignments

    pairs = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return parse_assignments(pairs)


def job_panel(view: jobs.JobView) -> None:
    """One job: state, progress over epochs, loss per epoch, events/s, cancel, output."""
    spec = view.spec
    icon = STATE_ICONS.get(view.state, "•")
    with st.container(border=True):
        st.markdown(f"{icon} **{label_of(spec.model)}** on `{display_path(spec.dataset)}` → "
                    f"`{display_path(spec.out)}` · {view.state}")
        done = len(view.epochs)
        if view.n_epochs:
            share = min(done / view.n_epochs, 1.0) if view.state != "done" else 1.0
            st.progress(share, text=f"epoch {done} of {view.n_epochs}")
        elif view.state == "running":
            st.progress(0.0, text="training (this model has no epochs to count)")
        if view.epochs:
            frame = pd.DataFrame(view.epochs)
            cols = st.columns([3, 2])
            if "loss" in frame:
                cols[0].altair_chart(charts.job_loss(frame), width="stretch")
            last = view.epochs[-1]
            speed = last.get("events_per_s") or last.get("events_per_second")
            cols[1].metric("events / s (last epoch)", f"{speed:,.0f}" if isinstance(speed, (int, float)) else "–")
            if isinstance(last.get("loss"), (int, float)):
                cols[1].metric("loss (last epoch)", f"{last['loss']:.4f}")
        if view.message:
            (st.error if view.state == "failed" else st.caption)(view.message)
        if not view.finished:
            # streamlit types on_click as returning None; it ignores what the callback returns
            st.button("Cancel", key=f"cancel_{view.job_id}", on_click=jobs.cancel_job,  # type: ignore[arg-type]
                      args=(str(view.folder),), icon=":material/stop_circle:")
        with st.expander("Output log"):
            st.code(jobs.output_log(view.folder) or "(nothing yet)", language=None)
        with st.expander("Hyperparameters"):
            st.code(json.dumps({"preset": spec.preset, **spec.params}, indent=1), language="json")


def start_missing(dataset_path: str, dataset_name: str, models: list[str]) -> list[str]:
    """Start one background job per model in ``models`` at the dataset's benchmark settings (the
    Train page's defaults), each writing ``<checkpoints>/<dataset>/<model>.pt`` where the sidebar
    finds it; returns the job ids. A model whose checkpoint another job is writing is skipped."""
    from sessrec.errors import OutputPathError

    started = []
    for model in models:
        text, _ = default_params_text(dataset_name, model)
        spec = jobs.JobSpec(dataset_path, model, parse_params_text(text), None,
                            str(checkpoint_root() / dataset_name / f"{model}.pt"))
        try:
            started.append(jobs.start_job(spec, jobs_root()))
        except OutputPathError:
            continue  # already being trained
    return started


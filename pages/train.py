"""Train a model from the app: the training runs in its own process, this page follows it."""

import streamlit as st

from sessrec.experiments.runs import jobs
from sessrec.models.registry import REGISTRY
from sessrec.models.registry import spec as model_spec
from sessrec.ui import sidebar
from sessrec.ui import train as ui
from sessrec.ui.models import label_of
from sessrec.ui.paths import checkpoint_root, display_path
from sessrec.ui.shell import ensure_app_shell

ensure_app_shell()  # first: a deep link to a fresh server runs this page without app.py

st.title("Train a model")
selection = sidebar.current()
sidebar.require_dataset(selection, "No dataset to train on yet. Run `python -m sessrec demo`, then reload this page.")
st.caption(f"Dataset **{selection.dataset_name}** (change it in the sidebar). Training runs in a separate process: "
           "leave or reload this page at will, the job goes on. When it is done, the checkpoint is offered in "
           "the playground's sidebar.")

models = [spec.name for spec in REGISTRY]
model = st.selectbox("Model", models, format_func=label_of, key="train_model")
preset = None
if model_spec(model).presets:
    from sessrec.models.presets import PRESETS

    preset = st.selectbox("Preset (published GRU4Rec settings; the lines below override it)",
                          [None, *sorted(PRESETS)], key="train_preset",
                          format_func=lambda p: "— none —" if p is None else p)
defaults, source = ui.default_params_text(selection.dataset_name, model)
params_text = st.text_area("Hyperparameters, one key=value per line", value=defaults, height=180,
                           key=f"train_params::{selection.dataset_name}::{model}",
                           help=f"Prefilled from {source}. Lists as 100,100; booleans as true/false.")
# not <model>.pt: that name belongs to `train --all` and the committed demo checkpoints
out_name = st.text_input("Checkpoint file", value=f"{model}-from-app.pt", key=f"train_out::{model}",
                         help=f"Written under {display_path(checkpoint_root() / selection.dataset_name)}/")


def start() -> None:
    name = out_name.strip()
    if not name or "/" in name or "\\" in name or name.startswith("."):
        st.session_state["train_error"] = f"Checkpoint file: a plain file name such as '{model}.pt', got '{name}'."
        return
    try:
        spec = jobs.JobSpec(selection.dataset_path, model, ui.parse_params_text(params_text), preset,
                            str(checkpoint_root() / selection.dataset_name / name))
        job_id = jobs.start_job(spec, ui.jobs_root())
    except Exception as exc:  # noqa: BLE001 - the CLI's messages, shown as they are
        st.session_state["train_error"] = str(exc)
        return
    st.session_state.pop("train_error", None)
    st.session_state["train_started"] = job_id


st.button("Start training", type="primary", on_click=start, icon=":material/play_arrow:")
if st.session_state.get("train_error"):
    st.error(st.session_state["train_error"])
elif st.session_state.get("train_started"):
    st.success(f"Started job {st.session_state['train_started']}.")

st.subheader("Jobs")


@st.fragment(run_every=2)
def job_list() -> None:
    views = jobs.list_jobs(ui.jobs_root())
    if not views:
        st.caption("No training jobs yet.")
    for view in views[:10]:
        ui.job_panel(view)
    if len(views) > 10:
        st.caption(f"{len(views) - 10} older jobs under `{display_path(ui.jobs_root())}` are not shown.")


job_list()

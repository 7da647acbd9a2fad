"""How it works: the offline pipeline and the online inference path."""

import streamlit as st

from sessrec.ui import diagrams, sidebar
from sessrec.ui.shell import ensure_app_shell

ensure_app_shell()  # first: a deep link to a fresh server runs this page without app.py

sidebar.current()
st.title("How it works")
st.markdown(
    "**sessrec** answers one question with every model: *given the items of a session so far, how good is every "
    "catalogue item as the next one?* The same streaming interface (`init_state` → `step` → `scores`) drives the "
    "evaluator over thousands of test sessions in parallel and this app one click at a time, so the demo shows "
    "exactly what the benchmark measured."
)
st.subheader("Offline: from raw logs to checkpoints and benchmark numbers")
st.graphviz_chart(diagrams.offline_pipeline(), width="stretch")
st.caption("Commands: `python -m sessrec prepare …` → `train` → `evaluate` / `benchmark`; "
           "`python -m sessrec demo` builds the demo dataset and its checkpoints.")
st.subheader("Known users: training and serving the user-context models")
st.caption("Offline steps in blue, online steps in yellow, database steps in green, model steps in purple, "
           "decisions in red. The same flow as Mermaid code is below, to paste into a document.")
st.graphviz_chart(diagrams.user_system_graphviz(), width="stretch")
with st.expander("Mermaid flowchart code"):
    st.code(diagrams.user_system_mermaid(), language="text")
    st.download_button("Download .mmd", diagrams.user_system_mermaid(), file_name="sessrec-user-system.mmd",
                       mime="text/plain", key="hw_mermaid")
st.subheader("Online: one click in the playground")
st.graphviz_chart(diagrams.online_inference(), width="stretch")
st.markdown(
    "- **Evaluation protocol.** For every position *p ≥ 1* of each test session (*p ≥ 2* on RetailRocket, as "
    "its published protocol) the model has read items *0..p−1* and ranks the **whole** training catalogue, never "
    "a sample; the rank of the true item *p* gives Recall@k (= HitRate@k), MRR@k and NDCG@k for k = 1, 5, 10, 20. "
    "Ties use GRU4Rec's modes; the default, `median`, gives a tied target its expected rank under random "
    "tie-breaking (`standard`, used by published GRU4Rec numbers, would give count-based baselines the best rank of "
    "every tie); the mode and the share of tied targets are stated with every result. Test items never seen in "
    "training are removed before evaluation and counted on the Benchmarks page.\n"
    "- **Instant updates.** Each model keeps the state of the session's prefixes, so a click costs one step per "
    "model, not a re-read of the session; and only the part of the page that a click changes is re-run "
    "(a Streamlit fragment), the charts only when opened.\n"
    "- **Graceful degradation.** A missing, unreadable or mismatched checkpoint never stops the demo: the "
    "popularity ranking stands in and the page says so."
)

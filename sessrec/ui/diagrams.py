"""The two pictures of the "How it works" page, as Graphviz DOT kept next to the code."""

from __future__ import annotations

_STYLE = """
  graph [rankdir=LR, fontname="Helvetica", fontsize=14, nodesep=0.35, ranksep=0.45, bgcolor="transparent"];
  node  [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=14, color="#adb5bd", fillcolor="#f8f9fa", margin="0.18,0.08"];
  edge  [color="#868e96", fontname="Helvetica", fontsize=12, arrowsize=0.7];
"""


def offline_pipeline() -> str:
    """Raw data to checkpoint and benchmark numbers (``python -m sessrec ...``)."""
    return "digraph offline {" + _STYLE.replace("rankdir=LR", "rankdir=TB") + """
  raw   [label="Raw logs\\nYOOCHOOSE · Diginetica · RetailRocket\\nor the synthetic demo shop", fillcolor="#e7f5ff", color="#74c0fc"];
  prep  [label="Preprocessing\\nsessions · min support / length\\ntime split: train | test\\n(sessrec.data)"];
  ds    [label="Dataset folder\\ndata/<name>/\\ntrain · test · dataset.json", shape=folder, fillcolor="#fff9db", color="#fcc419"];
  subgraph cluster_train {
    label="Training (sessrec.models · sessrec.experiments)"; style="rounded,dashed"; color="#ced4da"; fontsize=11;
    batch [label="session-parallel\\nmini-batches"];
    step  [label="GRU step +\\nloss on sampled negatives\\n(cross-entropy / BPR-max)", fillcolor="#fff0f6", color="#f783ac"];
    opt   [label="Adagrad\\nupdate"];
    batch -> step -> opt;
    opt -> batch [label="next batch · epoch", style=dashed];
  }
  base  [label="Baselines fit\\nMostPopular · LastItem · Item-KNN"];
  ckpt  [label="Checkpoint\\ncheckpoints/<dataset>/<model>.pt\\nweights + item map + training log", shape=cylinder, fillcolor="#ebfbee", color="#69db7c"];
  eval  [label="Evaluation (sessrec.evaluation)\\nevery test position · full ranking\\nRecall / MRR / NDCG @ 1,5,10,20"];
  res   [label="Run records\\nresults/<dataset>/*.json\\n+ per-event ranks", shape=note, fillcolor="#f3f0ff", color="#b197fc"];
  app   [label="This app\\nBenchmarks · Training curves", fillcolor="#fff0f6", color="#f783ac"];
  raw -> prep -> ds;
  ds -> batch [label="train split"];
  ds -> base;
  opt -> ckpt [label="after the last epoch"];
  base -> ckpt;
  ckpt -> eval;
  ds -> eval [label="test split"];
  eval -> res -> app;
}
"""


def online_inference() -> str:
    """One click in the playground, through every model, to the top-k lists (drawn top to
    bottom: left to right it is too wide to read at page width)."""
    return "digraph online {" + _STYLE.replace("rankdir=LR", "rankdir=TB") + """
  click [label="Click on an item\\n(catalogue or a recommendation)", shape=oval, fillcolor="#e7f5ff", color="#74c0fc"];
  state [label="Session state\\nst.session_state + URL ?session=…\\n(one per browser tab)", fillcolor="#fff9db", color="#fcc419"];
  cache [label="Prefix-state cache\\nin each model (recommend)\\nsession[:-1] already computed", shape=cylinder];
  subgraph cluster_models {
    label="Models: loaded once per process, shared by all tabs (st.cache_resource)"; style="rounded,dashed"; color="#ced4da"; fontsize=11;
    gru  [label="GRU4Rec\\none GRU step → hidden state\\nscores = state · item embeddings", fillcolor="#fff0f6", color="#f783ac"];
    pop  [label="MostPopular\\ntraining click counts"];
    last [label="LastItem\\ntransitions from the last item"];
    knn  [label="Item-KNN\\nco-occurrence similarity\\nto the last item"];
  }
  fallback [label="Popularity fallback\\nwhen a checkpoint is missing,\\nunreadable or for another dataset", shape=note, fillcolor="#f8f9fa", color="#adb5bd", fontcolor="#495057"];
  topk [label="Top-k per model\\n(exclude clicked items?)\\nlists with scores; charts on request", shape=oval, fillcolor="#ebfbee", color="#69db7c"];
  click -> state -> cache;
  cache -> gru; cache -> pop; cache -> last; cache -> knn;
  fallback -> gru [style=dashed, arrowhead=empty, label="stands in"];
  gru -> topk; pop -> topk; last -> topk; knn -> topk;
  topk -> click [style=dashed, label="next click", constraint=false];
}
"""

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


def _quoted(text: str) -> str:
    """Text for a Graphviz label: quotes and backslashes escaped."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _model_nodes() -> tuple[list[str], list[str]]:
    """Graphviz nodes of every registered session model, one per family (the subject model on
    its own), and their ids; read from the registry when drawn, so a model registered later
    appears too."""
    from sessrec.models.registry import FAMILIES, SESSION, models_of

    specs = models_of(SESSION)
    nodes, ids = [], []
    for spec in (s for s in specs if s.subject):
        ids.append("m_subject")
        nodes.append(f'    m_subject [label="{_quoted(spec.label)}\\n{_quoted(spec.scores)}", '
                     'fillcolor="#fff0f6", color="#f783ac"];')
    for family, title in FAMILIES.items():
        names = [s.label for s in specs if s.family == family and not s.subject]
        if names:
            rows = [" · ".join(names[i:i + 3]) for i in range(0, len(names), 3)]
            ids.append(f"m_{family}")
            nodes.append(f'    m_{family} [label="{_quoted(title)}\\n' + "\\n".join(map(_quoted, rows)) + '"];')
    return nodes, ids


def online_inference() -> str:
    """One click in the playground, through every registered model, to the top-k lists (drawn top
    to bottom: left to right it is too wide to read at page width)."""
    nodes, ids = _model_nodes()
    edges = "".join(f"  cache -> {i};\n  {i} -> topk;\n" for i in ids)
    return "digraph online {" + _STYLE.replace("rankdir=LR", "rankdir=TB") + """
  click [label="Click on an item\\n(catalogue or a recommendation)", shape=oval, fillcolor="#e7f5ff", color="#74c0fc"];
  state [label="Session state\\nst.session_state + URL ?session=…\\n(one per browser tab)", fillcolor="#fff9db", color="#fcc419"];
  cache [label="Prefix-state cache\\nin each model (recommend)\\nsession[:-1] already computed", shape=cylinder];
  subgraph cluster_models {
    label="Every registered model, by family: loaded once per process, shared by all tabs (st.cache_resource)"; style="rounded,dashed"; color="#ced4da"; fontsize=11;
""" + "\n".join(nodes) + """
  }
  fallback [label="Popularity fallback\\nwhen a checkpoint is missing,\\nunreadable or for another dataset", shape=note, fillcolor="#f8f9fa", color="#adb5bd", fontcolor="#495057"];
  topk [label="Top-k per model\\n(exclude clicked items?)\\nlists with scores; charts on request", shape=oval, fillcolor="#ebfbee", color="#69db7c"];
  click -> state -> cache;
""" + edges + f"""  fallback -> {ids[0] if ids else "topk"} [style=dashed, arrowhead=empty, label="stands in for any model"];
  topk -> click [style=dashed, label="next click", constraint=false];
}}
"""


# -- the user-context system: one description, drawn as Graphviz here and offered as Mermaid --------
#: node kinds and their colours: offline steps, online steps, database steps, model steps, decisions
USER_SYSTEM_KINDS: dict[str, tuple[str, str]] = {
    "offline": ("#dbe4ff", "#364fc7"), "online": ("#fff3bf", "#e67700"), "database": ("#d3f9d8", "#2b8a3e"),
    "model": ("#f3d9fa", "#862e9c"), "decision": ("#ffe3e3", "#c92a2a"),
}
#: (id, label, kind)
USER_SYSTEM_NODES: list[tuple[str, str, str]] = [
    ("raw", "Raw interactions, items, users", "offline"),
    ("clean", "Clean: missing values, duplicates (counts printed)", "offline"),
    ("encode", "Encode users, items, context values", "offline"),
    ("split", "Split 80/20 per user, test from a positive", "offline"),
    ("epoch", "Epoch: fresh negatives, Adam on BCE", "model"),
    ("more", "More epochs?", "decision"),
    ("ckpt", "Checkpoint: weights + JSON config + encoders", "offline"),
    ("evaluate", "Evaluate: leave-one-out, 99 negatives; P@10, MAP@10, HR, NDCG, AUC, RMSE", "offline"),
    ("db_load", "Database: products, users, interactions, encoders", "database"),
    ("request", "Request: user + context (or now)", "online"),
    ("cache", "Cached answer for user, context, model versions?", "decision"),
    ("db_cache", "Database: read the cache", "database"),
    ("load", "Load models, encoders, configs; encode the request", "online"),
    ("bmf", "BMF", "model"), ("neumf", "NeuMF", "model"), ("encm", "ENCM", "model"), ("lncm", "LNCM", "model"),
    ("judge", "Judge each top-10 on held-out positives: P@10, MAP@10", "online"),
    ("usable", "A model ran and can be judged?", "decision"),
    ("best", "Pick the best by MAP@10, then P@10", "online"),
    ("fallback", "Fallback: rating 45%, count 15%, views 15%, discount 15%, intent 10%; backfill category, brand, popular",
     "online"),
    ("db_write", "Database: write the cache and model_runs", "database"),
    ("answer", "Answer: products with name, price, category", "online"),
]
#: (from, to, label)
USER_SYSTEM_EDGES: list[tuple[str, str, str]] = [
    ("raw", "clean", ""), ("clean", "encode", ""), ("encode", "split", ""), ("split", "epoch", "train"),
    ("epoch", "more", ""), ("more", "epoch", "yes"), ("more", "ckpt", "no"), ("ckpt", "evaluate", ""),
    ("split", "db_load", "load"), ("request", "cache", ""), ("cache", "db_cache", "yes"), ("db_cache", "answer", ""),
    ("cache", "load", "no"), ("ckpt", "load", "models"), ("load", "bmf", "in parallel"), ("load", "neumf", ""),
    ("load", "encm", ""), ("load", "lncm", ""), ("bmf", "judge", ""), ("neumf", "judge", ""), ("encm", "judge", ""),
    ("lncm", "judge", ""), ("judge", "usable", ""), ("usable", "best", "yes"), ("usable", "fallback", "no"),
    ("db_load", "fallback", "product statistics"), ("best", "db_write", ""), ("fallback", "db_write", ""),
    ("db_write", "answer", ""),
]


def user_system_mermaid() -> str:
    """The user-context system's training and inference flow as Mermaid flowchart code."""
    lines = ["flowchart TD"]
    for node, label, kind in USER_SYSTEM_NODES:
        text = label.replace('"', "'")
        shape = f'{{"{text}"}}' if kind == "decision" else (f'[("{text}")]' if kind == "database" else f'["{text}"]')
        lines.append(f"    {node}{shape}:::{kind}")
    for source, target, label in USER_SYSTEM_EDGES:
        lines.append(f"    {source} -->|{label}| {target}" if label else f"    {source} --> {target}")
    for kind, (fill, stroke) in USER_SYSTEM_KINDS.items():
        lines.append(f"    classDef {kind} fill:{fill},stroke:{stroke},color:#212529")
    return "\n".join(lines) + "\n"


def user_system_graphviz() -> str:
    """The same flow as Graphviz DOT, for the page (Streamlit draws DOT without a network)."""
    lines = ["digraph {", "  rankdir=TB; nodesep=0.3; ranksep=0.35;",
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];']
    for node, label, kind in USER_SYSTEM_NODES:
        fill, stroke = USER_SYSTEM_KINDS[kind]
        shape = {"decision": "diamond", "database": "cylinder"}.get(kind, "box")
        lines.append(f'  {node} [label="{label}", shape={shape}, fillcolor="{fill}", color="{stroke}"];')
    for source, target, label in USER_SYSTEM_EDGES:
        lines.append(f'  {source} -> {target} [label="{label}", fontsize=10];' if label else f"  {source} -> {target};")
    return "\n".join(lines + ["}"])

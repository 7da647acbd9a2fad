"""The playground's recommendation lists as one light custom component.

Drawing each recommendation as an ``st.button`` made the browser re-render dozens of
React widgets (with tooltips) after every click: that, not the models, was most of the
wait (see ``scripts/bench_playground.py --trace``). Here every list of a page region is
plain HTML drawn by a few lines of JavaScript (``st.components.v2``, no iframe); a click
on a row sends the item id back as a trigger value and the same ``live.add_item``
callback as the buttons runs before the re-run.

:func:`list_view` builds what a list shows (pure Python, tested without a browser);
:func:`show` mounts the component.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from sessrec.ui import live
from sessrec.ui.playground import RecList

#: the trigger a click on a row sends (``on_pick_change``)
PICK = "pick"

_CSS = """
.sr-lists { display: grid; gap: 0.75rem 2rem; font-family: var(--st-font); }
.sr-lists.sr-cols-1 { grid-template-columns: 1fr; }
.sr-lists.sr-cols-3 { grid-template-columns: repeat(3, minmax(0, 1fr)); }
.sr-list h4 { margin: 0 0 0.15rem 0; font-size: 1.3rem; font-weight: 600; padding: 0; }
.sr-list .sr-label { font-weight: 600; margin-bottom: 0.1rem; }
.sr-list .sr-caption { color: var(--st-text-color); opacity: 0.6; font-size: 0.875rem; margin-bottom: 0.35rem;
  overflow-wrap: anywhere; }
.sr-list ol { list-style: none; margin: 0; padding: 0; }
.sr-list button { all: unset; box-sizing: border-box; display: flex; width: 100%; gap: 0.4rem; cursor: pointer;
  padding: 0.2rem 0.35rem; border-radius: var(--st-base-radius); line-height: 1.5; }
.sr-list button:hover, .sr-list button:focus-visible { background: var(--st-secondary-background-color);
  color: var(--st-primary-color); }
.sr-list .sr-name { flex: 1 1 auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.sr-list .sr-star { color: var(--st-primary-color); margin-left: 0.3rem; }
.sr-list .sr-change { margin-left: 0.3rem; font-size: 0.75rem; font-weight: 600; }
.sr-list .sr-change.sr-new { padding: 0 0.3rem; border-radius: var(--st-base-radius);
  background: var(--st-primary-color); color: #fff; }
.sr-list .sr-score { flex: 0 0 auto; opacity: 0.6; font-variant-numeric: tabular-nums; }
.sr-list .sr-note { font-style: italic; opacity: 0.75; padding: 0.2rem 0.35rem; }
"""

# Rows are built with DOM calls and textContent only (names come from data files).
_JS = """
export default function ({ data, parentElement, setTriggerValue }) {
  let root = parentElement.querySelector(":scope > .sr-lists");
  if (!root) {
    root = document.createElement("div");
    root.addEventListener("click", (event) => {
      const row = event.target.closest("button[data-item]");
      if (row) setTriggerValue("pick", Number(row.dataset.item));
    });
    parentElement.appendChild(root);
  }
  root.className = `sr-lists sr-cols-${data.columns}`;
  const el = (tag, cls, text) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const lists = data.lists.map((list) => {
    const box = el("section", "sr-list");
    box.dataset.recList = list.role;
    box.append(list.heading ? el("h4", "", list.heading) : el("div", "sr-label", list.label));
    box.append(el("div", "sr-caption", list.caption));
    if (list.meaning) box.append(el("div", "sr-caption", `Scores: ${list.meaning}`));
    if (list.note) {
      box.append(el("div", "sr-note", list.note));
      return box;
    }
    const ol = el("ol");
    for (const row of list.rows) {
      const button = el("button");
      button.type = "button";
      button.dataset.item = row.id;
      button.title = row.title;
      const name = el("span", "sr-name");
      name.append(el("b", "", `${row.rank}.`), ` ${row.name}`);
      if (row.star) name.append(el("span", "sr-star", "★"));
      if (row.change) name.append(el("span", row.change === "new" ? "sr-change sr-new" : "sr-change", row.change));
      button.append(name, el("span", "sr-score", row.score));
      const li = el("li");
      li.append(button);
      ol.append(li);
    }
    box.append(ol);
    return box;
  });
  root.replaceChildren(...lists);
}
"""

_COMPONENT = None


def _component():
    global _COMPONENT
    if _COMPONENT is None:  # registered once per process, on first use
        _COMPONENT = st.components.v2.component("sessrec_rec_lists", css=_CSS, js=_JS, isolate_styles=False)
    return _COMPONENT


def fmt_score(value: float, integral: bool = False) -> str:
    """Scores of any model readable at a glance: counts as integers, similarities with 3 digits.

    ``integral``: the whole list holds counts, so every score is shown without decimals.
    """
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        return str(value)
    if integral or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}" if abs(value) >= 0.001 or value == 0 else f"{value:.1e}"


def caption(rec: RecList) -> str:
    slot = rec.slot
    text = ("popularity fallback" if slot.is_fallback else slot.source) + f" · {rec.seconds * 1000:.1f} ms"
    if rec.unknown_items:
        text += f" · skipped {len(rec.unknown_items)} session item(s) it does not know"
    return text


def change_badge(change: str) -> str:
    """A list change from :func:`sessrec.experiments.analysis.explain.list_changes` as a short badge."""
    if not change or change == "left":
        return ""
    if change == "new":
        return "new"
    direction, steps = change.split()
    return f"{'↑' if direction == 'up' else '↓'}{steps}"


def no_ranking_note(rec: RecList, negative_is_fallback: bool = False) -> str | None:
    """One line instead of the rows when the list ranks nothing, else ``None``.

    A model whose every shown score is equal (SR-GNN or VSTAN before the first click) or, for a
    model whose negative scores mean "no evidence, ranked by popularity", every shown score
    negative (LastItem before the first click) would otherwise show an arbitrary or borrowed
    order as if it were its own. The popularity fallback column is a ranking and keeps its rows.
    """
    scores = rec.items["Score"].to_numpy(float)
    if rec.slot.is_fallback or len(scores) < 2:
        return None
    if np.all(scores == scores[0]):
        return (f"Nothing to rank yet: {rec.slot.label} gives every item the same score "
                f"({scores[0]:.3g}) for this session.")
    if negative_is_fallback and np.all(scores < 0):
        return (f"No evidence yet: {rec.slot.label} has nothing to go on for this session and would only "
                "repeat the popularity ranking.")
    return None


def list_view(rec: RecList, *, heading: str | None = None, highlight: set[int] | None = None,
              changes: dict[int, str] | None = None, negative_is_fallback: bool = False,
              meaning: str = "") -> dict[str, Any]:
    """What one list shows, as plain JSON: heading, caption, what its scores mean and one row
    per recommendation, or a ``note`` and no rows when it ranks nothing (:func:`no_ranking_note`).

    Scores are formatted as in the rest of the app (counts without decimals); a negative
    score of a model whose negative scores mean "no evidence, ranked by popularity" reads
    ``by popularity``. ``star``: the item is in ``highlight`` (the main model's top-k);
    ``change``: how the last edit of the session moved it (``new``, ``↑2``, ``↓1`` or empty).
    """
    scores = rec.items["Score"].to_numpy(float)
    integral = bool(len(scores)) and bool(np.all(np.isfinite(scores) & (np.mod(scores, 1) == 0)))
    fallback_marks = negative_is_fallback and not rec.slot.is_fallback
    rows = []
    frame = rec.items
    for rank, item, name, category, score in zip(frame["Rank"].tolist(), frame["ItemId"].tolist(),
                                                 frame["Name"].tolist(), frame["Category"].tolist(), scores.tolist()):
        rows.append({
            "id": item, "rank": rank, "name": str(name), "star": highlight is not None and item in highlight,
            "change": change_badge((changes or {}).get(item, "")),
            "score": "by popularity" if fallback_marks and score < 0 else fmt_score(score, integral),
            "title": f"{name} · {category} · id {item} · score {score:.5g} — click to add",
        })
    note = no_ranking_note(rec, negative_is_fallback)
    return {"role": rec.slot.role, "label": rec.slot.label, "heading": heading, "caption": caption(rec),
            "meaning": meaning, "note": note, "rows": [] if note else rows}


def show(views: list[dict[str, Any]], dataset_path: str, key: str, columns: int = 1) -> None:
    """Draw ``views`` (from :func:`list_view`) in ``columns`` columns; a click adds the item."""
    def picked() -> None:
        item = st.session_state[key].get(PICK)
        if item is not None:
            live.add_item(dataset_path, int(item))

    _component()(data={"lists": views, "columns": columns}, key=key, on_pick_change=picked)

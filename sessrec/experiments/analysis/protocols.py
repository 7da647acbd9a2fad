"""Full ranking against sampled negatives: does the order of models change?

A run evaluated with ``--protocol sampled`` (:mod:`sessrec.evaluation.sampled`) holds, for
the same test events and the same scores, the full-ranking metrics
(``evaluation.metrics``) and the sampled ones (``evaluation.sampled.metrics``). This
module puts them side by side per dataset: each model's value and rank (1 = best) under
both protocols, which pairs of models swap order, and Kendall's tau between the two
orders (1: same order, -1: reversed).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from sessrec.experiments.records import protocol_of, sampled_records

#: metrics a sampled record has under both protocols (names as in the records)
COMPARABLE_METRICS: tuple[str, ...] = ("recall", "mrr", "ndcg", "precision", "map")


def variants(records: list[dict[str, Any]], dataset: str | None = None) -> list[str]:
    """The sampled protocol variants (``sampled-uniform-99``, ...) with runs on ``dataset`` (all datasets: None)."""
    return sorted({protocol_of(r) for r in sampled_records(records) if dataset is None or r["dataset"] == dataset})


def datasets_with_sampled(records: list[dict[str, Any]]) -> list[str]:
    return sorted({r["dataset"] for r in sampled_records(records)})


def variant_settings(records: list[dict[str, Any]], variant: str) -> dict[str, Any]:
    """Negatives, sampling, sampler (records without one used sampler 1) and the seeds used by the
    runs of ``variant``."""
    blocks = [r["evaluation"]["sampled"] for r in sampled_records(records) if protocol_of(r) == variant]
    if not blocks:
        return {}
    return {"negatives": blocks[0].get("negatives"), "sampling": blocks[0].get("sampling"),
            "sampler": blocks[0].get("sampler", 1), "seeds": sorted({b.get("seed") for b in blocks}, key=str)}


def comparison_table(records: list[dict[str, Any]], dataset: str, variant: str, metric: str = "recall",
                     k: int = 10, full_k: int | None = None) -> pd.DataFrame:
    """One row per model (run label) with the full-ranking and the sampled value of ``metric``
    (mean over the runs' seeds) and the model's rank under each protocol.

    ``k`` is the sampled cut-off, ``full_k`` the full-ranking one (default: the same).
    Columns: ``label, runs, full, sampled, full_rank, sampled_rank, change``; ranks are 1 for
    the best model (equal values share the better rank); ``change`` = ``full_rank -
    sampled_rank`` (positive: the model looks better under sampling). Sorted by full rank.
    """
    full_k = k if full_k is None else full_k
    rows = []
    for r in sampled_records(records):
        if r["dataset"] != dataset or protocol_of(r) != variant:
            continue
        full = r["evaluation"]["metrics"].get(f"{metric}@{full_k}")
        sampled = r["evaluation"]["sampled"]["metrics"].get(f"{metric}@{k}")
        if full is None or sampled is None:
            continue
        rows.append({"label": r.get("label", r["model"]), "model": r["model"], "full": full, "sampled": sampled})
    columns = ["label", "model", "runs", "full", "sampled", "full_rank", "sampled_rank", "change"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows).groupby(["label", "model"], as_index=False).agg(
        runs=("full", "size"), full=("full", "mean"), sampled=("sampled", "mean"))
    frame["full_rank"] = frame["full"].rank(ascending=False, method="min").astype(int)
    frame["sampled_rank"] = frame["sampled"].rank(ascending=False, method="min").astype(int)
    frame["change"] = frame["full_rank"] - frame["sampled_rank"]
    return frame.sort_values(["full_rank", "sampled_rank", "label"]).reset_index(drop=True)[columns]


def swapped_pairs(table: pd.DataFrame) -> list[tuple[str, str]]:
    """Pairs ``(a, b)`` where full ranking puts ``a`` strictly above ``b`` and sampling puts
    ``b`` strictly above ``a`` (discordant pairs of :func:`comparison_table`)."""
    out = []
    for (_, a), (_, b) in combinations(table.iterrows(), 2):
        full = np.sign(a["full"] - b["full"])
        sampled = np.sign(a["sampled"] - b["sampled"])
        if full * sampled < 0:
            out.append((a["label"], b["label"]) if full > 0 else (b["label"], a["label"]))
    return out


def kendall_tau(table: pd.DataFrame) -> float:
    """Kendall's tau-a between the full and the sampled order: (concordant - discordant) /
    all pairs; pairs tied under either protocol count as neither. NaN for fewer than 2 models."""
    n = len(table)
    if n < 2:
        return float("nan")
    full = table["full"].to_numpy()
    sampled = table["sampled"].to_numpy()
    signs = [np.sign(full[i] - full[j]) * np.sign(sampled[i] - sampled[j]) for i, j in combinations(range(n), 2)]
    return float(np.sum(signs) / len(signs))


def order_summary(records: list[dict[str, Any]], metric: str = "recall", k: int = 10,
                  full_k: int | None = None) -> pd.DataFrame:
    """Per dataset and sampled variant: models compared, swapped pairs, Kendall's tau, and the
    best model under each protocol."""
    rows = []
    for dataset in datasets_with_sampled(records):
        for variant in variants(records, dataset):
            table = comparison_table(records, dataset, variant, metric, k, full_k)
            if table.empty:
                continue
            pairs = swapped_pairs(table)
            rows.append({
                "dataset": dataset, "variant": variant, "models": len(table), "pairs": len(table) * (len(table) - 1) // 2,
                "swapped": len(pairs), "kendall_tau": kendall_tau(table),
                "best_full": ", ".join(table.loc[table["full_rank"] == 1, "label"]),
                "best_sampled": ", ".join(table.loc[table["sampled_rank"] == 1, "label"]),
                "swapped_pairs": "; ".join(f"{a} > {b} becomes {b} > {a}" for a, b in pairs),
            })
    return pd.DataFrame(rows, columns=["dataset", "variant", "models", "pairs", "swapped", "kendall_tau",
                                       "best_full", "best_sampled", "swapped_pairs"])


def slope_frame(table: pd.DataFrame, full_name: str = "Full ranking", sampled_name: str = "Sampled") -> pd.DataFrame:
    """Long form of :func:`comparison_table` for a slope chart: label, protocol, rank, value, moved."""
    if table.empty:
        return pd.DataFrame(columns=["label", "protocol", "rank", "value", "moved"])
    moved = table["change"] != 0
    parts = [
        pd.DataFrame({"label": table["label"], "protocol": full_name, "rank": table["full_rank"],
                      "value": table["full"], "moved": moved}),
        pd.DataFrame({"label": table["label"], "protocol": sampled_name, "rank": table["sampled_rank"],
                      "value": table["sampled"], "moved": moved}),
    ]
    return pd.concat(parts, ignore_index=True)


#: (protocol, metric, name) of the side-by-side table: full ranking first, then the sampled metrics papers report
SIDE_BY_SIDE: tuple[tuple[str, str, str], ...] = (
    ("full", "recall", "Recall"), ("full", "mrr", "MRR"), ("full", "precision", "Precision"), ("full", "map", "MAP"),
    ("sampled", "recall", "HitRate"), ("sampled", "mrr", "MRR"), ("sampled", "ndcg", "NDCG"),
    ("sampled", "precision", "Precision"), ("sampled", "map", "MAP"),
)


def side_by_side(records: list[dict[str, Any]], dataset: str, variant: str, k: int = 10) -> pd.DataFrame:
    """Every model (rows, by label) with its full-ranking and sampled metrics at ``k`` (mean over
    runs), from the same runs; columns named ``Full Recall@10``, ``Sampled HitRate@10``, ..."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for r in sampled_records(records):
        if r["dataset"] != dataset or protocol_of(r) != variant:
            continue
        blocks = {"full": r["evaluation"]["metrics"], "sampled": r["evaluation"]["sampled"]["metrics"]}
        values = {f"{protocol.capitalize()} {name}@{k}": blocks[protocol].get(f"{metric}@{k}", np.nan)
                  for protocol, metric, name in SIDE_BY_SIDE}
        rows.setdefault(r.get("label", r["model"]), []).append(values)
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame({label: pd.DataFrame(v).mean() for label, v in rows.items()}).T
    return frame.sort_values(f"Full Recall@{k}", ascending=False)


def full_rank_equivalent(n_items: int, negatives: int, k: int) -> float:
    """The full rank up to which a target is, on average, a sampled hit at ``k`` under uniform sampling.

    A target at full rank ``r`` (no ties) has ``(r - 1) * negatives / (n_items - 1)`` of its
    uniformly drawn negatives above it on average; that reaches ``k - 0.5`` at
    ``r = 1 + (k - 0.5) * (n_items - 1) / negatives``. So sampled HitRate@k estimates full
    Recall at about this cut-off (Krichene & Rendle's point: a small sampled k is a large full k).
    """
    return 1.0 + (k - 0.5) * (n_items - 1) / negatives


def catalogue_size(records: list[dict[str, Any]], dataset: str) -> int | None:
    """The catalogue size the sampled runs on ``dataset`` ranked over (None when not recorded)."""
    sizes = {r["evaluation"].get("n_items") for r in sampled_records(records) if r["dataset"] == dataset}
    sizes.discard(None)
    return int(max(sizes)) if sizes else None


def sampled_markdown(records: list[dict[str, Any]], k: int = 10) -> str:
    """Markdown tables of the sampled-protocol runs: each model's full-ranking Recall@k and
    MRR@k beside its sampled HitRate@k and MRR@k from the same run, its rank under both
    (by Recall / HitRate) and how the ranking moved; one table per dataset and sampling scheme."""
    parts = []
    for dataset in datasets_with_sampled(records):
        for variant in variants(records, dataset):
            settings = variant_settings(records, variant)
            recall = comparison_table(records, dataset, variant, "recall", k)
            mrr = comparison_table(records, dataset, variant, "mrr", k).set_index("label")
            pairs = swapped_pairs(recall)
            lines = [f"**{dataset}**, {settings['negatives']} {settings['sampling']} negatives "
                     f"(seed {', '.join(map(str, settings['seeds']))}, sampler {settings['sampler']}), k = {k}; "
                     f"Kendall's tau (Recall vs HitRate) "
                     f"{kendall_tau(recall):.2f}, {len(pairs)} of {len(recall) * (len(recall) - 1) // 2} pairs swapped",
                     "", f"| model | full Recall@{k} | full MRR@{k} | sampled HitRate@{k} | sampled MRR@{k} | "
                     "rank full | rank sampled |", "|---|---|---|---|---|---|---|"]
            for _, row in recall.iterrows():
                change = int(row["change"])
                move = "" if change == 0 else (f" (↑{change})" if change > 0 else f" (↓{-change})")
                lines.append(f"| {row['label']} | {row['full']:.4f} | {mrr.loc[row['label'], 'full']:.4f} | "
                             f"{row['sampled']:.4f} | {mrr.loc[row['label'], 'sampled']:.4f} | {row['full_rank']} | "
                             f"{row['sampled_rank']}{move} |")
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


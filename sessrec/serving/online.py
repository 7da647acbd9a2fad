"""The online path of the user-context task: one user, one context, one answer.

:meth:`OnlineRecommender.recommend` does, in order:

1. **cache**: a stored answer for (dataset, user, context, model versions, k) younger than
   ``max_age_s`` is returned as it is (``source == "cache"``);
2. **models in parallel**: the four trained models (BMF, NeuMF, ENCM, LNCM, read from their
   checkpoints once, at :meth:`OnlineRecommender.open`) score every active item (those the
   user has not interacted with in training) in a thread pool, each timed;
3. **choice**: each model's top-k is scored against the user's held-out positives (the
   test part of the split): Precision@k and AP@k; the best by AP, then precision, then
   registry order, is chosen;
4. **fallback**: a model that is missing, unreadable or fails gets, in its column, the
   heuristic list with its own weight variant (:data:`FALLBACK_WEIGHTS`); when no model
   ran, or the user has no held-out positive to judge them by (a new user, an empty
   history), the default heuristic is the answer (``source == "fallback"``). The heuristic
   scores a product by rating 45 % + rating count 15 % + views 15 % + discount 15 % +
   purchase intent 10 % (each scaled to 0-1 over the catalogue), first among the
   categories and brands of the user's positives, backfilled with the most popular items;
5. **record**: the answer goes to the cache and one ``model_runs`` row per model.

Nothing here raises for a bad request: an unknown user, an unknown context value, a
missing or corrupt model and an unreachable database each add a message to the answer
and take the fallback where they must. The database is optional: without one the
product statistics come from the dataset's files and nothing is cached.
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sessrec.data.context import context_now
from sessrec.data.user_data import UserDataset, load_user_dataset
from sessrec.errors import CheckpointError, ParameterError
from sessrec.models.io import model_class
from sessrec.models.registry import USER_CONTEXT, models_of
from sessrec.models.io import read_user_checkpoint
from sessrec.serving.store import Store, StoreError, product_table

#: the heuristic's weights: the default, and one variant per model (its column when it fails)
FALLBACK_WEIGHTS: dict[str, dict[str, float]] = {
    "default": {"rating": 0.45, "rating_count": 0.15, "views": 0.15, "discount": 0.15, "intent": 0.10},
    "bmf": {"rating": 0.55, "rating_count": 0.15, "views": 0.10, "discount": 0.10, "intent": 0.10},
    "neumf": {"rating": 0.40, "rating_count": 0.20, "views": 0.20, "discount": 0.10, "intent": 0.10},
    "encm": {"rating": 0.35, "rating_count": 0.10, "views": 0.15, "discount": 0.20, "intent": 0.20},
    "lncm": {"rating": 0.45, "rating_count": 0.10, "views": 0.15, "discount": 0.15, "intent": 0.15},
}
FALLBACK = "fallback"
DEFAULT_MAX_AGE_S = 24 * 3600.0


def parse_context(pairs: list[str]) -> dict[str, str]:
    """``["time_of_day=evening", ...]`` -> ``{"time_of_day": "evening"}``; a clear error otherwise."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ParameterError(f"--context {pair!r}: expected FEATURE=VALUE, e.g. time_of_day=evening")
        out[key.strip()] = value.strip()
    return out


@dataclass
class ModelAnswer:
    """One model's column: its list, time and judgement, or why it has none."""

    model: str
    label: str
    status: str  # "ok", "missing", "failed" (the list is then the heuristic's variant)
    seconds: float = 0.0
    items: list[dict[str, Any]] = field(default_factory=list)  # item_id, name, category, brand, price, score
    precision: float | None = None
    average_precision: float | None = None
    message: str = ""


@dataclass
class Answer:
    """What :meth:`OnlineRecommender.recommend` returns (and what the cache stores)."""

    dataset: str
    user_id: int
    context: dict[str, str]
    k: int
    source: str  # "models", "fallback" or "cache"
    chosen: str  # a model name or "fallback"
    lists: list[ModelAnswer]
    fallback: list[dict[str, Any]]
    messages: list[str]
    held_out: list[int]
    seconds: float = 0.0

    @property
    def recommendations(self) -> list[dict[str, Any]]:
        """The chosen list with product details."""
        if self.chosen == FALLBACK:
            return self.fallback
        return next(m.items for m in self.lists if m.model == self.chosen)

    def to_payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "Answer":
        lists = [ModelAnswer(**m) for m in payload["lists"]]
        return cls(**{**payload, "lists": lists})

    def report_lines(self) -> list[str]:
        """The answer as text, for the CLI."""
        lines = [f"user {self.user_id} in {', '.join(f'{k}={v}' for k, v in self.context.items())}: "
                 f"{'from the cache' if self.source == 'cache' else 'computed'}; chosen: {self.chosen}"]
        lines += [f"note: {m}" for m in self.messages]
        for column in self.lists:
            judged = ("" if column.average_precision is None else
                      f"  P@{self.k} {column.precision:.2f}  AP@{self.k} {column.average_precision:.2f}")
            lines.append(f"{column.label:>6}: {column.status:<7} {column.seconds * 1000:7.1f} ms{judged}"
                         + (f"  ({column.message})" if column.message else ""))
        lines.append(f"recommendations ({self.chosen}):")
        for rank, item in enumerate(self.recommendations, 1):
            price = "" if item.get("price") is None else f"  {item['price']:.2f}"
            lines.append(f"{rank:>3}. {item['item_id']}  {item.get('name') or ''}  [{item.get('category') or ''}]{price}")
        return lines


def heuristic_scores(table: pd.DataFrame, weights: dict[str, float]) -> np.ndarray:
    """The fallback's score of every product row (see the module docstring)."""
    def scaled(values: pd.Series) -> np.ndarray:
        v = values.astype(np.float64).to_numpy()
        low, high = np.nanmin(v) if len(v) else 0.0, np.nanmax(v) if len(v) else 0.0
        return np.zeros(len(v)) if not np.isfinite(high - low) or high == low else np.nan_to_num((v - low) / (high - low))
    rated = table["rating"].astype(np.float64)
    rating = rated.fillna(rated.mean() if rated.notna().any() else 0.0)
    views = table["views"].astype(np.float64)
    intent = (table["carts"] + table["purchases"]).astype(np.float64) / views.where(views > 0)
    parts = {"rating": scaled(rating), "rating_count": scaled(np.log1p(table["ratings"].astype(np.float64))),
             "views": scaled(np.log1p(views)), "discount": scaled(table["discount"].fillna(0.0)),
             "intent": scaled(intent.fillna(0.0))}
    return sum((weights[name] * values for name, values in parts.items()), np.zeros(len(table)))


def _details(table: pd.DataFrame, rows: np.ndarray, scores: np.ndarray) -> list[dict[str, Any]]:
    out = []
    for row, score in zip(rows.tolist(), scores.tolist()):
        record = table.iloc[row]
        price = record.get("price")
        out.append({"item_id": int(record["item_id"]), "name": None if pd.isna(record["name"]) else str(record["name"]),
                    "category": None if pd.isna(record["category"]) else str(record["category"]),
                    "brand": None if pd.isna(record["brand"]) else str(record["brand"]),
                    "price": None if price is None or pd.isna(price) else float(price), "score": float(score)})
    return out


def judge(items: list[int], held_out: set[int], k: int) -> tuple[float, float]:
    """Precision@k and AP@k of ``items`` (best first) against ``held_out``."""
    hits = np.array([item in held_out for item in items[:k]], dtype=np.float64)
    if not held_out:
        return 0.0, 0.0
    precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float(hits.sum() / k), float((precision_at * hits).sum() / min(len(held_out), k))


class OnlineRecommender:
    """The online path over one prepared dataset and a folder of its trained models."""

    def __init__(self, dataset: UserDataset, models: dict[str, Any], problems: dict[str, str], versions: str,
                 store: Store | None, store_problem: str | None) -> None:
        self.dataset = dataset
        self.models = models
        self.problems = problems
        self.models_version = versions
        self.store = store
        self.store_problem = store_problem
        self.specs = [s for s in models_of(USER_CONTEXT) if s.trains_in_epochs]
        frame = dataset.interactions
        self._test = dataset.test_mask()
        self._features = dataset.context_features
        self._known_values = {f: sorted(frame[f].astype(str).unique()) for f in self._features}
        self._file_products: pd.DataFrame | None = None

    @classmethod
    def open(cls, dataset: str | Path | UserDataset, checkpoints: str | Path, db_url: str | None = None,
             load_database: bool = True) -> "OnlineRecommender":
        """Read the dataset and every model once; connect to the database (loading the dataset
        into it when it is not there). Problems are kept as messages, never raised."""
        data = dataset if isinstance(dataset, UserDataset) else load_user_dataset(dataset)
        models, problems, digests = {}, {}, []
        for spec in (s for s in models_of(USER_CONTEXT) if s.trains_in_epochs):
            path = Path(checkpoints) / f"{spec.name}.pt"
            if not path.is_file():
                problems[spec.name] = f"no checkpoint at {path} (python -m sessrec users train ...)"
                continue
            try:
                payload = read_user_checkpoint(path)
                if payload["model"] != spec.name:
                    raise CheckpointError(f"{path}: holds a '{payload['model']}' model, not '{spec.name}'")
                models[spec.name] = model_class(spec.name).from_payload(payload, str(path))
                digests.append(hashlib.sha256(path.read_bytes()).hexdigest()[:12])
            except CheckpointError as exc:
                problems[spec.name] = str(exc)
        version = hashlib.sha256("|".join(digests).encode()).hexdigest()[:16]
        store, store_problem = None, None
        try:
            store = Store.connect(db_url)
            if load_database and not store.has_dataset(data.name):
                store.load_dataset(data)
        except StoreError as exc:
            store, store_problem = None, f"{exc}; serving without a database (no cache)"
        return cls(data, models, problems, version, store, store_problem)

    # -- inputs ------------------------------------------------------------------------------
    def known_users(self) -> np.ndarray:
        return np.unique(self.dataset.interactions["UserId"].to_numpy())

    def context_values(self) -> dict[str, list[str]]:
        return dict(self._known_values)

    def resolve_context(self, user_id: int, context: dict[str, str] | None) -> tuple[dict[str, str], list[str]]:
        """Complete ``context`` (missing features: now, or the user's usual device) and check its values."""
        messages: list[str] = []
        given = dict(context or {})
        unknown_features = sorted(set(given) - set(self._features))
        if unknown_features:
            messages.append(f"context feature(s) {', '.join(unknown_features)} unknown to {self.dataset.name} "
                            f"(it has {', '.join(self._features)}); ignored")
        now = context_now()
        resolved: dict[str, str] = {}
        for feature in self._features:
            value = given.get(feature) or now.get(feature) or self._usual_value(user_id, feature)
            if value not in self._known_values[feature]:
                messages.append(f"unknown {feature} '{value}' (known: {', '.join(self._known_values[feature])}); "
                                "the models score it as an unseen value")
            resolved[feature] = value
        return resolved, messages

    def _usual_value(self, user_id: int, feature: str) -> str:
        frame = self.dataset.interactions
        mine = frame.loc[frame["UserId"] == user_id, feature]
        source = mine if len(mine) else frame[feature]
        return str(source.astype(str).mode().iloc[0])

    def _products(self) -> pd.DataFrame:
        if self.store is not None:
            try:
                return self.store.products(self.dataset.name)
            except StoreError as exc:
                self.store_problem = f"{exc}; product statistics read from the dataset's files"
        if self._file_products is None:
            self._file_products = _products_from_files(self.dataset, self._test)
        return self._file_products

    # -- the request --------------------------------------------------------------------------
    def recommend(self, user_id: int, context: dict[str, str] | None = None, k: int = 10, use_cache: bool = True,
                  max_age_s: float = DEFAULT_MAX_AGE_S) -> Answer:
        """The answer for ``user_id`` in ``context`` (see the module docstring)."""
        started = time.perf_counter()
        user_id = int(user_id)
        resolved, messages = self.resolve_context(user_id, context)
        if self.store_problem:
            messages.append(self.store_problem)
        key = json.dumps(resolved, sort_keys=True)
        if use_cache and self.store is not None:
            try:
                payload = self.store.cached(self.dataset.name, user_id, key, self.models_version, k)
            except StoreError as exc:
                payload = None
                messages.append(f"{exc}; computed without the cache")
            if payload is not None and time.time() - float(payload.get("created", 0)) <= max_age_s:
                answer = Answer.from_payload(payload["answer"])
                answer.source, answer.seconds = "cache", time.perf_counter() - started
                answer.messages = messages + ["served from the cache (same user, context and model versions)"]
                return answer
        frame = self.dataset.interactions
        mine = frame["UserId"].to_numpy() == user_id
        known = bool(mine.any())
        if not known:
            messages.append(f"user {user_id} is not in {self.dataset.name}: a new user gets the fallback "
                            "(the models have no embedding for them)")
        seen_train = set(frame.loc[mine & ~self._test, "ItemId"].tolist())
        held = frame.loc[mine & self._test & (frame["Label"].to_numpy() >= 1.0), "ItemId"]
        held_out = sorted(set(held.tolist()))
        if known and not held_out:
            messages.append(f"user {user_id} has no held-out positive: the models cannot be judged, the fallback is "
                            "the answer")
        products = self._products()
        active = np.flatnonzero(~products["item_id"].isin(seen_train).to_numpy())
        candidates = products["item_id"].to_numpy()[active].astype(np.int64)
        columns = self._run_models(user_id, candidates, resolved, products, active, k, set(held_out))
        liked = frame.loc[mine & ~self._test & (frame["Label"].to_numpy() >= 1.0), "ItemId"]
        fallback = self._fallback(products, active, set(liked.tolist()), FALLBACK_WEIGHTS["default"], k)
        ran = [c for c in columns if c.status == "ok"]
        if ran and held_out:
            best = max(ran, key=lambda c: (c.average_precision, c.precision, -columns.index(c)))
            chosen, source = best.model, "models"
        else:
            if not ran:
                messages.append("no model could run: the fallback heuristic is the answer")
            chosen, source = FALLBACK, FALLBACK
        answer = Answer(self.dataset.name, user_id, resolved, k, source, chosen, columns, fallback, messages,
                        held_out, time.perf_counter() - started)
        self._record(answer, key)
        return answer

    def _run_models(self, user_id: int, candidates: np.ndarray, context: dict[str, str], products: pd.DataFrame,
                    active: np.ndarray, k: int, held_out: set[int]) -> list[ModelAnswer]:
        contexts = {f: np.full(len(candidates), v, dtype=object) for f, v in context.items()}
        users = np.full(len(candidates), user_id, dtype=np.int64)

        def score(name: str) -> tuple[np.ndarray, float]:
            begun = time.perf_counter()
            values = np.asarray(self.models[name].score_pairs(users, candidates, contexts), dtype=np.float64)
            if values.shape != candidates.shape or not np.isfinite(values).all():
                raise ValueError("it returned missing or non-finite scores")
            return values, time.perf_counter() - begun

        columns: list[ModelAnswer] = []
        with ThreadPoolExecutor(max_workers=max(1, len(self.models))) as pool:
            futures = {name: pool.submit(score, name) for name in self.models}
            for spec in self.specs:
                column = ModelAnswer(spec.name, spec.label, "ok")
                if spec.name not in futures:
                    column.status, column.message = "missing", self.problems.get(spec.name, "not loaded")
                else:
                    try:
                        values, column.seconds = futures[spec.name].result()
                        top = np.argsort(-values, kind="stable")[:k]
                        column.items = _details(products, active[top], values[top])
                        column.precision, column.average_precision = judge(
                            [i["item_id"] for i in column.items], held_out, k)
                    except Exception as exc:  # noqa: BLE001 - a failing model must not take the request down
                        column.status, column.message = "failed", f"{type(exc).__name__}: {str(exc)[:200]}"
                if column.status != "ok":
                    liked: set[int] = set()
                    column.items = self._fallback(products, active, liked, FALLBACK_WEIGHTS[spec.name], k)
                    column.message += "; showing the heuristic's variant for this model"
                columns.append(column)
        return columns

    def _fallback(self, products: pd.DataFrame, active: np.ndarray, liked: set[int], weights: dict[str, float],
                  k: int) -> list[dict[str, Any]]:
        """The heuristic's top-k among the active items, first those sharing a category or brand
        with the user's positives, then the rest by popularity (views)."""
        scores = heuristic_scores(products, weights)
        pool = products.iloc[active]
        mine = products["item_id"].isin(liked)
        categories = set(products.loc[mine, "category"].dropna())
        brands = set(products.loc[mine, "brand"].dropna()) - {""}
        near = (pool["category"].isin(categories) | pool["brand"].isin(brands)).to_numpy()
        first = active[near][np.argsort(-scores[active[near]], kind="stable")][:k]
        rest = active[~near][np.argsort(-products["views"].to_numpy()[active[~near]], kind="stable")]
        rows = np.concatenate([first, rest[:k - len(first)]]).astype(np.int64)
        return _details(products, rows, scores[rows])

    def _record(self, answer: Answer, key: str) -> None:
        if self.store is None:
            return
        runs = [{"dataset": answer.dataset, "user_id": answer.user_id, "context_key": key, "model": c.model,
                 "status": c.status, "message": c.message, "seconds": c.seconds,
                 "metrics": json.dumps({"precision@k": c.precision, "ap@k": c.average_precision, "k": answer.k}),
                 "recommendations": json.dumps([i["item_id"] for i in c.items]), "chosen": c.model == answer.chosen}
                for c in answer.lists]
        runs.append({"dataset": answer.dataset, "user_id": answer.user_id, "context_key": key, "model": FALLBACK,
                     "status": "ok", "message": "", "seconds": 0.0, "metrics": "{}",
                     "recommendations": json.dumps([i["item_id"] for i in answer.fallback]),
                     "chosen": answer.chosen == FALLBACK})
        try:
            self.store.log_runs(runs)
            self.store.put_cache(answer.dataset, answer.user_id, key, self.models_version, answer.k,
                                 {"created": time.time(), "answer": answer.to_payload()})
        except StoreError as exc:
            answer.messages.append(f"{exc}; the answer was not cached")


def _products_from_files(dataset: UserDataset, test: np.ndarray) -> pd.DataFrame:
    """The product table of :meth:`Store.products`, computed from the dataset's files."""
    items = dataset.items.rename(columns={"ItemId": "item_id", "Name": "name", "Category": "category",
                                          "Brand": "brand", "Price": "price", "Discount": "discount"})
    for column in ("name", "category", "brand", "price", "discount"):
        if column not in items:
            items[column] = None
    train = dataset.interactions[~test]
    stats = (train.groupby(["ItemId", "Action"])
             .agg(n=("UserId", "size"), rating=("Rating", "mean"), ratings=("Rating", "count"))
             .reset_index().rename(columns={"ItemId": "item_id", "Action": "action"}))
    return product_table(items[["item_id", "name", "category", "brand", "price", "discount"]].assign(dataset=""), stats)

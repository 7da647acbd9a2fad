"""The user-context task's database: products, users, interactions, the recommendation cache,
model runs, encoders and context mappings, through SQLAlchemy.

A SQLite file by default (``sqlite:///<home>/.sessrec/sessrec.db``, or the ``SESSREC_DB``
environment variable), nothing to install; a MariaDB/MySQL server
(``mysql+pymysql://user:password@host:port/db``) or a PostgreSQL server
(``postgresql+psycopg://user:password@host:port/db``) by URL. The same Core statements
run on all three; :meth:`Store.connect` creates missing tables.

Tables (every row carries its ``dataset``, so several datasets share one database):

* ``products``: item id, name, category, brand, price, discount;
* ``users``: user id and the user's attributes (JSON text);
* ``interactions``: user, item, time, action, rating, label, context (JSON text), and
  whether the row is in the test part of the split;
* ``recommendations``: the cache, one row per (user, context, model versions, k) with the
  answer as JSON;
* ``model_runs``: one row per model per request: its seconds, status, metrics JSON and
  recommendations JSON, and whether it was the chosen one;
* ``encoders``: every model's id and value encoders as rows (kind, position, value), so a
  checkpoint's index -> id mapping can be read with SQL (:meth:`Store.save_encoders`);
* ``context_mappings``: how the time context derives from a timestamp
  (:func:`sessrec.data.context.mapping_rows`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd
from sqlalchemy import (Boolean, Column, Float, Integer, MetaData, String, Table, Text, and_, create_engine, delete,
                        func, insert, select)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from sessrec.data.context import mapping_rows
from sessrec.errors import SessrecError

metadata = MetaData()
NAME = 200  # width of name-like text columns (MySQL needs a length for indexed VARCHARs)

products = Table(
    "products", metadata,
    Column("dataset", String(64), primary_key=True), Column("item_id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(NAME)), Column("category", String(NAME)), Column("brand", String(NAME)),
    Column("price", Float), Column("discount", Float))
users = Table(
    "users", metadata,
    Column("dataset", String(64), primary_key=True), Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("attributes", Text))
interactions = Table(
    "interactions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(64), index=True), Column("user_id", Integer, index=True), Column("item_id", Integer),
    Column("time", Integer), Column("action", String(16)), Column("rating", Float), Column("label", Float),
    Column("context", Text), Column("in_test", Boolean))
recommendations = Table(
    "recommendations", metadata,
    Column("dataset", String(64), primary_key=True), Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("context_key", String(NAME), primary_key=True), Column("models_version", String(64), primary_key=True),
    Column("k", Integer, primary_key=True, autoincrement=False),
    Column("created", Float), Column("payload", Text))
model_runs = Table(
    "model_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dataset", String(64)), Column("user_id", Integer), Column("context_key", String(NAME)),
    Column("model", String(64)), Column("status", String(16)), Column("message", Text), Column("seconds", Float),
    Column("metrics", Text), Column("recommendations", Text), Column("chosen", Boolean), Column("created", Float))
encoders = Table(
    "encoders", metadata,
    Column("dataset", String(64), primary_key=True), Column("model", String(64), primary_key=True),
    Column("kind", String(NAME), primary_key=True), Column("position", Integer, primary_key=True, autoincrement=False),
    Column("value", String(NAME)))
context_mappings = Table(
    "context_mappings", metadata,
    Column("feature", String(64), primary_key=True), Column("source", String(16), primary_key=True),
    Column("source_value", String(16), primary_key=True), Column("value", String(64)))

TABLES = (products, users, interactions, recommendations, model_runs, encoders, context_mappings)
BATCH = 5_000


class StoreError(SessrecError):
    """The database cannot be reached or used; the message says which and why, in one line."""


def default_url() -> str:
    """``SESSREC_DB``, else a SQLite file in ``~/.sessrec`` (outside any checkout)."""
    if os.environ.get("SESSREC_DB"):
        return os.environ["SESSREC_DB"]
    folder = Path.home() / ".sessrec"
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'sessrec.db'}"


def _none(value: Any) -> Any:
    """NaN and pandas' missing values -> None (SQL NULL); numpy scalars -> Python ones."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value


class Store:
    """One database (see the module docstring); every failure is a :class:`StoreError`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def connect(cls, url: str | None = None) -> "Store":
        """Open ``url`` (default :func:`default_url`), create missing tables and the context mappings."""
        url = url or default_url()
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (ArgumentError, NoSuchModuleError, ValueError) as exc:
            raise StoreError(f"database URL {url!r} is not usable ({exc})") from None
        store = cls(engine)
        store._run(lambda: metadata.create_all(engine), "create the tables")
        store._fill_context_mappings()
        return store

    @property
    def url_for_display(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def _run(self, work: Any, what: str) -> Any:
        try:
            return work()
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            raise StoreError(f"database {self.url_for_display}: cannot {what} ({reason})") from None

    def _fill_context_mappings(self) -> None:
        def work() -> None:
            with self.engine.begin() as conn:
                if conn.execute(select(func.count()).select_from(context_mappings)).scalar_one() == 0:
                    conn.execute(insert(context_mappings), mapping_rows())
        self._run(work, "write the context mappings")

    # -- loading a dataset ------------------------------------------------------------------
    def load_dataset(self, dataset: Any) -> dict[str, int]:
        """Replace ``dataset``'s products, users and interactions (a :class:`UserDataset`), in one transaction."""
        name = dataset.name
        test = dataset.test_mask()
        frame = dataset.interactions
        features = list(dataset.context_features)
        item_rows = [{"dataset": name, "item_id": int(r.ItemId), "name": _none(getattr(r, "Name", None)),
                      "category": _none(getattr(r, "Category", None)), "brand": _none(getattr(r, "Brand", None)),
                      "price": _none(getattr(r, "Price", None)), "discount": _none(getattr(r, "Discount", None))}
                     for r in dataset.items.itertuples(index=False)]
        for row in item_rows:  # text columns stay text even where pandas read numbers
            for key in ("name", "category", "brand"):
                row[key] = None if row[key] is None else str(row[key])[:NAME]
        user_rows = [{"dataset": name, "user_id": int(r["UserId"]),
                      "attributes": json.dumps({k: _none(v) for k, v in r.items() if k != "UserId"}, default=str)}
                     for r in dataset.users.to_dict("records")]
        contexts = frame[features].astype(str).to_dict("records") if features else [{}] * len(frame)
        rows = [{"dataset": name, "user_id": int(u), "item_id": int(i), "time": int(t), "action": str(a),
                 "rating": _none(float(r)), "label": float(lab), "context": json.dumps(c), "in_test": bool(s)}
                for u, i, t, a, r, lab, c, s in zip(frame["UserId"], frame["ItemId"], frame["Time"], frame["Action"],
                                                    frame["Rating"], frame["Label"], contexts, test)]

        def work() -> None:
            with self.engine.begin() as conn:
                for table in (products, users, interactions):
                    conn.execute(delete(table).where(table.c.dataset == name))
                for table, batch in ((products, item_rows), (users, user_rows), (interactions, rows)):
                    for start in range(0, len(batch), BATCH):
                        conn.execute(insert(table), batch[start:start + BATCH])
        self._run(work, f"load the dataset '{name}'")
        return {"products": len(item_rows), "users": len(user_rows), "interactions": len(rows)}

    def has_dataset(self, name: str) -> bool:
        def work() -> bool:
            with self.engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(products)
                                    .where(products.c.dataset == name)).scalar_one() > 0
        return bool(self._run(work, "read the products"))

    # -- reading -----------------------------------------------------------------------------
    def products(self, dataset: str) -> pd.DataFrame:
        """Every product of ``dataset`` with the heuristic's inputs: rating mean and count, views,
        carts and purchases (training part of the split only)."""
        def work() -> pd.DataFrame:
            with self.engine.connect() as conn:
                items = pd.DataFrame(conn.execute(select(products).where(products.c.dataset == dataset)).mappings().all())
                stats = pd.DataFrame(conn.execute(
                    select(interactions.c.item_id, interactions.c.action, func.count().label("n"),
                           func.avg(interactions.c.rating).label("rating"),
                           func.count(interactions.c.rating).label("ratings"))
                    .where(and_(interactions.c.dataset == dataset, interactions.c.in_test.is_(False)))
                    .group_by(interactions.c.item_id, interactions.c.action)).mappings().all())
            return product_table(items, stats)
        return self._run(work, "read the products")

    def history(self, dataset: str, user_id: int) -> pd.DataFrame:
        """The user's interactions (``ItemId, Time, Action, Rating, Label, in_test``), oldest first."""
        def work() -> pd.DataFrame:
            with self.engine.connect() as conn:
                rows = conn.execute(select(interactions.c.item_id, interactions.c.time, interactions.c.action,
                                           interactions.c.rating, interactions.c.label, interactions.c.in_test)
                                    .where(and_(interactions.c.dataset == dataset, interactions.c.user_id == user_id))
                                    .order_by(interactions.c.time, interactions.c.id)).all()
            return pd.DataFrame(rows, columns=["ItemId", "Time", "Action", "Rating", "Label", "in_test"])
        return self._run(work, "read the user's history")

    def known_user(self, dataset: str, user_id: int) -> bool:
        def work() -> bool:
            with self.engine.connect() as conn:
                return conn.execute(select(func.count()).select_from(users).where(
                    and_(users.c.dataset == dataset, users.c.user_id == user_id))).scalar_one() > 0
        return bool(self._run(work, "read the users"))

    def context_mappings(self) -> list[dict[str, str]]:
        def work() -> list[dict[str, str]]:
            with self.engine.connect() as conn:
                return [dict(r) for r in conn.execute(select(context_mappings)).mappings().all()]
        return list(self._run(work, "read the context mappings"))

    # -- the cache and the runs --------------------------------------------------------------
    def cached(self, dataset: str, user_id: int, context_key: str, models_version: str, k: int) -> dict | None:
        """The cached answer, or ``None``; an unreadable cache row counts as a miss."""
        def work() -> str | None:
            with self.engine.connect() as conn:
                return conn.execute(select(recommendations.c.payload).where(and_(
                    recommendations.c.dataset == dataset, recommendations.c.user_id == user_id,
                    recommendations.c.context_key == context_key,
                    recommendations.c.models_version == models_version, recommendations.c.k == k))).scalar()
        payload = self._run(work, "read the cache")
        if payload is None:
            return None
        try:
            value = json.loads(payload)
        except json.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None

    def put_cache(self, dataset: str, user_id: int, context_key: str, models_version: str, k: int,
                  payload: dict) -> None:
        key = {"dataset": dataset, "user_id": user_id, "context_key": context_key, "models_version": models_version,
               "k": k}

        def work() -> None:
            with self.engine.begin() as conn:  # replace: delete then insert, portable across the three databases
                conn.execute(delete(recommendations).where(and_(*(recommendations.c[c] == v for c, v in key.items()))))
                conn.execute(insert(recommendations), [{**key, "created": time.time(), "payload": json.dumps(payload)}])
        self._run(work, "write the cache")

    def log_runs(self, rows: Iterable[dict[str, Any]]) -> None:
        rows = [{**row, "created": time.time()} for row in rows]
        if not rows:
            return

        def work() -> None:
            with self.engine.begin() as conn:
                conn.execute(insert(model_runs), rows)
        self._run(work, "write the model runs")

    def runs(self, dataset: str, user_id: int | None = None) -> pd.DataFrame:
        def work() -> pd.DataFrame:
            query = select(model_runs).where(model_runs.c.dataset == dataset)
            if user_id is not None:
                query = query.where(model_runs.c.user_id == user_id)
            with self.engine.connect() as conn:
                return pd.DataFrame(conn.execute(query.order_by(model_runs.c.id)).mappings().all())
        return self._run(work, "read the model runs")

    # -- encoders ----------------------------------------------------------------------------
    def save_encoders(self, dataset: str, model: str, encoder_lists: dict[str, Any]) -> int:
        """Store a checkpoint's encoders (``{"users": [...], "items": [...], "context": {feature: [...]}}``)
        as rows ``(kind, position, value)``, replacing the model's earlier ones; returns the row count."""
        lists = {"users": encoder_lists.get("users", []), "items": encoder_lists.get("items", []),
                 **{f"context:{f}": v for f, v in encoder_lists.get("context", {}).items()}}
        rows = [{"dataset": dataset, "model": model, "kind": kind, "position": i, "value": str(v)}
                for kind, values in lists.items() for i, v in enumerate(values)]

        def work() -> None:
            with self.engine.begin() as conn:
                conn.execute(delete(encoders).where(and_(encoders.c.dataset == dataset, encoders.c.model == model)))
                for start in range(0, len(rows), BATCH):
                    conn.execute(insert(encoders), rows[start:start + BATCH])
        self._run(work, "write the encoders")
        return len(rows)

    def load_encoders(self, dataset: str, model: str) -> dict[str, Any]:
        """The encoders :meth:`save_encoders` stored, in the checkpoint's shape (ids as integers)."""
        def work() -> list[Any]:
            with self.engine.connect() as conn:
                return list(conn.execute(select(encoders.c.kind, encoders.c.position, encoders.c.value).where(
                    and_(encoders.c.dataset == dataset, encoders.c.model == model))
                    .order_by(encoders.c.kind, encoders.c.position)).all())
        out: dict[str, Any] = {"users": [], "items": [], "context": {}}
        for kind, _, value in self._run(work, "read the encoders"):
            if kind in ("users", "items"):
                out[kind].append(int(value))
            else:
                out["context"].setdefault(kind.split(":", 1)[1], []).append(value)
        return out


def product_table(items: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
    """Products with ``rating`` (mean), ``ratings`` (count), ``views`` (every interaction counts as
    a view of the item: a cart, a purchase or a rating comes after seeing it), ``carts``, ``purchases``."""
    if items.empty:
        return pd.DataFrame(columns=["item_id", "name", "category", "brand", "price", "discount", "rating", "ratings",
                                     "views", "carts", "purchases"])
    items = items.drop(columns=["dataset"]).set_index("item_id")
    for column in ("views", "carts", "purchases", "ratings"):
        items[column] = 0
    items["rating"] = np.nan
    if not stats.empty:
        counts = stats.pivot_table(index="item_id", columns="action", values="n", aggfunc="sum", fill_value=0)
        items.loc[counts.index, "views"] = counts.sum(axis=1).astype(int)
        for action, column in (("cart", "carts"), ("purchase", "purchases")):
            if action in counts:
                items.loc[counts.index, column] = counts[action].astype(int)
        ratings = stats.groupby("item_id")["ratings"].sum()
        weighted = (stats["rating"].fillna(0) * stats["ratings"]).groupby(stats["item_id"]).sum()
        mean = (weighted / ratings.where(ratings > 0)).dropna()
        items.loc[ratings.index, "ratings"] = ratings.astype(int)
        items.loc[mean.index, "rating"] = mean
    return items.reset_index()


def check_reachable(url: str) -> str | None:
    """``None`` when ``url`` answers, else the one-line reason (for the page's status line)."""
    try:
        Store.connect(url)
    except StoreError as exc:
        return str(exc)
    return None


def parse_url(url: str) -> Any:
    """The URL parsed, or a :class:`StoreError` naming what is wrong with it."""
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database URL {url!r} is not usable ({exc})") from None

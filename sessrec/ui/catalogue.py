"""The item catalogue of a dataset, searchable and pageable without sending it all to the page.

Built once per dataset (the app caches it) with the training popularity of every item;
every query returns a small slice, so catalogues of 40k+ items browse as fast as the demo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import numpy as np
import pandas as pd

from sessrec.data.dataset import Dataset

ALL_CATEGORIES = "All categories"
SORTS = ("popularity", "name", "id")


@dataclass
class Catalogue:
    """``items``: ItemId, Name, Category, Popularity (training clicks), sorted by ItemId."""

    items: pd.DataFrame
    _names: dict[int, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.items = self.items.sort_values("ItemId", kind="stable").reset_index(drop=True)
        self._ids = self.items["ItemId"].to_numpy(np.int64)
        self._lower = self.items["Name"].astype(str).str.lower()
        self._id_text = self.items["ItemId"].astype(str)
        self._popularity = self.items["Popularity"].to_numpy(np.int64)
        self._by_popularity = np.argsort(-self._popularity, kind="stable")
        self._names = dict(zip(self._ids.tolist(), self.items["Name"].astype(str).tolist()))
        self._categories = dict(zip(self._ids.tolist(), self.items["Category"].astype(str).tolist()))
        self._category_text = self.items["Category"].astype(str)
        self._category_list = sorted(self._category_text.unique().tolist())
        self._has_categories = len(self._category_list) > 1 or (
            len(self._category_list) == 1 and self._category_list[0] != "(no category)")
        self._name_order: np.ndarray | None = None
        self._search_cache: dict[tuple, np.ndarray] = {}

    @classmethod
    def from_dataset(cls, dataset: Dataset) -> "Catalogue":
        items = dataset.catalogue.copy()
        train = dataset.train
        ids = items["ItemId"].to_numpy(np.int64)
        pos = np.searchsorted(ids, train.items) if np.all(np.diff(ids) > 0) else None
        if pos is None:
            counts = pd.Series(train.items).value_counts()
            items["Popularity"] = items["ItemId"].map(counts).fillna(0).astype(np.int64)
        else:
            items["Popularity"] = np.bincount(pos, minlength=len(ids))[: len(ids)].astype(np.int64)
        if "Named" in items:
            # real catalogues have ids only: say what is known, the id and its training clicks
            unnamed = ~items["Named"].to_numpy(bool)
            items.loc[unnamed, "Name"] = [f"#{i} · {p:,} clicks" for i, p in zip(
                items.loc[unnamed, "ItemId"].tolist(), items.loc[unnamed, "Popularity"].tolist())]
            items = items.drop(columns="Named")
        return cls(items)

    # -- lookups ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item_id: int) -> bool:
        return int(item_id) in self._names

    def name(self, item_id: int) -> str:
        return self._names.get(int(item_id), f"item {int(item_id)} (not in this catalogue)")

    def category(self, item_id: int) -> str:
        return self._categories.get(int(item_id), "(unknown)")

    def known(self, item_ids: Iterable[int]) -> list[bool]:
        return [int(i) in self._names for i in item_ids]

    def rows(self, item_ids: Iterable[int]) -> pd.DataFrame:
        """ItemId, Name, Category, Popularity of ``item_ids`` in the given order."""
        ids = [int(i) for i in item_ids]
        return pd.DataFrame({"ItemId": np.asarray(ids, dtype=np.int64), "Name": self.names(ids),
                             "Category": [self.category(i) for i in ids], "Popularity": self.popularity(ids)})

    def names(self, item_ids: Iterable[int]) -> list[str]:
        return [self.name(i) for i in item_ids]

    def popularity(self, item_ids: Iterable[int]) -> np.ndarray:
        """Training clicks of each of ``item_ids`` (0 for ids not in the catalogue)."""
        ids = np.asarray(list(item_ids), dtype=np.int64)
        if not len(ids) or not len(self._ids):
            return np.zeros(len(ids), dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._ids, ids), len(self._ids) - 1)
        return np.where(self._ids[pos] == ids, self._popularity[pos], 0)

    def categories(self) -> list[str]:
        return list(self._category_list)

    @property
    def has_categories(self) -> bool:
        return self._has_categories

    # -- browsing ---------------------------------------------------------------------
    def search(self, query: str = "", category: str | None = None, sort: str = "popularity") -> np.ndarray:
        """Row positions matching ``query`` (an id or id prefix, or part of a name) and
        ``category``, ordered by ``sort``. Returns positions, not a frame: cheap for 40k+."""
        query = (query or "").strip()
        mask = np.ones(len(self._ids), dtype=bool)
        if query:
            if query.isdigit():
                mask = self._id_text.str.startswith(query).to_numpy() | self._lower.str.contains(query, regex=False).to_numpy()
            else:
                mask = self._lower.str.contains(query.lower(), regex=False).to_numpy()
        if category and category != ALL_CATEGORIES:
            mask = mask & (self._category_text == category).to_numpy()
        if sort == "popularity":
            order = self._by_popularity[mask[self._by_popularity]]
        elif sort == "name":
            if self._name_order is None:
                self._name_order = np.argsort(self._lower.to_numpy(), kind="stable")
            order = self._name_order[mask[self._name_order]]
        else:
            order = np.flatnonzero(mask)
        if query.isdigit():  # an exact id match goes first
            exact = np.flatnonzero(self._id_text.to_numpy()[order] == query)
            if len(exact):
                order = np.r_[order[exact], np.delete(order, exact)]
        return order

    def page(self, positions: np.ndarray, page: int, per_page: int) -> pd.DataFrame:
        """Rows of page ``page`` (1-based) of ``positions``."""
        start = max(page - 1, 0) * per_page
        return self.items.iloc[positions[start : start + per_page]]

    def popular(self, n: int = 8, category: str | None = None) -> pd.DataFrame:
        return self.page(self.search("", category, "popularity"), 1, n)


def n_pages(n_results: int, per_page: int) -> int:
    return max(1, -(-n_results // per_page))

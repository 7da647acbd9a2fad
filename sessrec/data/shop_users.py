"""The demo shop's known users: interactions with actions, ratings and a context.

Generated deterministically from a seed over the demo catalogue (``data/demo/items.csv``),
with effects planted so that a test can tell which model uses what:

* **taste** (a user effect, which every model with user embeddings can learn): each user
  has two favourite categories, and most of their non-context interactions fall there;
* **context** (which only a model that sees the context can learn): on *mobile* in the
  *evening* people buy phones, cases and headphones; in *winter* coffee and board games;
  in *summer* tents, sleeping bags and bicycles; whoever the user is;
* **popularity** within a category (long tail), and discounted items convert to a cart
  or a purchase more often.

Each interaction is a view, a cart or a purchase; a share of purchases is rated 1-5
(higher in a favourite category). Items get a brand (the first word of their name), a
price (by category, log-normal) and a discount. Times spread over one year, so the time
of day and the season follow from them (:mod:`sessrec.data.context`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sessrec.data.context import DEVICES, time_context

#: (device or None, time of day or None, season or None) -> categories that sell there
CONTEXT_EFFECTS: tuple[tuple[tuple[str | None, str | None, str | None], tuple[str, ...]], ...] = (
    (("mobile", "evening", None), ("Smartphones", "Phone Cases", "Headphones")),
    ((None, None, "winter"), ("Coffee Makers", "Coffee Beans", "Board Games")),
    ((None, None, "summer"), ("Tents", "Sleeping Bags", "Bicycles")),
)
YEAR_START = 1_735_689_600  # 2025-01-01 00:00 UTC
BASE_PRICE = {"Laptops": 900, "Smartphones": 600, "Cameras": 700, "Camera Lenses": 400, "Monitors": 300,
              "Bicycles": 650, "Watches": 250, "Tents": 220, "Coffee Makers": 120, "Headphones": 110}


@dataclass(frozen=True)
class ShopUsersConfig:
    """How many users and interactions, and how strong the planted effects are."""

    seed: int = 42
    n_users: int = 1000
    mean_interactions: float = 60.0
    p_context: float = 0.7  # chance that a matching context decides the category
    p_taste: float = 0.8  # otherwise: chance of a favourite category
    p_cart: float = 0.15
    p_purchase: float = 0.25
    p_rated: float = 0.6


def generate_shop_users(catalogue: pd.DataFrame, config: ShopUsersConfig = ShopUsersConfig()
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(interactions, items, users)`` frames in the prepared format of :mod:`sessrec.data.user_data`."""
    rng = np.random.default_rng(config.seed)
    items = _items(catalogue, rng)
    categories = sorted(items["Category"].unique())
    by_category = {c: items.loc[items["Category"] == c, "ItemId"].to_numpy() for c in categories}
    # long-tail popularity inside each category
    weight = {c: (w := 1.0 / np.arange(1, len(ids) + 1) ** 0.9)[rng.permutation(len(ids))] / w.sum()
              for c, ids in by_category.items()}
    discount = dict(zip(items["ItemId"].tolist(), items["Discount"].tolist()))

    users = pd.DataFrame({"UserId": np.arange(1, config.n_users + 1),
                          "Device": rng.choice(DEVICES, size=config.n_users, p=[0.45, 0.45, 0.10])})
    favourites = [rng.choice(categories, size=2, replace=False) for _ in range(config.n_users)]
    rows: list[tuple[int, int, int, str, str, float]] = []
    for user, device, liked in zip(users["UserId"].tolist(), users["Device"].tolist(), favourites):
        n = max(6, int(rng.poisson(config.mean_interactions)))
        times = np.sort(YEAR_START + rng.uniform(0, 365 * 86_400, size=n).astype(np.int64))
        context = time_context(times)
        for t, tod, season in zip(times.tolist(), context["time_of_day"], context["season"]):
            here = device if rng.random() < 0.7 else str(rng.choice(DEVICES))
            category = _category(rng, config, (here, tod, season), liked, categories)
            item = int(rng.choice(by_category[category], p=weight[category]))
            boost = 1.0 + 2.0 * discount[item]
            u = rng.random()
            action = ("purchase" if u < config.p_purchase * boost else
                      "cart" if u < (config.p_purchase + config.p_cart) * boost else "view")
            rating = np.nan
            if action == "purchase" and rng.random() < config.p_rated:
                base = 4.3 if category in liked else 3.2
                rating = float(np.clip(np.round(base + rng.normal(0, 0.8)), 1, 5))
            rows.append((user, item, t, action, here, rating))
    frame = pd.DataFrame(rows, columns=["UserId", "ItemId", "Time", "Action", "device", "Rating"])
    frame = frame.assign(**time_context(frame["Time"].to_numpy()))
    frame = frame[["UserId", "ItemId", "Time", "Action", "Rating", "time_of_day", "season", "device"]]
    return frame.sort_values(["Time", "UserId"], kind="stable").reset_index(drop=True), items, users


def _category(rng: np.random.Generator, config: ShopUsersConfig, here: tuple[str, str, str],
              liked: np.ndarray, categories: list[str]) -> str:
    for pattern, selling in CONTEXT_EFFECTS:
        if all(p is None or p == v for p, v in zip(pattern, here)) and rng.random() < config.p_context:
            return str(rng.choice(selling))
    if rng.random() < config.p_taste:
        return str(rng.choice(liked))
    return str(rng.choice(categories))


def _items(catalogue: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    items = catalogue[["ItemId", "Name", "Category"]].copy()
    items["Brand"] = items["Name"].str.split().str[0]
    base = items["Category"].map(BASE_PRICE).fillna(60.0).to_numpy(np.float64)
    items["Price"] = np.round(base * rng.lognormal(0.0, 0.35, size=len(items)), 2)
    items["Discount"] = rng.choice([0.0, 0.0, 0.0, 0.1, 0.2, 0.3], size=len(items))
    return items


def shop_users_info(config: ShopUsersConfig, catalogue_path: Path) -> dict:
    """The ``user_dataset.json`` of the demo users (statistics are added when written)."""
    return {"name": "shop_users", "description": "The demo shop's known users, with actions, ratings and a "
            "context (sessrec's generator; planted taste, context and discount effects)",
            "context": ["time_of_day", "season", "device"],
            "split": {"test_share": 0.2, "rule": "each user's last 20% of interactions by time, from a positive"},
            "models": "demo/users",
            "provenance": {"generator": "sessrec.data.shop_users", "config": asdict(config),
                           "catalogue": catalogue_path.as_posix(), "command": "python -m sessrec users prepare demo"}}

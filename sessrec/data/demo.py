"""A synthetic shop, generated deterministically from a seed, for the demo and tests.

The catalogue has named items in categories with long-tail popularity. Sessions have
sequential structure that popularity and co-occurrence do not capture fully:

- every session has an *intent* category (chosen by category popularity);
- items of a category form short *series* (model 1, 2, 3, ...) that shoppers tend to
  browse in order, so direction matters (co-occurrence is symmetric, this is not);
- shoppers wander to a category *complementary* to their intent and then come back to
  the series they left, which needs memory of more than the last click.

The raw events (with timestamps over ``days`` days) go through the same preprocessing
as real data (:mod:`sessrec.data.preprocess`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sessrec.data.preprocess import DAY

CATEGORIES: tuple[tuple[str, str], ...] = (
    # (category, its complementary category)
    ("Laptops", "Laptop Bags"), ("Laptop Bags", "Laptops"), ("Smartphones", "Phone Cases"),
    ("Phone Cases", "Smartphones"), ("Cameras", "Camera Lenses"), ("Camera Lenses", "Cameras"),
    ("Headphones", "Audio Cables"), ("Audio Cables", "Headphones"), ("Running Shoes", "Sports Socks"),
    ("Sports Socks", "Running Shoes"), ("Tents", "Sleeping Bags"), ("Sleeping Bags", "Tents"),
    ("Coffee Makers", "Coffee Beans"), ("Coffee Beans", "Coffee Makers"), ("Board Games", "Puzzles"),
    ("Puzzles", "Board Games"), ("Novels", "Bookmarks"), ("Bookmarks", "Novels"),
    ("Monitors", "Keyboards"), ("Keyboards", "Monitors"), ("Bicycles", "Bike Helmets"),
    ("Bike Helmets", "Bicycles"), ("Watches", "Watch Straps"), ("Watch Straps", "Watches"),
)
_BRANDS = (
    "Aero", "Nova", "Orbit", "Pulse", "Vertex", "Lumen", "Atlas", "Ember", "Quartz", "Zephyr",
    "Cobalt", "Helix", "Summit", "Drift", "Nimbus", "Forge", "Pixel", "Tundra", "Vivid", "Echo",
)


@dataclass(frozen=True)
class DemoConfig:
    seed: int = 42
    items_per_category: int = 120
    series_length: int = 4
    n_sessions: int = 16000
    days: float = 30.0
    mean_session_length: float = 6.0
    max_session_length: int = 30
    p_series: float = 0.5  # continue the current series
    p_same_category: float = 0.2  # another item of the current category
    p_complement: float = 0.2  # wander to the intent's complementary category
    p_return: float = 0.6  # from a complementary category, return to the left series


def _singular(category: str) -> str:
    if category.endswith("ches"):
        return category[:-2]
    return category[:-1] if category.endswith("s") else category


def make_catalogue(config: DemoConfig) -> pd.DataFrame:
    """ItemId, Name, Category, Series, Popularity for every item (ids start at 1001)."""
    rng = np.random.default_rng(config.seed)
    rows = []
    item_id = 1001
    for c, (category, _) in enumerate(CATEGORIES):
        n_series = config.items_per_category // config.series_length
        brands = rng.permutation(len(_BRANDS))
        for s in range(n_series):
            brand = _BRANDS[brands[s % len(_BRANDS)]]
            line = s // len(_BRANDS) + 1
            for m in range(config.series_length):
                name = f"{brand} {_singular(category)} {line * 100 + m + 1}"
                rows.append((item_id, name, category, c * 1000 + s))
                item_id += 1
    items = pd.DataFrame(rows, columns=["ItemId", "Name", "Category", "Series"])
    # long tail: category weight ~ Zipf over categories, item weight ~ Zipf inside category
    category_rank = rng.permutation(len(CATEGORIES))
    shuffled = np.concatenate(
        [rng.permutation(n) for n in items.groupby("Category", sort=False).size().to_numpy()]
    )
    cat_index = items["Category"].map({c: i for i, (c, _) in enumerate(CATEGORIES)}).to_numpy()
    items["Popularity"] = (1.0 / (1.0 + category_rank[cat_index]) ** 0.8) * (1.0 / (1.0 + shuffled) ** 1.1)
    return items


def generate_events(config: DemoConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(events, catalogue)``: raw events with ``SessionId, ItemId, Time`` and the items."""
    items = make_catalogue(config)
    rng = np.random.default_rng(config.seed + 1)
    category_names = [c for c, _ in CATEGORIES]
    complement = {i: category_names.index(comp) for i, (_, comp) in enumerate(CATEGORIES)}
    by_category = [np.flatnonzero(items["Category"].to_numpy() == c) for c in category_names]
    pop = items["Popularity"].to_numpy()
    within_p = [pop[idx] / pop[idx].sum() for idx in by_category]
    category_p = np.array([pop[idx].sum() for idx in by_category])
    category_p /= category_p.sum()
    series = items["Series"].to_numpy()
    next_in_series = np.where(np.r_[series[1:] == series[:-1], False], np.arange(len(items)) + 1, -1)
    cat_of = np.repeat(np.arange(len(category_names)), [len(x) for x in by_category])

    def pick(category: int) -> int:
        return int(rng.choice(by_category[category], p=within_p[category]))

    session_col, item_col, time_col = [], [], []
    starts = np.sort(rng.uniform(0, config.days * DAY, config.n_sessions))
    for session, start in enumerate(starts):
        length = int(min(config.max_session_length, 2 + rng.geometric(1.0 / (config.mean_session_length - 1))))
        intent = int(rng.choice(len(category_names), p=category_p))
        current = pick(intent)
        left_series_item = current  # last item seen in the intent category
        clicks = [current]
        for _ in range(length - 1):
            in_intent = cat_of[current] == intent
            u = rng.random()
            if not in_intent and u < config.p_return:
                nxt = next_in_series[left_series_item]
                current = int(nxt) if nxt >= 0 else pick(intent)
            elif u < config.p_series and next_in_series[current] >= 0:
                current = int(next_in_series[current])
            elif u < config.p_series + config.p_same_category:
                current = pick(int(cat_of[current]))
            elif u < config.p_series + config.p_same_category + config.p_complement:
                current = pick(complement[intent])
            else:
                current = pick(int(rng.choice(len(category_names), p=category_p)))
            if cat_of[current] == intent:
                left_series_item = current
            clicks.append(current)
        gaps = rng.exponential(45.0, len(clicks)).cumsum()
        session_col += [session + 1] * len(clicks)
        item_col += clicks
        time_col += list(start + gaps)
    events = pd.DataFrame(
        {
            "SessionId": np.array(session_col, dtype=np.int64),
            "ItemId": items["ItemId"].to_numpy()[np.array(item_col)],
            "Time": np.round(np.array(time_col) + 1_767_225_600.0, 3),  # from 2026-01-01 UTC
        }
    )
    return events, items

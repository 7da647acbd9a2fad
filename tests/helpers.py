"""Small builders shared by the tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.models.base import BaseSessionModel


def sessions_of(*sessions: list[int], start_id: int = 1) -> Sessions:
    """Sessions from lists of item ids, in the given order (no times)."""
    rows = [(start_id + s, item, pos) for s, items in enumerate(sessions) for pos, item in enumerate(items)]
    return Sessions.from_frame(pd.DataFrame(rows, columns=["SessionId", "ItemId", "Pos"]))


class ScriptedModel(BaseSessionModel):
    """A model whose scores are a fixed function of (last item, session length), for tests.

    score(j) = table[last, j] + 0.001 * length, with an empty session scoring row ``n``.
    Its state is (last item, length), which checks that the evaluator resets slots.
    """

    name = "scripted"

    def __init__(self, table: np.ndarray, item_ids: np.ndarray) -> None:
        super().__init__()
        self.table = torch.as_tensor(table, dtype=torch.float32)  # (n_items + 1, n_items)
        self.item_index = ItemIndex(np.asarray(item_ids, dtype=np.int64))
        self.steps = 0

    def init_state(self, batch_size: int):
        return (torch.full((batch_size,), -1, dtype=torch.long), torch.zeros(batch_size, dtype=torch.long))

    def reset(self, state, mask):
        last, length = state
        return (torch.where(mask, torch.full_like(last, -1), last), torch.where(mask, torch.zeros_like(length), length))

    def step(self, state, items):
        self.steps += 1
        return (items.clone(), state[1] + 1)

    def scores(self, state):
        last, length = state
        rows = torch.where(last >= 0, last, torch.full_like(last, self.n_items))
        return self.table[rows] + 0.001 * length.unsqueeze(1).float()


def write_split_files(tmp_path):
    train = "SessionId\tItemId\tTime\n" + "".join(
        f"{s}\t{item}\t{s * 100 + pos}\n" for s in range(1, 31) for pos, item in enumerate([1 + s % 4, 5, 6 + s % 3])
    )
    test = "SessionId\tItemId\tTime\n100\t2\t5000\n100\t5\t5001\n100\t7\t5002\n101\t3\t5003\n101\t5\t5004\n"
    (tmp_path / "train.tsv").write_text(train)
    (tmp_path / "test.tsv").write_text(test)


def prepared_toy(tmp_path):
    """The toy split files of :func:`write_split_files` prepared into ``tmp_path/toy``."""
    from sessrec.cli import EXIT_OK, main

    write_split_files(tmp_path)
    out = tmp_path / "toy"
    assert main(["prepare", "split", "--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"),
                 "--out", str(out)]) == EXIT_OK
    return out


def identity_successor_model(n=6):
    """Scores make item i+1 the best after item i (rank 1), item i+2 second, etc."""
    table = np.zeros((n + 1, n))
    for last in range(n):
        for j in range(n):
            table[last, j] = -((j - last - 1) % n)
    table[n] = -np.arange(n)  # empty session: item 0 first
    return ScriptedModel(table, item_ids=np.arange(100, 100 + n))


def toy_model_class():
    """A model defined outside ``sessrec/models`` (LastItem under another name), for the test that
    registers a model at run time and finds it on every surface."""
    from sessrec.models.last_item import LastItem

    class ToyModel(LastItem):
        name = "toy_model"

    ToyModel.__module__, ToyModel.__qualname__ = __name__, "ToyModel"
    return ToyModel


ToyModel = toy_model_class()


def toy_epoch_model_class():
    """A session model that trains in epochs and resumes, defined outside ``sessrec/models``
    (GRU4Rec under another name), for the test that registers one at run time."""
    from sessrec.models.gru4rec import GRU4Rec

    class ToyEpochModel(GRU4Rec):
        name = "toy_epoch_model"

    ToyEpochModel.__module__, ToyEpochModel.__qualname__ = __name__, "ToyEpochModel"
    return ToyEpochModel


ToyEpochModel = toy_epoch_model_class()


def toy_user_model_class():
    """A user-context model defined outside ``sessrec/models`` (BMF under another name), for the
    test that registers one at run time and runs it through the session commands."""
    from sessrec.models.user_context.bmf import BMF

    class ToyUserModel(BMF):
        name = "toy_user_model"

    ToyUserModel.__module__, ToyUserModel.__qualname__ = __name__, "ToyUserModel"
    return ToyUserModel


ToyUserModel = toy_user_model_class()


def small_shop_users(folder):
    """A prepared user-context folder of 60 generated demo-shop users (about 1,800 interactions)."""
    from pathlib import Path

    from sessrec.data.shop_users import ShopUsersConfig, generate_shop_users, shop_users_info
    from sessrec.data.user_data import load_user_dataset, write_user_dataset

    catalogue_path = Path(__file__).resolve().parents[1] / "data" / "demo" / "items.csv"
    config = ShopUsersConfig(n_users=60, mean_interactions=30)
    interactions, items, users = generate_shop_users(pd.read_csv(catalogue_path), config)
    write_user_dataset(folder, interactions, items, users, shop_users_info(config, Path("data/demo/items.csv")))
    return load_user_dataset(folder)


def registered(spec):
    """A pytest-style generator: ``spec`` registered for one test, removed after (and checked gone)."""
    from sessrec.models.registry import SPECS, register, unregister

    register(spec)
    try:
        yield spec
    finally:
        unregister(spec.name)
    assert spec.name not in SPECS

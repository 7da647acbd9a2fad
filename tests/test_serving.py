"""The user-context database and online path: SQLite always, MariaDB and PostgreSQL servers
started by the test (skipped, saying why, where they cannot start)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sessrec.cli import EXIT_DATA, EXIT_OK, main
from sessrec.data.user_data import load_user_dataset
from sessrec.serving.online import FALLBACK, FALLBACK_WEIGHTS, OnlineRecommender, heuristic_scores, judge, parse_context
from sessrec.serving.store import Store, StoreError
from tests.db_servers import mariadb_database, postgres_database

DATA = Path("data/shop_users")
MODELS = Path("checkpoints/demo/users")
CONTEXT = {"time_of_day": "evening", "season": "winter", "device": "mobile"}


@pytest.fixture(scope="module")
def shop():
    return load_user_dataset(DATA)


def a_judged_user(shop) -> int:
    """A user with held-out positives."""
    frame, test = shop.interactions, shop.test_mask()
    return int(frame.loc[test & (frame["Label"] >= 1), "UserId"].iloc[0])


def check_store(url: str, shop) -> None:
    """What every database must do: load, read back, cache, log runs, keep encoders."""
    store = Store.connect(url)
    counts = store.load_dataset(shop)
    assert counts == {"products": len(shop.items), "users": len(shop.users), "interactions": len(shop.interactions)}
    assert store.load_dataset(shop) == counts, "loading again replaces, never duplicates"
    products = store.products(shop.name)
    train = shop.interactions[~shop.test_mask()]
    item = int(train["ItemId"].value_counts().index[0])
    row = products.set_index("item_id").loc[item]
    assert row["views"] == (train["ItemId"] == item).sum()
    assert row["purchases"] == ((train["ItemId"] == item) & (train["Action"] == "purchase")).sum()
    rated = train.loc[(train["ItemId"] == item) & train["Rating"].notna(), "Rating"]
    assert row["ratings"] == len(rated) and (len(rated) == 0 or row["rating"] == pytest.approx(rated.mean()))
    user = int(shop.users["UserId"].iloc[3])
    history = store.history(shop.name, user)
    assert len(history) == (shop.interactions["UserId"] == user).sum() and history["Time"].is_monotonic_increasing
    assert store.known_user(shop.name, user) and not store.known_user(shop.name, 10**6)
    assert store.cached(shop.name, user, "ctx", "v1", 10) is None
    store.put_cache(shop.name, user, "ctx", "v1", 10, {"answer": [1, 2]})
    store.put_cache(shop.name, user, "ctx", "v1", 10, {"answer": [3]})
    assert store.cached(shop.name, user, "ctx", "v1", 10) == {"answer": [3]}
    assert store.cached(shop.name, user, "ctx", "v2", 10) is None, "new model versions miss the cache"
    store.log_runs([{"dataset": shop.name, "user_id": user, "context_key": "ctx", "model": "bmf", "status": "ok",
                     "message": "", "seconds": 0.01, "metrics": "{}", "recommendations": "[1]", "chosen": True}])
    runs = store.runs(shop.name, user)
    assert len(runs) >= 1 and runs["model"].iloc[-1] == "bmf"
    encoders = {"users": [5, 3, 9], "items": [10, 11], "context": {"device": ["mobile", "desktop"]}}
    assert store.save_encoders(shop.name, "bmf", encoders) == 7
    assert store.load_encoders(shop.name, "bmf") == encoders
    mappings = store.context_mappings()
    assert {"feature": "season", "source": "month", "source_value": "12", "value": "winter"} in mappings
    assert len(mappings) == 24 + 12


def test_the_store_on_sqlite(tmp_path, shop) -> None:
    check_store(f"sqlite:///{tmp_path / 'sessrec.db'}", shop)


def test_the_store_on_a_real_mariadb_server(shop) -> None:
    with mariadb_database() as url:
        check_store(url, shop)
        answer = OnlineRecommender.open(shop, MODELS, db_url=url).recommend(a_judged_user(shop), CONTEXT)
        assert answer.source == "models"


def test_the_store_on_a_real_postgresql_server(shop) -> None:
    with postgres_database() as url:
        check_store(url, shop)
        answer = OnlineRecommender.open(shop, MODELS, db_url=url).recommend(a_judged_user(shop), CONTEXT)
        assert answer.source == "models"


def test_an_unusable_database_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(StoreError, match="is not usable"):
        Store.connect("nosuchdb://x")
    with pytest.raises(StoreError, match="cannot create the tables"):
        Store.connect(f"sqlite:///{tmp_path / 'no' / 'such' / 'folder' / 'x.db'}")


@pytest.fixture
def service(tmp_path, shop):
    return OnlineRecommender.open(shop, MODELS, db_url=f"sqlite:///{tmp_path / 'online.db'}")


def test_a_request_runs_four_models_picks_the_best_and_caches_it(service, shop) -> None:
    user = a_judged_user(shop)
    answer = service.recommend(user, CONTEXT, k=10)
    assert answer.source == "models" and [c.model for c in answer.lists] == ["bmf", "neumf", "encm", "lncm"]
    assert all(c.status == "ok" and len(c.items) == 10 and c.seconds > 0 for c in answer.lists)
    best = max(answer.lists, key=lambda c: (c.average_precision, c.precision))
    assert answer.chosen == best.model
    chosen = next(c for c in answer.lists if c.model == answer.chosen)
    held = set(answer.held_out)
    assert (chosen.precision, chosen.average_precision) == judge([i["item_id"] for i in chosen.items], held, 10)
    seen_in_train = set(shop.interactions.loc[(shop.interactions["UserId"] == user) & ~shop.test_mask(), "ItemId"])
    for column in answer.lists:
        ids = [i["item_id"] for i in column.items]
        assert not set(ids) & seen_in_train, "only active items: none the user already had in training"
        assert [i["score"] for i in column.items] == sorted((i["score"] for i in column.items), reverse=True)
    assert {"name", "price", "category"} <= set(answer.recommendations[0])
    again = service.recommend(user, CONTEXT, k=10)
    assert again.source == "cache" and any("cache" in m for m in again.messages)
    assert [i["item_id"] for i in again.recommendations] == [i["item_id"] for i in answer.recommendations]
    runs = service.store.runs(shop.name, user)
    assert len(runs) == 5 and runs["chosen"].sum() == 1, "one row per model and the fallback, one chosen"
    assert service.recommend(user, CONTEXT, k=10, use_cache=False).source == "models"


def test_a_new_user_and_unknown_context_get_messages_and_the_fallback(service, shop) -> None:
    answer = service.recommend(987654, {"device": "smart-fridge", "time_of_day": "evening"})
    assert answer.source == FALLBACK and answer.chosen == FALLBACK
    text = " ".join(answer.messages)
    assert "987654 is not in shop_users" in text and "unknown device 'smart-fridge'" in text
    assert len(answer.recommendations) == 10 and answer.context["season"] in ("winter", "spring", "summer", "autumn")
    # a new user has no categories of their own: the heuristic's top items by popularity
    assert len({i["item_id"] for i in answer.recommendations}) == 10


def test_missing_and_corrupt_models_fall_back_per_column(tmp_path, shop) -> None:
    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copy(MODELS / "bmf.pt", folder / "bmf.pt")
    shutil.copy(MODELS / "encm.pt", folder / "encm.pt")
    (folder / "lncm.pt").write_bytes(b"\x00garbage")
    service = OnlineRecommender.open(shop, folder, db_url=f"sqlite:///{tmp_path / 'x.db'}")
    answer = service.recommend(a_judged_user(shop), CONTEXT)
    status = {c.model: c for c in answer.lists}
    assert status["bmf"].status == status["encm"].status == "ok"
    assert status["neumf"].status == "missing" and "no checkpoint" in status["neumf"].message
    assert status["lncm"].status == "missing" and "not a sessrec checkpoint" in status["lncm"].message
    assert "heuristic" in status["neumf"].message and len(status["neumf"].items) == 10
    assert answer.chosen in ("bmf", "encm")
    empty = OnlineRecommender.open(shop, tmp_path / "nothing", db_url=f"sqlite:///{tmp_path / 'y.db'}")
    none_ran = empty.recommend(a_judged_user(shop), CONTEXT)
    assert none_ran.chosen == FALLBACK and any("no model could run" in m for m in none_ran.messages)


def test_an_unreachable_database_still_answers_without_a_cache(tmp_path, shop) -> None:
    service = OnlineRecommender.open(shop, MODELS, db_url=f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.db'}")
    answer = service.recommend(a_judged_user(shop), CONTEXT)
    assert service.store is None and answer.source == "models"
    assert any("serving without a database" in m for m in answer.messages)
    assert service.recommend(a_judged_user(shop), CONTEXT).source == "models", "no cache without a database"


def test_the_heuristic_follows_its_weights() -> None:
    table = pd.DataFrame({"item_id": [1, 2, 3], "rating": [5.0, 1.0, np.nan], "ratings": [10, 10, 0],
                          "views": [5, 100, 5], "carts": [0, 0, 0], "purchases": [5, 0, 0],
                          "discount": [0.0, 0.0, 0.3]})
    weights = FALLBACK_WEIGHTS["default"]
    scores = heuristic_scores(table, weights)
    # item 1: best rating (0.45) + count (0.15) + intent (0.10); item 2: count + views; item 3: mean rating + discount
    assert scores[0] == pytest.approx(0.45 + 0.15 + 0.10)
    assert scores[1] == pytest.approx(0.15 + 0.15)
    assert scores[2] == pytest.approx(0.45 * 0.5 + 0.15)
    assert set(FALLBACK_WEIGHTS) == {"default", "bmf", "neumf", "encm", "lncm"}
    assert all(sum(w.values()) == pytest.approx(1.0) for w in FALLBACK_WEIGHTS.values())
    assert judge([1, 2, 3], {2, 9}, 3) == (pytest.approx(1 / 3), pytest.approx(0.5 * 0.5))
    with pytest.raises(ValueError, match="FEATURE=VALUE"):
        parse_context(["evening"])


def test_the_users_commands(tmp_path, capsys) -> None:
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["users", "db", "--db", db]) == EXIT_OK
    assert "2,880 products, 1,000 users, 59,982 interactions" in capsys.readouterr().out
    assert main(["users", "migrate-encoders", "--db", db]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.count("encoder rows") == 4
    store = Store.connect(db)
    encm = json.loads(json.dumps(store.load_encoders("shop_users", "encm")))
    assert len(encm["users"]) == 1000 and set(encm["context"]) == {"time_of_day", "season", "device"}
    assert main(["users", "recommend", "--user", "5", "--context", "device=mobile", "--db", db]) == EXIT_OK
    assert "chosen:" in capsys.readouterr().out
    assert main(["users", "recommend", "--user", "5", "--context", "device", "--db", db]) == 2
    assert "FEATURE=VALUE" in capsys.readouterr().err
    assert main(["users", "db", "--db", "nosuchdb://x"]) == EXIT_DATA
    assert "is not usable" in capsys.readouterr().err

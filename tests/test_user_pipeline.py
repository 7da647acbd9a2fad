"""The user-context offline pipeline: datasets (demo users, MovieLens files), metrics, records, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sessrec.cli import EXIT_DATA, EXIT_OK, EXIT_USAGE, main
from sessrec.data.interactions import Interactions
from sessrec.data.movielens import read_movielens_100k
from sessrec.data.shop_users import ShopUsersConfig, generate_shop_users
from sessrec.data.user_data import clean_interactions, load_user_dataset, split_by_user
from sessrec.errors import DataFormatError
from sessrec.experiments.runs import user_context as uc
from tests.helpers import small_shop_users

DEMO_USERS = Path("data/shop_users")


class Oracle:
    """Scores the test positives of each user 1, everything else 0 (or a constant for every item)."""

    name = "oracle"

    def __init__(self, positives: set[tuple[int, int]], constant: bool = False) -> None:
        self.positives, self.constant = positives, constant

    def score_pairs(self, users, items, context):
        if self.constant:
            return np.zeros(len(items))
        return np.array([1.0 if (int(u), int(i)) in self.positives else 0.0 for u, i in zip(users, items)])


def test_average_precision_by_hand() -> None:
    # relevant at places 1 and 3 of 2 relevant: (1/1 + 2/3) / 2
    assert uc.average_precision_at(np.array([True, False, True, False]), 2, 10) == pytest.approx((1 + 2 / 3) / 2)
    # 12 relevant, all in the top 10: AP@10 divides by min(12, 10)
    assert uc.average_precision_at(np.ones(12, dtype=bool), 12, 10) == pytest.approx(1.0)
    assert uc.average_precision_at(np.array([False, True]), 1, 10) == pytest.approx(0.5)
    assert uc.average_precision_at(np.zeros(3, dtype=bool), 0, 10) == 0.0


def _tiny():
    """Users 1-3 with train and test positives over items 1-200."""
    rows = []
    for user in (1, 2, 3):
        rows += [(user, 100 + user, 1.0, 0.0), (user, 110 + user, 1.0, 1.0)]  # train
        rows += [(user, 10 * user + j, 1.0, 5.0 + j) for j in range(user)]  # test: 1, 2, 3 positives
    frame = pd.DataFrame(rows, columns=["UserId", "ItemId", "Label", "Time"])
    extra = pd.DataFrame({"UserId": 9, "ItemId": np.arange(120, 320), "Label": 1.0, "Time": 0.0})
    train = Interactions.from_frame(pd.concat([frame[frame["Time"] < 5], extra]))
    test = Interactions.from_frame(frame[frame["Time"] >= 5])
    return train, test


def test_per_user_lists_of_a_perfect_and_a_blind_model() -> None:
    train, test = _tiny()
    positives = {(int(u), int(i)) for u, i in zip(test.user, test.item)}
    perfect = uc.evaluate_user_lists(Oracle(positives), train, test, negatives=30, seed=0)
    assert perfect["map@10"] == pytest.approx(1.0)
    assert perfect["precision@10"] == pytest.approx((1 + 2 + 3) / 30)
    blind = uc.evaluate_user_lists(Oracle(positives, constant=True), train, test, negatives=30, seed=0)
    assert blind["map@10"] < 0.5, "ties are broken by a fixed random order, never in the model's favour"
    again = uc.evaluate_user_lists(Oracle(positives, constant=True), train, test, negatives=30, seed=0)
    assert again["map@10"] == blind["map@10"]


def test_last_test_positives_and_auc() -> None:
    _, test = _tiny()
    cases, rest = uc.last_test_positives(test)
    assert sorted(zip(cases.user.tolist(), cases.item.tolist())) == [(1, 10), (2, 21), (3, 32)]
    assert len(cases) + len(rest) == len(test)


def test_ratings_are_calibrated_on_train_only(tmp_path) -> None:
    data = small_shop_users(tmp_path / "users")

    class RatingOracle:
        name = "r"

        def __init__(self, frame):
            rated = frame[frame["Rating"].notna()]
            self.rating = {(u, i): r for u, i, r in zip(rated["UserId"], rated["ItemId"], rated["Rating"])}

        def score_pairs(self, users, items, context):
            return np.array([10.0 * self.rating.get((int(u), int(i)), 3.0) - 7 for u, i in zip(users, items)])

    errors = uc.rating_errors(RatingOracle(data.interactions), data)
    # near 0, not 0: a few users rated one item twice, differently
    assert errors["rmse"] < 0.1 and errors["mae"] < 0.05 and errors["n_ratings"] > 50
    constant = uc.rating_errors(Oracle(set(), constant=True), data)
    ratings = data.ratings(True)[1]
    assert constant["rmse"] > 0.5 and constant["rmse"] == pytest.approx(
        np.sqrt(np.mean((ratings - data.ratings(False)[1].mean()) ** 2)))


def test_the_pipeline_writes_records_keeps_them_and_compares(tmp_path) -> None:
    data = small_shop_users(tmp_path / "small")
    settings = uc.PipelineSettings(["context_pop", "bmf"], seeds=[1, 2], negatives=20,
                                   overrides={"bmf": {"n_epochs": 2, "embedding_dim": 4}})
    lines: list[str] = []
    records = uc.run_models(data, settings, out=tmp_path / "results", echo=lines.append, progress=False)
    assert [(r["model"], r["seed"]) for r in records] == [("context_pop", None), ("bmf", 1), ("bmf", 2)]
    record = records[1]
    assert set(record["metrics"]) == {"hitrate@10", "ndcg@10", "mrr@10", "auc", "precision@10", "map@10", "rmse", "mae"}
    assert len(record["ranks"]) == record["n_cases"] and len(record["loss_history"]) == 2
    assert (tmp_path / "results" / "shop_users" / "bmf_seed2.json").is_file()
    again = uc.run_models(data, settings, out=tmp_path / "results", echo=lines.append, progress=False)
    assert [r["metrics"] for r in again] == [r["metrics"] for r in records]
    assert sum("kept" in line for line in lines) == 3
    table = uc.comparison_table(uc.load_records(tmp_path / "results", "shop_users"))
    assert table.set_index("model").loc["BMF", "seeds"] == 2
    assert table.set_index("model").loc["BMF", "HR@10"] == pytest.approx(
        np.mean([r["metrics"]["hitrate@10"] for r in records[1:]]))
    significance = uc.significance_table(records)
    assert significance["p"].isna().sum() == 1 and len(significance) == 2
    with pytest.raises(ValueError, match="unknown user-context model"):
        uc.run_models(data, uc.PipelineSettings(["gru4rec"], [1]), progress=False)


def test_the_committed_demo_users_are_what_the_generator_makes(tmp_path, capsys) -> None:
    assert main(["users", "prepare", "demo", "--out", str(tmp_path / "regenerated")]) == EXIT_OK
    out = capsys.readouterr().out
    assert "0 duplicate rows" in out and "1,000 users" in out
    fresh, committed = load_user_dataset(tmp_path / "regenerated"), load_user_dataset(DEMO_USERS)
    pd.testing.assert_frame_equal(fresh.interactions, committed.interactions)
    pd.testing.assert_frame_equal(fresh.items, committed.items)
    assert {k: v for k, v in fresh.info.items() if k != "provenance"} == \
        {k: v for k, v in committed.info.items() if k != "provenance"}


def test_the_planted_effects_are_in_the_demo_users() -> None:
    data = load_user_dataset(DEMO_USERS)
    frame = data.interactions.merge(data.items[["ItemId", "Category"]], on="ItemId")
    phones = frame["Category"].isin(["Smartphones", "Phone Cases", "Headphones"])
    evening_mobile = (frame["time_of_day"] == "evening") & (frame["device"] == "mobile")
    assert phones[evening_mobile].mean() > 2 * phones[~evening_mobile].mean()
    winter = frame["season"] == "winter"
    coffee = frame["Category"].isin(["Coffee Makers", "Coffee Beans", "Board Games"])
    assert coffee[winter].mean() > 2 * coffee[~winter].mean()
    discounted = frame.merge(data.items[["ItemId", "Discount"]], on="ItemId")["Discount"] > 0
    assert frame["Label"][discounted.to_numpy()].mean() > frame["Label"][~discounted.to_numpy()].mean()


def test_cleaning_and_splitting() -> None:
    frame = pd.DataFrame({"UserId": [1, 1, 1, 1, None, 2, 2, 2], "ItemId": [1, 1, 2, 3, 4, 5, 6, 7],
                          "Time": [1, 1, 2, 3, 4, 5, 6, 7], "Action": ["cart", "cart", "view", "cart", "cart",
                                                                         "jump", "purchase", "purchase"],
                          "Rating": np.nan, "Label": [1, 1, 0, 1, 1, 1, 1, 1]})
    clean, report = clean_interactions(frame)
    assert (report.missing, report.unknown_action, report.duplicates, report.rows_out) == (1, 1, 1, 5)
    assert any("1 duplicate" in line for line in report.lines())
    test = split_by_user(clean, 0.5)
    # user 1: cart@1, view@2, cart@3 -> the test part starts at a positive and leaves one in train
    assert clean[test]["ItemId"].tolist() == [3, 7]
    with pytest.raises(ValueError, match="test_share"):
        split_by_user(clean, 1.5)


def _atomic_files(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "ml-100k.inter").write_text("user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                                          "1\t10\t5\t881250949\n1\t11\t3\t881250950\n2\t10\t4\t891717742\n"
                                          "2\t12\t2\tnot-a-time\n2\t11\t4\t891717800\n1\t12\t4\t881250999\n")
    (folder / "ml-100k.user").write_text("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
                                         "1\t24\tM\ttechnician\t85711\n2\t53\tF\tother\t94043\n")
    (folder / "ml-100k.item").write_text("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
                                         "10\tToy Story\t1995\tAnimation Children's Comedy\n11\tHeat\t1995\tAction\n"
                                         "12\tFargo\t1996\tCrime Drama\n")
    return folder


def test_movielens_atomic_files_become_a_prepared_dataset(tmp_path, capsys) -> None:
    source = _atomic_files(tmp_path / "ml")
    interactions, items, users = read_movielens_100k(source)
    assert len(interactions) == 6 and set(interactions["Action"]) == {"rating"}
    assert items.set_index("ItemId").loc[10, "Category"] == "Animation"
    assert users.set_index("UserId").loc[2, "Occupation"] == "other"
    # 881250949 = 1997-12-04 15:55 UTC: afternoon, winter; 891717742 = 1998-04-04 19:22 UTC: evening, spring
    assert (interactions.iloc[0]["time_of_day"], interactions.iloc[0]["season"]) == ("afternoon", "winter")
    assert (interactions.iloc[2]["time_of_day"], interactions.iloc[2]["season"]) == ("evening", "spring")
    out = tmp_path / "prepared"
    assert main(["users", "prepare", "movielens", "--source", str(source), "--out", str(out)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "1 rows with a missing user, item or time dropped" in text
    data = load_user_dataset(out)
    assert data.has_ratings and data.context_features == ("time_of_day", "season")
    assert data.interactions["Label"].tolist() == [1.0 if r >= 4 else 0.0 for r in data.interactions["Rating"]]
    assert json.loads((out / "user_dataset.json").read_text())["stats"]["interactions"] == 5


def test_bad_user_context_inputs_get_one_line(tmp_path, capsys) -> None:
    assert main(["users", "prepare", "movielens", "--source", str(tmp_path / "nothing")]) == EXIT_DATA
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "fake.whl").write_bytes(b"not a zip")
    assert main(["users", "prepare", "movielens", "--source", str(tmp_path / "fake.whl"),
                 "--out", str(tmp_path / "o")]) == EXIT_DATA
    assert "not a wheel" in capsys.readouterr().err
    assert main(["users", "prepare", "movielens", "--out", str(tmp_path / "o")]) == EXIT_USAGE
    assert "needs --source" in capsys.readouterr().err
    assert main(["users", "evaluate", "--dataset", str(tmp_path)]) == EXIT_DATA
    assert "not a prepared user-context dataset" in capsys.readouterr().err
    assert main(["users", "table", "--dataset", "nothing", "--results", str(tmp_path)]) == EXIT_USAGE
    assert main(["users", "evaluate", "--dataset", str(DEMO_USERS), "--set", "n_epochs=2",
                 "--out", str(tmp_path / "r")]) == EXIT_USAGE
    assert "MODEL:KEY=VALUE" in capsys.readouterr().err
    with pytest.raises(DataFormatError, match="lacks the column"):
        bad = _atomic_files(tmp_path / "bad")
        (bad / "ml-100k.user").write_text("user_id:token\tage:token\n1\t2\n")
        read_movielens_100k(bad)


def test_tuning_judges_on_a_validation_split_resumes_and_feeds_evaluate(tmp_path, capsys, monkeypatch) -> None:
    """`users tune` never looks at test: valid comes from the train part; a stopped study goes on
    where it stopped; `users evaluate --tuned` refits the best valid setting as '<model>-tuned'."""
    from sessrec.experiments.runs import user_context_tuning as tuning

    data = small_shop_users(tmp_path / "small")
    train_tr, valid = tuning.validation_split(data)
    train, test = data.split()
    assert len(train_tr) + len(valid) == len(train) and len(valid) > 0
    train_times = train.time if train.time is not None else np.zeros(0)
    test_pairs = set(zip(test.user.tolist(), test.time.tolist()))
    assert not test_pairs & set(zip(valid.user.tolist(), valid.time.tolist()))  # nothing of test in valid
    assert set(valid.time.tolist()) <= set(train_times.tolist())
    # trial 0 is the registry's demo setting; later trials come from the space, the same for every model
    assert tuning.trial_settings(0, "bmf") == {"embedding_dim": 16, "n_epochs": 20}
    assert tuning.trial_settings(3, "bmf") == tuning.trial_settings(3, "neumf")
    assert all(v in tuning.SPACE[k] for k, v in tuning.trial_settings(5, "encm").items())
    # keep trials cheap: a tiny space of one-epoch settings
    monkeypatch.setattr(tuning, "SPACE", {"embedding_dim": [4, 8], "n_epochs": [1], "learning_rate": [0.001, 0.01]})
    folder = tmp_path / "sweeps"
    study = tuning.tune_models(data, ["bmf"], folder, trials=2, echo=lambda line: None)
    assert [t["trial"] for t in study["models"]["bmf"]["trials"]] == [0, 1]
    before = json.loads((folder / "shop_users.json").read_text())
    lines: list[str] = []
    tuning.tune_models(data, ["bmf"], folder, trials=3, echo=lines.append)  # resumes: only trial 2 runs
    after = json.loads((folder / "shop_users.json").read_text())
    assert after["models"]["bmf"]["trials"][:2] == before["models"]["bmf"]["trials"]
    assert sum("trial" in line and "/3" in line for line in lines) == 1
    best = max(after["models"]["bmf"]["trials"], key=lambda t: t["ndcg@10"])
    assert tuning.tuned_settings(folder / "shop_users.json") == {"bmf": best["params"]}
    with pytest.raises(ValueError, match="cannot tune context_pop"):
        tuning.tune_models(data, ["context_pop"], folder)
    monkeypatch.setattr(tuning, "SPACE", {"embedding_dim": [64]})
    with pytest.raises(ValueError, match="another search space or sampler"):
        tuning.tune_models(data, ["bmf"], folder)
    # evaluate --tuned: records named bmf-tuned, with the study's setting
    results = tmp_path / "results"
    code = main(["users", "evaluate", "--dataset", str(data.path), "--tuned", str(folder / "shop_users.json"),
                 "--seeds", "1", "--negatives", "20", "--out", str(results), "--quiet"])
    assert code == EXIT_OK
    record = json.loads((results / "shop_users" / "bmf-tuned_seed1.json").read_text())
    assert record["run"] == "bmf-tuned" and record["label"] == "BMF (tuned)"
    assert record["setting_from"]["trials"] == 3 and record["setting_from"]["trial"] == best["trial"]
    assert {k: record["hyperparameters"][k] for k in best["params"]} == best["params"]
    assert "BMF (tuned)" in capsys.readouterr().out
    assert main(["users", "evaluate", "--dataset", str(data.path), "--tuned", str(tmp_path / "none.json"),
                 "--out", str(results)]) == EXIT_USAGE

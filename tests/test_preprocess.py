import pandas as pd
import pytest

from sessrec.data.preprocess import (
    DAY,
    PreprocessConfig,
    drop_consecutive_repeats,
    filter_until_stable,
    preprocess_events,
    split_by_time,
    split_statistics,
)
from sessrec.errors import DataFormatError


def frame(rows):
    return pd.DataFrame(rows, columns=["SessionId", "ItemId", "Time"])


def test_drop_consecutive_repeats_only_inside_a_session():
    events = frame([(1, 5, 0), (1, 5, 1), (1, 6, 2), (1, 5, 3), (2, 5, 4)])
    out = drop_consecutive_repeats(events)
    assert out["ItemId"].tolist() == [5, 6, 5, 5]


def test_filter_iterates_until_stable():
    # Item 8 (support 1) goes first; session 2 is then too short and goes, which leaves
    # item 9 with support 1, so a second pass removes it and session 3 with it.
    events = frame([(1, 1, 0), (1, 2, 1), (2, 8, 2), (2, 9, 3), (3, 9, 4), (3, 1, 5), (4, 1, 6), (4, 2, 7)])
    out = filter_until_stable(events, min_item_support=2, min_session_length=2)
    assert sorted(out["ItemId"].unique()) == [1, 2]
    assert out["ItemId"].value_counts().min() >= 2
    assert out.groupby("SessionId").size().min() >= 2


def test_split_by_time_removes_unknown_test_items_and_short_sessions():
    t0 = 10 * DAY
    events = frame([
        (1, 1, 0), (1, 2, 10), (2, 2, 20), (2, 3, 30),  # train
        (3, 1, t0), (3, 2, t0 + 1), (3, 99, t0 + 2),  # test, item 99 unknown to train
        (4, 98, t0 + 3), (4, 3, t0 + 4),  # becomes length 1 -> dropped
    ])
    train, test = split_by_time(events, days=1, min_session_length=2)
    assert set(train["SessionId"]) == {1, 2}
    assert test["ItemId"].tolist() == [1, 2]


def test_empty_split_is_a_clear_error():
    events = frame([(1, 1, 0), (1, 2, 10), (2, 5, 5 * DAY), (2, 6, 5 * DAY + 1)])
    with pytest.raises(DataFormatError, match="test part is empty"):
        split_by_time(events, days=1, min_session_length=2)


def test_preprocess_events_gives_four_splits_and_statistics():
    rows = []
    for s in range(40):
        day = s // 4
        for pos, item in enumerate([1 + s % 3, 4, 5 + s % 2]):
            rows.append((s, item, day * DAY + pos * 60))
    splits = preprocess_events(frame(rows), PreprocessConfig(min_item_support=2, test_days=1, valid_days=1))
    assert set(splits) == {"train", "test", "train_tr", "valid"}
    stats = split_statistics(splits["train"])
    assert stats["sessions"] == 36 and stats["length_min"] == 3 and stats["length_max"] == 3
    assert stats["days"] == pytest.approx(8 + 120 / DAY, abs=0.01)


def test_nothing_left_after_filtering():
    with pytest.raises(DataFormatError, match="nothing is left"):
        preprocess_events(frame([(1, 1, 0), (1, 2, 1)]), PreprocessConfig(min_item_support=5))

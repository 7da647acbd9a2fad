import numpy as np
import pandas as pd

from sessrec.data.sessions import ItemIndex, Sessions


def test_from_frame_orders_sessions_by_start_time_and_events_by_time():
    frame = pd.DataFrame({
        "SessionId": [7, 7, 3, 3, 3, 9],
        "ItemId": [10, 11, 20, 21, 22, 30],
        "Time": [50.0, 40.0, 10.0, 30.0, 20.0, 5.0],
    })
    s = Sessions.from_frame(frame)
    assert list(s.session_ids) == [9, 3, 7]
    assert [list(s.session(i)) for i in range(3)] == [[30], [20, 22, 21], [11, 10]]
    assert list(s.offsets) == [0, 1, 4, 6]
    assert list(s.times) == [5.0, 10.0, 20.0, 30.0, 40.0, 50.0]


def test_from_frame_without_time_keeps_file_order_of_sessions_and_uses_pos():
    frame = pd.DataFrame({"SessionId": [5, 5, 2, 2], "ItemId": [1, 2, 3, 4], "Pos": [1, 0, 0, 1]})
    s = Sessions.from_frame(frame)
    assert list(s.session_ids) == [5, 2]
    assert list(s.items) == [2, 1, 3, 4]
    assert s.times is None


def test_to_frame_round_trip_and_select():
    frame = pd.DataFrame({"SessionId": [1, 1, 2, 2, 2], "ItemId": [4, 5, 6, 7, 8], "Pos": [0, 1, 0, 1, 2]})
    s = Sessions.from_frame(frame)
    back = s.to_frame()
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    only_second = s.select(np.array([False, True]))
    assert list(only_second.items) == [6, 7, 8] and list(only_second.offsets) == [0, 3]


def test_item_index_maps_unknown_ids_to_minus_one():
    index = ItemIndex.from_items(np.array([30, 10, 20, 10]))
    assert list(index.item_ids) == [10, 20, 30]
    assert list(index.to_index(np.array([20, 99, 10, 5]))) == [1, -1, 0, -1]
    assert list(index.to_ids(np.array([2, 0]))) == [30, 10]
    assert 30 in index and 31 not in index

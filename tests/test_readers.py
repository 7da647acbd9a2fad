import gzip

import pytest

from sessrec.data.readers import (
    read_diginetica_views,
    read_retailrocket_events,
    read_session_table,
    read_yoochoose_clicks,
    sessionize,
)
from sessrec.errors import DataFormatError


def write(tmp_path, name, text, compress=False):
    path = tmp_path / name
    if compress:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return path


def test_gru4rec_tsv_is_detected(tmp_path):
    path = write(tmp_path, "train.tsv", "SessionId\tItemId\tTime\n1\t10\t100.5\n1\t11\t101\n2\t10\t50\n")
    frame = read_session_table(path)
    assert list(frame.columns) == ["SessionId", "ItemId", "Time"]
    assert frame["Time"].tolist() == [100.5, 101.0, 50.0]


def test_benchmark_tsv_gz_with_pos_and_extra_column(tmp_path):
    text = "SessionId\tItemId\tPos\tTimeframe\n4\t1\t0\t0\n4\t2\t1\t900\n"
    frame = read_session_table(write(tmp_path, "t.tsv.gz", text, compress=True))
    assert list(frame.columns) == ["SessionId", "ItemId", "Pos"]
    assert frame["Pos"].tolist() == [0, 1]


def test_comma_separated_with_other_column_names(tmp_path):
    frame = read_session_table(write(tmp_path, "x.csv", "session_id,item_id,timestamp\n1,5,3\n"))
    assert frame.iloc[0].tolist() == [1, 5, 3.0]


def test_overrides_name_columns(tmp_path):
    path = write(tmp_path, "x.csv", "visit,product,when\n1,5,3\n1,6,4\n")
    frame = read_session_table(path, session_col="visit", item_col="product", time_col="when")
    assert frame["ItemId"].tolist() == [5, 6]


def test_missing_column_names_file_and_columns(tmp_path):
    path = write(tmp_path, "bad.tsv", "SessionId\tProduct\n1\t2\n")
    with pytest.raises(DataFormatError, match=r"bad.tsv: missing column\(s\) ItemId"):
        read_session_table(path)


def test_non_numeric_id_names_the_line(tmp_path):
    path = write(tmp_path, "bad.tsv", "SessionId\tItemId\tTime\n1\t2\t3\n1\tabc\t4\n")
    with pytest.raises(DataFormatError, match=r"bad.tsv: line 3: column ItemId must hold integer ids, got 'abc'"):
        read_session_table(path)


def test_non_numeric_time_names_the_line(tmp_path):
    path = write(tmp_path, "bad.tsv", "SessionId\tItemId\tTime\n1\t2\tyesterday\n")
    with pytest.raises(DataFormatError, match=r"line 2: column Time must be numeric"):
        read_session_table(path)


def test_empty_file_and_header_only(tmp_path):
    with pytest.raises(DataFormatError, match="empty"):
        read_session_table(write(tmp_path, "empty.tsv", ""))
    with pytest.raises(DataFormatError, match="no events"):
        read_session_table(write(tmp_path, "header.tsv", "SessionId\tItemId\tTime\n"))


def test_missing_file_and_ambiguous_separator(tmp_path):
    with pytest.raises(DataFormatError, match="no such file"):
        read_session_table(tmp_path / "nope.tsv")
    with pytest.raises(DataFormatError, match="ambiguous separator"):
        read_session_table(write(tmp_path, "amb.csv", "SessionId,ItemId;Time\n"))


def test_yoochoose_clicks(tmp_path):
    text = "1,2014-04-07T10:51:09.277Z,214536502,0\n1,2014-04-07T10:54:09.868Z,214536500,0\n"
    frame = read_yoochoose_clicks(write(tmp_path, "yoochoose-clicks.dat", text))
    assert frame["ItemId"].tolist() == [214536502, 214536500]
    assert frame["Time"].iloc[1] - frame["Time"].iloc[0] == pytest.approx(180.591)
    with pytest.raises(DataFormatError, match="line 1: expected 4 comma-separated"):
        read_yoochoose_clicks(write(tmp_path, "bad.dat", "1,2,3\n"))


def test_retailrocket_keeps_views_and_splits_sessions_by_gap(tmp_path):
    text = (
        "timestamp,visitorid,event,itemid,transactionid\n"
        "1000000,7,view,1,\n"
        "1060000,7,view,2,\n"
        "1070000,7,addtocart,2,\n"
        "9000000,7,view,3,\n"
        "1000000,8,view,4,\n"
    )
    frame = read_retailrocket_events(write(tmp_path, "events.csv", text), session_gap=1800)
    assert len(frame) == 4  # addtocart dropped
    by_item = dict(zip(frame["ItemId"], frame["SessionId"]))
    assert by_item[1] == by_item[2] != by_item[3]  # 7,940 s gap starts a new session
    assert by_item[4] not in (by_item[1], by_item[3])


def test_sessionize_is_per_user():
    ids = sessionize([1, 2, 1, 1], [0.0, 5.0, 10.0, 5000.0], gap_seconds=100)
    assert ids[0] == ids[2] and ids[0] != ids[3] and ids[1] not in (ids[0], ids[3])


def test_diginetica_views(tmp_path):
    text = "session_id;user_id;item_id;timeframe;eventdate\n1;;81766;526309;2016-05-09\n1;;31331;1031018;2016-05-09\n"
    frame = read_diginetica_views(write(tmp_path, "train-item-views.csv", text))
    assert frame["ItemId"].tolist() == [81766, 31331]
    assert frame["Time"].iloc[1] - frame["Time"].iloc[0] == pytest.approx(504.709)
    with pytest.raises(DataFormatError, match="line 2: eventdate"):
        read_diginetica_views(write(tmp_path, "bad.csv", "sessionId;userId;itemId;timeframe;eventdate\n1;;2;3;May\n"))


def test_plain_numeric_files_take_the_fast_path_with_the_checked_paths_result(tmp_path, monkeypatch):
    import sessrec.data.readers as readers

    path = tmp_path / "s.tsv"
    path.write_text("SessionId\tItemId\tTime\n" + "".join(f"{s}\t{i}\t{1.5e9 + 0.125 * i}\n"
                                                         for s in range(1, 40) for i in (9, 2**62 + s, 3)))
    assert readers._read_numbers(path, "\t", None, None, None, None) is not None
    fast = readers.read_session_table(path)
    monkeypatch.setattr(readers, "_read_numbers", lambda *args: None)
    checked = readers.read_session_table(path)
    assert fast.equals(checked) and list(fast.dtypes) == list(checked.dtypes)
    # a float spelling of an id, a non-finite time: the checked path's business
    (tmp_path / "f.tsv").write_text("SessionId\tItemId\tTime\n1\t7.0\t1\n1\t8\t2\n")
    (tmp_path / "n.tsv").write_text("SessionId\tItemId\tTime\n1\t7\tinf\n1\t8\t2\n")
    monkeypatch.undo()
    assert readers._read_numbers(tmp_path / "f.tsv", "\t", None, None, None, None) is None
    assert readers._read_numbers(tmp_path / "n.tsv", "\t", None, None, None, None) is None

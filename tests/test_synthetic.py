"""The synthetic YOOCHOOSE-shaped log of the scale runs: its statistics, its seed, and that
``prepare raw --format yoochoose`` reads what it writes."""

from __future__ import annotations

import numpy as np
import pytest

from sessrec.cli import EXIT_OK, main
from sessrec.data.dataset import load_dataset
from sessrec.data.synthetic import YOOCHOOSE, length_distribution, popularity_weights, synthetic_clicks, write_yoochoose_clicks


def test_lengths_and_popularity_follow_the_written_down_shape():
    p = length_distribution()
    lengths = np.arange(len(p))
    assert p[:2].sum() == 0 and p.sum() == pytest.approx(1.0)
    assert (lengths * p).sum() == pytest.approx(27.0 / 7.8, rel=1e-6)
    assert (np.diff(p[2:]) < 0).all(), "shorter sessions are more common"
    weights = popularity_weights(37_800)
    assert weights.sum() == pytest.approx(1.0) and (np.diff(weights) <= 0).all()
    # the slopes of the rank-frequency curve, read back on log scales
    ranks = np.arange(1, 37_801)
    for (first, slope), last in zip(YOOCHOOSE.popularity_slopes, (100, 1_000, 37_800)):
        inside = slice(first, last - 1)
        fitted = np.polyfit(np.log(ranks[inside]), np.log(weights[inside]), 1)[0]
        assert fitted == pytest.approx(slope, abs=1e-6)


def test_a_log_has_the_size_sessions_and_order_asked_for_and_repeats_for_a_seed():
    clicks = synthetic_clicks(50_000, seed=3)
    assert 49_800 <= len(clicks) <= 50_000
    lengths = clicks.groupby("SessionId").size()
    assert lengths.min() >= 2 and lengths.mean() == pytest.approx(27.0 / 7.8, rel=0.05)
    assert clicks["SessionId"].is_monotonic_increasing
    assert (clicks.groupby("SessionId")["Time"].diff().dropna() >= 0).all(), "clicks in time order"
    assert synthetic_clicks(50_000, seed=3).equals(clicks) and not synthetic_clicks(50_000, seed=4).equals(clicks)
    top = clicks["ItemId"].value_counts(normalize=True)
    assert top.iloc[:100].sum() > 0.25, "a few items take a large share, as in YOOCHOOSE"
    with pytest.raises(ValueError, match="at least 2 clicks"):
        synthetic_clicks(1)


def test_prepare_reads_the_written_log_and_splits_off_the_last_day(tmp_path):
    clicks = synthetic_clicks(60_000, seed=1)
    raw = write_yoochoose_clicks(clicks, tmp_path / "clicks.dat", chunk_rows=7_000)
    first = raw.read_text().splitlines()[0].split(",")
    assert len(first) == 4 and first[1].endswith("Z") and first[3] == "0"
    assert main(["prepare", "raw", "--format", "yoochoose", "--input", str(raw), "--out", str(tmp_path / "data")]) == EXIT_OK
    dataset = load_dataset(tmp_path / "data")
    share = dataset.test.n_events / (dataset.train.n_events + dataset.test.n_events)
    assert 0.01 < share < 0.04, "the last of 41 days is the test split"
    assert dataset.train.n_events > 0.6 * len(clicks), "items with fewer than 5 clicks go, the rest stays"

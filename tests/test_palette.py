"""The app's one palette (sessrec.ui.palette): every model its own colour, variants shades of it,
and never two labels of one chart alike."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

from sessrec.experiments.records import load_run_records, valid_records
from sessrec.experiments.analysis.tables import pretty_label
from sessrec.models.registry import REGISTRY
from sessrec.ui.charts import model_colour_scale
from sessrec.ui.palette import MIN_DISTANCE, base_colour, distance, label_colours, lab

REPO = Path(__file__).resolve().parents[1]


def test_registered_models_are_far_apart():
    for a, b in combinations(REGISTRY, 2):
        assert distance(a.colour, b.colour) >= MIN_DISTANCE, (a.name, b.name)


def test_every_chart_of_the_committed_runs_has_distinct_visible_colours():
    records = valid_records(load_run_records(REPO / "results"))
    for dataset in sorted({r["dataset"] for r in records}):
        labels = sorted({pretty_label(r["label"]) for r in records if r["dataset"] == dataset})
        colours = label_colours(labels)
        assert len(colours) == len(labels) >= 5
        for (la, ca), (lb, cb) in combinations(colours.items(), 2):
            assert distance(ca, cb) >= MIN_DISTANCE, (dataset, la, lb, ca, cb)
        assert all(lab(c)[0] <= 82 for c in colours.values()), "no swatch too pale to see"


def test_variants_are_shades_of_their_model_and_stable_across_charts():
    gru = next(s.colour for s in REGISTRY if s.name == "gru4rec")
    assert base_colour("GRU4Rec (BPR-max)") == base_colour("gru4rec-seed2") == gru
    assert base_colour("SR-GNN") is not None and base_colour("GCE-GNN") is None
    small = label_colours(["GRU4Rec (BPR-max)", "NARM"])
    big = label_colours(["GRU4Rec (BPR-max)", "NARM", "STAN", "VSTAN", "GCE-GNN", "Item-KNN"])
    assert small["GRU4Rec (BPR-max)"] == big["GRU4Rec (BPR-max)"] != gru
    assert small["NARM"] == big["NARM"] == next(s.colour for s in REGISTRY if s.name == "narm")
    # many strangers in one chart: still all distinct (the old fixed list repeated after 8)
    strangers = label_colours([f"published row {i}" for i in range(20)])
    assert len(set(strangers.values())) == 20
    scale = model_colour_scale(["GRU4Rec", "GRU4Rec"])
    assert scale.domain == ["GRU4Rec"] and scale.range == [gru]


def test_training_curve_labels_take_their_models_colour_and_repeats_get_shades():
    narm = next(s.colour for s in REGISTRY if s.name == "narm")
    colours = label_colours(["diginetica · narm", "rsc15_100k · narm", "diginetica · gru4rec-seed1"])
    assert colours["diginetica · narm"] == narm
    assert colours["rsc15_100k · narm"] != narm and distance(colours["rsc15_100k · narm"], narm) >= MIN_DISTANCE
    assert base_colour("diginetica · gru4rec-seed1") == next(s.colour for s in REGISTRY if s.name == "gru4rec")

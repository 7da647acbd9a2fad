import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sessrec.cli import EXIT_DATA, EXIT_OK, main
from tests.helpers import write_split_files
from sessrec.experiments.records import aggregate, load_run_records, metrics_table

ROOT = Path(__file__).resolve().parents[1]


def test_prepare_split_evaluate_and_write_results(tmp_path, capsys):
    write_split_files(tmp_path)
    out = tmp_path / "data" / "toy"
    assert main(["prepare", "split", "--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"),
                 "--out", str(out)]) == EXIT_OK
    assert "dataset toy" in capsys.readouterr().out
    results = tmp_path / "res.json"
    ranks = tmp_path / "ranks.npz"
    code = main(["evaluate", "--dataset", str(out), "--model", "most_popular", "last_item", "--out", str(results),
                 "--ranks", str(ranks), "--quiet"])
    assert code == EXIT_OK
    record = json.loads(results.read_text())
    assert [r["label"] for r in record["results"]] == ["most_popular", "last_item"]
    assert record["results"][0]["n_events"] == 3
    assert record["significance"][0]["b"] == "last_item"
    assert ranks.is_file()


def test_train_then_evaluate_a_checkpoint(tmp_path):
    write_split_files(tmp_path)
    out = tmp_path / "toy"
    main(["prepare", "split", "--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"), "--out", str(out)])
    ckpt = tmp_path / "knn.pt"
    assert main(["train", "--dataset", str(out), "--model", "item_knn", "--set", "lambda_=5", "--out", str(ckpt), "--quiet"]) == 0
    csv = tmp_path / "r.csv"
    assert main(["evaluate", "--dataset", str(out), "--checkpoint", str(ckpt), "--out", str(csv), "--quiet"]) == 0
    assert "recall@20" in csv.read_text().splitlines()[0]


def test_bad_input_exits_with_data_error_and_message(tmp_path, capsys):
    (tmp_path / "bad.tsv").write_text("SessionId\tItemId\tTime\n1\tx\t0\n")
    code = main(["prepare", "split", "--train", str(tmp_path / "bad.tsv"), "--test", str(tmp_path / "bad.tsv"),
                 "--out", str(tmp_path / "o")])
    assert code == EXIT_DATA
    assert "line 2: column ItemId must hold integer ids" in capsys.readouterr().err
    assert main(["stats", "--dataset", str(tmp_path)]) == EXIT_DATA


def test_unknown_model_parameter_is_a_usage_error(tmp_path, capsys):
    write_split_files(tmp_path)
    out = tmp_path / "toy"
    main(["prepare", "split", "--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"), "--out", str(out)])
    assert main(["train", "--dataset", str(out), "--model", "item_knn", "--set", "k=5", "--quiet"]) == 2
    assert "has no parameter(s) k" in capsys.readouterr().err


def test_benchmark_writes_records_and_resumes(tmp_path, capsys):
    write_split_files(tmp_path)
    out = tmp_path / "toy"
    main(["prepare", "split", "--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"), "--out", str(out)])
    results = tmp_path / "results"
    assert main(["benchmark", "--dataset", str(out), "--out", str(results), "--quiet"]) == 0
    records = load_run_records(results)
    assert sorted(r["run_id"] for r in records) == ["item_knn", "last_item", "most_popular"]
    table = aggregate(metrics_table(records))
    assert set(table["label"]) == {"item_knn", "last_item", "most_popular"}
    summary = pd.read_csv(results / "summary.csv")
    assert len(summary) == len(table) and {"mean", "std", "n"} <= set(summary.columns)
    capsys.readouterr()
    assert main(["benchmark", "--dataset", str(out), "--out", str(results), "--quiet"]) == 0
    assert capsys.readouterr().out.count("already complete") == 3
    # a config whose setting changed since (a tuned setting chosen again): that run is redone
    config = tmp_path / "changed.json"
    config.write_text(json.dumps({"models": [{"label": "item_knn", "model": "item_knn", "params": {"alpha": 0.3}},
                                             {"label": "last_item", "model": "last_item"}]}))
    assert main(["benchmark", "--dataset", str(out), "--config", str(config), "--out", str(results), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "item_knn: the existing record was made with other settings (alpha: 0.5 -> 0.3)" in printed
    assert printed.count("already complete") == 1
    rerun = next(r for r in load_run_records(results) if r["run_id"] == "item_knn")
    assert rerun["hyperparameters"]["alpha"] == 0.3


def test_module_entry_point_help():
    done = subprocess.run([sys.executable, "-m", "sessrec", "evaluate", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0 and "--tie-mode" in done.stdout
    done = subprocess.run([sys.executable, "-m", "sessrec"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2


def test_results_prints_the_benchmark_tables_and_where_gru4rec_loses(tmp_path, capsys):
    write_split_files(tmp_path)
    out = tmp_path / "toy"
    main(["prepare", "split", "--train", str(tmp_path / "train.tsv"), "--test", str(tmp_path / "test.tsv"), "--out", str(out)])
    config = tmp_path / "toy.json"
    config.write_text(json.dumps({"models": [
        {"label": "most_popular", "model": "most_popular"}, {"label": "last_item", "model": "last_item"},
        {"label": "gru4rec-xe", "model": "gru4rec",
         "params": {"layers": [8], "batch_size": 4, "n_sample": 0, "n_epochs": 1, "loss": "cross-entropy"}}]}))
    results = tmp_path / "results"
    assert main(["benchmark", "--dataset", str(out), "--config", str(config), "--seeds", "2",
                 "--out", str(results), "--quiet"]) == 0
    summary = aggregate(metrics_table(load_run_records(results)))
    recall = summary[(summary["metric"] == "recall") & (summary["k"] == 20)].set_index("label")
    capsys.readouterr()

    assert main(["results", "--root", str(results)]) == EXIT_OK
    text = capsys.readouterr().out
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines() if line.startswith("| ")}
    gru = recall.loc["gru4rec-xe"]
    assert f"{gru['mean']:.4f} ± {gru['std']:.4f}" in rows["GRU4Rec (cross-entropy)"]  # two seeds: mean ± std
    assert f"{recall.loc['last_item', 'mean']:.4f}" in rows["LastItem"]
    best = recall["mean"].idxmax()
    assert f"**{recall.loc[best, 'mean']:.4f}" in text  # the best value of the column in bold
    others = recall.drop(index="gru4rec-xe")
    verdict = {1: "beats every GRU4Rec run on Recall@20", 0: "ties with the best GRU4Rec run on Recall@20",
               -1: "GRU4Rec run beats every other model"}[  # compared as the table shows them
                  int(np.sign(float(f"{others['mean'].max():.4f}") - float(f"{gru['mean']:.4f}")))]
    assert verdict in text
    assert "against the best GRU4Rec run" not in text  # no modern model in this benchmark
    assert main(["results", "--root", str(ROOT / "results"), "--dataset", "yoochoose1_64"]) == EXIT_OK
    text = capsys.readouterr().out  # the committed records have modern runs there
    assert "**SR-GNN** (" in text and "Modern neural models on yoochoose1_64" in text
    modern = [line for line in text.split("Modern neural models")[1].splitlines() if line.startswith("| srgnn ")]
    references = pd.read_csv(ROOT / "results" / "reference_numbers.csv")  # SR-GNN's published numbers beside ours
    published = references[(references["dataset"] == "yoochoose1_64") & (references["model"] == "sr_gnn")
                           & (references["k"] == 20)].set_index("metric")["value"]
    assert len(modern) == 1 and f"| {published['recall']:.4f} | {published['mrr']:.4f} |" in modern[0]
    assert main(["results", "--root", str(ROOT / "results"), "--dataset", "yoochoose1_64", "--format", "latex"]) == 0
    latex = capsys.readouterr().out
    assert latex.count("\\begin{tabular}") == 2 and "Run & Model & Seeds" in latex
    header = latex.split("Run & Model & Seeds")[1].split("\\bottomrule")[0]
    # bold only where it means "best": accuracy columns, never seeds, published numbers or seconds
    rows = [line.split(" & ") for line in header.splitlines()[1:] if line.count(" & ") >= 4]
    for column, cells in enumerate(zip(*rows)):
        bold = [c for c in cells if "\\textbf" in c]
        if column not in (3, 4):  # Recall@20, MRR@20
            assert not bold, f"column {column} has bold cells"
            continue
        value = lambda c: float(c.replace("\\textbf{", "").split()[0].strip("}$"))
        best = max(value(c) for c in cells)
        assert bold and all(value(c) == best for c in bold), "bold is the column's best, ties included"
        assert len(bold) == sum(value(c) == best for c in cells)

    assert main(["results", "--root", str(results), "--format", "latex", "--ks", "5", "20"]) == EXIT_OK
    latex = capsys.readouterr().out
    assert "\\begin{tabular}{lcccc}" in latex and "Recall@5" in latex and "\\textbf{" in latex
    assert main(["results", "--root", str(results), "--format", "csv"]) == EXIT_OK
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(frame.columns) == ["Dataset", "Model", "Recall@20", "MRR@20", "Tied targets"] and len(frame) == 3
    # several datasets: one header, columns aligned by name (a dataset lacking one leaves it empty)
    assert main(["results", "--root", str(ROOT / "results"), "--format", "csv", "--ks", "5", "20"]) == EXIT_OK
    out = capsys.readouterr().out
    both = pd.read_csv(io.StringIO(out))
    assert out.count("Dataset,Model") == 1 and {"diginetica", "yoochoose1_64"} <= set(both["Dataset"])
    assert list(both.columns[2:6]) == ["Recall@5", "Recall@20", "MRR@5", "MRR@20"]
    assert main(["results", "--root", str(results), "--metrics", "ndcg", "--ks", "99"]) == 2
    assert "no results for ndcg at k = 99" in capsys.readouterr().err

    assert main(["results", "--root", str(results), "--dataset", "nowhere"]) == 2
    err = capsys.readouterr().err
    assert "no results for nowhere" in err and "results exist for: toy" in err
    assert main(["results", "--root", str(tmp_path / "empty")]) == 2
    assert "no full-ranking run records" in capsys.readouterr().err

    # RQ4 from the command line: every model's metric by position, as the page's breakdown
    from sessrec.experiments.analysis.breakdowns import breakdown

    expected = breakdown(load_run_records(results), by="position", metric="mrr", k=20)
    expected = expected[expected["label"] == "last_item"].set_index("bucket")["value"]
    assert main(["results", "--root", str(results), "--breakdown", "position", "--metrics", "mrr"]) == EXIT_OK
    text = capsys.readouterr().out
    assert "toy: MRR@20 by position of the predicted click" in text and "Recall@20" not in text
    header = next(line for line in text.splitlines() if line.startswith("| Model |"))
    assert header.split(" | ")[1:] == [*expected.index[:-1], expected.index[-1] + " |"]
    row = next(line for line in text.splitlines() if line.startswith("| LastItem |"))
    assert [c.strip("* |") for c in row.split(" | ")[1:]] == [f"{v:.4f}" for v in expected]
    assert main(["results", "--root", str(results), "--breakdown", "popularity", "--format", "csv"]) == EXIT_OK
    frame = pd.read_csv(io.StringIO(capsys.readouterr().out.split("\n\n")[0]))
    assert list(frame.columns[:3]) == ["Dataset", "Metric", "Model"] and set(frame["Metric"]) == {"Recall@20", "MRR@20"}
    assert set(frame["Model"]) == {"MostPopular", "LastItem", "GRU4Rec (cross-entropy)"}
    # by re-click: the test split is read from the prepared dataset (here tmp_path/toy)
    from sessrec.data.dataset import load_dataset
    from sessrec.experiments.analysis.breakdowns import benchmark_events

    events = benchmark_events(load_dataset(tmp_path / "toy"))
    expected = breakdown(load_run_records(results), by="reclick", metric="recall", k=20, events={"toy": events})
    expected = expected[expected["label"] == "last_item"].set_index("bucket")["value"]
    assert main(["results", "--root", str(results), "--breakdown", "reclick", "--metrics", "recall",
                 "--data", str(tmp_path)]) == EXIT_OK
    text = capsys.readouterr().out  # (this toy split has no re-click: one bucket)
    assert not events.reclick.any() and f"test events per bucket: new to the session: {len(events.targets):,}" in text
    row = next(line for line in text.splitlines() if line.startswith("| LastItem |"))
    assert [c.strip("* |") for c in row.split(" | ")[1:]] == [f"{expected['new to the session']:.4f}"]
    assert main(["results", "--root", str(results), "--breakdown", "reclick", "--data", str(tmp_path / "none")]) == 2
    assert "--breakdown reclick needs the test sessions of toy" in capsys.readouterr().err

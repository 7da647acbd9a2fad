"""The README and the documentation site: generated parts in step with the records, the site builds."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from sessrec.cli import EXIT_DATA, EXIT_OK, main
from sessrec.cli.docs import END, START, readme_with_headline
from sessrec.errors import DataFormatError
from tests.app_support import REPO, write_fake_results


def test_the_committed_docs_are_what_the_records_give(capsys):
    assert main(["docs", "--check", "--repo", str(REPO), "--root", str(REPO / "results")]) == EXIT_OK
    assert "0 out of date" in capsys.readouterr().out


def test_a_changed_record_makes_the_check_fail_until_regenerated(tmp_path, capsys):
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    shutil.copy(REPO / "README.md", repo / "README.md")
    results = tmp_path / "results"
    write_fake_results(results, questions=False)
    assert main(["docs", "--check", "--repo", str(repo), "--root", str(results)]) == EXIT_DATA
    assert "out of date" in capsys.readouterr().err
    assert main(["docs", "--repo", str(repo), "--root", str(results)]) == EXIT_OK
    assert main(["docs", "--check", "--repo", str(repo), "--root", str(results)]) == EXIT_OK
    readme = (repo / "README.md").read_text()
    verdict = readme[readme.index(START):readme.index(END)]
    assert "**demo**" in verdict and "| demo |" in verdict  # the fake records' dataset, not the committed ones
    assert (repo / "docs" / "index.md").read_text() == readme.replace("](docs/", "](")
    assert (repo / "docs" / "figures" / "headline.svg").read_text().startswith("<svg")


def test_the_readme_needs_its_markers():
    with pytest.raises(DataFormatError, match="headline:start"):
        readme_with_headline("no markers here", "x")
    assert readme_with_headline(f"a\n{START}\nold\n{END}\nb", "new") == f"a\n{START}\nnew\n{END}\nb"


def test_the_readme_is_short_and_starts_with_the_two_commands():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "pip install -r requirements.txt -e . && streamlit run serve.py" in text
    assert "pip install -r requirements-dev.txt -e . && python -m pytest" in text


def test_the_documentation_site_builds_without_warnings(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is in requirements-dev.txt; install it to build the site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "site" / "index.html").is_file() and (tmp_path / "site" / "reference" / "models" / "index.html").is_file()


def test_the_cost_figure_draws_every_costed_configuration_once_per_dataset(tmp_path):
    """docs/figures/costs.svg: one dot per configuration with a cost, GRU4Rec's in its colour, the
    timed cost where there is one (its tooltip says so), and nothing for a dataset without costs."""
    from sessrec.experiments.analysis import docs, tables
    from sessrec.experiments.records import load_run_records, valid_records
    from tests.app_support import write_fake_results

    write_fake_results(tmp_path, questions=False)
    records = valid_records(load_run_records(tmp_path))
    frame = tables.cost_frame(records)
    svg = docs.costs_svg(records, {"demo": {"gru4rec-xe": {"cpu_seconds": 4321.0}}})
    assert svg.count("<circle") == len(frame) + 2, "one dot per configuration, two in the legend"
    assert "GRU4Rec (cross-entropy): 4,321.0 s" in svg
    assert ">demo</text>" in svg
    assert docs.costs_svg([], {}).count("<circle") == 2, "no dataset: the legend only"


def test_the_headline_table_gives_one_runs_training_cost_of_the_best_and_of_gru4recs_best():
    from sessrec.experiments.analysis import docs
    from sessrec.experiments.records import load_run_records, valid_records

    records = [r for r in valid_records(load_run_records(REPO / "results")) if r["dataset"] == "rsc15_100k"]
    head = docs.headlines(records)[0]
    best, ours = head.best.label, head.subject[0].label
    timings = {"rsc15_100k": {best: {"cpu_seconds": 1234.4}, ours: {"cpu_seconds": 5.2}}}

    def row(text: str) -> str:
        return next(line for line in text.splitlines() if line.startswith("| rsc15_100k"))

    timed = row(docs.headline_markdown(records, timings))
    assert ("| 1,234 s / 5 s |" if best != ours else "| 1,234 s |") in timed
    untimed = row(docs.headline_markdown(records, {}))  # the records' training seconds, marked as such
    assert "s (records)" in untimed and "1,234 s" not in untimed

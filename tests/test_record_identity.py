"""Run records say which data and which code made them: the ``data`` block (path and split
fingerprints), ``code_version``, their checks, and the one-off that adds ``data`` to older records."""

from __future__ import annotations

import json

from sessrec.cli import EXIT_OK, main
from sessrec.data.dataset import load_dataset
from sessrec.experiments.records import code_version, load_run_records, read_run_record, record_problem
from sessrec.tools.add_data_identity import migrate
from tests.helpers import prepared_toy


def test_a_benchmark_record_names_its_data_and_code_and_the_checks_hold(tmp_path):
    toy = prepared_toy(tmp_path)
    res = tmp_path / "res"
    assert main(["benchmark", "--dataset", str(toy), "--out", str(res), "--only", "last_item", "--quiet"]) == EXIT_OK
    record = next(r for r in load_run_records(res) if r["run_id"] == "last_item")
    dataset = load_dataset(toy)
    assert record["data"] == {"path": str(toy), "train_fingerprint": dataset.fingerprint("train"),
                              "test_fingerprint": dataset.fingerprint("test")}
    assert record["code_version"] == code_version()  # this checkout's commit (None outside git)
    assert record_problem({**record, "data": {"path": "x"}}) == "'data' does not hold the train and test fingerprints"
    assert record_problem({**record, "code_version": 3}) == "'code_version' is not a string"
    older = {k: v for k, v in record.items() if k not in ("data", "code_version", "_path")}
    assert record_problem(older) is None, "records from before the fields stay valid"


def test_code_version_is_a_commit_or_none(tmp_path):
    version = code_version()
    assert version is None or len(version.split()[0]) == 40
    assert code_version(tmp_path) is None  # not a git checkout


def test_the_one_off_adds_only_the_data_block(tmp_path):
    toy = prepared_toy(tmp_path)
    res = tmp_path / "res"
    assert main(["benchmark", "--dataset", str(toy), "--out", str(res), "--only", "most_popular", "last_item",
                 "--quiet"]) == EXIT_OK
    path = res / "toy" / "last_item.json"
    written = json.loads(path.read_text())
    older = {k: v for k, v in written.items() if k != "data"}
    path.write_text(json.dumps(older, indent=2) + "\n")
    (res / "toy" / "most_popular.json").write_text(
        json.dumps({k: v for k, v in json.loads((res / "toy" / "most_popular.json").read_text()).items() if k != "data"}
                   | {"evaluation": written["evaluation"] | {"n_test_events_raw": 1}}, indent=2) + "\n")
    before = path.read_text()
    assert migrate(res, tmp_path, write=False)[0] == 1 and path.read_text() == before, "a dry run writes nothing"
    changed, left = migrate(res, tmp_path, write=True)
    assert changed == 1 and len(left) == 1 and "its test split had 1 events" in left[0]
    migrated = json.loads(path.read_text())
    assert list(migrated) == list(written), "data sits where a new record has it"
    assert migrated == written | {"data": migrated["data"]} and migrated["data"]["train_fingerprint"] == \
        written["data"]["train_fingerprint"]
    assert read_run_record(path)[1] is None, "the ranks checksum still matches"


def test_the_typed_record_reads_and_writes_the_same_json_and_refuses_what_it_does_not_know(tmp_path):
    import numpy as np
    import pytest

    from sessrec.experiments.records import ABSENT, RunRecord, write_run

    toy = prepared_toy(tmp_path)
    res = tmp_path / "res"
    assert main(["benchmark", "--dataset", str(toy), "--out", str(res), "--only", "last_item", "--quiet"]) == EXIT_OK
    path = res / "toy" / "last_item.json"
    raw = json.loads(path.read_text())
    typed = RunRecord.from_dict(raw, path)
    assert typed.to_dict() == raw and list(typed.to_dict()) == list(raw), "read and written again: the same JSON"
    assert typed.tuning is ABSENT and "tuning" not in typed.to_dict(), "absent stays absent (not null)"
    with pytest.raises(ValueError, match="unknown key"):
        RunRecord.from_dict({**raw, "seeed": 1})
    with pytest.raises(ValueError, match="'evaluation' is missing"):
        RunRecord.from_dict({k: v for k, v in raw.items() if k != "evaluation"})
    with pytest.raises(ValueError, match="'created' is missing"):
        RunRecord.from_dict({k: v for k, v in raw.items() if k != "created"})
    # write_run checks a typed record whole before its JSON is written
    broken = RunRecord(**{**{k: v for k, v in raw.items() if k not in ("ranks_file", "ranks_sha256")},
                          "run_id": "broken",
                          "evaluation": {**raw["evaluation"], "metrics": {"recall@20": 1.5}}})
    with pytest.raises(ValueError, match="recall@20"):
        write_run(tmp_path / "out", broken, {"ranks": np.ones(3, np.float32)})
    assert not (tmp_path / "out" / "toy" / "broken.json").exists()

"""Bad data files and bad output paths: every one a clear error, nothing written where it
should not be (issue 8, section 3: paths, gzip, dataset.json, output paths, readers,
messages, exit codes, and a broken dataset folder in the app).

The ``bad`` fixture writes the bad files into ``tmp_path``; the tests drive the command
line (``sessrec.cli.main``) and the loaders, and compare a snapshot of ``tmp_path`` before
and after to prove that a refused command wrote nothing.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sessrec.cli import EXIT_DATA, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, main
from sessrec.data.dataset import find_datasets, load_dataset, write_dataset
from sessrec.data.readers import read_session_table, read_yoochoose_clicks
from sessrec.errors import CheckpointError, DataFormatError, OutputPathError, ParameterError, quote

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo"


def snapshot(root: Path) -> dict[str, int]:
    """Every file under ``root`` with its size (what a refused command must not change)."""
    return {str(p.relative_to(root)): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


class BadFiles:
    """Builds good and bad input files under one temporary folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def text(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def session_file(self, name: str, rows: list[tuple], header: str = "SessionId\tItemId\tTime") -> Path:
        lines = [header] + ["\t".join(str(v) for v in row) for row in rows]
        return self.text(name, "\n".join(lines) + "\n")

    def train_test(self) -> tuple[Path, Path]:
        train = [(s, item, s * 100 + pos) for s in range(1, 31) for pos, item in enumerate([1 + s % 4, 5, 6 + s % 3])]
        test = [(100, 2, 5000), (100, 5, 5001), (100, 7, 5002), (101, 3, 5003), (101, 5, 5004)]
        return self.session_file("train.tsv", train), self.session_file("test.tsv", test)

    def dataset(self, name: str = "toy", folder: str | None = None) -> Path:
        """A prepared dataset folder written by sessrec itself."""
        train, test = self.train_test()
        out = self.root / "data" / (folder or name)
        assert main(["prepare", "split", "--train", str(train), "--test", str(test), "--out", str(out),
                     "--name", name]) == EXIT_OK
        return out

    def gz(self, name: str, n_lines: int = 20000) -> Path:
        """A gzipped session file large enough that line 1 decompresses before any damage."""
        rng = np.random.default_rng(0)
        body = "".join(f"{s // 4}\t{rng.integers(1, 10**6)}\t{s}\n" for s in range(n_lines))
        path = self.root / name
        with gzip.open(path, "wt") as handle:
            handle.write("SessionId\tItemId\tTime\n" + body)
        return path

    def truncated_gz(self, name: str) -> Path:
        path = self.gz(name)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 6 // 10])
        return path

    def corrupt_gz(self, name: str) -> Path:
        path = self.gz(name)
        data = bytearray(path.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 64] = bytes(b ^ 0xFF for b in data[middle : middle + 64])  # flipped bits
        path.write_bytes(bytes(data))
        return path


@pytest.fixture
def bad(tmp_path, monkeypatch) -> BadFiles:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)  # default output folders (checkpoints/, results/) land here
    return BadFiles(tmp_path)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- paths must not escape their folders ---------------------------------------------------

UNSAFE_NAMES = ["../../x", "..", ".", "a/b", "", "has space", ".hidden", "x" * 101, 5, None, ["x"]]


def _set_name(folder: Path, name) -> None:
    info = json.loads((folder / "dataset.json").read_text())
    info["name"] = name
    (folder / "dataset.json").write_text(json.dumps(info))


@pytest.mark.parametrize("name", UNSAFE_NAMES + ["ABSOLUTE"])
def test_unsafe_dataset_name_is_refused_and_nothing_escapes(bad, capsys, name):
    folder = bad.dataset()
    name = str(bad.root / "abs" / "x") if name == "ABSOLUTE" else name
    _set_name(folder, name)
    with pytest.raises(DataFormatError, match=r"dataset\.json: .*'name'"):
        load_dataset(folder)
    before = snapshot(bad.root)
    for argv in (["train", "--dataset", str(folder), "--model", "most_popular", "--quiet"],
                 ["benchmark", "--dataset", str(folder), "--only", "most_popular", "--out", "results", "--quiet"]):
        code, out, err = run(capsys, *argv)
        assert code == EXIT_DATA, err
        assert "dataset.json" in err and "name" in err and "Traceback" not in err
    assert snapshot(bad.root) == before, "a refused command wrote files"


@pytest.mark.parametrize("label", ["../../escape", "/tmp/abs", "a/b", 7])
def test_benchmark_labels_from_a_config_cannot_escape(bad, capsys, label):
    folder = bad.dataset()
    config = bad.text("bench.json", json.dumps({"models": [{"label": label, "model": "most_popular"}]}))
    before = snapshot(bad.root)
    code, _, err = run(capsys, "benchmark", "--dataset", str(folder), "--config", str(config), "--out", "results",
                       "--quiet")
    assert code == EXIT_USAGE and "bench.json" in err and "label" in err
    assert snapshot(bad.root) == before


@pytest.mark.parametrize("name", ["../evil", "/tmp/evil", "a b"])
def test_prepare_refuses_unsafe_name_before_reading(bad, capsys, name):
    train, test = bad.train_test()
    before = snapshot(bad.root)
    code, _, err = run(capsys, "prepare", "split", "--train", str(train), "--test", str(test),
                       "--out", str(bad.root / "data" / "ok"), "--name", name)
    assert code == EXIT_USAGE and "--name" in err
    assert snapshot(bad.root) == before


def test_prepare_default_name_comes_from_a_safe_folder_name(bad, capsys):
    train, test = bad.train_test()
    code, _, err = run(capsys, "prepare", "split", "--train", str(train), "--test", str(test),
                       "--out", str(bad.root / "my data"))
    assert code == EXIT_USAGE and "pass --name" in err
    assert not (bad.root / "my data").exists()
    with pytest.raises(ParameterError, match="not allowed"):
        write_dataset(bad.root / "x", {"train": pd.DataFrame(), "test": pd.DataFrame()}, name="../x")


# -- damaged gzip ---------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncated", "corrupt"])
def test_damaged_gzip_is_a_data_error_naming_the_file(bad, capsys, damage):
    path = bad.truncated_gz("train.tsv.gz") if damage == "truncated" else bad.corrupt_gz("train.tsv.gz")
    with gzip.open(path, "rt") as handle:  # the damage is after the first line
        assert handle.readline().startswith("SessionId")
    with pytest.raises(DataFormatError, match=r"train\.tsv\.gz: cannot be read \(the compressed"):
        read_session_table(path)
    _, test = bad.train_test()
    code, _, err = run(capsys, "prepare", "split", "--train", str(path), "--test", str(test),
                       "--out", str(bad.root / "data" / "x"))
    assert code == EXIT_DATA and "train.tsv.gz" in err and "Traceback" not in err
    assert not (bad.root / "data" / "x").exists()


def test_damaged_raw_file_in_prepare_raw(bad, capsys):
    path = bad.root / "clicks.dat.gz"
    with gzip.open(path, "wt") as handle:
        for i in range(30000):
            handle.write(f"{i // 5},2014-04-0{1 + i % 7}T10:00:00.000Z,{214500000 + i % 997},0\n")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFormatError, match="clicks.dat.gz: cannot be read"):
        read_yoochoose_clicks(path)
    code, _, err = run(capsys, "prepare", "raw", "--format", "yoochoose", "--input", str(path),
                       "--out", str(bad.root / "data" / "raw"))
    assert code == EXIT_DATA and "clicks.dat.gz" in err


def test_damaged_split_of_a_prepared_dataset(bad, capsys):
    folder = bad.dataset()
    shutil.copy(bad.truncated_gz("big.tsv.gz"), folder / "train.tsv.gz")
    with pytest.raises(DataFormatError, match="train.tsv.gz"):
        load_dataset(folder).train
    code, _, err = run(capsys, "evaluate", "--dataset", str(folder), "--model", "most_popular", "--quiet")
    assert code == EXIT_DATA and "train.tsv.gz" in err


# -- dataset.json ---------------------------------------------------------------------------

BAD_INFOS = {
    "empty object": (b"{}", "'name' is missing"),
    "list": (b"[1, 2]", "expected a JSON object, got a list"),
    "string": (b'"demo"', "expected a JSON object, got a string"),
    "null": (b"null", "expected a JSON object, got null"),
    "name not a string": (b'{"name": 5, "splits": {}}', "must be a string, got int"),
    "name a list": (b'{"name": ["a"], "splits": {}}', "must be a string, got list"),
    "not UTF-8": (b'{"name": "caf\xe9", "splits": {}}', "not UTF-8"),
    "invalid JSON": (b'{"name": "x",', "invalid JSON"),
    "Infinity": (b'{"name": "x", "splits": {"train": {"days": Infinity}}}', "Infinity is not a number"),
    "splits a list": (b'{"name": "x", "splits": []}', "'splits' must be an object"),
    "splits missing": (b'{"name": "x"}', "'splits' must be an object"),
    "split stats a string": (b'{"name": "x", "splits": {"train": "many"}}', "'splits.train' must be an object"),
    "stat a string": (b'{"name": "x", "splits": {"train": {"events": "7"}}}', "'splits.train.events' must be a number"),
    "unknown split": (b'{"name": "x", "splits": {"tset": {}}}', "unknown split"),
    "protocol a list": (b'{"name": "x", "splits": {}, "protocol": []}', "'protocol' must be an object"),
    "min_position 0": (b'{"name": "x", "splits": {}, "protocol": {"min_position": 0}}', "min_position"),
    "min_position text": (b'{"name": "x", "splits": {}, "protocol": {"min_position": "1"}}', "min_position"),
    "description a number": (b'{"name": "x", "splits": {}, "description": 3}', "'description' must be a string"),
    "deeply nested": (b'{"name": "x", "splits": {}, "provenance": ' + b"[" * 100000 + b"]" * 100000 + b"}",
                      "invalid JSON"),
}


@pytest.mark.parametrize("case", list(BAD_INFOS))
def test_bad_dataset_json_is_a_clear_error_and_other_datasets_still_load(bad, capsys, case):
    content, expected = BAD_INFOS[case]
    good = bad.dataset("good")
    broken = bad.dataset("broken")
    (broken / "dataset.json").write_bytes(content)
    with pytest.raises(DataFormatError) as info:
        load_dataset(broken)
    assert "dataset.json" in str(info.value) and expected in str(info.value)
    found = {path.name: (ds, err) for path, ds, err in find_datasets(bad.root / "data")}
    assert found["good"][0] is not None and found["good"][1] is None
    assert found["broken"][0] is None and expected in found["broken"][1]
    code, _, err = run(capsys, "stats", "--dataset", str(broken))
    assert code == EXIT_DATA and expected in err and "Traceback" not in err
    assert run(capsys, "stats", "--dataset", str(good))[0] == EXIT_OK


def test_dataset_json_that_is_a_folder_is_listed_with_its_error(bad):
    bad.dataset("good")
    (bad.root / "data" / "odd" / "dataset.json").mkdir(parents=True)
    found = {path.name: err for path, _, err in find_datasets(bad.root / "data")}
    assert found["good"] is None
    assert "odd: not a prepared dataset (no dataset.json)" in found["odd"]


BAD_CATALOGUES = {
    "missing column": (b"ItemId,Name\n1,a\n", "missing column(s) Category"),
    "not UTF-8": (b"ItemId,Name,Category\n1,caf\xe9,x\n", "not UTF-8"),
    "id not an integer": (b"ItemId,Name,Category\n1,a,x\nseven,b,y\n", "line 3: column ItemId"),
    "id twice": (b"ItemId,Name,Category\n1,a,x\n1,b,y\n", "line 3: item 1 is listed twice"),
    "ragged rows": (b"ItemId,Name,Category\n1,a,x\n2,b,y,z,w\n", "cannot be read"),
    "empty": (b"", "cannot be read"),
}


@pytest.mark.parametrize("case", list(BAD_CATALOGUES))
def test_bad_items_csv_names_the_file(bad, case):
    content, expected = BAD_CATALOGUES[case]
    folder = bad.dataset()
    (folder / "items.csv").write_bytes(content)
    with pytest.raises(DataFormatError) as info:
        load_dataset(folder).catalogue
    assert "items.csv" in str(info.value) and expected in str(info.value)


# -- output paths: checked before the work ---------------------------------------------------


def test_evaluate_output_paths_are_checked_before_the_evaluation(bad, capsys):
    folder = bad.dataset()
    (bad.root / "a_folder").mkdir()
    (bad.root / "a_file").write_text("keep me")
    before = snapshot(bad.root)
    cases = [
        (["--out", str(bad.root / "a_folder")], "is a folder"),
        (["--ranks", str(bad.root / "a_folder")], "is a folder"),
        (["--ranks", str(bad.root / "a_file" / "r.npz")], "is a file, not a folder"),
        (["--out", str(bad.root / "a_file" / "sub" / "r.json")], "is a file, not a folder"),
        (["--ranks", str(bad.root / "ranks.txt")], "must end in .npz"),
    ]
    for extra, expected in cases:
        code, out, err = run(capsys, "evaluate", "--dataset", str(folder), "--model", "most_popular", "--quiet", *extra)
        assert code == EXIT_USAGE, (extra, err)
        assert expected in err and extra[0] in err
        assert "Recall@20" not in out, "the evaluation ran before the path check"
    assert snapshot(bad.root) == before
    # a missing folder for --ranks / --out is created, as documented
    ranks, res = bad.root / "new" / "deep" / "r.npz", bad.root / "new2" / "r.json"
    code, _, err = run(capsys, "evaluate", "--dataset", str(folder), "--model", "most_popular", "--quiet",
                       "--ranks", str(ranks), "--out", str(res))
    assert code == EXIT_OK, err
    assert ranks.is_file() and res.is_file()
    with np.load(ranks) as data:
        assert list(data.keys()) == ["most_popular"]


def test_train_benchmark_prepare_demo_output_paths(bad, capsys):
    folder = bad.dataset()
    (bad.root / "a_folder").mkdir()
    (bad.root / "a_file").write_text("keep me")
    train, test = bad.train_test()
    before = snapshot(bad.root)
    cases = [
        ["train", "--dataset", str(folder), "--model", "most_popular", "--quiet", "--out", str(bad.root / "a_folder")],
        ["train", "--dataset", str(folder), "--model", "most_popular", "--quiet", "--out", str(bad.root / "a_file" / "m.pt")],
        ["benchmark", "--dataset", str(folder), "--only", "most_popular", "--quiet", "--out", str(bad.root / "a_file")],
        ["prepare", "split", "--train", str(train), "--test", str(test), "--out", str(bad.root / "a_file")],
        ["prepare", "raw", "--format", "yoochoose", "--input", str(train), "--out", str(bad.root / "a_file" / "x")],
        ["prepare", "shared", "--source", str(bad.root), "--out", str(bad.root / "a_file"), "rsc15_100k"],
        ["demo", "--out", str(bad.root / "a_file"), "--no-models", "--quiet"],
        ["demo", "--out", str(bad.root / "d"), "--checkpoints", str(bad.root / "a_file"), "--no-models", "--quiet"],
    ]
    for argv in cases:
        code, _, err = run(capsys, *argv)
        assert code == EXIT_USAGE, (argv, err)
        assert "a_file" in err or "a_folder" in err
    assert snapshot(bad.root) == before
    assert (bad.root / "a_file").read_text() == "keep me"


# -- readers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["12345678901234567890", "-9223372036854775809", "99999999999999999999.0"])
def test_id_beyond_64_bits_is_an_error_naming_the_line(bad, value):
    path = bad.session_file("s.tsv", [(1, 5, 0), (1, value, 1)])
    with pytest.raises(DataFormatError, match=r"s\.tsv: line 3: column ItemId must hold integer ids within the signed 64-bit"):
        read_session_table(path)


def test_large_ids_are_read_exactly_even_next_to_a_float_spelling(bad):
    big = 2**53 + 1  # not representable as float64: the neighbours must not merge
    path = bad.session_file("s.tsv", [(1, big, 0), (1, big - 1, 1), (1, "7.0", 2), (2, 2**62 + 3, 3),
                                      (2, "1e3", 4), (2, -(2**63), 5)])
    items = read_session_table(path)["ItemId"].tolist()
    assert items == [big, big - 1, 7, 2**62 + 3, 1000, -(2**63)]


@pytest.mark.parametrize("value", ["7.5", "inf", "nan", "-inf", "1e400", "0x10", "１２", ""])
def test_non_integral_ids_are_refused(bad, value):
    path = bad.session_file("s.tsv", [(1, 5, 0), (1, 2**60, 1), (1, value, 2)])
    with pytest.raises(DataFormatError, match=r"line 4: column ItemId must hold integer ids"):
        read_session_table(path)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", "1e400"])
def test_non_finite_time_is_refused_and_never_reaches_dataset_json(bad, capsys, value):
    path = bad.session_file("s.tsv", [(1, 5, 0), (1, 6, value)])
    with pytest.raises(DataFormatError, match=r"line 3: column Time must be numeric and finite"):
        read_session_table(path)
    _, test = bad.train_test()
    code, _, err = run(capsys, "prepare", "split", "--train", str(path), "--test", str(test),
                       "--out", str(bad.root / "data" / "t"))
    assert code == EXIT_DATA and "s.tsv" in err
    frame = pd.DataFrame({"SessionId": [1, 1], "ItemId": [5, 6], "Time": [0.0, float(value)]})
    with pytest.raises(DataFormatError, match="non-finite times"):
        write_dataset(bad.root / "data" / "t", {"train": frame, "test": frame}, name="t")
    assert not (bad.root / "data" / "t").exists()


def test_test_set_with_only_unknown_items_is_an_error_not_nan(bad, capsys):
    train, _ = bad.train_test()
    unknown = bad.session_file("unknown.tsv", [(100, 900, 0), (100, 901, 1), (101, 902, 2), (101, 903, 3)])
    code, _, err = run(capsys, "prepare", "split", "--train", str(train), "--test", str(unknown),
                       "--out", str(bad.root / "data" / "u"))
    assert code == EXIT_DATA and "none of its 4 items occurs in the train split" in err
    assert not (bad.root / "data" / "u").exists()
    # the same folder assembled by hand (older sessrec, another tool): evaluate refuses too
    folder = bad.dataset()
    with gzip.open(folder / "test.tsv.gz", "wt") as handle:
        handle.write("SessionId\tItemId\tTime\n100\t900\t0\n100\t901\t1\n")
    for argv in (["evaluate", "--dataset", str(folder), "--model", "most_popular", "--quiet"],
                 ["benchmark", "--dataset", str(folder), "--only", "last_item", "--quiet", "--out", "results"]):
        code, out, err = run(capsys, *argv)
        assert code == EXIT_DATA, err
        assert "none of its 2 items occurs in the train split" in err and "nan" not in out.lower()
    assert not Path("results").exists()


# -- messages ---------------------------------------------------------------------------------


def test_a_16_mb_line_gives_a_short_message(bad, capsys):
    huge = "x" * (16 * 1024 * 1024)
    no_separator = bad.text("huge_header.tsv", huge + "\n")
    huge_id = bad.text("huge_id.tsv", f"SessionId\tItemId\tTime\n1\t{huge}\t0\n")
    huge_column = bad.text("huge_column.tsv", f"Session\t{huge}\tTime\n1\t2\t0\n")
    for path in (no_separator, huge_id, huge_column):
        with pytest.raises(DataFormatError) as info:
            read_session_table(path)
        assert len(str(info.value)) < 1000 and path.name in str(info.value)
        assert "characters in all" in str(info.value)
        code, _, err = run(capsys, "prepare", "split", "--train", str(path), "--test", str(path),
                           "--out", str(bad.root / "o"))
        assert code == EXIT_DATA and len(err) < 1000
    assert len(quote("y" * 10**6)) < 200


def test_not_a_checkpoint_never_repeats_torchs_unsafe_advice(bad, capsys):
    folder = bad.dataset()
    import torch

    torch.save({"x": __import__("fractions").Fraction(1, 2)}, bad.root / "pickled.pt")  # needs code to load
    bad.text("empty.pt", b"")
    for path in (REPO / "README.md", bad.root / "pickled.pt", bad.root / "empty.pt"):
        code, _, err = run(capsys, "evaluate", "--dataset", str(folder), "--checkpoint", str(path), "--quiet")
        assert code == EXIT_DATA
        assert "not a sessrec checkpoint" in err and path.name in err
        assert "weights_only" not in err and "arbitrary code" not in err and "Traceback" not in err
    from sessrec.models.io import read_checkpoint

    with pytest.raises(CheckpointError) as info:
        read_checkpoint(bad.root / "pickled.pt")
    assert "refused for safety" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


# -- exit codes -------------------------------------------------------------------------------


@pytest.mark.parametrize("exc, code", [
    (ParameterError("n_epochs=0: must be >= 1"), EXIT_USAGE),
    (OutputPathError("--out x: is a folder"), EXIT_USAGE),
    (DataFormatError("f.tsv: line 2: bad"), EXIT_DATA),
    (CheckpointError("m.pt: bad"), EXIT_DATA),
    (KeyError("boom"), EXIT_FAILURE),
    (PermissionError(13, "Permission denied", "/x"), EXIT_FAILURE),
])
def test_exit_codes_follow_the_readme(monkeypatch, capsys, exc, code):
    def raiser(args):
        raise exc

    monkeypatch.setattr("sessrec.cli.data.cmd_stats", raiser)
    assert main(["stats", "--dataset", "x"]) == code
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    if code == EXIT_FAILURE and not isinstance(exc, OSError):
        assert "--debug" in err
        with pytest.raises(KeyError):
            main(["--debug", "stats", "--dataset", "x"])


def test_the_docs_state_the_exit_codes():
    text = (REPO / "docs" / "cli.md").read_text()
    assert "2 bad usage or parameter" in text and "3 bad input data or checkpoint" in text


# -- the app: one broken folder next to the demo ---------------------------------------------


def _broken_app_data(root: Path) -> Path:
    data = root / "appdata"
    data.mkdir()
    (data / "demo").symlink_to(DEMO)
    (data / "badjson").mkdir()
    (data / "badjson" / "dataset.json").write_bytes(b'{"name": "caf\xe9"}')
    for name, damage in (("badgz", "train"), ("baditems", "items"), ("badvalid", "valid")):
        folder = data / name
        shutil.copytree(DEMO, folder)
        info = json.loads((folder / "dataset.json").read_text())
        info["name"] = name
        (folder / "dataset.json").write_text(json.dumps(info))
        if damage in ("train", "valid"):
            raw = (folder / f"{damage}.tsv.gz").read_bytes()
            (folder / f"{damage}.tsv.gz").write_bytes(raw[: len(raw) // 2])
        else:
            (folder / "items.csv").write_bytes(b"ItemId,Name,Category\nnot-an-id,x,y\n")
    return data


def test_broken_dataset_folders_do_not_break_the_app(app_env, tmp_path, monkeypatch):
    pytest.importorskip("streamlit")
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SESSREC_DATA_ROOT", str(_broken_app_data(tmp_path)))
    pages = ["pages/playground.py", "pages/replay.py", "pages/benchmarks.py", "pages/training.py",
             "pages/explorer.py", "pages/how_it_works.py"]
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=90).run()
    assert not at.exception, [e.value for e in at.exception]
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "badjson" in captions and "not UTF-8" in captions, "the unreadable folder is listed with its error"
    selector = at.sidebar.selectbox(key="dataset")
    assert sorted(Path(p).name for p in selector.options) == ["badgz", "baditems", "badvalid", "demo"]
    for page in pages:  # the demo is chosen and every page works
        at.switch_page(page).run()
        assert not at.exception, (page, [e.value for e in at.exception])
    for name, expected in (("badgz", "train.tsv.gz"), ("baditems", "items.csv")):
        at.sidebar.selectbox(key="dataset").select(str(tmp_path / "appdata" / name)).run()
        for page in pages:
            at.switch_page(page).run()
            assert not at.exception, (name, page, [e.value for e in at.exception])
            if page in ("pages/playground.py", "pages/replay.py", "pages/explorer.py"):
                assert any(expected in e.value for e in at.error), (name, page)
        assert any(expected in e.value for e in at.sidebar.error)
    # a damaged validation split only matters where it is shown: the explorer says so
    at.sidebar.selectbox(key="dataset").select(str(tmp_path / "appdata" / "badvalid")).run()
    at.switch_page("pages/explorer.py").run()
    assert not at.exception and not at.error
    at.session_state["ex_split"] = "valid"
    at.run()
    assert not at.exception and any("valid.tsv.gz" in e.value for e in at.error)
    at.sidebar.selectbox(key="dataset").select(str(tmp_path / "appdata" / "demo")).run()
    at.switch_page("pages/playground.py").run()
    assert not at.exception and not at.error

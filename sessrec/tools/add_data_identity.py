"""One-off: give run records written before 2026-12-07 the ``data`` block new records carry.

    python -m sessrec.tools.add_data_identity results --data data            # dry run: what would change
    python -m sessrec.tools.add_data_identity results --data data --write

For every record under the results root without ``data``, the block is computed from the
prepared folder ``<data>/<dataset>`` (its path and the fingerprints of its train and test
splits, :func:`sessrec.experiments.records.data_identity`) and inserted after ``dataset``;
nothing else in the file changes (the ranks file and its checksum stay as they are). A record
is left alone, and named, when its dataset is not prepared here or when the prepared test
split does not have the events the record ranked (other data than the run's). Its
``code_version`` stays absent: which commit made an older record is not known.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sessrec.data.dataset import load_dataset
from sessrec.experiments.records import data_identity, read_run_record


def with_data(record: dict[str, Any], data: dict[str, str]) -> dict[str, Any]:
    """``record`` with ``data`` inserted after its ``dataset`` key, every other key in its place."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        out[key] = value
        if key == "dataset":
            out["data"] = data
    return out


def migrate(root: Path, data_root: Path, write: bool) -> tuple[int, list[str]]:
    """Add ``data`` to the records under ``root``; returns how many changed and what was left alone."""
    changed, left = 0, []
    identities: dict[str, dict[str, str] | None] = {}
    test_events: dict[str, int] = {}
    for path in sorted(root.glob("*/*.json")):
        record, problem = read_run_record(path)
        if record is None or problem is not None or "data" in record:
            continue
        name = record["dataset"]
        if name not in identities:
            folder = data_root / name
            dataset = load_dataset(folder) if (folder / "dataset.json").exists() else None
            identities[name] = None if dataset is None else data_identity(dataset)
            test_events[name] = -1 if dataset is None else dataset.test.n_events
        identity = identities[name]
        if identity is None:
            left.append(f"{path}: {data_root / name} is not prepared here")
            continue
        ranked = record["evaluation"].get("n_test_events_raw")
        if ranked is not None and ranked != test_events[name]:
            left.append(f"{path}: its test split had {ranked} events, {data_root / name} has {test_events[name]}")
            continue
        raw = json.loads(path.read_text())
        if write:
            path.write_text(json.dumps(with_data(raw, identity), indent=2) + "\n")
        changed += 1
    return changed, left


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="results root (e.g. results)")
    parser.add_argument("--data", type=Path, default=Path("data"), help="where the prepared datasets are")
    parser.add_argument("--write", action="store_true", help="write the files (default: only say what would change)")
    args = parser.parse_args()
    changed, left = migrate(args.root, args.data, args.write)
    print(f"{changed} records {'given' if args.write else 'would get'} a data block; {len(left)} left alone")
    for line in left:
        print("  " + line)


if __name__ == "__main__":
    main()

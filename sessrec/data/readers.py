"""Readers for session files: GRU4Rec TSVs, the benchmark TSVs and raw public datasets.

Every reader returns a frame with the canonical columns ``SessionId``, ``ItemId`` and
``Time`` (seconds, float) or, where the data has only an order, ``Pos``. Problems in the
input raise :class:`~sessrec.errors.DataFormatError` naming the file, the line or column
and what was expected.
"""

from __future__ import annotations

import gzip
import io
import zlib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from sessrec.errors import DataFormatError, quote

#: what a damaged file raises while being read: truncated or corrupt gzip, bad bytes, I/O
READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError)
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_FLOAT_EXACT = 2.0**53  # beyond this a float64 no longer holds every integer

#: accepted spellings (lower-case, without ``_``) of the canonical columns
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "SessionId": ("sessionid", "session", "sessid"),
    "ItemId": ("itemid", "item"),
    "Time": ("time", "timestamp", "ts"),
    "Pos": ("pos", "position"),
}
_SEPARATORS = ("\t", ",", ";")


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _first_line(path: Path) -> str:
    if not path.is_file():
        raise DataFormatError(f"{path}: no such file")
    try:
        with _open_text(path) as handle:
            line = handle.readline()
    except READ_ERRORS as exc:
        raise DataFormatError(f"{path}: cannot be read as text ({_describe_read_error(exc)})") from exc
    if not line.strip():
        raise DataFormatError(f"{path}: the file is empty (expected a header line)")
    return line.rstrip("\r\n")


def _describe_read_error(exc: BaseException) -> str:
    """A short reason for a read failure; gzip damage is named as such."""
    if isinstance(exc, EOFError):
        return "the compressed file is truncated"
    if isinstance(exc, (zlib.error, gzip.BadGzipFile)):
        return f"the compressed data is corrupt: {quote(str(exc))}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    if isinstance(exc, pd.errors.ParserError):
        detail = str(exc).replace("Error tokenizing data. C error: ", "").strip()
        return f"malformed rows: {quote(detail, 200)[1:-1]}"
    if isinstance(exc, pd.errors.EmptyDataError):
        return "the file is empty"
    return quote(f"{type(exc).__name__}: {exc}", 200)


def read_csv_checked(path: Path, **kwargs: Any) -> pd.DataFrame:
    """``pd.read_csv`` whose failures (damaged gzip, bad bytes, bad rows) name the file."""
    try:
        return pd.read_csv(path, **kwargs)
    except READ_ERRORS as exc:
        # garbage from a damaged gzip usually trips the parser before gzip's own check
        reason = _gzip_problem(path) if isinstance(exc, (pd.errors.ParserError, UnicodeDecodeError)) else None
        raise DataFormatError(f"{path}: cannot be read ({reason or _describe_read_error(exc)})") from exc


def _gzip_problem(path: Path) -> str | None:
    """Why a ``.gz`` file does not decompress to the end, or None (intact, or not gzip)."""
    if path.suffix != ".gz":
        return None
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 20):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return _describe_read_error(exc)
    return None


def detect_separator(header: str, path: Path | str = "<input>") -> str:
    """The one separator among tab, comma, semicolon that splits the header, else an error."""
    found = [sep for sep in _SEPARATORS if sep in header]
    if len(found) == 1:
        return found[0]
    names = {"\t": "tab", ",": "comma", ";": "semicolon"}
    if not found:
        raise DataFormatError(f"{path}: line 1: cannot find a separator (tab, comma or semicolon) in {quote(header)}")
    raise DataFormatError(
        f"{path}: line 1: ambiguous separator ({' and '.join(names[s] for s in found)} both appear); pass --sep"
    )


def _match_column(columns: list[str], canonical: str, override: str | None, path: Path) -> str | None:
    if override is not None:
        if override not in columns:
            raise DataFormatError(f"{path}: column {quote(override)} not found (columns: {_column_list(columns)})")
        return override
    aliases = COLUMN_ALIASES[canonical]
    matches = [c for c in columns if c.lower().replace("_", "").replace(" ", "") in aliases]
    if len(matches) > 1:
        raise DataFormatError(f"{path}: several columns could be {canonical}: {_column_list(matches)}; name one explicitly")
    return matches[0] if matches else None


def _column_list(columns: list[str]) -> str:
    return quote(", ".join(map(str, columns)), 200)[1:-1] if columns else "none"


def _exact_int(text: str) -> int | None:
    """The integer written in ``text`` (``7``, ``+7``, ``7.0``, ``7e3``), exactly; None if not integral."""
    try:
        value = Decimal(str(text).strip())
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or value != value.to_integral_value():
        return None
    return int(value)


def _as_int64(values: pd.Series, column: str, path: Path, header_lines: int = 1) -> np.ndarray:
    """Integer ids, parsed exactly: no wrap-around beyond 64 bits, no rounding through floats.

    ``7.0`` is accepted as 7; ``7.5``, ``inf``, text and ids outside the signed 64-bit
    range are errors naming the line.
    """
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.dtype == np.int64:  # the common case: every value a plain integer in range
        return numeric.to_numpy(np.int64)

    def fail(row: int, why: str) -> DataFormatError:
        return DataFormatError(
            f"{path}: line {row + 1 + header_lines}: column {column} must hold integer ids{why}, "
            f"got {quote(values.iloc[row])}"
        )

    if numeric.dtype == np.uint64:  # plain integers, some beyond int64
        too_big = np.flatnonzero(numeric.to_numpy() > np.uint64(_INT64_MAX))
        if len(too_big):
            raise fail(int(too_big[0]), " within the signed 64-bit range")
        return numeric.to_numpy().astype(np.int64)
    floats = numeric.to_numpy(np.float64)
    bad = ~np.isfinite(floats)
    bad[~bad] = floats[~bad] != np.floor(floats[~bad])
    if bad.any():
        raise fail(int(np.flatnonzero(bad)[0]), "")
    out = np.zeros(len(floats), dtype=np.int64)
    small = np.abs(floats) < _FLOAT_EXACT  # exact in a float64
    out[small] = floats[small].astype(np.int64)
    for row in np.flatnonzero(~small):  # re-read the large ones from the text, exactly
        value = _exact_int(values.iloc[row])
        if value is None:
            raise fail(int(row), "")
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise fail(int(row), " within the signed 64-bit range")
        out[row] = value
    return out


def _as_float(values: pd.Series, column: str, path: Path, header_lines: int = 1) -> np.ndarray:
    """Finite numbers (times): text, ``nan`` and ``inf`` are errors naming the line."""
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(numeric)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataFormatError(
            f"{path}: line {row + 1 + header_lines}: column {column} must be numeric and finite, got {quote(values.iloc[row])}"
        )
    return numeric


def _read_numbers(path: Path, sep: str, session_col: str | None, item_col: str | None, time_col: str | None,
                  pos_col: str | None) -> pd.DataFrame | None:
    """:func:`read_session_table`'s result read straight as numbers, or None when anything needs the
    checked path (a missing column, an empty file, a value that is not a plain number, a damaged
    file): that path reads every value as text first, 3x the time and several times the memory
    at millions of events, and names the line of any problem."""
    try:
        columns = list(pd.read_csv(path, sep=sep, nrows=0).columns)
        session = _match_column(columns, "SessionId", session_col, path)
        item = _match_column(columns, "ItemId", item_col, path)
        time = _match_column(columns, "Time", time_col, path)
        pos = _match_column(columns, "Pos", pos_col, path) if time is None else None
        if session is None or item is None:
            return None
        ids = [session, item] + ([pos] if pos else [])
        # ids are left to the parser's own inference: int64 only when every value is a plain
        # integer within range (a dtype of int64 would take "7.0" and round big ids through floats)
        raw = pd.read_csv(path, sep=sep, usecols=ids + ([time] if time else []),
                          dtype={time: "float64"} if time else None, na_filter=False)
    except Exception:  # noqa: BLE001 - every problem is for the checked path to name
        return None
    if raw.empty or any(raw[c].dtype != np.int64 for c in ids):
        return None
    if time is not None and not np.isfinite(raw[time].to_numpy()).all():
        return None
    frame = pd.DataFrame({"SessionId": raw[session].to_numpy(np.int64), "ItemId": raw[item].to_numpy(np.int64)})
    if time is not None:
        frame["Time"] = raw[time].to_numpy(np.float64)
    elif pos is not None:
        frame["Pos"] = raw[pos].to_numpy(np.int64)
    else:
        frame["Pos"] = frame.groupby("SessionId", sort=False).cumcount().to_numpy(np.int64)
    return frame


def read_session_table(
    path: str | Path,
    sep: str | None = None,
    session_col: str | None = None,
    item_col: str | None = None,
    time_col: str | None = None,
    pos_col: str | None = None,
) -> pd.DataFrame:
    """Read a session file with a header: GRU4Rec's TSV or the benchmark TSVs.

    Separator and columns are detected when unambiguous (``SessionId``/``session_id``,
    ``ItemId``/``item_id``, ``Time``/``timestamp``, ``Pos``); the arguments override.
    Needs a session and an item column and either a time or a position column; with
    neither, the file order is the order. Returns the canonical columns.
    """
    path = Path(path)
    header = _first_line(path)
    sep = sep or detect_separator(header, path)
    fast = _read_numbers(path, sep, session_col, item_col, time_col, pos_col)
    if fast is not None:
        return fast
    raw = read_csv_checked(path, sep=sep, dtype=str, keep_default_na=False)
    columns = list(raw.columns)
    session = _match_column(columns, "SessionId", session_col, path)
    item = _match_column(columns, "ItemId", item_col, path)
    missing = [name for name, col in (("SessionId", session), ("ItemId", item)) if col is None]
    if missing:
        raise DataFormatError(
            f"{path}: missing column(s) {', '.join(missing)} (found: {_column_list(columns)}); "
            "name them with --session-col / --item-col"
        )
    assert session is not None and item is not None  # a missing one raised above
    if raw.empty:
        raise DataFormatError(f"{path}: the file has a header but no events")
    time = _match_column(columns, "Time", time_col, path)
    pos = _match_column(columns, "Pos", pos_col, path) if time is None else None
    frame = pd.DataFrame(
        {"SessionId": _as_int64(raw[session], session, path), "ItemId": _as_int64(raw[item], item, path)}
    )
    if time is not None:
        frame["Time"] = _as_float(raw[time], time, path)
    elif pos is not None:
        frame["Pos"] = _as_int64(raw[pos], pos, path)
    else:
        frame["Pos"] = frame.groupby("SessionId", sort=False).cumcount().to_numpy(np.int64)
    return frame


# -- raw public datasets --------------------------------------------------------------


def _unix_seconds(times: pd.Series) -> np.ndarray:
    """UTC datetimes to float seconds since 1970 (independent of pandas' time resolution)."""
    return (times - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(np.float64)


def read_yoochoose_clicks(path: str | Path) -> pd.DataFrame:
    """YOOCHOOSE ``yoochoose-clicks.dat``: no header, ``session,timestamp,item,category``."""
    path = Path(path)
    first = _first_line(path)
    if first.count(",") != 3:
        raise DataFormatError(
            f"{path}: line 1: expected 4 comma-separated fields (session,timestamp,item,category), got {quote(first)}"
        )
    try:  # ids straight as numbers where every one is a plain integer (the full log: 33M lines)
        raw = pd.read_csv(path, sep=",", header=None, names=["s", "t", "i", "c"], usecols=["s", "t", "i"],
                          dtype={"t": str}, na_filter=False)
        if raw["s"].dtype != np.int64 or raw["i"].dtype != np.int64:
            raise ValueError("ids for the checked path")
    except Exception:  # noqa: BLE001 - the checked path names the line of any problem
        raw = read_csv_checked(path, sep=",", header=None, dtype=str, names=["s", "t", "i", "c"], keep_default_na=False)
    times = pd.to_datetime(raw["t"], errors="coerce", utc=True, format="ISO8601")
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise DataFormatError(f"{path}: line {row + 1}: timestamp must be ISO 8601, got {quote(raw['t'].iloc[row])}")
    return pd.DataFrame(
        {
            "SessionId": _as_int64(raw["s"], "session", path, 0),
            "ItemId": _as_int64(raw["i"], "item", path, 0),
            "Time": _unix_seconds(times),
        }
    )


def sessionize(user: np.ndarray, time: np.ndarray, gap_seconds: float) -> np.ndarray:
    """Session ids from user ids and times: a new session after a gap > ``gap_seconds``."""
    user, time = np.asarray(user), np.asarray(time, dtype=np.float64)
    order = np.lexsort((time, user))
    u, t = user[order], time[order]
    new = np.r_[True, (u[1:] != u[:-1]) | (np.diff(t) > gap_seconds)]
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.cumsum(new)
    return ids


def read_retailrocket_events(path: str | Path, session_gap: float = 1800.0) -> pd.DataFrame:
    """RetailRocket ``events.csv``: views only, one visitor's views split by ``session_gap`` s."""
    path = Path(path)
    header = _first_line(path)
    raw = read_csv_checked(path, sep=detect_separator(header, path), dtype=str, keep_default_na=False)
    needed = ["timestamp", "visitorid", "event", "itemid"]
    missing = [c for c in needed if c not in raw.columns]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {', '.join(missing)} (found: {_column_list(list(raw.columns))})")
    raw = raw[raw["event"] == "view"]
    if raw.empty:
        raise DataFormatError(f"{path}: no 'view' events")
    time = _as_float(raw["timestamp"], "timestamp", path) / 1000.0
    visitor = _as_int64(raw["visitorid"], "visitorid", path)
    return pd.DataFrame(
        {"SessionId": sessionize(visitor, time, session_gap), "ItemId": _as_int64(raw["itemid"], "itemid", path), "Time": time}
    )


def read_diginetica_views(path: str | Path) -> pd.DataFrame:
    """Diginetica ``train-item-views.csv`` (``;``): time = event date + timeframe (ms)."""
    path = Path(path)
    header = _first_line(path)
    raw = read_csv_checked(path, sep=detect_separator(header, path), dtype=str, keep_default_na=False)
    norm = {c.lower().replace("_", ""): c for c in raw.columns}
    needed = ["sessionid", "itemid", "timeframe", "eventdate"]
    missing = [c for c in needed if c not in norm]
    if missing:
        raise DataFormatError(f"{path}: missing column(s) {', '.join(missing)} (found: {_column_list(list(raw.columns))})")
    dates = pd.to_datetime(raw[norm["eventdate"]], errors="coerce", utc=True, format="%Y-%m-%d")
    if dates.isna().any():
        row = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise DataFormatError(f"{path}: line {row + 2}: eventdate must be YYYY-MM-DD, got {quote(raw[norm['eventdate']].iloc[row])}")
    seconds = _unix_seconds(dates)
    return pd.DataFrame(
        {
            "SessionId": _as_int64(raw[norm["sessionid"]], "sessionId", path),
            "ItemId": _as_int64(raw[norm["itemid"]], "itemId", path),
            "Time": seconds + _as_float(raw[norm["timeframe"]], "timeframe", path) / 1000.0,
        }
    )


RAW_READERS: dict[str, Callable[..., pd.DataFrame]] = {
    "yoochoose": read_yoochoose_clicks,
    "retailrocket": read_retailrocket_events,
    "diginetica": read_diginetica_views,
}

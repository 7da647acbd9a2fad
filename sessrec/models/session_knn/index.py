"""The session-item index the session-kNN models share, and their vectorised neighbour search.

session-rec's kNN models look neighbours up event by event in Python dicts and sets.
Here the same lookups are array operations over a whole batch of sessions:

1. **candidates**: every training session that shares an item with the current session
   (session-rec's ``relevant_sessions``), found by expanding each current item into the
   sessions that contain it (an item -> sessions CSR table) and grouping by
   ``(row, session)``. The grouping also yields the per-candidate sums and maxima the
   similarity and decay rules need.
2. **sampling**: training sessions are numbered by recency (last event time, ties by
   file order), so "the ``sample_size`` most recent candidates" (session-rec's
   ``sampling='recent'``) are simply the candidates with the largest numbers.
3. **top-k**: the ``k`` most similar candidates with a positive similarity, ties broken
   towards the more recent session.
4. **scoring**: the neighbours are expanded into their items (a session -> items CSR
   table) and the rule's per-(neighbour, item) weights are summed into a dense
   ``(rows, n_items)`` score matrix.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from sessrec.data.sessions import ItemIndex, Sessions
from sessrec.errors import CheckpointError


def _expand(indptr: np.ndarray, rows: np.ndarray, last: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """For CSR rows ``rows``: (index of the query entry, position in the CSR data) of every entry,
    or of the ``last`` entries of each row only (``last`` > 0)."""
    starts = indptr[rows]
    if last > 0:
        starts = np.maximum(starts, indptr[rows + 1] - last)
    counts = indptr[rows + 1] - starts
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    # The owner of an entry is the number of row ends at or before it: a cumulative count
    # of the ends (np.repeat is slow for the short runs here; bincount copes with empty rows).
    owner = np.cumsum(np.bincount(ends[:-1], minlength=total + 1)[:total])
    data_pos = np.arange(total) + (starts - (ends - counts))[owner]
    return owner, data_pos


@dataclass(frozen=True)
class SessionIndex:
    """Training sessions as two CSR tables (session -> items, item -> sessions).

    Sessions are numbered ``0..n_sessions-1`` by recency: by the time of their last
    event, ties (and data without times) by their order in the training file.
    Each (session, item) entry stores ``pos``: the 1-based position of the item's last
    occurrence in the session (STAN's ``pos_last``).
    """

    n_items: int
    sess_indptr: np.ndarray  # (n_sessions + 1,) int64
    sess_items: np.ndarray  # (nnz,) int64, distinct items of each session, ascending
    sess_pos: np.ndarray  # (nnz,) int64, last 1-based position of the item in the session
    sess_time: np.ndarray  # (n_sessions,) float64, last event time (or file order without times)
    item_indptr: np.ndarray  # (n_items + 1,) int64
    item_sess: np.ndarray  # (nnz,) int64, sessions of each item, ascending (= by recency)
    item_pos: np.ndarray  # (nnz,) int64, the matching ``sess_pos`` entry
    item_events: np.ndarray  # (n_items,) int64, training events of each item (session-rec's idf counts)

    @property
    def n_sessions(self) -> int:
        return len(self.sess_time)

    def cached(self, name: str, key: object, make: Callable[[], np.ndarray]) -> np.ndarray:
        """``make()``, computed once per ``key`` (e.g. a model parameter) and kept on the index.

        Scoring asks for the same per-session tables on every chunk; one value per name is
        kept, so a changed parameter replaces the old table instead of piling up.
        """
        caches = self.__dict__.setdefault("_caches", {})  # frozen dataclass: a cache, not a field
        hit = caches.get(name)
        if hit is None or not (hit[0] == key):
            hit = caches[name] = (key, make())
        return hit[1]

    @property
    def sess_size(self) -> np.ndarray:
        """Distinct items of each session."""
        return self.cached("sess_size", None, lambda: np.diff(self.sess_indptr))

    @property
    def sess_size_sqrt(self) -> np.ndarray:
        """``sqrt`` of :attr:`sess_size` (float64, the values ``np.sqrt`` gives on any subset)."""
        return self.cached("sess_size_sqrt", None, lambda: np.sqrt(self.sess_size))

    @property
    def sess_item_pos(self) -> np.ndarray:
        """``sess_items << 32 | sess_pos``: a neighbour's items and positions in one gather.

        The neighbours are scattered over the table, so gathering their entries is bound by
        cache misses; one packed array misses half as often as the two columns.
        """
        return self.cached("sess_item_pos", None, lambda: (self.sess_items << 32) | self.sess_pos)

    @classmethod
    def build(cls, train: Sessions, item_index: ItemIndex) -> "SessionIndex":
        idx = item_index.to_index(train.items)
        n_items, n_sess = item_index.n_items, train.n_sessions
        lengths = train.lengths
        session_of_event = np.repeat(np.arange(n_sess), lengths)
        pos1 = np.arange(len(idx), dtype=np.int64) - np.repeat(train.offsets[:-1], lengths) + 1
        if train.times is not None and len(train.times):
            last_time = train.times[train.offsets[1:] - 1].astype(np.float64)
        else:
            last_time = np.arange(n_sess, dtype=np.float64)  # file order stands in for time
        order = np.lexsort((np.arange(n_sess), last_time))  # recency rank -> original session
        rank = np.empty(n_sess, np.int64)
        rank[order] = np.arange(n_sess)
        sess = rank[session_of_event]
        # last occurrence of each (session, item): sort by (session, item, position), keep the last
        key = sess * n_items + idx
        o = np.lexsort((pos1, key))
        key_sorted = key[o]
        last = np.r_[key_sorted[1:] != key_sorted[:-1], True]
        key_u, pos_u = key_sorted[last], pos1[o][last]
        s_u, i_u = key_u // n_items, key_u % n_items
        sess_indptr = np.r_[0, np.cumsum(np.bincount(s_u, minlength=n_sess))].astype(np.int64)
        o2 = np.lexsort((s_u, i_u))
        item_indptr = np.r_[0, np.cumsum(np.bincount(i_u, minlength=n_items))].astype(np.int64)
        return cls(
            n_items=n_items,
            sess_indptr=sess_indptr,
            sess_items=i_u.astype(np.int64),
            sess_pos=pos_u.astype(np.int64),
            sess_time=last_time[order],
            item_indptr=item_indptr,
            item_sess=s_u[o2].astype(np.int64),
            item_pos=pos_u[o2].astype(np.int64),
            item_events=np.bincount(idx, minlength=n_items).astype(np.int64),
        )

    # -- checkpoints ---------------------------------------------------------------------
    def tensors(self) -> dict[str, torch.Tensor]:
        """The session -> items table is enough: the item -> sessions table is rebuilt on load."""
        return {
            "sess_indptr": torch.from_numpy(self.sess_indptr.copy()),
            "sess_items": torch.from_numpy(self.sess_items.copy()),
            "sess_pos": torch.from_numpy(self.sess_pos.copy()),
            "sess_time": torch.from_numpy(self.sess_time.copy()),
            "item_events": torch.from_numpy(self.item_events.copy()),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], n_items: int) -> "SessionIndex":
        """Rebuild and validate (raises :class:`CheckpointError` on any inconsistency)."""
        try:
            indptr = tensors["sess_indptr"].numpy().astype(np.int64)
            items = tensors["sess_items"].numpy().astype(np.int64)
            pos = tensors["sess_pos"].numpy().astype(np.int64)
            times = tensors["sess_time"].numpy().astype(np.float64)
            events = tensors["item_events"].numpy().astype(np.int64)
        except KeyError as exc:
            raise CheckpointError(f"session index: missing tensor {exc}") from exc
        n_sess = len(times)
        problems = []
        if indptr.ndim != 1 or len(indptr) != n_sess + 1 or indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            problems.append("sess_indptr is not a valid CSR pointer for sess_time")
        elif indptr[-1] != len(items) or len(pos) != len(items):
            problems.append("sess_items / sess_pos lengths do not match sess_indptr")
        if len(items) and (items.min() < 0 or items.max() >= n_items):
            problems.append(f"sess_items outside 0..{n_items - 1}")
        if len(pos) and pos.min() < 1:
            problems.append("sess_pos must be >= 1")
        if len(events) != n_items or (len(events) and events.min() < 0):
            problems.append("item_events does not match the item map")
        if n_sess > 1 and np.any(np.diff(times) < 0):
            problems.append("sess_time is not in recency order")
        if problems:
            raise CheckpointError("session index: " + "; ".join(problems))
        s = np.repeat(np.arange(n_sess), np.diff(indptr))
        o = np.lexsort((s, items))
        return cls(
            n_items=n_items,
            sess_indptr=indptr,
            sess_items=items,
            sess_pos=pos,
            sess_time=times,
            item_indptr=np.r_[0, np.cumsum(np.bincount(items, minlength=n_items))].astype(np.int64),
            item_sess=s[o],
            item_pos=pos[o],
            item_events=events,
        )

    def idf(self) -> np.ndarray:
        """session-rec's idf: ``log(n_sessions / training events of the item)`` (0 for unseen items)."""
        ev = self.item_events.astype(np.float64)
        out = np.zeros(self.n_items)
        seen = ev > 0
        out[seen] = np.log(self.n_sessions / ev[seen])
        return out


@dataclass
class Query:
    """A batch of current sessions, one entry per distinct (row, item)."""

    n_rows: int
    lengths: np.ndarray  # (n_rows,) events in each session (duplicates counted)
    row: np.ndarray  # (m,) row of the entry
    item: np.ndarray  # (m,) item
    last: np.ndarray  # (m,) 1-based position of the item's last occurrence in the session

    @classmethod
    def from_sequences(cls, sequences: list[tuple[int, ...]] | tuple[tuple[int, ...], ...], n_items: int) -> "Query":
        lengths = np.fromiter(map(len, sequences), np.int64, len(sequences))
        flat = np.fromiter(itertools.chain.from_iterable(sequences), np.int64, int(lengths.sum()))
        row = np.repeat(np.arange(len(sequences)), lengths)
        pos1 = np.arange(len(flat), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1
        key = row * n_items + flat
        o = np.argsort(key, kind="stable")  # by (row, item), repeated clicks of an item in click order
        ks = key[o]
        keep = np.r_[ks[1:] != ks[:-1], True] if len(ks) else np.zeros(0, bool)
        return cls(len(sequences), lengths, row[o][keep], flat[o][keep], pos1[o][keep])

    def contains(self, rows: np.ndarray, items: np.ndarray, n_items: int) -> np.ndarray:
        """Whether ``items[j]`` is in the session of ``rows[j]``."""
        keys = self.row * n_items + self.item  # ascending: built sorted by (row, item)
        probe = rows * n_items + items
        at = np.minimum(np.searchsorted(keys, probe), max(len(keys) - 1, 0))
        return (keys[at] == probe) if len(keys) else np.zeros(len(probe), bool)


@dataclass
class Candidates:
    """Per (row, candidate session): the aggregates of the shared items.

    The optional aggregates are ``None`` when :func:`candidates` was not asked for them.
    """

    row: np.ndarray
    sess: np.ndarray
    n_shared: np.ndarray  # number of distinct shared items
    weight_sum: np.ndarray | None  # sum of the current session's weights of the shared items
    last_shared: np.ndarray | None  # latest 1-based position in the *current* session of a shared item
    nb_last_shared: np.ndarray | None  # latest 1-based position in the *neighbour* of a shared item


def candidates(index: SessionIndex, query: Query, weights: np.ndarray | None, sample_size: int, *,
               last_shared: bool = True, nb_last_shared: bool = True) -> Candidates:
    """Training sessions sharing an item with each row, the ``sample_size`` most recent kept.

    ``weights`` (one per query entry, or ``None`` for no ``weight_sum``), ``last_shared`` and
    ``nb_last_shared`` select the aggregates to compute: each costs passes over every
    (query entry, session) pair, so models skip the ones their rule does not read.
    """
    # Only the sample_size most recent sessions of each item can be among a row's sample_size
    # most recent candidates (a candidate beaten by fewer than m others overall is beaten by
    # fewer than m in each item's list), and every (item, session) pair of such a candidate is
    # within those: the same candidates and sums, at a cost that no longer grows with how many
    # training sessions hold a popular item (quadratic in the data size before).
    owner, data_pos = _expand(index.item_indptr, query.item, sample_size)
    sess = index.item_sess[data_pos]
    key = query.row[owner] * index.n_sessions + sess
    # Group equal keys by one stable sort: the expanded keys are runs of ascending session
    # numbers, which a stable sort merges faster than np.unique's quicksort; the maxima
    # then come from reduceat over the groups instead of the slow ufunc.at.
    order = np.argsort(key, kind="stable")
    key_sorted = key[order]
    first = np.empty(len(key), bool)
    first[:1] = True
    np.not_equal(key_sorted[1:], key_sorted[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    uniq = key_sorted[starts]
    n = len(uniq)
    n_shared = np.diff(np.append(starts, len(key)))
    weight_sum = last = nb_last = None
    if weights is not None:
        inv = np.empty(len(key), np.int64)
        inv[order] = np.cumsum(first) - 1
        # bincount adds in the original order, as before: the float64 sums are unchanged
        weight_sum = np.bincount(inv, weights=weights[owner], minlength=n)
    if last_shared:
        last = np.maximum.reduceat(query.last[owner][order], starts) if n else np.zeros(0, np.int64)
    if nb_last_shared:
        nb_last = np.maximum.reduceat(index.item_pos[data_pos][order], starts) if n else np.zeros(0, np.int64)
    row, sess = uniq // index.n_sessions, uniq % index.n_sessions
    if sample_size > 0 and n:
        counts = np.bincount(row, minlength=query.n_rows)
        if counts.max() > sample_size:
            # rows are sorted by session number = recency: keep the last sample_size of each row
            row_end = np.cumsum(counts)[row]
            keep = (row_end - np.arange(n)) <= sample_size
            row, sess, n_shared = row[keep], sess[keep], n_shared[keep]
            weight_sum, last, nb_last = (None if a is None else a[keep] for a in (weight_sum, last, nb_last))
    return Candidates(row, sess, n_shared, weight_sum, last, nb_last)


def top_k(row: np.ndarray, sess: np.ndarray, sim: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` most similar entries with ``sim > 0`` per row (ties: more recent first).

    Entries are sorted by (row, sess). Only rows with more than ``k`` positive entries
    ("crowded") need a selection, and only its *set* matters, so no sort: a partition
    finds the k-th largest similarity of each crowded row, entries above it are kept,
    and of the entries equal to it the most recent (the last ones of the row) fill the
    remaining places.
    """
    keep = sim > 0
    if not len(row):
        return keep
    n_rows = int(row[-1]) + 1
    counts = np.bincount(row[keep], minlength=n_rows)
    crowded = counts > k
    if not crowded.any():
        return keep
    sel = np.flatnonzero(keep & crowded[row])  # by row, then by recency
    s = sim[sel]
    width = counts[crowded]
    ends = np.cumsum(width).tolist()
    # one partition per crowded row (at most a chunk's rows): faster than padding them into one matrix
    kth = [np.partition(s[end - w : end], w - k)[w - k] for w, end in zip(width.tolist(), ends)]
    threshold = np.repeat(kth, width)
    slot = np.repeat(np.arange(len(width)), width)  # crowded row of each selected entry
    selected = s > threshold
    places = k - np.bincount(slot[selected], minlength=len(width))  # left for the ties, >= 1
    tied = np.flatnonzero(s == threshold)
    n_tied = np.bincount(slot[tied], minlength=len(width))
    from_end = np.cumsum(n_tied)[slot[tied]] - 1 - np.arange(len(tied))  # 0 = the row's most recent tie
    selected[tied] = from_end < places[slot[tied]]
    keep[sel[~selected]] = False
    return keep


def neighbour_items(index: SessionIndex, sess: np.ndarray, with_pos: bool = True
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Every item of the given sessions: (index into ``sess``, item, 1-based last position).

    The positions are ``None`` unless ``with_pos``.
    """
    owner, data_pos = _expand(index.sess_indptr, sess)
    if not with_pos:
        return owner, index.sess_items[data_pos], None
    packed = index.sess_item_pos[data_pos]
    return owner, packed >> 32, packed & 0xFFFFFFFF


#: pairs per row (as a fraction of the catalogue) from which summing rows densely beats the scatter
DENSE_ROW_FILL = 1 / 64
#: float64 entries summed at once on the dense path (rows of a block stay in the core's L2 cache)
DENSE_BLOCK_ENTRIES = 1 << 15


def add_scores(out: torch.Tensor, row: np.ndarray, item: np.ndarray, value: np.ndarray,
               buffer: torch.Tensor | None = None) -> None:
    """Set ``out`` (float32, ``(rows, n_items)``) to the sums of ``value`` at ``(row, item)``.

    Sums are taken in float64, adding in the order of the input, and rounded once.
    ``out`` is overwritten, zeros where nothing was added. Two ways, the same values:

    * many pairs per row, ``row`` ascending (the kNN models): ``np.bincount`` sums a
      block of rows densely in float64 (cache-sized) and the block is cast into ``out``,
      which also writes its zeros. bincount adds in input order like ``np.add.at`` but
      costs a fraction per pair, and the cache-sized block avoids a cache miss per pair;
    * few pairs per row: ``out`` is zero-filled and ``np.add.at`` sums into ``buffer``,
      reusable float64 scratch of at least ``out.numel()`` zeros of which only the
      touched entries are used (zero again on return), then copied out.

    NumPy, not torch: its fancy indexing is 2-3x faster than torch's advanced indexing
    for these sizes and never starts OpenMP threads (which crawl on a loaded machine).
    """
    if not out.is_contiguous():  # the NumPy view below must alias ``out``
        dense = torch.empty(out.shape, dtype=out.dtype)
        add_scores(dense, row, item, value, buffer)
        out.copy_(dense)
        return
    n_rows, n_items = out.shape
    flat_out = out.numpy().reshape(-1)
    value = np.asarray(value, np.float64)
    if len(value) >= DENSE_ROW_FILL * out.numel() and np.all(row[1:] >= row[:-1]):
        block = max(1, DENSE_BLOCK_ENTRIES // max(n_items, 1))  # rows summed at once
        bounds = np.searchsorted(row, np.arange(0, n_rows + block, block)).tolist()
        for b, first in enumerate(range(0, n_rows, block)):
            lo, hi, start, end = bounds[b], bounds[b + 1], first * n_items, min(first + block, n_rows) * n_items
            local = item[lo:hi] if block == 1 else (row[lo:hi] - first) * n_items + item[lo:hi]
            flat_out[start:end] = np.bincount(local, weights=value[lo:hi], minlength=end - start)
        return
    flat_out.fill(0.0)
    if not len(value):
        return
    flat_index = row * n_items + item
    if buffer is None or buffer.numel() < out.numel():
        buffer = torch.zeros(out.numel(), dtype=torch.float64)
    acc = buffer.numpy()
    np.add.at(acc, flat_index, value)  # in order, like index_add_
    flat_out[flat_index] = acc[flat_index]  # duplicates write the same value
    acc[flat_index] = 0.0

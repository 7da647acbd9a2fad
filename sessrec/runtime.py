"""How sessrec uses the CPU: thread count and how idle threads wait.

Two settings decide whether training survives a busy machine (a benchmark running beside
the app, two jobs on two cores):

* ``OMP_WAIT_POLICY=PASSIVE``: torch's OpenMP threads otherwise spin while they wait for
  each other; with another CPU-bound process on the cores, the spinning threads take the
  CPU time the working ones need, and GRU4Rec training fell from about 11,000 to under
  400 events/s. Passive waiting sleeps instead. It must be set before the OpenMP runtime
  loads (the first ``import torch``), so :mod:`sessrec` sets it on import unless the
  user has set it.
* the thread count: the CPUs this process may run on (``os.sched_getaffinity``, which
  respects ``taskset`` and container CPU sets), not the machine's core count;
  ``SESSREC_THREADS`` overrides it.

And one that keeps training fast on a busy machine without changing its results:

* :class:`ThreadTuner` switches between 1 thread and all of them while GRU4Rec trains,
  by measured throughput. Two threads that wait for each other at every small operation
  lose most of their speed when another process takes one core; one thread does not.
  Switching is allowed only where the result cannot depend on it: work of
  :func:`aligned_rows`-multiple rows, where :func:`thread_invariant` has checked (once
  per process and size set) that this machine computes the same bits on 1 and N threads;
  everything else runs on one thread (:func:`one_thread`). The result is then that of
  training on one thread, at the speed of N on a quiet machine.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from typing import Callable, Iterator, cast

THREADS_ENV = "SESSREC_THREADS"


#: said once when torch was loaded before sessrec could ask for passive waiting
LATE_POLICY_WARNING = (
    "torch was imported before sessrec, so its OpenMP threads spin while they wait: on a machine "
    "where another process is busy, torch runs several times slower with more than one thread "
    "(import sessrec before torch, set OMP_WAIT_POLICY=PASSIVE, or use one thread)")


def set_wait_policy() -> None:
    """Ask OpenMP for passive waiting, unless the environment already says otherwise; warn when
    torch has already loaded its OpenMP runtime without it (too late to take effect)."""
    import sys
    import warnings

    if "OMP_WAIT_POLICY" not in os.environ and "torch" in sys.modules:
        warnings.warn(LATE_POLICY_WARNING, RuntimeWarning, stacklevel=3)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def available_cpus() -> int:
    """CPUs this process may use (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """``SESSREC_THREADS`` when set (a positive integer), else :func:`available_cpus`."""
    from sessrec.errors import ParameterError

    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return available_cpus()
    if not text.isdigit() or int(text) < 1:
        raise ParameterError(f"{THREADS_ENV} = {text[:20]!r} is not allowed (allowed: an integer >= 1)")
    return int(text)


def configure_torch_threads() -> int:
    """Set torch's intra-op threads to :func:`default_threads`; returns the number."""
    import torch

    threads = default_threads()
    torch.set_num_threads(threads)
    return threads


#: Elements torch's vectorised loops handle per step (two AVX2 vectors of float32).
VECTOR_BLOCK = 16


def aligned_rows(threads: int) -> int:
    """Row counts that are multiples of this give bit-identical results on 1 and ``threads`` threads.

    Measured here (torch 2.13, MKL 2024.2, AVX2): MKL's threaded GEMM rounds differently
    only for 5-11 rows; elementwise functions with a vectorised and a scalar form (sigmoid,
    ELU) differ when torch splits a tensor between threads at a point off the vectorised
    step. A ``(rows, n)`` tensor split into ``threads`` equal chunks never is, when ``rows``
    is a multiple of ``VECTOR_BLOCK * threads`` (32 for two threads).
    """
    return VECTOR_BLOCK * max(threads, 1)


@contextlib.contextmanager
def one_thread(active: bool = True) -> Iterator[None]:
    """Run the block on one torch thread (when ``active`` and more are set)."""
    import torch

    threads = torch.get_num_threads()
    if not active or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@functools.lru_cache(maxsize=32)
def thread_invariant(threads: int, products: tuple[tuple[int, int, int], ...],
                     elementwise: tuple[tuple[int, int], ...]) -> bool:
    """Whether this machine computes the same bits on 1 and ``threads`` threads for these sizes.

    Checked on random data, once per process and size set: the ``(m, k, n)`` matrix
    products (``(m, k) @ (k, n)``, with either operand transposed in memory, and with a
    bias as ``addmm``), and the elementwise functions and row reductions of the losses
    on ``(rows, cols)`` matrices.
    """
    import torch
    from torch.nn import functional as F

    if threads <= 1:
        return True
    generator = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.rand(*shape, generator=generator) - 0.5  # noqa: E731
    cases: list[tuple[Callable, tuple]] = []
    for m, k, n in products:
        a, b, bias = rand(m, k), rand(k, n), rand(n)
        cases += [(torch.mm, (a, b)), (torch.mm, (a, b.t().contiguous().t())),
                  (torch.mm, (a.t().contiguous().t(), b)), (torch.addmm, (bias, a, b))]
    for shape in elementwise:
        a = rand(*shape)
        cases += [(torch.sigmoid, (a,)), (torch.exp, (a,)), (torch.tanh, (a,)), (lambda x: F.elu(x, 0.5), (a,)),
                  (lambda x: torch.log(x.abs() + 1e-3), (a,)), (lambda x: torch.softmax(x, 1), (a,)),
                  (lambda x: x.sum(1), (a,)), (lambda x: x.amax(1), (a,))]
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = [f(*args) for f, args in cases]
        torch.set_num_threads(threads)
        return all(torch.equal(f(*args), r) for (f, args), r in zip(cases, single))
    finally:
        torch.set_num_threads(before)


class ThreadTuner:
    """Chooses torch's intra-op thread count during a long loop, by measured throughput.

    Call :meth:`record` after every unit of work with its size (events). Work is timed
    in windows of ``window`` seconds (the first window after a start is warm-up and not
    compared). After the first fair window, every ``probe_every`` windows, and at once
    when two windows in a row fall below ``drop`` times the best recent rate (another
    process took a core), one window runs on the other count; the probe wins if it beats
    the running mean of the current count (or, after a drop, the dropped windows) by 5 %.
    Only for computations whose result does not depend on the thread count (module
    docstring).
    """

    def __init__(self, threads: int, window: float = 0.5, probe_every: int = 20, drop: float = 0.6,
                 clock: Callable[[], float] = time.perf_counter, set_threads: Callable[[int], None] | None = None):
        import torch

        self.counts = (threads, 1) if threads > 1 else (1,)
        self.window, self.probe_every, self.drop = window, probe_every, drop
        self.clock = clock
        self.set_threads = set_threads or torch.set_num_threads
        self.current = self.counts[0]
        self.recent_best = 0.0
        self.mean: float | None = None  # running mean of the current count's window rates
        self._reference = 0.0  # what a probe window has to beat
        self._last_dropped: float | None = None  # the previous window's rate, if it was a drop
        self.windows = probe_every - 1  # probe after the first fair window: the machine may be busy already
        self.probing_from: int | None = None
        self.windows_per_count = {count: 0 for count in self.counts}
        self._events = 0
        self._started = clock()
        self._warming = True
        self.set_threads(self.current)

    def record(self, events: int) -> None:
        self._events += events
        now = self.clock()
        if now - self._started < self.window:
            return
        rate = self._events / (now - self._started)
        self._events, self._started = 0, now
        self.windows_per_count[self.current] += 1
        if self._warming:  # the first window of a run pays for allocations and cold caches: not a fair rate
            self._warming = False
            return
        if len(self.counts) == 1:
            return
        if self.probing_from is not None:  # a probe window just ended: keep the faster count
            home, self.probing_from = self.probing_from, None
            if rate <= 1.05 * self._reference:
                self._switch(home)
            else:
                self.mean = rate  # the probed count's speed now
            assert self.mean is not None  # a probe starts only after a fair window set the mean
            self.recent_best = self.mean
            self.windows = 0
            return
        self.windows += 1
        # the current count's speed: a running mean, so one noisy window decides nothing
        self.mean = rate if self.mean is None else 0.7 * self.mean + 0.3 * rate
        # two slow windows in a row: one alone may be a pause of the work itself (a refill of
        # the negative-sample buffer), not another process
        dropped = rate < self.drop * self.recent_best
        self.recent_best = max(rate, 0.9 * self.recent_best)  # forgets slowly: follows slow drifts
        previous_drop, self._last_dropped = self._last_dropped, (rate if dropped else None)
        persistent = dropped and previous_drop is not None
        if dropped and not persistent:
            return
        if self.windows >= self.probe_every or persistent:
            # persistent: the previous window dropped too, so previous_drop is its rate
            self._reference = max(rate, cast(float, previous_drop)) if persistent else self.mean
            self._last_dropped = None
            self.probing_from = self.current
            self._switch(self.counts[1] if self.current == self.counts[0] else self.counts[0])

    def restart_window(self) -> None:
        """Back to the chosen count with a fresh window (after a pause, e.g. a validation pass)."""
        self.set_threads(self.current)
        self._events, self._started = 0, self.clock()
        self._warming = True

    def _switch(self, count: int) -> None:
        if count != self.current:
            self.current = count
            self.set_threads(count)
        self._events, self._started = 0, self.clock()


_HEAP_FROZEN = False


def freeze_heap_once() -> None:
    """Exclude everything alive now from future full garbage collections (once per process).

    The app calls this after its first script run, when torch, pandas, Streamlit and the
    cached models are loaded: a full collection then walks about 280,000 objects and holds
    the GIL for 80-180 ms, which the server would otherwise spend sending the page. Those
    objects live as long as the process anyway; objects created later are collected as usual.
    """
    global _HEAP_FROZEN
    if not _HEAP_FROZEN:
        import gc

        gc.collect()
        gc.freeze()
        _HEAP_FROZEN = True


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    Linux: ``VmHWM`` of ``/proc/self/status``. ``getrusage``'s ``ru_maxrss`` is inherited
    over fork and exec, so a fresh worker would report its parent's peak; it is only the
    fallback elsewhere.
    """
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

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
"""

from __future__ import annotations

import os

THREADS_ENV = "SESSREC_THREADS"


def set_wait_policy() -> None:
    """Ask OpenMP for passive waiting, unless the environment already says otherwise."""
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

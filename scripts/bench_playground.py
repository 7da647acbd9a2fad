"""How fast does the playground react to a click? Prints the figures, three ways:

1. direct:  every model's ``recommend`` for a growing session (the work a click triggers);
2. server:  a click through Streamlit's AppTest (the whole page script re-run, no browser);
3. browser: ``streamlit run serve.py`` (``--script``) + headless Chromium, measured inside the page
            (``performance.now()`` and a MutationObserver): from the click to the moment
            *every* shown model's list is final (the last change inside any list, once the
            app is idle and the lists have been still for 500 ms) -- what a user waits for.
            One run with the sidebar's default columns and one with every model
            (``--models``). Skipped without /usr/bin/chromium or playwright.
            ``--trace`` adds a second pass of clicks under Chrome's tracing and prints the
            browser main thread's CPU time per click (thread time, so another job on the
            machine does not inflate it), split into JavaScript, style/layout and paint:
            how much of the wait is the browser drawing the page.
            The first load is timed once ``serve.py``'s server has warmed up (``--script app.py``:
            a cold server, whose first page run imports and loads everything).

Numbers are noisy on a loaded machine: run it a few times and compare medians.

Usage: python scripts/bench_playground.py [--dataset demo] [--clicks 10] [--models default all] [--script serve.py app.py]
                                          [--skip-browser] [--trace]
Uses data/ and checkpoints/ (or SESSREC_DATA_ROOT / SESSREC_CHECKPOINT_ROOT).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# the server and browser runs reuse the tests' AppTest and Chromium helpers (tests/), which a
# script run as `python scripts/bench_playground.py` cannot import from its own folder
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import sessrec  # noqa: E402,F401  (before torch: it asks OpenMP to wait passively)


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return f"{name:<34s} median {statistics.median(ms):8.1f} ms   p90 {p90:8.1f} ms   max {ms[-1]:8.1f} ms   (n={len(ms)})"


def bench_direct(dataset_name: str, clicks: int, k: int) -> None:
    import numpy as np

    from sessrec.data.dataset import load_dataset
    from sessrec.ui import models as ui_models
    from sessrec.ui.catalogue import Catalogue
    from sessrec.ui.paths import checkpoint_root, data_root
    from sessrec.ui.playground import rank_trajectory, recommend

    dataset = load_dataset(data_root() / dataset_name)
    catalogue = Catalogue.from_dataset(dataset)
    rng = np.random.default_rng(0)
    test = dataset.test
    lengths = test.lengths
    session = [int(i) for i in test.session(int(np.flatnonzero(lengths >= clicks)[0]))][:clicks] if (lengths >= clicks).any() \
        else [int(i) for i in rng.choice(catalogue.items["ItemId"], clicks)]
    print(f"\n[direct] dataset {dataset_name}: {len(catalogue):,} items, session of {len(session)} clicks, k={k}")
    total = [0.0] * len(session)
    root = checkpoint_root()
    # the session models of this dataset, as the app lists them (not the Known users page's models)
    paths = [p for p in ui_models.find_checkpoint_files(root)
             if p.relative_to(root).parts[0] == dataset_name and not ui_models.is_training_state(p)]
    for path in paths:
        try:
            model = ui_models.load_checkpoint(path)
        except Exception as exc:  # noqa: BLE001
            print(f"  skip {path}: {exc}")
            continue
        times = []
        for n in range(1, len(session) + 1):
            started = time.perf_counter()
            rec = recommend(_slot(model), session[:n], k, True, catalogue)
            times.append(time.perf_counter() - started)
            total[n - 1] += times[-1]
        print("  " + summary(f"{model.name}.recommend", times))
        started = time.perf_counter()
        rank_trajectory(model, session, rec.items["ItemId"].tolist()[:8], True)
        print(f"  {model.name + ' rank trajectory':<34s} {1000 * (time.perf_counter() - started):8.1f} ms (whole session)")
    print("  " + summary("all models, one click", total))


def _slot(model):
    from sessrec.ui.playground import ModelSlot

    return ModelSlot(model.name, model.name, model, "bench")


def bench_server(dataset_name: str, clicks: int) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.app_support import pick, rec_items

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.query_params["dataset"] = dataset_name
    started = time.perf_counter()
    at.run()
    print(f"\n[server] AppTest, dataset {dataset_name}: first page run {time.perf_counter() - started:.2f} s")
    times = []
    for i in range(clicks):
        recs = rec_items(at, "gru4rec")  # click GRU4Rec's first recommendation, as the browser run does
        started = time.perf_counter()
        if recs:
            pick(at, recs[0])
        else:
            at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("cat_"))).click().run()
        times.append(time.perf_counter() - started)
        if at.exception:
            raise RuntimeError(at.exception[0].value)
    print("  " + summary("click -> page re-run (server)", times))


IN_PAGE_CLICK = """
async ([i]) => {
  // Click the first GRU4Rec recommendation; the time until *every* model's list is final:
  // the last change inside any list, to the element that holds it (Streamlit's
  // stale-element fading) or to the lists' place in the page, once the new click is in
  // the session, the app is idle and the lists have been still for 500 ms.
  const lists = "[data-rec-list]";
  const touchesLists = r => {
    const el = r.target.nodeType === 1 ? r.target : r.target.parentElement;
    if (!el) return false;
    if (el.closest(lists)) return true;
    const box = el.closest("[data-testid=stElementContainer]");
    if (box && box.querySelector(lists)) return true;
    if (r.type === "childList")
      for (const n of [...r.addedNodes, ...r.removedNodes])
        if (n.nodeType === 1 && (n.matches(lists) || n.querySelector(lists))) return true;
    return false;
  };
  const buttons = Array.from(document.querySelectorAll("[data-rec-list=gru4rec] button[data-item]"));
  let last = null;
  const obs = new MutationObserver(records => {
    if (records.some(touchesLists)) last = performance.now();
  });
  obs.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  const t0 = performance.now();
  if (!buttons.length) return {error: document.querySelectorAll(lists).length + " lists, no GRU4Rec row"};
  buttons[0].click();
  return await new Promise(resolve => {
    const poll = () => {
      const now = performance.now();
      const idle = !document.querySelector("[data-testid=stStatusWidget]");
      const added = document.querySelector(`[class*='st-key-rm_${i}_']`);
      if (added && idle && last !== null && now - last > 500) {
        obs.disconnect();
        resolve({ms: last - t0, lists: document.querySelectorAll(lists).length});
      } else if (now - t0 > 30000) { obs.disconnect(); resolve(null); }
      else setTimeout(poll, 10);
    };
    setTimeout(poll, 10);
  });
}
"""


#: Chrome trace events counted as the browser's main-thread work, by kind
TRACE_KINDS = {"JavaScript": ("FunctionCall", "TimerFire", "EventDispatch", "HandlePostMessage"),
               "style and layout": ("UpdateLayoutTree", "Layout", "PrePaint"),
               "paint and compositing": ("Paint", "Layerize", "Commit")}


def main_thread_cpu(trace: bytes, clicks: int) -> dict[str, float]:
    """Milliseconds of renderer main-thread CPU per click, in total and by kind, from a Chrome trace."""
    import json
    from collections import Counter

    events = json.loads(trace)
    events = events["traceEvents"] if isinstance(events, dict) else events
    complete = [e for e in events if e.get("ph") == "X" and "tdur" in e]
    per_thread = Counter()
    for e in complete:
        if e.get("name") == "RunTask":
            per_thread[(e["pid"], e["tid"])] += e["tdur"]
    if not per_thread:
        return {}
    main = per_thread.most_common(1)[0][0]
    by_name = Counter()
    for e in complete:
        if (e["pid"], e["tid"]) == main:
            by_name[e["name"]] += e["tdur"]
    out = {"main thread, all tasks": by_name["RunTask"]}
    for kind, names in TRACE_KINDS.items():
        out[kind] = sum(by_name[n] for n in names)
    return {k: v / 1000 / clicks for k, v in out.items()}


def wait_warmed(proc, timeout: float = 120.0) -> float | None:
    """Seconds until ``serve.py``'s server says it has warmed up (None: it did not say so in time)."""
    import select

    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline().decode(errors="replace")
            if "sessrec: warmed up" in line:
                return time.perf_counter() - started
            if not line and proc.poll() is not None:
                return None
    return None


#: in the page, from navigation start: when GRU4Rec's list first shows an item
LIST_SHOWN = """() => { window.__listShown = null; new MutationObserver((_, obs) => {
  if (document.querySelector('[data-rec-list=gru4rec] button[data-item]')) {
    window.__listShown = performance.now(); obs.disconnect(); } })
  .observe(document, {subtree: true, childList: true}); }"""


def bench_browser(dataset_name: str, clicks: int, models: str | None, trace: bool = False,
                  script: str = "serve.py") -> None:
    if not Path("/usr/bin/chromium").exists():
        print("\n[browser] skipped: no /usr/bin/chromium")
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("\n[browser] skipped: playwright is not installed")
        return
    from tests.test_browser import LAUNCH_ARGS, start_server, stop_server, wait_idle

    proc, url = start_server({}, script)
    try:
        warmed = wait_warmed(proc) if script == "serve.py" else None
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1600})
            page.add_init_script(f"({LIST_SHOWN})()")
            started = time.perf_counter()
            page.goto(f"{url}/?dataset={dataset_name}" + (f"&models={models}" if models else ""), timeout=60_000)
            page.wait_for_selector("[data-rec-list=gru4rec] button[data-item]", timeout=60_000)
            shown = page.evaluate("() => window.__listShown")
            wait_idle(page)
            print(f"\n[browser] Chromium, `streamlit run {script}`, dataset {dataset_name}, models {models or 'default'}: "
                  + (f"server warmed up {warmed:.1f} s after it listened; " if warmed is not None else "")
                  + f"first load: GRU4Rec's list shown {shown / 1000:.2f} s after navigation, page idle "
                  f"{time.perf_counter() - started:.2f} s; {load()}")
            in_page, n_lists = [], 0
            for i in range(clicks):
                result = page.evaluate(IN_PAGE_CLICK, [i])
                if result and "error" in result:
                    raise RuntimeError(f"click {i}: {result['error']}")
                if result is None:
                    raise RuntimeError("the lists did not settle within 30 s")
                in_page.append(result["ms"] / 1000)
                n_lists = result["lists"]
            print("  " + summary(f"click -> all {n_lists} lists final", in_page))
            if trace:
                browser.start_tracing(page=page, categories=["devtools.timeline", "disabled-by-default-devtools.timeline"])
                for i in range(clicks, 2 * clicks):
                    page.evaluate(IN_PAGE_CLICK, [i])
                cpu = main_thread_cpu(browser.stop_tracing(), clicks)
                print("  browser CPU per click (traced pass): " +
                      ", ".join(f"{kind} {ms:.0f} ms" for kind, ms in cpu.items()))
            browser.close()
    finally:
        stop_server(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="demo")
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--trace", action="store_true",
                        help="also print the browser main thread's CPU time per click (Chrome tracing)")
    parser.add_argument("--script", nargs="+", default=["serve.py"],
                        help="what the browser runs serve: serve.py (the README's command: warmed up at start-up, "
                             "and the first load is measured once it has) and/or app.py (cold: nothing loaded)")
    parser.add_argument("--models", nargs="+", default=["default", "all"],
                        help="model columns of the browser runs: 'default' (the sidebar's choice), 'all', "
                             "or a comma-separated list; one browser run each")
    args = parser.parse_args()
    import torch

    print(f"machine: {os.cpu_count()} cores, torch {torch.__version__} threads {torch.get_num_threads()}, "
          f"CUDA {'yes' if torch.cuda.is_available() else 'no'}; {time.strftime('%Y-%m-%d %H:%M')}; {load()}")
    bench_direct(args.dataset, args.clicks, args.k)
    bench_server(args.dataset, args.clicks)
    if not args.skip_browser:
        for script in args.script:
            for models in args.models:
                bench_browser(args.dataset, args.clicks, None if models == "default" else models, args.trace, script)


if __name__ == "__main__":
    main()

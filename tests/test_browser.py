"""End-to-end tests in a real browser: streamlit run serve.py (the README's command) + headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.app_support import REPO

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM}: the browser test needs it", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the browser test needs the playwright package")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(env_extra: dict[str, str], script: str = "serve.py") -> tuple[subprocess.Popen, str]:
    """``streamlit run serve.py`` (the README's command: app.py, warmed up at start-up) on a free port."""
    port = free_port()
    env = {**os.environ, **env_extra}
    streamlit = shutil.which("streamlit", path=str(Path(sys.executable).parent)) or "streamlit"
    proc = subprocess.Popen(
        [streamlit, "run", script, "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{proc.stdout.read().decode(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("streamlit did not start within 60 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@contextlib.contextmanager
def app_page(env: dict[str, str], height: int = 1400):
    """The app served with ``env`` and a headless Chromium page on it: ``(page, url)``; both closed after."""
    proc, url = start_server(env)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            try:
                yield browser.new_page(viewport={"width": 1440, "height": height}), url
            finally:
                browser.close()
    finally:
        stop_server(proc)


def wait_idle(page, timeout: float = 30.0) -> None:
    """Until Streamlit's 'running' indicator is gone."""
    deadline = time.time() + timeout
    time.sleep(0.2)
    while time.time() < deadline:
        if page.locator("[data-testid=stStatusWidget]").count() == 0:
            return
        time.sleep(0.1)


def rec_list(page, role: str, unlike: list[str] | None = None, timeout: float = 30.0) -> list[str]:
    """The rows of a model's list once the lists' JavaScript has drawn it (and, with
    ``unlike``, once it differs from that list); what is shown at the deadline otherwise."""
    deadline = time.time() + timeout
    while True:
        rows = visible(page, f"[data-rec-list={role}] button[data-item]").all_inner_texts()
        if (rows and rows != unlike) or time.time() > deadline:
            return rows
        time.sleep(0.1)


def wait_for_known_users_answer(page) -> None:
    """Until the Known users page shows a computed answer with its lists and their judgement
    (drawn after the heading, slower under load) and Streamlit is idle."""
    page.wait_for_selector("text=Computed by the models", timeout=90_000)
    page.wait_for_selector("text=P@10", timeout=60_000)
    page.wait_for_selector("th:has-text('Score')", timeout=60_000)
    wait_idle(page)


def visible(page, selector: str):
    """Streamlit renders a hidden measuring copy of some buttons: keep the visible ones."""
    return page.locator(selector).filter(visible=True)


def test_click_two_items_in_a_real_browser(app_roots, tmp_path):
    proc, url = start_server(app_roots.env())
    # the screenshot goes where SESSREC_ARTIFACTS says (to keep it), else into the test's own folder
    artifacts = Path(os.environ.get("SESSREC_ARTIFACTS", tmp_path))
    artifacts.mkdir(parents=True, exist_ok=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 2200})
                page.goto(url, timeout=60_000)
                page.wait_for_selector("[class*='st-key-cat_'] [data-testid=stButton] button", timeout=60_000)
                wait_idle(page)
                before = rec_list(page, "gru4rec")
                assert before, "the GRU4Rec list is shown"
                names = []
                for _ in range(2):
                    button = visible(page, "[class*='st-key-cat_'] [data-testid=stButton] button").nth(len(names))
                    names.append(button.inner_text().strip())
                    button.click()
                    page.wait_for_selector(f"[class*='st-key-rm_{len(names) - 1}_']", timeout=30_000)
                    wait_idle(page)
                timeline = visible(page, "[class*='st-key-rm_'] [data-testid=stButton] button").all_inner_texts()
                assert len(timeline) == 2
                for name, chip in zip(names, timeline):
                    assert name.rstrip("…") in chip
                after = rec_list(page, "gru4rec", unlike=before)
                assert after and after != before, "the GRU4Rec list changed after the clicks"
                # a click on a recommendation (drawn by the lists' own JavaScript) adds it too
                first = visible(page, "[data-rec-list=gru4rec] button[data-item]").first
                picked = first.get_attribute("data-item")
                first.click()
                page.wait_for_selector(f"[class*='st-key-rm_2_{picked}']", timeout=30_000)
                wait_idle(page)
                assert rec_list(page, "gru4rec", unlike=after) != after
                assert "session=" in page.url
                page.screenshot(path=str(artifacts / "browser_playground.png"), full_page=True)
            finally:
                browser.close()
    finally:
        stop_server(proc)


def test_dataset_switch_sticks_and_unknown_dataset_link_is_explained(app_roots):
    """Two regressions a user met in the browser: the first dataset switch was undone by the
    URL sync, and a link naming an unknown dataset was silently replaced by the demo."""
    import json

    from tests.app_support import DEMO

    twin = app_roots.data / "twin"
    shutil.copytree(DEMO, twin)
    info = json.loads((twin / "dataset.json").read_text())
    (twin / "dataset.json").write_text(json.dumps({**info, "name": "twin"}))
    proc, url = start_server(app_roots.env())
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1600})
                page.goto(url, timeout=60_000)
                page.wait_for_selector("[class*='st-key-cat_'] [data-testid=stButton] button", timeout=60_000)
                wait_idle(page)
                assert "dataset=demo" in page.url
                sidebar = page.locator("[data-testid=stSidebar]")
                sidebar.locator("[data-testid=stSelectbox]").filter(has_text="Dataset").first.click()
                page.locator("[role=option]").filter(has_text="twin").first.click()
                page.wait_for_function("() => window.location.search.includes('dataset=twin')", timeout=30_000)
                wait_idle(page)
                time.sleep(1.0)  # give a wrong write-back time to happen
                wait_idle(page)
                assert "dataset=twin" in page.url
                assert "Dataset twin" in page.locator("[data-testid=stMain]").inner_text()

                page.goto(f"{url}/?dataset=../../etc&session=1001", timeout=60_000)
                page.wait_for_selector("text=not among the prepared datasets", timeout=60_000)
                assert page.locator("text=session was not loaded").count() >= 1
            finally:
                browser.close()
    finally:
        stop_server(proc)


def test_known_users_page_shows_models_cache_hits_and_the_fallback(tmp_path):
    """The online path in a real browser, on the committed demo users and models: a computed
    answer with four lists and one chosen, the same request again from the cache, a new user
    on the fallback."""
    env = {"SESSREC_DATA_ROOT": str(REPO / "data"), "SESSREC_CHECKPOINT_ROOT": str(REPO / "checkpoints"),
           "SESSREC_DB": f"sqlite:///{tmp_path / 'online.db'}"}
    proc, url = start_server(env)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1400})
                page.goto(f"{url}/known_users", timeout=60_000)
                wait_for_known_users_answer(page)
                main = page.locator("[data-testid=stMain]")
                text = main.inner_text()
                for label in ("BMF", "NeuMF", "ENCM", "LNCM", "Fallback heuristic"):
                    assert label in text
                assert text.count("chosen") == 1 and "P@10" in text and "Score" in text
                page.reload()
                page.wait_for_selector("text=From the cache", timeout=60_000)
                main.locator("[data-testid=stSelectbox]").filter(has_text="User").first.click()
                page.locator("[role=option]").filter(has_text="a new user").first.click()
                page.wait_for_selector("text=Fallback ·", timeout=60_000)
                wait_idle(page)
                assert "is not in shop_users" in main.inner_text()
            finally:
                browser.close()
    finally:
        stop_server(proc)


def _movielens_shaped_files(folder: Path, n_users: int = 40, n_items: int = 60, seed: int = 3) -> Path:
    """RecBole's three ml-100k atomic files, with made-up ratings (the real ones are never committed)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    lines = ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
    for user in range(1, n_users + 1):
        for item in rng.choice(np.arange(1, n_items + 1), size=25, replace=False).tolist():
            lines.append(f"{user}\t{item}\t{int(rng.integers(1, 6))}\t{880_000_000 + int(rng.integers(0, 9_000_000))}")
    (folder / "ml-100k.inter").write_text("\n".join(lines) + "\n")
    (folder / "ml-100k.user").write_text("user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n" +
                                         "".join(f"{u}\t30\tF\tother\t00000\n" for u in range(1, n_users + 1)))
    (folder / "ml-100k.item").write_text("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n" +
                                         "".join(f"{i}\tFilm number {i}\t1995\tDrama\n" for i in range(1, n_items + 1)))
    return folder


def test_known_users_page_on_movielens_files_in_a_real_browser(tmp_path):
    """The online path on a MovieLens-100k-shaped dataset (RecBole's file format, made-up ratings):
    prepared and trained through the CLI, then four model lists of movies in the time-of-day and
    season context (no device feature), one chosen, and the same request from the cache."""
    from sessrec.cli import EXIT_OK, main

    source = _movielens_shaped_files(tmp_path / "atomic")
    data, models = tmp_path / "data" / "ml-100k", tmp_path / "checkpoints" / "ml-100k" / "users"
    assert main(["users", "prepare", "movielens", "--source", str(source), "--out", str(data)]) == EXIT_OK
    assert main(["users", "train", "--dataset", str(data), "--out", str(models), "--quiet", "--set",
                 *[f"{m}:n_epochs=2" for m in ("bmf", "neumf", "encm", "lncm")]]) == EXIT_OK
    env = {"SESSREC_DATA_ROOT": str(tmp_path / "data"), "SESSREC_CHECKPOINT_ROOT": str(tmp_path / "checkpoints"),
           "SESSREC_DB": f"sqlite:///{tmp_path / 'online.db'}"}
    with app_page(env) as (page, url):
        page.goto(f"{url}/known_users", timeout=60_000)
        wait_for_known_users_answer(page)
        main_area = page.locator("[data-testid=stMain]")
        text = main_area.inner_text()
        for label in ("BMF", "NeuMF", "ENCM", "LNCM", "Time of day", "Season", "Film number", "Drama", "Score"):
            assert label in text, label
        assert "Device" not in text and text.count("chosen") == 1
        # opened by a deep link on a fresh server, the page still sits in app.py's shell
        assert "Live demo" in page.locator("[data-testid=stSidebar]").inner_text()
        page.screenshot(path="/tmp/ml_shot.png")
        page.reload()
        page.wait_for_selector("text=From the cache", timeout=60_000)


def test_replay_of_a_two_click_session_in_a_real_browser(app_roots):
    """Issue 44's crash, as a user met it: Replay of a test session with two clicks (a 1..1 step
    slider raised StreamlitInvalidMinMaxError with a traceback on the page)."""
    from sessrec.data.dataset import load_dataset
    from tests.app_support import DEMO

    test = load_dataset(DEMO).test
    two = next(i for i in range(test.n_sessions) if len(test.session(i)) == 2)
    with app_page(app_roots.env()) as (page, url):
        page.goto(f"{url}/replay", timeout=60_000)
        page.wait_for_selector("text=Session replay", timeout=60_000)
        wait_idle(page)
        box = page.locator("[data-testid=stNumberInput] input").first
        box.fill(str(two + 1))
        box.press("Enter")
        page.wait_for_selector("text=True next item", timeout=60_000)
        # on a loaded machine the rerun for the new session can land after the first idle check
        page.wait_for_selector("[data-testid=stMain] >> text=2 clicks", timeout=60_000)
        wait_idle(page)
        main = page.locator("[data-testid=stMain]").inner_text()
        assert "2 clicks" in main and "StreamlitInvalidMinMaxError" not in main
        assert page.locator("[data-testid=stException]").count() == 0


def test_first_screen_lists_that_rank_nothing_say_so_in_a_real_browser(app_roots):
    """Before any click a model with no evidence shows one line, not a borrowed or arbitrary
    ranking, and the empty session offers a real test session to start from."""
    with app_page(app_roots.env(), height=1600) as (page, url):
        page.goto(f"{url}/?dataset=demo&models=most_popular,last_item,item_knn", timeout=60_000)
        page.wait_for_selector("[data-rec-list=last_item]", timeout=60_000)
        wait_idle(page)
        last_item = page.locator("[data-rec-list=last_item]")
        assert "No evidence yet" in last_item.inner_text() and last_item.locator("li").count() == 0
        assert page.locator("[data-rec-list=most_popular] li").count() == 10, "popularity is a ranking"
        page.get_by_role("button", name="Start from a random test session").click()
        page.wait_for_selector("[data-rec-list=last_item] li", timeout=60_000)
        assert "session=" in page.url


def test_models_shown_box_shows_every_tag_in_a_real_browser(app_roots):
    """Issue 44: with ``?models=all`` the sidebar's "Models shown" box scrolled most tags out of
    sight (Streamlit caps its height); every chosen model must be visible, none clipped."""
    from sessrec.ui.models import label_of, roles

    with app_page(app_roots.env()) as (page, url):
        page.goto(f"{url}/?dataset=demo&models=all", timeout=60_000)
        page.wait_for_selector("[class*='st-key-shown_models'] [data-testid=stMultiSelect]", timeout=60_000)
        wait_idle(page)
        labels = [label_of(role) for role, _ in roles()]
        seen = page.evaluate("""(labels) => {
            const box = document.querySelector("[class*='st-key-shown_models'] [data-testid=stMultiSelect]");
            const scrolling = [...box.querySelectorAll('*')].filter(e => e.scrollHeight > e.clientHeight + 1
                && getComputedStyle(e).overflowY !== 'visible').length;
            const leaves = [...box.querySelectorAll('*')].filter(e => e.childElementCount === 0);
            // a tag is seen when the point at its centre is the tag itself (not clipped, not covered)
            const shown = labels.filter(label => leaves.some(e => {
                if (e.textContent.trim() !== label) return false;
                const r = e.getBoundingClientRect();
                const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                return hit !== null && (hit === e || e.contains(hit) || hit.contains(e));
            }));
            return {scrolling, shown};
        }""", labels)
        assert seen["scrolling"] == 0, "no part of the box scrolls tags out of sight"
        assert seen["shown"] == labels, f"tags not visible: {sorted(set(labels) - set(seen['shown']))}"


def test_benchmarks_rq1_every_row_distinct_colours_whole_legends_in_a_real_browser(app_roots):
    """Issue 44's Benchmarks checks on the committed results, in the browser the committee uses:
    RQ1 tables show every row (no inner scroll), no two labels of one chart legend share a
    colour, and every legend label lies inside its chart (none cut off)."""
    env = {**app_roots.env(), "SESSREC_RESULTS_ROOT": str(REPO / "results")}
    with app_page(env, height=1600) as (page, url):
        page.goto(f"{url}/benchmarks", timeout=60_000)
        # rank moves, bars and metric curves: the three charts of the tab, drawn once computed
        page.wait_for_function("() => document.querySelectorAll('[data-testid=stVegaLiteChart] svg g.role-legend')"
                               ".length >= 3", timeout=180_000)
        wait_idle(page, timeout=60)
        tables = page.evaluate("""() => [...document.querySelectorAll('[data-testid=stDataFrame]')]
            .filter(e => !e.closest('[data-testid=stExpander]'))
            .map(e => { const s = e.querySelector('.dvn-scroller');
                        return {rows: Number(e.querySelector('[aria-rowcount]')?.getAttribute('aria-rowcount') || 0) - 1,
                                hidden: s ? s.scrollHeight - s.clientHeight : 0}; })""")
        rq1 = tables[:2]  # the Recall and MRR tables come first
        assert rq1 and all(t["rows"] >= 10 for t in rq1), tables
        assert all(t["hidden"] <= 1 for t in rq1), f"an RQ1 table scrolls rows out of sight: {tables}"
        legends = page.evaluate("""() => [...document.querySelectorAll('[data-testid=stVegaLiteChart] svg')].flatMap(svg => {
            const box = svg.getBoundingClientRect();
            return [...svg.querySelectorAll('g.role-legend')].map(lg => ({
              labels: [...lg.querySelectorAll('.role-legend-label text')].map(t => t.textContent),
              inside: [...lg.querySelectorAll('.role-legend-label text')].map(t => { const r = t.getBoundingClientRect();
                        return r.top >= box.top - 1 && r.bottom <= box.bottom + 1 && r.left >= box.left - 1
                               && r.right <= box.right + 1; }),
              fills: [...lg.querySelectorAll('.role-legend-symbol path')].map(p => p.getAttribute('fill'))}));
        })""")
        assert len(legends) >= 2, "the rank-moves and bar charts have legends"
        for legend in legends:
            assert len(set(legend["fills"])) == len(legend["fills"]), f"two labels share a colour: {legend}"
            assert all(legend["inside"]), f"a legend label is cut off: {legend}"
        assert max(len(legend["labels"]) for legend in legends) >= rq1[0]["rows"], "every model of RQ1 in a legend"


def test_training_from_the_page_leaves_nothing_in_git_status(app_roots):
    """Issue 44: a model trained from the Train page landed in the tracked checkpoints/demo/
    folder. Train one with the repository's own checkpoint root; git must not see the file."""
    def status() -> list[str]:
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", "checkpoints"], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
        return sorted(out.splitlines())

    if subprocess.run(["git", "rev-parse"], cwd=REPO, capture_output=True).returncode:
        pytest.skip("the repository is not a git checkout: nothing to compare git status with")
    name = f"most_popular-browser-test-{os.getpid()}.pt"
    target = REPO / "checkpoints" / "demo" / name
    jobs = REPO / "checkpoints" / ".jobs"
    jobs_before = set(jobs.iterdir()) if jobs.exists() else set()
    before = status()
    env = {"SESSREC_DATA_ROOT": str(app_roots.data), "SESSREC_RESULTS_ROOT": str(app_roots.results)}
    try:
        with app_page(env) as (page, url):
            page.goto(f"{url}/train", timeout=60_000)
            page.wait_for_selector("text=Start training", timeout=60_000)
            wait_idle(page)
            page.locator("[data-testid=stSelectbox]").filter(has_text="Model").first.click()
            page.locator("[role=option]").filter(has_text="MostPopular").first.click()
            wait_idle(page)
            box = page.locator("[data-testid=stTextInput] input").first
            box.fill(name)
            box.press("Enter")
            wait_idle(page)
            page.get_by_role("button", name="Start training").click()
            # the job panel, once the job is finished: "... → checkpoints/demo/<name> · done"
            page.wait_for_function("(name) => document.querySelector('[data-testid=stMain]').innerText"
                                   ".includes(name + ' · done')", arg=name, timeout=120_000)
            assert target.exists(), f"the page trained nothing into {target}"
        assert status() == before, "training from the page changed git status"
    finally:
        target.unlink(missing_ok=True)
        for folder in (set(jobs.iterdir()) if jobs.exists() else set()) - jobs_before:
            shutil.rmtree(folder, ignore_errors=True)
        if jobs.exists() and not any(jobs.iterdir()) and not jobs_before:
            jobs.rmdir()

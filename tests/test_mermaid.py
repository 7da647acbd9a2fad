"""The How-it-works page's Mermaid code parses with Mermaid's own parser (mermaid.js from npm,
run in headless Chromium); skipped, saying why, where npm, the package or Chromium is missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sessrec.ui import diagrams

CHROMIUM = "/usr/bin/chromium"
CACHE = Path.home() / ".cache" / "sessrec" / "mermaid"


def mermaid_js() -> Path:
    """mermaid.min.js: ``SESSREC_MERMAID_JS``, or installed once with npm into ~/.cache/sessrec/mermaid."""
    if os.environ.get("SESSREC_MERMAID_JS"):
        return Path(os.environ["SESSREC_MERMAID_JS"])
    script = CACHE / "node_modules" / "mermaid" / "dist" / "mermaid.min.js"
    if not script.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is not installed: cannot fetch mermaid.js to parse the diagram")
        CACHE.mkdir(parents=True, exist_ok=True)
        try:
            done = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(CACHE),
                                   "mermaid@11"], capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            pytest.skip("npm install mermaid took over 5 minutes")
        if done.returncode != 0 or not script.is_file():
            pytest.skip(f"npm install mermaid failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return script


def parse_all(codes: list[str]) -> list[str]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: mermaid.js needs a browser")
    sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright package")
    script = mermaid_js()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_content("<html><body></body></html>")
            page.add_script_tag(path=str(script))
            return [page.evaluate("async (code) => { try { await mermaid.parse(code); return 'ok'; }"
                                  " catch (e) { return String(e.message || e); } }", code) for code in codes]
        finally:
            browser.close()


def test_the_user_system_diagram_is_valid_mermaid() -> None:
    code = diagrams.user_system_mermaid()
    broken = code.replace("-->", "-=>", 1)
    good, bad = parse_all([code, broken])
    assert good == "ok", good
    assert bad != "ok", "the parser must reject a broken flowchart (or it checks nothing)"
    for node, _, kind in diagrams.USER_SYSTEM_NODES:
        assert f"{node}" in code and f":::{kind}" in code
    assert set(diagrams.USER_SYSTEM_KINDS) == {"offline", "online", "database", "model", "decision"}
    dot = diagrams.user_system_graphviz()
    assert dot.count("->") == len(diagrams.USER_SYSTEM_EDGES) == code.count("-->")

import os
import sys
from pathlib import Path

# before any test module imports torch: idle OpenMP threads sleep instead of spinning (sessrec.runtime)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# -- app fixtures (tests/test_app.py, tests/test_browser.py) ---------------------------
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def app_roots(tmp_path_factory):
    """Data, checkpoint and results folders for the app: the demo dataset, baseline
    checkpoints trained on it, one broken and one foreign checkpoint; results empty."""
    from tests.app_support import build_app_roots

    return build_app_roots(tmp_path_factory.mktemp("app"))


@pytest.fixture
def app_env(app_roots, monkeypatch):
    for name, path in app_roots.env().items():
        monkeypatch.setenv(name, path)
    return app_roots

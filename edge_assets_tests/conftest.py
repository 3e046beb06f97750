"""Shared fixtures: isolated Dagster/MLflow homes and the real recorded API responses."""

import json
import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
REAL_FIXTURES = SHARED / "fixtures" / "real"


@pytest.fixture(autouse=True, scope="session")
def _isolated_homes(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "1"


@pytest.fixture(scope="session")
def real_dir() -> Path:
    if not REAL_FIXTURES.is_dir():
        pytest.skip(f"real API recordings not available: {REAL_FIXTURES} is absent (needs ../shared)")
    return REAL_FIXTURES


def load_real(name: str) -> Any:
    """Load one real recording by file name, skipping the test when ../shared is absent."""
    path = REAL_FIXTURES / name
    if not path.is_file():
        pytest.skip(f"real API recording {name} not available (needs ../shared/fixtures/real)")
    return json.loads(path.read_text(encoding="utf-8"))

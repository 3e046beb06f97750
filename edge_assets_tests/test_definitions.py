"""The code location loads: Dagster's own validator, and no heavy imports at load time."""

import json
import os
import subprocess
import sys

from edge_assets_tests.conftest import REPO_ROOT


def test_dagster_definitions_validate_workspace() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation successful for code location edge_assets" in proc.stdout + proc.stderr


def test_definitions_import_stays_light() -> None:
    """mlflow, xgboost and scikit-learn load only inside the code that uses them."""
    code = (
        "import json, sys, time; t = time.perf_counter(); import edge_assets.definitions; "
        "print(json.dumps({'s': time.perf_counter() - t, "
        "'heavy': sorted(m for m in ('mlflow', 'xgboost', 'sklearn') if m in sys.modules)}))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["heavy"] == []

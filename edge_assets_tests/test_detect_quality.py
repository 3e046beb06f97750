"""Detection quality of the real pipeline on the simulator (issue 6): the acceptance's own 48 h window
on the default world (seed 7). A shorter window holds ~15 positives, where one miss moves recall by
7 points, so it would test luck rather than the comparator. Scoring is shared with bench/detect.py."""

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge_assets import evaluation

BENCH = Path(__file__).resolve().parents[1] / "bench" / "detect.py"
END = datetime(2026, 11, 20, tzinfo=UTC)
HOURS = 48


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_detect", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_detect"] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_precision_and_recall_on_simulated_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    (tmp_path / "dagster_home").mkdir()
    report, _ = _bench().run(7, END, HOURS, str(tmp_path))  # type: ignore[attr-defined]
    text = evaluation.format_report(report)
    assert report.n_positives >= 5, text
    assert report.precision >= 0.95, text
    assert report.recall >= 0.90, text

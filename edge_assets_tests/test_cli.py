"""The `edge` command over a real lake and DuckDB file."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from edge_assets.assets import seeds
from edge_assets.resources import build_resources
from edge_assets.settings import load_settings
from edge_assets_tests.conftest import REPO_ROOT


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env.update(
        EDGE_LAKE_ROOT=str(tmp_path / "lake"),
        EDGE_DUCKDB_PATH=str(tmp_path / "w.duckdb"),
        EDGE_DAGSTER_HOME=str(tmp_path / "dh"),
    )
    return env


def test_query_counts_rows_after_materialization(tmp_path: Path) -> None:
    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.duckdb"))
    with dg.instance_for_test() as instance:
        result = dg.materialize([seeds.team_aliases], resources=build_resources(settings), instance=instance)
    assert result.success
    expected = pl.read_csv(REPO_ROOT / "data" / "team_aliases.csv").height
    assert expected > 100
    proc = subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", "query", "select count(*) as n from team_aliases", "--csv"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["n", str(expected)]


def test_query_error_is_clear(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", "query", "select * from no_such_table"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert "edge query:" in proc.stderr and "no_such_table" in proc.stderr


@pytest.mark.parametrize("command", ["demo", "query", "ui", "simulate", "backfill"])
def test_every_command_has_help(command: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "usage: edge " + command in proc.stdout

"""The `edge` command over a real lake and DuckDB file."""

import contextlib
import importlib.metadata
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from edge_assets import cli
from edge_assets.assets import seeds
from edge_assets.lake import Lake
from edge_assets.resources import build_resources
from edge_assets.settings import get_settings, load_settings
from edge_assets_tests.conftest import REPO_ROOT
from edge_assets_tests.scripted_server import Reply, ScriptedServer


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env.update(
        EDGE_LAKE_ROOT=str(tmp_path / "lake"),
        EDGE_DUCKDB_PATH=str(tmp_path / "w.duckdb"),
        EDGE_DAGSTER_HOME=str(tmp_path / "dh"),
    )
    return env


def _edge(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`edge <args>` in a fresh process over a lake under tmp_path."""
    return subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_query_counts_rows_after_materialization(tmp_path: Path) -> None:
    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.duckdb"))
    with dg.instance_for_test() as instance:
        result = dg.materialize([seeds.team_aliases], resources=build_resources(settings), instance=instance)
    assert result.success
    expected = pl.read_csv(REPO_ROOT / "data" / "team_aliases.csv").height
    assert expected > 100
    proc = _edge(tmp_path, "query", "select count(*) as n from team_aliases", "--csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["n", str(expected)]


def test_query_error_is_clear(tmp_path: Path) -> None:
    proc = _edge(tmp_path, "query", "select * from no_such_table")
    assert proc.returncode == 1
    assert "edge query:" in proc.stderr and "no_such_table" in proc.stderr


@pytest.mark.parametrize(
    "command", ["demo", "query", "ui", "simulate", "backfill", "models", "paper", "quota", "compact-raw"]
)
def test_every_command_has_help(command: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    assert "usage: edge " + command in proc.stdout


@pytest.mark.skipif(
    cli.mlflow_ui_command("sqlite:///x.db", "127.0.0.1", 5000) is not None,
    reason="the full mlflow package is installed here: the UI would start",
)
def test_models_ui_with_mlflow_skinny_only_says_how_to_install(tmp_path: Path) -> None:
    proc = _edge(tmp_path, "models", "--ui")
    assert proc.returncode == 1
    assert "pip install 'edge-assets[mlflow-ui]'" in proc.stderr
    assert "starting:" not in proc.stdout


def test_models_ui_runs_mlflow_with_this_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`.venv/bin/edge models --ui` must not need the venv's bin/ on PATH (it did: "mlflow" not found)."""
    for key, value in _env(tmp_path).items():
        if key.startswith("EDGE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("EDGE_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    monkeypatch.setenv("PATH", "/nonexistent")
    # a lake on an S3-compatible store: the UI server downloads artifacts through the same endpoint
    monkeypatch.setenv("EDGE_S3_ENDPOINT_URL", "http://127.0.0.1:9000")
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: object())
    calls: list[list[str]] = []
    envs: list[dict[str, str]] = []

    def fake_call(cmd: list[str], **kwargs: Any) -> int:
        calls.append(cmd)
        envs.append(kwargs["env"])
        return 0

    monkeypatch.setattr(cli, "run_until_stopped", fake_call)
    get_settings.cache_clear()  # read the environment set above
    try:
        assert cli.main(["models", "--ui", "--port", "5123"]) == 0
    finally:
        get_settings.cache_clear()
    assert calls == [
        [
            sys.executable,
            *("-m", "mlflow", "ui", "--backend-store-uri", f"sqlite:///{tmp_path}/mlflow.db"),
            *("--host", "127.0.0.1", "--port", "5123"),
        ]
    ]
    assert envs[0]["MLFLOW_S3_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    # the module form is a real entry point of the installed mlflow (skinny has the command too)
    monkeypatch.undo()
    help_ = subprocess.run([*calls[0][:4], "--help"], capture_output=True, text=True, timeout=120)
    assert help_.returncode == 0 and "--backend-store-uri" in help_.stdout


def test_ui_runs_dg_dev_of_this_interpreter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`.venv/bin/edge ui` as the README says, venv not activated: it failed with "No such file or
    directory: 'dagster'" because it looked the command up on PATH. It runs `dg dev` (`dagster dev`
    prints a SupersessionWarning in 1.13) from this interpreter's scripts folder."""
    for key, value in _env(tmp_path).items():
        if key.startswith("EDGE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)  # restored by undo: ensure_dagster_home sets it
    calls: list[list[str]] = []
    kwargs_seen: list[dict[str, Any]] = []
    monkeypatch.setattr(
        cli, "run_until_stopped", lambda cmd, **kwargs: calls.append(cmd) or kwargs_seen.append(kwargs) or 0
    )
    get_settings.cache_clear()
    try:
        assert cli.main(["ui", "--port", "3123"]) == 0
    finally:
        get_settings.cache_clear()
    workspace = str(REPO_ROOT / "workspace.yaml")
    dg = str(Path(sysconfig.get_path("scripts")) / "dg")
    assert calls == [[dg, "dev", "-w", workspace, "-h", "127.0.0.1", "-p", "3123"]]
    # started in the user's directory (no cwd): its .env and data/ are the ones `edge demo` uses there
    assert (
        kwargs_seen[0].get("cwd") is None
        and kwargs_seen[0]["env"]["EDGE_LAKE_ROOT"] == _env(tmp_path)["EDGE_LAKE_ROOT"]
    )
    assert (tmp_path / "dh" / "dagster.yaml").exists()  # the instance the demo uses, made before start
    monkeypatch.undo()
    # without a TTY dg's rich help lists no options; its usage line names the command
    help_ = subprocess.run([*calls[0][:2], "--help"], capture_output=True, text=True, timeout=120)
    assert help_.returncode == 0 and "Usage: dg dev [OPTIONS]" in help_.stdout


# a server that, like dagster dev, maps SIGTERM to its SIGINT handler; it says when it stops cleanly
_SERVER = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.getsignal(signal.SIGINT))
open(sys.argv[1], "w").write(str(os.getpid()))
try:
    while True:
        time.sleep(0.05)
except KeyboardInterrupt:
    open(sys.argv[1], "a").write(" stopped")
    sys.exit(3)
"""
_WRAPPER = """
import os, sys
from edge_assets import cli
sys.exit(cli.run_until_stopped([sys.executable, "-c", sys.argv[1], sys.argv[2]], env=dict(os.environ)))
"""


def test_stopping_edge_ui_stops_the_server_it_started(tmp_path: Path) -> None:
    """`nohup edge ui &` from a script, then `kill`: edge died and dagster dev, started with SIGINT
    ignored and so deaf to SIGTERM too, kept running its daemon; the next start made a second one."""
    import signal
    import time

    said = tmp_path / "server.txt"
    wrapper = subprocess.Popen(
        [sys.executable, "-c", _WRAPPER, _SERVER, str(said)],
        cwd=REPO_ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # as a backgrounded job
    )
    deadline = time.monotonic() + 60
    while not said.exists() or not said.read_text():
        assert time.monotonic() < deadline and wrapper.poll() is None
        time.sleep(0.05)
    server_pid = int(said.read_text())
    try:
        wrapper.send_signal(signal.SIGTERM)
        assert wrapper.wait(timeout=30) == 3  # the server's own exit code: it shut down, was not killed
        assert said.read_text() == f"{server_pid} stopped"
        with pytest.raises(ProcessLookupError):
            os.kill(server_pid, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server_pid, signal.SIGKILL)  # no orphan when this fails


def test_paper_summarizes_the_lakes_trades_per_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from edge_assets.lake import Lake
    from edge_assets.trading.paper import paper_trades
    from edge_assets_tests.test_paper_trading import D0, HORIZON, H, frame, scores, signal

    proc = _edge(tmp_path, "paper")
    assert (proc.returncode, proc.stdout.split(":")[0]) == (0, "no paper trades yet"), proc.stderr
    opening = frame([signal("w", D0 + 10 * H), signal("l", D0 + 11 * H, token="tok-away", outcome="Away FC")])
    trades = paper_trades(opening, pl.DataFrame(), scores(2, 1, D0 + 23 * H), horizon=HORIZON)
    Lake(str(tmp_path / "lake")).write("paper_trades", "2026-11-01", trades)
    proc = _edge(tmp_path, "paper", "--by", "sport_key")
    assert proc.returncode == 0, proc.stderr
    header = next(line for line in proc.stdout.splitlines() if "sport_key" in line)
    row = next(line for line in proc.stdout.splitlines() if "soccer_epl" in line)
    cells = dict(zip(_cells(header), _cells(row), strict=True))
    assert (cells["trades"], cells["settled"], cells["staked_usdc"], cells["pnl_usdc"]) == (
        "2",
        "2",
        "82.0",
        "18.0",
    )
    assert "2 trades placed 2026-11-01 10:00..2026-11-01 11:00 UTC" in proc.stdout
    cli._print_paper(load_settings(lake_root=str(tmp_path / "lake")))  # the line `edge demo` ends with
    assert capsys.readouterr().out.strip() == (
        "paper trades: 2 (0 open, 82.00 USDC staked); settled 2: PnL +18.00 USDC; per model: edge paper"
    )
    proc = _edge(tmp_path, "paper", "--since", "2026-11-02")
    assert proc.stdout.strip() == "no paper trades placed on or after 2026-11-02", proc.stderr


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("│").split("┆")]


def test_backfill_refuses_live_polled_assets_on_sources_without_a_past(tmp_path: Path) -> None:
    """With EDGE_SIM_URL (or live keys) a whole-graph backfill ran for 14 s and failed in every lane:
    "oddsapi_live is polled live: hours ... cannot be fetched now". It now says so before starting."""
    env = _env(tmp_path) | {"EDGE_SIM_URL": "http://127.0.0.1:9"}
    proc = subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", "backfill", "--days", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "edge backfill: pm_markets, pm_order_book_snapshots, oddsapi_live, oddsapi_scores are polled live "
        "and the simulator over HTTP (EDGE_SIM_URL) cannot answer for past hours; only the embedded "
        "simulator replays them (unset EDGE_SIM_URL / EDGE_SOURCE_MODE). Past odds: edge backfill "
        "--select oddsapi_historical_hourly"
    )
    assert not (tmp_path / "dh").exists() and not (tmp_path / "lake").exists()  # nothing started


def test_backfill_of_a_selection_loads_missing_seed_tables_first(tmp_path: Path) -> None:
    """`edge backfill --select market_mappings` on a new lake failed: "lake table team_aliases: its
    only file has not been written"; nothing but the seeds sensor under `edge ui` loads them."""
    args = ("backfill", "--hours", "2", "--end", "2026-11-20T12:00", "--workers", "1")
    first = _edge(tmp_path, *args, "--select", "pm_markets,oddsapi_live,market_mappings")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert first.stdout.splitlines()[0] == (
        "edge backfill: loading the seed tables first, not in the lake yet: "
        "team_aliases, fee_tables, cost_models"
    )
    lake = Lake(str(tmp_path / "lake"))
    assert lake.read("market_mappings", "2026-11-20-11:00").height > 0
    assert (
        lake.read("team_aliases", None).height == pl.read_csv(REPO_ROOT / "data" / "team_aliases.csv").height
    )
    again = _edge(tmp_path, *args, "--select", "market_mappings")  # seeds there now: not reloaded
    assert again.returncode == 0 and "seed tables" not in again.stdout


def test_backfill_of_historical_odds_refuses_what_the_keys_credits_cannot_pay(
    tmp_path: Path, server: ScriptedServer
) -> None:
    """90 days of the default 5 sports cost up to 648,000 credits; the client stops only at the
    reserve, so a too-long backfill spent the whole plan before it failed."""
    key = "live-key-0123456789abcdef"
    server.script("/v4/sports", Reply(200, [], headers={"x-requests-remaining": "20000"}))
    env = {"EDGE_SOURCE_MODE": "live", "EDGE_ODDS_API_KEY": key, "EDGE_ODDS_BASE_URL": server.url}
    args = ("backfill", "--days", "90", "--end", "2026-11-20T00:00", "--select", "oddsapi_historical_hourly")
    proc = subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", *args],
        cwd=tmp_path,
        env={**_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    # 5 sports x 3 markets x 2 regions x 10 (historical) = 300 credits an hour; (20,000 - 50) // 300 = 66
    assert proc.stderr.strip() == (
        "edge backfill: oddsapi_historical_hourly would cost up to 648,000 credits (2,160 hours x 5 sports "
        "x 60 credits); the key has 20,000 left, 50 of them kept in reserve (EDGE_QUOTA_RESERVE): enough "
        "for 66 hours. Backfill fewer hours (--days, --hours) or spend less an hour (EDGE_SPORTS, "
        "EDGE_ODDS_MARKETS, EDGE_ODDS_REGIONS)"
    )
    assert [r.path for r in server.requests] == ["/v4/sports"]  # the free call only
    assert key not in proc.stdout + proc.stderr
    assert not (tmp_path / "dh").exists() and not (tmp_path / "lake").exists()  # nothing started


@pytest.mark.integration
def test_backfill_of_historical_odds_says_what_it_costs_and_spends_no_more(tmp_path: Path) -> None:
    from edge_assets.settings import SIMULATOR_API_KEY
    from edge_assets.simulator.app import SimulatorApp
    from edge_assets.simulator.server import serve
    from edge_assets.simulator.world import World

    app = SimulatorApp(World(7), api_key=SIMULATOR_API_KEY, rate_limit_per_s=None, quota=1_000)
    sim = serve(app)
    try:
        env = {"EDGE_SIM_URL": sim.url, "EDGE_SPORTS": '["basketball_nba","icehockey_nhl"]'}
        args = ("backfill", "--hours", "3", "--end", "2026-11-20T00:00", "--workers", "1")
        proc = subprocess.run(
            [sys.executable, "-m", "edge_assets.cli", *args, "--select", "oddsapi_historical_hourly"],
            cwd=tmp_path,
            env={**_env(tmp_path), **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        sim.stop()
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0] == (  # before the seeds line
        "edge backfill: oddsapi_historical_hourly costs up to 360 credits (3 hours x 2 sports x 60 credits) "
        "of the key's 1,000"
    )
    spent = app.odds.used[SIMULATOR_API_KEY]
    assert 0 < spent <= 360
    assert Lake(str(tmp_path / "lake")).read("oddsapi_historical_hourly", "2026-11-19-23:00").height > 0


def test_a_live_historical_backfill_says_how_long_the_clients_rate_makes_it() -> None:
    """90 days of 5 sports are 10,800 requests: at the default 10 a second at least 18 minutes, which a
    user may halve with a second worker or a higher EDGE_ODDS_REQUESTS_PER_S."""
    assert cli.historical_pace(10_800, 10.0, 1) == (
        "10,800 requests at 10 a second in each of 1 worker(s) take at least 18 minutes "
        "(EDGE_ODDS_REQUESTS_PER_S; the API allows 30 a second over all of them and the schedules)"
    )
    assert "at 25 a second in each of 2 worker(s) take at least 4 minutes" in cli.historical_pace(
        10_800, 25.0, 2
    )
    assert "take at least 30 s" in cli.historical_pace(600, 10.0, 2)


def test_backfill_prints_each_steps_checks(capsys: pytest.CaptureFixture[str]) -> None:
    from edge_assets.runner import RunReport, StepReport

    check = "champion_beats_rule: passed: champion v1 vs rule confidence on the held-out window: ..."
    decides = "champion_decides: passed: check (1) by rule_confidence"
    failed = "champion_decides: FAILED: the champion cannot be loaded (...)"
    hours = "2026-11-19-00:00...2026-11-23-23:00"
    report = RunReport(
        steps=[
            StepReport("hourly", hours, 2.3, ["signals"], checks=[decides]),
            StepReport("hourly", hours, 2.1, ["signals"], checks=[failed]),
            StepReport("models", "-...", 18.2, ["edge_models"], checks=[check]),
        ]
    )
    cli._print_steps(report)
    # a passing check of the hourly runs says nothing new; failures and the models' verdict do
    assert capsys.readouterr().out.splitlines() == [
        f"  ok  hourly  {hours:<35}    2.3s  signals",
        f"  ok  hourly  {hours:<35}    2.1s  signals",
        f"      check {failed}",
        f"  ok  models  {'-...':<35}   18.2s  edge_models",
        f"      check {check}",
    ]


def test_quota_prints_the_schedules_credits_and_how_long_the_key_lasts(
    tmp_path: Path, server: ScriptedServer
) -> None:
    key = "live-key-0123456789abcdef"
    credit_headers = {"x-requests-remaining": "100000", "x-requests-used": "5000", "x-requests-last": "0"}
    server.script("/v4/sports", Reply(200, [], headers=credit_headers))
    env = {
        "EDGE_SOURCE_MODE": "live",
        "EDGE_ODDS_API_KEY": key,
        "EDGE_ODDS_BASE_URL": server.url,
        "EDGE_ODDS_LIVE_EVERY_MINUTES": "7",
        "EDGE_SPORTS": '["basketball_nba","soccer_epl"]',
        "EDGE_ODDS_MARKETS": "h2h,totals",
        "EDGE_ODDS_REGIONS": "us",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", "quota"],
        cwd=tmp_path,
        env={**_env(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # live every 7 min: minutes 0, 7, ..., 56 = 9 polls an hour x 24 h x 2 sports, 2 markets x 1 region
    assert lines[:6] == [
        "The Odds API credits a day for 2 sports, markets h2h,totals, regions us:",
        "  live odds /odds, every 7 min                 432 calls x   2 =      864",
        "  historical odds /historical/odds, hourly      48 calls x  20 =      960",
        "  scores /scores (daysFrom=3), hourly           48 calls x   2 =       96",
        "  total                                                             1,920 a day, 57,600 per 30 days",
        "your key: 100,000 credits left, 5,000 used; at this rate they last 52.1 days",
    ]
    (seen,) = server.requests
    assert seen.path == "/v4/sports" and seen.query["apiKey"] == [key]
    assert key not in proc.stdout + proc.stderr


def test_live_odds_cadence_comes_from_settings(tmp_path: Path) -> None:
    """The cadence of the odds schedule, in service with EDGE_ODDS_WITH_MARKETS_POLL off (the markets
    poll reads the same setting: test_comparator_sensor)."""
    from edge_assets.automation import every_minutes_cron, live_odds_schedule

    assert live_odds_schedule.cron_schedule == "*/2 * * * *"  # the default
    assert [every_minutes_cron(m) for m in (1, 7, 60)] == ["*/1 * * * *", "*/7 * * * *", "0 * * * *"]
    code = (
        "from edge_assets.definitions import defs; "
        "print(defs.resolve_schedule_def('oddsapi_live_poll').cron_schedule)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**_env(tmp_path), "EDGE_ODDS_LIVE_EVERY_MINUTES": "10", "EDGE_ODDS_WITH_MARKETS_POLL": "false"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout.strip() == "*/10 * * * *", proc.stderr


def test_the_historical_asset_page_states_what_an_hour_costs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The asset page says what a UI backfill costs and what its runs check before they spend."""
    from edge_assets.assets.ingest import historical_cost_note
    from edge_assets.settings import get_settings

    for name, value in {
        "EDGE_SPORTS": '["basketball_nba","soccer_epl"]',
        "EDGE_ODDS_MARKETS": "h2h,totals",
        "EDGE_ODDS_REGIONS": "us",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        # 2 markets x 1 region x 10 (historical) per sport
        assert historical_cost_note() == (
            "With a live key an hour costs up to 40 credits (2 sports x 20, the settings this code "
            "location loaded), a 48-hour UI backfill run up to 1,920. A run of a UI backfill first checks "
            "all the hours the backfill has left against the key's credits; when they do not fit above "
            "EDGE_QUOTA_RESERVE it fails, nothing spent, and cancels the backfill: `edge quota` shows the "
            "key's balance."
        )
    finally:
        get_settings.cache_clear()
    from edge_assets.definitions import defs

    spec = next(iter(defs.resolve_assets_def("oddsapi_historical_hourly").specs))
    # the defaults: 5 sports x 3 markets x 2 regions x 10
    assert spec.description is not None and spec.description.endswith(
        "an hour costs up to 300 credits (5 sports x 60, the settings this code location loaded), a "
        "48-hour UI backfill run up to 14,400. A run of a UI backfill first checks all the hours the "
        "backfill has left against the key's credits; when they do not fit above EDGE_QUOTA_RESERVE it "
        "fails, nothing spent, and cancels the backfill: `edge quota` shows the key's balance."
    )


def test_backfill_refuses_an_empty_range_or_an_unknown_asset_before_starting(tmp_path: Path) -> None:
    """Both used to run the seeds (and, without a range, the days and edge_models) and exit 0; a range
    ending at midnight crashed in the day loop."""
    typo = _edge(tmp_path, "backfill", "--hours", "1", "--select", "signal")
    assert typo.returncode == 2
    assert typo.stderr.strip() == "edge backfill: --select 'signal' is not an asset (did you mean signals?)"
    no_range = _edge(tmp_path, "backfill", "--end", "2026-11-20T00:00")
    assert no_range.returncode == 2
    assert no_range.stderr.strip() == (
        "edge backfill: give the range to backfill: --days N and/or --hours N (at least one hour)"
    )
    demo = _edge(tmp_path, "demo", "--hours", "0")
    assert (demo.returncode, demo.stderr.strip()) == (2, "edge demo: --hours must be at least 1")
    assert not (tmp_path / "dh").exists() and not (tmp_path / "lake").exists()  # nothing started


def test_backfill_selection_takes_a_tables_name_for_its_asset_key() -> None:
    from edge_assets.cli import _selected_assets
    from edge_assets.definitions import defs

    assert _selected_assets(defs, "training_sets, signals,ml/training_sets") == [
        "ml/training_sets",
        "signals",
        "ml/training_sets",
    ]
    with pytest.raises(
        ValueError, match=r"^--select 'training_set' is not an asset \(did you mean training_sets"
    ):
        _selected_assets(defs, "training_set")

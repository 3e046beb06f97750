"""Settings: defaults, env overrides, and one clear message naming the bad variable."""

from pathlib import Path

import pytest

from edge_assets.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("EDGE_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_are_simulator_and_local_lake() -> None:
    s = load_settings()
    assert s.source_mode == "simulator"
    assert s.lake_root == "data/lake"
    assert s.duckdb_path == "data/warehouse.duckdb"
    assert s.min_ev == 0.03
    assert not s.is_s3
    assert s.odds_api_key_value == "sim-key"


def test_env_and_dotenv(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("EDGE_LAKE_ROOT=s3://bucket/lake/\nEDGE_MIN_EV=0.05\n")
    monkeypatch.setenv("EDGE_SPORTS", '["basketball_nba"]')
    s = load_settings()
    assert s.lake_root == "s3://bucket/lake"
    assert s.is_s3
    assert s.min_ev == 0.05
    assert s.sports == ("basketball_nba",)


@pytest.mark.parametrize("sports", ["basketball_nba, icehockey_nhl", '["basketball_nba","icehockey_nhl"]'])
def test_lists_are_written_as_users_write_them(monkeypatch: pytest.MonkeyPatch, sports: str) -> None:
    monkeypatch.setenv("EDGE_SPORTS", sports)
    monkeypatch.setenv("EDGE_BACKFILL_POLL_MINUTES", "5;50")
    s = load_settings()
    assert s.sports == ("basketball_nba", "icehockey_nhl")
    assert s.backfill_poll_minutes == (5, 50)
    monkeypatch.setenv("EDGE_BACKFILL_POLL_MINUTES", "5,half")
    with pytest.raises(SettingsError, match="EDGE_BACKFILL_POLL_MINUTES: Input should be a valid integer"):
        load_settings()


def test_a_blank_key_is_no_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`EDGE_ODDS_API_KEY=` in a .env template: the simulator's key, and live mode still refuses it."""
    (tmp_path / ".env").write_text("EDGE_ODDS_API_KEY=\n")
    s = load_settings()
    assert s.odds_api_key is None and s.odds_api_key_value == "sim-key"
    monkeypatch.setenv("EDGE_ODDS_API_KEY", "   ")
    from edge_assets.settings import get_settings
    from edge_assets.sources_resource import SourcesResource

    get_settings.cache_clear()
    try:
        assert SourcesResource()._api_key() == "sim-key"  # what every odds poll sends the simulator
    finally:
        get_settings.cache_clear()
    monkeypatch.setenv("EDGE_SOURCE_MODE", "live")
    with pytest.raises(SettingsError, match="EDGE_ODDS_API_KEY must be set when EDGE_SOURCE_MODE=live"):
        load_settings()


def test_invalid_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_STAKE_USDC", "lots")
    with pytest.raises(
        SettingsError, match=r"^invalid edge-assets settings: EDGE_STAKE_USDC: Input should be a valid"
    ):
        load_settings()


def test_bad_mode_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_SOURCE_MODE", "prod")
    with pytest.raises(SettingsError, match="EDGE_SOURCE_MODE: Input should be 'simulator' or 'live'"):
        load_settings()


def test_confidence_by_switches_the_comparator_to_the_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_assets.models_resource import build_models_resource

    assert build_models_resource(load_settings()).confidence_by == "champion"
    monkeypatch.setenv("EDGE_CONFIDENCE_BY", "rule")
    assert build_models_resource(load_settings()).confidence_by == "rule"
    monkeypatch.setenv("EDGE_CONFIDENCE_BY", "model")
    with pytest.raises(SettingsError, match="EDGE_CONFIDENCE_BY: Input should be 'champion' or 'rule'"):
        load_settings()


def test_live_mode_needs_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_SOURCE_MODE", "live")
    with pytest.raises(SettingsError, match="EDGE_ODDS_API_KEY must be set when EDGE_SOURCE_MODE=live"):
        load_settings()
    monkeypatch.setenv("EDGE_ODDS_API_KEY", "k-123")
    s = load_settings()
    assert s.odds_api_key_value == "k-123"
    assert "k-123" not in repr(s)


def test_cli_reports_bad_setting(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from edge_assets import cli
    from edge_assets.settings import get_settings

    monkeypatch.setenv("EDGE_MIN_CONFIDENCE", "2")
    get_settings.cache_clear()
    try:
        assert cli.main(["query", "select 1"]) == 2
    finally:
        get_settings.cache_clear()
    assert "EDGE_MIN_CONFIDENCE: Input should be less than or equal to 1" in capsys.readouterr().err

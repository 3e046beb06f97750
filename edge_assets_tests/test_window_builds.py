"""Builds that take every hour of a run's window in one pass (features_latest_for_hours, the
matcher's match_hours) must equal one single-snapshot build per hour, bit for bit."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from edge_assets.features.latest import NEWS_WINDOW, build_features_latest, features_latest_for_hours
from edge_assets.lake import Lake
from edge_assets.mapping.aliases import AliasResolver
from edge_assets.mapping.matcher import match_hours, match_markets
from edge_assets.partitions import hours_between
from edge_assets.pricing import costs

START = datetime(2026, 11, 18, 10, tzinfo=UTC)
HOURS = 6
UPSTREAM = ["pm_sportsbook_lines", "oddsapi_live", "pm_order_book_snapshots", "market_mappings", "pm_markets"]


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pl.DataFrame]:
    """Simulated ingest and mapping, 4 polls per hour (so the latest-poll and as-of rules matter)."""
    tmp = tmp_path_factory.mktemp("batch")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGE_")}
    env.update(EDGE_LAKE_ROOT=str(tmp / "lake"), EDGE_DUCKDB_PATH=str(tmp / "w.duckdb"))
    env.update(DAGSTER_HOME=str(tmp / "dh"))
    end = START + timedelta(hours=HOURS)
    args = ["backfill", "--hours", str(HOURS + 1), "--end", end.strftime("%Y-%m-%dT%H:%M"), "--all-polls"]
    args += ["--workers", "1", "--select", ",".join(["team_aliases", "fee_tables", *UPSTREAM])]
    proc = subprocess.run(
        [sys.executable, "-m", "edge_assets.cli", *args],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lake = Lake(str(tmp / "lake"))
    keys = hours_between(START, end)
    frames = {t: lake.read_many(t, keys) for t in UPSTREAM[:-1]}
    frames["pm_markets"] = lake.read_many("pm_markets", hours_between(START - NEWS_WINDOW, end))
    frames["team_aliases"] = lake.read("team_aliases", None)
    # books are polled once an hour in a backfill: an earlier, deeper poll that must not be used
    books = frames["pm_order_book_snapshots"]
    earlier = books.with_columns(pl.col("snapshot_at") - timedelta(minutes=30), pl.col("size") * 2)
    frames["pm_order_book_snapshots"] = pl.concat([earlier, books])
    return frames


def _one_build_per_hour(w: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The reference: the comparator's single-snapshot build, hour by hour."""
    out = []
    for h in range(HOURS):
        hour = START + timedelta(hours=h)

        def of(table: str, col: str = "observed_at", at: datetime = hour) -> pl.DataFrame:
            return w[table].filter(pl.col(col).dt.truncate("1h") == at)

        maps = of("market_mappings")
        snapshot_at = maps["observed_at"].max()
        books = of("pm_order_book_snapshots", "snapshot_at")
        out.append(
            build_features_latest(
                of("pm_sportsbook_lines"),
                of("oddsapi_live").filter(pl.col("observed_at") <= snapshot_at),
                books.filter(pl.col("snapshot_at") == pl.col("snapshot_at").max()),
                maps,
                snapshot_at=snapshot_at,
                pm_history=pl.concat([of("pm_markets", at=hour - NEWS_WINDOW), of("pm_markets")]),
            )
        )
    return pl.concat(out)


def _batch(w: dict[str, pl.DataFrame]) -> pl.DataFrame:
    return features_latest_for_hours(*(w[t] for t in UPSTREAM))


@pytest.mark.timeout(400)
def test_one_pass_over_the_window_equals_one_build_per_hour(window: dict[str, pl.DataFrame]) -> None:
    assert window["oddsapi_live"]["observed_at"].n_unique() == 4 * HOURS  # 4 polls an hour
    assert window["pm_order_book_snapshots"]["snapshot_at"].n_unique() == 2 * HOURS
    reference = _one_build_per_hour(window)
    batch = _batch(window)
    assert reference["observed_at"].n_unique() == HOURS and reference.height > 100 * HOURS
    # the window really exercises the news check and the line moves
    assert reference["event_moved_markets"].null_count() == 0
    assert reference.filter(pl.col("market_key") != "h2h")["fair_prob"].drop_nulls().len() > 0
    assert_frame_equal(batch, reference)  # same rows, same order, same bits


def test_a_window_priced_in_several_passes_equals_one_pass(
    window: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    import edge_assets.features.latest as latest

    one_pass = _batch(window)
    monkeypatch.setattr(latest, "HOURS_PER_PASS", 4)  # 6 hours: passes of 4 and 2 snapshots
    assert_frame_equal(_batch(window), one_pass)


def test_hours_priced_with_different_cost_models_equal_one_build_per_hour(
    window: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cost model that takes effect mid-window prices the later hours only."""
    seed = costs.load_cost_models()
    later = seed.filter(pl.col("market_type") == "sports").with_columns(
        valid_from=pl.lit(START + timedelta(hours=3), dtype=seed.schema["valid_from"]),
        half_life_s=pl.lit(30.0, dtype=seed.schema["half_life_s"]),
    )
    monkeypatch.setattr(costs, "load_cost_models", lambda path=None: pl.concat([seed, later]))
    import edge_assets.features.latest as latest

    monkeypatch.setattr(latest, "load_cost_models", costs.load_cost_models)
    batch = _batch(window)
    assert_frame_equal(batch, _one_build_per_hour(window))
    age_effect = batch.group_by(pl.col("observed_at") >= START + timedelta(hours=3)).agg(
        pl.col("fill_prob").mean()
    )
    assert age_effect.height == 2 and age_effect["fill_prob"].n_unique() == 2


def test_an_empty_window_gives_the_contract_columns() -> None:
    from edge_assets.features.latest import FEATURES_LATEST_COLUMNS
    from edge_assets.schemas import (
        MARKET_MAPPINGS,
        ODDS_QUOTES,
        PM_MARKETS,
        PM_ORDER_BOOK_SNAPSHOTS,
        PM_SPORTSBOOK_LINES,
    )

    empty = [
        pl.DataFrame(schema=s)
        for s in (PM_SPORTSBOOK_LINES, ODDS_QUOTES, PM_ORDER_BOOK_SNAPSHOTS, MARKET_MAPPINGS, PM_MARKETS)
    ]
    out = features_latest_for_hours(*empty)
    assert out.height == 0 and out.schema == pl.Schema(FEATURES_LATEST_COLUMNS)


def test_matching_every_hour_at_once_equals_matching_hour_by_hour(window: dict[str, pl.DataFrame]) -> None:
    pm = window["pm_markets"].filter(pl.col("observed_at") >= START)
    assert pm["observed_at"].n_unique() == 4 * HOURS  # the latest poll of each hour is the one matched
    resolver = AliasResolver(window["team_aliases"])
    reference = []
    for h in range(HOURS):
        hour = START + timedelta(hours=h)
        polls = pm.filter(pl.col("observed_at").dt.truncate("1h") == hour)
        poll = polls.filter(pl.col("observed_at") == pl.col("observed_at").max())
        odds = window["oddsapi_live"].filter(pl.col("observed_at").dt.truncate("1h") == hour)
        reference.append(match_markets(poll, odds, resolver, observed_at=poll["observed_at"].max()))
    expected = pl.concat(reference)
    assert expected["method"].is_in(["exact", "fuzzy"]).sum() > 100 * HOURS
    assert expected["method"].n_unique() >= 3  # matched, unmatched and out-of-scope verdicts all occur
    assert_frame_equal(match_hours(pm, window["oddsapi_live"], resolver), expected)

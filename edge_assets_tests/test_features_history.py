"""Model features and labels: hand-computed values, no look-ahead, serving = training parity."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from edge_assets.assets import training
from edge_assets.features.history import FEATURE_COLUMNS, HISTORY_HOURS, build_features
from edge_assets.features.labels import CLOSE_WINDOW, TRAINING_COLUMNS, build_labels, closing_lines
from edge_assets.features.latest import FEATURES_LATEST_COLUMNS
from edge_assets.lake import Lake
from edge_assets.lake.io_manager import LakeResource, ParquetLakeIOManager
from edge_assets.models_resource import ModelsResource, lookback_features
from edge_assets.partitions import HOURLY, hour_key
from edge_assets.schemas import ODDS_SCORES

T0 = datetime(2026, 3, 1, 0, 50, tzinfo=UTC)
HOURS = 40
START = T0 + timedelta(hours=30, minutes=10)  # commence 2026-03-02 07:00


def snapshots(hours: int = HOURS, seed: int = 3, *, jitter: bool = False) -> pl.DataFrame:
    """features_latest rows: 3 tokens (h2h home/away, totals over) of one game, hourly at :50
    (`jitter`: at a minute from :05 to :59, as an hour's last live poll falls)."""
    rng = np.random.default_rng(seed)
    minutes = np.random.default_rng(seed + 1).integers(-45, 10, hours) if jitter else np.zeros(hours, int)
    rows = []
    tokens = [
        ("tok_home", "h2h", None, "Home FC"),
        ("tok_away", "h2h", None, "Away FC"),
        ("tok_over", "totals", 5.5, "Over"),
    ]
    for h in range(hours):
        at = T0 + timedelta(hours=h, minutes=int(minutes[h]))
        for tok, key, point, name in tokens:
            if tok == "tok_over" and h in (7, 8):
                continue  # a gap in the series
            fair = 0.5 + 0.05 * np.sin(h / 5) + rng.normal(0, 0.01)
            ask = fair - 0.02 + rng.normal(0, 0.01)
            row = {c: None for c in FEATURES_LATEST_COLUMNS}
            row |= {
                "observed_at": at,
                "pm_market_id": "m1" if key == "h2h" else "m2",
                "pm_token_id": tok,
                "pm_outcome": name,
                "event_id": "ev1",
                "sport_key": "soccer_epl",
                "commence_time": START,
                "home_team": "Home FC",
                "away_team": "Away FC",
                "market_key": key,
                "point": point,
                "outcome_name": name,
                "ask": ask,
                "bid": ask - 0.02,
                "mid": ask - 0.01,
                "spread": 0.02,
                "depth_at_ask": float(100 + h),
                "fair_prob": fair,
                "sharp_prob": fair + 0.005 if h % 4 else None,
                "n_books": 5,
                "n_sharp": 1 if h % 4 else 0,
                "fair_std": 0.01,
                "fair_min": fair - 0.01,
                "fair_max": fair + 0.02,
                "book_max_age_s": 120.0,
                "effective_price": ask + 0.002,
                "ev_after_costs": fair / (ask + 0.002) - 1,
                "liquidity_usdc": float(200 + 10 * h),
            }
            rows.append(row)
    return pl.DataFrame(rows, schema=FEATURES_LATEST_COLUMNS)


def test_history_values_by_hand() -> None:
    snap = snapshots()
    feats = build_features(snap)
    assert feats.columns == list(FEATURE_COLUMNS)
    assert feats.height == snap.height
    at = T0 + timedelta(hours=12)
    row = feats.filter((pl.col("observed_at") == at) & (pl.col("pm_token_id") == "tok_home")).row(
        0, named=True
    )
    s = snap.filter(pl.col("pm_token_id") == "tok_home").sort("observed_at")
    fair = s["fair_prob"].to_list()
    mid = s["mid"].to_list()
    assert row["d_fair_1h"] == pytest.approx(fair[12] - fair[11])
    assert row["d_fair_6h"] == pytest.approx(fair[12] - fair[6])
    assert row["d_fair_24h"] is None  # only 12 h of history
    assert row["d_mid_6h"] == pytest.approx(mid[12] - mid[6])
    assert row["drift_gap_per_h"] == pytest.approx(((mid[12] - mid[6]) - (fair[12] - fair[6])) / 6)
    assert row["vol_fair_1h"] == pytest.approx(abs(fair[12] - fair[11]) / 2)
    assert row["vol_fair_6h"] == pytest.approx(float(np.std(fair[6:13])))
    gap = [a - f for a, f in zip(s["ask"].to_list(), fair, strict=True)]
    assert row["gap_z_24h"] == pytest.approx((gap[12] - np.mean(gap[:13])) / np.std(gap[:13]))
    assert row["n_snapshots_24h"] == 13
    assert row["liq_decay_1h"] == pytest.approx(np.log1p(320.0) - np.log1p(310.0))
    assert row["time_to_start_h"] == pytest.approx((START - at).total_seconds() / 3600)
    assert row["fair_range"] == pytest.approx(0.03)
    # a gap in the series gives null deltas, never an older value
    over = feats.filter(
        (pl.col("pm_token_id") == "tok_over") & (pl.col("observed_at") == T0 + timedelta(hours=9))
    )
    assert over["d_fair_1h"].to_list() == [None]


def test_no_look_ahead_features_at_t_equal_truncated_history() -> None:
    snap = snapshots()
    full = build_features(snap)
    for h in (0, 5, 9, 26, HOURS - 1):
        t = T0 + timedelta(hours=h)
        truncated = build_features(
            snap.filter(pl.col("observed_at") <= t), start=t, end=t + timedelta(hours=1)
        )
        assert truncated.height > 0
        assert_frame_equal(truncated, full.filter(pl.col("observed_at") == t))


@pytest.mark.parametrize("jitter", [False, True])
def test_features_do_not_depend_on_where_the_loaded_history_starts(jitter: bool) -> None:
    """Bit for bit: the signals asset loads HISTORY_HOURS before its hour, the features asset whole
    ranges; a rolling statistic that carried state from the first row loaded would differ in the last
    bits. With live poll minutes, t - 24 h can fall before the 24th hour back's snapshot."""
    snap = snapshots(hours=120, seed=5, jitter=jitter).with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 3).then(None).otherwise(pl.col("fair_prob")).alias("fair_prob")
    )
    hours = snap["observed_at"].dt.truncate("1h").unique().sort()

    def built(hour: datetime, hours_before: int | None) -> pl.DataFrame:
        loaded = (
            snap
            if hours_before is None
            else snap.filter(pl.col("observed_at") >= hour - timedelta(hours=hours_before))
        )
        return build_features(loaded, start=hour, end=hour + timedelta(hours=1))

    with_24h = 0
    for hour in hours[60:]:
        everything = built(hour, None)
        assert everything.height == 3
        with_24h += everything["d_mid_24h"].is_not_null().all()
        for hours_before in (HISTORY_HOURS, 50):
            assert_frame_equal(built(hour, hours_before), everything, check_exact=True)
    assert with_24h >= 50  # of the 60 hours
    if jitter:  # the 24 h deltas reach the 25th hour back at times: loading 24 h is not enough
        assert sum(not built(hour, 24).equals(built(hour, None)) for hour in hours[60:]) > 5


def _scores(home: int, away: int) -> pl.DataFrame:
    at = START + timedelta(hours=3)
    return pl.DataFrame(
        [
            {
                "observed_at": at - timedelta(hours=1),
                "event_id": "ev1",
                "sport_key": "soccer_epl",
                "commence_time": START,
                "home_team": "Home FC",
                "away_team": "Away FC",
                "completed": False,
                "home_score": 1,
                "away_score": 0,
                "last_update": at,
            },
            {
                "observed_at": at,
                "event_id": "ev1",
                "sport_key": "soccer_epl",
                "commence_time": START,
                "home_team": "Home FC",
                "away_team": "Away FC",
                "completed": True,
                "home_score": home,
                "away_score": away,
                "last_update": at,
            },
        ],
        schema=ODDS_SCORES,
    )


def test_labels_close_result_and_ev_by_hand() -> None:
    snap = snapshots()
    feats = build_features(snap)
    close = closing_lines(snap).sort("pm_token_id")
    last_pre = T0 + timedelta(hours=30)  # 06:50, the last snapshot before 07:00
    home_close = snap.filter((pl.col("pm_token_id") == "tok_home") & (pl.col("observed_at") == last_pre))
    assert close.filter(pl.col("pm_token_id") == "tok_home")["close_prob"][0] == pytest.approx(
        home_close["sharp_prob"][0]
    )
    assert close["close_source"].to_list() == ["sharp", "sharp", "sharp"]
    labels = build_labels(feats, snap, _scores(home=2, away=3))
    assert labels.columns == list(TRAINING_COLUMNS)
    assert labels["observed_at"].max() == last_pre  # in-play rows are not labelled
    by_tok = {r["pm_token_id"]: r for r in labels.filter(pl.col("observed_at") == T0).iter_rows(named=True)}
    assert by_tok["tok_home"]["result"] == 0.0 and by_tok["tok_away"]["result"] == 1.0
    assert by_tok["tok_over"]["result"] == 0.0  # 5 goals vs 5.5
    r = by_tok["tok_away"]
    assert r["ev_close"] == pytest.approx(r["close_prob"] / r["effective_price"] - 1)
    assert r["realized_ev"] == pytest.approx(1 / r["effective_price"] - 1)
    assert r["clv"] == pytest.approx(r["close_prob"] - r["effective_price"])
    assert r["valid"] == (r["ev_close"] > 0)
    # an unsettled game gives no labels
    assert build_labels(feats, snap, _scores(2, 3).filter(~pl.col("completed"))).height == 0


def test_labels_ignore_data_after_settlement() -> None:
    snap = snapshots(hours=HOURS + 30)  # snapshots keep arriving long after the game
    settled = snap.filter(pl.col("observed_at") < START)
    feats_full = build_features(snap)
    feats_trunc = build_features(settled)
    extra = _scores(2, 3).vstack(
        _scores(9, 9).with_columns(observed_at=pl.col("observed_at") + timedelta(days=1))
    )
    full = build_labels(feats_full, snap, extra)
    trunc = build_labels(feats_trunc, settled, _scores(2, 3))
    assert full.height == trunc.height > 0
    assert_frame_equal(full, trunc)


def test_serving_features_equal_training_rows(tmp_path: Path) -> None:
    """The comparator's features for an hour == the features asset's rows == training_sets' rows."""
    lake = Lake(str(tmp_path / "lake"))
    snap = snapshots()
    for key, part in snap.group_by(pl.col("observed_at").dt.truncate("1h")):
        lake.write("features_latest", hour_key(key[0]), part)
    for day in ("2026-03-02", "2026-03-03"):
        lake.write("oddsapi_scores", day, _scores(2, 3))
    lake_res = LakeResource(root=str(tmp_path / "lake"))
    from dagster_duckdb import DuckDBResource

    resources = {
        "lake": lake_res,
        "io_manager": ParquetLakeIOManager(
            lake_resource=lake_res, catalog_db=DuckDBResource(database=str(tmp_path / "w.duckdb"))
        ),
        "models": ModelsResource(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", label_horizon_days=2),
    }
    specs = [dg.AssetSpec("features_latest", partitions_def=HOURLY), dg.AssetSpec("oddsapi_scores")]
    with dg.instance_for_test() as instance:
        res = dg.materialize(
            [training.features, training.training_sets, *specs],
            selection=[training.features],
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": "2026-03-01-00:00",
                "dagster/asset_partition_range_end": "2026-03-02-15:00",
            },
        )
        assert res.success
        res = dg.materialize(
            [training.features, training.training_sets, *specs],
            selection=[training.training_sets],
            resources=resources,
            instance=instance,
            partition_key="2026-03-02",
        )
        assert res.success
    hour = "2026-03-02-05:00"
    at = datetime(2026, 3, 2, 5, tzinfo=UTC)
    # serving: what the signals asset computes for that hour (window rows + lake lookback)
    window = lake.read("features_latest", hour)
    serving = build_features(lookback_features(lake, at, window), start=at, end=at + timedelta(hours=1))
    stored = lake.read("features", hour)
    trained = lake.read("ml/training_sets", "2026-03-02").filter(
        pl.col("observed_at").dt.truncate("1h") == at
    )
    assert serving.height == 3 and serving["d_fair_24h"].null_count() == 0
    assert_frame_equal(serving, stored, check_exact=True)  # bit for bit, not just close
    assert_frame_equal(serving, trained.select(list(FEATURE_COLUMNS)), check_exact=True)
    assert trained["valid"].dtype == pl.Boolean


def test_event_gap_moves_count_the_markets_whose_gap_to_the_books_moved() -> None:
    """News moves every market of a game against the books, a mispricing one: hour 20 drops the asks
    of m1 (home) and m2 (over) by 8 points, hour 30 only m2's."""

    def at(h: int) -> pl.Expr:
        return pl.col("observed_at") == T0 + timedelta(hours=h)

    snap = snapshots().with_columns(
        ask=pl.when(
            (at(20) & pl.col("pm_token_id").is_in(["tok_home", "tok_over"]))
            | (at(30) & (pl.col("pm_token_id") == "tok_over"))
        )
        .then(pl.col("ask") - 0.08)
        .otherwise(pl.col("ask"))
    )
    feats = build_features(snap)
    gap = {
        (r["pm_token_id"], r["observed_at"]): r["ask"] - r["fair_prob"] for r in snap.iter_rows(named=True)
    }
    market = {"tok_home": "m1", "tok_away": "m1", "tok_over": "m2"}
    for h in (20, 21, 26, 30):
        t = T0 + timedelta(hours=h)
        for horizon in (1, 6):
            moved = {
                market[tok]
                for tok in market
                if (tok, t) in gap
                and (tok, t - timedelta(hours=horizon)) in gap
                and abs(gap[(tok, t)] - gap[(tok, t - timedelta(hours=horizon))]) >= 0.04
            }
            got = feats.filter(pl.col("observed_at") == t)[f"event_gap_moves_{horizon}h"].unique().to_list()
            assert got == [len(moved)], (h, horizon, moved)
    # the same count on every row of the game
    assert feats.filter(at(20))["event_gap_moves_1h"].to_list() == [2, 2, 2]
    assert feats.filter(at(30))["event_gap_moves_1h"].to_list() == [1, 1, 1]


def test_a_days_labels_do_not_depend_on_the_range_a_run_reads() -> None:
    """training_sets reads features from CLOSE_WINDOW before its first day and settles each row by its
    own day's horizon, so day D labelled alone equals day D labelled inside a longer run."""
    day = datetime(2026, 3, 2, tzinfo=UTC)
    horizon = timedelta(days=1)
    # sharp quotes stop 26 h before the start: the close is then the consensus inside the window,
    # however far back a run reads
    snap = snapshots().with_columns(
        sharp_prob=pl.when(pl.col("observed_at") < START - timedelta(hours=26)).then(pl.col("sharp_prob"))
    )
    feats = build_features(snap)
    rows = feats.filter(pl.col("observed_at") >= day)
    alone = build_labels(
        rows, snap.filter(pl.col("observed_at") >= day - CLOSE_WINDOW), _scores(2, 3), horizon=horizon
    )
    earlier = snap.filter(pl.col("observed_at") == T0).with_columns(
        observed_at=pl.col("observed_at") - timedelta(hours=30), sharp_prob=pl.lit(0.9)
    )
    longer = build_labels(rows, pl.concat([earlier, snap]), _scores(2, 3), horizon=horizon)
    assert alone.height > 0 and set(alone["close_source"]) == {"consensus"}
    assert_frame_equal(alone, longer)
    # a final score first seen after the day's end + horizon settles nothing (the nightly run never saw it)
    late = _scores(2, 3).with_columns(observed_at=pl.lit(day + timedelta(days=1) + horizon))
    assert build_labels(rows, snap, late, horizon=horizon).height == 0
    assert build_labels(rows, snap, late).height == alone.height  # no horizon: settled whenever seen


def test_a_tie_pays_half_on_a_two_way_moneyline_and_loses_on_a_three_way_one() -> None:
    from edge_assets.features.labels import outcome_result

    rows = [
        ("americanfootball_nfl", "Home", "h2h", None),
        ("americanfootball_nfl", "Away", "h2h", None),
        ("soccer_epl", "Home", "h2h", None),
        ("soccer_epl", "Draw", "h2h", None),
        ("americanfootball_nfl", "Home", "spreads", -0.5),
        ("americanfootball_nfl", "Over", "totals", 40.0),
    ]
    df = pl.DataFrame(
        {
            "sport_key": [r[0] for r in rows],
            "outcome_name": [r[1] for r in rows],
            "market_key": [r[2] for r in rows],
            "point": [r[3] for r in rows],
            "home_team": "Home",
            "away_team": "Away",
            "home_score": 20,
            "away_score": 20,
        }
    )
    assert df.select(outcome_result()).to_series().to_list() == [0.5, 0.5, 0.0, 1.0, 0.0, 0.5]

"""Paper trading: one trade per edge, filled at the signal's walk, settled within the label horizon."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from edge_assets import checks, monitoring
from edge_assets.assets import trading
from edge_assets.lake import Lake
from edge_assets.partitions import hour_key
from edge_assets.resources import build_resources
from edge_assets.schemas import ODDS_SCORES, PM_ORDER_BOOK_SNAPSHOTS
from edge_assets.settings import load_settings
from edge_assets.signals import SIGNAL_COLUMNS
from edge_assets.trading.paper import (
    PAPER_FILL_COLUMNS,
    PAPER_TRADE_COLUMNS,
    opening_signals,
    paper_fills,
    paper_trades,
    summarize,
)

D0 = datetime(2026, 11, 1, tzinfo=UTC)
H = timedelta(hours=1)
MIN = timedelta(minutes=1)
HORIZON = timedelta(days=2)
START = D0 + timedelta(hours=20)  # every game below starts at 20:00 on day 0


def signal(
    edge: str | None,
    at: datetime,
    *,
    token: str = "tok-home",
    market_key: str = "h2h",
    outcome: str = "Home FC",
    point: float | None = None,
    shares: float = 100.0,
    vwap: float = 0.40,
    fee: float = 0.01,
    event: str = "ev1",
    model: str = "rule_confidence",
) -> dict[str, object]:
    return {
        "signal_id": f"{edge or 'noedge'}@{at:%d%H}",
        "edge_id": edge,
        "created_at": at,
        "observed_at": at,
        "event_id": event,
        "sport_key": "soccer_epl",
        "commence_time": START,
        "home_team": "Home FC",
        "away_team": "Away FC",
        "market_key": market_key,
        "point": point,
        "outcome_name": outcome,
        "pm_market_id": "m1",
        "pm_token_id": token,
        "side": "buy",
        "model_name": model,
        "model_version": None,
        "confidence": 0.8,
        "fair_prob": 0.47,
        "ev_after_costs": 0.47 / (vwap + fee) - 1,
        "filled_shares": shares,
        "vwap": vwap,
        "fee_per_share": fee,
        "effective_price": vwap + fee,
        "fee_rate": 0.02,
    }


def frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    schema = {c: t for c, t in SIGNAL_COLUMNS.items() if c in rows[0]} | {
        "commence_time": SIGNAL_COLUMNS["created_at"],
        "sport_key": pl.String(),
        "home_team": pl.String(),
        "away_team": pl.String(),
        "filled_shares": pl.Float64(),
        "vwap": pl.Float64(),
        "fee_per_share": pl.Float64(),
        "effective_price": pl.Float64(),
        "fee_rate": pl.Float64(),
    }
    return pl.DataFrame(rows, schema=schema)


def scores(home: int, away: int, observed: datetime, event: str = "ev1") -> pl.DataFrame:
    row = {
        "observed_at": observed,
        "event_id": event,
        "sport_key": "soccer_epl",
        "commence_time": START,
        "home_team": "Home FC",
        "away_team": "Away FC",
        "completed": True,
        "home_score": home,
        "away_score": away,
        "last_update": observed,
    }
    return pl.DataFrame([row], schema=ODDS_SCORES)


def snapshots(token: str, points: list[tuple[datetime, float, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"pm_token_id": token, "observed_at": at, "commence_time": START, "fair_prob": f, "sharp_prob": s}
            for at, f, s in points
        ],
        schema={
            "pm_token_id": pl.String,
            "observed_at": SIGNAL_COLUMNS["created_at"],
            "commence_time": SIGNAL_COLUMNS["created_at"],
            "fair_prob": pl.Float64,
            "sharp_prob": pl.Float64,
        },
    )


def test_one_trade_per_edge_at_its_first_signal_and_again_after_the_reentry_gap() -> None:
    sigs = frame(
        [
            signal("A", D0 - 2 * H),  # history before the window: A is not new on day 0
            signal("A", D0 + 10 * H),
            signal("B", D0 + 11 * H),
            signal("B", D0 + 12 * H),
            signal(None, D0 + 13 * H),  # a row from before edge ids: its own edge
            signal("C", D0 - timedelta(days=8)),  # more than 7 days ago: a new trade on day 0
            signal("C", D0 + 14 * H),
            signal("D", D0 + 30 * H),  # day 1
        ]
    )
    day0 = opening_signals(sigs, start=D0, end=D0 + 24 * H)
    assert day0["signal_id"].to_list() == ["B@0111", "noedge@0113", "C@0114"]
    day1 = opening_signals(sigs, start=D0 + 24 * H, end=D0 + 48 * H)
    both = opening_signals(sigs, start=D0, end=D0 + 48 * H)
    assert (
        both["signal_id"].to_list()
        == [*day0["signal_id"], *day1["signal_id"]]
        == [
            "B@0111",
            "noedge@0113",
            "C@0114",
            "D@0206",
        ]
    )


def test_fill_settlement_pnl_and_closing_line_value_exact() -> None:
    opening = frame(
        [
            signal("win", D0 + 10 * H),  # home wins 2-1
            signal("loss", D0 + 11 * H, token="tok-over", market_key="totals", outcome="Over", point=3.5),
            signal("push", D0 + 12 * H, token="tok-away", market_key="spreads", outcome="Away FC", point=1.0),
        ]
    )
    snaps = pl.concat(
        [
            snapshots(
                "tok-home", [(D0 + 10 * H, 0.47, 0.46), (D0 + 19 * H, 0.50, 0.52), (D0 + 21 * H, 0.9, 0.9)]
            ),
            snapshots("tok-over", [(D0 + 11 * H, 0.45, None), (D0 + 18 * H, 0.44, None)]),
            snapshots("tok-away", [(D0 + 12 * H, 0.50, 0.49)]),
        ]
    )
    got = paper_trades(opening, snaps, scores(2, 1, D0 + 23 * H), horizon=HORIZON)
    assert got.schema == pl.Schema(PAPER_TRADE_COLUMNS)
    rows = {r["edge_id"]: r for r in got.iter_rows(named=True)}
    win, loss, push = rows["win"], rows["loss"], rows["push"]
    assert win["entry_price"] == pytest.approx(0.41)
    assert (win["shares"], win["cost_usdc"], win["fees_usdc"]) == pytest.approx((100.0, 41.0, 1.0))
    assert (win["result"], win["payout_usdc"], win["pnl_usdc"]) == pytest.approx((1.0, 100.0, 59.0))
    assert win["roi"] == pytest.approx(59.0 / 41.0)
    # the close: the last pre-start snapshot's sharp probability (19:00), not the in-play 21:00 one
    assert (win["close_at"], win["close_source"]) == (D0 + 19 * H, "sharp")
    assert win["clv"] == pytest.approx(0.52 - 0.41)
    assert (loss["result"], loss["payout_usdc"], loss["pnl_usdc"]) == pytest.approx((0.0, 0.0, -41.0))
    assert (loss["close_source"], loss["clv"]) == ("consensus", pytest.approx(0.44 - 0.41))
    assert (push["result"], push["pnl_usdc"]) == pytest.approx((0.5, 50.0 - 41.0))  # away +1 loses by 1
    assert got["settled"].to_list() == [True, True, True]
    assert got["settled_at"].to_list() == [D0 + 23 * H] * 3


def test_a_score_after_the_trade_days_horizon_leaves_it_open() -> None:
    opening = frame([signal("late", D0 + 10 * H)])
    snaps = snapshots("tok-home", [(D0 + 19 * H, 0.5, 0.5)])
    cutoff = D0 + timedelta(days=1) + HORIZON
    open_ = paper_trades(opening, snaps, scores(2, 1, cutoff), horizon=HORIZON).row(0, named=True)
    assert open_["settled"] is False
    assert [open_[c] for c in ("result", "pnl_usdc", "close_prob", "clv", "settled_at")] == [None] * 5
    assert open_["cost_usdc"] == pytest.approx(41.0)
    done = paper_trades(opening, snaps, scores(2, 1, cutoff - H), horizon=HORIZON).row(0, named=True)
    assert (done["settled"], done["pnl_usdc"]) == (True, pytest.approx(59.0))
    # no scores and no snapshots at all: open trades, not an error
    bare = paper_trades(opening, pl.DataFrame(), pl.DataFrame(), horizon=HORIZON)
    assert bare["settled"].to_list() == [False] and bare["cost_usdc"].to_list() == pytest.approx([41.0])
    assert paper_trades(opening.clear(), snaps, pl.DataFrame(), horizon=HORIZON).schema == pl.Schema(
        PAPER_TRADE_COLUMNS
    )


def test_summary_per_model_counts_open_and_settled_trades() -> None:
    opening = frame(
        [
            signal("w", D0 + 10 * H),
            signal("l", D0 + 11 * H, token="tok-away", outcome="Away FC"),
            signal("o", D0 + 12 * H, token="tok-x", event="ev2", model="edge_validity"),
        ]
    )
    snaps = snapshots("tok-home", [(D0 + 19 * H, 0.5, 0.5)])
    trades = paper_trades(opening, snaps, scores(2, 1, D0 + 23 * H), horizon=HORIZON)
    got = summarize(trades).to_dicts()
    assert [g["model_name"] for g in got] == ["edge_validity", "rule_confidence"]
    model, rule = got
    assert (model["trades"], model["settled"], model["open_cost_usdc"]) == (1, 0, pytest.approx(41.0))
    assert (model["staked_usdc"], model["pnl_usdc"], model["roi"], model["hit_rate"]) == (
        0.0,
        0.0,
        None,
        None,
    )
    assert (rule["trades"], rule["settled"], rule["open_cost_usdc"]) == (2, 2, 0.0)
    assert (rule["staked_usdc"], rule["returned_usdc"], rule["pnl_usdc"]) == pytest.approx(
        (82.0, 100.0, 18.0)
    )
    assert (rule["roi"], rule["hit_rate"]) == pytest.approx((18.0 / 82.0, 0.5))


def test_open_trades_past_the_horizon_fail_the_settlement_check() -> None:
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    trades = paper_trades(
        frame([signal("a", D0 + 10 * H), signal("b", now - 30 * H, event="ev9")]),
        pl.DataFrame(),
        pl.DataFrame(),
        horizon=HORIZON,
    )
    out = monitoring.unsettled_trades(trades, now, HORIZON)
    assert not out.passed and out.metadata["late"] == 1 and out.metadata["events"] == ["ev1"]
    assert out.message == (
        "1 paper trade(s) past their settlement horizon still open (placed 2026-11-01; 1 event(s) without "
        "a final score): check oddsapi_scores, then re-materialize those days of paper_trades"
    )
    ok = monitoring.unsettled_trades(trades, D0 + timedelta(days=2), HORIZON)
    assert ok.passed and ok.message == "2 trades, none open past the horizon"


def book(token: str, at: datetime, asks: list[tuple[float, float]]) -> pl.DataFrame:
    """One pm_order_book_snapshots snapshot: the asks given plus one bid (which a buy never takes)."""
    rows = [("ask", i, p, q) for i, (p, q) in enumerate(asks)] + [("bid", 0, 0.3, 500.0)]
    return pl.DataFrame(
        [
            {"snapshot_at": at, "token_id": token, "side": side, "level": lvl, "price": p, "size": q}
            | {"book_hash": f"{token}@{at:%H%M}", "book_timestamp": at, "tick_size": 0.01}
            for side, lvl, p, q in rows
        ]
    )


def books_frame(*snaps: pl.DataFrame) -> pl.DataFrame:
    """Snapshots in the table's schema (columns the test does not need are null)."""
    full = pl.concat(snaps)
    return full.select(
        [
            (pl.col(c) if c in full.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in PM_ORDER_BOOK_SNAPSHOTS.items()
        ]
    )


def test_fills_walk_the_snapshot_each_trade_was_priced_on() -> None:
    a = signal("a", D0 + 10 * H, shares=150.0)
    b = signal("b", D0 + 11 * H, token="tok-2", event="ev2", shares=20.0)
    c = signal("c", D0 + 12 * H, token="tok-3", event="ev3")  # no book in the lake
    opening = opening_signals(frame([a, b, c]), start=D0, end=D0 + 24 * H)
    trades = paper_trades(opening, pl.DataFrame(), pl.DataFrame(), horizon=HORIZON)
    books = books_frame(
        book("tok-home", D0 + 9 * H, [(0.45, 500.0)]),  # older: not the one priced
        book("tok-home", D0 + 9 * H + 50 * MIN, [(0.41, 100.0), (0.40, 100.0), (0.43, 80.0)]),
        book("tok-home", D0 + 10 * H + 5 * MIN, [(0.30, 999.0)]),  # after the trade
        book("tok-2", D0 + 10 * H + 50 * MIN, [(0.60, 20.0)]),
    )
    fees = (
        frame([a, b, c]).select("signal_id", "fee_rate").with_columns(fee_rate=pl.Series([0.02, 0.0, 0.02]))
    )
    got = paper_fills(trades, books, fees)
    assert got.schema == pl.Schema(PAPER_FILL_COLUMNS)
    assert got.select("trade_id", "fill_no", "price", "shares", "book_at").rows() == [
        (a["signal_id"], 1, 0.40, 100.0, D0 + 9 * H + 50 * MIN),  # best level first, whatever the row order
        (a["signal_id"], 2, 0.41, 50.0, D0 + 9 * H + 50 * MIN),
        (b["signal_id"], 1, 0.60, 20.0, D0 + 10 * H + 50 * MIN),
    ]
    assert got["usdc"].to_list() == pytest.approx([40.0, 20.5, 12.0])
    assert got["fee_usdc"].to_list() == pytest.approx([100 * 0.02 * 0.4 * 0.6, 50 * 0.02 * 0.41 * 0.59, 0.0])
    assert got["book_hash"].to_list()[0] == "tok-home@0950"
    assert paper_fills(trades.clear(), books, fees).schema == pl.Schema(PAPER_FILL_COLUMNS)
    assert paper_fills(trades, books.clear(), fees).height == 0
    no_fees = paper_fills(trades, books, pl.DataFrame())  # no signals read: the same levels, no fees
    assert no_fees.drop("fee_usdc").equals(got.drop("fee_usdc")) and no_fees["fee_usdc"].sum() == 0


def test_paper_trades_asset_and_check_over_a_real_lake(tmp_path: Path) -> None:
    """The Dagster asset reads the lake's signals, features_latest and scores, writes the day's trades,
    and its check flags the trade whose game never got a final score."""
    day = (datetime.now(UTC) - timedelta(days=7)).replace(hour=0, minute=0, second=0, microsecond=0)
    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.duckdb"))
    lake = Lake(settings.lake_root)
    start = day + 20 * H
    won = signal("won", day + 10 * H)
    lost = signal("open", day + 11 * H, token="tok-2", event="ev2")
    later = signal("won", day + 12 * H)  # the same edge an hour later: no second trade
    for row in (won, lost, later):
        row["commence_time"] = start
        lake.write("signals", hour_key(row["created_at"]), frame([row]))  # type: ignore[arg-type]
    close = snapshots("tok-home", [(day + 19 * H, 0.5, 0.55)]).with_columns(commence_time=pl.lit(start))
    lake.write("features_latest", hour_key(day + 19 * H), close)
    lake.write("oddsapi_scores", day.strftime("%Y-%m-%d"), scores(2, 1, day + 23 * H))
    priced = day + 9 * H + 50 * MIN  # the book the won trade was priced on; the other has none
    lake.write(
        "pm_order_book_snapshots",
        hour_key(priced),
        books_frame(book("tok-home", priced, [(0.41, 90.0), (0.40, 100.0)])),
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [
                trading.paper_trades,
                trading.paper_fills,
                checks.paper_trades_settled,
                checks.paper_fills_match,
            ],
            resources=build_resources(settings),
            instance=instance,
            partition_key=day.strftime("%Y-%m-%d"),
        )
    assert result.success
    got = lake.read("paper_trades", day.strftime("%Y-%m-%d"))
    assert got["trade_id"].to_list() == [won["signal_id"], lost["signal_id"]]
    assert got["pnl_usdc"].to_list() == [pytest.approx(59.0), None]
    assert got["clv"].to_list() == [pytest.approx(0.55 - 0.41), None]
    settled_check, fills_check = sorted(result.get_asset_check_evaluations(), key=lambda c: c.check_name)[
        ::-1
    ]
    assert settled_check.check_name == "settled_in_horizon"
    assert not settled_check.passed and settled_check.metadata["events"].value == ["ev2"]
    # the won trade's fill matches it; the other has no book in the lake
    assert fills_check.check_name == "fills_match_trades" and not fills_check.passed
    assert fills_check.metadata["trades"].value == [lost["signal_id"]]
    fills = lake.read("paper_fills", day.strftime("%Y-%m-%d"))
    assert fills.select("trade_id", "fill_no", "price", "shares").rows() == [
        (won["signal_id"], 1, 0.40, 100.0)
    ]
    (mat,) = [m for m in result.asset_materializations_for_node("paper_fills")]
    assert mat.metadata["trades"].value == 2 and mat.metadata["trades_without_book"].value == 1


def test_fills_check_names_trades_without_fills_or_with_fills_that_differ() -> None:
    a, b = (
        signal("a", D0 + 10 * H, shares=150.0, vwap=0.4033333333333333),
        signal("b", D0 + 11 * H, token="t2"),
    )
    trades = paper_trades(
        opening_signals(frame([a, b]), start=D0, end=D0 + 24 * H),
        pl.DataFrame(),
        pl.DataFrame(),
        horizon=HORIZON,
    )
    fills = pl.DataFrame({"trade_id": [a["signal_id"]] * 2, "shares": [100.0, 50.0], "usdc": [40.0, 20.5]})
    assert monitoring.fills_match_trades(trades.head(1), fills).passed
    missing = monitoring.fills_match_trades(trades, fills)
    assert not missing.passed and missing.metadata["trades"] == [b["signal_id"]]
    assert missing.message.startswith("1 paper trade(s) without fills")
    short = monitoring.fills_match_trades(trades.head(1), fills.head(1))
    assert not short.passed and "and 1 whose fills differ" in short.message
    assert monitoring.fills_match_trades(trades.clear(), fills).message == "no paper trades"
    assert monitoring.fills_match_trades(trades, pl.DataFrame()).metadata["bad"] == 2  # no fills read


def test_schedule_builds_today_and_once_a_day_the_days_still_settling() -> None:
    from edge_assets.automation import paper_trades_schedule
    from edge_assets.settings import get_settings

    def keys(at: datetime) -> list[str]:
        requests = paper_trades_schedule(dg.build_schedule_context(scheduled_execution_time=at))
        return [r.partition_key for r in requests]

    assert keys(datetime(2026, 11, 20, 13, 40, tzinfo=UTC)) == ["2026-11-20"]
    horizon = get_settings().model_label_horizon_days
    assert horizon == 4
    assert keys(datetime(2026, 11, 20, 0, 40, tzinfo=UTC)) == [
        "2026-11-20",
        "2026-11-19",
        "2026-11-18",
        "2026-11-17",
        "2026-11-16",
        "2026-11-15",  # the day that just left its horizon: settled for good
    ]


def test_a_sent_signal_keeps_the_price_it_was_alerted_at_through_the_hours_re_runs() -> None:
    """An edge alerted at 10:05 at 0.41 and still found at 10:55 at 0.47: the re-run replaced the row,
    so the stored signal and its paper trade said 0.47 at 10:55, not what the alert said."""
    from edge_assets.signals import merge_signals

    d0 = datetime(2026, 11, 1, tzinfo=UTC)
    status = pl.lit(None, pl.String).alias("alert_status")

    def row(edge: str, minute: int, vwap: float) -> pl.DataFrame:
        return frame([signal(edge, d0 + timedelta(hours=10, minutes=minute), vwap=vwap)]).with_columns(status)

    stored = pl.concat([row("sent-edge", 5, 0.40), row("failed-edge", 5, 0.30)]).with_columns(
        alert_status=pl.Series(["sent", "failed"])
    )
    rerun = pl.concat([row("sent-edge", 55, 0.46), row("failed-edge", 55, 0.33), row("new-edge", 55, 0.2)])
    merged = merge_signals(stored, rerun)
    got = {
        r["edge_id"]: (r["created_at"].minute, r["vwap"], r["alert_status"])
        for r in merged.iter_rows(named=True)
    }
    assert got == {
        "sent-edge": (5, 0.40, "sent"),  # what the alert said
        "failed-edge": (55, 0.33, "failed"),  # not delivered yet: the retry sends today's price
        "new-edge": (55, 0.2, None),
    }
    trades = paper_trades(
        opening_signals(merged, start=d0, end=d0 + timedelta(days=1)),
        pl.DataFrame(),
        pl.DataFrame(),
        horizon=timedelta(days=2),
    )
    sent_trade = trades.filter(pl.col("edge_id") == "sent-edge").row(0, named=True)
    assert sent_trade["placed_at"].minute == 5 and sent_trade["entry_price"] == pytest.approx(0.41, abs=1e-12)
    assert merge_signals(stored.clear(), rerun).equals(rerun)


def test_a_comparator_run_beside_another_keeps_its_signals_at_write_time(tmp_path: Path) -> None:
    """Two runs pricing one hour: each merged its signals over what it had read, and the later write
    dropped the other's rows (a sent one too: its paper trade was gone). The IO manager now merges
    again over what the partition holds when it writes (UPSERT_MERGE)."""
    import dagster as dg
    from dagster_duckdb import DuckDBResource

    from edge_assets.assets.comparator import signals as signals_asset
    from edge_assets.lake import Lake
    from edge_assets.lake.io_manager import LakeResource, ParquetLakeIOManager
    from edge_assets.partitions import HOURLY

    d0 = datetime(2026, 11, 1, tzinfo=UTC)
    status = pl.lit(None, pl.String).alias("alert_status")
    lake = Lake(str(tmp_path / "lake"))
    manager = ParquetLakeIOManager(
        lake_resource=LakeResource(root=str(tmp_path / "lake")),
        catalog_db=DuckDBResource(database=str(tmp_path / "w.duckdb")),
    )
    (spec,) = signals_asset.specs

    def write(df: pl.DataFrame) -> None:
        context = dg.build_output_context(
            asset_key="signals",
            partition_key="2026-11-01-10:00",
            asset_partitions_def=HOURLY,
            definition_metadata=dict(spec.metadata),
        )
        manager.handle_output(context, df)

    sent_by_a = frame([signal("a-edge", d0 + timedelta(hours=10, minutes=5), vwap=0.40)]).with_columns(
        alert_status=pl.lit("sent")
    )
    write(sent_by_a)  # run A wrote first; run B had read the hour before that
    by_b = frame([signal("b-edge", d0 + timedelta(hours=10, minutes=6), vwap=0.30)]).with_columns(status)
    write(by_b)
    held = lake.read("signals", "2026-11-01-10:00")
    assert held.select("edge_id", "alert_status").rows() == [("a-edge", "sent"), ("b-edge", None)]

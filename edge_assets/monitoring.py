"""Pure monitoring rules (no Dagster): freshness, completeness and schema of lake tables."""

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

import polars as pl

from edge_assets.features.labels import settle_by

FRESHNESS_LIMITS: dict[str, tuple[str, timedelta]] = {
    "pm_markets": ("observed_at", timedelta(minutes=2)),
    "oddsapi_live": ("observed_at", timedelta(minutes=5)),
    "pm_order_book_snapshots": ("snapshot_at", timedelta(minutes=70)),
}

# league code -> Odds API sport key: a league "goes missing" when its sport has no rows
EXPECTED_SPORTS = ("basketball_nba", "americanfootball_nfl", "icehockey_nhl", "baseball_mlb", "soccer_epl")


# a longer pause between monitor ticks means the daemon was down: the tables get time to catch up
# (a daemon restart is also known by its new id; the gap covers instances that report none)
RESTART_GAP = timedelta(minutes=10)


def watching_since(
    last_tick: datetime | None, since: datetime | None, now: datetime, *, restarted: bool = False
) -> datetime:
    """When the monitor's current spell of watching began: now on a new instance, after a daemon
    restart or after a pause longer than RESTART_GAP, else the spell's start."""
    if restarted or last_tick is None or since is None or now - last_tick > RESTART_GAP:
        return now
    return since


def startup_grace(name: str, since: datetime, now: datetime) -> timedelta | None:
    """How long monitor `name` stays quiet yet: each table has its freshness limit from the start of
    the watch to produce fresh rows (the leagues, live odds' limit); None once that has passed."""
    table = "oddsapi_live" if name == "leagues_present" else name.removesuffix("_fresh")
    left = FRESHNESS_LIMITS[table][1] - (now - since)
    return left if left > timedelta(0) else None


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    message: str
    # numbers and text; lists and dicts go to Dagster as JSON (checks._result)
    metadata: dict[str, float | str | list[Any] | dict[str, Any]] = field(default_factory=dict)


def freshness(table: str, df: pl.DataFrame, now: datetime) -> CheckOutcome:
    column, limit = FRESHNESS_LIMITS[table]
    if df.height == 0 or column not in df.columns:
        return CheckOutcome(
            f"{table}_fresh",
            False,
            f"{table}: no rows in the latest partitions",
            {"limit_s": limit.total_seconds()},
        )
    latest = cast(datetime, df[column].max())  # non-empty Datetime column: max is a datetime
    lag = now - latest
    ok = lag <= limit
    msg = (
        f"{table}: latest {column} {latest:%Y-%m-%d %H:%M:%S} UTC is {lag.total_seconds():.0f}s behind "
        f"(limit {limit.total_seconds():.0f}s)"
    )
    return CheckOutcome(
        f"{table}_fresh", ok, msg, {"lag_s": round(lag.total_seconds(), 1), "limit_s": limit.total_seconds()}
    )


def sports_present(
    df: pl.DataFrame,
    expected: Sequence[str] = EXPECTED_SPORTS,
    column: str = "sport_key",
    in_season: Callable[[], Collection[str]] | None = None,
) -> CheckOutcome:
    """Every expected league has quotes, unless The Odds API says it is out of season.

    `in_season` returns the sport keys the API lists as active; it is called only when a league
    has no quotes (MLB in December: the API lists no events, and an hourly alert all winter says
    nothing). When it raises, the absent leagues count as missing and the message says why.
    """
    present = set(df[column].unique().to_list()) if df.height and column in df.columns else set()
    absent = sorted(set(expected) - present)
    off_season: list[str] = []
    note = ""
    if absent and in_season is not None:
        try:
            active = set(in_season())
            off_season = [s for s in absent if s not in active]
        except Exception as exc:  # a monitor reports, it does not raise
            note = f" (could not tell whether they are in season: {exc})"
    missing = [s for s in absent if s not in off_season]
    if missing:
        msg = f"leagues missing: {', '.join(missing)}{note}"
    else:
        msg = "all expected leagues present"
    if off_season:
        msg += f"; out of season: {', '.join(off_season)}"
    return CheckOutcome(
        "leagues_present",
        not missing,
        msg,
        {"missing": missing, "out_of_season": off_season, "present": sorted(present)},
    )


def row_count_in_range(name: str, df: pl.DataFrame, low: int, high: int) -> CheckOutcome:
    ok = low <= df.height <= high
    return CheckOutcome(
        f"{name}_row_count",
        ok,
        f"{name}: {df.height} rows (expected {low}..{high})",
        {"rows": df.height, "low": low, "high": high},
    )


def schema_matches(name: str, df: pl.DataFrame, contract: dict[str, pl.DataType]) -> CheckOutcome:
    problems = []
    for col, dtype in contract.items():
        if col not in df.columns:
            problems.append(f"missing {col}")
        elif df.schema[col] != dtype:
            problems.append(f"{col} is {df.schema[col]}, expected {dtype}")
    extra = sorted(set(df.columns) - set(contract) - {"dt", "hour"})
    if extra:
        problems.append(f"unexpected columns {extra}")
    return CheckOutcome(
        f"{name}_schema",
        not problems,
        "; ".join(problems) or "schema matches the contract",
        {"problems": problems},
    )


def fills_match_trades(trades: pl.DataFrame, fills: pl.DataFrame, rel: float = 1e-9) -> CheckOutcome:
    """Every paper trade has fills, and they sum to its shares at its VWAP: the book snapshot it was
    priced on is still in the lake and is the one walked (a gap or a re-ingested hour breaks this)."""
    if trades.height == 0:
        return CheckOutcome("paper_fills_match", True, "no paper trades", {"bad": 0})
    if fills.width == 0:  # no partition written yet
        fills = pl.DataFrame(schema={"trade_id": pl.String, "shares": pl.Float64, "usdc": pl.Float64})
    summed = fills.group_by("trade_id").agg(
        filled=pl.col("shares").sum(), fill_usdc=pl.col("usdc").sum(), fills=pl.len()
    )
    both = trades.select("trade_id", "shares", "vwap").join(summed, on="trade_id", how="left")
    off = (pl.col("filled") - pl.col("shares")).abs() > rel * pl.col("shares").abs()
    vwap_off = (pl.col("fill_usdc") / pl.col("filled") - pl.col("vwap")).abs() > rel * pl.col("vwap").abs()
    missing = both.filter(pl.col("fills").is_null())
    wrong = both.filter(pl.col("fills").is_not_null() & (off | vwap_off).fill_null(True))
    if missing.height == 0 and wrong.height == 0:
        return CheckOutcome(
            "paper_fills_match",
            True,
            f"{trades.height} trades, fills sum to each one's shares and VWAP",
            {"bad": 0},
        )
    return CheckOutcome(
        "paper_fills_match",
        False,
        f"{missing.height} paper trade(s) without fills (their book snapshot is not in the lake) and "
        f"{wrong.height} whose fills differ from the trade's shares or VWAP: re-materialize "
        "pm_order_book_snapshots for those hours, then paper_fills",
        {"bad": missing.height + wrong.height, "trades": [*missing["trade_id"], *wrong["trade_id"]][:20]},
    )


def unsettled_trades(trades: pl.DataFrame, now: datetime, horizon: timedelta) -> CheckOutcome:
    """Paper trades still open although their day's settlement horizon has passed: the game's final
    score never reached oddsapi_scores (an ingestion gap or a called-off game), or the day was last
    built before the scores landed."""
    if trades.height == 0 or "settled" not in trades.columns:
        return CheckOutcome("paper_trades_settled", True, "no paper trades to settle", {"late": 0})
    late = trades.filter(~pl.col("settled") & (settle_by("placed_at", horizon) <= now))
    if late.height == 0:
        return CheckOutcome(
            "paper_trades_settled", True, f"{trades.height} trades, none open past the horizon", {"late": 0}
        )
    days = sorted(late["placed_at"].dt.strftime("%Y-%m-%d").unique().to_list())
    events = sorted(late["event_id"].unique().to_list())
    return CheckOutcome(
        "paper_trades_settled",
        False,
        f"{late.height} paper trade(s) past their settlement horizon still open (placed {', '.join(days)}; "
        f"{len(events)} event(s) without a final score): check oddsapi_scores, then re-materialize "
        "those days of paper_trades",
        {"late": late.height, "days": days, "events": events[:20]},
    )

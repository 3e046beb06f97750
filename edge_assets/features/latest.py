"""features_latest: one row per mapped Polymarket outcome (token) at a snapshot time.

Pure polars (no Dagster). Every step is a vectorized frame operation over all tokens at
once: de-vig of every book (``pricing.devig.devig_frame``), consensus
(``pricing.consensus``), best sportsbook price, one ``walk_books`` call for the configured
stake, one ``size_at_or_better`` call at each token's break-even price.

Conventions:
- The fair probability is the weighted consensus of fresh, de-vigged sportsbook quotes
  (``fair_prob``); ``sharp_prob`` is the sharp-only estimate beside it.
- Spreads are de-vigged per (event, book, |point|) since the two sides carry opposite points.
- The taker fee rate is read back from pm_sportsbook_lines: ``fee_per_share / (ask (1 - ask))``
  (exact for exponent 1, the exponent of every sports schedule seen); pass ``fee_exponent``
  if a schedule ever uses another one.
- Liquidity: ``liquidity_usdc`` / ``liquidity_shares`` are what rests on the ask side at or
  below the break-even price (the highest price whose all-in cost still has EV >= 0 at the
  consensus fair probability). The walk's own filled size is reported beside them.
"""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import numpy as np
import polars as pl
from scipy.special import ndtr, ndtri, pdtr, pdtri

from edge_assets.frames import BOOK_FALLBACK
from edge_assets.mapping.matcher import MATCHED_METHODS, SNAP
from edge_assets.pricing.consensus import consensus, fresh_latest_quotes
from edge_assets.pricing.costs import (
    cost_model_for,
    fill_probability,
    load_cost_models,
    size_at_or_better,
    walk_books,
)
from edge_assets.pricing.devig import METHODS, devig_frame
from edge_assets.pricing.ev import break_even_price, ev_per_dollar, kelly_fraction
from edge_assets.schemas import UTC_TS

KEY = ["event_id", "market_key", "point", "outcome_name"]

FEATURES_LATEST_COLUMNS: dict[str, pl.DataType] = {
    "observed_at": UTC_TS,  # the snapshot time (partition column)
    "pm_market_id": pl.String(),
    "pm_token_id": pl.String(),
    "pm_outcome": pl.String(),
    "event_id": pl.String(),  # Odds API event id
    "sport_key": pl.String(),
    "commence_time": UTC_TS,
    "minutes_to_start": pl.Float64(),  # commence_time - snapshot (negative once the game is live)
    "home_team": pl.String(),
    "away_team": pl.String(),
    "market_key": pl.String(),
    "point": pl.Float64(),
    "outcome_name": pl.String(),
    "mapping_confidence": pl.Float64(),
    "mapping_method": pl.String(),
    # Polymarket book
    "ask": pl.Float64(),
    "bid": pl.Float64(),
    "mid": pl.Float64(),
    "spread": pl.Float64(),
    "depth_at_ask": pl.Float64(),  # shares at the best ask
    "tick_size": pl.Float64(),
    "min_order_size": pl.Float64(),
    "pm_book_at": UTC_TS,  # CLOB timestamp of the book (last change)
    "pm_quote_age_s": pl.Float64(),  # snapshot_at minus our latest book observation
    # sportsbooks
    "fair_prob": pl.Float64(),  # consensus of de-vigged fresh quotes
    "line_haircut": pl.Float64(),  # fair_prob minus its value at the worse end of the line-sd band (>= 0)
    "sharp_prob": pl.Float64(),
    "n_books": pl.UInt32(),
    "n_sharp": pl.UInt32(),
    "n_market_books": pl.UInt32(),  # fresh books quoting this market (any line) for the event
    "line_share": pl.Float64(),  # n_books / n_market_books: 1 when every book quotes this exact line
    "fair_std": pl.Float64(),  # book agreement: population std of per-book fair probs
    "fair_min": pl.Float64(),
    "fair_max": pl.Float64(),
    "book_min_age_s": pl.Float64(),
    "book_max_age_s": pl.Float64(),
    "best_book": pl.String(),
    "best_book_decimal": pl.Float64(),
    "devig_method": pl.String(),
    # edge after costs for the configured stake
    "raw_edge": pl.Float64(),  # fair_prob - ask
    "fee_rate": pl.Float64(),
    "stake_usdc": pl.Float64(),
    "vwap": pl.Float64(),
    "worst_price": pl.Float64(),
    "levels_used": pl.UInt32(),
    "filled_shares": pl.Float64(),
    "filled_usdc": pl.Float64(),
    "fully_filled": pl.Boolean(),
    "fee_per_share": pl.Float64(),  # walk fee (sum over levels) per share
    "effective_price": pl.Float64(),  # vwap + fee_per_share
    "pm_decimal": pl.Float64(),  # 1 / effective_price
    "beats_book": pl.Boolean(),  # pm_decimal > best_book_decimal
    "ev_after_costs": pl.Float64(),  # (fair_prob - line_haircut) / effective_price - 1
    "ev_sharp": pl.Float64(),  # sharp_prob / effective_price - 1
    "kelly_full": pl.Float64(),
    "break_even_price": pl.Float64(),
    "liquidity_shares": pl.Float64(),
    "liquidity_usdc": pl.Float64(),
    "fill_prob": pl.Float64(),
    # Polymarket news check (null without pm_history): see _pm_news
    "pm_move_1h": pl.Float64(),  # this token's Polymarket mid now minus its first poll in the last hour
    "event_moved_markets": pl.UInt32(),  # the event's mapped PM markets whose mid moved >= NEWS_MOVE
    "pm_news_at": UTC_TS,  # first poll showing the event's move
    "stale_consensus": pl.Boolean(),  # the event repriced on PM and no book quote used postdates it
}

__all__ = [
    "FEATURES_LATEST_COLUMNS",
    "LINE_SD",
    "NEWS_MIN_MARKETS",
    "NEWS_MOVE",
    "NEWS_WINDOW",
    "build_features_latest",
    "event_margin_sd",
    "features_latest_for_hours",
    "pm_news",
    "retarget_lines",
]

# News on Polymarket: a game's markets repricing together. A mid move of NEWS_MOVE (4 points of
# probability) within the hour is several times the quiet-market noise; NEWS_MIN_MARKETS markets of
# the same game moving at once is news (one mispriced resting order moves only its own market).
NEWS_MOVE = 0.04
NEWS_MIN_MARKETS = 2
NEWS_WINDOW = timedelta(hours=1)


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _book_summary(books: pl.DataFrame, snapshot_at: pl.Expr) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Latest snapshot per token at/before snapshot_at: (levels, per-token best bid/ask summary)."""
    b = books.filter(pl.col("snapshot_at") <= snapshot_at)
    b = b.filter(pl.col("snapshot_at") == pl.col("snapshot_at").max().over("token_id"))
    lv = b.filter(pl.col("side").is_not_null() & pl.col("price").is_not_null() & (pl.col("size") > 0))
    asks = lv.filter(pl.col("side") == "ask")
    best_ask = asks.group_by("token_id").agg(ask=pl.col("price").min())
    depth = (
        asks.join(best_ask, on="token_id")
        .filter(pl.col("price") == pl.col("ask"))
        .group_by("token_id")
        .agg(depth_at_ask=pl.col("size").sum())
    )
    best_bid = lv.filter(pl.col("side") == "bid").group_by("token_id").agg(bid=pl.col("price").max())
    meta = b.group_by("token_id").agg(
        tick_size=pl.col("tick_size").drop_nulls().first(),
        min_order_size=pl.col("min_order_size").drop_nulls().first(),
        pm_book_at=pl.col("book_timestamp").max(),
        _snap_at=pl.col("snapshot_at").max(),
    )
    summary = (
        meta.join(best_ask, on="token_id", how="left")
        .join(best_bid, on="token_id", how="left")
        .join(depth, on="token_id", how="left")
        .with_columns(
            mid=pl.when(pl.col("ask").is_not_null() & pl.col("bid").is_not_null()).then(
                (pl.col("ask") + pl.col("bid")) / 2
            ),
            spread=pl.col("ask") - pl.col("bid"),
            depth_at_ask=pl.col("depth_at_ask").fill_null(0.0),
        )
    )
    levels = lv.select("token_id", "side", "price", "size", "tick_size", "min_order_size")
    return levels, summary


# Standard deviation of the final margin (spreads) and of the final total (totals) per sport: the
# normal model that moves a book's probability from its own line to Polymarket's line. Public
# long-run figures (NBA ~12 / ~18 points, NFL ~13.5 / ~13.5, NHL ~2.3 goals, MLB ~4.3 runs,
# EPL ~1.7 goals). The conversion is only as good as the model, so lines are moved by at most
# MAX_LINE_SHIFT_SD of these.
LINE_SD: dict[tuple[str, str], float] = {
    ("basketball_nba", "spreads"): 12.0,
    ("basketball_nba", "totals"): 18.0,
    ("americanfootball_nfl", "spreads"): 13.5,
    ("americanfootball_nfl", "totals"): 13.5,
    ("icehockey_nhl", "spreads"): 2.3,
    ("icehockey_nhl", "totals"): 2.3,
    ("baseball_mlb", "spreads"): 4.3,
    ("baseball_mlb", "totals"): 4.4,
    ("soccer_epl", "spreads"): 1.7,
    ("soccer_epl", "totals"): 1.7,
}
MAX_LINE_SHIFT_SD = 0.5
# How well the sd above is known: published figures for the same sport and market differ by this
# much between sources and seasons (NFL totals: 10 to 14 points). A re-targeted probability is only
# as good as its sd, so the buy side is priced at the less favourable end of sd x/÷ (1 + this):
# no haircut on an exact line, a haircut growing with the shift otherwise. Spreads of events whose
# margin sd was measured from the books' own moneyline + spread (event_margin_sd) use sd +- 2 SE
# instead; totals and unmeasured events keep this blanket figure.
LINE_SD_REL_ERR = 0.35


# Low-scoring totals (soccer goals) are counts, not a continuous total: a normal model with a
# fixed sd mis-prices the tails of a 0-5 goal distribution. Each book's total line is instead
# inverted to the Poisson mean it implies, P(goals <= floor(line)) = P(Under), and that mean prices
# Polymarket's line (the standard independent-Poisson goals model); lines are moved by at most
# POISSON_MAX_SHIFT goals.
POISSON_TOTALS_PREFIX = "soccer_"
POISSON_MAX_SHIFT = 1.0
# A book's moneyline is its spread at handicap 0 (P(home wins) = P(margin + 0 > 0)) in sports
# without a draw, so it anchors the margin distribution next to the run/puck lines (+-1.5), where
# a book quoting the favourite's -1.5 is three units from Polymarket's +1.5 on the same team.
ML_ANCHOR_MARKET = "h2h"


def _ml_anchors(fair: pl.DataFrame) -> pl.DataFrame:
    """Two-way (no draw) moneyline fair probabilities as spreads quotes at point 0 (empty if none)."""
    h2h = fair.filter((pl.col("market_key") == ML_ANCHOR_MARKET) & pl.col("fair_prob").is_not_null())
    two_way = h2h.filter(
        (pl.len().over("event_id", "bookmaker") == 2) & ~pl.col("outcome_name").is_in(["Draw", "draw"])
    )
    return two_way.with_columns(market_key=pl.lit("spreads"), point=pl.lit(0.0, pl.Float64))


# A per-event margin sd measured from a book's moneyline and spread (event_margin_sd) is only kept
# when it lies within this factor of the league sd: a single game's margin sd differs from the
# league's long-run figure by far less than 2x, so a wilder value is a broken or stale quote.
MAX_SD_RATIO = 2.0
# Books needed for the spread of the per-book estimates to say something about their error.
MIN_SD_BOOKS = 3


def event_margin_sd(fair: pl.DataFrame, line_sd: Mapping[tuple[str, str], float] = LINE_SD) -> pl.DataFrame:
    """Per event: the sd of the final margin measured from each book's own moneyline and spread.

    Why: a book's moneyline (point 0) and its spread line L are two points on the same margin
    distribution, ``Phi^-1(p_L) = Phi^-1(p_0) + L / sd``, so each book gives
    ``sd_b = L / (Phi^-1(p_L) - Phi^-1(p_0))`` free of its own view of the expected margin. The
    per-book values are combined per event (median; SE = 1.2533 * 1.4826 * MAD / sqrt(n), the
    median's standard error under normal noise). Books are never pooled into one fit: which line a
    book quotes follows its own noisy expected margin, so a cross-book fit would be biased.
    Per-book values outside [1 / MAX_SD_RATIO, MAX_SD_RATIO] x the league sd are dropped; events
    need MIN_SD_BOOKS books. Output: event_id, market_key ("spreads"), _esd, _esd_se.
    """
    out_schema = {"event_id": pl.String, "market_key": pl.String, "_esd": pl.Float64, "_esd_se": pl.Float64}
    if "sport_key" not in fair.columns:
        return pl.DataFrame(schema=out_schema)
    sd_frame = pl.DataFrame(
        [(k[0], float(v)) for k, v in line_sd.items() if k[1] == "spreads"],
        schema={"sport_key": pl.String, "_lsd": pl.Float64},
        orient="row",
    )
    ml = _ml_anchors(fair).select("event_id", "bookmaker", "outcome_name", pl.col("fair_prob").alias("_p0"))
    sp = fair.filter(
        (pl.col("market_key") == "spreads")
        & pl.col("point").is_not_null()
        & (pl.col("point") != 0)
        & pl.col("fair_prob").is_not_null()
    ).select("event_id", "bookmaker", "outcome_name", "sport_key", "point", "fair_prob")
    j = sp.join(ml, on=["event_id", "bookmaker", "outcome_name"], how="inner").join(
        sd_frame, on="sport_key", how="inner"
    )
    if j.height == 0:
        return pl.DataFrame(schema=out_schema)
    with np.errstate(invalid="ignore", divide="ignore"):
        dz = ndtri(j["fair_prob"].cast(pl.Float64).to_numpy()) - ndtri(j["_p0"].cast(pl.Float64).to_numpy())
        sd_b = j["point"].cast(pl.Float64).to_numpy() / dz
    ratio = pl.col("_sdb") / pl.col("_lsd")
    per_book = (
        j.with_columns(_sdb=pl.Series(sd_b, dtype=pl.Float64).fill_nan(None))
        .filter(pl.col("_sdb").is_finite() & (ratio >= 1.0 / MAX_SD_RATIO) & (ratio <= MAX_SD_RATIO))
        .group_by("event_id", "bookmaker")
        .agg(pl.col("_sdb").mean())
    )
    med = pl.col("_sdb").median()
    return (
        per_book.group_by("event_id")
        .agg(
            _esd=med,
            _mad=(pl.col("_sdb") - med).abs().median(),
            _n=pl.len(),
        )
        .filter(pl.col("_n") >= MIN_SD_BOOKS)
        .select(
            "event_id",
            market_key=pl.lit("spreads"),
            _esd=pl.col("_esd"),
            _esd_se=1.2533 * 1.4826 * pl.col("_mad") / pl.col("_n").cast(pl.Float64).sqrt(),
        )
    )


def retarget_lines(
    fair: pl.DataFrame,
    targets: pl.DataFrame,
    *,
    line_sd: Mapping[tuple[str, str], float] = LINE_SD,
    event_sd: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per-book fair probabilities moved onto the mapped (Polymarket) line of spreads and totals.

    Why: books set their own main line, so only a few of them quote the exact spread or total a
    Polymarket market uses, and those few are exactly the books whose estimate happens to sit on
    that line: a small, biased sample (an off-centre line de-vigs to ~50% for them). Instead
    every book's quote nearest the target line is moved to it with a normal model of the margin
    or total: ``p = Phi(Phi^-1(p_book) + d / sd)`` with ``d`` = target - book line for spreads and
    Under, book line - target for Over. Exact-line quotes keep their probability (d = 0); books
    more than MAX_LINE_SHIFT_SD * sd away, and sports/markets without an sd, contribute only
    exact-line quotes. A two-way moneyline counts as the book's spread quote at point 0
    (``_ml_anchors``). Soccer totals use the Poisson goals model instead (POISSON_MAX_SHIFT).
    ``targets`` has event_id, market_key, outcome_name and ``_target``. ``event_sd`` (event_id,
    market_key, ``_esd``) replaces the league sd for the events it lists (``event_margin_sd``).
    Other markets (h2h) pass through unchanged.
    """
    return _retarget_apply(_retarget_candidates(fair, targets), line_sd=line_sd, event_sd=event_sd)


class _RetargetCandidates(NamedTuple):
    fair: pl.DataFrame  # the input, returned as is when nothing is lined
    other: pl.DataFrame  # quotes that pass through (h2h, lineless)
    best: pl.DataFrame | None  # per (event, market, outcome, target, book): the nearest quote


def _retarget_candidates(fair: pl.DataFrame, targets: pl.DataFrame) -> _RetargetCandidates:
    """The sd-free part of retarget_lines, shared by its sd variants (the line-model band).

    Per (event, market, outcome, target, book) only the quote nearest the target can be moved:
    the sd filter ``|d| <= MAX_LINE_SHIFT_SD * sd`` is monotone in |d| and sd is one value per
    such group, so picking the nearest first and filtering it after equals filtering first. The
    Poisson filter (half lines) is not monotone in |d| and applies before the pick.
    """
    lined = pl.col("market_key").is_in(["spreads", "totals"])
    other = fair.filter(~lined | pl.col("point").is_null())
    quotes = fair.filter(lined & pl.col("point").is_not_null())
    anchors = _ml_anchors(fair).select(quotes.columns) if "sport_key" in fair.columns else quotes.clear()
    quotes = pl.concat([quotes, anchors], how="vertical_relaxed")
    if quotes.height == 0:
        return _RetargetCandidates(fair, other, None)
    tg = targets.filter(pl.col("_target").is_not_null() & pl.col("market_key").is_in(["spreads", "totals"]))
    pois = (pl.col("market_key") == "totals") & pl.col("sport_key").str.starts_with(POISSON_TOTALS_PREFIX)
    half = ((pl.col("point") % 1.0) == 0.5) & ((pl.col("_target") % 1.0) == 0.5)
    best = (
        quotes.join(tg.unique(), on=["event_id", "market_key", "outcome_name"], how="inner")
        .with_columns(_d=pl.col("_target") - pl.col("point"), _pois=pois.fill_null(False))
        .filter(~pl.col("_pois") | (pl.col("_d") == 0) | (half & (pl.col("_d").abs() <= POISSON_MAX_SHIFT)))
        .sort(pl.col("_d").abs(), "point", maintain_order=True)  # ties: exact quotes before ML anchors
        .unique(
            ["event_id", "market_key", "outcome_name", "_target", "bookmaker"],
            keep="first",
            maintain_order=True,
        )
    )
    return _RetargetCandidates(fair, other, best)


def _retarget_apply(
    cands: _RetargetCandidates,
    *,
    line_sd: Mapping[tuple[str, str], float],
    event_sd: pl.DataFrame | None,
) -> pl.DataFrame:
    """retarget_lines for one set of sds, from its sd-free candidates."""
    if cands.best is None:
        return cands.fair
    other = cands.other
    sd_frame = pl.DataFrame(
        [(k[0], k[1], float(v)) for k, v in line_sd.items()],
        schema={"sport_key": pl.String, "market_key": pl.String, "_sd": pl.Float64},
        orient="row",
    )
    moved = cands.best.join(sd_frame, on=["sport_key", "market_key"], how="left", maintain_order="left")
    if event_sd is not None:
        moved = (
            moved.join(
                event_sd.select("event_id", "market_key", "_esd"),
                on=["event_id", "market_key"],
                how="left",
                maintain_order="left",
            )
            .with_columns(_sd=pl.coalesce("_esd", "_sd"))
            .drop("_esd")
        )
    moved = moved.filter(
        (pl.col("_d") == 0)
        | pl.col("_pois")
        | (pl.col("_d").abs() <= MAX_LINE_SHIFT_SD * pl.col("_sd")).fill_null(False)
    )
    if moved.height == 0:
        return other
    sign = pl.when(pl.col("outcome_name") == "Over").then(-1.0).otherwise(1.0)
    shift = moved.select((sign * pl.col("_d") / pl.col("_sd")).fill_null(0.0)).to_series().to_numpy()
    p = moved["fair_prob"].cast(pl.Float64).to_numpy()
    is_pois = moved["_pois"].to_numpy() & (moved["_d"].to_numpy() != 0.0)
    over = (moved["outcome_name"] == "Over").to_numpy()
    k_from = np.floor(moved["point"].to_numpy())
    k_to = np.floor(moved["_target"].to_numpy())
    with np.errstate(invalid="ignore", divide="ignore"):
        moved_p = np.where(shift == 0.0, p, ndtr(ndtri(p) + shift))
        # Poisson: the book's P(Under) = P(goals <= k_from) -> mean -> P(goals <= k_to); pdtri is
        # iterative, so only on the rows that use it
        i = np.flatnonzero(is_pois)
        if i.size:
            p_under = np.where(over[i], 1.0 - p[i], p[i])
            lam = pdtri(np.maximum(k_from[i], 0.0), np.clip(p_under, 1e-12, 1 - 1e-12))
            under_to = pdtr(np.maximum(k_to[i], 0.0), lam)
            moved_p[i] = np.where(over[i], 1.0 - under_to, under_to)
    moved = moved.with_columns(
        fair_prob=pl.Series(moved_p, dtype=pl.Float64).fill_nan(None),
        point=pl.col("_target"),
    ).drop("_target", "_sd", "_d", "_pois")
    return pl.concat([other, moved.select(other.columns)], how="vertical_relaxed")


def _pm_mids(pm_history: pl.DataFrame) -> pl.DataFrame:
    """PM_MARKETS polls as one row per token: observed_at, pm_token_id, _mid (+ SNAP when tagged)."""
    extra = [SNAP] if SNAP in pm_history.columns else []
    return (
        pm_history.filter(
            pl.col("token_ids").is_not_null()
            & (pl.col("token_ids").list.len() == pl.col("outcome_prices").list.len())
        )
        .select(*extra, "observed_at", "token_ids", "outcome_prices")
        .explode("token_ids", "outcome_prices")
        .rename({"token_ids": "pm_token_id", "outcome_prices": "_mid"})
        .drop_nulls()
    )


def pm_news(pm_history: pl.DataFrame, maps: pl.DataFrame, snapshot_at: datetime) -> pl.DataFrame:
    """Per mapped token: its Polymarket mid move over the last hour and whether its game repriced.

    Why: books sometimes sleep through news that Polymarket has already priced; their consensus
    then shows the old price and every Polymarket outcome that moved against it looks like an
    edge. ``pm_history`` = PM_MARKETS polls (``outcome_prices`` follow ``token_ids``); the mid of
    each token is compared with its first poll in the last hour. A market moved when
    |move| >= NEWS_MOVE; ``event_moved_markets`` counts the moved markets mapped to the same Odds
    API event, and ``pm_news_at`` is the latest of their first polls showing the move (the
    repricing is complete by then; a book quote after it has seen the news).
    Output: pm_token_id, pm_move_1h, event_moved_markets, pm_news_at.
    """
    return _news(_pm_mids(pm_history), maps, pl.lit(_utc(snapshot_at), dtype=UTC_TS))


def _news(mids: pl.DataFrame, maps: pl.DataFrame, snapshot_at: pl.Expr) -> pl.DataFrame:
    """pm_news from exploded polls (``_pm_mids``); ``snapshot_at`` may be a per-row column."""
    h = (
        mids.filter(
            (pl.col("observed_at") <= snapshot_at) & (pl.col("observed_at") >= snapshot_at - NEWS_WINDOW)
        )
        .select("observed_at", "pm_token_id", "_mid")
        .sort("observed_at", maintain_order=True)
        .with_columns(_d=pl.col("_mid") - pl.col("_mid").first().over("pm_token_id"))
    )
    per_token = h.group_by("pm_token_id").agg(
        pm_move_1h=pl.col("_d").last(),
        _seen_at=pl.col("observed_at").filter(pl.col("_d").abs() >= NEWS_MOVE).first(),
    )
    tok = maps.select("pm_token_id", "pm_market_id", "event_id").join(per_token, on="pm_token_id", how="left")
    moved = tok.filter(pl.col("_seen_at").is_not_null() & pl.col("event_id").is_not_null())
    per_event = moved.group_by("event_id").agg(
        event_moved_markets=pl.col("pm_market_id").n_unique().cast(pl.UInt32),
        pm_news_at=pl.col("_seen_at").max(),
    )
    return (
        tok.join(per_event, on="event_id", how="left")
        .with_columns(pl.col("event_moved_markets").fill_null(0))
        .select("pm_token_id", "pm_move_1h", "event_moved_markets", "pm_news_at")
    )


def build_features_latest(
    pm_lines: pl.DataFrame,
    odds: pl.DataFrame,
    books: pl.DataFrame,
    mappings: pl.DataFrame,
    *,
    snapshot_at: datetime,
    devig_method: str = "multiplicative",
    stake_usdc: float = 100.0,
    max_quote_age: timedelta = timedelta(minutes=10),
    weights: Mapping[str, float] | None = None,
    fee_exponent: float = 1.0,
    cost_model: Mapping[str, Any] | None = None,
    line_sd: Mapping[tuple[str, str], float] | None = None,
    pm_history: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Features for every mapped Polymarket token (see module doc and FEATURES_LATEST_COLUMNS).

    Inputs follow edge_assets.schemas: pm_lines = PM_SPORTSBOOK_LINES, odds = ODDS_QUOTES,
    books = PM_ORDER_BOOK_SNAPSHOTS, mappings = MARKET_MAPPINGS (usable rows: method
    exact|fuzzy with an odds outcome; the latest mapping per token wins). Tokens without a
    fresh sportsbook quote or without an ask keep their row with nulls in what cannot be
    computed. ``cost_model`` (a cost_models row) defaults to the seed's polymarket/sports row.
    ``pm_history`` (PM_MARKETS polls of the last hour, optional) feeds the news check
    (``pm_news``): ``stale_consensus`` is true when the token's game repriced on Polymarket
    (``event_moved_markets >= NEWS_MIN_MARKETS``) and the newest book quote in the consensus is
    not later than the first poll showing it, i.e. no book has confirmed the old price since.
    """
    if devig_method not in METHODS:
        raise ValueError(f"unknown de-vig method {devig_method!r}; choose one of {METHODS}")
    at = pl.lit(_utc(snapshot_at), dtype=UTC_TS)
    has_history = pm_history is not None and pm_history.height > 0

    def tag(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(at.alias(SNAP))

    return _build_snapshots(
        tag(pm_lines),
        tag(odds),
        tag(books),
        tag(mappings),
        tag(pm_history) if has_history else None,  # type: ignore[arg-type]
        devig_method=devig_method,
        stake_usdc=stake_usdc,
        max_quote_age=max_quote_age,
        weights=weights,
        fee_exponent=fee_exponent,
        cost_model=cost_model,
        line_sd=line_sd,
    )


HOURS_PER_PASS = 12
# Batch builds: every input row carries the snapshot it serves in SNAP, and event and token ids are
# prefixed with that snapshot (``_tag_ids``), so each group-by and join of the single-snapshot
# logic stays inside its own snapshot while one pass of polars calls prices them all.
_ID_SEP = "|"


def _tag_ids(df: pl.DataFrame, *cols: str) -> pl.DataFrame:
    stamp = pl.col(SNAP).dt.epoch("us").cast(pl.String)
    return df.with_columns(pl.concat_str([stamp, pl.lit(_ID_SEP), pl.col(c)]).alias(c) for c in cols)


def _untag_ids(*cols: str) -> list[pl.Expr]:
    return [pl.col(c).str.splitn(_ID_SEP, 2).struct.field("field_1").alias(c) for c in cols]


def _frozen(row: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...] | None:
    return None if row is None else tuple(sorted(row.items()))


def _build_snapshots(
    pm_lines: pl.DataFrame,
    odds: pl.DataFrame,
    books: pl.DataFrame,
    mappings: pl.DataFrame,
    pm_history: pl.DataFrame | None,
    *,
    devig_method: str,
    stake_usdc: float,
    max_quote_age: timedelta,
    weights: Mapping[str, float] | None = None,
    fee_exponent: float = 1.0,
    cost_model: Mapping[str, Any] | None = None,
    line_sd: Mapping[tuple[str, str], float] | None = None,
) -> pl.DataFrame:
    """build_features_latest for every snapshot in SNAP at once (pm_history: None = no news check;
    else the polls each snapshot may look at, tagged with it). Rows come out in snapshot order."""
    if cost_model is None:
        # the cost model in force can change between snapshots: one pass per model
        table = load_cost_models()
        snaps = mappings[SNAP].unique().sort().to_list()
        groups: dict[tuple[tuple[str, Any], ...] | None, list[datetime]] = {}
        for at in snaps:
            groups.setdefault(_frozen(cost_model_for("polymarket", "sports", at, table)), []).append(at)
        if len(groups) > 1:
            parts = []
            for model, ats in groups.items():
                keep = pl.col(SNAP).is_in(pl.Series(ats, dtype=UTC_TS).implode())
                parts.append(
                    _build_snapshots(
                        pm_lines.filter(keep),
                        odds.filter(keep),
                        books.filter(keep),
                        mappings.filter(keep),
                        None if pm_history is None else pm_history.filter(keep),
                        devig_method=devig_method,
                        stake_usdc=stake_usdc,
                        max_quote_age=max_quote_age,
                        weights=weights,
                        fee_exponent=fee_exponent,
                        cost_model=dict(model) if model is not None else {},
                        line_sd=line_sd,
                    )
                )
            return pl.concat(parts).sort("observed_at", maintain_order=True)
        first = next(iter(groups), None)  # the single model, if any
        cost_model = dict(first) if first is not None else {}
    snap_col = pl.col(SNAP)
    odds = _tag_ids(odds, "event_id")
    books = _tag_ids(books, "token_id")
    pm_lines = _tag_ids(pm_lines, "pm_token_id")
    mappings = _tag_ids(mappings, "pm_token_id", "odds_event_id")
    maps = (
        mappings.filter(pl.col("method").is_in(MATCHED_METHODS) & pl.col("odds_outcome_name").is_not_null())
        .sort("observed_at", maintain_order=True)
        .unique("pm_token_id", keep="last", maintain_order=True)
        .select(
            SNAP,
            "pm_market_id",
            "pm_token_id",
            "pm_outcome",
            pl.col("odds_event_id").alias("event_id"),
            "market_key",
            pl.col("point").cast(pl.Float64),
            pl.col("odds_outcome_name").alias("outcome_name"),
            pl.col("confidence").alias("mapping_confidence"),
            pl.col("method").alias("mapping_method"),
        )
    )

    # --- sportsbooks: fresh latest quotes -> per-book fair -> consensus + best price
    books_only = odds.filter(pl.col("bookmaker") != "polymarket")
    fresh = fresh_latest_quotes(books_only, snapshot_at=snap_col, max_age=max_quote_age, key_cols=KEY)
    fresh = fresh.with_columns(
        _pgroup=pl.when(pl.col("market_key").str.starts_with("spreads"))
        .then(pl.col("point").abs())
        .otherwise(pl.col("point"))
    )
    fair = devig_frame(fresh, ["event_id", "bookmaker", "market_key", "_pgroup"], method=devig_method)
    targets = maps.select("event_id", "market_key", "outcome_name", pl.col("point").alias("_target"))
    sds = LINE_SD if line_sd is None else line_sd
    devigged = fair
    esd = event_margin_sd(devigged, sds)
    cands = _retarget_candidates(devigged, targets)  # shared by the sd band below
    fair = _retarget_apply(cands, line_sd=sds, event_sd=esd)
    cons = consensus(fair, snapshot_at=snap_col, max_age=max_quote_age, weights=weights, key_cols=KEY).rename(
        {"consensus_prob": "fair_prob", "min_age_s": "book_min_age_s", "max_age_s": "book_max_age_s"}
    )
    # line-model uncertainty: the consensus again with every sd moved up and down, by its measured
    # 2 SE where the event's sd was measured (event_margin_sd), else by LINE_SD_REL_ERR
    band: list[pl.DataFrame] = []
    for scale, sgn in ((1.0 + LINE_SD_REL_ERR, 1.0), (1.0 / (1.0 + LINE_SD_REL_ERR), -1.0)):
        esd_band = esd.select(
            "event_id",
            "market_key",
            _esd=(pl.col("_esd") + sgn * 2.0 * pl.col("_esd_se")).clip(
                lower_bound=pl.col("_esd") / MAX_SD_RATIO
            ),
        )
        moved = _retarget_apply(cands, line_sd={k: v * scale for k, v in sds.items()}, event_sd=esd_band)
        band.append(
            consensus(
                moved, snapshot_at=snap_col, max_age=max_quote_age, weights=weights, key_cols=KEY
            ).select(*KEY, pl.col("consensus_prob").alias(f"_band{len(band)}"))
        )
    cons = (
        cons.join(band[0], on=KEY, how="left", nulls_equal=True)
        .join(band[1], on=KEY, how="left", nulls_equal=True)
        .with_columns(
            line_haircut=(pl.col("fair_prob") - pl.min_horizontal("fair_prob", "_band0", "_band1")).clip(0.0)
        )
        .drop("_band0", "_band1")
    )
    best = fresh.group_by(KEY).agg(
        best_book_decimal=pl.col("price_decimal").max(),
        best_book=pl.col("bookmaker").sort_by(["price_decimal", "bookmaker"]).last(),
    )
    # books quoting the market at all (any line): a spread/total line quoted by only a few of them
    # is an alternate line for most books, and the few that sit on it are a biased sample
    market_books = fresh.group_by("event_id", "market_key").agg(
        n_market_books=pl.col("bookmaker").n_unique().cast(pl.UInt32)
    )
    events = (
        odds.sort("observed_at")
        .group_by("event_id")
        .agg(
            pl.col("sport_key").last(),
            pl.col("commence_time").last(),
            pl.col("home_team").last(),
            pl.col("away_team").last(),
        )
    )

    # --- Polymarket: book summary, fee rate, walk for the stake, break-even liquidity
    levels, summary = _book_summary(books, snap_col)
    lines = (
        pm_lines.sort("observed_at", maintain_order=True)
        .unique("pm_token_id", keep="last", maintain_order=True)
        .select(
            "pm_token_id",
            pl.col("best_ask").alias("_line_ask"),
            pl.col("fee_per_share").alias("_line_fee"),
            pl.col("last_update").alias("_line_at"),
            pl.col("observed_at").alias("_line_obs"),
        )
    )
    df = (
        maps.join(cons.drop("latest_quote_at"), on=KEY, how="left", nulls_equal=True)
        .join(best, on=KEY, how="left", nulls_equal=True)
        .join(market_books, on=["event_id", "market_key"], how="left")
        .join(events, on="event_id", how="left")
        .join(summary.rename({"token_id": "pm_token_id"}), on="pm_token_id", how="left")
        .join(lines, on="pm_token_id", how="left")
    )
    line_ask = pl.col("_line_ask")
    df = df.with_columns(
        ask=pl.coalesce("ask", "_line_ask"),
        pm_book_at=pl.coalesce("pm_book_at", "_line_at"),
        fee_rate=pl.when((line_ask > 0) & (line_ask < 1) & pl.col("_line_fee").is_not_null())
        .then(pl.col("_line_fee") / (line_ask * (1.0 - line_ask)).pow(fee_exponent))
        .otherwise(0.0),
    ).with_columns(
        # age of OUR observation of the book (a quiet book keeps an old CLOB timestamp but is live)
        pm_quote_age_s=(snap_col - pl.coalesce("_snap_at", "_line_obs")).dt.total_microseconds() / 1e6
    )

    targets = df.select(
        pl.col("pm_token_id").alias("token_id"),
        pl.lit(float(stake_usdc)).alias("stake"),
        pl.col("fee_rate"),
        pl.lit(float(fee_exponent)).alias("fee_exponent"),
    )
    walk = walk_books(levels, targets, stake_unit="usdc").select(
        "vwap", "worst_price", "levels_used", "filled_shares", "filled_usdc", "fully_filled", "fee_per_share"
    )
    df = pl.concat([df, walk], how="horizontal").with_columns(
        # what a buyer can count on: the consensus less the line-model haircut (0 on exact lines)
        _fair_buy=pl.col("fair_prob") - pl.col("line_haircut").fill_null(0.0)
    )
    df = df.with_columns(
        effective_price=pl.col("vwap") + pl.col("fee_per_share"),
        break_even_price=break_even_price(pl.col("_fair_buy"), pl.col("fee_rate")),
    )
    limits = df.filter(pl.col("break_even_price").is_not_null()).select(
        pl.col("pm_token_id").alias("token_id"), pl.col("break_even_price").alias("price_limit")
    )
    liq = (
        size_at_or_better(levels, limits)
        .unique("token_id")
        .select(
            pl.col("token_id").alias("pm_token_id"),
            pl.col("size_available").alias("liquidity_shares"),
            pl.col("notional_available").alias("liquidity_usdc"),
        )
    )
    if pm_history is not None:
        news = _news(_tag_ids(_pm_mids(pm_history), "pm_token_id"), maps, snap_col)
        # snapshots without any poll to look at get no news check (nulls), as in a single build
        seen = pl.col(SNAP).is_in(pm_history[SNAP].unique().implode())
        df = df.join(news, on="pm_token_id", how="left").with_columns(
            stale_consensus=(pl.col("event_moved_markets").fill_null(0) >= NEWS_MIN_MARKETS)
            & (
                (snap_col - pl.duration(microseconds=(pl.col("book_min_age_s") * 1e6).cast(pl.Int64)))
                <= pl.col("pm_news_at")
            ).fill_null(True)
        )
        df = df.with_columns(
            pl.when(seen).then(pl.col(c)).alias(c)
            for c in ("pm_move_1h", "event_moved_markets", "pm_news_at", "stale_consensus")
        )
    else:
        df = df.with_columns(
            pm_move_1h=pl.lit(None, pl.Float64),
            event_moved_markets=pl.lit(None, pl.UInt32),
            pm_news_at=pl.lit(None, UTC_TS),
            stale_consensus=pl.lit(None, pl.Boolean),
        )
    eff = pl.col("effective_price")
    df = df.join(liq, on="pm_token_id", how="left").with_columns(
        stake_usdc=pl.lit(float(stake_usdc)),
        devig_method=pl.lit(devig_method),
        observed_at=snap_col,
        minutes_to_start=(pl.col("commence_time") - snap_col).dt.total_microseconds() / 60e6,
        line_share=pl.col("n_books").cast(pl.Float64) / pl.col("n_market_books").cast(pl.Float64),
        raw_edge=pl.col("fair_prob") - pl.col("ask"),
        pm_decimal=1.0 / eff,
        ev_after_costs=ev_per_dollar(pl.col("_fair_buy"), eff),
        ev_sharp=ev_per_dollar(pl.col("sharp_prob"), eff),
        kelly_full=kelly_fraction(pl.col("_fair_buy"), eff),
        beats_book=(1.0 / eff) > pl.col("best_book_decimal"),
        liquidity_shares=pl.when(pl.col("break_even_price").is_not_null()).then(
            pl.col("liquidity_shares").fill_null(0.0)
        ),
        liquidity_usdc=pl.when(pl.col("break_even_price").is_not_null()).then(
            pl.col("liquidity_usdc").fill_null(0.0)
        ),
        fill_prob=(
            fill_probability(pl.col("depth_at_ask"), pl.col("pm_quote_age_s"), cost_model)
            if cost_model
            else pl.lit(None, pl.Float64)
        ),
    )
    return df.with_columns(_untag_ids("event_id", "pm_token_id")).select(
        [pl.col(c).cast(t) for c, t in FEATURES_LATEST_COLUMNS.items()]
    )


def features_latest_for_hours(
    pm_lines: pl.DataFrame,
    odds: pl.DataFrame,
    books: pl.DataFrame,
    mappings: pl.DataFrame,
    pm_markets: pl.DataFrame,
    *,
    devig_method: str = "multiplicative",
    stake_usdc: float = 100.0,
    max_quote_age: timedelta = timedelta(minutes=10),
) -> pl.DataFrame:
    """features_latest for every hour of a window: one snapshot per hour that has mappings, at that
    hour's last mapping poll (books: the latest poll at/before it, of that hour or the previous one;
    news: that hour's and the previous hour's PM_MARKETS polls). All hours in one pass
    (``_build_snapshots``), equal to one build per hour."""
    if devig_method not in METHODS:
        raise ValueError(f"unknown de-vig method {devig_method!r}; choose one of {METHODS}")
    if mappings.height == 0:
        return pl.DataFrame(schema=FEATURES_LATEST_COLUMNS)

    def hour_of(col: str, shift: timedelta = timedelta(0)) -> pl.Expr:
        return (pl.col(col).dt.truncate("1h") + shift).alias("_hour")

    snaps = mappings.group_by(hour_of("observed_at")).agg(pl.col("observed_at").max().alias(SNAP))

    def tag(df: pl.DataFrame, col: str, shift: timedelta = timedelta(0)) -> pl.DataFrame:
        return (
            df.with_columns(hour_of(col, shift))
            .join(snaps, on="_hour", how="inner", maintain_order="left")
            .drop("_hour")
        )

    # each snapshot's book poll: the latest at/before it, from its hour or the one before (the
    # hourly books land at :02, so an hour's first comparator runs price on the previous hour's)
    polls = books.select(pl.col("snapshot_at").unique().sort())
    served = (
        snaps.sort(SNAP)
        .join_asof(polls, left_on=SNAP, right_on="snapshot_at", strategy="backward")
        .filter(pl.col("snapshot_at") >= pl.col("_hour") - BOOK_FALLBACK)
        .select(SNAP, "snapshot_at")
    )
    # each poll serves its own hour's snapshot and the next one's (the last hour of news)
    history = pl.concat([tag(pm_markets, "observed_at", NEWS_WINDOW), tag(pm_markets, "observed_at")])
    frames = [
        tag(pm_lines, "observed_at"),
        tag(odds, "observed_at").filter(pl.col("observed_at") <= pl.col(SNAP)),
        books.join(served, on="snapshot_at", how="inner", maintain_order="left"),
        tag(mappings, "observed_at"),
        history,
    ]
    # a pass holds every intermediate of its snapshots: HOURS_PER_PASS bounds the memory (a 48-hour
    # run in one pass held ~300 MB more) at little cost in speed
    snaps_sorted = snaps[SNAP].sort()
    out = []
    for i in range(0, snaps_sorted.len(), HOURS_PER_PASS):
        these = pl.col(SNAP).is_in(snaps_sorted.slice(i, HOURS_PER_PASS).implode())
        lines_p, odds_p, books_p, maps_p, history_p = (f.filter(these) for f in frames)
        out.append(
            _build_snapshots(
                lines_p,
                odds_p,
                books_p,
                maps_p,
                history_p if history_p.height else None,
                devig_method=devig_method,
                stake_usdc=stake_usdc,
                max_quote_age=max_quote_age,
            )
        )
    return pl.concat(out)

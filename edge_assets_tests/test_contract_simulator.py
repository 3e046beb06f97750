"""The simulator's responses validate with the same client models that parse the real recordings."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from edge_assets.connect import SourceConfig, open_session
from edge_assets.schemas import ODDS_QUOTES, ODDS_SCORES, PM_MARKETS, PM_ORDER_BOOK_SNAPSHOTS
from edge_assets.sources import normalize
from edge_assets.sources.oddsapi import HistoricalOdds, OddsEvent, ScoreEvent, Sport
from edge_assets.sources.polymarket import ClobBook, GammaEvent, GammaMarket, PriceHistory

AT = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
CFG = SourceConfig(
    mode="simulator",
    sim_seed=7,
    sim_url=None,
    gamma_base_url="",
    clob_base_url="",
    odds_base_url="",
    quota_reserve=10,
    timeout_s=5.0,
)


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    with open_session(CFG, api_key="sim-key", as_of=AT) as s:
        yield s


def test_gamma_through_client_models(session) -> None:  # type: ignore[no-untyped-def]
    events = session.gamma.events(closed=False, tag_id=1)
    markets = session.gamma.markets(closed=False, limit=100, sports_market_types=["moneyline"])
    assert events and all(isinstance(e, GammaEvent) for e in events)
    assert markets and all(isinstance(m, GammaMarket) for m in markets)
    frame = normalize.gamma_events_to_frame(events, observed_at=AT)
    assert frame.schema == pl.Schema(PM_MARKETS)
    games = frame.filter(pl.col("sports_market_type") == "moneyline")
    assert set(games["league"].unique()) >= {"nba", "nfl", "nhl", "mlb", "epl"}
    assert games["token_ids"].list.len().min() == 2


def test_clob_through_client_models(session) -> None:  # type: ignore[no-untyped-def]
    markets = session.gamma.markets(closed=False, limit=20, sports_market_types=["moneyline"])
    tokens = [t for m in markets for t in m.clob_token_ids][:10]
    books = session.clob.books(tokens)
    assert len(books) == len(tokens) and all(isinstance(b, ClobBook) for b in books)
    one = session.clob.book(tokens[0])
    assert one.best_ask == books[0].best_ask
    assert session.clob.price(tokens[0], "SELL") == one.best_ask  # SELL = best ask (resting sells)
    assert session.clob.price(tokens[0], "BUY") == one.best_bid
    history = session.clob.prices_history(tokens[0], start_ts=AT - timedelta(hours=6), end_ts=AT, fidelity=60)
    assert isinstance(history, PriceHistory) and len(history.history) >= 5
    frame = normalize.book_to_frame(books, snapshot_at=AT)
    assert frame.schema == pl.Schema(PM_ORDER_BOOK_SNAPSHOTS)
    assert (
        frame.filter(pl.col("side") == "ask")
        .group_by("token_id")
        .agg(pl.col("price").sort_by("level"))["price"]
        .list.eval(pl.element().diff().drop_nulls() >= 0)
        .list.all()
        .all()
    )


def test_odds_api_through_client_models(session) -> None:  # type: ignore[no-untyped-def]
    sports = session.odds.sports()
    assert {"basketball_nba", "soccer_epl"} <= {s.key for s in sports if isinstance(s, Sport)}
    events = session.odds.odds("soccer_epl", regions="us,eu", markets="h2h,totals")
    assert events and all(isinstance(e, OddsEvent) for e in events)
    h2h = [o.name for b in events[0].bookmakers for m in b.markets if m.key == "h2h" for o in m.outcomes]
    assert "Draw" in h2h
    quotes = normalize.odds_to_frame(events, observed_at=AT)
    assert quotes.schema == pl.Schema(ODDS_QUOTES)
    scores = session.odds.scores("basketball_nba", days_from=2)
    assert all(isinstance(s, ScoreEvent) for s in scores) and any(s.completed for s in scores)
    assert normalize.scores_to_frame(scores, observed_at=AT).schema == pl.Schema(ODDS_SCORES)
    hist = session.odds.historical_odds("icehockey_nhl", AT - timedelta(days=30), regions="us", markets="h2h")
    assert isinstance(hist, HistoricalOdds)
    assert hist.timestamp <= AT - timedelta(days=30) < hist.next_timestamp
    assert (hist.timestamp - hist.previous_timestamp) == timedelta(minutes=5)
    fast = session.odds.historical_odds_frame(
        "icehockey_nhl", AT - timedelta(days=30), regions="us", markets="h2h"
    )
    slow = normalize.historical_to_frame(hist)
    assert fast.sort(fast.columns).equals(slow.sort(slow.columns))
    assert session.odds.quota.remaining is not None

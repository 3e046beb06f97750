"""Mapping assets: market_mappings (with the alias-mismatch check) and pm_sportsbook_lines."""

from collections.abc import Iterator
from datetime import datetime
from typing import cast

import dagster as dg
import polars as pl

from edge_assets.assets.common import lake_asset, with_hours_before
from edge_assets.frames import book_poll, by_hour, latest_poll
from edge_assets.mapping.aliases import AliasResolver
from edge_assets.mapping.layout import pm_sportsbook_lines as build_lines
from edge_assets.mapping.matcher import match_hours, unmatched_report
from edge_assets.schemas import MARKET_MAPPINGS, PM_SPORTSBOOK_LINES, conform, empty

MAX_UNMATCHED_SHARE = 0.05


@lake_asset(
    "mapping",
    check_specs=[
        dg.AssetCheckSpec(
            "unmatched_share",
            asset="market_mappings",
            description=f"pre-match, in-scope Polymarket sports markets the mapping failed (names "
            f"or event not resolved) ≤ {MAX_UNMATCHED_SHARE:.0%}; lists the names it could not resolve. "
            "Markets no book quotes and games already started are counted apart: no alias fixes them",
        )
    ],
    description="Each Polymarket token mapped 1-to-1 to an Odds API event and outcome (or the reason not).",
)
def market_mappings(
    context: dg.AssetExecutionContext,
    pm_markets: pl.DataFrame,
    oddsapi_live: pl.DataFrame,
    team_aliases: pl.DataFrame,
) -> Iterator[dg.Output[pl.DataFrame] | dg.AssetCheckResult]:  # its value, then its check result
    resolver = AliasResolver(team_aliases)  # the seed asset, so alias edits show in lineage
    df = match_hours(pm_markets, oddsapi_live, resolver)
    df = conform(df, MARKET_MAPPINGS) if df.height else empty(MARKET_MAPPINGS)
    report = unmatched_report(df, pm_markets)
    share = report["unmatched_share"]
    check = dg.AssetCheckResult(
        check_name="unmatched_share",
        passed=share <= MAX_UNMATCHED_SHARE,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unmatched_share": share,
            "in_scope": report["in_scope"],
            "no_book_quote": report["no_book_quote"],
            "after_start": report["after_start"],
            "unresolved_names": dg.MetadataValue.json(dict(list(report["unresolved_names"].items())[:50])),
        },
    )
    counts = df.group_by("method").len().sort("method")
    yield dg.Output(
        df,
        metadata={
            "dagster/row_count": df.height,
            "unmatched_share": share,
            "by_method": dg.MetadataValue.json(dict(zip(counts["method"], counts["len"], strict=True))),
        },
    )
    yield check


@lake_asset(
    "mapping",
    # an hour's first runs, before its hourly book poll, price on the previous hour's books
    ins={"pm_order_book_snapshots": with_hours_before()},
    description="Polymarket's executable prices in the oddsapi_live layout (bookmaker = polymarket): decimal "
    "price from the best ask including the taker fee, and the size available at that price.",
)
def pm_sportsbook_lines(
    pm_markets: pl.DataFrame,
    pm_order_book_snapshots: pl.DataFrame,
    market_mappings: pl.DataFrame,
    oddsapi_live: pl.DataFrame,
) -> dg.MaterializeResult:
    odds_h = by_hour(oddsapi_live, "observed_at")
    books_by_hour = by_hour(pm_order_book_snapshots, "snapshot_at")
    maps_by_hour = by_hour(market_mappings, "observed_at")
    frames = []
    for hour, markets in by_hour(pm_markets, "observed_at").items():
        poll = latest_poll(markets)
        at = cast(datetime, poll["observed_at"].max())  # an hour's poll has rows: never None
        books = book_poll(books_by_hour, hour, at)
        maps = maps_by_hour.get(hour, market_mappings.clear())
        odds = odds_h.get(hour, oddsapi_live.clear())
        frames.append(build_lines(poll, books, maps, observed_at=at, odds=odds))
    df = conform(pl.concat(frames), PM_SPORTSBOOK_LINES) if frames else empty(PM_SPORTSBOOK_LINES)
    return dg.MaterializeResult(value=df, metadata={"dagster/row_count": df.height})

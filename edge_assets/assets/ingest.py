"""Ingestion assets: raw responses first, then curated hourly/daily partitions (upserted).

Live endpoints are polled "now"; on the embedded simulator a past hour is reproduced by polling
as of fixed minutes inside that hour, so backfills of live assets are deterministic.
"""

from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import dagster as dg
import polars as pl
from dagster._core.storage.tags import BACKFILL_ID_TAG

from edge_assets.assets.common import DAILY_ROOT_POLICY, HOURLY_RUN_PARTITIONS, lake_asset
from edge_assets.connect import DEFAULT_SIM_POLL_MINUTES
from edge_assets.frames import latest_poll, upsert_rows
from edge_assets.lake.io_manager import UPSERT_KEYS, UPSERT_REPLACES, LakeResource
from edge_assets.lake.raw import RAW_TABLE, RawStore
from edge_assets.lake.storage import Lake
from edge_assets.partitions import DAILY, HOURLY, hour_key, hour_start
from edge_assets.schemas import ODDS_QUOTES, ODDS_SCORES, PM_MARKETS, PM_ORDER_BOOK_SNAPSHOTS, conform, empty
from edge_assets.settings import get_settings
from edge_assets.sources import normalize
from edge_assets.sources.http import MalformedResponse, SourceError
from edge_assets.sources.oddsapi import (
    HISTORICAL_ODDS,
    ODDS_ENDPOINT,
    SCORES_DAYS_FROM,
    SCORES_ENDPOINT,
    OddsApiClient,
    QuotaExhausted,
    odds_cost,
    parse_scores_body,
)
from edge_assets.sources_resource import SourcesResource

SIM_POLL_MINUTES = DEFAULT_SIM_POLL_MINUTES
IN_SCOPE_TYPES = ("moneyline", "spreads", "totals")
SPORTS_TAG_ID = 1  # Gamma's "Sports" parent tag
# the key of a polled row: a re-poll of the same instant replaces it, other polls add to it
PM_MARKETS_KEY = ["observed_at", "market_id"]
BOOKS_KEY = ["snapshot_at", "token_id", "side", "level"]
# a re-poll of a book (same snapshot time: the markets poll's) replaces it whole: a shallower new book
# kept the old poll's deeper levels, a book that never existed
BOOK_ID = ["snapshot_at", "token_id"]
LIVE_ODDS_KEY = ["observed_at", "event_id", "bookmaker", "market_key", "outcome_name", "point"]
SCORES_KEY = ["observed_at", "event_id"]

raw_responses = dg.AssetSpec(
    RAW_TABLE,
    group_name="raw",
    kinds={"parquet"},
    description="Every API response body (zstd), request params minus the key, status, quota headers, "
    "timing and sha256, written by the ingestion assets before parsing. Immutable.",
)


def _now() -> datetime:
    return datetime.now(UTC)


def poll_times(
    start: datetime, end: datetime, sources: SourcesResource, now: datetime, what: str
) -> list[datetime]:
    """When to poll a live endpoint for the hours in [start, end)."""
    cfg = sources.config()
    if cfg.can_time_travel:
        times = []
        hour = start
        while hour < end:
            times += [
                hour + timedelta(minutes=m)
                for m in sorted(sources.sim_poll_minutes)
                if hour + timedelta(minutes=m) <= now
            ]
            hour += timedelta(hours=1)
        if start <= now < end and (not times or times[-1] < now):
            times.append(now.replace(microsecond=0))
        if times:
            return times
    elif start <= now < end:
        return [now]
    raise dg.Failure(
        description=f"{what} is polled live: hours {start:%Y-%m-%d %H:%M}..{end:%H:%M} UTC cannot be "
        f"fetched now ({now:%Y-%m-%d %H:%M} UTC). Use oddsapi_historical_hourly for past odds."
    )


def upsert(
    lake: Lake,
    table: str,
    keys: list[str],
    new: pl.DataFrame,
    key_cols: list[str],
    schema: dict,
    replace_by: Sequence[str] = (),
) -> pl.DataFrame:
    """Merge a poll into what the partitions already hold: no duplicates, nothing lost (the IO
    manager merges it again over what they hold at write time: `upsert_keys`)."""
    held = lake.read_many(table, keys, allow_missing=True)
    old, polled = (conform(f, schema) if f.height else empty(schema) for f in (held, new))
    return upsert_rows(old, polled, key_cols, replace_by)


# Per endpoint: one raw body parsed as its asset parses it (MalformedResponse on drift), to find which
# response broke a failed parse (`RawStore.mark_parse_errors`)
Parsers = Mapping[str, Callable[[bytes], object]]
_ANY_TIME = datetime(2026, 1, 1, tzinfo=UTC)
GAMMA_PARSERS: Parsers = {
    "/events": lambda b: normalize.gamma_event_bodies_to_frame([b], observed_at=_ANY_TIME)
}
BOOK_PARSERS: Parsers = {"/books": lambda b: normalize.book_bodies_to_frame([b], snapshot_at=_ANY_TIME)}
ODDS_PARSERS: Parsers = {ODDS_ENDPOINT: lambda b: normalize.odds_bodies_to_frame([b], observed_at=_ANY_TIME)}
HISTORICAL_PARSERS: Parsers = {HISTORICAL_ODDS: lambda b: normalize.historical_bodies_to_frame([b])}
SCORES_PARSERS: Parsers = {
    SCORES_ENDPOINT: lambda b: normalize.scores_to_frame(parse_scores_body(b), observed_at=_ANY_TIME)
}


def _guarded(
    context: dg.AssetExecutionContext,
    what: str,
    fn: Callable[[], pl.DataFrame],
    store: RawStore,
    parsers: Parsers,
) -> pl.DataFrame:
    """Turn source errors into one clear step failure; raw bodies are already in the lake, and a
    body that does not parse gets its `parse_error` there."""
    try:
        return fn()
    except QuotaExhausted as exc:
        raise dg.Failure(description=f"{what}: stopped cleanly, {exc}") from None
    except MalformedResponse as exc:
        try:
            marked = store.mark_parse_errors(parsers)
        except Exception as mark_exc:  # the failure to report is the parse's, not this lookup's
            context.log.warning(f"{what}: could not set parse_error on the raw responses: {mark_exc!r}")
            marked = []
        where = RAW_TABLE
        if marked:
            more = f" and {len(marked) - 1} more" if len(marked) > 1 else ""
            where = f"{RAW_TABLE}/{marked[0].split(f'/{RAW_TABLE}/', 1)[-1]}{more} (parse_error set)"
        raise dg.Failure(
            description=f"{what}: malformed response kept raw in {where}; curated rows unchanged. {exc}"
        ) from None
    except SourceError as exc:
        raise dg.Failure(description=f"{what}: {exc}") from None


def _record_raw(context: dg.AssetExecutionContext, store: RawStore) -> None:
    context.log_event(
        dg.AssetObservation(
            asset_key=RAW_TABLE,
            metadata={"files_written": len(store.files), "body_bytes": store.bytes},
        )
    )


def ingest_asset(
    description: str,
    *,
    partitions_def: dg.PartitionsDefinition = HOURLY,
    partition_column: str = "observed_at",
    backfill_policy: dg.BackfillPolicy | None = None,
    upsert_keys: list[str] | None = None,
    upsert_replaces: list[str] | None = None,
) -> Callable:
    """Ingestion assets: raw lineage upstream, otherwise the shared lake-asset shape. A polled table
    names its `upsert_keys`: the IO manager merges each partition over what it holds at write time."""
    policy: dict[str, Any] = {"backfill_policy": backfill_policy} if backfill_policy else {}
    return lake_asset(
        "ingest",
        partitions_def=partitions_def,
        partition_column=partition_column,
        deps=[raw_responses],
        description=description,
        metadata={
            **({UPSERT_KEYS: upsert_keys} if upsert_keys else {}),
            **({UPSERT_REPLACES: upsert_replaces} if upsert_replaces else {}),
        }
        or None,
        **policy,
    )


def _window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime, list[str]]:
    window = context.partition_time_window
    return window.start, window.end, list(context.partition_keys)


@ingest_asset(
    "Polymarket sports markets from Gamma /events, one row per market per poll; polls upsert.",
    upsert_keys=PM_MARKETS_KEY,
)
def pm_markets(
    context: dg.AssetExecutionContext, sources: SourcesResource, lake: LakeResource
) -> dg.MaterializeResult:
    start, end, keys = _window(context)
    store = RawStore(lake.lake())
    frames = []

    def fetch() -> pl.DataFrame:
        for at in poll_times(start, end, sources, _now(), "pm_markets"):
            with sources.session(as_of=at, on_response=store) as s:
                bodies = s.gamma.events_bodies(closed=False, tag_id=SPORTS_TAG_ID)
            # one polars read of the raw pages (already in the lake via the hook), no wire models
            frames.append(normalize.gamma_event_bodies_to_frame(bodies, observed_at=at))
        return pl.concat(frames) if frames else empty(PM_MARKETS)

    polled = _guarded(context, "pm_markets", fetch, store, GAMMA_PARSERS)
    _record_raw(context, store)
    df = upsert(lake.lake(), "pm_markets", keys, polled, PM_MARKETS_KEY, PM_MARKETS)
    return dg.MaterializeResult(
        value=df,
        metadata={
            "dagster/row_count": df.height,
            "polls": len(frames),
            "markets_last_poll": latest_poll(polled).height,
        },
    )


@ingest_asset(
    "CLOB order books of tradable in-scope sports tokens (all levels + per-book summary), "
    "one snapshot per hour (plus on-demand re-runs, which upsert).",
    partition_column="snapshot_at",
    upsert_keys=BOOKS_KEY,
    upsert_replaces=BOOK_ID,
)
def pm_order_book_snapshots(
    context: dg.AssetExecutionContext, sources: SourcesResource, lake: LakeResource, pm_markets: pl.DataFrame
) -> dg.MaterializeResult:
    keys = list(context.partition_keys)
    store = RawStore(lake.lake())
    now = _now()
    frames = []

    live = not sources.config().can_time_travel
    if live:  # a book fetched now stamped with a past hour's poll would price the past on the future
        window = context.partition_time_window
        poll_times(window.start, window.end, sources, now, "pm_order_book_snapshots")

    def fetch() -> pl.DataFrame:
        if pm_markets.height == 0:
            return empty(PM_ORDER_BOOK_SNAPSHOTS)
        latest = pm_markets.with_columns(hour=pl.col("observed_at").dt.truncate("1h")).filter(
            pl.col("observed_at") == pl.col("observed_at").max().over("hour")
        )
        if live:  # a range reaching the current hour: only its books can be fetched now
            latest = latest.filter(pl.col("hour") == now.replace(minute=0, second=0, microsecond=0))
        for _, group in latest.group_by(["hour"], maintain_order=True):
            at = min(cast(datetime, group["observed_at"].max()), now)  # a group has rows: never None
            tokens = (
                group.filter(
                    pl.col("sports_market_type").is_in(IN_SCOPE_TYPES)
                    & ~pl.col("closed")
                    & pl.col("accepting_orders")
                )
                .select(pl.col("token_ids").explode())
                .unique()
                .sort("token_ids")["token_ids"]
                .to_list()
            )
            if not tokens:
                continue
            with sources.session(as_of=at, on_response=store) as s:
                bodies = s.clob.books_bodies(tokens)
            # one polars read of the raw bodies (already in the lake via the hook), no wire models
            frames.append(normalize.book_bodies_to_frame(bodies, snapshot_at=at))
        return pl.concat(frames) if frames else empty(PM_ORDER_BOOK_SNAPSHOTS)

    polled = _guarded(context, "pm_order_book_snapshots", fetch, store, BOOK_PARSERS)
    _record_raw(context, store)
    df = upsert(
        lake.lake(),
        "pm_order_book_snapshots",
        keys,
        polled,
        BOOKS_KEY,
        PM_ORDER_BOOK_SNAPSHOTS,
        BOOK_ID,
    )
    return dg.MaterializeResult(
        value=df, metadata={"dagster/row_count": df.height, "books": polled["token_id"].n_unique()}
    )


def _odds_for(
    sources: SourcesResource, store: RawStore, at: datetime, quota: dict[str, int | None]
) -> pl.DataFrame:
    with sources.session(as_of=at, on_response=store) as s:
        bodies = s.odds.odds_bodies(
            sources.sports, regions=sources.odds_regions, markets=sources.odds_markets, odds_format="decimal"
        )
        quota["remaining"] = s.odds.quota.remaining
    # one polars read + flatten per poll (raw bodies are already in the lake via the hook)
    return normalize.odds_bodies_to_frame(bodies, observed_at=at)


@ingest_asset(
    "Live sportsbook odds (The Odds API /odds, decimal), one row per outcome quote per poll.",
    upsert_keys=LIVE_ODDS_KEY,
)
def oddsapi_live(
    context: dg.AssetExecutionContext, sources: SourcesResource, lake: LakeResource
) -> dg.MaterializeResult:
    start, end, keys = _window(context)
    store = RawStore(lake.lake())
    quota: dict[str, int | None] = {"remaining": None}

    def fetch() -> pl.DataFrame:
        times = poll_times(start, end, sources, _now(), "oddsapi_live")
        return pl.concat([_odds_for(sources, store, at, quota) for at in times])

    polled = _guarded(context, "oddsapi_live", fetch, store, ODDS_PARSERS)
    _record_raw(context, store)
    df = upsert(
        lake.lake(),
        "oddsapi_live",
        keys,
        polled,
        LIVE_ODDS_KEY,
        ODDS_QUOTES,
    )
    meta: dict[str, int] = {"dagster/row_count": df.height, "events": df["event_id"].n_unique()}
    if quota["remaining"] is not None:
        meta["quota_remaining"] = quota["remaining"]
    return dg.MaterializeResult(value=df, metadata=meta)


def historical_cost_note() -> str:
    """What an hour costs with a live key, for the asset page, and what a run checks first."""
    s = get_settings()
    each = odds_cost(s.odds_markets, s.odds_regions, historical=True)
    per_hour = len(s.sports) * each
    return (
        f"With a live key an hour costs up to {per_hour:,} credits ({len(s.sports)} sports x {each}, the "
        f"settings this code location loaded), a {HOURLY_RUN_PARTITIONS}-hour UI backfill run up to "
        f"{per_hour * HOURLY_RUN_PARTITIONS:,}. A run of a UI backfill first checks all the hours the "
        "backfill has left against the key's credits; when they do not fit above EDGE_QUOTA_RESERVE it "
        "fails, nothing spent, and cancels the backfill: `edge quota` shows the key's balance."
    )


def hours_left_to_fetch(
    backfill_keys: Sequence[str], run_start: datetime, now: datetime, fetched: AbstractSet[str]
) -> list[str]:
    """The hours of a backfill still to pay for, as of a run of it: from the run's first hour on,
    and earlier ones never fetched (a run refused before this one); an hour not begun costs nothing.
    Why the earlier ones: a refused run cancels its backfill, but the next may already be queued."""
    return sorted(
        k for k in backfill_keys if hour_start(k) <= now and (hour_start(k) >= run_start or k not in fetched)
    )


def _backfill_keys(context: dg.AssetExecutionContext) -> list[str]:
    """This asset's partition keys in the backfill (launched from the UI) the run belongs to; [] for
    a run outside one. Reads the instance's backfill record, so a failure to read it only warns."""
    backfill_id = context.run.tags.get(BACKFILL_ID_TAG)
    if not backfill_id:
        return []
    try:
        backfill = context.instance.get_backfill(backfill_id)
        if backfill is None or backfill.asset_backfill_data is None:
            return []
        target = backfill.asset_backfill_data.target_subset
        return list(target.get_partitions_subset(context.asset_key).get_partition_keys())
    except Exception as exc:  # a Dagster internals change must not stop the run: it checks its own hours
        context.log.warning(
            f"could not read backfill {backfill_id}'s range ({exc!r}): checking this run's hours"
        )
        return []


def _check_backfill_credits(
    context: dg.AssetExecutionContext, odds: OddsApiClient, left: list[str], sports: int, cost: int
) -> None:
    """QuotaExhausted when the hours a UI backfill has left cannot be paid for, and the backfill
    canceled: its later runs, each fitting on its own, would spend on part of a range refused."""
    from dagster._core.execution.backfill import BulkActionStatus  # ~0.1 s, off every run's import

    backfill_id = context.run.tags[BACKFILL_ID_TAG]
    what = f"the {len(left):,} hours backfill {backfill_id} has left, {left[0]} to {left[-1]} UTC"
    try:
        odds.check_credits_for(len(left) * sports, cost, HISTORICAL_ODDS, what)
    except QuotaExhausted as exc:
        outcome = f"Backfill {backfill_id} canceled"
        try:
            backfill = context.instance.get_backfill(backfill_id)
            assert backfill is not None
            context.instance.update_backfill(backfill.with_status(BulkActionStatus.CANCELING))
        except Exception as cancel_exc:  # the refusal is the failure to report; say what is left to do
            context.log.warning(f"could not cancel backfill {backfill_id}: {cancel_exc!r}")
            outcome = f"Cancel backfill {backfill_id}"
        hint = (
            f"{outcome}, nothing spent: launch a shorter range or spend less an hour (EDGE_SPORTS, "
            "EDGE_ODDS_MARKETS, EDGE_ODDS_REGIONS)"
        )
        raise QuotaExhausted(
            exc.source, exc.endpoint, exc.status, exc.error_code, f"{exc.message}. {hint}"
        ) from None


@ingest_asset(
    "Historical odds: one /v4/historical call per sport per hour (the snapshot just before the "
    "hour ends). observed_at is the snapshot's own timestamp. Backfill ranges as one run. "
    + historical_cost_note(),
)
def oddsapi_historical_hourly(
    context: dg.AssetExecutionContext, sources: SourcesResource, lake: LakeResource
) -> dg.MaterializeResult:
    start, end, keys = _window(context)
    store = RawStore(lake.lake())
    now = _now()
    bodies: list[bytes] = []

    dates = []  # the snapshot just before each hour ends (or now, for the hour in progress)
    hour = start
    while hour < end and hour <= now:
        dates.append(min(hour + timedelta(minutes=59), now))
        hour += timedelta(hours=1)

    left: list[str] = []
    if backfill_keys := _backfill_keys(context):
        fetched = context.instance.get_materialized_partitions(context.asset_key)
        left = hours_left_to_fetch(backfill_keys, start, now, fetched)

    def fetch() -> pl.DataFrame:
        with sources.session(as_of=now, on_response=store) as s:
            cost = odds_cost(sources.odds_markets, sources.odds_regions, historical=True)
            if len(left) > len(dates):  # a UI backfill with more than this run's hours: all, before any spend
                _check_backfill_credits(context, s.odds, left, len(sources.sports), cost)
            s.odds.check_credits_for(len(dates) * len(sources.sports), cost, HISTORICAL_ODDS)
            snapshots = [(sport, date) for date in dates for sport in sources.sports]
            bodies.extend(
                s.odds.each(
                    lambda snapshot: s.odds.historical_odds_body(
                        *snapshot,
                        regions=sources.odds_regions,
                        markets=sources.odds_markets,
                        odds_format="decimal",
                    ),
                    snapshots,
                )
            )
        # every snapshot of the range in one polars pass (raw bodies are already in the lake)
        return normalize.historical_bodies_to_frame(bodies, "decimal")

    polled = _guarded(context, "oddsapi_historical_hourly", fetch, store, HISTORICAL_PARSERS)
    _record_raw(context, store)
    df = (
        conform(polled, ODDS_QUOTES)
        .unique(
            subset=["observed_at", "event_id", "bookmaker", "market_key", "outcome_name", "point"],
            keep="last",
        )
        .sort(["observed_at", "event_id", "bookmaker", "market_key", "outcome_name"])
    )
    return dg.MaterializeResult(
        value=df,
        metadata={"dagster/row_count": df.height, "hours": len(keys), "api_calls": len(bodies)},
    )


@ingest_asset(
    "Scores and results (The Odds API /scores, daysFrom=3) for labels and closing lines; "
    "one poll per day, ranges of days backfill as one run.",
    partitions_def=DAILY,
    backfill_policy=DAILY_ROOT_POLICY,
    upsert_keys=SCORES_KEY,
)
def oddsapi_scores(
    context: dg.AssetExecutionContext, sources: SourcesResource, lake: LakeResource
) -> dg.MaterializeResult:
    window = context.partition_time_window
    keys = list(context.partition_keys)
    store = RawStore(lake.lake())
    now = _now()
    cfg = sources.config()
    if window.start > now:
        raise dg.Failure(description=f"oddsapi_scores: day {keys[0]} has not started yet")
    if not cfg.can_time_travel and now >= window.end:
        raise dg.Failure(
            description=f"oddsapi_scores: day {keys[-1]} is past; scores are polled live (daysFrom ≤ 3)"
        )
    # one poll per day, just before it ends (or now): a range of days is one run (single-run backfill)
    polls = []
    day = window.start
    while day < window.end and day <= now:
        polls.append(min(now, day + timedelta(days=1) - timedelta(minutes=1)))
        day += timedelta(days=1)

    def fetch() -> pl.DataFrame:
        frames: list[pl.DataFrame] = []
        for at in polls:
            with sources.session(as_of=at, on_response=store) as s:
                per_sport = s.odds.scores_of(sources.sports, SCORES_DAYS_FROM)
                frames.extend(normalize.scores_to_frame(scores, observed_at=at) for scores in per_sport)
        return pl.concat(frames) if frames else empty(ODDS_SCORES)

    polled = _guarded(context, "oddsapi_scores", fetch, store, SCORES_PARSERS)
    _record_raw(context, store)
    df = upsert(lake.lake(), "oddsapi_scores", keys, polled, SCORES_KEY, ODDS_SCORES)
    return dg.MaterializeResult(
        value=df, metadata={"dagster/row_count": df.height, "completed": int(df["completed"].sum() or 0)}
    )


__all__ = [
    "hour_key",
    "oddsapi_historical_hourly",
    "oddsapi_live",
    "oddsapi_scores",
    "pm_markets",
    "pm_order_book_snapshots",
    "raw_responses",
]

"""Asset checks: freshness, completeness and schema, read straight from the lake (no full reloads)."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import polars as pl

from edge_assets import monitoring
from edge_assets.assets import ingest, trading, training
from edge_assets.lake.io_manager import LakeResource
from edge_assets.lake.storage import Lake
from edge_assets.models_resource import ModelsResource
from edge_assets.partitions import hour_key, hour_start, hours_between
from edge_assets.schemas import ODDS_QUOTES, PM_MARKETS, PM_ORDER_BOOK_SNAPSHOTS
from edge_assets.sources_resource import SourcesResource


def recent(lake: Lake, table: str, now: datetime, hours: int = 2) -> pl.DataFrame:
    keys = [hour_key(now - timedelta(hours=h)) for h in range(hours)]
    return lake.read_many(table, keys, allow_missing=True)


def run_hours(context: dg.AssetCheckExecutionContext) -> list[str] | None:
    """The hourly partitions the check's run materialized (None: a run of no partition, e.g. checks only)."""
    try:
        tags = context.run.tags
    except dg.DagsterError:  # invoked directly (build_asset_check_context): no run
        return None
    if key := tags.get("dagster/partition"):
        return [key]
    first, last = (
        tags.get("dagster/asset_partition_range_start"),
        tags.get("dagster/asset_partition_range_end"),
    )
    if not (first and last):
        return None
    return hours_between(hour_start(first), hour_start(last) + timedelta(hours=1))


def judged(context: dg.AssetCheckExecutionContext, lake: Lake, table: str, now: datetime) -> pl.DataFrame:
    """What a content check reads: the hours its run wrote (the last two of a range: one code wrote them
    all), else the latest two. A backfill of past hours was judged on the live hours before."""
    hours = run_hours(context)
    if hours is None:
        return recent(lake, table, now)
    return lake.read_many(table, hours[-2:], allow_missing=True)


def past_hours_only(context: dg.AssetCheckExecutionContext, now: datetime) -> str | None:
    """Why freshness is not judged: the run wrote only hours before the latest two (a backfill)."""
    hours = run_hours(context)
    if hours is None or max(hours) >= hour_key(now - timedelta(hours=1)):
        return None
    return (
        f"not judged: this run wrote past hours ({hours[0]}..{hours[-1]}); the latest hours' runs judge "
        "freshness"
    )


def _result(outcome: monitoring.CheckOutcome, severity: dg.AssetCheckSeverity) -> dg.AssetCheckResult:
    meta = {
        k: (dg.MetadataValue.json(v) if isinstance(v, list | dict) else v)
        for k, v in outcome.metadata.items()
    }
    return dg.AssetCheckResult(
        passed=outcome.passed,
        severity=severity,
        description=outcome.message,
        metadata={**meta, "message": outcome.message},
    )


def _freshness_check(asset: dg.AssetsDefinition, table: str) -> dg.AssetChecksDefinition:
    limit = monitoring.FRESHNESS_LIMITS[table][1]

    @dg.asset_check(
        asset=asset, name="fresh", description=f"latest poll ≤ {limit.total_seconds() / 60:.0f} min old"
    )
    def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
        now = datetime.now(UTC)
        if why := past_hours_only(context, now):
            return dg.AssetCheckResult(passed=True, severity=dg.AssetCheckSeverity.WARN, description=why)
        return _result(
            monitoring.freshness(table, recent(lake.lake(), table, now), now), dg.AssetCheckSeverity.WARN
        )

    return _check


def _schema_check(asset: dg.AssetsDefinition, table: str, contract: dict) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=asset,
        name="schema",
        description="the partitions the run wrote (else the latest) match the contract",
    )
    def _check(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
        df = judged(context, lake.lake(), table, datetime.now(UTC))
        return _result(monitoring.schema_matches(table, df, contract), dg.AssetCheckSeverity.ERROR)

    return _check


@dg.asset_check(
    asset=ingest.oddsapi_live,
    name="leagues_present",
    description="every configured league has live quotes in the hours the run wrote (else the last two), "
    "unless The Odds API lists it as out of season",
)
def oddsapi_live_leagues(
    context: dg.AssetCheckExecutionContext, lake: LakeResource, sources: SourcesResource
) -> dg.AssetCheckResult:
    df = judged(context, lake.lake(), "oddsapi_live", datetime.now(UTC))
    outcome = monitoring.sports_present(df, sources.sports, in_season=sources.sports_in_season)
    return _result(outcome, dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=ingest.pm_markets, name="row_count", description="markets per hour within a sane range")
def pm_markets_rows(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
    # the run's hours; else two hours: a check run just after the hour turns finds the new hour empty
    df = judged(context, lake.lake(), "pm_markets", datetime.now(UTC))
    latest = df.filter(pl.col("observed_at") == pl.col("observed_at").max()) if df.height else df
    return _result(monitoring.row_count_in_range("pm_markets", latest, 1, 20_000), dg.AssetCheckSeverity.WARN)


PAPER_CHECK_DAYS = 14


def _paper_days(now: datetime) -> list[str]:
    """The day keys the paper-trading checks read: the last PAPER_CHECK_DAYS and today."""
    return [(now - timedelta(days=d)).strftime("%Y-%m-%d") for d in range(PAPER_CHECK_DAYS, -1, -1)]


@dg.asset_check(
    asset=trading.paper_trades,
    name="settled_in_horizon",
    description=f"no paper trade of the last {PAPER_CHECK_DAYS} days is open past its settlement horizon",
)
def paper_trades_settled(lake: LakeResource, models: ModelsResource) -> dg.AssetCheckResult:
    now = datetime.now(UTC)
    trades = lake.lake().read_many("paper_trades", _paper_days(now), allow_missing=True)
    horizon = timedelta(days=models.label_horizon_days)
    return _result(monitoring.unsettled_trades(trades, now, horizon), dg.AssetCheckSeverity.WARN)


@dg.asset_check(
    asset=trading.paper_fills,
    name="fills_match_trades",
    description=f"each paper trade of the last {PAPER_CHECK_DAYS} days has fills summing to its shares, VWAP",
)
def paper_fills_match(lake: LakeResource) -> dg.AssetCheckResult:
    days = _paper_days(datetime.now(UTC))
    store = lake.lake()
    trades = store.read_many("paper_trades", days, allow_missing=True)
    fills = store.read_many("paper_fills", days, allow_missing=True)
    return _result(monitoring.fills_match_trades(trades, fills), dg.AssetCheckSeverity.WARN)


@dg.asset_check(
    asset=training.edge_models,
    name="champion_beats_rule",
    description="the champion after the latest training run accepts real edges (EV at the close >= 3 %) "
    "at least as precisely as the rule confidence, at a recall at least the rule's, on that run's "
    "held-out window",
)
def champion_beats_rule(models: ModelsResource) -> dg.AssetCheckResult:
    from edge_assets.ml.registry import last_versus_rule
    from edge_assets.ml.train import versus_rule

    found = last_versus_rule(models.tracking_uri) if models.has_store() else None
    if found is None:
        return dg.AssetCheckResult(
            passed=True,
            severity=dg.AssetCheckSeverity.WARN,
            description="no training run has judged a champion yet: the rule confidence decides check (1)",
        )
    version, champ, rule = found
    passed, account = versus_rule(champ, rule, f"champion v{version}")
    if models.confidence_by == "rule":
        account += " (EDGE_CONFIDENCE_BY=rule: the rule decides check (1) meanwhile)"
    stats = {
        f"{side}_{k}": v for side, d in (("champion", champ), ("rule", rule)) for k, v in d.items() if v == v
    }
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.WARN,
        description=account,
        metadata={"champion_version": version, "confidence_by": models.confidence_by, **stats},
    )


CHECKS = [
    _freshness_check(ingest.pm_markets, "pm_markets"),
    _freshness_check(ingest.oddsapi_live, "oddsapi_live"),
    _freshness_check(ingest.pm_order_book_snapshots, "pm_order_book_snapshots"),
    _schema_check(ingest.pm_markets, "pm_markets", PM_MARKETS),
    _schema_check(ingest.oddsapi_live, "oddsapi_live", ODDS_QUOTES),
    _schema_check(ingest.pm_order_book_snapshots, "pm_order_book_snapshots", PM_ORDER_BOOK_SNAPSHOTS),
    oddsapi_live_leagues,
    pm_markets_rows,
    paper_trades_settled,
    paper_fills_match,
    champion_beats_rule,
]

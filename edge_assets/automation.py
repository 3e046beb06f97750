"""Schedules and sensors: the ingestion cadence (DESIGN §3), the comparator sensor, monitor alerts."""

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import dagster as dg
from dagster_shared.error import SerializableErrorInfo

from edge_assets import monitoring
from edge_assets.assets import comparator, ingest, mapping, seeds, trading, training
from edge_assets.checks import recent
from edge_assets.comparator_resources import AlertsResource
from edge_assets.lake.io_manager import LakeResource
from edge_assets.lake.raw import RAW_TABLE, compact_closed_hours
from edge_assets.partitions import hour_key
from edge_assets.runner import RANGE_END, RANGE_START
from edge_assets.settings import get_settings
from edge_assets.sources_resource import SourcesResource

if TYPE_CHECKING:  # dagster exports the class only under its private path
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

RUNNING = dg.DefaultScheduleStatus.RUNNING

COMPARATOR_CHAIN = [
    mapping.market_mappings,
    mapping.pm_sportsbook_lines,
    comparator.features_latest,
    comparator.signals,
]


def job(name: str, selection: list) -> "UnresolvedAssetJobDefinition":
    """A job for the schedules and sensors, run in one process: the default executor starts a
    process per step (each importing Dagster, polars and this package), which took ~30 s to do a
    1 s markets poll and its three checks, every minute, on 2 cores. UI backfills of the whole
    graph keep the default (parallel steps) through the implicit asset job."""
    return dg.define_asset_job(name, selection=selection, executor_def=dg.in_process_executor)


comparator_job = job("comparator_job", COMPARATOR_CHAIN)
# a markets poll also polls the live odds at their cadence and runs the comparator chain behind them
# (markets_poll_selection): a tick asks for the part of this job it needs
markets_job = job("pm_markets_job", [ingest.pm_markets, ingest.oddsapi_live, *COMPARATOR_CHAIN])
live_odds_job = job("oddsapi_live_job", [ingest.oddsapi_live])
books_job = job("order_books_job", [ingest.pm_order_book_snapshots])
historical_job = job("oddsapi_historical_job", [ingest.oddsapi_historical_hourly])
scores_job = job("oddsapi_scores_job", [ingest.oddsapi_scores])


def every_minutes_cron(minutes: int) -> str:
    """`*/N` for N minutes (cron restarts it each hour); 60 or more is once an hour, at :00."""
    return "0 * * * *" if minutes >= 60 else f"*/{minutes} * * * *"


def on_cadence(minute: int, every: int) -> bool:
    """Whether `every_minutes_cron(every)` fires at this minute of the hour."""
    return minute == 0 if every >= 60 else minute % every == 0


def _current_hour_schedule(
    name: str,
    job: "UnresolvedAssetJobDefinition",
    cron: str,
    offset: timedelta = timedelta(0),
    selection: Callable[[dg.DagsterInstance, datetime], list[dg.AssetKey]] | None = None,
) -> dg.ScheduleDefinition:
    """Each tick polls into the partition of its own hour (offset -1h: the last complete hour);
    ``selection`` picks the job's assets for the tick's time (default: all of them)."""

    @dg.schedule(name=name, cron_schedule=cron, job=job, default_status=RUNNING, execution_timezone="UTC")
    def _schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        at = context.scheduled_execution_time.astimezone(UTC) + offset
        key = hour_key(at)
        return dg.RunRequest(
            run_key=f"{name}:{context.scheduled_execution_time.isoformat()}",
            partition_key=key,
            asset_selection=selection(context.instance, at) if selection else None,
        )

    return _schedule


def markets_poll_selection(instance: dg.DagsterInstance, at: datetime) -> list[dg.AssetKey]:
    """The Gamma poll; the live odds poll too when the odds cadence falls on this minute; the
    comparator chain behind them once the hour has live odds or this run polls them. A comparator
    run of its own, requested by the sensor after a poll, cost a run start (~2.5 s) and the sensor's
    wait (~2.6 s), half the way from a poll to its signals; an odds poll in a run of its own cost one
    more run start."""
    settings = get_settings()
    selection = [ingest.pm_markets.key]
    if settings.odds_with_markets_poll and on_cadence(at.minute, settings.odds_live_every_minutes):
        selection.append(ingest.oddsapi_live.key)
    if settings.price_with_markets_poll and (
        ingest.oddsapi_live.key in selection
        or not _missing_inputs(instance, hour_key(at), needs=[ingest.oddsapi_live.key])
    ):
        selection += [a.key for a in COMPARATOR_CHAIN]
    return selection


markets_schedule = _current_hour_schedule(
    "pm_markets_every_minute", markets_job, "* * * * *", selection=markets_poll_selection
)
# in service only when EDGE_ODDS_WITH_MARKETS_POLL is off (SCHEDULES): else the markets poll polls the odds
live_odds_schedule = _current_hour_schedule(
    "oddsapi_live_poll", live_odds_job, every_minutes_cron(get_settings().odds_live_every_minutes)
)
books_schedule = _current_hour_schedule("order_books_hourly", books_job, "2 * * * *")
historical_schedule = _current_hour_schedule(
    "oddsapi_historical_hourly_schedule", historical_job, "7 * * * *", offset=timedelta(hours=-1)
)


@dg.schedule(
    name="oddsapi_scores_hourly",
    cron_schedule="15 * * * *",
    job=scores_job,
    default_status=RUNNING,
    execution_timezone="UTC",
)
def scores_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = context.scheduled_execution_time.astimezone(UTC).strftime("%Y-%m-%d")
    return dg.RunRequest(run_key=f"scores:{context.scheduled_execution_time.isoformat()}", partition_key=day)


# new rows of these for an hour re-run the comparator for it (fresh books re-price the hour)
WATCHED = [ingest.oddsapi_live.key, ingest.pm_markets.key, ingest.pm_order_book_snapshots.key]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _latest_materialization(
    instance: dg.DagsterInstance, key: dg.AssetKey, hour: str
) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[hour]), limit=1
    ).records
    return records[0] if records else None


def books_refresh(instance: dg.DagsterInstance, hour: str, now: datetime) -> dg.RunRequest | None:
    """A books_job run for the current hour when its latest book poll is older than the setting:
    the comparator prices on the latest books, which the hourly schedule alone leaves up to an hour
    old. One request per max-age window (the run key), so a failing CLOB is retried, not hammered."""
    max_age = timedelta(minutes=get_settings().books_max_age_minutes)
    latest = _latest_materialization(instance, ingest.pm_order_book_snapshots.key, hour)
    if latest and now - datetime.fromtimestamp(latest.timestamp, UTC) < max_age:
        return None
    window = int(now.timestamp() // max_age.total_seconds())
    key = f"books_refresh:{hour}:{window}"
    return dg.RunRequest(job_name=books_job.name, partition_key=hour, run_key=key)


SENSOR_FETCH_LIMIT = 1000  # records per watched key and tick


# at every pass of the sensor daemon's loop (one each 5 s): at 20 s, waiting for the next tick was most
# of the time from a poll to its signals (median 8.4 of 19.5 s). At 5 s a tick that ended less than
# 5 s before the next pass waited for the one after: ~10 s apart (bench/live_latency.py)
@dg.sensor(
    jobs=[comparator_job, books_job],
    minimum_interval_seconds=1,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="New oddsapi_live / pm_markets / order book data -> one comparator run per touched hour "
    "(the current and the previous one; earlier hours are backfills'), unless the poll's own run priced "
    "it; the current hour's books re-polled when older than EDGE_BOOKS_MAX_AGE_MINUTES.",
)
def comparator_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """The cursor is the highest storage id already scored, so nothing is scored twice or missed."""
    after = int(context.cursor) if context.cursor else None
    now = _utcnow()
    current, live_from = hour_key(now), hour_key(now - timedelta(hours=1))
    touched: set[str] = set()  # hours with new data
    priced: set[str] = set()  # live hours whose new data was priced by its own run (a markets poll)
    hours: set[str] = set()  # hours with new data no run has priced yet
    runs_comparator: dict[str, bool] = {}
    last = after or 0
    fetched = [
        context.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, after_storage_id=after),
            limit=SENSOR_FETCH_LIMIT,
            ascending=True,
        ).records
        for key in WATCHED
    ]
    # a key with more new records than the limit (a backlog after the sensor was stopped) is read up to
    # its last one fetched, and so is every other key: the cursor must not jump over what is left
    full = [records[-1].storage_id for records in fetched if len(records) == SENSOR_FETCH_LIMIT]
    upto = min(full) if full else None
    for key, records in zip(WATCHED, fetched, strict=True):
        for record in records:
            if upto is not None and record.storage_id > upto:
                break  # read at the next tick
            last = max(last, record.storage_id)
            if not record.partition_key:
                continue
            touched.add(record.partition_key)
            if key in POLLED_WITH_CHAIN and record.partition_key >= live_from:
                if record.run_id not in runs_comparator:
                    runs_comparator[record.run_id] = _runs_comparator(context.instance, record.run_id)
                if runs_comparator[record.run_id]:
                    priced.add(record.partition_key)
                    continue
            hours.add(record.partition_key)
    if not touched:
        return dg.SensorResult(skip_reason="no new live data since the last tick", cursor=context.cursor)
    # live polls write the current hour (the previous one at the turn of the hour); earlier hours come
    # from backfills, which run their own comparator: a 24-hour UI backfill queued 48 comparator runs
    # that held up the live polls for a quarter of an hour
    past = sorted(h for h in touched if h < live_from)
    notes = [f"earlier hours left to their backfill: {past[0]}..{past[-1]} ({len(past)})"] if past else []
    # an hour whose markets or live odds are not written yet waits for them: their arrival is new
    # data for it (Gamma polls every minute, odds every 2: the hour's first run failed without them)
    waiting = {h: _missing_inputs(context.instance, h) for h in sorted(hours - set(past))}
    requests = [
        dg.RunRequest(job_name=comparator_job.name, run_key=f"comparator:{h}:{last}", partition_key=h)
        for h, missing in waiting.items()
        if not missing
    ]
    if current in touched and (refresh := books_refresh(context.instance, current, now)):
        requests.append(refresh)
    notes += [f"{h}: waiting for {', '.join(m)}" for h, m in waiting.items() if m]
    notes += [f"{h}: priced in the run of its poll" for h in sorted(priced - hours)]
    if requests:
        if notes:
            context.log.info("; ".join(notes))
        return dg.SensorResult(run_requests=requests, cursor=str(last))
    return dg.SensorResult(skip_reason="; ".join(notes), cursor=str(last))


COMPARATOR_NEEDS = [ingest.pm_markets.key, ingest.oddsapi_live.key]  # books may come from the hour before
POLLED_WITH_CHAIN = {ingest.pm_markets.key, ingest.oddsapi_live.key}  # by pm_markets_job runs
CHAIN_STEPS = {a.op.name for a in COMPARATOR_CHAIN}


def _missing_inputs(
    instance: dg.DagsterInstance, hour: str, needs: list[dg.AssetKey] = COMPARATOR_NEEDS
) -> list[str]:
    return [k.to_user_string() for k in needs if not _latest_materialization(instance, k, hour)]


def _runs_comparator(instance: dg.DagsterInstance, run_id: str) -> bool:
    """Whether the run also materializes `signals`, pricing its own data. One that has failed (say,
    at the odds poll beside its Gamma poll) did not, so the sensor prices its data; one failing after
    this tick is re-priced by the next minute's poll."""
    run = instance.get_run_by_id(run_id)
    if run is None or run.status in (dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED):
        return False
    return bool(run.asset_selection and comparator.signals.key in run.asset_selection)


SEED_ASSETS = [seeds.team_aliases, seeds.fee_tables, seeds.cost_models]
seeds_job = job("seeds_job", SEED_ASSETS)
SEEDS_TAG = "edge/seeds"  # which CSV contents a seeds_job run was asked to load


@dg.sensor(
    job=seeds_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Load a seed table (data/*.csv) into the lake when it is missing there or its CSV changed.",
)
def seeds_sensor(context: dg.SensorEvaluationContext, lake: LakeResource) -> dg.RunRequest | dg.SkipReason:
    """Why: on a new instance nothing else materializes the seeds, so the comparator failed on its
    first runs; and an alias added to data/team_aliases.csv reached the mapping only by hand."""
    store = lake.lake()
    stale: dict[str, str] = {}
    for asset in SEED_ASSETS:
        name = asset.key.to_user_string()
        want = seeds.seed_sha256(name) or "no csv"  # a missing CSV fails the run with its path
        if not store.exists(name, None):
            stale[name] = want
            continue
        event = context.instance.get_latest_materialization_event(asset.key)
        meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
        have = meta[seeds.SHA_KEY].value if seeds.SHA_KEY in meta else None
        if have != want and want != "no csv":
            stale[name] = want
    if not stale:
        return dg.SkipReason("the lake's seed tables match their CSVs")
    names = ", ".join(sorted(stale))
    signature = hashlib.sha256(json.dumps(stale, sort_keys=True).encode()).hexdigest()[:16]
    runs = context.instance.get_runs(filters=dg.RunsFilter(job_name=seeds_job.name), limit=1)
    if runs and not runs[0].is_finished:
        return dg.SkipReason(f"{names}: waiting for seeds_job run {runs[0].run_id}")
    if runs and runs[0].status == dg.DagsterRunStatus.FAILURE and runs[0].tags.get(SEEDS_TAG) == signature:
        why = run_failure_reason(context.instance, runs[0].run_id)
        return dg.SkipReason(f"{names}: not retried until a CSV changes; run {runs[0].run_id} failed: {why}")
    context.log.info(f"loading seed tables: {names}")
    return dg.RunRequest(asset_selection=[dg.AssetKey(n) for n in sorted(stale)], tags={SEEDS_TAG: signature})


def freshness_jobs() -> dict[str, str]:
    """The job whose runs poll each table the freshness monitor watches."""
    odds_job = markets_job if get_settings().odds_with_markets_poll else live_odds_job
    return {
        "pm_markets": markets_job.name,
        "oddsapi_live": odds_job.name,
        "pm_order_book_snapshots": books_job.name,
    }


NOT_A_STEP = "the run failed before any step ran"


def failed_steps(instance: dg.DagsterInstance, run_id: str) -> dict[str, str]:
    """Each failed step's key and description (a `dg.Failure`'s) or error message, in order."""
    failed: dict[str, str] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        data = entry.dagster_event.step_failure_data if entry.dagster_event else None
        if data is not None and entry.step_key and entry.step_key not in failed:
            told = data.user_failure_data.description if data.user_failure_data else None
            if told or data.error:
                failed[entry.step_key] = told or _error_chain(data.error)  # type: ignore[arg-type]
    return failed


def run_failure_reason(instance: dg.DagsterInstance, run_id: str) -> str:
    """The first failed step's reason."""
    return next(iter(failed_steps(instance, run_id).values()), NOT_A_STEP)


def _error_chain(error: SerializableErrorInfo) -> str:
    """The error and its causes: a failed input load says only "Error occurred while loading
    input"; what was missing is in its cause."""
    texts = [error.message.strip().rstrip(":")]
    while error.cause is not None and len(texts) < 4:
        error = error.cause
        texts.append(error.message.strip().rstrip(":"))
    return "; caused by ".join(texts)


def last_run_failure(instance: dg.DagsterInstance, job_name: str, asset: str | None = None) -> str | None:
    """Why the job's latest run (that selected ``asset``) failed (at ``asset``'s step), or None
    when it did not (or never ran). A markets poll polls the odds every few minutes: a successful
    poll without them must not hide the failure of the last one with them."""
    key = dg.AssetKey(asset) if asset else None
    # the odds ride one markets poll an hour at least: an hour of one-minute polls back finds it
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=job_name), limit=61 if key else 1)
    latest = next((r for r in runs if key is None or not r.asset_selection or key in r.asset_selection), None)
    if latest is None or latest.status != dg.DagsterRunStatus.FAILURE:
        return None
    failed = failed_steps(instance, latest.run_id)
    if not failed:
        return NOT_A_STEP
    return failed.get(asset) if asset else next(iter(failed.values()))


def sensor_daemon_id(instance: dg.DagsterInstance) -> str | None:
    """The id of the daemon process running the sensors (new at each start); None when unknown."""
    try:
        beat = instance.get_daemon_heartbeats().get("SENSOR")
    except Exception:  # an instance without daemon storage (tests, some run launchers)
        return None
    return beat.daemon_id if beat is not None else None


@dg.sensor(
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Alert (once per check per hour) when freshness fails or a league goes missing; a "
    "stale table's alert says why its job's latest run failed. After a start (or the daemon being "
    "down) each table has its freshness limit to catch up before it alerts.",
)
def monitor_alerts_sensor(
    context: dg.SensorEvaluationContext, lake: LakeResource, alerts: AlertsResource, sources: SourcesResource
) -> dg.SensorResult:
    from edge_assets.alerts import Alert

    now = datetime.now(UTC)
    state = json.loads(context.cursor) if context.cursor else {}
    daemon = sensor_daemon_id(context.instance)
    # `edge ui` restarted after 3 minutes down: the first tick, a second after the start and before
    # any poll, alerted on the old rows (the gap alone took 10 minutes to count as a restart)
    restarted = daemon is not None and state.get("daemon") not in (None, daemon)
    since = monitoring.watching_since(
        _from_iso(state.get("last_tick")), _from_iso(state.get("since")), now, restarted=restarted
    )
    cursor = json.dumps({"since": since.isoformat(), "last_tick": now.isoformat(), "daemon": daemon})
    store = lake.lake()
    outcomes = [monitoring.freshness(t, recent(store, t, now), now) for t in monitoring.FRESHNESS_LIMITS]
    live = recent(store, "oddsapi_live", now)
    outcomes.append(monitoring.sports_present(live, sources.sports, in_season=sources.sports_in_season))
    failing = [o for o in outcomes if not o.passed]
    failed = [o for o in failing if monitoring.startup_grace(o.name, since, now) is None]
    quiet = [o.name for o in failing if o not in failed]
    waiting = f"; starting up, quiet for now: {', '.join(quiet)}" if quiet else ""
    if not failed:
        passed = "no alerts" if quiet else "all monitors pass"
        return dg.SensorResult(skip_reason=f"{passed}{waiting}", cursor=cursor)
    texts = {o.name: o.message for o in failed}
    for table, job_name in freshness_jobs().items():
        name = f"{table}_fresh"
        if name in texts and (why := last_run_failure(context.instance, job_name, table)):
            texts[name] += f"; the latest {job_name} run polling it failed: {why}"
    hour = hour_key(now)
    report = alerts.send(
        [
            Alert.monitor(f"monitor:{name}:{hour}", title=f"edge-assets monitor failed: {name}", text=text)
            for name, text in texts.items()
        ]
    )
    return dg.SensorResult(
        skip_reason=f"{len(failed)} monitor(s) failing: {report.summary()}{waiting}", cursor=cursor
    )


def _from_iso(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


features_job = job("features_job", [training.features])
features_schedule = _current_hour_schedule(
    "features_hourly", features_job, "55 * * * *", offset=timedelta(hours=-1)
)
nightly_training_job = job("nightly_training_job", [training.training_sets, training.edge_models])


@dg.schedule(
    name="nightly_training",
    cron_schedule="30 3 * * *",
    job=nightly_training_job,
    default_status=RUNNING,
    execution_timezone="UTC",
)
def nightly_training_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Label the day whose games have all settled (label horizon), then retrain on all history.

    Days the nightly run missed (the daemon was down) are labelled in the same run: one range from
    the first missed day of the last ``CATCH_UP_DAYS`` that has features up to the day, so the
    models retrain once on the whole history instead of leaving holes in it.
    """
    at = context.scheduled_execution_time.astimezone(UTC)
    day = (at - timedelta(days=get_settings().model_label_horizon_days + 1)).strftime("%Y-%m-%d")
    instance = context.instance
    built = instance.get_materialized_partitions(training.training_sets.key)
    featured = {h[:10] for h in instance.get_materialized_partitions(training.features.key)}
    start = first_missed_day(day, built, featured)
    if start == day:
        return dg.RunRequest(run_key=f"nightly:{day}", partition_key=day)
    return dg.RunRequest(
        run_key=f"nightly:{day}",
        tags={RANGE_START: start, RANGE_END: day},
    )


CATCH_UP_DAYS = 14


def first_missed_day(day: str, built: set[str], featured: set[str], lookback: int = CATCH_UP_DAYS) -> str:
    """The earliest of the ``lookback`` days before ``day`` that has features but no training set
    (a nightly run that did not happen), else ``day`` itself."""
    last = datetime.strptime(day, "%Y-%m-%d")
    for back in range(lookback, 0, -1):
        earlier = (last - timedelta(days=back)).strftime("%Y-%m-%d")
        if earlier in featured and earlier not in built:
            return earlier
    return day


paper_trades_job = job("paper_trades_job", [trading.paper_trades, trading.paper_fills])


@dg.schedule(
    name="paper_trades_hourly",
    cron_schedule="40 * * * *",
    job=paper_trades_job,
    default_status=RUNNING,
    execution_timezone="UTC",
)
def paper_trades_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """Today's trades and fills as its signals land; at the first tick of a day also every day still
    inside its settlement horizon and the one that just left it, so trades settle as scores arrive."""
    at = context.scheduled_execution_time.astimezone(UTC)
    back = get_settings().model_label_horizon_days + 1 if at.hour == 0 else 0
    days = [(at - timedelta(days=d)).strftime("%Y-%m-%d") for d in range(back + 1)]
    return [dg.RunRequest(run_key=f"paper:{day}:{at.isoformat()}", partition_key=day) for day in days]


@dg.op(
    description="Fold each closed hour's raw response files into one file per API and hour "
    "(every hour with files to fold, backfilled ones too; the current and previous hour are left alone)."
)
def compact_raw_responses(context: dg.OpExecutionContext, lake: LakeResource) -> None:
    _, _, done = compact_closed_hours(lake.lake())
    context.log.info(f"raw compaction: {done.files} response files folded into {done.hours} hour files")
    context.log_event(
        dg.AssetObservation(
            asset_key=RAW_TABLE,
            metadata={"hours_compacted": done.hours, "files_folded": done.files, "responses": done.rows},
        )
    )


def nightly_op_job(
    op: dg.OpDefinition, name: str, description: str, schedule_name: str, cron: str
) -> tuple[dg.JobDefinition, dg.ScheduleDefinition]:
    """A one-op housekeeping job, in one process, and its nightly schedule."""

    @dg.job(name=name, description=description, executor_def=dg.in_process_executor)
    def _job() -> None:
        op()

    schedule = dg.ScheduleDefinition(
        name=schedule_name, job=_job, cron_schedule=cron, default_status=RUNNING, execution_timezone="UTC"
    )
    return _job, schedule


raw_compaction_job, raw_compaction_schedule = nightly_op_job(
    compact_raw_responses,
    "raw_compaction_job",
    "Compact the raw lake: one file per API and hour instead of one per response.",
    "raw_compaction_daily",
    "25 0 * * *",
)


@dg.op(
    description="Delete finished runs older than EDGE_RUN_RETENTION_DAYS whose every record is superseded "
    "(a partition's latest materialization, a check's latest evaluation keep their run)."
)
def prune_old_runs(context: dg.OpExecutionContext) -> dg.Output[None]:
    # imported here: Dagster's storage internals (~0.4 s) would load in every run worker
    from edge_assets.run_retention import prune_runs

    report = prune_runs(context.instance, get_settings().run_retention_days)
    context.log.info(report.summary())
    return dg.Output(
        None,
        metadata={
            "runs_deleted": report.deleted,
            "runs_kept": report.kept,
            "mb_freed": round(report.bytes_freed / 2**20, 1),
            "cutoff": report.cutoff.isoformat(),
        },
    )


run_retention_job, run_retention_schedule = nightly_op_job(
    prune_old_runs,
    "run_retention_job",
    "Delete old runs and their event logs (Dagster OSS keeps every run forever).",
    "run_retention_daily",
    "45 0 * * *",
)


# jobs whose failures alert on their own; the three polled every few minutes are left to the
# freshness monitor, which tolerates a transient failure and says why when it persists
RUN_FAILURE_JOBS = [
    comparator_job,
    markets_job,  # only when its comparator chain failed: a failed poll is the freshness monitor's
    seeds_job,
    historical_job,
    scores_job,
    features_job,
    nightly_training_job,
    paper_trades_job,
    raw_compaction_job,
    run_retention_job,
]


@dg.run_failure_sensor(
    name="run_failure_alerts",
    monitored_jobs=RUN_FAILURE_JOBS,  # type: ignore[arg-type]
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Alert when a comparator (also in a markets poll), seeds, historical odds, scores, "
    "features, training, paper trades, raw compaction or run retention run fails: once per job per "
    "hour, with the reason.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alerts: AlertsResource) -> None:
    from edge_assets.alerts import Alert

    run = context.dagster_run
    failed = failed_steps(context.instance, run.run_id)
    if run.job_name == markets_job.name and not CHAIN_STEPS & failed.keys():
        return  # a failed poll: monitor_alerts_sensor says so when its table goes stale, with this reason
    record = context.instance.get_run_record_by_id(run.run_id)
    ended = record.end_time if record and record.end_time else datetime.now(UTC).timestamp()
    hour = hour_key(datetime.fromtimestamp(ended, UTC))  # the hour it failed, not the hour it is seen
    partition = run.tags.get("dagster/partition") or (
        f"{run.tags[RANGE_START]}..{run.tags[RANGE_END]}" if RANGE_START in run.tags else None
    )
    why = next(iter(failed.values()), NOT_A_STEP)
    where = f" (partition {partition})" if partition else ""
    alerts.send(
        [
            Alert.monitor(
                f"monitor:run_failed:{run.job_name}:{hour}",
                title=f"edge-assets run failed: {run.job_name}",
                text=f"run {run.run_id}{where}: {why}",
            )
        ]
    )


SCHEDULES = [
    raw_compaction_schedule,
    run_retention_schedule,
    markets_schedule,
    *([] if get_settings().odds_with_markets_poll else [live_odds_schedule]),
    books_schedule,
    historical_schedule,
    scores_schedule,
    paper_trades_schedule,
]
ML_SCHEDULES = [features_schedule, nightly_training_schedule]
SENSORS = [comparator_sensor, seeds_sensor, monitor_alerts_sensor, run_failure_alerts]
JOBS = [
    comparator_job,
    seeds_job,
    markets_job,
    live_odds_job,
    books_job,
    historical_job,
    scores_job,
    paper_trades_job,
]
ML_JOBS = [features_job, nightly_training_job]

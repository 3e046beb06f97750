"""The `edge` command: demo, query, ui, simulate, backfill, models, paper."""

import argparse
import difflib
import importlib.metadata
import os
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import polars as pl

    from edge_assets.lake import Lake
    from edge_assets.settings import Settings
    from edge_assets.sources.oddsapi import QuotaTracker
    from edge_assets.sources_resource import SourcesResource

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORKERS = max(1, min(4, os.cpu_count() or 1))


def _print_frame(df: object, *, report: bool = False) -> None:
    """``report``: a fixed summary, not a query: no dtypes or shape, USDC to the cent, other floats to
    4 decimals."""
    import polars as pl

    assert isinstance(df, pl.DataFrame)
    if report:
        df = df.with_columns(pl.col(pl.Float64).round(4)).with_columns(pl.col("^.*_usdc$").round(2))
    with pl.Config(
        tbl_rows=50,
        tbl_cols=20,
        fmt_str_lengths=60,
        tbl_width_chars=200,
        tbl_hide_column_data_types=report,
        tbl_hide_dataframe_shape=report,
    ):
        print(df)


def cmd_query(args: argparse.Namespace) -> int:
    from edge_assets.lake import catalog
    from edge_assets.settings import get_settings

    s = get_settings()
    lake = _lake(s)
    try:
        df = catalog.query(s.duckdb_path, lake, args.sql)
    except Exception as exc:
        print(f"edge query: {exc}", file=sys.stderr)
        return 1
    if args.csv:
        print(df.write_csv(), end="")
    else:
        _print_frame(df)
    return 0


def _lake(s: "Settings") -> "Lake":
    from edge_assets.lake import Lake

    return Lake(s.lake_root, s3_endpoint_url=s.s3_endpoint_url, s3_region=s.s3_region)


def _row_counts(s: "Settings") -> "pl.DataFrame":
    import polars as pl

    from edge_assets.lake import catalog

    lake = _lake(s)
    con = catalog.connect(s.duckdb_path, lake)
    try:
        views = catalog.refresh(con, lake)
        rows = [(v, con.execute(f'select count(*) from "{v}"').fetchall()[0][0]) for v in views]
    finally:
        con.close()
    return pl.DataFrame(rows, schema=["table", "rows"], orient="row")


def cmd_demo(args: argparse.Namespace) -> int:
    import dagster as dg

    from edge_assets.definitions import defs
    from edge_assets.runner import ensure_dagster_home, run_window
    from edge_assets.settings import get_settings

    # the demo's alerts go to a local sink that prints them (other channels still apply if configured)
    if args.hours < 1:
        print("edge demo: --hours must be at least 1", file=sys.stderr)
        return 2
    os.environ.setdefault("EDGE_ALERT_CONSOLE", "true")
    get_settings.cache_clear()
    s = get_settings()
    ensure_dagster_home(s.dagster_home)
    now = datetime.now(UTC)
    end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    start = end - timedelta(hours=args.hours)
    print(
        f"edge demo: source={s.source_mode} lake={s.lake_root} hours {start:%Y-%m-%d %H:00}..{end:%H:00} UTC"
    )
    t0 = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        report = run_window(defs, instance, start, end)
    _print_steps(report)
    print("\nrows per table:")
    _print_frame(_row_counts(s))
    _print_signals(s)
    _print_paper(s)
    print(f'\ndone in {time.perf_counter() - t0:.1f}s; query with: edge query "select * from signals"')
    return 0 if report.success else 1


def _print_signals(s: "Settings") -> None:
    from edge_assets.lake import catalog

    lake = _lake(s)
    if "signals" not in lake.tables():
        print("\nsignals: none (the comparator has not run)")
        return
    df = catalog.query(
        s.duckdb_path,
        lake,
        "select * exclude (dt, hour) from signals order by ev_after_costs desc",
    )
    print(f"\nsignals found: {df.height}")
    if df.height:
        cols = [
            c
            for c in (
                "created_at",
                "sport_key",
                "outcome_name",
                "market_key",
                "point",
                "pm_price",
                "fair_prob",
                "ev_after_costs",
                "stake",
                "liquidity",
                "best_book",
                "alert_status",
            )
            if c in df.columns
        ]
        _print_frame(df.select(cols).head(20))


def _paper_trades(s: "Settings") -> "pl.DataFrame":
    """Every paper_trades partition in the lake (an empty frame before the first)."""
    lake = _lake(s)
    days = lake.day_keys("paper_trades")
    return lake.read_many("paper_trades", days, allow_missing=True)


def _print_paper(s: "Settings") -> None:
    """One line on the paper trades: what following every signal has staked and made so far."""
    import polars as pl

    trades = _paper_trades(s)
    if trades.height == 0:
        return
    settled = trades.filter(pl.col("settled"))
    print(
        f"\npaper trades: {trades.height} ({trades.height - settled.height} open, "
        f"{float(trades['cost_usdc'].sum()):,.2f} USDC staked); settled {settled.height}: "
        f"PnL {float(settled['pnl_usdc'].sum()):+,.2f} USDC; per model: edge paper"
    )


def _print_steps(report: object) -> None:
    for step in report.steps:  # type: ignore[attr-defined]
        state = "ok " if step.success else "FAILED"
        print(
            f"  {state} {step.name:<7} {step.partitions:<35} {step.seconds:6.1f}s  {', '.join(step.assets)}"
        )
        for error in step.errors:
            print(f"      error: {error}", file=sys.stderr)
        for check in step.checks:  # failures, and the models' verdict on what was just trained
            if step.name == "models" or ": FAILED" in check:
                print(f"      check {check}")


# fetched from endpoints that only answer for now (and the last 3 days of scores)
LIVE_ONLY_ASSETS = ("pm_markets", "pm_order_book_snapshots", "oddsapi_live", "oddsapi_scores")


HISTORICAL = "oddsapi_historical_hourly"


def _key_credits(sources: "SourcesResource") -> "QuotaTracker":
    """The Odds API key's credits as the free /v4/sports call's headers report them (SourceError if
    the call fails)."""
    with sources.session() as session:
        session.odds.sports()
        return session.odds.quota


def _historical_credits_refused(
    s: "Settings", sources: "SourcesResource", start: datetime, end: datetime, workers: int
) -> int | None:
    """Before a historical-odds backfill against a real quota: its cost against the key's credits (one
    free call). The exit code when it cannot fit, or the credits cannot be read; None to go on.

    Why: 90 days of 5 sports cost up to 648,000 credits with the defaults. The client stops at the
    reserve, so a too-long backfill spent the whole plan and left the live polls without credits.
    """
    from edge_assets.sources.http import SourceError
    from edge_assets.sources.oddsapi import odds_cost

    # one snapshot per sport and hour (an upper bound: the API does not charge an empty one)
    hours = max(int((min(end, datetime.now(UTC)) - start).total_seconds() // 3600), 0)
    each = odds_cost(s.odds_markets, s.odds_regions, historical=True)
    total = hours * len(s.sports) * each
    try:
        left = _key_credits(sources).remaining
    except SourceError as exc:
        print(f"edge backfill: could not read the key's credits before {HISTORICAL}: {exc}", file=sys.stderr)
        return 1
    cost = f"{hours:,} hours x {len(s.sports)} sports x {each} credits"
    if left is None:
        print(f"edge backfill: {HISTORICAL} costs up to {total:,} credits ({cost}); the API sent no balance")
        return None
    spendable = max(left - s.quota_reserve, 0)
    if total > spendable:
        fit = spendable // max(len(s.sports) * each, 1)
        print(
            f"edge backfill: {HISTORICAL} would cost up to {total:,} credits ({cost}); the key has "
            f"{left:,} left, {s.quota_reserve:,} of them kept in reserve (EDGE_QUOTA_RESERVE): enough for "
            f"{fit:,} hours. Backfill fewer hours (--days, --hours) or spend less an hour (EDGE_SPORTS, "
            "EDGE_ODDS_MARKETS, EDGE_ODDS_REGIONS)",
            file=sys.stderr,
        )
        return 2
    print(f"edge backfill: {HISTORICAL} costs up to {total:,} credits ({cost}) of the key's {left:,}")
    if s.source_mode == "live":
        print(f"edge backfill: {historical_pace(hours * len(s.sports), s.odds_requests_per_s, workers)}")
    return None


def historical_pace(requests: int, per_s: float, workers: int) -> str:
    """How long a live historical backfill takes at least: the client's token bucket paces it."""
    seconds = requests / (per_s * max(workers, 1))
    took = f"{seconds / 60:,.0f} minutes" if seconds >= 90 else f"{seconds:,.0f} s"
    return (
        f"{requests:,} requests at {per_s:g} a second in each of {workers} worker(s) take at least {took} "
        "(EDGE_ODDS_REQUESTS_PER_S; the API allows 30 a second over all of them and the schedules)"
    )


def _selected_assets(defs: Any, select: str) -> list[str]:
    """Asset names of a comma-separated --select: a key as the UI writes it (ml/training_sets) or its
    last part (training_sets). An unknown name is an error: a typo must not backfill nothing, rc 0."""
    keys = sorted(a.key.to_user_string() for a in defs.resolve_all_asset_specs())
    by_name: dict[str, list[str]] = {}
    for key in keys:
        by_name.setdefault(key.rsplit("/", 1)[-1], []).append(key)
    out = []
    for name in (n.strip() for n in select.split(",") if n.strip()):
        found = [name] if name in keys else by_name.get(name, [])
        if len(found) != 1:
            near = difflib.get_close_matches(name, sorted(set(keys) | set(by_name)), n=3)
            hint = (
                f" (did you mean {', '.join(near)}?)"
                if near
                else " (`edge backfill --help`; the UI lists them)"
            )
            why = "is ambiguous: " + ", ".join(found) if found else "is not an asset"
            raise ValueError(f"--select {name!r} {why}{hint}")
        out.append(found[0])
    if not out:
        raise ValueError("--select names no asset")
    return out


def cmd_backfill(args: argparse.Namespace) -> int:
    import dagster as dg

    from edge_assets.automation import SEED_ASSETS
    from edge_assets.connect import DEFAULT_SIM_POLL_MINUTES
    from edge_assets.definitions import defs
    from edge_assets.runner import ensure_dagster_home, run_window
    from edge_assets.settings import get_settings
    from edge_assets.sources_resource import build_source_resources

    s = get_settings()
    try:
        include = _selected_assets(defs, args.select) if args.select else None
    except ValueError as exc:
        print(f"edge backfill: {exc}", file=sys.stderr)
        return 2
    if args.days < 0 or args.hours < 0 or args.days * 24 + args.hours < 1:
        print(
            "edge backfill: give the range to backfill: --days N and/or --hours N (at least one hour)",
            file=sys.stderr,
        )
        return 2
    # build_source_resources is typed dict[str, object] for Dagster; "sources" is a SourcesResource
    sources = cast("SourcesResource", build_source_resources(s)["sources"])
    live_only = [a for a in LIVE_ONLY_ASSETS if include is None or a in include]
    if live_only and not sources.config().can_time_travel:
        where = "the simulator over HTTP (EDGE_SIM_URL)" if s.sim_url else "the live APIs"
        print(
            f"edge backfill: {', '.join(live_only)} are polled live and {where} cannot answer for past "
            "hours; only the embedded simulator replays them (unset EDGE_SIM_URL / EDGE_SOURCE_MODE). "
            "Past odds: edge backfill --select oddsapi_historical_hourly",
            file=sys.stderr,
        )
        return 2
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if args.end:
        end = datetime.fromisoformat(args.end).replace(tzinfo=UTC)
    start = end - timedelta(days=args.days, hours=args.hours)
    if (include is None or HISTORICAL in include) and not sources.config().embedded:
        # the embedded simulator's credits start afresh with each session; any other key's run out
        refused = _historical_credits_refused(s, sources, start, end, args.workers)
        if refused is not None:
            return refused
    if include is not None:  # a selection on a new lake: its mapping failed without the seed tables
        lake = _lake(s)
        names = [a.key.to_user_string() for a in SEED_ASSETS]  # data/*.csv; the UI's seeds sensor loads them
        seeds = [n for n in names if n not in include and not lake.exists(n, None)]
        if seeds:
            print(f"edge backfill: loading the seed tables first, not in the lake yet: {', '.join(seeds)}")
            include = seeds + include
    ensure_dagster_home(s.dagster_home)
    t0 = time.perf_counter()
    polls = DEFAULT_SIM_POLL_MINUTES if args.all_polls else s.backfill_poll_minutes
    with dg.DagsterInstance.get() as instance:
        report = run_window(
            defs,
            instance,
            start,
            end,
            include=include,
            chunk_hours=args.chunk_hours,
            poll_minutes=polls,
            workers=args.workers,
        )
    _print_steps(report)
    print(f"backfilled {start:%Y-%m-%d %H:00}..{end:%Y-%m-%d %H:00} UTC in {time.perf_counter() - t0:.1f}s")
    return 0 if report.success else 1


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_until_stopped(cmd: list[str], *, env: dict[str, str], cwd: Path | None = None) -> int:
    """Run a long-lived server (dg dev, mlflow ui) so that stopping `edge` stops it.

    Started in the background by a script (`nohup edge ui &`), a process inherits SIGINT ignored;
    dg dev (as dagster dev) maps SIGTERM to its SIGINT handler, so it ignored both and outlived a
    killed `edge ui`, and the next start ran a second daemon on the same instance. The child gets
    SIGINT back, SIGTERM is passed on, and Ctrl-C (sent to both) waits for the child's own clean
    shutdown.
    """
    child = subprocess.Popen(cmd, env=env, cwd=cwd, preexec_fn=_sigint_default)
    previous = signal.signal(signal.SIGTERM, lambda *_: child.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return child.wait()
            except KeyboardInterrupt:
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)


def mlflow_ui_command(tracking_uri: str, host: str, port: int) -> list[str] | None:
    """`mlflow ui` run by this interpreter (`.venv/bin/edge` works without the venv on PATH), or
    None with mlflow-skinny alone: it has the `ui` command but not the server's web assets."""
    try:
        importlib.metadata.distribution("mlflow")
    except importlib.metadata.PackageNotFoundError:
        return None
    ui = [sys.executable, "-m", "mlflow", "ui"]
    return [*ui, "--backend-store-uri", tracking_uri, "--host", host, "--port", str(port)]


def cmd_models(args: argparse.Namespace) -> int:
    from edge_assets.models_resource import build_models_resource
    from edge_assets.settings import get_settings

    s = get_settings()
    res = build_models_resource(s)
    if args.ui:
        cmd = mlflow_ui_command(res.tracking_uri, args.host, args.port)
        if cmd is None:
            print(
                "edge models --ui: the MLflow UI needs the full `mlflow` package (the base install has "
                "mlflow-skinny only): pip install 'edge-assets[mlflow-ui]' (or `pip install mlflow`)",
                file=sys.stderr,
            )
            return 1
        print("starting:", " ".join(cmd))
        env = os.environ.copy()
        if res.s3_endpoint_url:  # the UI server reads S3 artifacts itself (registry.use_s3_endpoint)
            env.setdefault("MLFLOW_S3_ENDPOINT_URL", res.s3_endpoint_url)
        if res.s3_region and not env.get("AWS_DEFAULT_REGION"):
            env["AWS_DEFAULT_REGION"] = res.s3_region
        return run_until_stopped(cmd, env=env)
    if not res.has_store():
        print(f"no models yet: tracking store {res.tracking_uri} does not exist (run edge_models first)")
        return 0
    from edge_assets.ml.registry import (
        CLASSIFIER_NAME,
        last_decision,
        last_versus_rule,
        list_versions,
        target_label,
    )
    from edge_assets.ml.train import versus_rule

    df = list_versions(res.tracking_uri)
    if df.height == 0:
        print(f"no registered model versions in {res.tracking_uri}")
        return 0
    _print_frame(df.drop("run_id", "created"), report=True)
    champ = df.filter(df["champion"])
    for row in champ.iter_rows(named=True):
        print(f"champion: {row['model']} v{row['version']}")
        if row["model"] == CLASSIFIER_NAME and row["target"] != target_label(s.min_ev):
            print(
                f"  it predicts {row['target']} but EDGE_MIN_EV is {s.min_ev}: the next edge_models run "
                f"trains for {target_label(s.min_ev)} and replaces it"
            )
    if champ.height == 0:
        print("champion: none (the comparator uses the rule confidence)")
    elif res.confidence_by == "rule":
        print("  EDGE_CONFIDENCE_BY=rule: the comparator uses the rule confidence, not the champion")
    decision = last_decision(res.tracking_uri)
    if decision:
        print(f"last training run: {decision}")
    judged = last_versus_rule(res.tracking_uri)
    if judged:
        print(f"  {versus_rule(judged[1], judged[2], f'champion v{judged[0]}')[1]}")
    print(f"tracking store: {res.tracking_uri}; browse with: edge models --ui")
    return 0


def cmd_paper(args: argparse.Namespace) -> int:
    import polars as pl

    from edge_assets.settings import get_settings
    from edge_assets.trading.paper import PAPER_TRADE_COLUMNS, summarize

    trades = _paper_trades(get_settings())
    if trades.height == 0:
        print(
            "no paper trades yet: the paper_trades_hourly schedule builds them (or materialize paper_trades)"
        )
        return 0
    trades = trades.select(list(PAPER_TRADE_COLUMNS))
    if args.since:
        trades = trades.filter(pl.col("placed_at").dt.date() >= pl.lit(args.since).str.to_date())
        if trades.height == 0:
            print(f"no paper trades placed on or after {args.since}")
            return 0
    _print_frame(summarize(trades, by=tuple(args.by.split(","))), report=True)
    # non-empty Datetime column: min and max are datetimes
    first, last = cast(datetime, trades["placed_at"].min()), cast(datetime, trades["placed_at"].max())
    print(f"{trades.height} trades placed {first:%Y-%m-%d %H:%M}..{last:%Y-%m-%d %H:%M} UTC")
    print('each trade: edge query "select * from paper_trades order by placed_at"')
    return 0


def cmd_quota(args: argparse.Namespace) -> int:
    from edge_assets.settings import get_settings
    from edge_assets.sources.budget import credits_per_day
    from edge_assets.sources.http import SourceError
    from edge_assets.sources_resource import build_source_resources

    s = get_settings()
    uses = credits_per_day(s.sports, s.odds_markets, s.odds_regions, s.odds_live_every_minutes)
    total = sum(u.per_day for u in uses)
    print(
        f"The Odds API credits a day for {len(s.sports)} sports, "
        f"markets {s.odds_markets}, regions {s.odds_regions}:"
    )
    width = max(len(u.poll) for u in uses)
    for u in uses:
        print(f"  {u.poll:<{width}}  {u.calls_per_day:>6,} calls x {u.credits_per_call:>3} = {u.per_day:>8,}")
    print(f"  {'total':<{width}}  {total:>29,} a day, {30 * total:,} per 30 days")
    # build_source_resources is typed dict[str, object] for Dagster; "sources" is a SourcesResource
    sources = cast("SourcesResource", build_source_resources(s)["sources"])
    try:
        quota = _key_credits(sources)
    except SourceError as exc:
        print(f"could not read the key's credits: {exc}")
        return 1
    who = "your key" if s.source_mode == "live" else "the simulator's key"
    if quota.remaining is None:
        print(f"{who}: the API sent no credit headers")
        return 0
    used = f", {quota.used:,} used" if quota.used is not None else ""
    days = f"; at this rate they last {quota.remaining / total:.1f} days" if total else ""
    print(f"{who}: {quota.remaining:,} credits left{used}{days}")
    print(
        "spend less: EDGE_ODDS_LIVE_EVERY_MINUTES, EDGE_ODDS_MARKETS, EDGE_ODDS_REGIONS, EDGE_SPORTS, "
        "or stop the oddsapi_historical_hourly_schedule in the UI (historical odds need a paid plan)"
    )
    return 0


def cmd_compact_raw(args: argparse.Namespace) -> int:
    from edge_assets.lake.raw import compact_closed_hours
    from edge_assets.settings import get_settings

    t0 = time.perf_counter()
    start, end, done = compact_closed_hours(_lake(get_settings()), args.days)
    hours = f"{start:%Y-%m-%d %H:00}..{end:%Y-%m-%d %H:00}" if start else f"before {end:%Y-%m-%d %H:00}"
    print(
        f"raw responses {hours} UTC: {done.files:,} files folded into "
        f"{done.hours:,} hour files ({done.rows:,} responses) in {time.perf_counter() - t0:.1f}s"
    )
    return 0


def cmd_prune_runs(args: argparse.Namespace) -> int:
    import dagster as dg

    from edge_assets.run_retention import prune_runs
    from edge_assets.runner import ensure_dagster_home
    from edge_assets.settings import get_settings

    s = get_settings()
    ensure_dagster_home(s.dagster_home)
    t0 = time.perf_counter()
    with dg.DagsterInstance.get() as instance:
        days = s.run_retention_days if args.days is None else args.days
        report = prune_runs(instance, days, dry_run=args.dry_run)
    print(f"{report.summary()} in {time.perf_counter() - t0:.1f}s")
    return 0


def dagster_dev_command() -> list[str]:
    """`dg dev` of this interpreter's install (`.venv/bin/edge ui` must work without the venv on
    PATH); `dagster dev`, which 1.13 marks superseded, only where the `dg` script is missing."""
    dg = Path(sysconfig.get_path("scripts")) / "dg"
    if dg.exists():
        return [str(dg), "dev"]
    return [sys.executable, "-m", "dagster", "dev"]


def cmd_ui(args: argparse.Namespace) -> int:
    from edge_assets.runner import ensure_dagster_home
    from edge_assets.settings import get_settings

    ensure_dagster_home(get_settings().dagster_home, range_runs=False)
    workspace = str(REPO_ROOT / "workspace.yaml")
    cmd = [*dagster_dev_command(), "-w", workspace, "-h", args.host, "-p", str(args.port)]
    print("starting:", " ".join(cmd))
    # the user's directory, as for every other command: the code server and its runs read that .env
    # and resolve data/ there (from the repo's they polled another source into another lake)
    return run_until_stopped(cmd, env=os.environ.copy())


def cmd_simulate(args: argparse.Namespace) -> int:
    from edge_assets.simulator import FaultConfig, SimulatorApp, World, serve_forever

    latency = f", {args.latency_ms:g} ms added to each response" if args.latency_ms else ""
    print(
        f"simulator (seed {args.seed}) on http://{args.host}:{args.port}: "
        f"Gamma /gamma, CLOB /clob, Odds API /v4{latency}"
    )
    print(f"use it with: EDGE_SIM_URL=http://{args.host}:{args.port} edge demo", flush=True)
    app = SimulatorApp(World(args.seed), faults=FaultConfig(latency_ms=args.latency_ms))
    serve_forever(port=args.port, host=args.host, app=app)
    return 0


def _at_least_one_day(value: str) -> int:
    days = int(value)
    if days < 1:
        raise argparse.ArgumentTypeError(f"must keep at least 1 day of runs, got {days}")
    return days


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="edge", description="edge-assets: Polymarket vs sportsbook edges.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "demo",
        help="run the whole asset graph for the last few hours on the configured source",
        description="Materialize every asset for the last N hours (default: the embedded "
        "simulator) and print what ran, rows per table and the signals found.",
    )
    p.add_argument("--hours", type=int, default=3, help="how many hours up to now (default 3)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "query",
        help="run a DuckDB SQL query over the lake",
        description="Refresh the DuckDB catalog (one view per lake table) and print a query's result.",
    )
    p.add_argument("sql", help='e.g. "select count(*) from oddsapi_live"')
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser(
        "ui",
        help="start the Dagster UI (dg dev) on the repo's workspace",
        description="Start `dg dev` with workspace.yaml and the local instance in data/.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_ui)

    p = sub.add_parser(
        "simulate",
        help="serve the simulated Gamma, CLOB and Odds APIs on a loopback port",
        description="Serve the deterministic simulator over HTTP: Gamma under /gamma, CLOB under "
        "/clob, The Odds API under /v4. Point EDGE_SIM_URL at it.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8900)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="wait this long before each response, as a remote API's round trip would (default 0)",
    )
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "backfill",
        help="materialize a past range of hours as single-run backfills",
        description="Backfill the graph (or --select assets) for the last --days/--hours.",
    )
    p.add_argument("--days", type=int, default=0)
    p.add_argument("--hours", type=int, default=0)
    p.add_argument("--end", help="UTC end hour, ISO (default: the current hour)")
    p.add_argument("--select", help="comma-separated asset names (default: all)")
    p.add_argument(
        "--chunk-hours", type=int, default=48, help="hours per single run (default 48: peak memory ~2.5 GB)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=DEFAULT_WORKERS,
        help=f"processes per hourly stage over disjoint hour ranges (default {DEFAULT_WORKERS}: the cores, "
        "at most 4; ~1.3 GB each at 48-hour chunks)",
    )
    p.add_argument(
        "--all-polls",
        action="store_true",
        help="poll the simulator 4x per past hour (default: EDGE_BACKFILL_POLL_MINUTES, one poll at :50)",
    )
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser(
        "models",
        help="list model versions, metrics and the champion (MLflow); --ui opens the MLflow UI",
        description="List the registered versions of edge_validity and edge_ev with held-out metrics and "
        "the champion alias. --ui starts `mlflow ui` on the tracking store (needs the full mlflow package).",
    )
    p.add_argument("--ui", action="store_true", help="start the MLflow UI on the tracking store")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5000)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "compact-raw",
        help="fold the raw lake's response files into one file per API and hour",
        description="Compact raw_responses for every closed hour with files to fold (--days: only "
        "that many days back), as the raw_compaction_daily schedule does each night: same responses, far "
        "fewer files.",
    )
    p.add_argument("--days", type=int, default=None, help="only this many days back (default: all)")
    p.set_defaults(func=cmd_compact_raw)

    p = sub.add_parser(
        "prune-runs",
        help="delete old Dagster runs whose records are all superseded",
        description="Delete finished runs created more than --days ago (default EDGE_RUN_RETENTION_DAYS, "
        "7) with their event logs, tags and captured logs, as the run_retention_daily schedule does each "
        "night. A run holding the latest materialization, observation or failure of an asset partition, "
        "a failed plan not materialized since, or a check's latest evaluation, is kept, so the UI shows "
        "the same partitions.",
    )
    p.add_argument(
        "--days", type=_at_least_one_day, default=None, help="keep runs this many days (default: the setting)"
    )
    p.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    p.set_defaults(func=cmd_prune_runs)

    p = sub.add_parser(
        "quota",
        help="The Odds API credits the schedules spend a day, and what the key has left",
        description="Credits a day per schedule for the configured sports, markets, regions and live "
        "cadence, then one free /v4/sports call for the key's remaining credits and how long they last.",
    )
    p.set_defaults(func=cmd_quota)

    p = sub.add_parser(
        "paper",
        help="paper trading summary: trades, staked, PnL, ROI, hit rate and CLV per model",
        description="Summarize paper_trades (one trade per edge at its first signal, settled from scores) "
        "per model name and version: open and settled trades, USDC staked and returned, PnL, ROI, hit rate, "
        "mean closing-line value and the EV expected at entry.",
    )
    p.add_argument("--by", default="model_name,model_version", help="comma-separated grouping columns")
    p.add_argument("--since", help="only trades placed on or after this UTC date (YYYY-MM-DD)")
    p.set_defaults(func=cmd_paper)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from edge_assets.settings import SettingsError

    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"edge: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

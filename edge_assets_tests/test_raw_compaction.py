"""Raw compaction: an hour's response files folded into one file, nothing lost, on disk and on S3."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow.fs as pafs
import pytest

from edge_assets.lake import Lake, catalog
from edge_assets.lake.raw import (
    COMPACTED_PREFIX,
    RAW_TABLE,
    RawStore,
    compact_closed_hours,
    compact_raw,
    compact_raw_hour,
    decompress,
    merge_raw_files,
)
from edge_assets.sources.http import RawExchange

H = datetime(2026, 11, 20, 14, tzinfo=UTC)


def exchange(minute: int, body: bytes, source: str = "gamma") -> RawExchange:
    path = "/events" if source == "gamma" else "/v4/sports/basketball_nba/odds"
    return RawExchange(source, path, path, {"offset": "0"}, H + timedelta(minutes=minute), 3.0, 200, {}, body)


def files(lake: Lake) -> list[str]:
    selector = pafs.FileSelector(lake.table_dir(RAW_TABLE), recursive=True, allow_not_found=True)
    found = [i.path for i in lake.fs.get_file_info(selector) if i.type == pafs.FileType.File]
    return sorted(p[len(lake.table_dir(RAW_TABLE)) + 1 :] for p in found)


def responses(lake: Lake) -> pl.DataFrame:
    """Every stored response, in one order, with its body decompressed."""
    paths = [f"{lake.table_dir(RAW_TABLE)}/{f}" for f in files(lake)]
    df = pl.concat([lake.read_file(p) for p in paths])
    bodies = [decompress(b, n) for b, n in zip(df["body_zstd"], df["body_bytes"], strict=True)]
    return df.with_columns(body=pl.Series(bodies)).drop("body_zstd").sort("requested_at", "source")


def _compaction_round_trip(lake: Lake) -> None:
    store = RawStore(lake)
    for minute, body in ((1, b"[1]"), (2, b"[2]")):
        store.store(exchange(minute, body))
    store.store(exchange(1, b"[1]"))  # a re-run poll: the same file again
    store.store(exchange(3, b'[{"id": "e"}]', source="oddsapi"))
    before = responses(lake)
    assert before.height == 3 and len(files(lake)) == 3

    done = compact_raw(lake, H - timedelta(hours=1), H + timedelta(hours=1))
    assert (done.hours, done.files, done.rows) == (2, 3, 3)
    assert [f.rsplit("/", 1)[0] for f in files(lake)] == [
        "api=gamma/dt=2026-11-20/hour=14",
        "api=oddsapi/dt=2026-11-20/hour=14",
    ]
    assert all(f.rsplit("/", 1)[1].startswith(COMPACTED_PREFIX) for f in files(lake))
    assert responses(lake).equals(before)  # every response, its exact bytes, once
    assert compact_raw(lake, H, H + timedelta(hours=1)).files == 0  # nothing new: nothing rewritten

    # a poll re-run after compaction, and a crash that left folded files behind: both fold back in
    store.store(exchange(2, b"[2]"))
    store.store(exchange(4, b"[4]"))
    assert compact_raw(lake, H, H + timedelta(hours=1)).files == 2
    after = responses(lake)
    assert after.height == 4
    assert after.filter(pl.col("requested_at") != H + timedelta(minutes=4)).equals(before)


def test_compaction_folds_an_hour_into_one_file_and_loses_nothing(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    _compaction_round_trip(lake)
    # the crash window: the merged file is written, its inputs not yet removed
    gamma_hour = tmp_path / "lake" / RAW_TABLE / "api=gamma" / "dt=2026-11-20" / "hour=14"
    RawStore(lake).store(exchange(5, b"[5]"))
    inputs = {p.name: p.read_bytes() for p in gamma_hour.iterdir()}
    compact_raw(lake, H, H + timedelta(hours=1))
    for name, data in inputs.items():
        (gamma_hour / name).write_bytes(data)
    assert len(list(gamma_hour.iterdir())) == 3  # the new merged file, the old one, the response
    assert responses(lake)["requested_at"].is_duplicated().any()  # rows twice in the files
    # ... but once in the DuckDB view users query, also filtered by hour (the view keeps pruning)
    db = str(tmp_path / "w.duckdb")
    sql = "select count(*) n, count(distinct (requested_at, sha256)) k from raw_responses where api = 'gamma'"
    assert catalog.query(db, lake, sql).row(0) == (4, 4)
    assert catalog.query(db, lake, sql + " and dt = '2026-11-20' and hour = 14").row(0) == (4, 4)
    compact_raw(lake, H, H + timedelta(hours=1))
    fixed = responses(lake)
    assert fixed.height == 5 and not fixed["requested_at"].is_duplicated().any()
    assert len(list(gamma_hour.iterdir())) == 1


def test_a_response_stored_again_after_compaction_wins_over_its_merged_copy(tmp_path: Path) -> None:
    """A re-run whose parse now fails rewrites its response with `parse_error`; the next compaction
    keeps that row, not the stale copy in the merged file (merged names sort after response names)."""
    lake = Lake(str(tmp_path / "lake"))
    bad = exchange(1, b"{bad")
    RawStore(lake).store(bad)
    compact_raw(lake, H, H + timedelta(hours=1))
    RawStore(lake).store(bad, parse_error="body is not a JSON array")
    assert compact_raw(lake, H, H + timedelta(hours=1)).files == 1
    assert responses(lake)["parse_error"].to_list() == ["body is not a JSON array"]
    assert len(files(lake)) == 1


def test_two_compactions_of_one_hour_at_once_lose_nothing(tmp_path: Path) -> None:
    """A run that listed the folder before another one folded it finds an input gone and stops
    before writing; the other run's merged file is never overwritten."""
    lake = Lake(str(tmp_path / "lake"))
    store = RawStore(lake)
    first = store.store(exchange(1, b"[1]"))
    late = store.store(exchange(2, b"[2]"))
    hour_dir = first.rsplit("/", 1)[0]
    assert merge_raw_files(lake, hour_dir, [first]) == (1, 1)  # one run folds what it listed
    with pytest.raises(FileNotFoundError):  # the other, listed before: its input is gone
        merge_raw_files(lake, hour_dir, [first, late])
    assert responses(lake)["body_bytes"].to_list() == [3, 3]  # both responses still there
    assert compact_raw_hour(lake, hour_dir) == (1, 2) and len(files(lake)) == 1


def test_compaction_on_s3(s3_server: str) -> None:
    import boto3

    _compaction_round_trip(Lake("s3://edge-lake/compaction", s3_endpoint_url=s3_server))
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="edge-lake", Prefix="compaction/")["Contents"]]
    # only the hour files: pyarrow's delete_file left a 0-byte folder marker in each compacted hour
    assert len(keys) == 2 and all(k.endswith(".parquet") for k in keys)


def test_the_nightly_job_compacts_closed_hours_only(tmp_path: Path) -> None:
    """Every closed hour, however old: a backfill writes months of past hours at once (the job used
    to look 7 days back only, leaving a 90-day backfill's 48,000 files)."""
    import dagster as dg

    from edge_assets import automation
    from edge_assets.resources import build_resources
    from edge_assets.settings import load_settings

    lake = Lake(str(tmp_path / "lake"))
    now = datetime.now(UTC)
    store = RawStore(lake)
    backfilled = [now - timedelta(days=60), now - timedelta(days=60, minutes=-1)]
    closed = [now - timedelta(hours=3), now - timedelta(hours=3, minutes=-1), *backfilled]
    for at in (*closed, now):  # the current hour is still being written: left alone
        store.store(RawExchange("gamma", "/events", "/events", {}, at, 1.0, 200, {}, b"[]"))
    assert compact_closed_hours(lake, days=7)[2].files == 2  # a window leaves the backfilled hour
    settings = load_settings(lake_root=str(tmp_path / "lake"), duckdb_path=str(tmp_path / "w.db"))
    resources = build_resources(settings)
    defs = dg.Definitions(jobs=[automation.raw_compaction_job], resources=resources)
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("raw_compaction_job").execute_in_process(instance=instance)
        (observed,) = [
            e.event_specific_data.asset_observation  # type: ignore[union-attr]
            for e in result.all_events
            if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION
        ]
    assert observed.asset_key == dg.AssetKey(RAW_TABLE)
    # the backfilled hour's files (the recent hour was folded above): 2 hours if the minute crosses one
    assert {k: v.value for k, v in observed.metadata.items()} == {
        "hours_compacted": len({hour_of(at) for at in backfilled}),
        "files_folded": 2,
        "responses": 2,
    }
    names = [f.rsplit("/", 1)[-1] for f in files(lake)]
    assert sum(n.startswith(COMPACTED_PREFIX) for n in names) == len({hour_of(at) for at in closed})
    assert len(names) == len({hour_of(at) for at in closed}) + 1  # the open hour's file stays


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


def test_two_sports_answering_the_same_body_at_one_instant_are_two_files(tmp_path: Path) -> None:
    """On a pinned simulated instant the file name (time, source, params, body) left out the sport in
    the path: CFL's `[]` and WNBA's `[]` were one file, and one response was lost."""
    lake = Lake(str(tmp_path / "lake"))
    store = RawStore(lake)
    for sport in ("americanfootball_cfl", "basketball_wnba"):
        path = f"/v4/sports/{sport}/odds"
        store.store(
            RawExchange("oddsapi", "/v4/sports/{sport}/odds", path, {"regions": "us"}, H, 0.0, 200, {}, b"[]")
        )
    assert len(files(lake)) == 2
    assert sorted(responses(lake)["url_path"]) == [
        "/v4/sports/americanfootball_cfl/odds",
        "/v4/sports/basketball_wnba/odds",
    ]

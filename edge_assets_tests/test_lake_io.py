"""The parquet IO manager on local disk and on a real local S3 server (moto in server mode)."""

import hashlib
import multiprocessing
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
from dagster_duckdb import DuckDBResource

from edge_assets.assets.common import with_hours_before
from edge_assets.lake import Lake, LakeMissingPartition, catalog
from edge_assets.lake.io_manager import UPSERT_KEYS, LakeResource, ParquetLakeIOManager
from edge_assets.partitions import HOURLY
from edge_assets.runner import hours_read_before

HOURS = ["2026-03-01-00:00", "2026-03-01-01:00", "2026-03-01-02:00"]


def _hour(key: str) -> datetime:
    return datetime.strptime(key, "%Y-%m-%d-%H:%M").replace(tzinfo=UTC)


@dg.asset(partitions_def=HOURLY, backfill_policy=dg.BackfillPolicy.single_run())
def ticks(context: dg.AssetExecutionContext) -> pl.DataFrame:
    window = context.partition_time_window
    rows = []
    t = window.start
    while t < window.end:
        for i in range(3):
            rows.append({"observed_at": t + timedelta(minutes=10 * i), "value": t.hour * 10 + i})
        t += timedelta(hours=1)
    return pl.DataFrame(rows, schema={"observed_at": pl.Datetime("us", "UTC"), "value": pl.Int64})


@dg.asset(
    partitions_def=HOURLY,
    ins={"ticks": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))},
)
def ticks_window(ticks: pl.DataFrame) -> pl.DataFrame:
    return ticks


@dg.asset
def snapshot() -> pl.DataFrame:
    return pl.DataFrame({"a": [1, 2, 3]})


def _resources(root: str, tmp_path: Path, endpoint: str | None = None) -> dict[str, object]:
    lake = LakeResource(root=root, s3_endpoint_url=endpoint)
    db = DuckDBResource(database=str(tmp_path / "w.duckdb"))
    return {"io_manager": ParquetLakeIOManager(lake_resource=lake, catalog_db=db)}


def _exercise(root: str, tmp_path: Path, endpoint: str | None = None) -> Lake:
    resources = _resources(root, tmp_path, endpoint)
    with dg.instance_for_test() as instance:
        # three partitions in one single-run backfill: the IO manager splits by window
        result = dg.materialize(
            [ticks],
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": HOURS[0],
                "dagster/asset_partition_range_end": HOURS[-1],
            },
        )
        assert result.success
        out = dg.materialize(
            [ticks, ticks_window],
            selection=[ticks_window],
            resources=resources,
            instance=instance,
            partition_key=HOURS[2],
        )
        assert dg.materialize([snapshot], resources=resources, instance=instance).success
    window = out.output_for_node("ticks_window")
    assert window.height == 6  # hours 01 and 02, three rows each
    assert sorted(window["value"].to_list()) == [10, 11, 12, 20, 21, 22]
    lake = Lake(root, s3_endpoint_url=endpoint)
    for i, key in enumerate(HOURS):
        part = lake.read("ticks", key)
        assert part["value"].to_list() == [i * 10, i * 10 + 1, i * 10 + 2]
        assert part["observed_at"].dt.hour().unique().to_list() == [i]
    assert lake.read("snapshot", None)["a"].to_list() == [1, 2, 3]
    both = lake.read_many("ticks", HOURS[:2])
    assert both.height == 6
    assert set(lake.tables()) >= {"ticks", "ticks_window", "snapshot"}
    return lake


def test_local_partitions_round_trip(tmp_path: Path) -> None:
    lake = _exercise(str(tmp_path / "lake"), tmp_path)
    assert (tmp_path / "lake" / "ticks" / "dt=2026-03-01" / "hour=01" / "part.parquet").is_file()
    with pytest.raises(LakeMissingPartition, match="partition 2026-03-01-05:00 has not been written"):
        lake.read("ticks", "2026-03-01-05:00")
    # the catalog view the IO manager created answers plain SQL
    df = catalog.query(str(tmp_path / "w.duckdb"), lake, "select count(*) as n from ticks")
    assert df["n"].to_list() == [9]


def test_catalog_keeps_a_view_that_reads_the_same_glob_and_it_sees_new_files_and_columns(
    tmp_path: Path,
) -> None:
    import duckdb

    lake = Lake(str(tmp_path / "lake"))
    lake.write("quotes", "2026-03-01-00:00", pl.DataFrame({"a": [1, 2]}))
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    assert catalog.refresh(con, lake) == ["quotes"]
    (tmp_path / "lake" / "quotes" / "dt=2026-03-01" / "hour=00" / "part.parquet").unlink()
    # creating the view again would fail (no file matches the glob): it is kept as it is
    assert catalog.refresh(con, lake, ["quotes"]) == ["quotes"]
    lake.write("quotes", "2026-03-01-01:00", pl.DataFrame({"a": [3], "b": ["new column"]}))
    assert con.execute("select a, b, hour from quotes").fetchall() == [(3, "new column", "01")]
    # a view over another glob (another lake root) is replaced
    other = Lake(str(tmp_path / "other"))
    other.write("quotes", "2026-03-01-00:00", pl.DataFrame({"a": [9]}))
    catalog.refresh(con, other)
    assert con.execute("select a from quotes").fetchall() == [(9,)]
    con.close()


def test_read_many_projects_columns_and_skips_ones_an_older_partition_lacks(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write("t", HOURS[0], pl.DataFrame({"x": [1, 2], "y": ["a", "b"]}))
    lake.write("t", HOURS[1], pl.DataFrame({"x": [3], "y": ["c"], "z": [0.5]}))  # a newer column
    df = lake.read_many("t", HOURS[:2], columns=["z", "x"])
    assert df.columns == ["z", "x"]  # y never left the disk
    assert df.to_dict(as_series=False) == {"z": [None, None, 0.5], "x": [1, 2, 3]}


def test_read_many_of_some_columns_scans_local_files_at_once_with_the_per_file_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns of many local partitions come from one polars scan; where the files' schemas need the
    per-file read (a column the first file lacks, a changed type) the result is the per-file one."""
    lake = Lake(str(tmp_path / "lake"))
    lake.write("t", HOURS[0], pl.DataFrame({"x": [1, 2], "y": ["a", "b"]}))
    lake.write("t", HOURS[2], pl.DataFrame({"x": [3], "z": [0.5]}))  # y missing, z extra, HOURS[1] absent
    per_file: list[str] = []
    real_read = Lake.read
    monkeypatch.setattr(
        Lake, "read", lambda self, *a, **k: (per_file.append(a[1]), real_read(self, *a, **k))[1]
    )

    df = lake.read_many("t", HOURS[:3], allow_missing=True, columns=["y", "x"])
    assert df.to_dict(as_series=False) == {"y": ["a", "b", None], "x": [1, 2, 3]}
    assert per_file == []  # one scan
    with pytest.raises(LakeMissingPartition, match="has not been written"):
        lake.read_many("t", HOURS[:3], columns=["x"])  # HOURS[1] is missing and not allowed to be

    df = lake.read_many("t", [HOURS[2], HOURS[0]], columns=["y", "x"])  # the first file lacks y
    assert df.to_dict(as_series=False) == {"y": [None, "a", "b"], "x": [3, 1, 2]}
    assert per_file == [HOURS[0], HOURS[1], HOURS[2], HOURS[0]]  # the refused read, then file by file
    later = "2026-03-01-05:00"
    lake.write("t", later, pl.DataFrame({"x": [4.5], "y": ["c"]}))  # x is a float now
    df = lake.read_many("t", [HOURS[0], later], columns=["x"])
    assert df.to_dict(as_series=False) == {"x": [1.0, 2.0, 4.5]}
    # a row filter gives the same rows in the scan and in the per-file read
    kept = pl.col("x") > 1
    assert lake.read_many("t", [HOURS[0], later], columns=["x"], where=kept)["x"].to_list() == [2.0, 4.5]
    per_file.clear()
    df = lake.read_many("t", HOURS[:3], allow_missing=True, columns=["x", "y"], where=kept)
    assert df.to_dict(as_series=False) == {"x": [2, 3], "y": ["b", None]} and per_file == []
    assert lake.read_many("t", [HOURS[0]], where=pl.col("y") == "a")["x"].to_list() == [1]  # all columns


def test_curated_writes_fsync_raw_responses_do_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_assets.lake.raw import RawStore
    from edge_assets.sources.http import RawExchange

    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    lake = Lake(str(tmp_path / "lake"))
    lake.write("t", HOURS[0], pl.DataFrame({"x": [1]}))
    assert len(synced) == 1
    at = datetime(2026, 3, 1, tzinfo=UTC)
    path = RawStore(lake).store(RawExchange("gamma", "/events", "/events", {}, at, 1.0, 200, {}, b"[]"))
    assert len(synced) == 1  # the raw file was renamed into place without an fsync
    written = [str(p) for p in (tmp_path / "lake" / "raw_responses").rglob("*.parquet")]
    assert written == [path] and not list((tmp_path / "lake").rglob("*.tmp"))


def _raw_round_trip(lake: Lake) -> None:
    """A stored response reads back in the contract's schema with its exact bytes, and storing it
    again rewrites the same file byte for byte (the raw lake is idempotent)."""
    from edge_assets.lake.raw import RawStore, decompress
    from edge_assets.schemas import RAW_RESPONSES
    from edge_assets.sources.http import RawExchange

    body = b'[{"id": "1", "question": "Lakers vs. Celtics"}]' * 50
    at = datetime(2026, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
    headers = {"x-requests-remaining": "480", "x-requests-used": "20", "x-requests-last": "3"}
    exchange = RawExchange(
        "oddsapi",
        "/v4/sports/{sport}/odds",
        "/v4/sports/nba/odds",
        {"regions": "us"},
        at,
        12.5,
        200,
        headers,
        body,
    )
    path = RawStore(lake).store(exchange, parse_error="schema drift: no 'bookmakers'")
    first = lake.fs.open_input_file(path).readall()
    df = lake.read_file(path)
    assert df.schema == pl.Schema(RAW_RESPONSES)
    row = df.row(0, named=True)
    assert decompress(row.pop("body_zstd"), row["body_bytes"]) == body
    assert row == {
        "source": "oddsapi",
        "endpoint": "/v4/sports/{sport}/odds",
        "url_path": "/v4/sports/nba/odds",
        "params": '{"regions": "us"}',
        "requested_at": at,
        "elapsed_ms": 12.5,
        "status": 200,
        "quota_remaining": 480,
        "quota_used": 20,
        "quota_last": 3,
        "body_bytes": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "parse_error": "schema drift: no 'bookmakers'",
    }
    assert RawStore(lake).store(exchange, parse_error="schema drift: no 'bookmakers'") == path
    assert lake.fs.open_input_file(path).readall() == first


def _mark_parse_errors(lake: Lake) -> None:
    """Only the 200 bodies their endpoint's parser rejects get `parse_error`; the rest of each row,
    and every other file, stay as they were."""
    from edge_assets.lake.raw import RawStore
    from edge_assets.sources.http import MalformedResponse, RawExchange

    def parse(body: bytes) -> None:
        if not body.startswith(b"["):
            raise MalformedResponse("api", "/x", f"not an array: {body[:5]!r}")

    store = RawStore(lake)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    bodies = [("/x", 200, b"[1]"), ("/x", 200, b"{bad"), ("/x", 500, b"{oops"), ("/y", 200, b"{other")]
    paths = [
        store.store(RawExchange("api", endpoint, endpoint, {"i": i}, at, 1.0, status, {}, body))
        for i, (endpoint, status, body) in enumerate(bodies)
    ]
    before = {p: lake.read_file(p) for p in paths}
    assert store.mark_parse_errors({"/x": parse}) == [paths[1]]
    after = {p: lake.read_file(p) for p in paths}
    assert after[paths[1]]["parse_error"].to_list() == ["not an array: b'{bad'"]
    assert after[paths[1]].drop("parse_error").equals(before[paths[1]].drop("parse_error"))  # same response
    assert all(after[p].equals(before[p]) for p in (paths[0], paths[2], paths[3]))
    assert store.mark_parse_errors({"/x": parse}) == []  # marked once


def test_mark_parse_errors_marks_only_the_200_bodies_their_endpoint_parser_rejects(tmp_path: Path) -> None:
    _mark_parse_errors(Lake(str(tmp_path / "lake")))


@pytest.mark.integration
def test_mark_parse_errors_on_s3(s3_server: str) -> None:
    _mark_parse_errors(Lake("s3://edge-lake/marks", s3_endpoint_url=s3_server))


def test_raw_response_round_trips_exactly_and_rewrites_identically(tmp_path: Path) -> None:
    _raw_round_trip(Lake(str(tmp_path / "lake")))


@pytest.mark.integration
def test_raw_response_round_trips_on_s3(s3_server: str) -> None:
    _raw_round_trip(Lake("s3://edge-lake/raw", s3_endpoint_url=s3_server))


def test_write_that_dies_midway_keeps_previous_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    lake.write("t", HOURS[0], pl.DataFrame({"x": [1, 2]}))

    def explode(df: object, where: object, **kwargs: object) -> None:
        where.write(b"PAR1 half a file")  # type: ignore[attr-defined]
        raise OSError("disk died")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", explode)
    with pytest.raises(OSError, match="disk died"):
        lake.write("t", HOURS[0], pl.DataFrame({"x": [9, 9, 9]}))
    monkeypatch.undo()
    assert lake.read("t", HOURS[0])["x"].to_list() == [1, 2]
    folder = tmp_path / "lake" / "t" / "dt=2026-03-01" / "hour=00"
    assert sorted(p.name for p in folder.iterdir()) == ["part.parquet"]


def _rewrite_forever(root: str, key: str, stop: Any) -> None:
    lake, i = Lake(root), 0
    while not stop.is_set():
        n = 1000 + (i % 7) * 3000  # frames of several sizes: another footer, other page offsets
        lake.write("t", key, pl.DataFrame({"x": range(n), "s": [f"v{j}" for j in range(n)]}))
        i += 1


def test_reads_beside_a_process_rewriting_the_partition_see_one_whole_file(tmp_path: Path) -> None:
    """A comparator run reads the current hour while a poll rewrites it: every read, whole-file,
    some columns or a scan of several, is the old file or the new one, never an error. Reading by
    path, polars opened the file again for its pages and ~5 % of reads failed (or panicked)."""
    root, key = str(tmp_path / "lake"), "2026-03-01-12:00"
    lake = Lake(root)
    lake.write("t", key, pl.DataFrame({"x": [0], "s": ["v0"]}))
    lake.write("t", "2026-03-01-13:00", pl.DataFrame({"x": [0], "s": ["v0"]}))
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    writer = ctx.Process(target=_rewrite_forever, args=(root, key, stop))
    writer.start()
    reads, errors = 0, []
    try:
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            for read in (
                lambda: lake.read("t", key),
                lambda: lake.read("t", key, columns=["x", "s"]),
                lambda: lake.read_many("t", [key, "2026-03-01-13:00"], columns=["x", "s"]).head(-1),
            ):
                try:
                    df = read()
                    assert df["x"].to_list() == list(range(df.height))
                    reads += 1
                except BaseException as exc:  # PanicException is a BaseException
                    errors.append(f"{type(exc).__name__}: {str(exc)[:80]}")
    finally:
        stop.set()
        writer.join(10)
    assert reads > 300 and errors == []


def _poll_and_write(root: str, tmp: str, worker: int, go: Any) -> None:
    """What a pm_markets run does: merge its poll over the partition it read, return it to the IO
    manager; the other process does the same between the read and the write."""
    from edge_assets.assets.ingest import PM_MARKETS_KEY, upsert

    lake = Lake(root)
    manager = ParquetLakeIOManager(
        lake_resource=LakeResource(root=root), catalog_db=DuckDBResource(database=f"{tmp}/w{worker}.duckdb")
    )
    schema = {"observed_at": pl.Datetime("us", "UTC"), "market_id": pl.String, "price": pl.Float64}
    go.wait()
    for i in range(40):
        at = datetime(2026, 3, 1, 0, tzinfo=UTC) + timedelta(seconds=i)
        poll = pl.DataFrame(
            {"observed_at": [at], "market_id": [f"w{worker}-{i}"], "price": [0.5]}, schema=schema
        )
        merged = upsert(lake, "pm_markets", [HOURS[0]], poll, PM_MARKETS_KEY, schema)
        context = dg.build_output_context(  # one per write: a context keeps its output metadata
            asset_key="pm_markets",
            partition_key=HOURS[0],
            asset_partitions_def=HOURLY,
            definition_metadata={"partition_column": "observed_at", UPSERT_KEYS: PM_MARKETS_KEY},
        )
        manager.handle_output(context, merged)


def test_overlapping_runs_upserting_one_partition_keep_each_others_polls(tmp_path: Path) -> None:
    """Two runs polling into the same hour (a poll run slower than the minute and the next one):
    each merged its rows over what it had read, and the last write dropped the other's."""
    root = str(tmp_path / "lake")
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    workers = [ctx.Process(target=_poll_and_write, args=(root, str(tmp_path), w, go)) for w in range(2)]
    for worker in workers:
        worker.start()
    time.sleep(4)  # both imported and waiting
    go.set()
    for worker in workers:
        worker.join(60)
    ids = Lake(root).read("pm_markets", HOURS[0])["market_id"].to_list()
    assert sorted(ids) == sorted(f"w{w}-{i}" for w in range(2) for i in range(40))


def test_rewrite_is_idempotent(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    df = pl.DataFrame({"x": [3, 1, 2]})
    lake.write("t", HOURS[1], df)
    first = (tmp_path / "lake/t/dt=2026-03-01/hour=01/part.parquet").read_bytes()
    lake.write("t", HOURS[1], df)
    assert (tmp_path / "lake/t/dt=2026-03-01/hour=01/part.parquet").read_bytes() == first


@pytest.mark.integration
def test_s3_partitions_round_trip(tmp_path: Path, s3_server: str) -> None:
    import boto3

    lake = _exercise("s3://edge-lake/prefix", tmp_path, s3_server)
    keys = {
        o["Key"]
        for o in boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").list_objects_v2(
            Bucket="edge-lake"
        )["Contents"]
    }
    assert "prefix/ticks/dt=2026-03-01/hour=02/part.parquet" in keys
    assert not any(k.endswith(".tmp") for k in keys)
    # one PutObject an object (a multipart upload's ETag ends in -<parts>): nothing left half-uploaded
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    etag = client.head_object(Bucket="edge-lake", Key="prefix/ticks/dt=2026-03-01/hour=02/part.parquet")[
        "ETag"
    ]
    assert "-" not in etag
    assert "Uploads" not in client.list_multipart_uploads(Bucket="edge-lake")
    # DuckDB reads the same lake over S3 through the offline httpfs wheel
    df = catalog.query(str(tmp_path / "s3.duckdb"), lake, "select count(*) as n, sum(value) as s from ticks")
    assert df.row(0) == (9, 0 + 1 + 2 + 10 + 11 + 12 + 20 + 21 + 22)


@pytest.mark.integration
def test_s3_failed_upload_keeps_previous_object(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = Lake("s3://edge-lake/crash", s3_endpoint_url=s3_server)
    lake.write("t", HOURS[0], pl.DataFrame({"x": [1, 2]}))

    def explode(df: object, where: object, **kwargs: object) -> None:
        where.write(b"PAR1 half")  # type: ignore[attr-defined]
        raise OSError("network died")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", explode)
    with pytest.raises(OSError, match="network died"):
        lake.write("t", HOURS[0], pl.DataFrame({"x": [7]}))
    monkeypatch.undo()
    assert lake.read("t", HOURS[0])["x"].to_list() == [1, 2]


def test_split_by_windows_equals_one_filter_per_window() -> None:
    from datetime import UTC, datetime, timedelta

    from edge_assets.frames import split_by_windows

    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    minutes = [130, -5, 0, 59, 60, 61, 179, 180, 3, 125]  # before, at and past the window edges
    df = pl.DataFrame(
        {"at": [t0 + timedelta(minutes=m) for m in minutes] + [None], "x": list(range(11))},
        schema={"at": pl.Datetime("us", "UTC"), "x": pl.Int64},
    )
    windows = [(t0 + timedelta(hours=i), t0 + timedelta(hours=i + 1)) for i in range(3)]
    parts = split_by_windows(df, "at", windows)
    assert [p["x"].to_list() for p in parts] == [[2, 3, 8], [4, 5], [0, 6, 9]]
    for part, (lo, hi) in zip(parts, windows, strict=True):
        assert part.equals(df.filter((pl.col("at") >= lo) & (pl.col("at") < hi)))


def test_a_step_reads_what_its_run_just_wrote_from_memory_and_the_rest_from_the_lake(tmp_path: Path) -> None:
    """ticks_window needs hour 00 (an earlier run wrote it) and hours 01-02 (written by ticks in the
    same run): it gets exactly what reading all three back from the lake gives, and the hours the run
    wrote are not read back (their files are gone by the time the step runs and it still gets them)."""
    from edge_assets.lake import io_manager

    root = str(tmp_path / "lake")
    resources = _resources(root, tmp_path)
    lake = Lake(root)

    @dg.asset(
        partitions_def=HOURLY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        ins={"ticks": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping())},
    )
    def ticks_gone(ticks: pl.DataFrame) -> pl.DataFrame:  # runs between ticks and ticks_window
        for key in HOURS[1:]:
            os.remove(lake.partition_file("ticks", key))
        return ticks.clear()

    @dg.asset(
        partitions_def=HOURLY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[ticks_gone],
        ins={"ticks": dg.AssetIn(partition_mapping=dg.TimeWindowPartitionMapping(start_offset=-1))},
    )
    def ticks_seen(ticks: pl.DataFrame) -> pl.DataFrame:
        return ticks

    range_tags = {
        "dagster/asset_partition_range_start": HOURS[1],
        "dagster/asset_partition_range_end": HOURS[2],
    }
    with dg.instance_for_test() as instance:
        assert dg.materialize([ticks], resources=resources, instance=instance, tags=range_tags).success
        expected = lake.read_many("ticks", HOURS[1:])  # what the next run will write again
        assert dg.materialize([ticks], resources=resources, instance=instance, partition_key=HOURS[0]).success
        expected = pl.concat([lake.read("ticks", HOURS[0]), expected])
        io_manager._JUST_WRITTEN.clear()
        out = dg.materialize(
            [ticks, ticks_gone, ticks_seen], resources=resources, instance=instance, tags=range_tags
        )
        assert out.success
    seen = out.output_for_node("ticks_seen")
    assert seen.equals(expected)
    assert seen["observed_at"].dt.hour().unique().sort().to_list() == [0, 1, 2]


@dg.asset(partitions_def=HOURLY, ins={"ticks": with_hours_before(2)})
def ticks_with_two_before(ticks: pl.DataFrame) -> pl.DataFrame:
    return ticks


def test_an_input_read_with_hours_before_gets_them_where_written_and_keeps_same_hour_lineage(
    tmp_path: Path,
) -> None:
    resources = _resources(str(tmp_path / "lake"), tmp_path)
    with dg.instance_for_test() as instance:
        assert dg.materialize([ticks], resources=resources, instance=instance, partition_key=HOURS[0]).success
        assert dg.materialize([ticks], resources=resources, instance=instance, partition_key=HOURS[2]).success
        # 02:00 and 03:00 as one run: 00:00 and 01:00 come before it; 01:00 and 03:00 were never written
        out = dg.materialize(
            [ticks, ticks_with_two_before],
            selection=[ticks_with_two_before],
            resources=resources,
            instance=instance,
            tags={
                "dagster/asset_partition_range_start": HOURS[2],
                "dagster/asset_partition_range_end": "2026-03-01-03:00",
            },
        )
    assert out.output_for_node("ticks_with_two_before")["value"].to_list() == [0, 1, 2, 20, 21, 22]
    graph = dg.Definitions(assets=[ticks, ticks_with_two_before]).resolve_asset_graph()
    mapping = graph.get_partition_mapping(ticks_with_two_before.key, ticks.key)
    assert not isinstance(mapping, dg.TimeWindowPartitionMapping) or mapping.start_offset == 0
    assert hours_read_before(graph, ticks_with_two_before.key, ticks.key) == 2


def test_duckdb_s3_secret_takes_the_credentials_pyarrow_finds_without_the_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_server: str
) -> None:
    """A profile (or SSO, an instance role): the pipeline wrote through pyarrow, while DuckDB went
    unsigned and every `edge query` failed with HTTP 403."""
    import duckdb

    lake = Lake("s3://edge-lake/profile", s3_endpoint_url=s3_server)
    lake.write("t", HOURS[0], pl.DataFrame({"x": [1, 2, 3]}))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIAFROMPROFILE\naws_secret_access_key = from-profile\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    con = duckdb.connect()
    catalog.configure(con, lake)
    [(secret,)] = con.execute("select secret_string from duckdb_secrets()").fetchall()
    assert "key_id=AKIAFROMPROFILE;" in secret and "secret=redacted" in secret
    assert "from-profile" not in secret
    got = con.execute(f"select sum(x) from read_parquet('{lake.glob_uri('t')}')").fetchone()
    assert got == (6,)


def test_duckdb_s3_secret_takes_temporary_credentials_and_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    """STS/SSO credentials carry a session token; a secret with a quote must not break the SQL."""
    import duckdb

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA'X")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s'ecret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-1")
    con = duckdb.connect()
    catalog.configure(con, Lake("s3://bucket/p", s3_endpoint_url="http://127.0.0.1:9"))
    [(secret,)] = con.execute("select secret_string from duckdb_secrets()").fetchall()
    assert "key_id=AKIA'X;" in secret and "session_token=redacted" in secret and "secret=redacted" in secret
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    catalog.configure(con, Lake("s3://bucket/p", s3_endpoint_url="http://127.0.0.1:9"))
    [(secret,)] = con.execute("select secret_string from duckdb_secrets()").fetchall()
    assert "session_token" not in secret


def test_a_re_polled_book_replaces_the_old_one_whole() -> None:
    """Book rows are keyed by level: a shallower re-poll under the same snapshot time kept the old
    poll's deeper levels, a book that never existed."""
    from edge_assets.frames import upsert_rows

    def book(token: str, asks: list[float]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "snapshot_at": [1] * len(asks),
                "token_id": [token] * len(asks),
                "side": ["ask"] * len(asks),
                "level": list(range(len(asks))),
                "price": asks,
            }
        )

    held = pl.concat([book("t1", [0.41, 0.42, 0.43]), book("t2", [0.60, 0.61])])
    key = ["snapshot_at", "token_id", "side", "level"]
    merged = upsert_rows(held, book("t1", [0.40]), key, replace_by=["snapshot_at", "token_id"])
    assert merged.rows() == [(1, "t1", "ask", 0, 0.40), (1, "t2", "ask", 0, 0.60), (1, "t2", "ask", 1, 0.61)]
    by_level = upsert_rows(held, book("t1", [0.40]), key)  # keyed by level alone: the old levels stay
    assert by_level.filter(pl.col("token_id") == "t1")["price"].to_list() == [0.40, 0.42, 0.43]
    from edge_assets.assets import ingest
    from edge_assets.lake.io_manager import UPSERT_REPLACES

    (spec,) = ingest.pm_order_book_snapshots.specs  # what the IO manager merges by at write time
    assert spec.metadata[UPSERT_REPLACES] == ["snapshot_at", "token_id"]

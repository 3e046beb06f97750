"""Ingest benchmark: historical Odds API JSON → ODDS_QUOTES parquet, in rows per second.

Part 1 (sources): parse + normalize + write_parquet for a backfill-shaped workload built
from the real 2021 NFL historical snapshot (../shared/fixtures/real), replicated into many
snapshots with distinct event ids and timestamps; falls back to a synthetic snapshot of the
same shape when the recordings are absent. Two paths are timed:

- fast: raw response bytes → `historical_to_frame(bytes)` (polars `read_json`, explode/unnest)
- validated: `json.loads` → pydantic `HistoricalOdds` → `historical_to_frame(model)`

Part 2 (raw lake): storing each of those responses as its own raw_responses file (`RawStore`, as
the clients do before parsing), against the polars zstd writer it used before, in the same run.

Run: `.venv/bin/python bench/ingest.py [--snapshots 200] [--replicate 4]`
"""

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edge_assets.sources.normalize import historical_to_frame  # noqa: E402
from edge_assets.sources.oddsapi import HistoricalOdds  # noqa: E402

REAL = (
    REPO.parent
    / "shared"
    / "fixtures"
    / "real"
    / "oddsapi_v4_historical_odds_americanfootball_nfl_2021-11-25.json"
)


def synthetic_snapshot(n_events: int = 16, n_books: int = 10, seed: int = 0) -> dict[str, Any]:
    """Same shape as a real NFL snapshot: h2h + spreads + totals per book, American prices."""
    rng = random.Random(seed)
    data = []
    for e in range(n_events):
        home, away = f"Home {e}", f"Away {e}"
        books = []
        for b in range(n_books):
            line = rng.choice([-7.5, -3.0, -1.5, 2.5])
            total = rng.choice([41.0, 44.5, 47.5])
            books.append(
                {
                    "key": f"book{b}",
                    "title": f"Book {b}",
                    "last_update": "2021-11-25T11:49:47Z",
                    "markets": [
                        {
                            "key": "h2h",
                            "outcomes": [{"name": home, "price": -150}, {"name": away, "price": 130}],
                        },
                        {
                            "key": "spreads",
                            "outcomes": [
                                {"name": home, "price": -110, "point": line},
                                {"name": away, "price": -110, "point": -line},
                            ],
                        },
                        {
                            "key": "totals",
                            "outcomes": [
                                {"name": "Over", "price": -105, "point": total},
                                {"name": "Under", "price": -115, "point": total},
                            ],
                        },
                    ],
                }
            )
        data.append(
            {
                "id": f"{e:032x}",
                "sport_key": "americanfootball_nfl",
                "sport_title": "NFL",
                "commence_time": "2021-11-25T17:30:00Z",
                "home_team": home,
                "away_team": away,
                "bookmakers": books,
            }
        )
    return {
        "timestamp": "2021-11-25T11:55:00Z",
        "previous_timestamp": "2021-11-25T11:45:00Z",
        "next_timestamp": "2021-11-25T12:05:00Z",
        "data": data,
    }


def base_snapshot() -> tuple[dict[str, Any], str]:
    if REAL.is_file():
        return json.loads(REAL.read_text(encoding="utf-8")), "real NFL 2021-11-25 historical snapshot"
    return synthetic_snapshot(), "synthetic NFL-shaped snapshot (real recordings absent)"


def make_bodies(base: dict[str, Any], snapshots: int, replicate: int) -> list[bytes]:
    """`snapshots` wrappers 10 minutes apart, each with the base events `replicate` times (new ids)."""
    start = datetime.fromisoformat(base["timestamp"].replace("Z", "+00:00"))
    bodies = []
    for s in range(snapshots):
        ts = start + timedelta(minutes=10 * s)
        data = []
        for r in range(replicate):
            for ev in base["data"]:
                data.append({**ev, "id": f"{ev['id'][:28]}{r:04x}"})
        wrapper = {
            "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "previous_timestamp": (ts - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "next_timestamp": (ts + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "data": data,
        }
        bodies.append(json.dumps(wrapper).encode())
    return bodies


def run(bodies: list[bytes], odds_format: str, validated: bool, out: Path) -> tuple[int, float]:
    started = time.perf_counter()
    if validated:
        frames = [historical_to_frame(HistoricalOdds.model_validate_json(b), odds_format) for b in bodies]
    else:
        frames = [historical_to_frame(b, odds_format) for b in bodies]
    frame = pl.concat(frames)
    frame.write_parquet(out)
    return frame.height, time.perf_counter() - started


def bench_historical_ingest(snapshots: int = 200, replicate: int = 4) -> dict[str, Any]:
    base, label = base_snapshot()
    bodies = make_bodies(base, snapshots, replicate)
    mb = sum(len(b) for b in bodies) / 1e6
    results: dict[str, Any] = {"input": label, "snapshots": snapshots, "json_mb": round(mb, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        run(bodies[:2], "american", False, Path(tmp) / "warm.parquet")  # warm-up (imports, caches)
        # pydantic is ~20x slower: time it on a subset so the bench stays short
        for name, validated, subset in (("fast", False, bodies), ("validated", True, bodies[:50])):
            rows, seconds = run(subset, "american", validated, Path(tmp) / f"{name}.parquet")
            results[name] = {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds)}
    return results


def bench_raw_store(bodies: list[bytes], rounds: int = 3) -> dict[str, float]:
    """Seconds to store each body as a raw response file: `RawStore` (pyarrow, uncompressed pages
    over the zstd body) vs the same rows through polars' writer at zstd level 1 (the previous path).
    Best of `rounds`, alternating, each into a fresh lake. The baseline also converts the row back
    from arrow (~0.1 ms a file here), so the ratio flatters the new path by about that much."""
    from edge_assets.lake import Lake
    from edge_assets.lake.raw import RawStore
    from edge_assets.lake.storage import ZSTD_LEVEL
    from edge_assets.schemas import RAW_RESPONSES
    from edge_assets.sources.http import RawExchange

    class PolarsZstdLake(Lake):
        def write_arrow_file(self, path: str, table: Any, *, sync: bool = True) -> None:
            frame = pl.DataFrame([table.to_pylist()[0]], schema=RAW_RESPONSES)
            self._write_atomic(
                path,
                lambda out: frame.write_parquet(out, compression="zstd", compression_level=ZSTD_LEVEL),
                sync,
            )

    at = datetime(2026, 3, 1, tzinfo=UTC)
    exchanges = [
        RawExchange(
            "oddsapi",
            "/v4/historical/sports/{sport}/odds",
            "/v4/historical/sports/nfl/odds",
            {"date": f"{i}"},
            at + timedelta(seconds=i),
            10.0,
            200,
            {"x-requests-remaining": "9"},
            b,
        )
        for i, b in enumerate(bodies)
    ]
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for name, lake_cls in (("pyarrow_plain", Lake), ("polars_zstd", PolarsZstdLake)):
                store = RawStore(lake_cls(f"{tmp}/{name}{r}"))
                t0 = time.perf_counter()
                for ex in exchanges:
                    store.store(ex)
                best[name] = min(best.get(name, float("inf")), time.perf_counter() - t0)
                best[f"{name}_bytes"] = sum(
                    p.stat().st_size for p in Path(f"{tmp}/{name}{r}").rglob("*.parquet")
                )
    return {"files": len(bodies), **best}


def bench_backfill(hours: int = 168, end: datetime | None = None) -> dict[str, float]:
    """Wall time of backfilling oddsapi_historical_hourly for `hours` as one run vs one run per hour."""
    import dagster as dg

    from edge_assets.assets import ingest
    from edge_assets.partitions import hour_key
    from edge_assets.resources import build_resources
    from edge_assets.settings import load_settings

    end = end or datetime(2026, 11, 20, tzinfo=UTC)
    keys = [hour_key(end - timedelta(hours=h)) for h in range(hours, 0, -1)]
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("single_run", "per_partition"):
            root = Path(tmp) / mode
            res = build_resources(
                load_settings(lake_root=str(root / "lake"), duckdb_path=str(root / "w.duckdb"))
            )
            quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
            with dg.instance_for_test() as instance:
                t0 = time.perf_counter()
                if mode == "single_run":
                    tags = {
                        "dagster/asset_partition_range_start": keys[0],
                        "dagster/asset_partition_range_end": keys[-1],
                    }
                    assert dg.materialize(
                        [ingest.oddsapi_historical_hourly],
                        resources=res,
                        instance=instance,
                        tags=tags,
                        run_config=quiet,
                    ).success
                else:
                    for key in keys:
                        assert dg.materialize(
                            [ingest.oddsapi_historical_hourly],
                            resources=res,
                            instance=instance,
                            partition_key=key,
                            run_config=quiet,
                        ).success
                out[mode] = time.perf_counter() - t0
                out[f"{mode}_runs"] = len(instance.get_runs())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=200)
    parser.add_argument("--replicate", type=int, default=4, help="copies of the base events per snapshot")
    parser.add_argument("--backfill-hours", type=int, default=168, help="0 skips the backfill timing")
    args = parser.parse_args(argv)
    r = bench_historical_ingest(args.snapshots, args.replicate)
    print(f"historical odds ingest ({r['input']}): {r['snapshots']} snapshots, {r['json_mb']} MB JSON")
    for name in ("fast", "validated"):
        x = r[name]
        print(
            f"  {name:9s} parse+normalize+write_parquet: {x['rows']:,} rows in {x['seconds']:.2f} s "
            f"= {x['rows_per_s']:,} rows/s"
        )
    base, _ = base_snapshot()
    raw = bench_raw_store(make_bodies(base, 400, 1))
    n = raw["files"]
    print(f"raw response files ({n} historical bodies, one file each, best of 3):")
    for name in ("pyarrow_plain", "polars_zstd"):
        print(
            f"  {name:14s}: {raw[name] * 1000 / n:.3f} ms per file, "
            f"{raw[f'{name}_bytes'] / n / 1024:.1f} KiB per file"
        )
    print(
        f"  ratio         : {raw['polars_zstd'] / raw['pyarrow_plain']:.2f}x "
        "faster than the polars zstd writer"
    )
    if args.backfill_hours:
        b = bench_backfill(args.backfill_hours)
        print(
            f"oddsapi_historical_hourly backfill of {args.backfill_hours} hourly partitions "
            "(5 sports, simulator):"
        )
        print(f"  single run      : {b['single_run']:.1f} s wall, {b['single_run_runs']:.0f} run")
        print(
            f"  per-partition   : {b['per_partition']:.1f} s wall, {b['per_partition_runs']:.0f} runs "
            f"(in-process; a daemon-launched run adds ~5 s of process start each)"
        )
        print(f"  ratio           : {b['per_partition'] / b['single_run']:.1f}x faster as one run")


if __name__ == "__main__":
    main()

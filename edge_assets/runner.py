"""In-process runs of the asset graph for the CLI: demo windows and single-run backfills."""

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg

from edge_assets.partitions import DAILY, HOURLY, hour_key

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def ensure_dagster_home(path: str) -> Path:
    """Use $DAGSTER_HOME if set, else a persistent local instance the UI also opens."""
    home = Path(os.environ.get("DAGSTER_HOME") or path).resolve()
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


@dataclass
class StepReport:
    name: str
    partitions: str
    seconds: float
    assets: list[str] = field(default_factory=list)
    success: bool = True
    errors: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    steps: list[StepReport] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(s.success for s in self.steps)


def _by_partitions(defs: dg.Definitions) -> tuple[list[dg.AssetKey], list[dg.AssetKey], list[dg.AssetKey]]:
    graph = defs.resolve_asset_graph()
    unpart, daily, hourly = [], [], []
    for key in graph.materializable_asset_keys:
        pdef = graph.get(key).partitions_def
        if pdef is None:
            unpart.append(key)
        elif pdef == DAILY:
            daily.append(key)
        elif pdef == HOURLY:
            hourly.append(key)
    return unpart, daily, hourly


def run_window(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    start: datetime,
    end: datetime,
    *,
    include: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    log_level: str = "WARNING",
) -> RunReport:
    """Materialize the graph for the hours in [start, end): seeds, then days, then hours as one run."""
    unpart, daily, hourly = _by_partitions(defs)
    all_assets = list(defs.assets or [])
    resources = defs.resources or {}
    report = RunReport()

    def keep(keys: list[dg.AssetKey]) -> list[dg.AssetKey]:
        out = [k for k in keys if k.to_user_string() not in exclude]
        if include is not None:
            out = [k for k in out if k.to_user_string() in include]
        return sorted(out, key=lambda k: k.to_user_string())

    def step(name: str, keys: list[dg.AssetKey], partition_key: str | None, tags: dict[str, str]) -> None:
        if not keys:
            return
        t0 = time.perf_counter()
        result = dg.materialize(
            all_assets,
            selection=keys,
            instance=instance,
            resources=resources,
            partition_key=partition_key,
            tags=tags,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        errors = [
            f"{e.step_key}: {e.event_specific_data.error.message.strip()}"  # type: ignore[union-attr]
            for e in result.all_events
            if e.is_step_failure and e.event_specific_data is not None
        ]
        report.steps.append(
            StepReport(
                name=name,
                partitions=partition_key or tags.get(RANGE_START, "-") + "..." + tags.get(RANGE_END, ""),
                seconds=time.perf_counter() - t0,
                assets=[k.to_user_string() for k in keys],
                success=result.success,
                errors=errors,
            )
        )

    step("seeds", keep(unpart), None, {})
    first_hour = hour_key(start)
    last_hour = hour_key(end - timedelta(seconds=1))
    days = sorted({first_hour[:10], last_hour[:10]})
    day = datetime.strptime(days[0], "%Y-%m-%d").replace(tzinfo=UTC)
    while day.strftime("%Y-%m-%d") <= days[-1]:
        step("daily", keep(daily), day.strftime("%Y-%m-%d"), {})
        day += timedelta(days=1)
    hourly_keys = keep(hourly)
    if first_hour == last_hour:
        step("hourly", hourly_keys, first_hour, {})
    else:
        step("hourly", hourly_keys, None, {RANGE_START: first_hour, RANGE_END: last_hour})
    return report

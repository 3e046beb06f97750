"""The shape every lake-backed asset shares: parquet via the IO manager, a partition column to split a
run's rows into partitions by, and the backfill policy of its partitions (`BACKFILL_POLICIES`)."""

import warnings
from collections.abc import Callable
from typing import Any

import dagster as dg

from edge_assets.lake.io_manager import HOURS_BEFORE
from edge_assets.partitions import DAILY, HOURLY

# beta in 1.13 and chosen on purpose (backfill runs over ranges); the warning would print on every
# CLI start and UI load
warnings.filterwarnings(
    "ignore",
    message=r"Parameter `backfill_policy` ",
    category=dg.BetaWarning,
)
# How the backfill daemon (a range launched in the UI) cuts a range into runs; `edge backfill` plans
# its own runs (edge_assets.runner). Hourly: 48 hours a run. As one run, 168 hours of the graph
# peaked at 3.6 GB in one step process, so 90 days could not fit in memory. The runs of a backfill
# run one at a time in order (the instance's run queue, runner.BACKFILL_QUEUE_YAML): an hour reads the
# hours before it, which the previous run writes. Daily: 30 days a run: 90 days as one run peaked
# at 4.7 GB and grows with the range; 7-day runs took 10x as long (a run's start dominates). The
# scores have a policy of their own (`DAILY_ROOT_POLICY`).
HOURLY_RUN_PARTITIONS = 48
DAILY_RUN_PARTITIONS = 30
BACKFILL_POLICIES: dict[dg.PartitionsDefinition, dg.BackfillPolicy] = {
    HOURLY: dg.BackfillPolicy.multi_run(max_partitions_per_run=HOURLY_RUN_PARTITIONS),
    DAILY: dg.BackfillPolicy.multi_run(max_partitions_per_run=DAILY_RUN_PARTITIONS),
}
SINGLE_RUN = dg.BackfillPolicy.single_run()
# Labels and paper trades read the scores of the days after their own (the settlement horizon). A
# policy of their own keeps the scores out of their runs: the daemon runs all days' scores as one run
# first and requests a labels run only once it is done; in the same run, its last days would
# be labelled before the next run wrote the scores they look for.
DAILY_ROOT_POLICY = SINGLE_RUN
# metadata the CLI's runner plans by (edge_assets.runner.hourly_stages): the asset reads earlier hours of
# its hourly parents from the lake itself / writes shared state, so two of its hour ranges never run at once
READS_EARLIER_HOURS = "reads_earlier_hours"
SINGLE_WRITER = "single_writer"
# hours per run when a parallel backfill gives the asset its whole range in a worker of its own (as it
# does a SINGLE_WRITER): most of such a run's cost is fixed (Dagster, reads of the lookback), so
# fewer, longer runs; its rows do not depend on where a run starts (tested)
RUN_HOURS = "run_hours"


def with_hours_before(hours: int = 1) -> dg.AssetIn:
    """An hourly input read together with the ``hours`` before the run's first hour; hours not written
    yet are skipped (the start of the lake, or the current hour before its first poll). The IO manager
    reads them (HOURS_BEFORE), so Dagster's lineage is same-hour: a backfill of hours a..b targets
    exactly those hours downstream."""
    return dg.AssetIn(metadata={"allow_missing_partitions": True, HOURS_BEFORE: hours})


# "module:function" doing ahead what the asset's body does first (import heavy libraries): the runner
# calls it in the background while a core is idle, before the asset runs
WARM_UP = "warm_up"


def lake_asset(
    group_name: str,
    *,
    partitions_def: dg.PartitionsDefinition = HOURLY,
    partition_column: str = "observed_at",
    metadata: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Callable:
    return dg.asset(
        partitions_def=partitions_def,
        backfill_policy=kwargs.pop("backfill_policy", BACKFILL_POLICIES.get(partitions_def, SINGLE_RUN)),
        group_name=group_name,
        kinds={"polars", "parquet"},
        metadata={"partition_column": partition_column, **(metadata or {})},
        **kwargs,
    )

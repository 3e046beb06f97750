"""The one Definitions object: assets, checks, resources, schedules, sensors, jobs."""

import dagster as dg

from edge_assets import automation, checks
from edge_assets.assets import comparator, ingest, mapping, seeds, trading, training
from edge_assets.resources import build_resources

defs = dg.Definitions(
    assets=[
        ingest.raw_responses,
        *dg.load_assets_from_modules([seeds, ingest, mapping, comparator, training, trading]),
    ],
    asset_checks=checks.CHECKS,
    schedules=[*automation.SCHEDULES, *automation.ML_SCHEDULES],
    sensors=automation.SENSORS,
    jobs=[*automation.JOBS, *automation.ML_JOBS],
    resources=build_resources(),
)

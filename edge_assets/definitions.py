"""The one Definitions object: assets, checks, resources, schedules, sensors, jobs."""

import dagster as dg

from edge_assets.assets import seeds
from edge_assets.resources import build_resources

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([seeds]),
    resources=build_resources(),
)

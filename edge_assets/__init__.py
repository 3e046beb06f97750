"""edge-assets: pricing edges between Polymarket and sportsbooks, as a Dagster lakehouse."""

from edge_assets.definitions import defs

__all__ = ["defs"]

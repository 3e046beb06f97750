"""edge-assets: pricing edges between Polymarket and sportsbooks, as a Dagster lakehouse.

`defs` is loaded lazily so the pure modules (pricing, mapping, simulator, ...) import without Dagster.
"""

from typing import Any

__all__ = ["defs"]


def __getattr__(name: str) -> Any:
    if name == "defs":
        from edge_assets.definitions import defs

        return defs
    raise AttributeError(f"module 'edge_assets' has no attribute {name!r}")

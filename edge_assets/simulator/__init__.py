"""Deterministic simulator of Polymarket Gamma, Polymarket CLOB and The Odds API v4.

`World` is the seeded truth (never read by the pipeline except through the HTTP APIs; tests
and benchmarks may read `World.ground_truth_pairs` / `World.injected_edges`), `SimulatorApp`
serves `/gamma/...`, `/clob/...` and `/v4/...`, `serve` runs it on a loopback port.
"""

from edge_assets.simulator.app import FaultConfig, SimulatorApp
from edge_assets.simulator.server import RunningServer, serve, serve_forever
from edge_assets.simulator.world import World

__all__ = ["FaultConfig", "RunningServer", "SimulatorApp", "World", "serve", "serve_forever"]

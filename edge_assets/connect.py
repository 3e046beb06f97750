"""Build the three API clients for one poll: embedded simulator, loopback simulator, or live.

The same clients talk to all three; only base URLs, transport and key differ. In the embedded
simulator the clock can be set to any past instant, which is how past hours of "live" assets
are reproduced deterministically for demos and backfills.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import httpx

from edge_assets.sources.http import OnResponse, RetryPolicy
from edge_assets.sources.oddsapi import OddsApiClient
from edge_assets.sources.polymarket import ClobClient, GammaClient

EMBEDDED_HOST = "http://simulator.local"
# minutes of each past hour at which the embedded simulator reproduces live polls
DEFAULT_SIM_POLL_MINUTES = (5, 20, 35, 50)


@dataclass
class SourceConfig:
    mode: str  # simulator | live
    sim_seed: int
    sim_url: str | None
    gamma_base_url: str
    clob_base_url: str
    odds_base_url: str
    quota_reserve: int
    timeout_s: float
    max_in_flight: int = 8  # requests a poll overlaps over HTTP (`HttpSource.each`)
    odds_requests_per_s: float = 10.0  # the live Odds API client's token bucket (the API allows 30)

    @property
    def embedded(self) -> bool:
        return self.mode == "simulator" and not self.sim_url

    @property
    def can_time_travel(self) -> bool:
        """Only the embedded simulator can answer a live endpoint as of a past instant."""
        return self.embedded


@dataclass
class SourceSession:
    gamma: GammaClient
    clob: ClobClient
    odds: OddsApiClient

    def close(self) -> None:
        for client in (self.gamma, self.clob, self.odds):
            client.close()

    def __enter__(self) -> "SourceSession":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@lru_cache(maxsize=4)
def _world(seed: int) -> Any:
    from edge_assets.simulator import World

    return World(seed)


def open_session(
    cfg: SourceConfig,
    *,
    api_key: str,
    as_of: datetime | None = None,
    on_response: OnResponse | None = None,
    sleep: Callable[[float], None] | None = None,
) -> SourceSession:
    """Clients for one poll. `as_of` pins the embedded simulator's clock (ignored elsewhere)."""
    transport: httpx.BaseTransport | None = None
    now: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
    if cfg.embedded:
        from edge_assets.simulator import SimulatorApp

        fixed = as_of.astimezone(UTC) if as_of else None
        clock = (lambda: fixed) if fixed else (lambda: datetime.now(UTC))
        # in-process: no server-side rate limit (it would only slow backfills); loopback keeps it
        app = SimulatorApp(_world(cfg.sim_seed), clock=clock, api_key=api_key, rate_limit_per_s=None)
        transport = app.transport()
        now = clock
        gamma_url, clob_url, odds_url = f"{EMBEDDED_HOST}/gamma", f"{EMBEDDED_HOST}/clob", EMBEDDED_HOST
        rate: float | None = None  # in-process: no reason to throttle
    elif cfg.mode == "simulator":
        base = (cfg.sim_url or "").rstrip("/")
        gamma_url, clob_url, odds_url = f"{base}/gamma", f"{base}/clob", base
        rate = None
    else:
        gamma_url, clob_url, odds_url = cfg.gamma_base_url, cfg.clob_base_url, cfg.odds_base_url
        rate = 0.0
    common: dict[str, Any] = {
        "transport": transport,
        "on_response": on_response,
        "timeout_s": cfg.timeout_s,
        "now": now,
        "retry": RetryPolicy(),
        # in-process the simulator computes under the GIL: nothing to overlap, and one at a time
        # keeps its fault counters in request order
        "max_in_flight": 1 if cfg.embedded else cfg.max_in_flight,
        # a simulated instant has no round trip: re-runs of a partition rewrite identical raw files
        "timed": not (cfg.embedded and as_of is not None),
    }
    if sleep is not None:
        common["sleep"] = sleep
    limit: dict[str, Any] = {} if rate == 0.0 else {"rate_per_s": rate}
    odds_limit = {"rate_per_s": cfg.odds_requests_per_s} if rate == 0.0 else limit
    return SourceSession(
        gamma=GammaClient(gamma_url, **limit, **common),
        clob=ClobClient(clob_url, **limit, **common),
        # the embedded simulator's credits start afresh with each session: nothing to probe there
        odds=OddsApiClient(
            odds_url,
            api_key,
            quota_reserve=cfg.quota_reserve,
            probe_quota=not cfg.embedded,
            **odds_limit,
            **common,
        ),
    )

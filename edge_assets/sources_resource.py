"""Dagster resource for the three APIs. Its config holds the key's variable name, never the key."""

import os
from datetime import datetime

import dagster as dg

from edge_assets.connect import DEFAULT_SIM_POLL_MINUTES, SourceConfig, SourceSession, open_session
from edge_assets.settings import DEFAULT_SPORTS, ODDS_API_KEY_ENV, Settings, get_settings
from edge_assets.sources.http import OnResponse


class SourcesResource(dg.ConfigurableResource):
    mode: str = "simulator"
    sim_seed: int = 7
    sim_url: str | None = None
    gamma_base_url: str = "https://gamma-api.polymarket.com"
    clob_base_url: str = "https://clob.polymarket.com"
    odds_base_url: str = "https://api.the-odds-api.com"
    odds_api_key_env: str = ODDS_API_KEY_ENV
    quota_reserve: int = 50
    timeout_s: float = 10.0
    max_in_flight: int = 8
    odds_requests_per_s: float = 10.0
    sports: list[str] = list(DEFAULT_SPORTS)  # noqa: RUF012 (pydantic copies defaults)
    odds_regions: str = "us,eu"
    odds_markets: str = "h2h,spreads,totals"
    # minutes of each past hour at which the embedded simulator is polled (fewer = faster backfill)
    sim_poll_minutes: list[int] = list(DEFAULT_SIM_POLL_MINUTES)  # noqa: RUF012 (pydantic copies defaults)

    def config(self) -> SourceConfig:
        return SourceConfig(
            mode=self.mode,
            sim_seed=self.sim_seed,
            sim_url=self.sim_url,
            gamma_base_url=self.gamma_base_url,
            clob_base_url=self.clob_base_url,
            odds_base_url=self.odds_base_url,
            quota_reserve=self.quota_reserve,
            timeout_s=self.timeout_s,
            max_in_flight=self.max_in_flight,
            odds_requests_per_s=self.odds_requests_per_s,
        )

    def _api_key(self) -> str:
        """Read at run time from the environment (or .env through settings): never stored in config."""
        return os.environ.get(self.odds_api_key_env, "").strip() or get_settings().odds_api_key_value

    def session(
        self, *, as_of: datetime | None = None, on_response: OnResponse | None = None
    ) -> SourceSession:
        return open_session(self.config(), api_key=self._api_key(), as_of=as_of, on_response=on_response)

    def sports_in_season(self) -> frozenset[str]:
        """Sport keys The Odds API lists as active now (`/v4/sports`: free, costs no credit)."""
        with self.session() as s:
            return frozenset(sport.key for sport in s.odds.sports() if sport.active)


def build_source_resources(s: Settings) -> dict[str, object]:
    return {
        "sources": SourcesResource(
            mode=s.source_mode,
            sim_seed=s.sim_seed,
            sim_url=s.sim_url,
            gamma_base_url=s.gamma_base_url,
            clob_base_url=s.clob_base_url,
            odds_base_url=s.odds_base_url,
            quota_reserve=s.quota_reserve,
            timeout_s=s.http_timeout_s,
            max_in_flight=s.http_max_in_flight,
            odds_requests_per_s=s.odds_requests_per_s,
            sports=list(s.sports),
            odds_regions=s.odds_regions,
            odds_markets=s.odds_markets,
            # every past hour the simulator serves (a UI backfill, the demo) is polled like `edge backfill`'s
            sim_poll_minutes=sorted(s.backfill_poll_minutes),
        )
    }

"""One typed settings object, read from EDGE_* environment variables and an optional .env file.

The default is the embedded simulator and a local lake under data/: a fresh machine runs the
whole graph with no keys. Setting EDGE_SOURCE_MODE=live plus EDGE_ODDS_API_KEY switches to the
real APIs with no code change.
"""

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "EDGE_"
ODDS_API_KEY_ENV = "EDGE_ODDS_API_KEY"
SIMULATOR_API_KEY = "sim-key"

REAL_GAMMA_URL = "https://gamma-api.polymarket.com"
REAL_CLOB_URL = "https://clob.polymarket.com"
REAL_ODDS_URL = "https://api.the-odds-api.com"

DEFAULT_SPORTS = ("basketball_nba", "americanfootball_nfl", "icehockey_nhl", "baseball_mlb", "soccer_epl")


class SettingsError(ValueError):
    """A missing or invalid setting; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # storage
    lake_root: str = Field("data/lake", description="local folder or s3://bucket/prefix")
    duckdb_path: str = "data/warehouse.duckdb"
    dagster_home: str = "data/dagster_home"
    run_retention_days: int = Field(
        7,
        ge=1,
        description="the nightly run_retention job deletes finished runs older than this, except those "
        "holding an asset partition's or check's latest record (the schedules make ~1.1 GB of runs a day)",
    )
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"

    # sources
    source_mode: Literal["simulator", "live"] = "simulator"
    sim_seed: int = 7
    sim_url: str | None = Field(None, description="loopback simulator (edge simulate); unset = in-process")
    odds_api_key: SecretStr | None = None
    gamma_base_url: str = REAL_GAMMA_URL
    clob_base_url: str = REAL_CLOB_URL
    odds_base_url: str = REAL_ODDS_URL
    sports: Annotated[tuple[str, ...], NoDecode] = Field(
        DEFAULT_SPORTS, description="Odds API sport keys separated by ',' (a JSON list works too)"
    )
    odds_regions: str = "us,eu"
    odds_markets: str = "h2h,spreads,totals"
    quota_reserve: int = Field(50, ge=0)
    odds_live_every_minutes: int = Field(
        2, ge=1, le=60, description="minutes between live odds polls (each costs markets × regions per sport)"
    )
    odds_with_markets_poll: bool = Field(
        True,
        description="the live odds are polled in the run of the Gamma poll at their cadence (no "
        "oddsapi_live_poll schedule): the hour is priced on both at once, one run start instead of "
        "three; false: an oddsapi_live_job run of its own, priced by comparator_sensor",
    )
    http_timeout_s: float = Field(10.0, gt=0)
    http_max_in_flight: int = Field(
        8,
        ge=1,
        le=16,
        description="requests one poll keeps in flight at once over HTTP (one per sport, hour or book "
        "batch; the clients' rate limits still hold); the embedded simulator answers one at a time",
    )
    odds_requests_per_s: float = Field(
        10.0,
        gt=0,
        le=30,
        description="the live Odds API client's rate limit per process (the API allows 30 a second; "
        "schedules and backfill workers each have their own): raise it to backfill historical odds faster",
    )
    books_max_age_minutes: int = Field(
        10,
        ge=1,
        le=60,
        description="the comparator sensor re-polls the current hour's order books when their latest "
        "poll is older (the hourly schedule alone would price on books up to an hour old)",
    )

    # comparator
    price_with_markets_poll: bool = Field(
        True,
        description="a Gamma poll run also runs the comparator chain for its hour once the hour's live "
        "odds exist (or the run polls them), saving a run start and the sensor's wait (poll to signals "
        "~5 s sooner); "
        "false: every comparator run goes through comparator_sensor",
    )
    min_ev: float = Field(0.03, description="minimum EV after all costs per dollar")
    min_confidence: float = Field(0.6, ge=0, le=1)
    stake_usdc: float = Field(100.0, gt=0)
    min_trade_usdc: float = Field(25.0, ge=0)
    devig_method: Literal["multiplicative", "additive", "power", "shin", "worst_case"] = "multiplicative"
    max_quote_age_s: int = Field(600, gt=0)

    # models (MLflow: sqlite store under data/, artifacts under the lake root unless set)
    mlflow_tracking_uri: str = "sqlite:///data/mlflow.db"
    mlflow_artifact_root: str | None = Field(None, description="default: <lake_root>/mlflow-artifacts")
    model_min_history_days: int = Field(60, ge=1, description="edge_models waits until this much history")
    model_holdout_days: int = Field(14, ge=1)
    model_label_horizon_days: int = Field(
        4, ge=1, description="days after a feature day to find closes/scores"
    )
    model_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="champion probability (EV at the close >= the EV bar) needed for a signal; "
        "unset: tuned on a validation slice at training",
    )
    confidence_by: Literal["champion", "rule"] = Field(
        "champion",
        description="who decides the comparator's check (1): the champion model (the rule confidence "
        "while none exists), or always the rule confidence",
    )
    backfill_poll_minutes: Annotated[tuple[int, ...], NoDecode] = Field(
        (50,),
        description="simulated polls per past hour (minutes of the hour): `edge backfill`, backfills "
        "launched in the UI and `edge demo` alike (`edge backfill --all-polls`: 5, 20, 35, 50)",
    )

    # alerts
    slack_webhook_url: SecretStr | None = None
    slack_bot_token: SecretStr | None = None
    slack_channel: str | None = None
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    webhook_timeout: float = Field(10.0, gt=0, description="seconds per webhook request")
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_sender: str | None = None
    smtp_recipients: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="addresses separated by ',' or ';' (a JSON list works too)"
    )
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(False, description="upgrade the connection with STARTTLS (port 587)")
    smtp_ssl: bool = Field(False, description="implicit TLS (port 465)")
    alert_console: bool = False
    alert_max_age_minutes: int = Field(
        30,
        ge=1,
        description="a signal is alerted only while its snapshot is at most this old: a backfill of past "
        "hours records its signals (alert_status 'stale') without alerting them",
    )

    @field_validator("sports", "backfill_poll_minutes", "smtp_recipients", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        """A plain `a, b` list as users write it (`;` too); pydantic-settings alone demands JSON."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return tuple(v.strip() for v in text.replace(";", ",").split(",") if v.strip())
        return value

    @model_validator(mode="after")
    def _smtp_tls(self) -> "Settings":
        if self.smtp_starttls and self.smtp_ssl:
            raise ValueError("EDGE_SMTP_STARTTLS and EDGE_SMTP_SSL exclude each other: choose one")
        return self

    @field_validator("odds_api_key", mode="before")
    @classmethod
    def _blank_key(cls, value: object) -> object:
        """`EDGE_ODDS_API_KEY=` (a blank line in a .env template) means no key, not the key ''."""
        if isinstance(value, str | SecretStr):
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            return text.strip() or None
        return value

    @field_validator("lake_root")
    @classmethod
    def _lake_root(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if value.startswith("s3://") and len(value) <= len("s3://"):
            raise ValueError("needs a bucket, e.g. s3://my-bucket/lake")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _live_needs_key(self) -> "Settings":
        if self.source_mode == "live" and self.odds_api_key is None:
            raise ValueError(f"{ODDS_API_KEY_ENV} must be set when EDGE_SOURCE_MODE=live")
        return self

    @property
    def is_s3(self) -> bool:
        return self.lake_root.startswith("s3://")

    @property
    def odds_api_key_value(self) -> str:
        """The key for the client only; never put it in resource config, metadata or logs."""
        if self.odds_api_key is not None:
            return self.odds_api_key.get_secret_value()
        return SIMULATOR_API_KEY

    def local_path(self, value: str) -> Path:
        return Path(value).expanduser().resolve()


def _variable_for(loc: tuple[int | str, ...]) -> str:
    if not loc or loc[0] == "__root__":
        return ODDS_API_KEY_ENV
    return ENV_PREFIX + str(loc[0]).upper()


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one message naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            msg = err.get("msg", "invalid")
            if not loc:
                problems.append(msg.removeprefix("Value error, "))
            else:
                problems.append(f"{_variable_for(loc)}: {msg.removeprefix('Value error, ')}")
        raise SettingsError("invalid edge-assets settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()

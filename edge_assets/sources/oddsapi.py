"""The Odds API v4 client: live odds, events, scores, historical snapshots, with quota guard.

Credits are money: the client tracks the quota headers of every response and refuses, before
sending, any call whose known cost would take the remaining credits below a reserve.
"""

import math
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

import httpx
import polars as pl
from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter

from edge_assets.sources.http import (
    ApiError,
    ErrorMapper,
    HttpSource,
    MalformedResponse,
    OnResponse,
    QuotaExhausted,
    RawExchange,
    extract_error,
    parse_utc,
    validate_body,
)

ODDS_API_BASE_URL = "https://api.the-odds-api.com"

UtcDatetime = Annotated[datetime, BeforeValidator(parse_utc)]
OptUtcDatetime = Annotated[datetime | None, BeforeValidator(parse_utc)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow")


class Outcome(_Wire):
    name: str
    price: float
    point: float | None = None
    description: str | None = None  # player props


class Market(_Wire):
    key: str
    last_update: OptUtcDatetime = None  # absent in 2021 data
    outcomes: list[Outcome] = []


class Bookmaker(_Wire):
    key: str
    title: str | None = None
    last_update: OptUtcDatetime = None  # absent on event-odds responses
    markets: list[Market] = []


class OddsEvent(_Wire):
    id: str
    sport_key: str
    sport_title: str | None = None
    commence_time: UtcDatetime
    home_team: str | None = None  # null for outrights
    away_team: str | None = None
    bookmakers: list[Bookmaker] = []


class Score(_Wire):
    name: str
    score: str | None = None  # a STRING on the wire


class ScoreEvent(_Wire):
    id: str
    sport_key: str
    sport_title: str | None = None
    commence_time: UtcDatetime
    completed: bool = False
    home_team: str | None = None
    away_team: str | None = None
    scores: list[Score] | None = None
    last_update: OptUtcDatetime = None


class Sport(_Wire):
    key: str
    group: str | None = None
    title: str | None = None
    description: str | None = None
    active: bool = True
    has_outrights: bool = False


class HistoricalOdds(_Wire):
    """Historical wrapper: `data` is a list for /odds, one object for event odds."""

    timestamp: UtcDatetime
    previous_timestamp: OptUtcDatetime = None
    next_timestamp: OptUtcDatetime = None
    data: list[OddsEvent] | OddsEvent


class HistoricalEvents(_Wire):
    timestamp: UtcDatetime
    previous_timestamp: OptUtcDatetime = None
    next_timestamp: OptUtcDatetime = None
    data: list[OddsEvent]


_SPORTS = TypeAdapter(list[Sport])
_EVENTS = TypeAdapter(list[OddsEvent])
_EVENT = TypeAdapter(OddsEvent)
_SCORES = TypeAdapter(list[ScoreEvent])
_HISTORICAL = TypeAdapter(HistoricalOdds)
_HISTORICAL_EVENTS = TypeAdapter(HistoricalEvents)
SCORES_ENDPOINT = "/v4/sports/{sport}/scores"
ODDS_ENDPOINT = "/v4/sports/{sport}/odds"


def parse_scores_body(body: bytes) -> list[ScoreEvent]:
    """A /scores body through the client's wire model; drift raises MalformedResponse."""
    return validate_body("oddsapi", SCORES_ENDPOINT, _SCORES, body)


# --------------------------------------------------------------------------- quota


def _count(csv: str | Sequence[str] | None) -> int:
    if csv is None:
        return 0
    items = csv.split(",") if isinstance(csv, str) else list(csv)
    return len([i for i in items if str(i).strip()])


def odds_cost(
    markets: str | Sequence[str],
    regions: str | Sequence[str] | None = "us",
    bookmakers: str | Sequence[str] | None = None,
    *,
    historical: bool = False,
) -> int:
    """Documented cost: markets × regions (every 10 bookmakers count as one region), ×10 historical."""
    n_regions = math.ceil(_count(bookmakers) / 10) if bookmakers else _count(regions)
    cost = max(1, _count(markets)) * max(1, n_regions)
    return cost * 10 if historical else cost


SCORES_DAYS_FROM = 3  # the most /scores allows: completed games of the last 3 days, 2 credits a call


def scores_cost(days_from: int | None) -> int:
    return 2 if days_from else 1


class QuotaTracker:
    """Credits as last reported by the `x-requests-*` headers; guards calls against a reserve."""

    def __init__(self, reserve: int = 10) -> None:
        self.reserve = reserve
        self.remaining: int | None = None
        self.used: int | None = None
        self.last: int | None = None
        self._lock = threading.Lock()

    def update(self, exchange: RawExchange) -> None:
        """The lowest `remaining` and highest `used` seen: a tracker lives one session (a poll or a
        run), in which credits fall, and overlapped requests (`HttpSource.each`) answer out of order.
        A plan renewed mid-session shows only in the next one."""
        with self._lock:
            if (seen := exchange.quota_remaining) is not None:
                self.remaining = seen if self.remaining is None else min(self.remaining, seen)
            if exchange.quota_used is not None:
                self.used = max(self.used or 0, exchange.quota_used)
            if exchange.quota_last is not None:
                self.last = exchange.quota_last

    def check(self, cost: int, endpoint: str, what: str = "this call") -> None:
        """Raise QuotaExhausted (nothing sent) when `cost` would leave fewer than `reserve` credits.

        Before the first response the remaining credits are unknown, so the call is allowed.
        """
        with self._lock:
            remaining = self.remaining
        if cost <= 0 or remaining is None:
            return
        if remaining - cost < self.reserve:
            raise QuotaExhausted(
                "oddsapi",
                endpoint,
                None,
                "QUOTA_RESERVE",
                f"Odds API quota: {remaining} credits left, reserve {self.reserve}, "
                f"{what} costs {cost}; stopping",
            )

    def __repr__(self) -> str:
        return (
            f"QuotaTracker(remaining={self.remaining}, used={self.used}, "
            f"last={self.last}, reserve={self.reserve})"
        )


class _OddsErrorMapper(ErrorMapper):
    QUOTA_CODES = frozenset({"OUT_OF_USAGE_CREDITS"})

    def __call__(self, source: str, endpoint: str, response: httpx.Response, body: bytes) -> ApiError:
        code, message = extract_error(body)
        message = message or response.reason_phrase
        if code in self.QUOTA_CODES:
            return QuotaExhausted(source, endpoint, response.status_code, code, message)
        return ApiError(source, endpoint, response.status_code, code, message)


# --------------------------------------------------------------------------- client


HISTORICAL_ODDS = "/v4/historical/sports/{sport}/odds"


class OddsApiClient(HttpSource):
    """The Odds API v4. The key travels as the `apiKey` query parameter and is redacted everywhere."""

    def __init__(
        self,
        base_url: str = ODDS_API_BASE_URL,
        api_key: str = "",
        *,
        transport: httpx.BaseTransport | None = None,
        on_response: OnResponse | None = None,
        quota_reserve: int = 10,
        rate_per_s: float | None = 10.0,
        probe_quota: bool = False,
        **kwargs: Any,
    ) -> None:
        """`kwargs` go to HttpSource (retry, timeout_s, sleep, clock, now, rng, max_in_flight, ...).

        `probe_quota`: before the first paid call, read the credits left from the free `/v4/sports`.
        Every scheduled run opens a new client, so without it each run's first call went out
        unguarded, and runs polling every 2 minutes spent the reserve (and then the rest) one call
        at a time.
        """
        if not api_key:
            raise ValueError("OddsApiClient needs an api_key (ODDS_API_KEY)")
        self._api_key = api_key
        self.quota = QuotaTracker(quota_reserve)
        self._probe_quota = probe_quota
        super().__init__(
            "oddsapi",
            base_url,
            transport=transport,
            on_response=on_response,
            rate_per_s=rate_per_s,
            secrets=(api_key,),
            error_mapper=_OddsErrorMapper(),
            **kwargs,
        )

    def __repr__(self) -> str:
        return f"OddsApiClient(base_url={self.base_url!r}, api_key=***, quota={self.quota!r})"

    def _observe(self, exchange: RawExchange) -> None:
        self.quota.update(exchange)

    def _check_quota(self, cost: int, endpoint: str, what: str = "this call") -> None:
        if cost > 0 and self._probe_quota and self.quota.remaining is None and self.quota.reserve > 0:
            self.sports()  # free; its headers say how many credits are left
        self.quota.check(cost, endpoint, what)

    def check_credits_for(
        self, calls: int, cost_per_call: int, endpoint: str, what: str = "this run"
    ) -> None:
        """Before a run of ``calls`` paid calls: QuotaExhausted, nothing spent, when they would cross
        the reserve. Why: a run that stops halfway keeps the responses it paid for only raw (its
        curated partitions are not written), so the credits are spent for nothing."""
        self._check_quota(calls * cost_per_call, endpoint, f"{what} ({calls:,} calls x {cost_per_call})")

    def _get(
        self, endpoint: str, path: str, adapter: TypeAdapter[Any], params: dict[str, Any], cost: int
    ) -> Any:
        self._check_quota(cost, endpoint)
        return self.get_model(endpoint, path, adapter, {**params, "apiKey": self._api_key})

    def _get_body(self, endpoint: str, path: str, params: dict[str, Any], cost: int) -> bytes:
        """`_get` without the wire model: the body as received, for the polars fast paths."""
        self._check_quota(cost, endpoint)
        return self.request_bytes("GET", endpoint, path, {**params, "apiKey": self._api_key}).body

    @staticmethod
    def _csv(value: str | Sequence[str] | None) -> str | None:
        if value is None:
            return None
        return value if isinstance(value, str) else ",".join(value)

    @staticmethod
    def _iso(value: datetime | str | None) -> str | None:
        if value is None or isinstance(value, str):
            return value
        dt = parse_utc(value)
        assert dt is not None
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _odds_params(
        self,
        regions: str | Sequence[str] | None,
        markets: str | Sequence[str],
        odds_format: str,
        bookmakers: str | Sequence[str] | None,
        event_ids: str | Sequence[str] | None,
        commence_time_from: datetime | str | None,
        commence_time_to: datetime | str | None,
    ) -> dict[str, Any]:
        return {
            "regions": None if bookmakers else self._csv(regions),
            "bookmakers": self._csv(bookmakers),
            "markets": self._csv(markets),
            "oddsFormat": odds_format,
            "dateFormat": "iso",
            "eventIds": self._csv(event_ids),
            "commenceTimeFrom": self._iso(commence_time_from),
            "commenceTimeTo": self._iso(commence_time_to),
        }

    # -- endpoints

    def sports(self, all: bool = False) -> list[Sport]:
        return self._get("/v4/sports", "/v4/sports", _SPORTS, {"all": True if all else None}, 0)

    def odds(
        self,
        sport: str,
        *,
        regions: str | Sequence[str] | None = "us",
        markets: str | Sequence[str] = "h2h",
        odds_format: str = "decimal",
        bookmakers: str | Sequence[str] | None = None,
        event_ids: str | Sequence[str] | None = None,
        commence_time_from: datetime | str | None = None,
        commence_time_to: datetime | str | None = None,
    ) -> list[OddsEvent]:
        params = self._odds_params(
            regions, markets, odds_format, bookmakers, event_ids, commence_time_from, commence_time_to
        )
        cost = odds_cost(markets, regions, bookmakers)
        return self._get(ODDS_ENDPOINT, f"/v4/sports/{sport}/odds", _EVENTS, params, cost)

    def odds_body(
        self,
        sport: str,
        *,
        regions: str | Sequence[str] | None = "us",
        markets: str | Sequence[str] = "h2h",
        odds_format: str = "decimal",
    ) -> bytes:
        """Polling path of `odds`: same request, quota guard, retries and raw hook, but the body is
        returned as received for ``normalize.odds_bodies_to_frame`` (no pydantic models)."""
        params = self._odds_params(regions, markets, odds_format, None, None, None, None)
        cost = odds_cost(markets, regions, None)
        return self._get_body(ODDS_ENDPOINT, f"/v4/sports/{sport}/odds", params, cost)

    def odds_bodies(
        self,
        sports: Sequence[str],
        *,
        regions: str | Sequence[str] | None = "us",
        markets: str | Sequence[str] = "h2h",
        odds_format: str = "decimal",
    ) -> list[bytes]:
        """A live poll: `odds_body` of each sport, overlapped (`each`), bodies in sport order. The
        whole poll's credits are checked first: a poll stopped halfway writes no curated rows, so
        what its first calls spent would buy nothing."""
        cost = odds_cost(markets, regions, None)
        self.check_credits_for(len(sports), cost, ODDS_ENDPOINT, "this poll")
        return self.each(
            lambda sport: self.odds_body(sport, regions=regions, markets=markets, odds_format=odds_format),
            sports,
        )

    def event_odds(
        self,
        sport: str,
        event_id: str,
        *,
        regions: str | Sequence[str] | None = "us",
        markets: str | Sequence[str] = "h2h",
        odds_format: str = "decimal",
        bookmakers: str | Sequence[str] | None = None,
    ) -> OddsEvent:
        params = self._odds_params(regions, markets, odds_format, bookmakers, None, None, None)
        cost = odds_cost(markets, regions, bookmakers)  # upper bound: billed on markets returned
        endpoint = "/v4/sports/{sport}/events/{event_id}/odds"
        return self._get(endpoint, f"/v4/sports/{sport}/events/{event_id}/odds", _EVENT, params, cost)

    def events(
        self,
        sport: str,
        *,
        event_ids: str | Sequence[str] | None = None,
        commence_time_from: datetime | str | None = None,
        commence_time_to: datetime | str | None = None,
    ) -> list[OddsEvent]:
        params = {
            "dateFormat": "iso",
            "eventIds": self._csv(event_ids),
            "commenceTimeFrom": self._iso(commence_time_from),
            "commenceTimeTo": self._iso(commence_time_to),
        }
        return self._get("/v4/sports/{sport}/events", f"/v4/sports/{sport}/events", _EVENTS, params, 0)

    def scores(
        self, sport: str, days_from: int | None = None, *, event_ids: str | Sequence[str] | None = None
    ) -> list[ScoreEvent]:
        if days_from is not None and not 1 <= days_from <= 3:
            raise ValueError(f"days_from must be 1..3, got {days_from}")
        params = {"daysFrom": days_from, "dateFormat": "iso", "eventIds": self._csv(event_ids)}
        cost = scores_cost(days_from)
        return self._get(SCORES_ENDPOINT, f"/v4/sports/{sport}/scores", _SCORES, params, cost)

    def scores_of(self, sports: Sequence[str], days_from: int | None = None) -> list[list[ScoreEvent]]:
        """A scores poll: `scores` of each sport, overlapped, in sport order; its whole cost checked
        first, as `odds_bodies` does."""
        self.check_credits_for(len(sports), scores_cost(days_from), SCORES_ENDPOINT, "this poll")
        return self.each(lambda sport: self.scores(sport, days_from), sports)

    def historical_odds(
        self,
        sport: str,
        date: datetime | str,
        *,
        regions: str | Sequence[str] | None = "us",
        markets: str | Sequence[str] = "h2h",
        odds_format: str = "decimal",
        bookmakers: str | Sequence[str] | None = None,
        event_ids: str | Sequence[str] | None = None,
    ) -> HistoricalOdds:
        """Snapshot at or before `date`; store the returned `timestamp`, not the requested one."""
        path, params, cost = self._historical_request(
            sport, date, regions, markets, odds_format, bookmakers, event_ids
        )
        return self._get(HISTORICAL_ODDS, path, _HISTORICAL, params, cost)

    def _historical_request(
        self,
        sport: str,
        date: datetime | str,
        regions: str | Sequence[str] | None,
        markets: str | Sequence[str],
        odds_format: str,
        bookmakers: str | Sequence[str] | None,
        event_ids: str | Sequence[str] | None,
    ) -> tuple[str, dict[str, Any], int]:
        params = self._odds_params(regions, markets, odds_format, bookmakers, event_ids, None, None)
        params["date"] = self._iso(date)
        cost = odds_cost(markets, regions, bookmakers, historical=True)
        return f"/v4/historical/sports/{sport}/odds", params, cost

    def historical_odds_frame(
        self,
        sport: str,
        date: datetime | str,
        *,
        regions: str | Sequence[str] | None = "us",
        markets: str | Sequence[str] = "h2h",
        odds_format: str = "decimal",
        bookmakers: str | Sequence[str] | None = None,
        event_ids: str | Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """Backfill path: same request, quota guard, retries and raw hook as `historical_odds`,
        but the body goes straight to the polars normalizer (ODDS_QUOTES), skipping pydantic,
        which costs ~15x more than the flattening on large snapshots. Drift still raises
        MalformedResponse (required fields are checked for nulls)."""
        from edge_assets.sources.normalize import historical_to_frame  # normalize imports this module

        body = self.historical_odds_body(
            sport,
            date,
            regions=regions,
            markets=markets,
            odds_format=odds_format,
            bookmakers=bookmakers,
            event_ids=event_ids,
        )
        try:
            return historical_to_frame(body, odds_format)
        except MalformedResponse as exc:
            raise MalformedResponse(self.source, HISTORICAL_ODDS, exc.detail) from None

    def historical_odds_body(
        self,
        sport: str,
        date: datetime | str,
        *,
        regions: str | Sequence[str] | None = "us",
        markets: str | Sequence[str] = "h2h",
        odds_format: str = "decimal",
        bookmakers: str | Sequence[str] | None = None,
        event_ids: str | Sequence[str] | None = None,
    ) -> bytes:
        """The raw historical wrapper (quota guard, retries, raw hook), for
        `normalize.historical_bodies_to_frame` over many snapshots at once."""
        path, params, cost = self._historical_request(
            sport, date, regions, markets, odds_format, bookmakers, event_ids
        )
        return self._get_body(HISTORICAL_ODDS, path, params, cost)

    def historical_events(self, sport: str, date: datetime | str) -> HistoricalEvents:
        endpoint = "/v4/historical/sports/{sport}/events"
        params = {"date": self._iso(date), "dateFormat": "iso"}
        return self._get(endpoint, f"/v4/historical/sports/{sport}/events", _HISTORICAL_EVENTS, params, 1)

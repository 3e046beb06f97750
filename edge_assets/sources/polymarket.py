"""Polymarket Gamma (catalogue) and CLOB (order book) clients and wire models.

The models absorb the wire quirks once (JSON arrays inside strings, numbers as strings,
three timestamp formats, books ordered worst-to-best) so nothing downstream has to.
"""

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import httpx
import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic.alias_generators import to_camel

from edge_assets.sources.http import (
    HttpSource,
    MalformedResponse,
    OnResponse,
    body_snippet,
    paginate_offset,
    parse_utc,
    validation_detail,
)

GAMMA_BASE_URL = "https://gamma-api.polymarket.com"
# Offset paging in an explicit order (the docs' examples page by id; the default order is not
# documented): by id ascending, an item created while a listing is paged lands at its end instead of
# shifting every later page by one, which skipped an item at each page edge
STABLE_ORDER: dict[str, Any] = {"order": "id", "ascending": True}
CLOB_BASE_URL = "https://clob.polymarket.com"


def _none_as_empty(value: Any) -> Any:
    return [] if value is None else value


def _json_list(value: Any) -> Any:
    """Gamma serialises arrays inside strings: '["a", "b"]' → ['a', 'b']; null/'' → []."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return json.loads(value)  # ValueError → ValidationError naming the field
    return value


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


def _to_str(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


UtcDatetime = Annotated[datetime, BeforeValidator(parse_utc)]
OptUtcDatetime = Annotated[datetime | None, BeforeValidator(parse_utc)]
OptFloat = Annotated[float | None, BeforeValidator(_blank_to_none)]
OptDecimal = Annotated[Decimal | None, BeforeValidator(_blank_to_none)]
IdStr = Annotated[str, BeforeValidator(_to_str)]
OptIdStr = Annotated[str | None, BeforeValidator(_to_str)]
JsonStrList = Annotated[list[str], BeforeValidator(_json_list)]
JsonFloatList = Annotated[list[float], BeforeValidator(_json_list)]


class _Wire(BaseModel):
    """camelCase aliases, snake_case attributes, unknown fields kept (the API adds fields often)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


# --------------------------------------------------------------------------- Gamma models


class FeeSchedule(_Wire):
    rate: float
    exponent: float = 1.0
    taker_only: bool = True
    rebate_rate: float = 0.0


class GammaTag(_Wire):
    id: IdStr
    label: str | None = None
    slug: str | None = None


class GammaSeries(_Wire):
    id: IdStr
    slug: str | None = None
    title: str | None = None
    ticker: str | None = None


class GammaTeam(_Wire):
    id: OptIdStr = None
    name: str
    league: str | None = None
    abbreviation: str | None = None
    ordering: str | None = None  # "home" | "away"


class GammaSport(_Wire):
    id: OptIdStr = None
    sport: str  # league code, e.g. "nba", "mlp"
    name: str | None = None
    ordering: str | None = None
    tags: str | None = None  # comma-separated tag ids
    series: OptIdStr = None


class GammaMarket(_Wire):
    id: IdStr
    question: str | None = None
    condition_id: str | None = None
    question_id: str | None = Field(default=None, alias="questionID")
    slug: str | None = None
    outcomes: JsonStrList = []
    outcome_prices: JsonFloatList = []
    clob_token_ids: JsonStrList = []
    best_bid: OptFloat = None
    best_ask: OptFloat = None
    last_trade_price: OptFloat = None
    spread: OptFloat = None
    liquidity: OptFloat = None
    volume: OptFloat = None
    liquidity_num: OptFloat = None
    volume_num: OptFloat = None
    start_date: OptUtcDatetime = None
    end_date: OptUtcDatetime = None
    game_start_time: OptUtcDatetime = None
    event_start_time: OptUtcDatetime = None
    closed_time: OptUtcDatetime = None
    sports_market_type: str | None = None
    line: OptFloat = None
    group_item_title: str | None = None
    game_id: OptIdStr = None
    neg_risk: bool | None = None
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    accepting_orders: bool | None = None
    enable_order_book: bool | None = None
    uma_resolution_status: str | None = None
    order_price_min_tick_size: OptFloat = None
    order_min_size: OptFloat = None
    fees_enabled: bool | None = None
    fee_type: str | None = None
    fee_schedule: FeeSchedule | None = None
    events: list["GammaEvent"] = []

    @field_validator("outcome_prices", mode="after")
    @classmethod
    def _prices_in_range(cls, v: list[float]) -> list[float]:
        if any(p < 0 or p > 1 for p in v):
            raise ValueError(f"outcome prices must lie in [0, 1], got {v}")
        return v

    @property
    def tradable(self) -> bool:
        """Closed markets keep active=true, so tradability is closed/acceptingOrders/orderbook."""
        return not self.closed and bool(self.accepting_orders) and bool(self.enable_order_book)


class GammaEvent(_Wire):
    id: IdStr
    ticker: str | None = None
    slug: str | None = None
    title: str | None = None
    start_date: OptUtcDatetime = None
    end_date: OptUtcDatetime = None
    start_time: OptUtcDatetime = None  # game start
    active: bool | None = None
    closed: bool | None = None
    archived: bool | None = None
    liquidity: OptFloat = None
    volume: OptFloat = None
    neg_risk: bool | None = None
    series_slug: str | None = None
    game_id: OptIdStr = None
    # null reads as empty, as the bulk polars parser reads it: the model path (taken for a whole poll
    # when one event defeats the fast one) must not fail the poll on an event the fast path accepts
    markets: Annotated[list[GammaMarket], BeforeValidator(_none_as_empty)] = []
    series: Annotated[list[GammaSeries], BeforeValidator(_none_as_empty)] = []
    tags: Annotated[list[GammaTag], BeforeValidator(_none_as_empty)] = []
    teams: Annotated[list[GammaTeam], BeforeValidator(_none_as_empty)] = []
    sport: GammaSport | None = None

    def team(self, ordering: Literal["home", "away"]) -> str | None:
        for t in self.teams:
            if t.ordering == ordering:
                return t.name
        return None

    @property
    def home_team(self) -> str | None:
        return self.team("home")

    @property
    def away_team(self) -> str | None:
        return self.team("away")


GammaMarket.model_rebuild()


# --------------------------------------------------------------------------- CLOB models


class BookLevel(BaseModel):
    model_config = ConfigDict(extra="allow")
    price: Decimal
    size: Decimal


class ClobBook(BaseModel):
    """An order book. The wire lists bids ascending and asks descending (best LAST); never
    read best prices by position — use `best_bid`/`best_ask`."""

    model_config = ConfigDict(extra="allow")
    market: str  # condition id
    asset_id: str  # token id
    timestamp: UtcDatetime  # CLOB's own book time (epoch ms string on the wire)
    hash: str | None = None
    bids: list[BookLevel] = []
    asks: list[BookLevel] = []
    min_order_size: OptDecimal = None
    tick_size: OptDecimal = None
    neg_risk: bool | None = None
    last_trade_price: OptDecimal = None

    @property
    def best_bid(self) -> Decimal | None:
        return max((lv.price for lv in self.bids), default=None)

    @property
    def best_ask(self) -> Decimal | None:
        return min((lv.price for lv in self.asks), default=None)

    @property
    def mid(self) -> Decimal | None:
        """Mid only when both sides exist (CLOB /midpoint counts an empty side as 0)."""
        bid, ask = self.best_bid, self.best_ask
        return (bid + ask) / 2 if bid is not None and ask is not None else None


class PricePoint(BaseModel):
    t: UtcDatetime  # epoch seconds on the wire
    p: float


class PriceHistory(BaseModel):
    model_config = ConfigDict(extra="allow")
    history: list[PricePoint] = []


_MARKETS = TypeAdapter(list[GammaMarket])
_MARKET = TypeAdapter(GammaMarket)
_EVENTS = TypeAdapter(list[GammaEvent])
_EVENT = TypeAdapter(GammaEvent)
_BOOK = TypeAdapter(ClobBook)
_BOOKS = TypeAdapter(list[ClobBook])
_HISTORY = TypeAdapter(PriceHistory)
_ANY = TypeAdapter(dict[str, Any])


# --------------------------------------------------------------------------- clients


class GammaClient(HttpSource):
    """Gamma catalogue: markets and events, offset-paginated (limit ≤ 100, offset ≤ 10,000)."""

    PAGE_LIMIT = 100
    MAX_OFFSET = 10_000

    def __init__(
        self,
        base_url: str = GAMMA_BASE_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        on_response: OnResponse | None = None,
        rate_per_s: float | None = 25.0,
        **kwargs: Any,
    ) -> None:
        """`kwargs` go to HttpSource (retry, timeout_s, sleep, clock, now, rng, max_in_flight, ...)."""
        super().__init__(
            "gamma", base_url, transport=transport, on_response=on_response, rate_per_s=rate_per_s, **kwargs
        )

    @property
    def _pages_at_once(self) -> int:
        """Two over HTTP: the last page and the empty one that ends a listing come in one round
        trip, for at most one page past the end (a raw response, every poll); more would add more."""
        return min(2, self.max_in_flight)

    def _paged(self, endpoint: str, adapter: TypeAdapter[Any], limit: int, filters: dict[str, Any]) -> list:
        limit = min(limit, self.PAGE_LIMIT)

        def fetch(lim: int, offset: int) -> list:
            return self.get_model(endpoint, endpoint, adapter, {**filters, "limit": lim, "offset": offset})

        pages = paginate_offset(
            fetch, limit=limit, max_offset=self.MAX_OFFSET, pages_at_once=self._pages_at_once
        )
        return list(pages)

    def markets(self, *, closed: bool = False, limit: int = 100, **filters: Any) -> list[GammaMarket]:
        """All markets matching `filters` (Gamma query names, lists sent as repeated keys).

        `closed` is always sent: without it Gamma silently hides closed markets.
        """
        return self._paged("/markets", _MARKETS, limit, {**STABLE_ORDER, **filters, "closed": closed})

    def events(self, *, closed: bool = False, limit: int = 100, **filters: Any) -> list[GammaEvent]:
        """All events (with nested markets, teams, series, sport) matching `filters`."""
        return self._paged("/events", _EVENTS, limit, {**STABLE_ORDER, **filters, "closed": closed})

    def events_bodies(self, *, closed: bool = False, limit: int = 100, **filters: Any) -> list[bytes]:
        """Polling path of `events`: the same page requests, stop rule, retries and raw hook, but the
        non-empty pages are returned as received for ``normalize.gamma_event_bodies_to_frame``."""
        params = {**STABLE_ORDER, **filters, "closed": closed}

        def fetch(lim: int, offset: int) -> list[bytes]:
            page = {**params, "limit": lim, "offset": offset}
            body = self.request_bytes("GET", "/events", "/events", page).body
            return [body] if self._page_has_items(body) else []

        pages = paginate_offset(
            fetch,
            limit=min(limit, self.PAGE_LIMIT),
            max_offset=self.MAX_OFFSET,
            pages_at_once=self._pages_at_once,
            page_items=self._events_in,
        )
        return list(pages)

    @staticmethod
    def _events_in(page: Sequence[bytes]) -> int:
        """Events in a page of raw bodies; one that is not JSON counts as full: parsing names its error."""
        try:
            return len(orjson.loads(page[0]))
        except orjson.JSONDecodeError:
            return sys.maxsize

    def _page_has_items(self, body: bytes) -> bool:
        """`paginate_offset`'s end signal without parsing the page: a JSON array with nothing in it.
        Anything but an array raises here, at the same page as `events` would, with its error."""
        stripped = body.strip(b" \t\n\r")  # JSON whitespace
        if stripped[:1] == b"[" and stripped[-1:] == b"]":
            return bool(stripped[1:-1].strip(b" \t\n\r"))
        return bool(self.parse_events_page(body))

    @staticmethod
    def parse_events_page(body: bytes) -> list[GammaEvent]:
        """One raw /events page → wire models; drift raises the MalformedResponse `events` raises."""
        try:
            return _EVENTS.validate_json(body)
        except ValidationError as exc:
            bad_json = [e for e in exc.errors() if e["type"] == "json_invalid"]
            if not bad_json:
                raise MalformedResponse("gamma", "/events", validation_detail(exc)) from None
            snippet = body_snippet(body)
            why = f"body is not valid JSON ({bad_json[0]['ctx']['error']}); starts with {snippet!r}"
            raise MalformedResponse("gamma", "/events", why) from None

    def market(self, market_id: str) -> GammaMarket:
        return self.get_model("/markets/{id}", f"/markets/{market_id}", _MARKET)

    def event(self, event_id: str) -> GammaEvent:
        return self.get_model("/events/{id}", f"/events/{event_id}", _EVENT)


class ClobClient(HttpSource):
    """CLOB public market data: books, point prices, price history."""

    BOOKS_BATCH = 100

    def __init__(
        self,
        base_url: str = CLOB_BASE_URL,
        *,
        transport: httpx.BaseTransport | None = None,
        on_response: OnResponse | None = None,
        rate_per_s: float | None = 50.0,
        **kwargs: Any,
    ) -> None:
        """`kwargs` go to HttpSource (retry, timeout_s, sleep, clock, now, rng, max_in_flight, ...)."""
        super().__init__(
            "clob", base_url, transport=transport, on_response=on_response, rate_per_s=rate_per_s, **kwargs
        )

    def book(self, token_id: str) -> ClobBook:
        return self.get_model("/book", "/book", _BOOK, {"token_id": token_id})

    def _books_batches(self, token_ids: Sequence[str], batch_size: int | None) -> list[list[dict[str, str]]]:
        """POST /books request bodies: `batch_size` (default BOOKS_BATCH) token ids each, in order."""
        size = batch_size or self.BOOKS_BATCH
        ids = list(token_ids)
        return [[{"token_id": t} for t in ids[start : start + size]] for start in range(0, len(ids), size)]

    def books(self, token_ids: Sequence[str], *, batch_size: int | None = None) -> list[ClobBook]:
        """Books for many tokens via POST /books, in batches (order of the response kept)."""
        out: list[ClobBook] = []
        for body in self._books_batches(token_ids, batch_size):
            # a local first: inferred from `extend`, T would be Iterable[ClobBook], not the adapter's list
            batch = self.get_model("/books", "/books", _BOOKS, method="POST", json_body=body)
            out.extend(batch)
        return out

    def books_bodies(self, token_ids: Sequence[str], *, batch_size: int | None = None) -> list[bytes]:
        """Polling path of `books`: same batches, retries and raw hook, but each body is returned as
        received for ``normalize.book_bodies_to_frame`` (no pydantic models)."""
        return self.each(
            lambda body: self.request_bytes("POST", "/books", "/books", json_body=body).body,
            self._books_batches(token_ids, batch_size),
        )

    def midpoint(self, token_id: str) -> Decimal | None:
        """CLOB midpoint (an empty side counts as 0 there: prefer ClobBook.mid)."""
        payload = self.get_model("/midpoint", "/midpoint", _ANY, {"token_id": token_id})
        return self._decimal("/midpoint", payload, "mid")

    def price(self, token_id: str, side: Literal["BUY", "SELL"]) -> Decimal | None:
        """side=BUY → best bid, side=SELL → best ask (the side of the resting orders)."""
        if side not in ("BUY", "SELL"):
            raise ValueError(f"side must be BUY or SELL, got {side!r}")
        payload = self.get_model("/price", "/price", _ANY, {"token_id": token_id, "side": side})
        return self._decimal("/price", payload, "price")

    def prices_history(
        self,
        token_id: str,
        start_ts: int | datetime | None = None,
        end_ts: int | datetime | None = None,
        interval: str | None = None,
        fidelity: int | None = None,
    ) -> PriceHistory:
        """GET /prices-history: `market` is the TOKEN id; ts in epoch seconds; fidelity in minutes."""

        def ts(v: int | datetime | None) -> int | None:
            return int(v.timestamp()) if isinstance(v, datetime) else v

        params = {
            "market": token_id,
            "startTs": ts(start_ts),
            "endTs": ts(end_ts),
            "interval": interval,
            "fidelity": fidelity,
        }
        return self.get_model("/prices-history", "/prices-history", _HISTORY, params)

    def _decimal(self, endpoint: str, payload: dict[str, Any], key: str) -> Decimal | None:
        if key not in payload:
            raise MalformedResponse(self.source, endpoint, f"field '{key}': Field required")
        value = payload[key]
        if value in (None, ""):
            return None
        try:
            return Decimal(str(value))
        except ArithmeticError:
            detail = f"field '{key}': not a number: {value!r}"
            raise MalformedResponse(self.source, endpoint, detail) from None

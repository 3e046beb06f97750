"""The Odds API v4 (live odds, events, scores, historical snapshots) with its quota accounting.

Why: the client must handle the real cost rules (markets x regions, historical x10, scores 1/2,
free sports/events, empty responses free), the quota headers, and the real error codes
(apis.md §3), so the simulator charges and fails exactly like the service.
"""

import math
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from edge_assets.simulator.teams import BOOK_INDEX, BOOKS, LEAGUES, REGIONS, SPORT_KEY_TO_LEAGUE
from edge_assets.simulator.world import Game, World, last_param, to_ts

FEATURED = ("h2h", "spreads", "totals", "outrights", "h2h_lay", "outrights_lay")
SNAPSHOT_OFFSET_S = 36  # snapshots land at :xx:36, like the real archive
SNAPSHOT_STEP_S = 300
HISTORY_START = datetime(2020, 6, 6, tzinfo=UTC)
ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
DOCS = "https://the-odds-api.com/liveapi/guides/v4/api-error-codes.html"

OUTRIGHT_SPORTS = {
    "basketball_nba_championship_winner": (
        "Basketball",
        "NBA Championship Winner",
        "Championship Winner 2025/2026",
    ),
    "americanfootball_nfl_super_bowl_winner": (
        "American Football",
        "NFL Super Bowl Winner",
        "Super Bowl Winner 2025/2026",
    ),
    "icehockey_nhl_championship_winner": (
        "Ice Hockey",
        "NHL Championship Winner",
        "Stanley Cup Winner 2025/2026",
    ),
    "baseball_mlb_world_series_winner": ("Baseball", "MLB World Series Winner", "World Series Winner 2026"),
    "soccer_epl_winner": ("Soccer", "EPL Winner", "Premier League Winner 2025/2026"),
}
INACTIVE_SPORTS = {
    "americanfootball_cfl": ("American Football", "CFL", "Canadian Football League"),
    "basketball_wnba": ("Basketball", "WNBA", "US Basketball"),
}


class OddsApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "error_code": self.code,
            "details_url": f"{DOCS}#{self.code.lower().replace('_', '-')}",
        }


def american(dec: float) -> int:
    if dec >= 2.0:
        return round((dec - 1) * 100)
    return round(-100 / (dec - 1))


@lru_cache(maxsize=1 << 10)
def _iso_day(day: int) -> str:
    return datetime.fromtimestamp(day * 86400, tz=UTC).strftime("%Y-%m-%dT")


@lru_cache(maxsize=1 << 12)
def iso(ts: int) -> str:
    """``datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")`` for whole seconds, memoized
    (books of one refresh share times); the time of day by arithmetic on a memoized day."""
    day, sec = divmod(ts, 86400)
    hour, sec = divmod(sec, 3600)
    minute, sec = divmod(sec, 60)
    return f"{_iso_day(day)}{hour:02d}:{minute:02d}:{sec:02d}Z"


class OddsApi:
    """Stateful per app: quota counters per key and the rate limiter live here."""

    def __init__(self, world: World, api_key: str, quota: int) -> None:
        self.w = world
        self.api_key = api_key
        self.quota = quota
        self.used: dict[str, int] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ entry
    def handle(
        self, path: str, q: dict[str, list[str]], now: datetime, rate_ok: Callable[[str], bool]
    ) -> tuple[int, Any, dict[str, str]]:
        key = last_param(q, "apiKey")
        if not key:
            err = OddsApiError(
                401, "MISSING_KEY", "API key is missing. Add apiKey=YOUR_API_KEY to the query string."
            )
            return err.status, err.body(), {}
        if key != self.api_key:
            err = OddsApiError(
                401, "INVALID_KEY", "API key is not valid. Get an API key at https://the-odds-api.com"
            )
            return err.status, err.body(), {}
        if not rate_ok(key):
            err = OddsApiError(
                429,
                "EXCEEDED_FREQ_LIMIT",
                "Requests are exceeding the frequency limit. Please space out requests.",
            )
            return err.status, err.body(), self._headers(key, 0)
        try:
            body, cost = self._route(path, q, now)
        except OddsApiError as e:
            return e.status, e.body(), self._headers(key, 0)
        with self._lock:
            used = self.used.get(key, 0)
            if cost > 0 and used + cost > self.quota:
                err = OddsApiError(
                    401,
                    "OUT_OF_USAGE_CREDITS",
                    "Usage quota has been reached. See usage plans at https://the-odds-api.com",
                )
                return err.status, err.body(), self._headers(key, 0)
            self.used[key] = used + cost
        return 200, body, self._headers(key, cost)

    def _headers(self, key: str, last: int) -> dict[str, str]:
        used = self.used.get(key, 0)
        return {
            "x-requests-remaining": str(max(self.quota - used, 0)),
            "x-requests-used": str(used),
            "x-requests-last": str(last),
        }

    def _route(self, path: str, q: dict[str, list[str]], now: datetime) -> tuple[Any, int]:
        parts = [p for p in path.split("/") if p]
        # parts[0] == "v4"
        if parts[1:] == ["sports"]:
            return self.sports(last_param(q, "all") == "true"), 0
        historical = len(parts) > 1 and parts[1] == "historical"
        rest = parts[2:] if historical else parts[1:]
        if len(rest) < 3 or rest[0] != "sports":
            raise OddsApiError(404, "NOT_FOUND", "Resource not found")
        sport = rest[1]
        tail = rest[2:]
        self._check_sport(sport)
        if historical:
            snap, prev, nxt = self._snapshot(q, now)
            t = snap
        else:
            t = to_ts(now)

        def wrap(data: Any) -> dict[str, Any]:
            """The historical envelope: the snapshot served and its neighbours."""
            return {
                "timestamp": iso(snap),
                "previous_timestamp": iso(prev),
                "next_timestamp": iso(nxt) if nxt is not None else None,
                "data": data,
            }

        if tail == ["odds"]:
            data, cost = self.odds(sport, q, t)
            if historical:
                return wrap(data), cost * 10
            return data, cost
        if tail == ["events"]:
            data = self.events(sport, q, t)
            if historical:
                return wrap(data), 1 if data else 0
            return data, 0
        if len(tail) == 3 and tail[0] == "events" and tail[2] == "odds":
            event_data, cost = self.event_odds(sport, tail[1], q, t)
            if historical:
                return wrap(event_data), cost * 10
            return event_data, cost
        if tail == ["scores"] and not historical:
            return self.scores(sport, q, t)
        raise OddsApiError(404, "NOT_FOUND", "Resource not found")

    # ------------------------------------------------------------------ validation
    def _check_sport(self, sport: str) -> None:
        if (
            sport not in SPORT_KEY_TO_LEAGUE
            and sport not in OUTRIGHT_SPORTS
            and sport != "upcoming"
            and sport not in INACTIVE_SPORTS
        ):
            raise OddsApiError(
                422, "UNKNOWN_SPORT", "Unknown sport. Find sport keys from the /sports endpoint."
            )

    def _markets(self, sport: str, q: dict[str, list[str]], featured_only: bool = True) -> list[str]:
        raw = last_param(q, "markets") or "h2h"
        mk = [m.strip() for m in raw.split(",") if m.strip()]
        if not mk:
            raise OddsApiError(422, "INVALID_MARKET", "Invalid markets parameter")
        if featured_only:
            for m in mk:
                if m not in FEATURED:
                    raise OddsApiError(
                        422,
                        "INVALID_MARKET",
                        f"Markets not supported by this endpoint: {m}. "
                        "Use the /events/{eventId}/odds endpoint for non-featured markets",
                    )
        if sport in OUTRIGHT_SPORTS and any(m not in ("outrights", "outrights_lay") for m in mk):
            raise OddsApiError(
                422, "INVALID_MARKET_COMBO", "Only the outrights market is available for this sport"
            )
        if sport in SPORT_KEY_TO_LEAGUE and any(m in ("outrights", "outrights_lay") for m in mk):
            raise OddsApiError(422, "INVALID_MARKET_COMBO", "Outrights are not available for this sport")
        return list(dict.fromkeys(mk))

    def _books(self, q: dict[str, list[str]]) -> tuple[list[str], int]:
        bms = last_param(q, "bookmakers")
        if bms:
            keys = [b.strip() for b in bms.split(",") if b.strip()]
            known = {b.key for b in BOOKS}
            valid = [k for k in keys if k in known]
            if not keys:
                raise OddsApiError(422, "INVALID_BOOKMAKERS", "Invalid bookmakers parameter")
            return valid, max(1, math.ceil(len(keys) / 10))
        regs = last_param(q, "regions")
        if not regs:
            raise OddsApiError(
                422, "MISSING_REGION", "Missing regions parameter. Specify regions=us (or uk, eu, au)"
            )
        rl = list(dict.fromkeys(r.strip() for r in regs.split(",") if r.strip()))
        for r in rl:
            if r not in REGIONS:
                raise OddsApiError(
                    422, "INVALID_REGION", f"Invalid region: {r}. Valid regions are us, us2, uk, eu, au"
                )
        keys = [b.key for b in BOOKS if b.region in rl]
        return keys, len(rl)

    def _formats(self, q: dict[str, list[str]]) -> tuple[str, str]:
        of = last_param(q, "oddsFormat") or "decimal"
        if of not in ("decimal", "american"):
            raise OddsApiError(
                422, "INVALID_ODDS_FORMAT", "Invalid oddsFormat. Valid values are decimal and american"
            )
        df = last_param(q, "dateFormat") or "iso"
        if df not in ("iso", "unix"):
            raise OddsApiError(
                422, "INVALID_DATE_FORMAT", "Invalid dateFormat. Valid values are iso and unix"
            )
        return of, df

    def _event_filter(self, q: dict[str, list[str]]) -> tuple[set[str] | None, int | None, int | None]:
        ids = None
        raw = last_param(q, "eventIds")
        if raw:
            ids = {x.strip() for x in raw.split(",") if x.strip()}
            if any(len(x) != 32 for x in ids):
                raise OddsApiError(
                    422, "INVALID_EVENT_IDS", "Invalid eventIds. Event ids are 32 characters long"
                )
        lo = hi = None
        for name, code in (
            ("commenceTimeFrom", "INVALID_COMMENCE_TIME_FROM"),
            ("commenceTimeTo", "INVALID_COMMENCE_TIME_TO"),
        ):
            v = last_param(q, name)
            if v is None:
                continue
            if not ISO_RE.match(v):
                raise OddsApiError(422, code, f"Invalid {name}. Expected format YYYY-MM-DDTHH:MM:SSZ")
            ts = to_ts(datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
            if name == "commenceTimeFrom":
                lo = ts
            else:
                hi = ts
        if lo is not None and hi is not None and lo > hi:
            raise OddsApiError(
                422, "INVALID_COMMENCE_TIME_RANGE", "commenceTimeFrom must be before commenceTimeTo"
            )
        return ids, lo, hi

    def _snapshot(self, q: dict[str, list[str]], now: datetime) -> tuple[int, int, int | None]:
        v = last_param(q, "date")
        if not v:
            raise OddsApiError(
                422, "MISSING_HISTORICAL_TIMESTAMP", "Missing date parameter (ISO 8601 timestamp)"
            )
        try:
            s = v.replace("Z", "+00:00")
            dt = datetime.fromisoformat(s)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=UTC)
        except ValueError as exc:
            raise OddsApiError(
                422,
                "INVALID_HISTORICAL_TIMESTAMP",
                "Invalid date parameter. Expected ISO 8601, e.g. 2023-09-10T12:00:00Z",
            ) from exc
        if dt < HISTORY_START:
            raise OddsApiError(
                422, "INVALID_HISTORICAL_TIMESTAMP", "Historical data is available from 2020-06-06"
            )
        req = min(to_ts(dt), to_ts(now))
        snap = ((req - SNAPSHOT_OFFSET_S) // SNAPSHOT_STEP_S) * SNAPSHOT_STEP_S + SNAPSHOT_OFFSET_S
        nxt = snap + SNAPSHOT_STEP_S
        return snap, snap - SNAPSHOT_STEP_S, (nxt if nxt <= to_ts(now) else None)

    # ------------------------------------------------------------------ endpoints
    def sports(self, all_: bool) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for lg in LEAGUES.values():
            out.append(
                {
                    "key": lg.sport_key,
                    "group": lg.group,
                    "title": lg.sport_title,
                    "description": lg.description,
                    "active": True,
                    "has_outrights": False,
                }
            )
        for key, (group, title, desc) in OUTRIGHT_SPORTS.items():
            out.append(
                {
                    "key": key,
                    "group": group,
                    "title": title,
                    "description": desc,
                    "active": True,
                    "has_outrights": True,
                }
            )
        if all_:
            for key, (group, title, desc) in INACTIVE_SPORTS.items():
                out.append(
                    {
                        "key": key,
                        "group": group,
                        "title": title,
                        "description": desc,
                        "active": False,
                        "has_outrights": False,
                    }
                )
        out.sort(key=lambda x: x["key"])
        return out

    def _games(self, sport: str, t: int) -> list[Game]:
        now = datetime.fromtimestamp(t, tz=UTC)
        if sport == "upcoming":
            allg = [g for lg in LEAGUES for g in self.w.odds_games(lg, now)]
            live = [g for g in allg if g.actual_start <= now]
            nxt = sorted(
                (g for g in allg if g.actual_start > now),
                key=lambda g: (self.w.commence_time(g, now), g.odds_event_id),
            )[:8]
            return sorted(live, key=lambda g: g.actual_start) + nxt
        league = SPORT_KEY_TO_LEAGUE.get(sport)
        if league is None:
            return []
        return self.w.odds_games(league, now)

    def _filtered(self, sport: str, q: dict[str, list[str]], t: int) -> list[Game]:
        ids, lo, hi = self._event_filter(q)
        now = datetime.fromtimestamp(t, tz=UTC)
        out = []
        for g in self._games(sport, t):
            if ids is not None and g.odds_event_id not in ids:
                continue
            ct = to_ts(self.w.commence_time(g, now))
            if (lo is not None and ct < lo) or (hi is not None and ct > hi):
                continue
            out.append(g)
        return out

    def _event_head(self, g: Game, t: int, df: str) -> dict[str, Any]:
        lg = LEAGUES[g.league]
        ct = to_ts(self.w.commence_time(g, datetime.fromtimestamp(t, tz=UTC)))
        return {
            "id": g.odds_event_id,
            "sport_key": lg.sport_key,
            "sport_title": lg.sport_title,
            "commence_time": ct if df == "unix" else iso(ct),
            "home_team": g.home.odds_name,
            "away_team": g.away.odds_name,
        }

    def _event_with_odds(
        self, g: Game, t: int, books: list[str], markets: list[str], of: str, df: str
    ) -> dict[str, Any]:
        det = self.w.detail(g)
        ev = self._event_head(g, t, df)
        bms = []
        is_american, unix = of == "american", df == "unix"
        for bk, last, mkts in self.w.book_quotes(det, t, books, markets):
            b = BOOKS[BOOK_INDEX[bk]]
            mlist = []
            for key, mlast, outs in mkts:
                ol = []
                for name, price, point in outs:
                    o: dict[str, Any] = {"name": name, "price": american(price) if is_american else price}
                    if point is not None:
                        o["point"] = point
                    ol.append(o)
                mlist.append({"key": key, "last_update": mlast if unix else iso(mlast), "outcomes": ol})
            bms.append(
                {
                    "key": bk,
                    "title": b.title,
                    "last_update": last if unix else iso(last),
                    "markets": mlist,
                }
            )
        ev["bookmakers"] = bms
        return ev

    def odds(self, sport: str, q: dict[str, list[str]], t: int) -> tuple[list[dict[str, Any]], int]:
        markets = self._markets(sport, q)
        books, n_regions = self._books(q)
        of, df = self._formats(q)
        games = self._filtered(sport, q, t) if sport not in OUTRIGHT_SPORTS else []
        data = [self._event_with_odds(g, t, books, markets, of, df) for g in games]
        cost = len(markets) * n_regions if data else 0
        return data, cost

    def event_odds(
        self, sport: str, event_id: str, q: dict[str, list[str]], t: int
    ) -> tuple[dict[str, Any], int]:
        markets = self._markets(sport, q, featured_only=False)
        books, n_regions = self._books(q)
        of, df = self._formats(q)
        g = next((x for x in self._games(sport, t) if x.odds_event_id == event_id), None)
        if g is None:
            raise OddsApiError(
                404, "EVENT_NOT_FOUND", "Event not found. The event may have expired or the id is wrong"
            )
        ev = self._event_with_odds(g, t, books, markets, of, df)
        for b in ev["bookmakers"]:
            b.pop("last_update", None)
        returned = {m["key"] for b in ev["bookmakers"] for m in b["markets"]}
        return ev, len(returned) * n_regions

    def events(self, sport: str, q: dict[str, list[str]], t: int) -> list[dict[str, Any]]:
        _, df = self._formats(q)
        return [self._event_head(g, t, df) for g in self._filtered(sport, q, t)]

    def scores(self, sport: str, q: dict[str, list[str]], t: int) -> tuple[list[dict[str, Any]], int]:
        _, df = self._formats(q)
        days_raw = last_param(q, "daysFrom")
        days = None
        if days_raw is not None:
            if not days_raw.isdigit() or not 1 <= int(days_raw) <= 3:
                raise OddsApiError(422, "INVALID_SCORES_DAYS_FROM", "daysFrom must be an integer from 1 to 3")
            days = int(days_raw)
        ids, _, _ = self._event_filter(q)
        now = datetime.fromtimestamp(t, tz=UTC)
        league = SPORT_KEY_TO_LEAGUE.get(sport)
        rows: list[tuple[int, dict[str, Any]]] = []
        if league is not None:
            lo = now.replace() if days is None else datetime.fromtimestamp(t - days * 86400, tz=UTC)
            for g in self.w.games_overlapping(league, lo, now):
                if ids is not None and g.odds_event_id not in ids:
                    continue
                if g.listed_at > now:
                    continue
                completed = now >= g.end
                if completed and (days is None or to_ts(g.actual_start) < t - days * 86400):
                    continue
                head = self._event_head(g, t, df)
                ct = head["commence_time"]
                det = self.w.detail(g)
                scores = None
                last = None
                if now >= g.actual_start:
                    frac = min((now - g.actual_start) / (g.end - g.actual_start), 1.0)
                    hs, as_ = (
                        (det.home_score, det.away_score)
                        if completed
                        else (int(det.home_score * frac), int(det.away_score * frac))
                    )
                    scores = [
                        {"name": g.home.odds_name, "score": str(hs)},
                        {"name": g.away.odds_name, "score": str(as_)},
                    ]
                    lu = to_ts(g.end) + 240 if completed else (t // 30) * 30
                    last = lu if df == "unix" else iso(lu)
                rows.append(
                    (
                        to_ts(self.w.commence_time(g, now)),
                        {
                            "id": g.odds_event_id,
                            "sport_key": head["sport_key"],
                            "sport_title": head["sport_title"],
                            "commence_time": ct,
                            "completed": completed,
                            "home_team": g.home.odds_name,
                            "away_team": g.away.odds_name,
                            "scores": scores,
                            "last_update": last,
                        },
                    )
                )
        rows.sort(key=lambda r: (r[0], r[1]["id"]))
        data = [r[1] for r in rows]
        cost = (2 if days is not None else 1) if data else 0
        return data, cost

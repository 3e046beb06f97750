"""Polymarket Gamma API (`/markets`, `/events`, `/sports`, `/teams`) rendered from the world.

Why: the ingestion client is written against the real wire format, so field names, wire types
(stringified JSON arrays, string vs number liquidity, `"YYYY-MM-DD HH:MM:SS+00"` game times),
pagination caps and the implicit `closed=false` filter follow the real API (apis.md §1).
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from edge_assets.simulator.teams import LEAGUES, TEAMS, League
from edge_assets.simulator.world import (
    EPOCH_DATE,
    ET,
    GameDetail,
    PMMarket,
    World,
    from_ts,
    grid_index,
    h64,
    last_param,
    round_to,
    to_ts,
)

IMG = "https://polymarket-upload.s3.us-east-2.amazonaws.com"
RESOLVER = "0x65070BE91477460D8A7AeEb94ef92fe056C2f2A7"
SPORT_GROUP_TAG = {
    "nba": ("100149", "Basketball", "basketball"),
    "nfl": ("100148", "Football", "football"),
    "nhl": ("100088", "Hockey", "hockey"),
    "mlb": ("100379", "Baseball", "baseball"),
    "epl": ("100350", "Soccer", "soccer"),
}
GAMES_TAG = "100639"
RESOLUTION_URL = {
    "nba": "https://www.nba.com/",
    "nfl": "https://www.nfl.com/",
    "nhl": "https://www.nhl.com/",
    "mlb": "https://www.mlb.com/",
    "epl": "https://www.premierleague.com/",
}
MAX_LIMIT = 100
MAX_OFFSET = 10_000
DEFAULT_LIMIT = 20
# Naming variety seen in real Gamma records (apis.md §1.8, §5.1), drawn per game from a hash so a
# game keeps one style for its whole life. Probabilities are per game.
FULL_NAMES_P = 0.15  # mascot leagues (NBA/NFL/NHL) written with full names ("by year" styles)
OLD_FORM_P = 0.10  # US moneyline in the older "<LG>: Who will win A vs. B, scheduled for ..." form
TITLE_SWAP_P = 0.10  # US event title lists home first, disagreeing with its own slug and markets
TITLE_SPACE_P = 0.10  # event title carries a trailing space
OUTCOME_SPACE_P = 0.05  # team outcomes carry a trailing space
SOCCER_SHORT_P = 0.20  # soccer clubs written without "FC"/"AFC"
NO_TEAMS_P = 0.12  # older events carry no teams[] (names then come from titles and questions)

# Negatives that look like games (apis.md §5.1): a KBO game whose mascots overlap MLB/NFL names,
# and an All-Star game typed `moneyline` under the MLB sport. Rendered only in /events listings;
# their tokens use a league slot no real league has, so the CLOB has no book for them and the
# world's ground truth does not list them (every such token must stay unmapped).
DECOY_LEAGUE_SLOT = 7
DECOY_EVENT_BASE = 800_000_000
KBO_TEAMS = (
    ("Lotte Giants", "Giants", "lot"),
    ("KIA Tigers", "Tigers", "kia"),
    ("Samsung Lions", "Lions", "sam"),
    ("LG Twins", "Twins", "lg"),
    ("Doosan Bears", "Bears", "doo"),
    ("Hanwha Eagles", "Eagles", "han"),
    ("SSG Landers", "Landers", "ssg"),
    ("NC Dinos", "Dinos", "nc"),
    ("KT Wiz", "Wiz", "kt"),
    ("Kiwoom Heroes", "Heroes", "kiw"),
)
KST = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class Decoy:
    """A game-shaped event with no Odds API counterpart."""

    event_id: str
    league: str  # Polymarket sport code on the event ("kbo", or "mlb" for the All-Star game)
    slug: str
    title: str
    group_item_title: str
    start: datetime
    listed_at: datetime
    closed_at: datetime
    market: PMMarket


class GammaError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


# Formatted instants are memoized (bounded): every simulated hour re-renders the same few
# thousand timestamps. Equal aware datetimes are one UTC instant, so they format identically.
@lru_cache(maxsize=1 << 12)
def iso_z(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=1 << 12)
def _iso_s(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def us_suffix(salt: int) -> str:
    """The tail `iso_us` appends: '.<micros>Z' without trailing zeros, or 'Z' when micros are 0."""
    return f".{salt % 1_000_000:06d}".rstrip("0").rstrip(".") + "Z"


def iso_us(dt: datetime, salt: int) -> str:
    return _iso_s(dt) + us_suffix(salt)


@lru_cache(maxsize=64)
def instant(now: datetime) -> tuple[int, int, str]:
    """(timestamp, grid index, `_iso_s` of the grid instant) of a request time.

    Why: every market and event of one response is rendered at the same `now`, and open objects
    stamp `updatedAt` with that grid instant plus a per-object suffix."""
    t_s = to_ts(now)
    k = grid_index(t_s)
    return t_s, k, _iso_s(from_ts(k * 300))


@lru_cache(maxsize=1 << 12)
def pg_time(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")


# Prices (4 decimals) repeat across books and hours; sizes, volumes and liquidity rarely do, so
# only prices are memoized (bounded). Equal numbers (1 == 1.0, 0.0 == -0.0) format alike.
NUM_STR_MEMO: dict[float, str] = {}


def _num_str(x: float, nd: int) -> str:
    s = f"{x:.{nd}f}".rstrip("0").rstrip(".")
    return s if s not in ("", "-0") else "0"


def num_str(x: float, nd: int = 4) -> str:
    if nd != 4:
        return _num_str(x, nd)
    got = NUM_STR_MEMO.get(x)
    if got is None:
        got = _num_str(x, 4)
        if len(NUM_STR_MEMO) >= 1 << 14:
            NUM_STR_MEMO.clear()
        NUM_STR_MEMO[x] = got
    return got


def _parse_dt(v: str) -> datetime:
    try:
        s = v.strip().replace(" ", "T")
        if s.endswith("Z"):
            s = s[:-1] + "+00:00"
        if len(s) == 10:
            s += "T00:00:00+00:00"
        dt = datetime.fromisoformat(s)
    except ValueError as exc:
        raise GammaError(422, {"type": "validation error", "error": f"invalid date-time: {v}"}) from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _tags(lg: League) -> list[dict[str, Any]]:
    gid, glabel, gslug = SPORT_GROUP_TAG[lg.code]
    return [
        {
            "id": "1",
            "label": "Sports",
            "slug": "sports",
            "forceShow": False,
            "publishedAt": "2023-10-24 22:37:50.296+00",
            "updatedBy": 15,
            "createdAt": "2023-10-24T22:37:50.31Z",
            "updatedAt": "2026-04-17T20:47:16.461062Z",
            "forceHide": True,
            "requiresTranslation": False,
        },
        {
            "id": gid,
            "label": glabel,
            "slug": gslug,
            "createdAt": "2023-11-02T21:22:21.615Z",
            "updatedAt": "2026-04-17T20:46:56.49275Z",
            "requiresTranslation": False,
        },
        {
            "id": lg.tag_id,
            "label": lg.pm_sport_name,
            "slug": lg.code,
            "createdAt": "2023-11-02T21:22:21.615Z",
            "updatedAt": "2026-03-09T22:28:03.358133Z",
            "requiresTranslation": False,
        },
        {
            "id": GAMES_TAG,
            "label": "Games",
            "slug": "games",
            "forceShow": False,
            "createdAt": "2024-09-23T22:41:37.670714Z",
            "updatedAt": "2026-03-09T22:28:03.358133Z",
            "requiresTranslation": False,
        },
    ]


def sport_object(lg: League) -> dict[str, Any]:
    gid = SPORT_GROUP_TAG[lg.code][0]
    return {
        "id": lg.sport_id,
        "sport": lg.code,
        "name": lg.pm_sport_name,
        "image": f"{IMG}/league-icons/{lg.code}.png",
        "resolution": RESOLUTION_URL[lg.code],
        "ordering": lg.ordering,
        "tags": f"1,{gid},{lg.tag_id},{GAMES_TAG}",
        "primaryTagId": int(lg.tag_id),
        "series": lg.series_id,
        "createdAt": "2025-06-01T00:00:00.000000Z",
    }


def _series(lg: League, now: datetime) -> dict[str, Any]:
    return {
        "id": lg.series_id,
        "ticker": lg.code,
        "slug": lg.code,
        "title": lg.pm_sport_name,
        "seriesType": "single",
        "recurrence": "daily",
        "image": "",
        "icon": "",
        "active": True,
        "closed": False,
        "archived": False,
        "createdAt": "2024-09-01T00:00:00.000000Z",
        "updatedAt": instant(now)[2] + ".000001Z",  # == iso_us(<grid instant>, 1)
        "volume24hr": 1_250_000.5,
        "volume": 98_765_432.1,
        "liquidity": 2_345_678.9,
        "commentCount": 5,
        "requiresTranslation": False,
    }


@dataclass(frozen=True)
class NameStyle:
    """How one game's names are written on Gamma (questions, outcomes, titles)."""

    rename: dict[str, str]  # name as the world wrote it -> as rendered
    old_form: bool
    title_swap: bool
    title_space: bool
    outcome_space: bool
    no_teams: bool

    def text(self, s: str) -> str:
        if not self.rename:
            return s
        pat = "|".join(re.escape(k) for k in sorted(self.rename, key=len, reverse=True))
        return re.sub(rf"(?<![\w.])(?:{pat})(?![\w])", lambda m: self.rename[m.group(0)], s)

    def outcome(self, s: str) -> str:
        if s in ("Yes", "No", "Over", "Under"):
            return s
        return self.text(s) + (" " if self.outcome_space else "")


def _soccer_short(name: str) -> str:
    """'Arsenal FC' -> 'Arsenal', 'AFC Bournemouth' -> 'Bournemouth', 'Sunderland AFC' -> 'Sunderland'."""
    return re.sub(r"^A?FC\s+|\s+A?FC$", "", name)


class Gamma:
    """Renders and filters Gamma objects for one world at one instant."""

    def __init__(self, world: World) -> None:
        self.w = world
        # memos live on the world, bounded: embedded sessions build a new renderer per poll
        self._styles = world.memo("gamma_style", 4096)
        self._market_memo = world.memo("gamma_market", 1024)  # ~650 markets open at once, ~7 KB each
        self._event_memo = world.memo("gamma_event", 512)  # ~100 game events listed at once

    # ------------------------------------------------------------------ naming variety
    def style(self, det: GameDetail) -> NameStyle:
        """The game's naming style: a pure function of (seed, event id)."""
        st: NameStyle | None = self._styles.get(det.game.pm_event_id)
        if st is None:
            st = self._style(det)
            self._styles.put(det.game.pm_event_id, st)
        return st

    def _style(self, det: GameDetail) -> NameStyle:
        g = det.game
        lg = LEAGUES[g.league]
        u = [(h64(self.w.seed, "style", g.pm_event_id, i) % 10_000) / 10_000 for i in range(7)]
        rename: dict[str, str] = {}
        if lg.pm_style == "mascot" and u[0] < FULL_NAMES_P:
            rename = {t.pm_name: t.pm_full for t in (g.home, g.away)}
        elif lg.pm_style == "soccer" and u[0] < SOCCER_SHORT_P:
            rename = {t.pm_full: _soccer_short(t.pm_full) for t in (g.home, g.away)}
        us = lg.pm_style != "soccer"
        return NameStyle(
            rename={k: v for k, v in rename.items() if k != v},
            old_form=us and u[1] < OLD_FORM_P,
            title_swap=us and u[2] < TITLE_SWAP_P,
            title_space=u[3] < TITLE_SPACE_P,
            outcome_space=us and u[4] < OUTCOME_SPACE_P,
            no_teams=u[5] < NO_TEAMS_P,
        )

    def question(self, det: GameDetail | None, mk: PMMarket) -> str:
        """The market question as rendered for this game's style."""
        if det is None:
            return mk.question
        st = self.style(det)
        if mk.kind == "ml" and st.old_form:
            return self._old_form(det, mk, st)
        return st.text(mk.question)

    def _old_form(self, det: GameDetail, mk: PMMarket, st: NameStyle) -> str:
        g = det.game
        a, b = (st.text(o) for o in mk.outcomes)
        when = g.scheduled.astimezone(ET)
        game_no = f" (Game {g.doubleheader})" if g.doubleheader else ""
        return (
            f"{LEAGUES[g.league].pm_sport_name}: Who will win {a} vs. {b}{game_no}, scheduled for "
            f"{when:%B} {when.day}, {when:%-I:%M %p} ET?"
        )

    def event_title(self, det: GameDetail) -> str:
        g = det.game
        lg = LEAGUES[g.league]
        st = self.style(det)
        ml = det.markets[0]
        if lg.has_draw:
            title = f"{st.text(g.home.pm_full)} vs. {st.text(g.away.pm_full)}"
        elif st.title_swap:
            a, b = (st.text(o) for o in ml.outcomes)
            title = f"{b} vs. {a}" + (f" (Game {g.doubleheader})" if g.doubleheader else "")
        else:
            title = self.question(det, ml).rstrip()
        return title + (" " if st.title_space else "")

    # ------------------------------------------------------------------ market rendering
    def _end_date(self, det: GameDetail) -> datetime:
        g = det.game
        return g.scheduled + (timedelta(days=7) if g.league == "mlb" else timedelta(hours=6))

    def market_json(
        self, det: GameDetail | None, mk: PMMarket, now: datetime, *, with_events: bool
    ) -> dict[str, Any]:
        w = self.w
        st = self._market_static(det, mk)
        t_s, k, grid_iso = instant(now)
        g = det.game if det is not None else None
        closed = g is not None and now >= g.closed_at
        liquidity = 0.0
        tick = 0.01
        # the static template fixes the key order; only the time-dependent values are set here
        d = st["template"].copy()
        if closed:
            assert det is not None
            y = w.resolved_outcome(det, mk)
            outcome_prices = '["1", "0"]' if y else '["0", "1"]'
            best_bid: float | None = 0.999 if y else None
            best_ask: float | None = 1 if y else 0.001
            last_trade = 0.999 if y else 0.001
            updated = iso_us(from_ts(min(k * 300, st["closed_ts"])), st["salt"] >> 20)
        else:
            book = w.pm_book(mk.token_ids[0], now)
            best_bid = best_ask = None
            last_trade = 0.5
            if book is not None:
                bids, asks = book.bids, book.asks
                best_bid = bids[-1][0] if bids else None
                best_ask = asks[-1][0] if asks else None
                last_trade = book.last_trade
                tick = book.tick
                depth = sum([p * s for p, s in bids]) + sum([(1 - p) * s for p, s in asks])
                liquidity = round_to(depth, 4, 1e4)
            mid = ((best_bid or 0.0) + (best_ask or 0.0)) / 2
            # == json.dumps of the two strings: plain number strings need no escaping
            outcome_prices = f'["{num_str(mid)}", "{num_str(1 - mid)}"]'
            updated = grid_iso + st["upd_suffix"]  # open: min(grid instant, close) is the grid instant
        frac = min(max((t_s - st["created_ts"]) / st["life"], 0.0), 1.0)
        volume = round_to(st["vol_total"] * frac**1.5, 6, 1e6)
        day_change = 0.0
        hour_change = 0.0
        if det is not None and not closed:
            p_now = w.pm_mid(det, mk, k)
            hour_change = round_to(p_now - w.pm_mid(det, mk, max(k - 12, det.k0)), 4, 1e4)
            day_change = round_to(p_now - w.pm_mid(det, mk, max(k - 288, det.k0)), 4, 1e4)
        accepting = not closed and (g is None or now < g.end)
        spread = (
            round_to(best_ask - best_bid, 4, 1e4) if best_ask is not None and best_bid is not None else 1.0
        )
        d["liquidity"] = num_str(liquidity, 5)
        d["outcomePrices"] = outcome_prices
        d["volume"] = num_str(volume, 6)
        d["closed"] = closed
        d["updatedAt"] = updated
        d["orderPriceMinTickSize"] = tick
        d["volumeNum"] = volume
        d["liquidityNum"] = liquidity
        d["volumeClob"] = volume
        d["liquidityClob"] = liquidity
        d["acceptingOrders"] = accepting
        d["spread"] = spread
        d["oneDayPriceChange"] = day_change
        d["oneHourPriceChange"] = hour_change
        d["lastTradePrice"] = last_trade
        d["bestBid"] = best_bid
        d["bestAsk"] = best_ask
        d["umaResolutionStatuses"] = '["proposed"]' if closed else "[]"
        d["feeSchedule"] = {
            "exponent": 1,
            "rate": mk.fee_rate,
            "takerOnly": True,
            "rebateRate": mk.fee_rebate,
        }
        if closed:
            assert g is not None
            d["closedTime"] = pg_time(g.closed_at)
            d["umaEndDate"] = iso_z(g.closed_at)
            d["umaResolutionStatus"] = "resolved"
            d["automaticallyResolved"] = True
        if with_events:
            d["events"] = [self.event_json_for_market(det, mk, now)]
        return d

    def _market_static(self, det: GameDetail | None, mk: PMMarket) -> dict[str, Any]:
        """The parts of a market's JSON that never change with time, memoized on the world.

        Why: a backfill renders the same ~600 markets every simulated hour; their strings
        (question, description, dates, token ids) are pure functions of (det, mk).
        """
        memo = self._market_memo
        st = memo.get(mk.market_id)
        if st is not None:
            return st
        salt = h64(self.w.seed, "m", mk.market_id)
        created = mk.created_at
        start_date = created + timedelta(seconds=int(salt % 500))
        end_date = self._end_date(det) if det is not None else datetime(2026, 12, 31, 12, tzinfo=UTC)
        lg = LEAGUES[det.game.league] if det is not None else None
        st = {
            "salt": salt,
            "life": max(
                (det.game.closed_at if det else end_date) - created, timedelta(hours=1)
            ).total_seconds(),
            "created_ts": to_ts(created),
            "closed_ts": to_ts(det.game.closed_at) if det else None,
            "vol_total": 2_000 + (salt % 400_000) * (1.0 if mk.in_scope else 0.15),
            "question": self.question(det, mk),
            "resolutionSource": RESOLUTION_URL[lg.code] if lg else "",
            "endDate": iso_z(end_date),
            "startDate": iso_z(start_date),
            "image": f"{IMG}/{(lg.code if lg else 'futures')}-game.png",
            "description": self._market_description(det, mk),
            "outcomes": json.dumps(
                [self.style(det).outcome(o) for o in mk.outcomes] if det is not None else list(mk.outcomes)
            ),
            "createdAt": iso_us(created, salt),
            "groupItemTitle": self.style(det).text(mk.group_item_title) if det else mk.group_item_title,
            "endDateIso": end_date.date().isoformat(),
            "startDateIso": start_date.date().isoformat(),
            "gameStartTime": pg_time(det.game.scheduled) if det else None,
            "eventStartTime": iso_z(det.game.scheduled) if det else None,
            "clobTokenIds": json.dumps(list(mk.token_ids)),
            "competitive": round(0.5 + 0.49 * np.cos(salt % 1000), 6),
            "deployingTimestamp": iso_us(created + timedelta(seconds=20), salt >> 7),
            "upd_suffix": us_suffix(salt >> 20),
        }
        st["template"] = self._market_template(det, mk, st)
        memo.put(mk.market_id, st)
        return st

    def _market_template(self, det: GameDetail | None, mk: PMMarket, st: dict[str, Any]) -> dict[str, Any]:
        """Every key of a market's JSON in wire order; time-dependent values are None here."""
        g = det.game if det else None
        d: dict[str, Any] = {
            "id": mk.market_id,
            "question": st["question"],
            "conditionId": mk.condition_id,
            "slug": mk.slug,
            "resolutionSource": st["resolutionSource"],
            "endDate": st["endDate"],
            "liquidity": None,
            "startDate": st["startDate"],
            "image": st["image"],
            "icon": st["image"],
            "description": st["description"],
            "outcomes": st["outcomes"],
            "outcomePrices": None,
            "volume": None,
            "active": True,
            "closed": None,
            "marketMakerAddress": "",
            "createdAt": st["createdAt"],
            "updatedAt": None,
            "new": False,
            "featured": False,
            "archived": False,
            "resolvedBy": RESOLVER,
            "restricted": True,
            "groupItemTitle": st["groupItemTitle"],
            "groupItemThreshold": str(mk.idx),
            "questionID": mk.question_id,
            "enableOrderBook": True,
            "orderPriceMinTickSize": None,
            "orderMinSize": 5,
            "volumeNum": None,
            "liquidityNum": None,
            "endDateIso": st["endDateIso"],
            "startDateIso": st["startDateIso"],
            "hasReviewedDates": True,
        }
        if g is not None:
            d["gameStartTime"] = st["gameStartTime"]
            d["eventStartTime"] = st["eventStartTime"]
            d["secondsDelay"] = 3 if g.league in ("nfl", "nba") else 1
        d.update(
            {
                "clobTokenIds": st["clobTokenIds"],
                "comboStatus": "disabled",
                "umaBond": "500",
                "umaReward": "2",
                "volumeClob": None,
                "liquidityClob": None,
                "makerBaseFee": 1000,
                "takerBaseFee": 1000,
                "acceptingOrders": None,
                "negRisk": det is None,
                "ready": False,
                "funded": False,
                "acceptingOrdersTimestamp": st["startDate"],
                "cyom": False,
                "competitive": st["competitive"],
                "pagerDutyNotificationEnabled": False,
                "approved": True,
                "rewardsMinSize": 50,
                "rewardsMaxSpread": 4.5,
                "spread": None,
                "oneDayPriceChange": None,
                "oneHourPriceChange": None,
                "lastTradePrice": None,
                "bestBid": None,
                "bestAsk": None,
                "automaticallyActive": True,
                "clearBookOnStart": g is not None,
                "manualActivation": False,
                "negRiskOther": False,
            }
        )
        if g is not None:
            d["gameId"] = str(int(g.pm_event_id) * 7 + 11)
            d["sportsMarketType"] = mk.sports_market_type
            d["line"] = mk.line
        d.update(
            {
                "umaResolutionStatuses": None,
                "pendingDeployment": False,
                "deploying": False,
                "deployingTimestamp": st["deployingTimestamp"],
                "rfqEnabled": False,
                "holdingRewardsEnabled": False,
                "feesEnabled": mk.fee_rate > 0,
                "requiresTranslation": False,
                "feeType": mk.fee_type,
                "feeSchedule": None,
                "version": "v1",
            }
        )
        return d

    def _market_description(self, det: GameDetail | None, mk: PMMarket) -> str:
        if det is None:
            return f'This market will resolve to "Yes" if {mk.group_item_title} wins. Otherwise "No".'
        g = det.game
        when = g.scheduled.astimezone(ET).strftime("%B %-d at %-I:%M%p ET")
        return (
            f"This market refers to the {LEAGUES[g.league].pm_sport_name} game between {g.away.pm_full} and "
            f"{g.home.pm_full}, scheduled for {when}.\n\n{self.question(det, mk).strip()}\n\n"
            "If the game is postponed beyond "
            "7 days from the scheduled date or canceled, this market will resolve 50-50."
        )

    # ------------------------------------------------------------------ event rendering
    def _event_static(self, det: GameDetail) -> dict[str, Any]:
        """The parts of a game event's JSON that never change with time, memoized on the world.

        Why: every hourly poll re-renders the same events; only the closed flag, volume, open
        interest, updatedAt, the game state and the team records move with time. Templates hold
        every key in wire order (time-dependent values None) and are copied, never handed out.
        """
        memo = self._event_memo
        es: dict[str, Any] | None = memo.get(det.game.pm_event_id)
        if es is not None:
            return es
        g = det.game
        lg = LEAGUES[g.league]
        ml = det.markets[0]
        salt = h64(self.w.seed, "e", g.pm_event_id)
        created = ml.created_at
        vol = 5000.0 + salt % 900_000
        slug = ml.slug if not lg.has_draw else ml.slug.rsplit("-", 1)[0]
        head: dict[str, Any] = {
            "id": g.pm_event_id,
            "ticker": slug,
            "slug": slug,
            "title": self.event_title(det),
            "description": self._market_description(det, ml),
            "resolutionSource": RESOLUTION_URL[lg.code],
            "startDate": iso_z(created + timedelta(seconds=int(salt % 500))),
            "creationDate": iso_z(g.scheduled),
            "endDate": iso_z(self._end_date(det)),
            "image": f"{IMG}/{lg.code}-game.png",
            "icon": f"{IMG}/{lg.code}-game.png",
            "active": True,
            "closed": None,
            "archived": False,
            "new": False,
            "featured": False,
            "restricted": True,
            "liquidity": round(vol * 0.03, 5),
            "volume": None,
            "openInterest": None,
            "createdAt": iso_us(created, salt),
            "updatedAt": None,
            "competitive": round(0.5 + 0.49 * np.sin(salt % 1000), 6),
            "enableOrderBook": True,
            "liquidityClob": round(vol * 0.03, 5),
            "negRisk": False,
            "commentCount": int(salt % 40),
        }
        teams = []
        order = (
            [(g.away, "away"), (g.home, "home")]
            if lg.ordering == "away"
            else [(g.home, "home"), (g.away, "away")]
        )
        for team, role in order:
            th = h64("team", lg.code, team.abbr)
            obj = {
                "id": 3_000_000 + th % 900_000,
                "name": team.pm_full,
                "league": lg.code,
                "record": None,
                "logo": f"{IMG}/{team.pm_full}-{th % 0xFFFFFFFFFF:010x}.png",
                "abbreviation": team.abbr,
                "createdAt": "2025-06-03T03:34:57.26259Z",
                "updatedAt": "2026-06-03T14:03:48.46343Z",
                "providerId": int(th % 2_000_000_000),
                "color": f"#{th % 0xFFFFFF:06x}",
                "ordering": role,
            }
            teams.append((th, obj))
        es = {
            "head": head,
            # nested in a /markets item: no liquidity, liquidityClob or competitive
            "nested_head": {
                k: v for k, v in head.items() if k not in ("liquidity", "liquidityClob", "competitive")
            },
            "tail": {
                "cyom": False,
                "showAllOutcomes": True,
                "showMarketImages": False,
                "enableNegRisk": False,
                "automaticallyActive": True,
                "eventDate": g.scheduled.astimezone(ET).date().isoformat(),
                "startTime": iso_z(g.scheduled),
                "seriesSlug": lg.code,
            },
            "end": {
                "negRiskAugmented": False,
                "pendingDeployment": False,
                "deploying": False,
                "gameId": int(g.pm_event_id) * 7 + 11,
                "requiresTranslation": False,
            },
            "metadata": {
                "context_description": f"{g.away.pm_full} visit {g.home.pm_full}.",
                "context_requires_regen": False,
                "context_updated_at": iso_z(g.listed_at + timedelta(hours=2)).replace("Z", ".000Z"),
            },
            "teams": None if self.style(det).no_teams else teams,
            "vol": vol,
            "created": created,
            "life": max((g.closed_at - created).total_seconds(), 3600.0),
            "closed_ts": to_ts(g.closed_at),
            "upd_salt": salt >> 9,
            "upd_suffix": us_suffix(salt >> 9),
            "closed_time": iso_z(g.closed_at),
        }
        memo.put(g.pm_event_id, es)
        return es

    def _event_head(
        self, det: GameDetail, now: datetime, es: dict[str, Any], *, nested: bool
    ) -> dict[str, Any]:
        """The event's leading keys at `now` (up to commentCount)."""
        _, k, grid_iso = instant(now)
        frac = min(max((now - es["created"]).total_seconds() / es["life"], 0.0), 1.0)
        vol = es["vol"]
        d = (es["nested_head"] if nested else es["head"]).copy()
        d["closed"] = now >= det.game.closed_at
        d["volume"] = round(vol * frac**1.5, 6)
        d["openInterest"] = round(vol * frac * 0.4, 6)
        upd = min(k * 300, es["closed_ts"])
        d["updatedAt"] = (
            grid_iso + es["upd_suffix"] if upd == k * 300 else iso_us(from_ts(upd), es["upd_salt"])
        )
        return d

    def _event_tail(
        self, det: GameDetail, now: datetime, es: dict[str, Any], d: dict[str, Any]
    ) -> dict[str, Any]:
        """The event's trailing keys at `now`: static flags, game state, metadata."""
        g = det.game
        d.update(es["tail"])
        started = now >= g.actual_start
        ended = now >= g.end
        if not started:
            d["period"] = "NS"
        else:
            frac = min((now - g.actual_start) / (g.end - g.actual_start), 1.0)
            per = {"nba": ("Q", 4), "nfl": ("Q", 4), "nhl": ("P", 3), "mlb": ("I", 9), "epl": ("H", 2)}[
                g.league
            ]
            d["period"] = "FT" if ended else f"{per[0]}{min(int(frac * per[1]) + 1, per[1])}"
            hs, as_ = _partial(det, frac)
            first, second = (as_, hs) if LEAGUES[g.league].ordering == "away" else (hs, as_)
            d["score"] = f"{first}-{second}"
            d["live"] = not ended
            d["ended"] = ended
        d.update(es["end"])
        d["eventMetadata"] = es["metadata"].copy()
        if ended and now >= g.closed_at:
            d["closedTime"] = es["closed_time"]
        return d

    def event_json_for_market(self, det: GameDetail | None, mk: PMMarket, now: datetime) -> dict[str, Any]:
        """The parent event as nested inside a /markets item (no markets/series/tags/teams)."""
        if det is None:
            return self._futures_event(mk, now, nested=True)
        es = self._event_static(det)
        return self._event_tail(det, now, es, self._event_head(det, now, es, nested=True))

    def event_json(self, det: GameDetail, now: datetime) -> dict[str, Any]:
        lg = LEAGUES[det.game.league]
        es = self._event_static(det)
        d = self._event_head(det, now, es, nested=False)
        d["markets"] = [
            self.market_json(det, mk, now, with_events=False) for mk in det.markets if now >= mk.created_at
        ]
        d["series"] = [_series(lg, now)]
        d["tags"] = _tags(lg)
        d = self._event_tail(det, now, es, d)
        if es["teams"] is not None:
            teams = []
            for th, obj in es["teams"]:
                team = obj.copy()
                team["record"] = _record(th, now)
                teams.append(team)
            d["teams"] = teams
        d["sport"] = sport_object(lg)
        d["version"] = "v1"
        return d

    def _futures_event(self, mk: PMMarket, now: datetime, *, nested: bool) -> dict[str, Any]:
        league = next(
            c for c, lg in LEAGUES.items() if mk.token_ids in [m.token_ids for m in self.w.futures(c)]
        )
        return self.futures_event(league, now, nested=nested)

    def futures_event(self, league: str, now: datetime, *, nested: bool = False) -> dict[str, Any]:
        lg = LEAGUES[league]
        title = self.w.futures_title(league)
        d: dict[str, Any] = {
            "id": str(900_000 + lg.index),
            "ticker": f"{lg.code}-champion",
            "slug": f"{lg.code}-champion",
            "title": title,
            "description": f"Futures market on the {title}.",
            "resolutionSource": RESOLUTION_URL[lg.code],
            "startDate": "2025-08-01T16:05:00Z",
            "creationDate": "2025-08-01T16:00:00Z",
            "endDate": "2026-12-31T12:00:00Z",
            "image": f"{IMG}/{lg.code}-futures.png",
            "icon": f"{IMG}/{lg.code}-futures.png",
            "active": True,
            "closed": False,
            "archived": False,
            "new": False,
            "featured": True,
            "restricted": True,
            "liquidity": 250000.0,
            "volume": 12_345_678.9,
            "openInterest": 2_000_000.0,
            "createdAt": "2025-08-01T16:00:00.123456Z",
            "updatedAt": iso_us(from_ts(grid_index(to_ts(now)) * 300), 3),
            "competitive": 0.9,
            "enableOrderBook": True,
            "liquidityClob": 250000.0,
            "negRisk": True,
            "commentCount": 321,
        }
        if nested:
            for k in ("liquidity", "liquidityClob", "competitive"):
                d.pop(k)
        else:
            d["markets"] = [self.market_json(None, m, now, with_events=False) for m in self.w.futures(league)]
            d["series"] = [_series(lg, now)]
            d["tags"] = _tags(lg)[:3]
        d.update(
            {
                "cyom": False,
                "showAllOutcomes": True,
                "showMarketImages": True,
                "enableNegRisk": True,
                "automaticallyActive": True,
                "seriesSlug": lg.code,
                "negRiskAugmented": True,
                "pendingDeployment": False,
                "deploying": False,
                "requiresTranslation": False,
            }
        )
        if not nested:
            d["version"] = "v1"
        return d

    # ------------------------------------------------------------------ negatives that look like games
    def decoys_on(self, d: date) -> list[Decoy]:
        """KBO game every day, MLB All-Star game every Sunday (US Eastern date d)."""
        dnum = (d - EPOCH_DATE).days
        out: list[Decoy] = []
        i = h64(self.w.seed, "kbo", dnum)
        h, a = KBO_TEAMS[i % len(KBO_TEAMS)], KBO_TEAMS[(i // 16) % (len(KBO_TEAMS) - 1)]
        if a == h:
            a = KBO_TEAMS[-1]
        start = datetime(d.year, d.month, d.day, 18, 30, tzinfo=KST).astimezone(UTC)
        # Polymarket mascot style, away team first: "Tigers vs. Giants" (names MLB/NFL teams share).
        out.append(self._decoy(dnum, 0, "kbo", f"kbo-{a[2]}-{h[2]}-{d.isoformat()}", a[1], h[1], start, ""))
        if d.weekday() == 6:
            start = datetime(d.year, d.month, d.day, 20, 0, tzinfo=ET).astimezone(UTC)
            out.append(
                self._decoy(
                    dnum,
                    1,
                    "mlb",
                    f"mlb-al-nl-{d.isoformat()}",
                    "American League",
                    "National League",
                    start,
                    "MLB All-Star Game: ",
                )
            )
        return out

    def _decoy(
        self, dnum: int, no: int, league: str, slug: str, a: str, b: str, start: datetime, prefix: str
    ) -> Decoy:
        mid, cond, qid, toks = self.w._ids_raw(dnum, DECOY_LEAGUE_SLOT, no, 0)
        listed = start - timedelta(days=1, hours=int(h64(self.w.seed, "dl", dnum, no) % 6))
        question = f"{a} vs. {b}"
        mk = PMMarket(
            0,
            "decoy",
            question,
            slug,
            (a, b),
            "moneyline",
            None,
            question,
            mid,
            cond,
            qid,
            toks,
            False,
            ((None, None, None), (None, None, None)),
            (),
            listed + timedelta(minutes=5),
            0.0,
            0.0,
            None,
            0.01,
        )
        return Decoy(
            str(DECOY_EVENT_BASE + dnum * 4 + no),
            league,
            slug,
            prefix + question,
            question,
            start,
            listed,
            start + timedelta(hours=4),
            mk,
        )

    def decoys_open(self, now: datetime) -> list[Decoy]:
        d0 = now.astimezone(ET).date()
        return [
            dc
            for k in range(-1, 3)
            for dc in self.decoys_on(d0 + timedelta(days=k))
            if dc.market.created_at <= now < dc.closed_at
        ]

    def decoy_event(self, dc: Decoy, now: datetime) -> dict[str, Any]:
        mlb = LEAGUES["mlb"]
        m = self.market_json(None, dc.market, now, with_events=False)
        m.update(
            {
                "endDate": iso_z(dc.closed_at),
                "endDateIso": dc.closed_at.date().isoformat(),
                "description": f"This market refers to the game {dc.title}, scheduled for "
                f"{dc.start.astimezone(ET):%B %-d at %-I:%M%p} ET.",
                "outcomePrices": json.dumps(["0.5", "0.5"]),
                "negRisk": False,
                "gameStartTime": pg_time(dc.start),
                "eventStartTime": iso_z(dc.start),
                "sportsMarketType": "moneyline",
                "line": None,
            }
        )
        sport = (
            sport_object(mlb)
            if dc.league == "mlb"
            else {**sport_object(mlb), "id": 40, "sport": "kbo", "series": "10370", "ordering": "away"}
        )
        return {
            "id": dc.event_id,
            "ticker": dc.slug,
            "slug": dc.slug,
            "title": dc.title,
            "description": m["description"],
            "startDate": iso_z(dc.listed_at),
            "creationDate": iso_z(dc.start),
            "endDate": iso_z(dc.closed_at),
            "image": f"{IMG}/{dc.league}-game.png",
            "icon": f"{IMG}/{dc.league}-game.png",
            "active": True,
            "closed": False,
            "archived": False,
            "new": False,
            "featured": False,
            "restricted": True,
            "liquidity": 1500.0,
            "volume": 2500.0,
            "openInterest": 800.0,
            "createdAt": iso_us(dc.listed_at, int(dc.event_id)),
            "updatedAt": iso_us(from_ts(grid_index(to_ts(now)) * 300), int(dc.event_id)),
            "competitive": 0.7,
            "enableOrderBook": True,
            "liquidityClob": 1500.0,
            "negRisk": False,
            "commentCount": 3,
            "markets": [m],
            "series": [{**_series(mlb, now), "slug": dc.league, "ticker": dc.league}],
            "tags": _tags(mlb)[:2],
            "cyom": False,
            "showAllOutcomes": True,
            "showMarketImages": False,
            "enableNegRisk": False,
            "automaticallyActive": True,
            "eventDate": dc.start.astimezone(ET).date().isoformat(),
            "startTime": iso_z(dc.start),
            "seriesSlug": dc.league,
            "sport": sport,
            "version": "v1",
        }

    def _decoys_listed(self, q: dict[str, list[str]], now: datetime) -> list[Decoy]:
        """Decoys an /events query sees: open listings under the Sports or Baseball tag only."""
        tag = last_param(q, "tag_id")
        if _bool(q, "closed", False) or last_param(q, "series_id") is not None:
            return []
        if tag is not None and tag not in ("1", SPORT_GROUP_TAG["mlb"][0]):
            return []
        return [dc for dc in self.decoys_open(now) if self._date_ok(q, dc.market.created_at, dc.closed_at)]

    # ------------------------------------------------------------------ enumeration and filters
    def _details_in(self, leagues: list[str], start: datetime, end: datetime) -> Iterator[GameDetail]:
        for lg in leagues:
            for g in self.w.games_overlapping(lg, start, end):
                yield self.w.detail(g)

    def _leagues_for(self, q: dict[str, list[str]]) -> list[str]:
        tag = last_param(q, "tag_id")
        series = last_param(q, "series_id")
        out = []
        for code, lg in LEAGUES.items():
            if tag is not None and tag not in ("1", GAMES_TAG, lg.tag_id, SPORT_GROUP_TAG[code][0]):
                continue
            if series is not None and series != lg.series_id:
                continue
            out.append(code)
        return out

    def _window(self, q: dict[str, list[str]], now: datetime, closed: bool) -> tuple[datetime, datetime]:
        if not closed:
            return now, now
        lo = now - timedelta(days=30)
        for key in ("start_date_min", "end_date_min"):
            v = last_param(q, key)
            if v is not None:
                lo = max(_parse_dt(v) - timedelta(days=8), now - timedelta(days=120))
        return lo, now

    def list_markets(self, q: dict[str, list[str]], now: datetime) -> list[dict[str, Any]]:
        limit, offset = _page(q)
        closed = _bool(q, "closed", False)
        found: list[tuple[GameDetail | None, PMMarket]] = []
        direct = False
        for mid in q.get("id", []):
            direct = True
            r = self.w.lookup_market(mid)
            if r:
                found.append(r)
        for tok in q.get("clob_token_ids", []):
            direct = True
            r2 = self.w.lookup_token(tok)
            if r2:
                found.append((r2[0], r2[1]))
        for cid in q.get("condition_ids", []):
            direct = True
            r = self.w.lookup_condition(cid)
            if r:
                found.append(r)
        for slug in q.get("slug", []):
            direct = True
            found.extend(self._markets_by_slug(slug))
        if not direct:
            lo, hi = self._window(q, now, closed)
            for listed in self._details_in(self._leagues_for(q), lo, hi):
                found.extend((listed, mk) for mk in listed.markets)
            if not closed:
                for lg in self._leagues_for(q):
                    found.extend((None, mk) for mk in self.w.futures(lg))
        seen: set[str] = set()
        rows: list[tuple[GameDetail | None, PMMarket]] = []
        smt = set(q.get("sports_market_types", []))
        tag = last_param(q, "tag_id")
        for det, mk in found:
            if mk.market_id in seen or now < mk.created_at:
                continue
            seen.add(mk.market_id)
            is_closed = det is not None and now >= det.game.closed_at
            if is_closed != closed:
                continue
            if smt and mk.sports_market_type not in smt:
                continue
            if (
                tag is not None
                and det is not None
                and det.game.league not in self._leagues_for({"tag_id": [tag]})
            ):
                continue
            if not self._date_ok(
                q, mk.created_at, self._end_date(det) if det else datetime(2026, 12, 31, 12, tzinfo=UTC)
            ):
                continue
            rows.append((det, mk))
        rows = _order(rows, q, key=lambda r: int(r[1].market_id))
        return [self.market_json(det, mk, now, with_events=True) for det, mk in rows[offset : offset + limit]]

    def _date_ok(self, q: dict[str, list[str]], start: datetime, end: datetime) -> bool:
        for key, val, ge in (
            ("start_date_min", start, True),
            ("start_date_max", start, False),
            ("end_date_min", end, True),
            ("end_date_max", end, False),
        ):
            v = last_param(q, key)
            if v is None:
                continue
            lim = _parse_dt(v)
            if (ge and val < lim) or (not ge and val > lim):
                return False
        return True

    def _markets_by_slug(self, slug: str) -> list[tuple[GameDetail | None, PMMarket]]:
        out: list[tuple[GameDetail | None, PMMarket]] = []
        for det in self._details_for_slug(slug):
            out.extend((det, mk) for mk in det.markets if mk.slug == slug)
        return out

    def _details_for_slug(self, slug: str) -> list[GameDetail]:
        parts = slug.split("-")
        if len(parts) < 6 or parts[0] not in LEAGUES:
            return []
        try:
            d = datetime(int(parts[3]), int(parts[4]), int(parts[5][:2])).date()
        except ValueError:
            return []
        return [self.w.detail(g) for g in self.w.games_on(parts[0], d)]

    def list_events(self, q: dict[str, list[str]], now: datetime) -> list[dict[str, Any]]:
        limit, offset = _page(q)
        closed = _bool(q, "closed", False)
        dets: list[GameDetail] = []
        futures: list[str] = []
        direct = False
        for qid in q.get("id", []):
            direct = True
            det = self.w.lookup_event(qid)
            if det is not None:
                dets.append(det)
            elif qid.isdigit() and 900_000 <= int(qid) < 900_008:
                futures.extend(c for c, lg in LEAGUES.items() if lg.index == int(qid) - 900_000)
        for slug in q.get("slug", []):
            direct = True
            if slug.endswith("-champion") and slug.split("-")[0] in LEAGUES:
                futures.append(slug.split("-")[0])
            dets.extend(x for x in self._details_for_slug(slug) if self._event_slug(x) == slug)
        if not direct:
            lo, hi = self._window(q, now, closed)
            leagues = self._leagues_for(q)
            dets = list(self._details_in(leagues, lo, hi))
            if not closed:
                futures = leagues
        rows: list[tuple[int, GameDetail | None, str]] = []
        seen: set[str] = set()
        allowed = self._leagues_for(q)
        for det in dets:
            g = det.game
            if g.pm_event_id in seen or now < det.markets[0].created_at or (now >= g.closed_at) != closed:
                continue
            if g.league not in allowed:
                continue
            if not self._date_ok(q, det.markets[0].created_at, self._end_date(det)):
                continue
            seen.add(g.pm_event_id)
            rows.append((int(g.pm_event_id), det, g.league))
        if not closed:
            fut_start, fut_end = (
                datetime(2025, 8, 1, 16, 5, tzinfo=UTC),
                datetime(2026, 12, 31, 12, tzinfo=UTC),
            )
            for lg_code in dict.fromkeys(futures):
                if lg_code in allowed and self._date_ok(q, fut_start, fut_end):
                    rows.append((900_000 + LEAGUES[lg_code].index, None, lg_code))
        decoys = {} if direct else {int(dc.event_id): dc for dc in self._decoys_listed(q, now)}
        rows.extend((eid, None, "decoy") for eid in decoys)
        rows = _order(rows, q, key=lambda r: r[0])
        page = rows[offset : offset + limit]
        # every open market on the page renders its book: seed their generators in one pass
        self.w.prime_books(
            (
                mk
                for _, det, _ in page
                if det is not None and now < det.game.closed_at
                for mk in det.markets
                if now >= mk.created_at
            ),
            now,
        )
        out = []
        for eid, det, lg_code in page:
            if det is not None:
                out.append(self.event_json(det, now))
            elif lg_code == "decoy":
                out.append(self.decoy_event(decoys[eid], now))
            else:
                out.append(self.futures_event(lg_code, now))
        return out

    @staticmethod
    def _event_slug(det: GameDetail) -> str:
        ml = det.markets[0]
        return ml.slug.rsplit("-", 1)[0] if LEAGUES[det.game.league].has_draw else ml.slug

    def sports(self) -> list[dict[str, Any]]:
        out = []
        for lg in LEAGUES.values():
            s = sport_object(lg)
            out.append(
                {
                    k: s[k]
                    for k in ("id", "sport", "image", "resolution", "ordering", "tags", "series", "createdAt")
                }
            )
        return out

    def teams(self, q: dict[str, list[str]]) -> list[dict[str, Any]]:
        limit, offset = _page(q)
        leagues = q.get("league", []) or list(LEAGUES)
        out = []
        for code in leagues:
            for team in TEAMS.get(code, []):
                th = h64("team", code, team.abbr)
                out.append(
                    {
                        "id": 3_000_000 + th % 900_000,
                        "name": team.pm_full,
                        "league": code,
                        "record": "0-0",
                        "logo": f"{IMG}/{team.pm_full}.png",
                        "abbreviation": team.abbr,
                        "alias": team.pm_name,
                        "createdAt": "2025-06-03T03:34:57.26259Z",
                        "updatedAt": "2026-06-03T14:03:48.46343Z",
                        "providerId": int(th % 2_000_000_000),
                        "color": f"#{th % 0xFFFFFF:06x}",
                    }
                )
        return out[offset : offset + limit]

    def market_by_id(self, mid: str, now: datetime) -> dict[str, Any]:
        r = self.w.lookup_market(mid)
        if r is None or now < r[1].created_at:
            raise GammaError(404, {"type": "not found error", "error": "id not found"})
        return self.market_json(r[0], r[1], now, with_events=True)

    def market_by_slug(self, slug: str, now: datetime) -> dict[str, Any]:
        for det, mk in self._markets_by_slug(slug):
            if now >= mk.created_at:
                return self.market_json(det, mk, now, with_events=True)
        raise GammaError(404, {"type": "not found error", "error": "slug not found"})

    def event_by_id(self, eid: str, now: datetime) -> dict[str, Any]:
        det = self.w.lookup_event(eid)
        if det is None or now < det.markets[0].created_at:
            raise GammaError(404, {"type": "not found error", "error": "id not found"})
        return self.event_json(det, now)

    def event_by_slug(self, slug: str, now: datetime) -> dict[str, Any]:
        for det in self._details_for_slug(slug):
            if self._event_slug(det) == slug and now >= det.markets[0].created_at:
                return self.event_json(det, now)
        raise GammaError(404, {"type": "not found error", "error": "slug not found"})


def _partial(det: GameDetail, frac: float) -> tuple[int, int]:
    return int(det.home_score * frac), int(det.away_score * frac)


def _record(th: int, now: datetime) -> str:
    played = (now.timetuple().tm_yday + th % 7) % 60
    wins = int(played * ((th >> 8) % 100) / 100)
    return f"{wins}-{played - wins}"


def _bool(q: dict[str, list[str]], key: str, default: bool) -> bool:
    v = last_param(q, key)
    if v is None:
        return default
    return v.lower() in ("true", "1")


def _page(q: dict[str, list[str]]) -> tuple[int, int]:
    try:
        limit = int(last_param(q, "limit") or DEFAULT_LIMIT)
        offset = int(last_param(q, "offset") or 0)
    except ValueError as exc:
        raise GammaError(422, {"type": "validation error", "error": "limit/offset must be integers"}) from exc
    if offset > MAX_OFFSET:
        raise GammaError(422, {"type": "validation error", "error": f"offset must be <= {MAX_OFFSET}"})
    if limit < 0 or offset < 0:
        raise GammaError(422, {"type": "validation error", "error": "limit/offset must be >= 0"})
    return min(limit, MAX_LIMIT), offset


def _order(rows: list[Any], q: dict[str, list[str]], key: Any) -> list[Any]:
    asc = _bool(q, "ascending", True)
    return sorted(rows, key=key, reverse=not asc)

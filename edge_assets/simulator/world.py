"""Deterministic sports world: schedules, true probabilities, book quotes, Polymarket books.

Why: every test and benchmark needs the same reproducible market history without network.
The world is a pure function of (seed, time): a day's schedule is a function of (seed,
league, date), a game's latent path a function of (seed, game key), and every quote or book a
function of the path and the 5-minute grid index, so any process can answer any timestamp.

Latent model per game (5-minute grid from listing to final whistle): the expected home margin
`m` and expected total `T` follow seeded random walks (plus injected news jumps). Moneyline,
spreads and totals probabilities come from a normal margin/total model (Poisson goals for
soccer); final scores are drawn from the same model at the start, so prices are calibrated.
During the game each market's probability follows a Brownian bridge to its resolved 0/1.
"""

import hashlib
import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from scipy.special import ndtr

from edge_assets.simulator.teams import BOOK_INDEX, BOOKS, LEAGUES, SPORT_KEY_TO_LEAGUE, TEAMS, League, Team

if TYPE_CHECKING:
    from polars._typing import SchemaDict  # polars' alias for a schema of dtype classes and instances

GRID_S = 300  # 5-minute grid
ET = ZoneInfo("America/New_York")
EPOCH_DATE = date(2000, 1, 1)
FUTURES_GAME_NO = 63
EVENT_ID_BASE = 300_000_000  # Polymarket event ids: base + (day * 8 + league) * 64 + game
_MASK64 = (1 << 64) - 1


# --------------------------------------------------------------------------------------------------
# deterministic hashing helpers (never Python's randomized hash())
# --------------------------------------------------------------------------------------------------
def h64(*parts: object) -> int:
    """Stable 64-bit hash of a tuple of simple values."""
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little")


def rng_for(*parts: object) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(h64(*parts)))  # what default_rng(int) builds


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = (x + np.uint64(0x9E3779B97F4A7C15)) & np.uint64(_MASK64)
    x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & np.uint64(_MASK64)
    x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & np.uint64(_MASK64)
    return x ^ (x >> np.uint64(31))


def hunif(salt: int, idx: np.ndarray | int) -> np.ndarray:
    """Uniform(0,1) noise, a pure function of (salt, idx); vectorized over idx."""
    a = np.asarray(idx, dtype=np.int64).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = _splitmix(a ^ np.uint64(salt & _MASK64))
    return (x >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53)) + 0.5 / (1 << 53)


def hnorm(salt: int, idx: np.ndarray | int) -> np.ndarray:
    """Standard normal noise, a pure function of (salt, idx) (Box-Muller)."""
    u1 = hunif(salt, idx)
    u2 = hunif(salt ^ 0x5851F42D4C957F2D, idx)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


_GOLDEN = 0x9E3779B97F4A7C15
_BOX_SALT = 0x5851F42D4C957F2D
_U53 = 1.0 / (1 << 53)
_HALF_U53 = 0.5 / (1 << 53)
_TWO_PI = 2.0 * np.pi
_np_log = np.log
_np_cos = np.cos


def hunif1(salt: int, idx: int) -> float:
    """Scalar `hunif` on Python ints: bit-identical to `hunif(salt, [idx])[0]`, ~20x cheaper."""
    x = (((idx & _MASK64) ^ (salt & _MASK64)) + _GOLDEN) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    x ^= x >> 31
    return float(x >> 11) * _U53 + _HALF_U53


def hnorm1(salt: int, idx: int) -> float:
    """Scalar `hnorm`, bit-identical to `hnorm(salt, [idx])[0]` (numpy log/cos on scalars, which
    run the same loops as on arrays; math.log differs from numpy's SIMD log in the last bit)."""
    u1 = hunif1(salt, idx)
    u2 = hunif1(salt ^ _BOX_SALT, idx)
    return float(math.sqrt(-2.0 * _np_log(u1)) * _np_cos(_TWO_PI * u2))


@lru_cache(maxsize=1 << 12, typed=True)
def h64c(*parts: object) -> int:
    """`h64` memoized: for keys that do not change with time (per game, book, market)."""
    return h64(*parts)


def to_ts(dt: datetime) -> int:
    return int(dt.timestamp())


def from_ts(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def last_param(q: dict[str, list[str]], key: str) -> str | None:
    """A query parameter's last value (the three APIs take the last of repeated keys)."""
    v = q.get(key)
    return v[-1] if v else None


def grid_index(ts: float) -> int:
    return int(ts // GRID_S)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


_LOGFACT = {n: np.array([math.lgamma(x + 1) for x in range(n)]) for n in (11, 16)}
_ARANGE = {n: np.arange(n, dtype=np.float64) for n in (11, 16)}
_HOME_WINS = np.tril(np.ones((11, 11)), -1)  # joint[i, j]: home scores i > j away


def _poisson_pmf(lam: np.ndarray, n: int = 11) -> np.ndarray:
    """P(X=j) for j < n, shape lam.shape + (n,)."""
    lam = np.asarray(lam, dtype=np.float64)[..., None]
    j = _ARANGE.get(n)
    if j is None:
        j = np.arange(n, dtype=np.float64)
    logfact = _LOGFACT.get(n)
    if logfact is None:
        logfact = np.array([math.lgamma(x + 1) for x in range(n)])
    return np.exp(j * np.log(lam) - lam - logfact)


def soccer_1x2(m: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Home/draw/away probabilities from supremacy m and expected total t (independent Poisson)."""
    lh = np.maximum((t + m) / 2, 0.15)
    la = np.maximum((t - m) / 2, 0.15)
    ph, pa = _poisson_pmf(lh), _poisson_pmf(la)
    joint = ph[..., :, None] * pa[..., None, :]
    n = joint.shape[-1]
    home = _HOME_WINS if n == 11 else np.tril(np.ones((n, n)), -1)
    p_home = (joint * home).sum(axis=(-1, -2))
    p_draw = np.trace(joint, axis1=-2, axis2=-1)
    p_away = (joint * home.T).sum(axis=(-1, -2))
    tot = p_home + p_draw + p_away
    return p_home / tot, p_draw / tot, p_away / tot


def soccer_over(t: np.ndarray, line: float) -> np.ndarray:
    pmf = _poisson_pmf(np.maximum(t, 0.2), 16)
    return pmf[..., math.floor(line) + 1 :].sum(axis=-1) / pmf.sum(axis=-1)


# --------------------------------------------------------------------------------------------------
# static objects
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Game:
    league: str
    et_date: date
    game_no: int
    home: Team
    away: Team
    scheduled: datetime  # Polymarket gameStartTime (never moves)
    commence_latest: datetime  # Odds API commence_time once a delay is announced
    shift_announce: datetime | None
    actual_start: datetime  # with seconds (Odds API shows it once live)
    end: datetime
    listed_at: datetime
    closed_at: datetime  # Polymarket markets close (resolved)
    doubleheader: int  # 0 none, 1/2 game number
    odds_event_id: str
    pm_event_id: str

    @cached_property
    def key(self) -> tuple[str, str, int]:
        return (self.league, self.et_date.isoformat(), self.game_no)


@dataclass(frozen=True)
class PMMarket:
    idx: int
    kind: str  # ml | spread | total | soccer_home | soccer_draw | soccer_away | team_total | half_total | ...
    question: str
    slug: str
    outcomes: tuple[str, str]
    sports_market_type: str | None
    line: float | None
    group_item_title: str
    market_id: str
    condition_id: str
    question_id: str
    token_ids: tuple[str, str]
    in_scope: bool
    mapping: tuple[tuple[str | None, str | None, float | None], ...]  # per outcome: (name, key, point)
    params: tuple[float, ...]  # kind-specific (line, side sign, const)
    created_at: datetime
    fee_rate: float
    fee_rebate: float
    fee_type: str | None
    tick: float


@dataclass(frozen=True)
class Episode:
    kind: str  # true_mispricing | stale_book | thin_book | soft_outlier | near_start
    market_idx: int
    outcome: int  # index of the outcome/token that looks cheap on Polymarket
    start: datetime
    end: datetime
    delta: float  # how far below the truth the PM ask sits (PM kinds); jump / shift size otherwise
    size: float
    book: str | None = None


@dataclass
class GameDetail:
    game: Game
    k0: int
    ks: int
    ke: int
    m: np.ndarray
    t: np.ndarray
    bridge: np.ndarray
    home_score: int
    away_score: int
    markets: list[PMMarket]
    episodes: list[Episode]
    no_spreads: bool
    salt: int
    sigma_m: float
    sigma_t: float
    extra: dict[str, float] = field(default_factory=dict)
    # memo of time-independent derived values (per-market live-bridge start and outcome, per-book
    # refresh phase, episode windows as timestamps): a cache, not part of the model
    memo: dict[object, object] = field(default_factory=dict, repr=False, compare=False)


@dataclass
class PMBook:
    token_id: str
    condition_id: str
    bids: list[tuple[float, float]]  # ascending by price (best last), as the CLOB sends them
    asks: list[tuple[float, float]]  # descending by price (best last)
    tick: float
    timestamp_ms: int
    last_trade: float
    neg_risk: bool


# a market's first-token book as memoized: (bids ascending, asks descending, tick, last trade,
# last-change timestamp_ms)
BookBase = tuple[list[tuple[float, float]], list[tuple[float, float]], float, float, int]


def _fee_for(created: datetime) -> tuple[float, float, str | None]:
    """Polymarket sports fee schedule by market creation date (apis.md §2.6)."""
    if created < datetime(2026, 3, 30, tzinfo=UTC):
        return 0.0, 0.0, None
    if created < datetime(2026, 7, 10, tzinfo=UTC):
        return 0.03, 0.25, "sports_fees_v2"
    return 0.05, 0.15, "sports_fees_v3"


def _pt(x: float) -> str:
    """Slug form of a line: 9.5 -> 9pt5."""
    s = f"{abs(x):g}"
    return s.replace(".", "pt")


def _fmt_line(x: float) -> str:
    return f"{x:g}"


_FIRST = [
    "Marcus",
    "Jalen",
    "Tyler",
    "Devin",
    "Andre",
    "Luka",
    "Caleb",
    "Mason",
    "Isaiah",
    "Trey",
    "Owen",
    "Dylan",
    "Jordan",
    "Cole",
    "Bryce",
    "Evan",
    "Nolan",
    "Reid",
    "Miles",
    "Grant",
]
_LAST = [
    "Holloway",
    "Brennan",
    "Castillo",
    "Whitaker",
    "Okafor",
    "Lindqvist",
    "Navarro",
    "Pruitt",
    "Delaney",
    "Kowalski",
    "Ashford",
    "Bautista",
    "Garrity",
    "Thornton",
    "Vasquez",
    "McAllister",
]


class Memo(dict):
    """A dict that empties itself when full: bounded memory, no LRU bookkeeping on hits.

    Values must be pure functions of their keys, so forgetting them only costs a recompute."""

    def __init__(self, max_items: int) -> None:
        super().__init__()
        self.max_items = max_items

    def put(self, key: object, value: object) -> None:
        if len(self) >= self.max_items:
            self.clear()
        self[key] = value


class World:
    """Seeded world. Everything observable is a pure function of (seed, time)."""

    SPORT_KEYS: tuple[str, ...] = tuple(lg.sport_key for lg in LEAGUES.values())
    GRID_S = GRID_S
    # Grid indices kept by the per-instant memos (oldest first out). A backfill run materializes
    # each asset over a 48-hour chunk before the next (Gamma /events for every hour, then CLOB
    # /books at the same instants), so the books of all 48 polled instants must survive the
    # Gamma pass for the CLOB pass to hit them: ~0.6 MB per instant (~480 books), ~38 MB full.
    # Mids are also read one hour and one day back, clamped to each game's listing instant
    # (one more key per young game): ~60 KB per dense instant, ~2 MB full.
    BOOK_MEMO_INSTANTS = 64
    MID_MEMO_INSTANTS = 128

    def __init__(self, seed: int = 7) -> None:
        self.seed = int(seed)
        self._games_on = lru_cache(maxsize=8192)(self._games_on_impl)
        self._detail = lru_cache(maxsize=2048)(self._detail_impl)
        self._futures = lru_cache(maxsize=16)(self._futures_impl)
        self._book_memo: dict[int, dict[str, tuple]] = {}
        self._primed: dict[int, dict[str, tuple[int, int]]] = {}  # `prime_books`: seeded ahead, per instant
        self._mid_memo: dict[int, dict[str, float]] = {}
        self._memos: dict[str, Memo] = {}
        self._memo_lock = threading.Lock()

    def memo(self, name: str, max_items: int = 4096) -> Memo:
        """A named, bounded memo living as long as the world (renderers are rebuilt per request
        batch; the world is shared), for values that are pure functions of their key."""
        m = self._memos.get(name)
        if m is None:
            m = self._memos.setdefault(name, Memo(max_items))
        return m

    # ------------------------------------------------------------------ schedule
    def games_on(self, league: str, d: date) -> tuple[Game, ...]:
        """All games of a league whose US Eastern date is d."""
        return self._games_on(league, d)

    def _pairs(self, league: str, block: int, n_pairs: int) -> list[tuple[int, int]]:
        teams = TEAMS[league]
        perm = rng_for(self.seed, "pairs", league, block).permutation(len(teams))
        return [(int(perm[2 * i]), int(perm[2 * i + 1])) for i in range(min(n_pairs, len(teams) // 2))]

    def _games_on_impl(self, league: str, d: date) -> tuple[Game, ...]:
        lg = LEAGUES[league]
        rng = rng_for(self.seed, "day", league, d.isoformat())
        dnum = (d - EPOCH_DATE).days
        wd = d.weekday()  # Mon=0
        slots: list[tuple[int, int, int]]  # (home idx, away idx, local minutes)
        if league == "nba":
            n = int(rng.integers(4, 13))
            pairs = self._pairs(league, dnum, n)
            times = rng.choice([19 * 60, 19 * 60 + 30, 20 * 60, 21 * 60, 22 * 60, 22 * 60 + 30], size=n)
            slots = [(a, b, int(t)) for (a, b), t in zip(pairs, times, strict=True)]
        elif league == "nhl":
            n = int(rng.integers(3, 14))
            pairs = self._pairs(league, dnum, n)
            times = rng.choice([19 * 60, 19 * 60 + 30, 20 * 60, 21 * 60, 22 * 60], size=n)
            slots = [(a, b, int(t)) for (a, b), t in zip(pairs, times, strict=True)]
        elif league == "mlb":
            block = dnum // 3  # three-game series: same pairs on consecutive days
            pairs = self._pairs(league, block, 15)
            n = int(rng.integers(10, 16))
            chosen = sorted(rng.choice(15, size=n, replace=False).tolist())
            times = rng.choice(
                [
                    13 * 60 + 5,
                    16 * 60 + 10,
                    18 * 60 + 40,
                    19 * 60 + 5,
                    19 * 60 + 10,
                    20 * 60 + 10,
                    21 * 60 + 40,
                    22 * 60 + 10,
                ],
                size=n,
            )
            slots = [(pairs[c][0], pairs[c][1], int(t)) for c, t in zip(chosen, times, strict=True)]
        elif league == "nfl":
            week_pairs = self._pairs(league, dnum // 7, 16)
            if wd == 3:
                slots = [(*week_pairs[0], 20 * 60 + 15)]
            elif wd == 6:
                kickoffs = [13 * 60] * 8 + [16 * 60 + 5] * 2 + [16 * 60 + 25] * 2 + [20 * 60 + 20]
                slots = [(*week_pairs[1 + i], kickoffs[i]) for i in range(13)]
            elif wd == 0:
                slots = [(*week_pairs[14], 20 * 60 + 15)]
            else:
                slots = []
        else:  # epl, London local times
            week_pairs = self._pairs(league, dnum // 7, 10)
            if wd == 5:
                kickoffs = [12 * 60 + 30, 15 * 60, 15 * 60, 15 * 60, 15 * 60, 17 * 60 + 30]
                slots = [(*week_pairs[i], kickoffs[i]) for i in range(6)]
            elif wd == 6:
                slots = [(*week_pairs[6 + i], t) for i, t in enumerate([14 * 60, 14 * 60, 16 * 60 + 30])]
            elif wd == 0:
                slots = [(*week_pairs[9], 20 * 60)]
            elif wd in (1, 2) and rng.random() < 0.25:
                mid_pairs = self._pairs(league, dnum, 5)
                slots = [(*p, 19 * 60 + 30 if i % 2 else 20 * 60) for i, p in enumerate(mid_pairs)]
            else:
                slots = []
        # doubleheaders: MLB only, sometimes one series game is played twice
        dh_slot = -1
        if league == "mlb" and slots and rng.random() < 0.2:
            dh_slot = int(rng.integers(0, len(slots)))
            a, b, _ = slots[dh_slot]
            slots[dh_slot] = (a, b, 13 * 60 + 5)
            slots.append((a, b, 18 * 60 + 40))
        teams = TEAMS[league]
        tz = ZoneInfo(lg.tz)
        games: list[Game] = []
        for no, (hi, ai, minutes) in enumerate(slots):
            g_rng = rng_for(self.seed, "game", league, d.isoformat(), no)
            local = datetime(d.year, d.month, d.day, minutes // 60, minutes % 60, tzinfo=tz)
            scheduled = local.astimezone(UTC)
            if league == "epl" and scheduled.astimezone(ET).date() != d:
                continue
            shift_p = 0.06 if league == "mlb" else 0.02
            commence_latest = scheduled
            announce = None
            if g_rng.random() < shift_p:
                delay = (
                    int(g_rng.integers(1, 13)) * 15 * 60
                    if league == "mlb"
                    else int(g_rng.integers(1, 5)) * 15 * 60
                )
                commence_latest = scheduled + timedelta(seconds=delay)
                announce = scheduled - timedelta(minutes=int(g_rng.integers(30, 240)))
            actual = commence_latest + timedelta(seconds=int(g_rng.integers(20, 12 * 60)))
            end = actual + timedelta(minutes=lg.duration_min + int(g_rng.integers(-15, 40)))
            lead = int(g_rng.integers(lg.lead_days[0], lg.lead_days[1] + 1))
            listed_day = scheduled - timedelta(days=lead)
            listed_at = listed_day.replace(
                hour=int(g_rng.integers(9, 17)),
                minute=int(g_rng.integers(0, 60)),
                second=int(g_rng.integers(0, 60)),
                microsecond=0,
            )
            if listed_at > scheduled - timedelta(hours=6):
                listed_at = scheduled - timedelta(hours=20)
            closed_at = end + timedelta(
                minutes=int(g_rng.integers(40, 150)), seconds=int(g_rng.integers(0, 60))
            )
            dh = 0
            if dh_slot >= 0 and (no == dh_slot or no == len(slots) - 1):
                dh = 1 if no == dh_slot else 2
            key_hash = hashlib.md5(f"{self.seed}|{league}|{d.isoformat()}|{no}".encode()).hexdigest()
            ev_num = EVENT_ID_BASE + (dnum * 8 + lg.index) * 64 + no
            games.append(
                Game(
                    league,
                    d,
                    no,
                    teams[hi],
                    teams[ai],
                    scheduled,
                    commence_latest,
                    announce,
                    actual,
                    end,
                    listed_at,
                    closed_at,
                    dh,
                    key_hash,
                    str(ev_num),
                )
            )
        return tuple(games)

    def game_by_key(self, league: str, d: date, no: int) -> Game | None:
        for g in self.games_on(league, d):
            if g.game_no == no:
                return g
        return None

    def games_overlapping(self, league: str, start: datetime, end: datetime) -> list[Game]:
        """Games whose life [listed_at, closed_at] overlaps [start, end]."""
        lg = LEAGUES[league]
        d0 = (start.astimezone(ET) - timedelta(days=2)).date()
        d1 = (end.astimezone(ET) + timedelta(days=lg.lead_days[1] + 2)).date()
        out: list[Game] = []
        d = d0
        while d <= d1:
            for g in self.games_on(league, d):
                if g.listed_at <= end and g.closed_at >= start:
                    out.append(g)
            d += timedelta(days=1)
        return out

    def odds_games(self, league: str, t: datetime) -> list[Game]:
        """Games the Odds API lists at t (upcoming and live), sorted by commence time."""
        gs = [g for g in self.games_overlapping(league, t, t) if g.listed_at <= t < g.end]
        gs.sort(key=lambda g: (self.commence_time(g, t), g.odds_event_id))
        return gs

    def commence_time(self, g: Game, t: datetime) -> datetime:
        if t >= g.actual_start:
            return g.actual_start
        if g.shift_announce is not None and t >= g.shift_announce:
            return g.commence_latest
        return g.scheduled

    # ------------------------------------------------------------------ game detail
    def detail(self, g: Game) -> GameDetail:
        return self._detail(g.league, g.et_date, g.game_no)

    def _detail_impl(self, league: str, d: date, no: int) -> GameDetail:
        g = self.game_by_key(league, d, no)
        assert g is not None
        lg = LEAGUES[league]
        rng = rng_for(self.seed, "detail", league, d.isoformat(), no)
        soccer = lg.has_draw
        sm = 1.0 if soccer else lg.margin_sd
        st = 1.0 if soccer else lg.total_sd
        home_adv = {"nba": 2.5, "nfl": 1.5, "nhl": 0.25, "mlb": 0.2, "epl": 0.3}[league]
        spread_sd = {"nba": 6.0, "nfl": 6.0, "nhl": 0.7, "mlb": 0.8, "epl": 0.6}[league]
        m0 = home_adv + spread_sd * rng.standard_normal()
        t0 = lg.total_mean * (1 + 0.05 * rng.standard_normal())
        k0 = grid_index(to_ts(g.listed_at))
        ks = grid_index(to_ts(g.actual_start))
        ke = grid_index(to_ts(g.end)) + 1
        n = ks - k0 + 1
        # drift over a 3-day listing: ~0.25 sd of the opening spread, ~2 % of the total
        dm = rng.standard_normal(n) * (0.25 * spread_sd / math.sqrt(864))
        dt = rng.standard_normal(n) * (0.02 * lg.total_mean / math.sqrt(864))
        dm[0] = 0.0
        dt[0] = 0.0
        m = m0 + np.cumsum(dm)
        t = np.maximum(t0 + np.cumsum(dt), lg.total_mean * 0.5)
        nb = ke - ks + 1
        steps = rng.standard_normal(nb)
        steps[0] = 0.0
        w = np.cumsum(steps) / math.sqrt(max(nb - 1, 1))
        frac = np.linspace(0.0, 1.0, nb)
        bridge = w - frac * w[-1]
        markets = self._build_markets(g, lg, float(m0), float(t0))
        episodes, jumps = self._build_episodes(g, markets, rng)
        for k_jump, size in jumps:
            i = k_jump - k0
            if 0 < i < n:
                m[i:] += size * spread_sd
        # final score from the state at the start
        m_s, t_s = float(m[-1]), float(t[-1])
        if soccer:
            hs = int(rng.poisson(max((t_s + m_s) / 2, 0.15)))
            as_ = int(rng.poisson(max((t_s - m_s) / 2, 0.15)))
        else:
            margin = m_s + lg.margin_sd * rng.standard_normal()
            total = t_s + lg.total_sd * rng.standard_normal()
            hs = max(round((total + margin) / 2), 0)
            as_ = max(round((total - margin) / 2), 0)
            if hs == as_:
                if margin >= 0:
                    hs += 1
                else:
                    as_ += 1
        extra = {
            "half_total": float(rng.binomial(hs + as_, 0.5)),
            "f5_total": float(rng.binomial(hs + as_, 0.55)),
            "prop_u": float(rng.random()),
            "nrfi_u": float(rng.random()),
        }
        detail = GameDetail(
            g,
            k0,
            ks,
            ke,
            m,
            t,
            bridge,
            hs,
            as_,
            markets,
            episodes,
            bool(rng.random() < 0.08),
            h64(self.seed, "salt", g.key),
            sm,
            st,
            extra,
        )
        return detail

    # ------------------------------------------------------------------ Polymarket catalogue
    def _ids(self, g: Game, idx: int) -> tuple[str, str, str, tuple[str, str]]:
        lg = LEAGUES[g.league]
        dnum = (g.et_date - EPOCH_DATE).days
        return self._ids_raw(dnum, lg.index, g.game_no, idx)

    def _ids_raw(self, dnum: int, lidx: int, no: int, idx: int) -> tuple[str, str, str, tuple[str, str]]:
        code = ((dnum * 8 + lidx) * 64 + no) * 64 + idx
        market_id = str(1_000_000_000 + code)
        # the last 12 hex digits of the condition id carry the code so it can be looked up statelessly
        cond = hashlib.sha256(f"{self.seed}|cond|{code}".encode()).hexdigest()[:52] + f"{code:012x}"
        qid = hashlib.sha256(f"{self.seed}|qid|{code}".encode()).hexdigest()
        toks = []
        for o in range(2):
            hi = int(hashlib.sha256(f"{self.seed}|tok|{code}|{o}".encode()).hexdigest(), 16) % 10**64
            hi = max(hi, 10**62)
            toks.append(str(hi * 10**12 + code * 2 + o))
        return market_id, "0x" + cond, "0x" + qid, (toks[0], toks[1])

    @staticmethod
    def decode_token(token_id: str) -> tuple[int, int, int, int, int] | None:
        """Inverse of the token id layout: (date_num, league_idx, game_no, market_idx, outcome)."""
        if not token_id.isdigit() or len(token_id) < 60:
            return None
        code2 = int(token_id[-12:])
        o = code2 % 2
        code = code2 // 2
        idx = code % 64
        code //= 64
        no = code % 64
        code //= 64
        lidx = code % 8
        dnum = code // 8
        return dnum, lidx, no, idx, o

    def lookup_condition(self, condition_id: str) -> tuple[GameDetail | None, PMMarket] | None:
        c = condition_id.lower()
        if not (c.startswith("0x") and len(c) == 66):
            return None
        try:
            code = int(c[-12:], 16)
        except ValueError:
            return None
        found = self.lookup_market(str(1_000_000_000 + code))
        if found is None or found[1].condition_id != c:
            return None
        return found

    @staticmethod
    def decode_market_id(market_id: str) -> tuple[int, int, int, int] | None:
        if not market_id.isdigit():
            return None
        code = int(market_id) - 1_000_000_000
        if code < 0:
            return None
        idx = code % 64
        code //= 64
        no = code % 64
        code //= 64
        return code // 8, code % 8, no, idx

    def _name(self, g: Game, team: Team) -> str:
        lg = LEAGUES[g.league]
        if lg.pm_style == "full":
            return team.pm_full
        return team.pm_name

    def _build_markets(self, g: Game, lg: League, m0: float, t0: float) -> list[PMMarket]:
        rng = rng_for(self.seed, "markets", g.key)
        created = g.listed_at + timedelta(minutes=int(rng.integers(1, 90)))
        fee_rate, rebate, fee_type = _fee_for(created)
        home, away = g.home, g.away
        hn, an = self._name(g, home), self._name(g, away)
        if lg.pm_style == "full" and rng.random() < 0.15:  # MLB sometimes uses nicknames
            hn, an = home.pm_name, away.pm_name
        slug_date = g.scheduled.astimezone(ET).date().isoformat()
        if lg.ordering == "away":
            first, second, fa, sa = an, hn, away.abbr, home.abbr
        else:
            first, second, fa, sa = hn, an, home.abbr, away.abbr
        base_slug = f"{lg.code}-{fa}-{sa}-{slug_date}" + ("-2" if g.doubleheader == 2 else "")
        title = f"{first} vs. {second}"
        if g.doubleheader:
            title += f" (Game {g.doubleheader})"
        trail = " " if rng.random() < 0.08 else ""
        out: list[PMMarket] = []

        def add(
            kind: str,
            question: str,
            slug: str,
            outcomes: tuple[str, str],
            smt: str | None,
            line: float | None,
            git: str,
            in_scope: bool,
            mapping: tuple[tuple[str | None, str | None, float | None], ...],
            params: tuple[float, ...],
        ) -> None:
            idx = len(out)
            mid, cond, qid, toks = self._ids(g, idx)
            out.append(
                PMMarket(
                    idx,
                    kind,
                    question,
                    slug,
                    outcomes,
                    smt,
                    line,
                    git,
                    mid,
                    cond,
                    qid,
                    toks,
                    in_scope,
                    mapping,
                    params,
                    created,
                    fee_rate,
                    rebate,
                    fee_type,
                    0.01,
                )
            )

        if lg.has_draw:
            d_str = slug_date
            add(
                "soccer_home",
                f"Will {home.pm_full} win on {d_str}?",
                f"{base_slug}-{home.abbr}",
                ("Yes", "No"),
                "moneyline",
                None,
                home.pm_full,
                True,
                ((home.odds_name, "h2h", None), (None, None, None)),
                (),
            )
            add(
                "soccer_draw",
                f"Will {home.pm_full} vs. {away.pm_full} end in a draw?",
                f"{base_slug}-draw",
                ("Yes", "No"),
                "moneyline",
                None,
                f"Draw ({home.pm_full} vs. {away.pm_full})",
                True,
                (("Draw", "h2h", None), (None, None, None)),
                (),
            )
            add(
                "soccer_away",
                f"Will {away.pm_full} win on {d_str}?",
                f"{base_slug}-{away.abbr}",
                ("Yes", "No"),
                "moneyline",
                None,
                away.pm_full,
                True,
                ((away.odds_name, "h2h", None), (None, None, None)),
                (),
            )
            for ln in (1.5, 2.5, 3.5):
                add(
                    "total",
                    f"{home.pm_full} vs. {away.pm_full}: O/U {_fmt_line(ln)}",
                    f"{base_slug}-total-{_pt(ln)}",
                    ("Over", "Under"),
                    "totals",
                    ln,
                    f"O/U {_fmt_line(ln)}",
                    True,
                    (("Over", "totals", ln), ("Under", "totals", ln)),
                    (ln,),
                )
            # out of scope: team total, first-half total
            add(
                "team_total_home",
                f"{home.pm_full} vs. {away.pm_full}: {home.pm_full} O/U 1.5",
                f"{base_slug}-{home.abbr}-total-1pt5",
                ("Over", "Under"),
                "totals",
                1.5,
                f"{home.pm_full} O/U 1.5",
                False,
                ((None, None, None), (None, None, None)),
                (1.5,),
            )
            add(
                "half_total",
                f"{home.pm_full} vs. {away.pm_full}: 1st Half O/U 1.5",
                f"{base_slug}-1h-total-1pt5",
                ("Over", "Under"),
                "totals",
                1.5,
                "1st Half O/U 1.5",
                False,
                ((None, None, None), (None, None, None)),
                (1.5,),
            )
            return out
        # US leagues
        first_is_away = lg.ordering == "away"
        ft, stt = (away, home) if first_is_away else (home, away)
        add(
            "ml",
            title + trail,
            base_slug,
            (first, second),
            "moneyline",
            None,
            title,
            True,
            ((ft.odds_name, "h2h", None), (stt.odds_name, "h2h", None)),
            (1.0 if first_is_away else 0.0,),
        )
        # spreads: favoured side first, negative line
        fav_home = m0 >= 0
        fav, dog = (home, away) if fav_home else (away, home)
        fav_n, dog_n = (hn, an) if fav_home else (an, hn)
        if g.league in ("nhl", "mlb"):
            lines = [1.5]
        else:
            base = max(math.floor(abs(m0)) + 0.5, 2.5)
            lines = [base - 1, base, base + 1]
        for ln in lines:
            side = "home" if fav_home else "away"
            add(
                "spread",
                f"Spread: {fav_n} (-{_fmt_line(ln)})",
                f"{base_slug}-spread-{side}-{_pt(ln)}",
                (fav_n, dog_n),
                "spreads",
                -ln,
                f"Spread {fav_n} (-{_fmt_line(ln)})",
                True,
                ((fav.odds_name, "spreads", -ln), (dog.odds_name, "spreads", ln)),
                (-ln, 1.0 if fav_home else -1.0),
            )
        if g.league == "nhl":
            tl = [5.5 if t0 < 6.0 else 6.5]
        elif g.league == "mlb":
            tl = [math.floor(t0) + 0.5]
        else:
            base = math.floor(t0) + 0.5
            tl = [base - 1, base, base + 1]
        for ln in tl:
            add(
                "total",
                f"{title}: O/U {_fmt_line(ln)}",
                f"{base_slug}-total-{_pt(ln)}",
                ("Over", "Under"),
                "totals",
                ln,
                f"O/U {_fmt_line(ln)}",
                True,
                (("Over", "totals", ln), ("Under", "totals", ln)),
                (ln,),
            )
        none2 = ((None, None, None), (None, None, None))
        # out-of-scope markets living in the same event
        if rng.random() < 0.6:
            tt = math.floor((t0 + m0) / 2) + 0.5
            add(
                "team_total_home",
                f"{title}: {hn} O/U {_fmt_line(tt)}",
                f"{base_slug}-{home.abbr}-total-{_pt(tt)}",
                ("Over", "Under"),
                "totals",
                tt,
                f"{hn} O/U {_fmt_line(tt)}",
                False,
                none2,
                (tt,),
            )
        if g.league == "mlb":
            f5 = math.floor(t0 * 0.55) + 0.5
            add(
                "f5_total",
                f"{title}: 1st 5 Innings O/U {_fmt_line(f5)}",
                f"{base_slug}-f5-total-{_pt(f5)}",
                ("Over", "Under"),
                "totals",
                f5,
                f"1st 5 Innings O/U {_fmt_line(f5)}",
                False,
                none2,
                (f5,),
            )
            add(
                "nrfi",
                f"{title}: Run in the 1st inning?",
                f"{base_slug}-nrfi",
                ("Yes", "No"),
                "nrfi",
                None,
                "1st Inning Run",
                False,
                none2,
                (0.52,),
            )
            player = f"{_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}"
            pslug = player.lower().replace(" ", "-")
            add(
                "prop",
                f"{player}: Home Run?",
                f"{base_slug}-hr-{pslug}-0pt5",
                ("Yes", "No"),
                "home_runs",
                0.5,
                f"{player} Home Run",
                False,
                none2,
                (0.16,),
            )
        else:
            ht = math.floor(t0 * 0.5) + 0.5
            add(
                "half_total",
                f"{title}: 1st Half O/U {_fmt_line(ht)}",
                f"{base_slug}-1h-total-{_pt(ht)}",
                ("Over", "Under"),
                "totals",
                ht,
                f"1st Half O/U {_fmt_line(ht)}",
                False,
                none2,
                (ht,),
            )
            if g.league == "nba":
                player = f"{_FIRST[int(rng.integers(len(_FIRST)))]} {_LAST[int(rng.integers(len(_LAST)))]}"
                pl_line = float(int(rng.integers(14, 30))) + 0.5
                pslug = player.lower().replace(" ", "-")
                add(
                    "prop",
                    f"{player}: Points O/U {_fmt_line(pl_line)}",
                    f"{base_slug}-points-{pslug}-{_pt(pl_line)}",
                    ("Over", "Under"),
                    "points",
                    pl_line,
                    f"{player} Points O/U {_fmt_line(pl_line)}",
                    False,
                    none2,
                    (0.5,),
                )
        return out

    # ------------------------------------------------------------------ injected mispricings
    def _build_episodes(
        self, g: Game, markets: list[PMMarket], rng: np.random.Generator
    ) -> tuple[list[Episode], list[tuple[int, float]]]:
        er = rng_for(self.seed, "episodes", g.key)
        lo = to_ts(g.listed_at) + 3600
        hi = to_ts(g.scheduled) - 40 * 60
        eps: list[Episode] = []
        jumps: list[tuple[int, float]] = []
        if hi <= lo + 3600:
            return eps, jumps
        scope = [mk for mk in markets if mk.in_scope]
        ml = [mk for mk in scope if mk.kind in ("ml", "soccer_home", "soccer_draw", "soccer_away")]
        busy: dict[int, list[tuple[int, int]]] = {}

        def free(idx: int, a: int, b: int) -> bool:
            return all(b <= s or a >= e for s, e in busy.get(idx, []))

        def pick_start(dur: int) -> int:
            return (int(er.integers(lo, hi - dur)) // GRID_S) * GRID_S

        def outcome_for(mk: PMMarket) -> int:
            return 0 if mk.kind.startswith("soccer") else int(er.integers(0, 2))

        for _ in range(int(er.poisson(1.1))):
            mk = scope[int(er.integers(len(scope)))]
            dur = int(er.integers(4, 25)) * GRID_S
            s = pick_start(dur)
            if free(mk.idx, s, s + dur):
                busy.setdefault(mk.idx, []).append((s, s + dur))
                eps.append(
                    Episode(
                        "true_mispricing",
                        mk.idx,
                        outcome_for(mk),
                        from_ts(s),
                        from_ts(s + dur),
                        float(er.uniform(0.03, 0.07)),
                        float(np.round(er.uniform(150, 1500), 2)),
                    )
                )
        for _ in range(int(er.poisson(0.8))):
            mk = scope[int(er.integers(len(scope)))]
            s = pick_start(GRID_S)
            if free(mk.idx, s, s + GRID_S):
                busy.setdefault(mk.idx, []).append((s, s + GRID_S))
                eps.append(
                    Episode(
                        "thin_book",
                        mk.idx,
                        outcome_for(mk),
                        from_ts(s),
                        from_ts(s + GRID_S),
                        float(er.uniform(0.05, 0.12)),
                        float(int(er.integers(1, 5))),
                    )
                )
        for _ in range(int(er.poisson(0.35))):
            dur = int(er.integers(4, 13)) * GRID_S
            s = pick_start(dur)
            size = float(er.choice([-1.0, 1.0]) * er.uniform(0.3, 0.5))
            jumps.append((grid_index(s), size))
            # the side whose probability drops looks cheap on Polymarket against the stale books
            mk = ml[0]
            if mk.kind == "ml":
                home_up = size > 0
                first_is_away = mk.params[0] == 1.0
                cheap = (0 if home_up else 1) if first_is_away else (1 if home_up else 0)
                eps.append(Episode("stale_book", mk.idx, cheap, from_ts(s), from_ts(s + dur), size, 0.0))
            else:
                cheap_mk = next(x for x in ml if x.kind == ("soccer_away" if size > 0 else "soccer_home"))
                eps.append(Episode("stale_book", cheap_mk.idx, 0, from_ts(s), from_ts(s + dur), size, 0.0))
        soft_books = [b.key for b in BOOKS if not b.sharp and b.region == "us"]
        for _ in range(int(er.poisson(0.5))):
            dur = int(er.integers(6, 25)) * GRID_S
            s = pick_start(dur)
            mk = ml[int(er.integers(len(ml)))]
            o = outcome_for(mk)
            eps.append(
                Episode(
                    "soft_outlier",
                    mk.idx,
                    o,
                    from_ts(s),
                    from_ts(s + dur),
                    float(er.uniform(0.35, 0.6)),
                    0.0,
                    soft_books[int(er.integers(len(soft_books)))],
                )
            )
        if er.random() < 0.3:
            mk = scope[int(er.integers(len(scope)))]
            s = to_ts(g.scheduled) - 15 * 60
            s = (s // GRID_S) * GRID_S
            e = to_ts(g.scheduled)
            if free(mk.idx, s, e):
                busy.setdefault(mk.idx, []).append((s, e))
                eps.append(
                    Episode(
                        "near_start",
                        mk.idx,
                        outcome_for(mk),
                        from_ts(s),
                        from_ts(e),
                        float(er.uniform(0.03, 0.06)),
                        float(np.round(er.uniform(50, 400), 2)),
                    )
                )
        return eps, jumps

    # ------------------------------------------------------------------ truth
    def _pre_prob(self, det: GameDetail, mk: PMMarket, m: np.ndarray, t: np.ndarray) -> np.ndarray:
        lg = LEAGUES[det.game.league]
        k = mk.kind
        if k == "ml":
            p_home = ndtr(m / lg.margin_sd)
            return 1 - p_home if mk.params[0] == 1.0 else p_home
        if k == "spread":
            line, sign = mk.params
            return ndtr((sign * m + line) / lg.margin_sd)
        if k in ("soccer_home", "soccer_draw", "soccer_away"):
            ph, pd_, pa = soccer_1x2(m, t)
            return {"soccer_home": ph, "soccer_draw": pd_, "soccer_away": pa}[k]
        if k == "total":
            if lg.has_draw:
                return soccer_over(t, mk.params[0])
            return ndtr((t - mk.params[0]) / lg.total_sd)
        if k == "team_total_home":
            if lg.has_draw:
                return soccer_over((t + m) / 2, mk.params[0])
            return ndtr(((t + m) / 2 - mk.params[0]) / (lg.total_sd * 0.7))
        if k == "half_total":
            if lg.has_draw:
                return soccer_over(t * 0.45, mk.params[0])
            return ndtr((t * 0.5 - mk.params[0]) / (lg.total_sd * 0.7))
        if k == "f5_total":
            return ndtr((t * 0.55 - mk.params[0]) / (lg.total_sd * 0.75))
        return np.full(np.shape(m), mk.params[0], dtype=np.float64)

    def resolved_outcome(self, det: GameDetail, mk: PMMarket) -> int:
        """1 when the market's first outcome won."""
        h, a = det.home_score, det.away_score
        k = mk.kind
        if k == "ml":
            away_won = a > h
            return int(away_won) if mk.params[0] == 1.0 else int(not away_won)
        if k == "spread":
            line, sign = mk.params
            return int(sign * (h - a) + line > 0)
        if k == "soccer_home":
            return int(h > a)
        if k == "soccer_draw":
            return int(h == a)
        if k == "soccer_away":
            return int(a > h)
        if k == "total":
            return int(h + a > mk.params[0])
        if k == "team_total_home":
            return int(h > mk.params[0])
        if k == "half_total":
            return int(det.extra["half_total"] > mk.params[0])
        if k == "f5_total":
            return int(det.extra["f5_total"] > mk.params[0])
        if k == "nrfi":
            return int(det.extra["nrfi_u"] < mk.params[0])
        return int(det.extra["prop_u"] < mk.params[0])

    def true_prob(self, det: GameDetail, mk: PMMarket, ks: np.ndarray) -> np.ndarray:
        """True probability of the market's first outcome at grid indices ks."""
        ks = np.asarray(ks, dtype=np.int64)
        i = np.clip(ks - det.k0, 0, len(det.m) - 1)
        p = self._pre_prob(det, mk, det.m[i], det.t[i])
        live = ks > det.ks
        if live.any():
            p0 = float(self._pre_prob(det, mk, det.m[-1:], det.t[-1:])[0])
            y = self.resolved_outcome(det, mk)
            j = np.clip(ks[live] - det.ks, 0, len(det.bridge) - 1)
            f = j / max(len(det.bridge) - 1, 1)
            target = 7.0 if y else -7.0
            lo = (1 - f) * logit(np.array(p0)) + f * target + 1.2 * det.bridge[j]
            pl_ = expit(lo)
            pl_ = np.where(f >= 1.0, float(y), pl_)
            p = p.copy()
            p[live] = pl_
        return p

    # ------------------------------------------------------------------ sportsbooks
    def book_state(self, det: GameDetail, book_i: int, t_s: int) -> tuple[int, int, float, float] | None:
        """(source grid index, last_update ts, m_b, t_b) for one book at time t_s, or None if not quoting."""
        b = BOOKS[book_i]
        static = self._book_static(det, book_i)
        if static is None:
            return None  # this book does not carry this game
        r, phase, stale, listed, jit_prefix = static
        u = ((t_s - phase) // r) * r + phase
        frozen = False
        for a, e in stale:
            if a <= u < e:  # the book sleeps through the news: keep its last pre-news refresh
                u = u - ((u - a) // r + 1) * r
                frozen = True
        if u < listed:
            if t_s < listed:
                return None
            u = listed
        k = u // GRID_S - b.lag_steps
        k = min(max(k, det.k0), det.ks)
        # == h64(self.seed, "jit", g.key, b.key, u): same repr text, prefix built once
        jit_text = (jit_prefix + repr(u) + ")").encode()
        jit = int.from_bytes(hashlib.blake2b(jit_text, digest_size=8).digest(), "little") % 60
        last = u + jit if u + jit <= t_s and not frozen else u
        ridx = u // r
        salt = det.salt ^ (book_i * 0x9E3779B1)
        z0, z1 = hnorm1(salt, ridx * 2), hnorm1(salt, ridx * 2 + 1)
        i = k - det.k0
        mb = float(det.m[i] + b.noise * det.sigma_m * 0.5 * z0)
        tb = float(det.t[i] + b.noise * det.sigma_t * 0.5 * z1)
        return k, last, mb, tb

    def _book_static(
        self, det: GameDetail, book_i: int
    ) -> tuple[int, int, tuple[tuple[int, int], ...], int, str] | None:
        """Time-independent part of `book_state` (None: the book does not carry the game)."""
        key = ("book", book_i)
        got = det.memo.get(key, _MISSING)
        if got is _MISSING:
            b = BOOKS[book_i]
            g = det.game
            if h64(self.seed, "quotes", g.key, b.key) % 100 < 4:
                got = None
            else:
                r = b.refresh_min * 60
                phase = h64(self.seed, "phase", g.key, b.key) % r
                stale = tuple(
                    (to_ts(ep.start), to_ts(ep.end)) for ep in det.episodes if ep.kind == "stale_book"
                )
                jit_prefix = repr((self.seed, "jit", g.key, b.key))[:-1] + ", "
                got = (r, phase, stale, to_ts(g.listed_at), jit_prefix)
            det.memo[key] = got
        return got  # type: ignore[return-value]

    def book_quotes(
        self, det: GameDetail, t_s: int, book_keys: Iterable[str], markets: Iterable[str]
    ) -> list[tuple[str, int, list[tuple[str, int, list[tuple[str, float, float | None]]]]]]:
        """Bookmaker quotes (decimal prices) for one game at time t_s.

        Returns [(book_key, book_last_update, [(market_key, last_update, [(name, price, point)])])].
        """
        g = det.game
        lg = LEAGUES[g.league]
        want = list(markets)
        out: list[tuple[str, int, list[tuple[str, int, list[tuple[str, float, float | None]]]]]] = []
        if t_s >= to_ts(g.actual_start):
            return self._live_quotes(det, t_s, book_keys, want)
        states = [(bk, self.book_state(det, BOOK_INDEX[bk], t_s)) for bk in book_keys]
        quoting = [(bk, st) for bk, st in states if st is not None]  # None: the book does not carry it
        h2h_1x2: tuple[np.ndarray, ...] = ()
        over_25 = np.empty(0)
        if lg.has_draw and quoting:
            # every book's Poisson grid in one numpy pass: the same floats as one call per book at
            # a fraction of the cost (~16 us of numpy overhead per scalar call)
            mbs = np.array([st[2] for _, st in quoting])
            tbs = np.array([st[3] for _, st in quoting])
            if "h2h" in want:
                h2h_1x2 = soccer_1x2(mbs, tbs)
            if "totals" in want:
                over_25 = soccer_over(tbs, 2.5)
        for j, (bk, (_, last, mb, tb)) in enumerate(quoting):
            b = BOOKS[BOOK_INDEX[bk]]
            mkts: list[tuple[str, int, list[tuple[str, float, float | None]]]] = []
            for key in want:
                if key == "h2h":
                    if lg.has_draw:
                        ph, pd_, pa = (float(x[j]) for x in h2h_1x2)
                        probs = self._soft_shift(det, bk, t_s, {"home": ph, "draw": pd_, "away": pa})
                        mkts.append(("h2h", last, self._three_way(g, probs, b.vig * 1.4)))
                    else:
                        p_home = float(ndtr(mb / lg.margin_sd))
                        probs = self._soft_shift(det, bk, t_s, {"home": p_home, "away": 1 - p_home})
                        mkts.append(
                            (
                                "h2h",
                                last,
                                self._two_way(g.home.odds_name, g.away.odds_name, probs["home"], b.vig),
                            )
                        )
                elif key == "spreads":
                    if lg.has_draw or det.no_spreads or h64c(self.seed, "nosp", g.key, bk) % 100 < 5:
                        continue
                    if g.league in ("nhl", "mlb"):
                        lh = -1.5 if mb > 0 else 1.5
                    else:
                        lh = -(math.floor(mb) + 0.5) if mb >= 0 else math.floor(-mb) + 0.5
                    p_home = float(ndtr((mb + lh) / lg.margin_sd))
                    outs = self._two_way(g.home.odds_name, g.away.odds_name, p_home, b.vig)
                    outs = [(n, p, lh if n == g.home.odds_name else -lh) for n, p, _ in outs]
                    mkts.append(("spreads", last, outs))
                elif key == "totals":
                    if lg.has_draw:
                        line = 2.5
                        p_over = float(over_25[j])
                    elif g.league == "nhl":
                        line = 6.5 if tb >= 6.0 else 5.5
                        p_over = float(ndtr((tb - line) / lg.total_sd))
                    else:
                        line = math.floor(tb) + 0.5
                        p_over = float(ndtr((tb - line) / lg.total_sd))
                    po, pu = self._vig2(p_over, b.vig)
                    mkts.append(("totals", last, [("Over", _dec(po), line), ("Under", _dec(pu), line)]))
            if mkts:
                out.append((bk, last, mkts))
        return out

    def _live_quotes(
        self, det: GameDetail, t_s: int, book_keys: Iterable[str], want: list[str]
    ) -> list[tuple[str, int, list[tuple[str, int, list[tuple[str, float, float | None]]]]]]:
        """`book_quotes` once the game is live: three books keep a moneyline (no draw) on the live truth."""
        g = det.game
        lg = LEAGUES[g.league]
        out: list[tuple[str, int, list[tuple[str, int, list[tuple[str, float, float | None]]]]]] = []
        for bk in book_keys:
            if bk not in ("pinnacle", "draftkings", "fanduel"):
                continue
            b = BOOKS[BOOK_INDEX[bk]]
            mk = det.markets[0]
            k = grid_index(t_s)
            p1 = self.true_prob1(det, mk, k)
            last = (t_s // 60) * 60 - int(h64(self.seed, "lj", g.key, bk, k) % 40)
            mkts: list[tuple[str, int, list[tuple[str, float, float | None]]]] = []
            if "h2h" in want and not lg.has_draw:
                p1 = min(max(p1, 0.02), 0.98)
                p_home = 1 - p1 if mk.params[0] == 1.0 else p1
                moneyline = self._two_way(g.home.odds_name, g.away.odds_name, p_home, b.vig * 1.5)
                mkts.append(("h2h", last, moneyline))
            if mkts:
                out.append((bk, max(x[1] for x in mkts), mkts))
        return out

    def _soft_shift(self, det: GameDetail, bk: str, t_s: int, probs: dict[str, float]) -> dict[str, float]:
        soft = det.memo.get("soft_eps")
        if soft is None:
            soft = det.memo["soft_eps"] = [
                (ep, to_ts(ep.start), to_ts(ep.end)) for ep in det.episodes if ep.kind == "soft_outlier"
            ]
        for ep, a, e in soft:  # type: ignore[attr-defined]
            if ep.book != bk or not (a <= t_s < e):
                continue
            mk = det.markets[ep.market_idx]
            side = self._h2h_side(det, mk, ep.outcome)
            p = probs[side]
            p_new = float(expit(logit(np.array(p)) + ep.delta))
            scale = (1 - p_new) / max(1 - p, 1e-9)
            probs = {k: (p_new if k == side else v * scale) for k, v in probs.items()}
        return probs

    @staticmethod
    def _h2h_side(det: GameDetail, mk: PMMarket, outcome: int) -> str:
        if mk.kind == "ml":
            first_is_away = mk.params[0] == 1.0
            first = "away" if first_is_away else "home"
            second = "home" if first_is_away else "away"
            return first if outcome == 0 else second
        return {"soccer_home": "home", "soccer_draw": "draw", "soccer_away": "away"}[mk.kind]

    @staticmethod
    def _vig2(p: float, vig: float) -> tuple[float, float]:
        p = min(max(p, 0.01), 0.99)
        return p * (1 + vig), (1 - p) * (1 + vig)

    def _two_way(
        self, home: str, away: str, p_home: float, vig: float
    ) -> list[tuple[str, float, float | None]]:
        qh, qa = self._vig2(p_home, vig)
        outs: list[tuple[str, float, float | None]] = [(home, _dec(qh), None), (away, _dec(qa), None)]
        outs.sort(key=lambda x: x[0])
        return outs

    def _three_way(
        self, g: Game, probs: dict[str, float], vig: float
    ) -> list[tuple[str, float, float | None]]:
        return [
            (g.home.odds_name, _dec(probs["home"] * (1 + vig)), None),
            (g.away.odds_name, _dec(probs["away"] * (1 + vig)), None),
            ("Draw", _dec(probs["draw"] * (1 + vig)), None),
        ]

    # ------------------------------------------------------------------ Polymarket books
    def lookup_token(self, token_id: str) -> tuple[GameDetail | None, PMMarket, int] | None:
        memo = self.memo("token")
        got = memo.get(token_id, _MISSING)
        if got is _MISSING:
            got = self._lookup_token(token_id)
            memo.put(token_id, got)
        return got

    def _lookup_token(self, token_id: str) -> tuple[GameDetail | None, PMMarket, int] | None:
        dec = self.decode_token(token_id)
        if dec is None:
            return None
        dnum, lidx, no, idx, o = dec
        found = self._lookup(dnum, lidx, no, idx)
        if found is None or found[1].token_ids[o] != token_id:
            return None
        return found[0], found[1], o

    def lookup_market(self, market_id: str) -> tuple[GameDetail | None, PMMarket] | None:
        dec = self.decode_market_id(market_id)
        if dec is None:
            return None
        found = self._lookup(*dec)
        if found is None or found[1].market_id != market_id:
            return None
        return found

    def lookup_event(self, event_id: str) -> GameDetail | None:
        """The game behind a Polymarket event id (inverse of the encoding in the schedule)."""
        if not event_id.isdigit() or int(event_id) < EVENT_ID_BASE:
            return None
        code, no = divmod(int(event_id) - EVENT_ID_BASE, 64)
        dnum, lidx = divmod(code, 8)
        found = self._lookup(dnum, lidx, no, 0)
        if found is None or found[0] is None or found[0].game.pm_event_id != event_id:
            return None
        return found[0]

    def _lookup(self, dnum: int, lidx: int, no: int, idx: int) -> tuple[GameDetail | None, PMMarket] | None:
        codes = [c for c, lg in LEAGUES.items() if lg.index == lidx]
        if not codes or dnum < 0 or dnum > 40000:
            return None
        league = codes[0]
        if no == FUTURES_GAME_NO:
            fut = self.futures(league)
            return (None, fut[idx]) if 0 <= idx < len(fut) else None
        g = self.game_by_key(league, EPOCH_DATE + timedelta(days=dnum), no)
        if g is None:
            return None
        det = self.detail(g)
        if idx >= len(det.markets):
            return None
        return det, det.markets[idx]

    def pm_prob_first(self, det: GameDetail | None, mk: PMMarket, ks: np.ndarray) -> np.ndarray:
        """Polymarket displayed mid of the first outcome: truth plus slow and fast noise."""
        ks = np.asarray(ks, dtype=np.int64)
        if det is None:
            base = mk.params[0] + 0.01 * hnorm(h64(self.seed, "fut", mk.market_id), ks // 288)
            return np.clip(base, 0.002, 0.998)
        p = self.true_prob(det, mk, ks)
        salt = det.salt ^ (mk.idx * 0x632BE59BD9B4E019)
        noise = 0.005 * hnorm(salt, ks) + 0.005 * hnorm(salt ^ 1, ks // 12)
        return np.clip(p + noise * 4 * p * (1 - p), 0.001, 0.999)

    def true_prob1(self, det: GameDetail, mk: PMMarket, k: int) -> float:
        """Scalar `true_prob` at one grid index (same float as `true_prob(det, mk, [k])[0]`)."""
        if k > det.ks:
            p0, y = self._live_base(det, mk)
            j = min(max(k - det.ks, 0), len(det.bridge) - 1)
            f = j / max(len(det.bridge) - 1, 1)
            if f >= 1.0:
                return float(y)
            target = 7.0 if y else -7.0
            lo = (1 - f) * logit(np.array(p0)) + f * target + 1.2 * det.bridge[j]
            return float(expit(lo))
        i = min(max(k - det.k0, 0), len(det.m) - 1)
        return float(self._pre_prob(det, mk, det.m[i : i + 1], det.t[i : i + 1])[0])

    def _live_base(self, det: GameDetail, mk: PMMarket) -> tuple[float, int]:
        """(probability at the start, resolved outcome): static per market, memoized on the detail."""
        key = ("live", mk.idx)
        got = det.memo.get(key)
        if got is None:
            p0 = float(self._pre_prob(det, mk, det.m[-1:], det.t[-1:])[0])
            got = det.memo[key] = (p0, self.resolved_outcome(det, mk))
        return got  # type: ignore[return-value]

    def pm_mid(self, det: GameDetail | None, mk: PMMarket, k: int) -> float:
        """`pm_mid1` memoized per (market, k): Gamma's hour/day price changes re-read the mids of
        one hour and one day earlier, which the previous polls of a backfill already computed."""
        per_k = self._mid_memo.get(k)
        if per_k is None:
            with self._memo_lock:
                per_k = self._mid_memo.setdefault(k, {})
                while len(self._mid_memo) > self.MID_MEMO_INSTANTS:
                    self._mid_memo.pop(next(iter(self._mid_memo)))
        got = per_k.get(mk.market_id)
        if got is None:
            got = per_k[mk.market_id] = self.pm_mid1(det, mk, k)
        return got

    def pm_mid1(self, det: GameDetail | None, mk: PMMarket, k: int) -> float:
        """Scalar `pm_prob_first` at one grid index (same float, no 1-element arrays)."""
        if det is None:
            base = mk.params[0] + 0.01 * hnorm1(h64c(self.seed, "fut", mk.market_id), k // 288)
            return min(max(base, 0.002), 0.998)
        p = self.true_prob1(det, mk, k)
        salt = det.salt ^ (mk.idx * 0x632BE59BD9B4E019)
        noise = 0.005 * hnorm1(salt, k) + 0.005 * hnorm1(salt ^ 1, k // 12)
        return min(max(p + noise * 4 * p * (1 - p), 0.001), 0.999)

    def pm_book(self, token_id: str, t: datetime) -> PMBook | None:
        """The CLOB book of one token at time t; None when the token is unknown or its market closed."""
        src = self.pm_book_sources([token_id], t)[0]
        if src is None:
            return None
        mk, o, neg_risk, (bids, asks, tick, last_trade, _), ts_ms = src
        if o == 1:
            # the second token's book mirrors the first: sorting the mirrored levels is all the
            # original double reversal did (sorted() is stable and the keys are the tuples)
            bids, asks = (
                sorted([(round(1 - p, 4), s) for p, s in asks]),
                sorted([(round(1 - p, 4), s) for p, s in bids], reverse=True),
            )
            last_trade = round(1 - last_trade, 4)
        else:
            bids, asks = list(bids), list(asks)
        return PMBook(token_id, mk.condition_id, bids, asks, tick, ts_ms, last_trade, neg_risk)

    def pm_book_sources(
        self, token_ids: Iterable[str], t: datetime
    ) -> list[tuple[PMMarket, int, bool, BookBase, int] | None]:
        """Per token at time t: (market, outcome, neg_risk, first-token book, timestamp_ms), or None
        when the token is unknown or its market closed. The book is the shared memoized `_book_at`
        tuple (read-only); outcome 1 quotes its mirror image (`pm_book`).

        Why: POST /books formats both tokens of a market straight from that one book; the instant
        is converted once per batch and each token's trading window is memoized.
        """
        t_s = to_ts(t)
        k = grid_index(t_s)
        t_ms = int(t.timestamp() * 1000)
        window, book_at = self._book_window, self._book_at
        out: list[tuple[PMMarket, int, bool, BookBase, int] | None] = []
        for token_id in token_ids:
            win = window(token_id)
            if win is None or not win[3] <= t_s < win[4]:
                out.append(None)
                continue
            det, mk, o, _, _ = win
            base = book_at(det, mk, k)
            out.append((mk, o, det is None, base, min(base[4], t_ms)))
        return out

    def _book_window(self, token_id: str) -> tuple[GameDetail | None, PMMarket, int, int, float] | None:
        """(detail, market, outcome, open_s, close_s): the token has a book while open_s <= t < close_s
        (from its market's creation until the game's market closes; futures never close). Memoized."""
        memo = self.memo("book_window")
        got = memo.get(token_id, _MISSING)
        if got is _MISSING:
            found = self.lookup_token(token_id)
            if found is None:
                got = None
            else:
                det, mk, o = found
                close_s = to_ts(det.game.closed_at) if det is not None else math.inf
                got = (det, mk, o, to_ts(mk.created_at), close_s)
            memo.put(token_id, got)
        return got

    def _book_at(self, det: GameDetail | None, mk: PMMarket, k: int) -> BookBase:
        """`_book_first` plus the book's change time, memoized for the last `BOOK_MEMO_INSTANTS` grid indices.

        Why: at one instant Gamma renders every market's book and the CLOB serves both tokens of
        the same markets; the book is a pure function of (market, k), so it is built once.
        """
        memo = self._book_memo
        per_k = memo.get(k)
        if per_k is None:
            with self._memo_lock:
                per_k = memo.setdefault(k, {})
                while len(memo) > self.BOOK_MEMO_INSTANTS:
                    memo.pop(next(iter(memo)))
        got = per_k.get(mk.market_id)
        if got is None:
            bids, asks, tick, last_trade = self._book_first(det, mk, k)
            ts_ms = k * GRID_S * 1000 + int(h64(self.seed, "bts", mk.market_id, k) % 240_000)
            got = per_k[mk.market_id] = (bids, asks, tick, last_trade, ts_ms)
        return got

    def prime_books(self, markets: Iterable[PMMarket], t: datetime) -> None:
        """Seed the book generators of these markets at t in one pass (`pcg64_states`) for the books
        not built yet: a Gamma page renders ~600 books, each from its own generator."""
        k = grid_index(to_ts(t))
        built = self._book_memo.get(k, {})
        todo = [mk.market_id for mk in markets if mk.market_id not in built]
        if not todo:
            return
        states = pcg64_states([h64(self.seed, "book", market_id, k) for market_id in todo])
        with self._memo_lock:
            primed = self._primed.setdefault(k, {})
            while len(self._primed) > self.BOOK_MEMO_INSTANTS:
                self._primed.pop(next(iter(self._primed)))
        primed.update(zip(todo, states, strict=True))

    def _book_first(
        self, det: GameDetail | None, mk: PMMarket, k: int
    ) -> tuple[list[tuple[float, float]], list[tuple[float, float]], float, float]:
        mid = self.pm_mid(det, mk, k)
        tick = 0.01 if 0.04 <= mid <= 0.96 else 0.001
        primed = self._primed.get(k)
        state = primed.pop(mk.market_id, None) if primed else None
        r = _BookDraws(state or h64(self.seed, "book", mk.market_id, k))  # == rng_for(...)'s draws
        # bound methods, level sizes drawn inline (lognormal, then a coin for the rounding): this runs
        # for every market at every polled instant
        integers, lognormal, random, round4 = r.integers, r.lognormal, r.random, _ROUND4
        s = _BOOK_SPREADS[integers(0, 6)]  # == r.choice(_BOOK_SPREADS): same draw, no array
        bb = math.floor(mid / tick - s / 2) * tick
        ba = bb + s * tick
        bb = min(max(bb, tick), 1 - 2 * tick)
        ba = min(max(ba, bb + tick), 1 - tick)
        nb, na = integers(3, 9), integers(3, 9)
        bids: list[tuple[float, float]] = []
        p, lowest = bb, tick - 1e-12
        for i in range(nb):
            if p < lowest:
                break
            v = lognormal(_LOG_SIZE[i], 0.8)  # a Python float
            bids.append((round4[p], round_to(v, 2, 100.0) if random() < 0.5 else float(round(v))))
            p -= tick * integers(1, 4)
        asks: list[tuple[float, float]] = []
        p, highest = ba, 1 - tick + 1e-12
        for i in range(na):
            if p > highest:
                break
            v = lognormal(_LOG_SIZE[i], 0.8)
            asks.append((round4[p], round_to(v, 2, 100.0) if random() < 0.5 else float(round(v))))
            p += tick * integers(1, 4)
        # injected episodes on this market
        if det is not None and det.episodes:
            t_s = k * GRID_S
            for ep, a, e in self._pm_episodes(det):
                if ep.market_idx != mk.idx:
                    continue
                if not (a <= t_s < e):
                    continue
                price = self.episode_ask(det, mk, ep)
                if ep.outcome == 0:
                    asks = [(price, ep.size)] + [x for x in asks if x[0] > price + 1e-9]
                    bids = [x for x in bids if x[0] < price - 1e-9]
                else:
                    bp = round(1 - price, 4)
                    bids = [(bp, ep.size)] + [x for x in bids if x[0] < bp - 1e-9]
                    asks = [x for x in asks if x[0] > bp + 1e-9]
                break
        bids.sort()
        asks.sort(reverse=True)
        last_trade = bids[-1][0] if bids and r.random() < 0.5 else (asks[-1][0] if asks else mid)
        return bids, asks, tick, round(last_trade, 4)

    def _pm_episodes(self, det: GameDetail) -> list[tuple[Episode, int, int]]:
        """The episodes that reshape Polymarket books, with their windows as timestamps."""
        got = det.memo.get("pm_eps")
        if got is None:
            got = det.memo["pm_eps"] = [
                (ep, to_ts(ep.start), to_ts(ep.end))
                for ep in det.episodes
                if ep.kind in ("true_mispricing", "thin_book", "near_start")
            ]
        return got  # type: ignore[return-value]

    def episode_ask(self, det: GameDetail, mk: PMMarket, ep: Episode) -> float:
        """The executable ask of the episode's outcome during its window (constant)."""
        k = grid_index(to_ts(ep.start))
        p1 = float(self.true_prob(det, mk, np.array([k]))[0])
        p = p1 if ep.outcome == 0 else 1 - p1
        tick = 0.01 if 0.04 <= p <= 0.96 else 0.001
        return round(max(math.floor((p - ep.delta) / tick) * tick, tick), 4)

    # ------------------------------------------------------------------ futures (never map)
    def futures(self, league: str) -> list[PMMarket]:
        return self._futures(league)

    def _futures_impl(self, league: str) -> list[PMMarket]:
        lg = LEAGUES[league]
        r = rng_for(self.seed, "futures", league)
        teams = TEAMS[league]
        pick = r.choice(len(teams), size=6, replace=False)
        created = datetime(2025, 8, 1, 16, 0, tzinfo=UTC)
        title = {
            "nba": "2026 NBA Champion",
            "nfl": "Super Bowl Champion 2026",
            "nhl": "2026 NHL Stanley Cup Champion",
            "mlb": "2026 World Series Champion",
            "epl": "English Premier League Winner 2025–26",
        }[league]
        raw = r.dirichlet(np.ones(6) * 2) * 0.8
        out = []
        for i, ti in enumerate(pick):
            team = teams[int(ti)]
            if league == "epl":
                q = f"Will {team.odds_name} win the 2025–26 English Premier League?"
            else:
                q = f"Will the {team.odds_name} win the {title}?"
            mid, cond, qid, toks = self._ids_raw(0, lg.index, FUTURES_GAME_NO, i)
            out.append(
                PMMarket(
                    i,
                    "future",
                    q,
                    f"will-the-{team.abbr}-win-{lg.code}-{i}",
                    ("Yes", "No"),
                    None,
                    None,
                    team.pm_full,
                    mid,
                    cond,
                    qid,
                    toks,
                    False,
                    ((None, None, None), (None, None, None)),
                    (float(round(raw[i], 3)),),
                    created,
                    0.0,
                    0.0,
                    None,
                    0.001,
                )
            )
        return out

    def futures_title(self, league: str) -> str:
        return {
            "nba": "2026 NBA Champion",
            "nfl": "Super Bowl Champion 2026",
            "nhl": "2026 NHL Stanley Cup Champion",
            "mlb": "2026 World Series Champion",
            "epl": "English Premier League Winner 2025–26",
        }[league]

    # ------------------------------------------------------------ ground truth (tests / benchmarks only)
    def token_true_probs(self, rows: pl.DataFrame) -> np.ndarray:
        """True probability of each row's outcome (``pm_token_id``) at its ``observed_at`` grid point.

        NaN for tokens this world never listed. One vectorized ``true_prob`` per token: a held-out
        fortnight (~165k rows, ~5k tokens) takes ~1 s.
        """
        out = np.full(rows.height, np.nan)
        per_token = rows.select("pm_token_id", "observed_at").with_row_index("i").group_by("pm_token_id")
        for token, idx, times in per_token.agg("i", "observed_at").iter_rows():
            found = self.lookup_token(token)
            if found is None:
                continue
            det, mk, outcome = found
            if det is None:
                continue
            p1 = self.true_prob(det, mk, np.array([grid_index(to_ts(t)) for t in times]))
            out[np.asarray(idx)] = p1 if outcome == 0 else 1 - p1
        return out

    def ground_truth_pairs(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Every Polymarket token listed during [start, end] with its true Odds API counterpart.

        One row per token. in_scope False (and null Odds API columns) for markets that must not be
        mapped: team/half/first-five totals, NRFI, player props, futures, and the "No" side of the
        soccer Yes/No markets (no single Odds API outcome).
        """
        rows: list[dict[str, object]] = []
        for league, lg in LEAGUES.items():
            for g in self.games_overlapping(league, start, end):
                det = self.detail(g)
                for mk in det.markets:
                    for o in range(2):
                        name, key, point = mk.mapping[o]
                        rows.append(
                            {
                                "pm_market_id": mk.market_id,
                                "pm_token_id": mk.token_ids[o],
                                "pm_outcome": mk.outcomes[o],
                                "pm_event_id": g.pm_event_id,
                                "pm_slug": mk.slug,
                                "pm_kind": mk.kind,
                                "odds_event_id": g.odds_event_id,
                                "sport_key": lg.sport_key,
                                "odds_outcome_name": name,
                                "market_key": key,
                                "point": point,
                                "in_scope": bool(mk.in_scope and name is not None),
                                "game_start": g.scheduled,
                                "home_team": g.home.odds_name,
                                "away_team": g.away.odds_name,
                            }
                        )
            for mk in self.futures(league):
                for o in range(2):
                    rows.append(
                        {
                            "pm_market_id": mk.market_id,
                            "pm_token_id": mk.token_ids[o],
                            "pm_outcome": mk.outcomes[o],
                            "pm_event_id": str(900_000 + lg.index),
                            "pm_slug": mk.slug,
                            "pm_kind": "future",
                            "odds_event_id": None,
                            "sport_key": lg.sport_key,
                            "odds_outcome_name": None,
                            "market_key": None,
                            "point": None,
                            "in_scope": False,
                            "game_start": None,
                            "home_team": None,
                            "away_team": None,
                        }
                    )
        schema: SchemaDict = {
            "pm_market_id": pl.String,
            "pm_token_id": pl.String,
            "pm_outcome": pl.String,
            "pm_event_id": pl.String,
            "pm_slug": pl.String,
            "pm_kind": pl.String,
            "odds_event_id": pl.String,
            "sport_key": pl.String,
            "odds_outcome_name": pl.String,
            "market_key": pl.String,
            "point": pl.Float64,
            "in_scope": pl.Boolean,
            "game_start": pl.Datetime("us", "UTC"),
            "home_team": pl.String,
            "away_team": pl.String,
        }
        return pl.DataFrame(rows, schema=schema)

    def injected_edges(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Injected mispricings whose window overlaps [start, end], with their true value.

        kind: true_mispricing (a real edge: ask well below truth with depth) or a false-edge kind
        (stale_book, thin_book, soft_outlier, near_start). true_ev = true_prob / pm_ask - 1 (per
        dollar, before fees); true_ev_after_fee subtracts the taker fee rate*p*(1-p) per share.
        """
        rows: list[dict[str, object]] = []
        for league, lg in LEAGUES.items():
            for g in self.games_overlapping(league, start, end):
                det = self.detail(g)
                for ep in det.episodes:
                    if ep.end <= start or ep.start >= end:
                        continue
                    mk = det.markets[ep.market_idx]
                    k = grid_index(to_ts(ep.start))
                    p1 = float(self.true_prob(det, mk, np.array([k]))[0])
                    p = p1 if ep.outcome == 0 else 1 - p1
                    if ep.kind in ("true_mispricing", "thin_book", "near_start"):
                        ask = self.episode_ask(det, mk, ep)
                        size = ep.size
                    else:
                        bk = self.pm_book(mk.token_ids[ep.outcome], ep.start + timedelta(seconds=GRID_S - 1))
                        ask = bk.asks[-1][0] if bk and bk.asks else float("nan")
                        size = bk.asks[-1][1] if bk and bk.asks else 0.0
                    fee = mk.fee_rate * ask * (1 - ask)
                    name, key, point = mk.mapping[ep.outcome]
                    rows.append(
                        {
                            "kind": ep.kind,
                            "is_true_edge": ep.kind == "true_mispricing",
                            "pm_token_id": mk.token_ids[ep.outcome],
                            "pm_market_id": mk.market_id,
                            "pm_outcome": mk.outcomes[ep.outcome],
                            "odds_event_id": g.odds_event_id,
                            "sport_key": lg.sport_key,
                            "odds_outcome_name": name,
                            "market_key": key,
                            "point": point,
                            "bookmaker": ep.book,
                            "window_start": ep.start,
                            "window_end": ep.end,
                            "true_prob": p,
                            "pm_ask": ask,
                            "true_ev": p / ask - 1 if ask > 0 else float("nan"),
                            "true_ev_after_fee": (p - ask - fee) / ask if ask > 0 else float("nan"),
                            "size_available": size,
                            "fee_rate": mk.fee_rate,
                            "game_start": g.scheduled,
                        }
                    )
        schema: SchemaDict = {
            "kind": pl.String,
            "is_true_edge": pl.Boolean,
            "pm_token_id": pl.String,
            "pm_market_id": pl.String,
            "pm_outcome": pl.String,
            "odds_event_id": pl.String,
            "sport_key": pl.String,
            "odds_outcome_name": pl.String,
            "market_key": pl.String,
            "point": pl.Float64,
            "bookmaker": pl.String,
            "window_start": pl.Datetime("us", "UTC"),
            "window_end": pl.Datetime("us", "UTC"),
            "true_prob": pl.Float64,
            "pm_ask": pl.Float64,
            "true_ev": pl.Float64,
            "true_ev_after_fee": pl.Float64,
            "size_available": pl.Float64,
            "fee_rate": pl.Float64,
            "game_start": pl.Datetime("us", "UTC"),
        }
        return pl.DataFrame(rows, schema=schema).sort("window_start", "pm_token_id")

    def league_of_sport(self, sport_key: str) -> str | None:
        return SPORT_KEY_TO_LEAGUE.get(sport_key)


_floor = math.floor
_copysign = math.copysign


def round_to(x: float, digits: int, scale: float) -> float:
    """``round(x, digits)`` bit for bit (``scale`` = 10.0 ** digits), ~2x faster.

    Why: the simulator rounds every price and size it quotes, and CPython's float round goes through
    a decimal string. Away from a tie the nearest multiple of 10**-digits is n or n + 1 for
    n = floor(x * scale): below 1e9 the product is within 1.2e-7 of the exact one, so a fraction
    more than 1e-6 from one half decides it; n / scale is then the correctly rounded double of the
    decimal CPython would build. Ties, large values and non-finite ones go to ``round``.
    """
    y = x * scale
    if -1e9 < y < 1e9:
        n = _floor(y)
        f = y - n
        if not -1e-6 < f - 0.5 < 1e-6:
            if f > 0.5:
                n += 1
            return n / scale if n else _copysign(0.0, x)  # round keeps the sign of a zero
    return round(x, digits)


def _dec(q: float) -> float:
    """Decimal price from an implied probability, 2 decimals like the books."""
    x = 1.0 / (1e-6 if q < 1e-6 else q)  # == max(q, 1e-6), NaN included
    # round_to(x, 2, 100.0) inlined (a few million quotes per backfill)
    y = x * 100.0
    if y < 1e9:
        n = _floor(y)
        f = y - n
        if not -1e-6 < f - 0.5 < 1e-6:
            r = (n + (f > 0.5)) / 100.0
            return r if r > 1.01 else 1.01
    return max(round(x, 2), 1.01)


_BOOK_SPREADS = (1, 1, 1, 2, 2, 3)
_MISSING = object()


_LOG_SIZE = tuple(math.log(60 + 80 * level) for level in range(16))


class _Round4(dict[float, float]):
    """`round(p, 4)` memoized (bounded): exact but string-based, so ~5x a dict hit, and the grid
    prices of book levels take only a few thousand distinct values."""

    def __missing__(self, p: float) -> float:
        if len(self) >= 1 << 14:
            self.clear()
        got = self[p] = round(p, 4)
        return got


_ROUND4 = _Round4()
_M32 = 0xFFFFFFFF


# numpy's SeedSequence (bit_generator.pyx) and PCG64 seeding (pcg64.h), vectorized over seeds
_SS_INIT_A, _SS_MULT_A = 0x43B0D7E5, 0x931E8875
_SS_INIT_B, _SS_MULT_B = 0x8B51F9DD, 0x58F38DED
_SS_MIX_L, _SS_MIX_R = 0xCA01F9DD, 0x4973F715
_PCG_MULT = (2549297995355413924 << 64) + 4865540595714422341
_M128 = (1 << 128) - 1


def _hashmix(value: np.ndarray, hash_const: int) -> tuple[np.ndarray, int]:
    value = value ^ hash_const
    hash_const = (hash_const * _SS_MULT_A) & _M32
    value = (value * hash_const) & _M32
    return value ^ (value >> 16), hash_const


def _mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    result = (_SS_MIX_L * x - _SS_MIX_R * y) & _M32  # uint64 wraps mod 2**64, a multiple of 2**32
    return result ^ (result >> 16)


def pcg64_states(seeds: Sequence[int]) -> list[tuple[int, int]]:
    """(state, inc) of ``np.random.PCG64(seed)`` for each 64-bit seed, in one vectorized pass.

    Why: seeding goes through SeedSequence, ~5.7 us of numpy calls per generator, and the
    simulator seeds one generator per market and instant (~600 per simulated hour); here the
    uint32 hash and mix steps run over all seeds at once (words as uint64, masked to 32 bits).
    Bit for bit numpy's algorithm: `test_simulator_world.py` compares with ``PCG64(seed).state``.
    """
    words = np.array(seeds, dtype=np.uint64)
    hash_const = _SS_INIT_A
    pool = []
    for word in (words & _M32, words >> 32, np.zeros_like(words), np.zeros_like(words)):
        mixed, hash_const = _hashmix(word, hash_const)  # a seed below 2**32 has one word: the same
        pool.append(mixed)
    for src in range(4):
        for dst in range(4):
            if src != dst:
                mixed, hash_const = _hashmix(pool[src], hash_const)
                pool[dst] = _mix(pool[dst], mixed)
    hash_const = _SS_INIT_B
    out = []
    for i in range(8):  # generate_state(4, uint64): 8 words, little-endian pairs
        value = pool[i % 4] ^ hash_const
        hash_const = (hash_const * _SS_MULT_B) & _M32
        value = (value * hash_const) & _M32
        out.append(value ^ (value >> 16))
    halves = [(out[2 * j] | (out[2 * j + 1] << 32)).tolist() for j in range(4)]
    states = []
    for s_hi, s_lo, i_hi, i_lo in zip(*halves, strict=True):
        inc = ((((i_hi << 64) | i_lo) << 1) | 1) & _M128  # pcg_setseq_128_srandom_r
        state = (inc + ((s_hi << 64) | s_lo)) & _M128
        states.append(((state * _PCG_MULT + inc) & _M128, inc))
    return states


_THREAD = threading.local()


def _seeded_pcg64(state: int, inc: int) -> tuple[np.random.PCG64, np.random.Generator]:
    """This thread's reusable PCG64 set to (state, inc) as a fresh ``PCG64(seed)`` would be."""
    bg = getattr(_THREAD, "pcg64", None)
    if bg is None:
        bg = _THREAD.pcg64 = np.random.PCG64(0)
        _THREAD.generator = np.random.Generator(bg)
    bg.state = {
        "bit_generator": "PCG64",
        "state": {"state": state, "inc": inc},
        "has_uint32": 0,
        "uinteger": 0,
    }
    return bg, _THREAD.generator


class _BookDraws:
    """The draws `_book_first` takes from `rng_for(...)`, bit-identical, minus Generator.integers'
    per-call overhead (~1 us, a dozen calls per book): numpy's bounded ints are Lemire's method on
    32-bit draws, which PCG64 serves as the low then the buffered high half of one 64-bit output.
    `random` and `lognormal` (64-bit draws, never touching that buffer) stay numpy's own."""

    __slots__ = ("_half", "_raw", "lognormal", "random")

    def __init__(self, seed: int | tuple[int, int]) -> None:
        """``seed``, or its `pcg64_states` computed ahead (then this thread's generator is reused)."""
        if isinstance(seed, tuple):
            bg, gen = _seeded_pcg64(*seed)
        else:
            bg = np.random.PCG64(seed)  # what rng_for builds
            gen = np.random.Generator(bg)
        self._raw = bg.random_raw
        self._half = -1  # the buffered high half, -1 when empty (a fresh PCG64 has none)
        self.random = gen.random
        self.lognormal = gen.lognormal

    def _u32(self) -> int:
        half = self._half
        if half >= 0:
            self._half = -1
            return half
        x = self._raw()
        self._half = x >> 32
        return x & _M32

    def integers(self, low: int, high: int) -> int:
        """== int(Generator.integers(low, high)) for 1 < high - low < 2**32 (`_u32` inlined)."""
        n = high - low
        half = self._half
        if half >= 0:
            self._half = -1
            m = half * n
        else:
            x = self._raw()
            self._half = x >> 32
            m = (x & _M32) * n
        if (m & _M32) < n:  # Lemire's rejection, as numpy (rare for small n)
            threshold = (_M32 + 1 - n) % n
            while (m & _M32) < threshold:
                m = self._u32() * n
        return low + (m >> 32)

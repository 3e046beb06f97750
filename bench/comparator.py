"""Benchmark one comparator tick: build_features_latest + select_signals.

Run: .venv/bin/python bench/comparator.py [--markets 2000] [--books 25] [--loop-share 0.1]

Synthetic world: 2,000 two-way h2h markets x 25 books x 2 outcomes = 100,000 sportsbook
quote rows, 4,000 Polymarket tokens with 10 ask + 10 bid levels each (80,000 book rows),
4,000 mappings and pm_sportsbook_lines rows. Prints the vectorized tick time (best of
``--repeat``) and the ratio to a per-row Python loop doing the same work (iterate the
frames' rows, de-vig each book, weighted consensus, best price, walk the asks, EV, the four
checks). The loop runs on ``--loop-share`` of the markets (their quotes, books and mappings)
and is extrapolated linearly; the output says so.
"""

import argparse
import math
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from statistics import NormalDist, median
from typing import Any

import numpy as np
import polars as pl
from polars._typing import PolarsDataType

from edge_assets.features.latest import (
    LINE_SD,
    MAX_LINE_SHIFT_SD,
    MAX_SD_RATIO,
    MIN_SD_BOOKS,
    ML_ANCHOR_MARKET,
    POISSON_MAX_SHIFT,
    POISSON_TOTALS_PREFIX,
    build_features_latest,
)
from edge_assets.mapping.matcher import MATCHED_METHODS
from edge_assets.pricing.consensus import DEFAULT_BOOK_WEIGHTS, DEFAULT_WEIGHT, SHARP_BOOKS
from edge_assets.schemas import MARKET_MAPPINGS, ODDS_QUOTES, PM_ORDER_BOOK_SNAPSHOTS, PM_SPORTSBOOK_LINES
from edge_assets.signals import (
    AGREEMENT_STD_ZERO,
    FRESH_AGE_ZERO_S,
    FULL_COVERAGE_BOOKS,
    MIN_AGREEING_BOOKS,
    MIN_MINUTES_TO_START,
    W_AGREEMENT,
    W_COVERAGE,
    W_FRESHNESS,
    select_signals,
)

SNAP = datetime(2026, 5, 1, 18, 0, tzinfo=UTC)
BOOKS = [
    "pinnacle", "circasports", "betfair_ex_eu", "lowvig", "draftkings", "fanduel", "betmgm",
    "williamhill_us", "betrivers", "bovada", "betonlineag", "mybookieag", "betus", "fanatics",
    "unibet_us", "superbook", "wynnbet", "espnbet", "hardrockbet", "ballybet", "betparx",
    "fliff", "windcreek", "si_sportsbook", "tipico_us",
]  # fmt: skip
RATE = 0.03
STAKE = 100.0
MAX_AGE = timedelta(minutes=10)
_NORMAL = NormalDist()


def _conform(df: pl.DataFrame, schema: Mapping[str, PolarsDataType]) -> pl.DataFrame:
    """Contract columns in order; the ones the synthetic world does not fill are null."""
    return df.select(
        [pl.col(c).cast(t) if c in df.columns else pl.lit(None, t).alias(c) for c, t in schema.items()]
    )


def make_world(n_markets: int, n_books: int, seed: int = 7) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    books = BOOKS[:n_books]
    p_home = rng.uniform(0.2, 0.8, n_markets)
    ev_ids = np.array([f"ev{i}" for i in range(n_markets)])
    # odds: per market x book x outcome
    m_idx = np.repeat(np.arange(n_markets), n_books * 2)
    b_idx = np.tile(np.repeat(np.arange(n_books), 2), n_markets)
    o_idx = np.tile([0, 1], n_markets * n_books)
    true_p = np.where(o_idx == 0, p_home[m_idx], 1 - p_home[m_idx])
    noisy = np.clip(true_p + rng.normal(0, 0.01, true_p.size), 0.02, 0.98)
    margin = rng.uniform(0.02, 0.06, n_markets * n_books)[m_idx * n_books + b_idx]
    price = 1.0 / np.clip(noisy * (1 + margin), 0.01, 0.99)
    age = rng.uniform(0, 900, n_markets * n_books)[m_idx * n_books + b_idx]  # some stale (> 600 s)
    ts = [SNAP - timedelta(seconds=float(a)) for a in age]
    odds = pl.DataFrame(
        {
            "observed_at": ts,
            "event_id": ev_ids[m_idx],
            "sport_key": "basketball_nba",
            "commence_time": SNAP + timedelta(hours=2),
            "home_team": "H",
            "away_team": "A",
            "bookmaker": np.array(books)[b_idx],
            "market_key": "h2h",
            "outcome_name": np.where(o_idx == 0, "Home", "Away"),
            "point": None,
            "price_decimal": price,
            "last_update": ts,
        },
        schema_overrides=ODDS_QUOTES,
    ).pipe(_conform, ODDS_QUOTES)

    # Polymarket: token per outcome, 10 levels a side around the true price (+ noise: some edges)
    n_tok = n_markets * 2
    tok_m = np.repeat(np.arange(n_markets), 2)
    tok_o = np.tile([0, 1], n_markets)
    tok_ids = np.array([f"tok{i}" for i in range(n_tok)])
    tok_p = np.where(tok_o == 0, p_home[tok_m], 1 - p_home[tok_m])
    best_ask = np.clip(np.round(tok_p + rng.normal(-0.01, 0.03, n_tok), 2), 0.02, 0.97)
    lv = np.arange(10)
    ask_px = np.clip(best_ask[:, None] + 0.01 * lv[None, :], 0.01, 0.99).ravel()
    bid_px = np.clip(best_ask[:, None] - 0.01 * (lv[None, :] + 1), 0.01, 0.99).ravel()
    sizes = rng.uniform(5, 400, (n_tok, 20))
    books_df = pl.DataFrame(
        {
            "snapshot_at": SNAP - timedelta(seconds=30),
            "token_id": np.concatenate([np.repeat(tok_ids, 10), np.repeat(tok_ids, 10)]),
            "market_id": "c",
            "side": ["ask"] * (n_tok * 10) + ["bid"] * (n_tok * 10),
            "level": np.concatenate([np.tile(lv, n_tok), np.tile(lv, n_tok)]).astype(np.int32),
            "price": np.concatenate([ask_px, bid_px]),
            "size": np.concatenate([sizes[:, :10].ravel(), sizes[:, 10:].ravel()]),
            "book_timestamp": SNAP - timedelta(minutes=2),
            "tick_size": 0.01,
            "min_order_size": 5.0,
        },
        schema_overrides=PM_ORDER_BOOK_SNAPSHOTS,
    ).pipe(_conform, PM_ORDER_BOOK_SNAPSHOTS)
    outcome = np.where(tok_o == 0, "Home", "Away")
    maps = pl.DataFrame(
        {
            "observed_at": SNAP,
            "pm_market_id": np.array([f"m{i}" for i in range(n_markets)])[tok_m],
            "pm_token_id": tok_ids,
            "pm_outcome": outcome,
            "odds_event_id": ev_ids[tok_m],
            "sport_key": "basketball_nba",
            "odds_outcome_name": outcome,
            "market_key": "h2h",
            "point": None,
            "confidence": 1.0,
            "method": "exact",
            "reason": None,
        },
        schema_overrides=MARKET_MAPPINGS,
    ).pipe(_conform, MARKET_MAPPINGS)
    fee = RATE * best_ask * (1 - best_ask)
    lines = pl.DataFrame(
        {
            "observed_at": SNAP,
            "event_id": ev_ids[tok_m],
            "bookmaker": "polymarket",
            "market_key": "h2h",
            "outcome_name": outcome,
            "point": None,
            "price_decimal": 1 / (best_ask + fee),
            "last_update": SNAP - timedelta(minutes=2),
            "pm_market_id": np.array([f"m{i}" for i in range(n_markets)])[tok_m],
            "pm_token_id": tok_ids,
            "best_ask": best_ask,
            "fee_per_share": fee,
            "size_available": sizes[:, 0],
        },
        schema_overrides=PM_SPORTSBOOK_LINES,
    ).pipe(_conform, PM_SPORTSBOOK_LINES)
    return {"lines": lines, "odds": odds, "books": books_df, "maps": maps}


def tick(w: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    feats = build_features_latest(
        w["lines"],
        w["odds"],
        w["books"],
        w["maps"],
        snapshot_at=SNAP,
        stake_usdc=STAKE,
        max_quote_age=MAX_AGE,
    )
    return feats, select_signals(feats, min_size_usdc=25.0)


# ---------------------------------------------------------------- per-row Python twin of the tick
# One function per step of build_features_latest / select_signals, in the same order, using the
# same module constants (thresholds, weights, line sds), so a change there has one obvious place
# here. Matched against edge_assets/features/latest.py with retarget_lines and the pm_news /
# stale_consensus columns (null here: the tick passes no pm_history, and select_signals does not
# read them) and edge_assets/signals.py with the five checks (agreement over >= 2 books,
# freshness of the NEWEST quote, null best book passes the price check, timing >= 30 min).
# Only the multiplicative de-vig (the tick's default) is twinned.

Row = dict[str, Any]


def _latest(rows: Iterable[Row], key: Callable[[Row], tuple], order: Callable[[Row], tuple]) -> dict:
    """Latest row per key (``order`` ascending, last wins), like sort + unique(keep="last")."""
    out: dict[tuple, Row] = {}
    for r in rows:
        k = key(r)
        if k not in out or order(r) >= order(out[k]):
            out[k] = r
    return out


def _quote_key(r: Row) -> tuple:
    return (r["event_id"], r["market_key"], r["point"], r["outcome_name"])


def _fresh_latest(rows: Iterable[Row], snap: datetime) -> list[Row]:
    """consensus.fresh_latest_quotes: quote time = last_update or observed_at, no look-ahead,
    age <= MAX_AGE, latest per (key, book)."""
    keep = []
    for r in rows:
        quote_at = r["last_update"] or r["observed_at"]
        age = (snap - quote_at).total_seconds()
        if quote_at <= snap and r["observed_at"] <= snap and age <= MAX_AGE.total_seconds():
            keep.append({**r, "quote_at": quote_at, "age_s": age})
    latest = _latest(
        keep, lambda r: (*_quote_key(r), r["bookmaker"]), lambda r: (r["observed_at"], r["quote_at"])
    )
    return list(latest.values())


def _devig_mult(fresh: list[Row]) -> list[Row]:
    """devig_frame(multiplicative) per (event, book, market, |point| for spreads): a group needs 2+
    outcomes and every price finite and > 1, else its fair_prob is None."""
    groups: dict[tuple, list[Row]] = defaultdict(list)
    for r in fresh:
        pt = r["point"]
        pg = abs(pt) if pt is not None and r["market_key"].startswith("spreads") else pt
        groups[(r["event_id"], r["bookmaker"], r["market_key"], pg)].append(r)
    out = []
    for rows in groups.values():
        prices = [r["price_decimal"] for r in rows]
        ok = len(rows) >= 2 and all(p is not None and math.isfinite(p) and p > 1.0 for p in prices)
        s = sum(1.0 / p for p in prices) if ok else 0.0
        out += [{**r, "fair_prob": (1.0 / r["price_decimal"]) / s if ok else None} for r in rows]
    return out


def _poisson_cdf(k: int, lam: float) -> float:
    """P(X <= k) for X ~ Poisson(lam), summed term by term."""
    term = total = math.exp(-lam)
    for i in range(1, k + 1):
        term *= lam / i
        total += term
    return total


def _poisson_mean(k: int, p_under: float) -> float:
    """The Poisson mean with P(X <= k) = p_under, by bisection (the cdf falls as the mean grows)."""
    lo, hi = 0.0, 50.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _poisson_cdf(k, mid) > p_under else (lo, mid)
    return (lo + hi) / 2


def _event_sd(fair: list[Row]) -> dict[str, float]:
    """event_margin_sd: per book sd_b = L / (Phi^-1(p_L) - Phi^-1(p_0)) from its two-way moneyline
    and its spread quote of the same team, kept within MAX_SD_RATIO of the league sd, averaged per
    book; the median over the event's books when there are MIN_SD_BOOKS of them."""
    ml_groups: dict[tuple, list[Row]] = defaultdict(list)
    for r in fair:
        if r["market_key"] == ML_ANCHOR_MARKET and r["fair_prob"] is not None:
            ml_groups[(r["event_id"], r["bookmaker"])].append(r)
    p0 = {
        (r["event_id"], r["bookmaker"], r["outcome_name"]): r["fair_prob"]
        for rows in ml_groups.values()
        if len(rows) == 2 and not any(r["outcome_name"] in ("Draw", "draw") for r in rows)
        for r in rows
    }
    per_book: dict[tuple, list[float]] = defaultdict(list)
    for r in fair:
        if r["market_key"] != "spreads" or not r["point"] or r["fair_prob"] is None:
            continue
        q0 = p0.get((r["event_id"], r["bookmaker"], r["outcome_name"]))
        lsd = LINE_SD.get((r["sport_key"], "spreads"))
        if q0 is None or lsd is None or not (0.0 < r["fair_prob"] < 1.0 and 0.0 < q0 < 1.0):
            continue
        dz = _NORMAL.inv_cdf(r["fair_prob"]) - _NORMAL.inv_cdf(q0)
        if dz != 0.0 and 1.0 / MAX_SD_RATIO <= r["point"] / dz / lsd <= MAX_SD_RATIO:
            per_book[(r["event_id"], r["bookmaker"])].append(r["point"] / dz)
    per_event: dict[str, list[float]] = defaultdict(list)
    for (ev, _), xs in per_book.items():
        per_event[ev].append(sum(xs) / len(xs))
    return {ev: median(xs) for ev, xs in per_event.items() if len(xs) >= MIN_SD_BOOKS}


def _retarget(fair: list[Row], maps: list[Row]) -> list[Row]:
    """retarget_lines: spreads/totals quotes nearest each mapped line (within MAX_LINE_SHIFT_SD sd)
    moved there with p = Phi(Phi^-1(p) + sign d / sd); a two-way moneyline is also a spreads quote
    at point 0; soccer totals move by <= POISSON_MAX_SHIFT goals with the Poisson goals model;
    other markets unchanged; a spread's sd is the event's measured one (_event_sd) where there is one."""
    esd = _event_sd(fair)
    lined = ("spreads", "totals")
    other = [r for r in fair if not (r["market_key"] in lined and r["point"] is not None)]
    quotes = [r for r in fair if r["market_key"] in lined and r["point"] is not None]
    ml_groups: dict[tuple, list[Row]] = defaultdict(list)
    for r in fair:
        if r["market_key"] == ML_ANCHOR_MARKET and r["fair_prob"] is not None:
            ml_groups[(r["event_id"], r["bookmaker"])].append(r)
    for rows in ml_groups.values():
        if len(rows) == 2 and not any(r["outcome_name"] in ("Draw", "draw") for r in rows):
            quotes += [{**r, "market_key": "spreads", "point": 0.0} for r in rows]
    targets: dict[tuple, set[float]] = defaultdict(set)
    for m in maps:
        if m["point"] is not None and m["market_key"] in lined:
            targets[(m["event_id"], m["market_key"], m["outcome_name"])].add(m["point"])
    best: dict[tuple, tuple[tuple, Row, float, float | None, bool]] = {}
    for r in quotes:
        pois = r["market_key"] == "totals" and r["sport_key"].startswith(POISSON_TOTALS_PREFIX)
        for tgt in targets.get((r["event_id"], r["market_key"], r["outcome_name"]), ()):
            d = tgt - r["point"]
            sd = LINE_SD.get((r["sport_key"], r["market_key"]))
            if r["market_key"] == "spreads" and r["event_id"] in esd:
                sd = esd[r["event_id"]]
            if pois:
                half = r["point"] % 1.0 == 0.5 and tgt % 1.0 == 0.5
                if d != 0 and not (half and abs(d) <= POISSON_MAX_SHIFT):
                    continue
            elif d != 0 and (sd is None or abs(d) > MAX_LINE_SHIFT_SD * sd):
                continue
            k = (r["event_id"], r["market_key"], r["outcome_name"], tgt, r["bookmaker"])
            rank = (abs(d), r["point"])
            if k not in best or rank < best[k][0]:
                best[k] = (rank, r, d, sd, pois)
    moved = []
    for (_, _, _, tgt, _), (_, r, d, sd, pois) in best.items():
        p = r["fair_prob"]
        over = r["outcome_name"] == "Over"
        if p is not None and d != 0.0 and pois:
            lam = _poisson_mean(math.floor(r["point"]), 1.0 - p if over else p)
            under = _poisson_cdf(math.floor(tgt), lam)
            p = 1.0 - under if over else under
        elif p is not None and d != 0.0 and sd is not None and 0.0 < p < 1.0:
            p = _NORMAL.cdf(_NORMAL.inv_cdf(p) + (-1.0 if over else 1.0) * d / sd)
        moved.append({**r, "fair_prob": p, "point": tgt})
    return other + moved


def _consensus(fair: list[Row], snap: datetime) -> dict[tuple, Row]:
    """consensus: fresh latest per (key, book) again, weighted mean, sharp share, std, ages."""
    acc: dict[tuple, list[tuple[float, float, bool, float]]] = defaultdict(list)
    for r in _fresh_latest(fair, snap):
        p = r["fair_prob"]
        wt = DEFAULT_BOOK_WEIGHTS.get(r["bookmaker"], DEFAULT_WEIGHT)
        if p is None or math.isnan(p) or wt <= 0:
            continue
        acc[_quote_key(r)].append((p, wt, r["bookmaker"] in SHARP_BOOKS, r["age_s"]))
    out = {}
    for key, xs in acc.items():
        ps = [x[0] for x in xs]
        mean = sum(ps) / len(ps)
        out[key] = {
            "fair_prob": sum(p * w for p, w, _, _ in xs) / sum(w for _, w, _, _ in xs),
            "n_books": len(xs),
            "n_sharp": sum(s for _, _, s, _ in xs),
            "fair_std": math.sqrt(sum((p - mean) ** 2 for p in ps) / len(ps)),
            "book_min_age_s": min(x[3] for x in xs),
        }
    return out


def _rule_confidence(c: Row) -> float:
    """signals.rule_confidence: agreement (>= MIN_AGREEING_BOOKS), freshness of the newest quote,
    coverage (books, any sharp)."""
    clip = lambda x: min(max(x, 0.0), 1.0)  # noqa: E731
    agreement = clip(1.0 - c["fair_std"] / AGREEMENT_STD_ZERO) if c["n_books"] >= MIN_AGREEING_BOOKS else 0.0
    freshness = clip(1.0 - c["book_min_age_s"] / FRESH_AGE_ZERO_S)
    coverage = 0.5 * clip(c["n_books"] / FULL_COVERAGE_BOOKS) + 0.5 * (c["n_sharp"] > 0)
    return W_AGREEMENT * agreement + W_FRESHNESS * freshness + W_COVERAGE * coverage


def _walk_and_liquidity(levels: list[tuple[float, float]], fee_rate: float, fair: float) -> tuple:
    """walk_books (buy STAKE USDC up the asks, fee per level) and size_at_or_better at the
    break-even price; (effective price or None, liquidity USDC)."""
    spent = shares = fee = 0.0
    for px, sz in sorted(levels):
        take = min(px * sz, max(STAKE - spent, 0.0))
        spent += take
        shares += take / px
        fee += (take / px) * fee_rate * px * (1 - px)
    if shares <= 0:
        return None, 0.0
    r = fee_rate
    be = 2 * fair / ((1 + r) + math.sqrt((1 + r) ** 2 - 4 * r * fair))
    liq = sum(px * sz for px, sz in levels if px <= be + 1e-9)
    return spent / shares + fee / shares, liq


def loop_tick(w: dict[str, pl.DataFrame]) -> set[str]:
    """The tick as plain per-row Python over the frames' rows; returns the signalled token ids."""
    snap = SNAP
    maps = [
        m
        for m in _latest(
            (r for r in w["maps"].iter_rows(named=True) if r["method"] in MATCHED_METHODS),
            lambda r: (r["pm_token_id"],),
            lambda r: (r["observed_at"],),
        ).values()
        if m["odds_outcome_name"] is not None
    ]
    maps = [{**m, "event_id": m["odds_event_id"], "outcome_name": m["odds_outcome_name"]} for m in maps]
    odds = list(w["odds"].iter_rows(named=True))
    fresh = _fresh_latest((r for r in odds if r["bookmaker"] != "polymarket"), snap)
    cons = _consensus(_retarget(_devig_mult(fresh), maps), snap)
    best_dec: dict[tuple, float] = {}
    for r in fresh:
        best_dec[_quote_key(r)] = max(best_dec.get(_quote_key(r), -math.inf), r["price_decimal"])
    commence = {
        e[0]: r["commence_time"]
        for e, r in _latest(odds, lambda r: (r["event_id"],), lambda r: (r["observed_at"],)).items()
    }
    book_rows = [r for r in w["books"].iter_rows(named=True) if r["snapshot_at"] <= snap]
    last_snap = _latest(book_rows, lambda r: (r["token_id"],), lambda r: (r["snapshot_at"],))
    asks: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for r in book_rows:
        if (
            r["snapshot_at"] == last_snap[(r["token_id"],)]["snapshot_at"]
            and r["side"] == "ask"
            and r["price"] is not None
            and r["size"] is not None
            and r["size"] > 0
        ):
            asks[r["token_id"]].append((r["price"], r["size"]))
    lines = _latest(
        w["lines"].iter_rows(named=True), lambda r: (r["pm_token_id"],), lambda r: (r["observed_at"],)
    )

    signals = set()
    for m in maps:
        key = (m["event_id"], m["market_key"], m["point"], m["outcome_name"])
        c = cons.get(key)
        ln = lines.get((m["pm_token_id"],))
        la, lf = (ln["best_ask"], ln["fee_per_share"]) if ln else (None, None)
        fee_rate = lf / (la * (1 - la)) if la is not None and 0 < la < 1 and lf is not None else 0.0
        if c is None:
            continue  # no fair value: EV is null, the EV check fails
        eff, liq = _walk_and_liquidity(asks.get(m["pm_token_id"], []), fee_rate, c["fair_prob"])
        if eff is None:
            continue
        book = best_dec.get(key)
        start = commence.get(m["event_id"])
        checks = (
            _rule_confidence(c) >= 0.6,
            book is None or 1 / eff > book,
            c["fair_prob"] / eff - 1 >= 0.03,
            liq >= 25.0,
            start is not None and (start - snap).total_seconds() / 60 >= MIN_MINUTES_TO_START,
        )
        if all(checks):
            signals.add(m["pm_token_id"])
    return signals


def _subset(w: dict[str, pl.DataFrame], n_markets: int) -> dict[str, pl.DataFrame]:
    evs = [f"ev{i}" for i in range(n_markets)]
    toks = [f"tok{i}" for i in range(2 * n_markets)]
    return {
        "odds": w["odds"].filter(pl.col("event_id").is_in(evs)),
        "books": w["books"].filter(pl.col("token_id").is_in(toks)),
        "maps": w["maps"].filter(pl.col("pm_token_id").is_in(toks)),
        "lines": w["lines"].filter(pl.col("pm_token_id").is_in(toks)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", type=int, default=2000)
    ap.add_argument("--books", type=int, default=25)
    ap.add_argument("--loop-share", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    w = make_world(args.markets, args.books)
    print(
        f"comparator tick: {w['odds'].height:,} quote rows "
        f"({args.markets:,} markets x {args.books} books x 2), "
        f"{w['books'].height:,} book levels, {w['maps'].height:,} mapped tokens"
    )
    feats, sigs = tick(w)  # warm-up (imports, seed CSV)
    best = math.inf
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        feats, sigs = tick(w)
        best = min(best, time.perf_counter() - t0)
    t0 = time.perf_counter()
    feats = build_features_latest(
        w["lines"],
        w["odds"],
        w["books"],
        w["maps"],
        snapshot_at=SNAP,
        stake_usdc=STAKE,
        max_quote_age=MAX_AGE,
    )
    t_feat = time.perf_counter() - t0
    n_loop_m = max(1, int(args.markets * args.loop_share))
    sub = _subset(w, n_loop_m)
    t0 = time.perf_counter()
    loop_signals = loop_tick(sub)
    loop_s = (time.perf_counter() - t0) * args.markets / n_loop_m
    vec_signals = set(tick(sub)[1]["pm_token_id"].to_list())
    print(f"features rows: {feats.height:,}; signals: {sigs.height:,}")
    print(
        "vectorized tick (build_features_latest + select_signals): "
        f"{best * 1000:.0f} ms (best of {args.repeat});"
    )
    print(f"  of which build_features_latest ~{t_feat * 1000:.0f} ms")
    print(
        f"per-row Python loop: {loop_s * 1000:.0f} ms extrapolated from {n_loop_m:,} markets "
        f"(x{args.markets / n_loop_m:.0f}, one run); speed-up {loop_s / best:.1f}x"
    )
    if loop_signals != vec_signals:
        only_loop = sorted(loop_signals - vec_signals)[:5]
        only_vec = sorted(vec_signals - loop_signals)[:5]
        print(
            f"ERROR: the loop twin and the vectorized tick disagree on the {n_loop_m:,}-market subset: "
            f"loop {len(loop_signals)} signals, vectorized {len(vec_signals)}; "
            f"only in loop e.g. {only_loop}, only vectorized e.g. {only_vec}",
            file=sys.stderr,
        )
        sys.exit(1)
    print(f"  loop twin and vectorized tick agree: the same {len(vec_signals)} signals on the subset")


if __name__ == "__main__":
    main()

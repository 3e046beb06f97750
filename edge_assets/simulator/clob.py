"""Polymarket CLOB market-data endpoints (`/book`, `/books`, `/midpoint`, `/price`, `/prices-history`, ...).

Why: reproduces the real quirks clients trip over (apis.md §2): string prices, bids ascending
and asks descending (best = last element), `/price?side=BUY` = best bid, a book `timestamp`
in milliseconds that is the last change (not the request time), and empty fine-fidelity
history for resolved markets asked with `interval=max`.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np

from edge_assets.simulator.gamma import num_str
from edge_assets.simulator.world import GRID_S, PMBook, World, h64, last_param, to_ts

INTERVALS = {"1h": 3600, "6h": 6 * 3600, "1d": 86400, "1w": 7 * 86400, "1m": 30 * 86400}
NO_BOOK = {"error": "No orderbook exists for the requested token id"}


class ClobError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


class _StrMemo(dict[float, str]):
    """Number -> JSON string, bounded: `memo[x]` is a plain dict hit, formatting only on a miss.

    Why: 4-decimal prices repeat across books and hours, and sizes recur (whole ones, and the two
    tokens of a market show the same sizes), while formatting costs more than the lookup."""

    def __init__(self, fmt: Callable[[float], str]) -> None:
        super().__init__()
        self._fmt = fmt

    def __missing__(self, x: float) -> str:
        if len(self) >= 1 << 15:
            self.clear()
        got = self[x] = self._fmt(x)
        return got


def _size_text(s: float) -> str:
    """`num_str(s, 2)` inlined (a quarter of the sizes are new): whole sizes skip the float format."""
    if s.is_integer():
        return str(int(s))
    text = f"{s:.2f}".rstrip("0").rstrip(".")
    return text if text != "-0" else "0"


_PRICE_STR = _StrMemo(num_str)
# the second token of a market quotes the first token's levels at 1 - price (`World.pm_book`)
_MIRROR_STR = _StrMemo(lambda p: num_str(round(1 - p, 4)))
_SIZE_STR = _StrMemo(_size_text)


@lru_cache(maxsize=256)
def _hash_template(n_bids: int, n_asks: int) -> str:
    """%-template of `json.dumps([token_id, bids, asks, timestamp_ms])` (default separators)."""

    def levels(n: int) -> str:
        return "[" + ", ".join(['{"price": "%s", "size": "%s"}'] * n) + "]"

    return "[%s, " + levels(n_bids) + ", " + levels(n_asks) + ", %d]"


def _side(levels: list[tuple[float, float]], prices: _StrMemo, args: list[object]) -> list[dict[str, str]]:
    """One side's level dicts; their strings are appended to `args` for the hash text."""
    sizes = _SIZE_STR
    out = []
    for p, s in levels:
        ps, ss = prices[p], sizes[s]
        out.append({"price": ps, "size": ss})
        args += (ps, ss)
    return out


def _book_body(
    token: str,
    market: str,
    bids: list[tuple[float, float]],
    asks: list[tuple[float, float]],
    prices: _StrMemo,
    tick: float,
    last_trade: float,
    ts_ms: int,
    neg_risk: bool,
) -> dict[str, Any]:
    """The `/book` JSON; prices (levels, last trade) format through `prices`, mirrored for outcome 1."""
    args: list[object] = [f'"{token}"' if token.isascii() and token.isdigit() else json.dumps(token)]
    bid_dicts = _side(bids, prices, args)
    ask_dicts = _side(asks, prices, args)
    args.append(ts_ms)
    # == sha1(json.dumps([token, bids, asks, ts_ms])) without encoding the levels again: their
    # strings are digits, '.' and '-' only, so no JSON escaping applies
    text = _hash_template(len(bid_dicts), len(ask_dicts)) % tuple(args)
    return {
        "market": market,
        "asset_id": token,
        "timestamp": str(ts_ms),
        "hash": hashlib.sha1(text.encode()).hexdigest(),
        "bids": bid_dicts,
        "asks": ask_dicts,
        "min_order_size": "5",
        "tick_size": _PRICE_STR[tick],
        "neg_risk": neg_risk,
        "last_trade_price": prices[last_trade],
    }


def book_json(b: PMBook) -> dict[str, Any]:
    return _book_body(
        b.token_id,
        b.condition_id,
        b.bids,
        b.asks,
        _PRICE_STR,
        b.tick,
        b.last_trade,
        b.timestamp_ms,
        b.neg_risk,
    )


class Clob:
    def __init__(self, world: World) -> None:
        self.w = world

    def _book(self, token: str | None, now: datetime) -> PMBook:
        if not token:
            raise ClobError(400, {"error": "Invalid payload"})
        b = self.w.pm_book(token, now)
        if b is None:
            raise ClobError(404, NO_BOOK)
        return b

    def book(self, token: str | None, now: datetime) -> dict[str, Any]:
        return book_json(self._book(token, now))

    def books(self, body: Any, now: datetime) -> list[dict[str, Any]]:
        if not isinstance(body, list) or not all(isinstance(x, dict) and "token_id" in x for x in body):
            raise ClobError(400, {"error": "Invalid payload"})
        tokens = [str(item["token_id"]) for item in body]
        out = []
        for token, src in zip(tokens, self.w.pm_book_sources(tokens, now), strict=True):
            if src is None:
                continue
            mk, o, neg_risk, (bids, asks, tick, last_trade, _), ts_ms = src
            if o == 1:
                # `World.pm_book`'s mirror without the float round trip: the second token's bids are
                # the first's asks (descending) at 1 - price, so already ascending (its sort is a
                # no-op on distinct 4-decimal prices), and its asks the first's bids
                bids, asks, prices = asks, bids, _MIRROR_STR
            else:
                prices = _PRICE_STR
            out.append(
                _book_body(token, mk.condition_id, bids, asks, prices, tick, last_trade, ts_ms, neg_risk)
            )
        return out

    def midpoint(self, token: str | None, now: datetime) -> dict[str, Any]:
        b = self._book(token, now)
        bb = b.bids[-1][0] if b.bids else 0.0
        ba = b.asks[-1][0] if b.asks else 0.0
        return {"mid": num_str((bb + ba) / 2, 5)}

    def price(self, token: str | None, side: str | None, now: datetime) -> dict[str, Any]:
        if side is None or side.upper() not in ("BUY", "SELL"):
            raise ClobError(400, {"error": "Invalid side"})
        b = self._book(token, now)
        if side.upper() == "BUY":  # resting bids
            return {"price": num_str(b.bids[-1][0]) if b.bids else "0"}
        return {"price": num_str(b.asks[-1][0]) if b.asks else "0"}

    def spread(self, token: str | None, now: datetime) -> dict[str, Any]:
        b = self._book(token, now)
        bb = b.bids[-1][0] if b.bids else 0.0
        ba = b.asks[-1][0] if b.asks else 0.0
        return {"spread": num_str(ba - bb)}

    def last_trade_price(self, token: str | None, now: datetime) -> dict[str, Any]:
        b = self._book(token, now)
        return {"price": num_str(b.last_trade), "side": "BUY"}

    def tick_size(self, token: str | None, now: datetime) -> dict[str, Any]:
        return {"minimum_tick_size": self._book(token, now).tick}

    def neg_risk(self, token: str | None, now: datetime) -> dict[str, Any]:
        return {"neg_risk": self._book(token, now).neg_risk}

    def prices_history(self, q: dict[str, list[str]], now: datetime) -> dict[str, Any]:
        token = last_param(q, "market")
        if not token:
            raise ClobError(400, {"error": "market is required"})
        found = self.w.lookup_token(token)
        if found is None:
            return {"history": []}
        det, mk, o = found
        interval = last_param(q, "interval")
        start_ts = last_param(q, "startTs")
        end_ts = last_param(q, "endTs")
        try:
            fidelity = int((q.get("fidelity") or ["1"])[-1])
        except ValueError as exc:
            raise ClobError(400, {"error": "invalid fidelity"}) from exc
        if interval is not None and (start_ts is not None or end_ts is not None):
            raise ClobError(400, {"error": "startTs/endTs and interval are mutually exclusive"})
        now_s = to_ts(now)
        created = to_ts(mk.created_at)
        closed_at = to_ts(det.game.closed_at) if det is not None else None
        resolved = closed_at is not None and now_s >= closed_at
        last = min(now_s, closed_at) if closed_at is not None else now_s
        if interval is not None:
            if interval not in (*INTERVALS, "max", "all"):
                raise ClobError(400, {"error": f"invalid interval {interval}"})
            if interval in ("max", "all"):
                if resolved and fidelity < 720:
                    return {"history": []}
                lo = created
            else:
                lo = max(created, last - INTERVALS[interval])
            hi = last
        else:
            try:
                lo = max(created, int(start_ts)) if start_ts is not None else created
                hi = min(last, int(end_ts)) if end_ts is not None else last
            except ValueError as exc:
                raise ClobError(400, {"error": "invalid startTs/endTs"}) from exc
        step = max(fidelity, 1) * 60
        if hi < lo:
            return {"history": []}
        first = (lo // step) * step
        buckets = np.arange(first, hi + 1, step, dtype=np.int64)
        buckets = buckets[buckets >= lo - step + 1] if len(buckets) else buckets
        if len(buckets) > 20_000:
            buckets = buckets[-20_000:]
        salt = h64(self.w.seed, "ph", mk.market_id)
        jitter = np.array([h64(salt, int(b)) % 20 for b in buckets], dtype=np.int64)
        ts = buckets + jitter
        keep = (ts >= lo) & (ts <= hi)
        ts = ts[keep]
        ks = ts // GRID_S
        p = self.w.pm_prob_first(det, mk, ks)
        if o == 1:
            p = 1 - p
        p = np.round(p, 4)
        return {
            "history": [{"t": int(t), "p": float(v)} for t, v in zip(ts.tolist(), p.tolist(), strict=True)]
        }

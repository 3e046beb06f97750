"""Polymarket CLOB market-data endpoints (`/book`, `/books`, `/midpoint`, `/price`, `/prices-history`, ...).

Why: reproduces the real quirks clients trip over (apis.md §2): string prices, bids ascending
and asks descending (best = last element), `/price?side=BUY` = best bid, a book `timestamp`
in milliseconds that is the last change (not the request time), and empty fine-fidelity
history for resolved markets asked with `interval=max`.
"""

import hashlib
import json
from datetime import datetime
from typing import Any

import numpy as np

from edge_assets.simulator.gamma import NUM_STR_MEMO, num_str
from edge_assets.simulator.world import GRID_S, PMBook, World, h64, to_ts

INTERVALS = {"1h": 3600, "6h": 6 * 3600, "1d": 86400, "1w": 7 * 86400, "1m": 30 * 86400}
NO_BOOK = {"error": "No orderbook exists for the requested token id"}


class ClobError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def _levels(levels: list[tuple[float, float]]) -> tuple[list[dict[str, str]], str]:
    """Level dicts and their `json.dumps` text (default separators), built in one pass: the
    strings are digits, '.' and '-' only, so no JSON escaping can apply."""
    out = []
    texts = []
    cached = NUM_STR_MEMO.get
    for p, s in levels:
        ps = cached(p) or num_str(p)
        ss = num_str(s, 2)
        out.append({"price": ps, "size": ss})
        texts.append(f'{{"price": "{ps}", "size": "{ss}"}}')
    return out, "[" + ", ".join(texts) + "]"


def book_json(b: PMBook) -> dict[str, Any]:
    bids, bids_text = _levels(b.bids)
    asks, asks_text = _levels(b.asks)
    # == sha1(json.dumps([b.token_id, bids, asks, b.timestamp_ms])), without re-encoding the levels
    text = f"[{json.dumps(b.token_id)}, {bids_text}, {asks_text}, {json.dumps(b.timestamp_ms)}]"
    digest = hashlib.sha1(text.encode()).hexdigest()
    return {
        "market": b.condition_id,
        "asset_id": b.token_id,
        "timestamp": str(b.timestamp_ms),
        "hash": digest,
        "bids": bids,
        "asks": asks,
        "min_order_size": "5",
        "tick_size": num_str(b.tick),
        "neg_risk": b.neg_risk,
        "last_trade_price": num_str(b.last_trade),
    }


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
        out = []
        for item in body:
            b = self.w.pm_book(str(item["token_id"]), now)
            if b is not None:
                out.append(book_json(b))
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
        token = (q.get("market") or [None])[-1]
        if not token:
            raise ClobError(400, {"error": "market is required"})
        found = self.w.lookup_token(token)
        if found is None:
            return {"history": []}
        det, mk, o = found
        interval = (q.get("interval") or [None])[-1]
        start_ts = (q.get("startTs") or [None])[-1]
        end_ts = (q.get("endTs") or [None])[-1]
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

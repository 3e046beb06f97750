"""Simulator cost of the per-hour backfill request pattern, with a digest of every response.

Why: `edge backfill` replays past hours against the embedded simulator; this reproduces exactly
the requests the clients send per hour (Gamma /events pages, CLOB POST /books batches, live
/odds and historical /odds for the five sports) so simulator optimisations can be timed and
proven byte-identical (same sha256 over every request, status and body, in order).

Usage: python bench/sim_backfill_pattern.py [--hours 24] [--seed 7] [--end 2026-11-24T00:00Z]
       [--order hour|asset]

The digest is fed in hour order whatever --order is (asset order buffers one chunk's requests
and feeds them in hour order when the chunk ends), so both orders must print the same digest.
"""

import argparse
import hashlib
import json
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from edge_assets.simulator import SimulatorApp, World

SPORTS = ("basketball_nba", "americanfootball_nfl", "icehockey_nhl", "baseball_mlb", "soccer_epl")
IN_SCOPE_TYPES = ("moneyline", "spreads", "totals")
PAGE_LIMIT = 100  # GammaClient.PAGE_LIMIT
CHUNK_HOURS = 48  # hours per backfill run (asset order materializes each asset over a chunk)
BOOKS_BATCH = 100  # ClobClient.BOOKS_BATCH
API_KEY = "sim-key"
ODDS_PARAMS = {
    "regions": "us,eu",
    "markets": "h2h,spreads,totals",
    "oddsFormat": "decimal",
    "dateFormat": "iso",
}


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


class Recorder:
    """Clock holder, server-side timer per endpoint and the running digest."""

    def __init__(self, app: SimulatorApp) -> None:
        self.app = app
        self.now = datetime(2026, 1, 1, tzinfo=UTC)
        self.sha = hashlib.sha256()
        self.server_s: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.label = ""
        self.bytes = 0
        # asset order: the digest input of each (hour, step) slot, fed in hour order by `flush`
        self.slot: tuple[int, int] | None = None
        self.pending: dict[tuple[int, int], list[bytes]] = defaultdict(list)

    def clock(self) -> datetime:
        return self.now

    def handle(self, request: httpx.Request) -> httpx.Response:
        t0 = time.perf_counter()
        resp = self.app.handle(request)
        self.server_s[self.label] += time.perf_counter() - t0
        self.calls[self.label] += 1
        parts = (
            f"{request.method} {request.url}\n".encode(),
            request.content or b"",
            f"\n{resp.status_code}\n".encode(),
            resp.content,
        )
        if self.slot is None:
            for part in parts:
                self.sha.update(part)
        else:
            self.pending[self.slot].extend(parts)
        self.bytes += len(resp.content)
        return resp

    def flush(self) -> None:
        """Feed the buffered slots to the digest in (hour, step) order: the hour-order stream."""
        for key in sorted(self.pending):
            for part in self.pending[key]:
                self.sha.update(part)
        self.pending.clear()


def run(seed: int, hours: int, end: datetime, order: str = "hour") -> dict[str, Any]:
    """order="hour": every endpoint for hour H, then H+1; order="asset": in chunks of
    CHUNK_HOURS, each endpoint over the chunk's hours before the next (how one backfill run
    materializes pm_markets, then pm_order_book_snapshots, then the odds assets)."""
    rec_holder: list[Recorder] = []
    app = SimulatorApp(
        World(seed), clock=lambda: rec_holder[0].clock(), rate_limit_per_s=None, api_key=API_KEY
    )
    rec = Recorder(app)
    rec_holder.append(rec)
    client = httpx.Client(transport=httpx.MockTransport(rec.handle), base_url="http://sim")
    hist_now = end + timedelta(days=1)  # fixed "wall clock" for the historical calls (deterministic)
    start = end - timedelta(hours=hours)
    wall: dict[str, float] = defaultdict(float)
    hour_tokens: dict[int, list[str]] = {}

    def gamma(h: int) -> None:
        hour = start + timedelta(hours=h)
        rec.now = hour + timedelta(minutes=50)
        # Gamma /events pagination (GammaClient.events(closed=False, tag_id=1))
        rec.label = "gamma_events"
        t0 = time.perf_counter()
        events: list[dict[str, Any]] = []
        offset = 0
        while offset <= 10_000:
            params: dict[str, str | int] = {
                "tag_id": 1,
                "closed": "false",
                "limit": PAGE_LIMIT,
                "offset": offset,
            }
            page = client.get("/gamma/events", params=params).json()
            if not page:
                break
            events.extend(page)
            offset += PAGE_LIMIT
        wall["gamma_events"] += time.perf_counter() - t0
        # tokens of in-scope, open, accepting markets (pm_order_book_snapshots), sorted unique
        toks: set[str] = set()
        for ev in events:
            for m in ev.get("markets", []):
                if (
                    m.get("sportsMarketType") in IN_SCOPE_TYPES
                    and not m.get("closed")
                    and m.get("acceptingOrders")
                ):
                    toks.update(json.loads(m["clobTokenIds"]))
        hour_tokens[h] = sorted(toks)

    def clob(h: int) -> None:
        rec.now = start + timedelta(hours=h, minutes=50)
        tokens = hour_tokens.pop(h)
        rec.label = "clob_books"
        t0 = time.perf_counter()
        for i in range(0, len(tokens), BOOKS_BATCH):
            body = json.dumps([{"token_id": t} for t in tokens[i : i + BOOKS_BATCH]]).encode()
            client.post("/clob/books", content=body, headers={"content-type": "application/json"})
        wall["clob_books"] += time.perf_counter() - t0

    def live(h: int) -> None:
        rec.now = start + timedelta(hours=h, minutes=50)
        rec.label = "odds_live"
        t0 = time.perf_counter()
        for sport in SPORTS:
            client.get(f"/v4/sports/{sport}/odds", params={**ODDS_PARAMS, "apiKey": API_KEY})
        wall["odds_live"] += time.perf_counter() - t0

    def historical(h: int) -> None:
        hour = start + timedelta(hours=h)
        # historical: the snapshot just before the hour ends, asked with the real wall clock
        rec.now = hist_now
        rec.label = "odds_historical"
        t0 = time.perf_counter()
        date = _iso(hour + timedelta(minutes=59))
        for sport in SPORTS:
            client.get(
                f"/v4/historical/sports/{sport}/odds",
                params={**ODDS_PARAMS, "date": date, "apiKey": API_KEY},
            )
        wall["odds_historical"] += time.perf_counter() - t0

    steps = (gamma, clob, live, historical)
    t_all = time.perf_counter()
    if order == "hour":
        for h in range(hours):
            for fn in steps:
                fn(h)
    else:
        for c0 in range(0, hours, CHUNK_HOURS):
            chunk = range(c0, min(c0 + CHUNK_HOURS, hours))
            for i, fn in enumerate(steps):
                for h in chunk:
                    rec.slot = (h, i)
                    fn(h)
            rec.slot = None
            rec.flush()
    total = time.perf_counter() - t_all
    return {
        "seed": seed,
        "hours": hours,
        "end": _iso(end),
        "order": order,
        "total_s": total,
        "server_s": dict(rec.server_s),
        "wall_s": dict(wall),
        "calls": dict(rec.calls),
        "bytes": rec.bytes,
        "digest": rec.sha.hexdigest(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--end", default="2026-11-24T00:00Z", help="end of the window (exclusive), UTC")
    ap.add_argument("--order", choices=("hour", "asset"), default="hour", help="see run()")
    ap.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = ap.parse_args()
    end = datetime.fromisoformat(args.end.replace("Z", "+00:00"))
    res = run(args.seed, args.hours, end, args.order)
    if args.json:
        print(json.dumps(res))
        return
    h = res["hours"]
    print(f"seed {res['seed']}, {h} h to {res['end']}, {res['order']} order: total {res['total_s']:.2f} s")
    print(f"  {'endpoint':<18}{'calls':>7}{'server ms/h':>14}{'wall ms/h':>12}")
    for name in ("gamma_events", "clob_books", "odds_live", "odds_historical"):
        srv = res["server_s"].get(name, 0.0) * 1000 / h
        wl = res["wall_s"].get(name, 0.0) * 1000 / h
        print(f"  {name:<18}{res['calls'].get(name, 0):>7}{srv:>14.1f}{wl:>12.1f}")
    srv_total = sum(res["server_s"].values()) * 1000 / h
    print(f"  {'server total':<18}{'':>7}{srv_total:>14.1f}")
    print(f"  response bytes {res['bytes']:,}")
    print(f"digest {res['digest']}")


if __name__ == "__main__":
    main()

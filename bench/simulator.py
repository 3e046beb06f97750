"""Simulator latency: one live /odds call and one historical call (in-process transport), in ms."""

import statistics
import time
from datetime import UTC, datetime, timedelta

import httpx

from edge_assets.simulator import SimulatorApp, World

ODDS = "apiKey=sim-key&regions=us,eu&markets=h2h,spreads,totals"


def main() -> None:
    now = datetime(2026, 11, 20, 18, tzinfo=UTC)
    app = SimulatorApp(World(7), clock=lambda: now, rate_limit_per_s=None)
    client = httpx.Client(transport=app.transport(), base_url="http://sim")
    live, hist, events = [], [], []
    for i in range(20):
        t0 = time.perf_counter()
        client.get(f"/v4/sports/basketball_nba/odds?{ODDS}")
        live.append((time.perf_counter() - t0) * 1000)
        date = (now - timedelta(days=30, hours=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        t0 = time.perf_counter()
        client.get(f"/v4/historical/sports/basketball_nba/odds?{ODDS}&date={date}")
        hist.append((time.perf_counter() - t0) * 1000)
    for _ in range(3):
        t0 = time.perf_counter()
        client.get("/gamma/events?closed=false&tag_id=1&limit=100")
        events.append((time.perf_counter() - t0) * 1000)
    print("simulator latency, in-process transport (ms): median / max over the calls")
    rows = [
        ("/v4/sports/basketball_nba/odds (3 markets, 2 regions)", live),
        ("/v4/historical/.../odds, 20 different hours", hist),
        ("/gamma/events?limit=100 (nested markets + books)", events),
    ]
    for name, ms in rows:
        print(f"  {name:<55} {statistics.median(ms):6.1f} / {max(ms):6.1f}")


if __name__ == "__main__":
    main()

"""Odds API credits the live schedules spend a day, known before a key is switched on.

With the defaults (5 sports, 3 markets, 2 regions, live odds every 2 minutes) that is ~29,000
credits a day: a 100,000-credit plan runs dry in under four days, after which every poll fails.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from edge_assets.sources.oddsapi import SCORES_DAYS_FROM, odds_cost, scores_cost


@dataclass(frozen=True)
class CreditUse:
    poll: str
    calls_per_day: int
    credits_per_call: int

    @property
    def per_day(self) -> int:
        return self.calls_per_day * self.credits_per_call


def polls_per_hour(every_minutes: int) -> int:
    """Cron `*/N` restarts each hour: minutes 0, N, 2N, ... below 60."""
    return len(range(0, 60, every_minutes))


def credits_per_day(
    sports: Sequence[str], markets: str, regions: str, live_every_minutes: int
) -> list[CreditUse]:
    """One line per schedule that calls The Odds API (the hourly ones poll once an hour)."""
    n = len(sports)
    return [
        CreditUse(
            f"live odds /odds, every {live_every_minutes} min",
            n * 24 * polls_per_hour(live_every_minutes),
            odds_cost(markets, regions),
        ),
        CreditUse(
            "historical odds /historical/odds, hourly", n * 24, odds_cost(markets, regions, historical=True)
        ),
        CreditUse(
            f"scores /scores (daysFrom={SCORES_DAYS_FROM}), hourly", n * 24, scores_cost(SCORES_DAYS_FROM)
        ),
    ]

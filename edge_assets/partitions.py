"""The partitions definitions, defined once: changing a start date renames every key."""

from datetime import UTC, datetime, timedelta

import dagster as dg

START = "2025-06-01"
# end_offset=1: live polls upsert into the hour (day) in progress, so it must be a valid key.
HOURLY = dg.HourlyPartitionsDefinition(start_date=f"{START}-00:00", timezone="UTC", end_offset=1)
DAILY = dg.DailyPartitionsDefinition(start_date=START, timezone="UTC", end_offset=1)

HOUR_FMT = "%Y-%m-%d-%H:%M"


def hour_key(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d-%H:00")


def hour_start(key: str) -> datetime:
    return datetime.strptime(key, HOUR_FMT).replace(tzinfo=UTC)


def hours_between(start: datetime, end: datetime) -> list[str]:
    """Hourly keys whose hour starts in [start, end)."""
    cur = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    keys = []
    while cur < end:
        keys.append(hour_key(cur))
        cur += timedelta(hours=1)
    return keys

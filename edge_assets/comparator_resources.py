"""Resources for the comparator: thresholds, and the alert channels (secrets read at run time)."""

from collections.abc import Sequence
from typing import Any

import dagster as dg

from edge_assets.settings import Settings, get_settings


class ComparatorResource(dg.ConfigurableResource):
    min_ev: float = 0.03
    min_confidence: float = 0.6
    stake_usdc: float = 100.0
    min_trade_usdc: float = 25.0
    devig_method: str = "multiplicative"
    max_quote_age_s: int = 600


class AlertsResource(dg.ConfigurableResource):
    """Channels come from settings when a run starts, so webhook URLs and tokens never sit in config."""

    console: bool = False
    lake_root: str = "data/lake"
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    max_per_minute: int = 30
    max_age_minutes: int = 30  # older signals are past history (a backfill), not something to act on

    def dispatcher(self) -> Any:
        from edge_assets.alerts import AlertDispatcher, AlertLedger, build_channels

        s = get_settings()
        config = {
            **{k: getattr(s, k) for k in type(s).model_fields},
            "console": self.console or s.alert_console,
        }
        ledger = AlertLedger.in_lake(self.lake_root, self.ledger_options())
        return AlertDispatcher(build_channels(config), ledger, max_per_minute=self.max_per_minute)

    def ledger_options(self) -> dict[str, Any] | None:
        """fsspec options of the ledger on an S3 lake: its endpoint and region, as the lake's."""
        from edge_assets.alerts.ledger import s3_storage_options

        if not self.lake_root.startswith("s3://"):
            return None
        return s3_storage_options(self.s3_endpoint_url, self.s3_region)

    def send(self, alerts: Sequence[Any]) -> Any:
        """Dispatch these alerts (each once, by its id) and close the channels; the dispatch report."""
        from edge_assets.alerts.ledger import ledger_lock

        with ledger_lock(self.lake_root):  # the ledger read, the sends and the save as one step
            dispatcher = self.dispatcher()
            try:
                return dispatcher.dispatch(list(alerts))
            finally:
                dispatcher.close()


def build_comparator_resources(s: Settings) -> dict[str, object]:
    return {
        "comparator": ComparatorResource(
            min_ev=s.min_ev,
            min_confidence=s.min_confidence,
            stake_usdc=s.stake_usdc,
            min_trade_usdc=s.min_trade_usdc,
            devig_method=s.devig_method,
            max_quote_age_s=s.max_quote_age_s,
        ),
        "alerts": AlertsResource(
            console=s.alert_console,
            lake_root=s.lake_root,
            s3_endpoint_url=s.s3_endpoint_url,
            s3_region=s.s3_region,
            max_age_minutes=s.alert_max_age_minutes,
        ),
    }

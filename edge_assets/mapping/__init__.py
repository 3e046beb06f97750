"""Entity mapping: team aliases, Polymarket market ↔ Odds API event matching, sportsbook layout.

Pure polars/rapidfuzz code; no Dagster here (assets/mapping.py wires it).
"""

from edge_assets.mapping.aliases import DEFAULT_ALIASES_CSV, AliasResolver, Resolution
from edge_assets.mapping.layout import pm_sportsbook_lines
from edge_assets.mapping.leagues import PM_TO_SPORT_KEY, sport_key_expr, sport_key_for
from edge_assets.mapping.matcher import MATCHED_METHODS, evaluate, match_markets, unmatched_report
from edge_assets.mapping.normalize import normalize_expr, normalize_name

__all__ = [
    "DEFAULT_ALIASES_CSV",
    "MATCHED_METHODS",
    "PM_TO_SPORT_KEY",
    "AliasResolver",
    "Resolution",
    "evaluate",
    "match_markets",
    "normalize_expr",
    "normalize_name",
    "pm_sportsbook_lines",
    "sport_key_expr",
    "sport_key_for",
    "unmatched_report",
]

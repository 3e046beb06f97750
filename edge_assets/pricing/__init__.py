"""Pure pricing library (no Dagster): odds conversions, de-vig, consensus, costs, EV.

Every function is vectorized over numpy arrays or polars columns so one call prices
millions of quotes. Modules: odds, devig, consensus, costs, ev, seeds.
"""

from edge_assets.pricing.consensus import DEFAULT_BOOK_WEIGHTS, SHARP_BOOKS, consensus
from edge_assets.pricing.costs import (
    fee_per_share,
    fee_schedule_for,
    fill_probability,
    load_cost_models,
    load_fee_tables,
    maker_rebate,
    size_at_or_better,
    taker_fee,
    walk_book,
    walk_books,
)
from edge_assets.pricing.devig import METHODS, devig, devig_frame, overround, shin_z
from edge_assets.pricing.ev import beats_book, effective_price, ev_per_dollar, kelly_fraction, pm_decimal_odds
from edge_assets.pricing.odds import (
    InvalidOddsError,
    american_to_decimal,
    american_to_prob,
    decimal_to_american,
    decimal_to_prob,
    prob_to_decimal,
)

__all__ = [
    "DEFAULT_BOOK_WEIGHTS",
    "METHODS",
    "SHARP_BOOKS",
    "InvalidOddsError",
    "american_to_decimal",
    "american_to_prob",
    "beats_book",
    "consensus",
    "decimal_to_american",
    "decimal_to_prob",
    "devig",
    "devig_frame",
    "effective_price",
    "ev_per_dollar",
    "fee_per_share",
    "fee_schedule_for",
    "fill_probability",
    "kelly_fraction",
    "load_cost_models",
    "load_fee_tables",
    "maker_rebate",
    "overround",
    "pm_decimal_odds",
    "prob_to_decimal",
    "shin_z",
    "size_at_or_better",
    "taker_fee",
    "walk_book",
    "walk_books",
]

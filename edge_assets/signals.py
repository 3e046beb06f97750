"""Signal selection from features_latest (pure polars, no Dagster).

A signal is a mapped Polymarket outcome that passes all six checks:

1. confidence >= ``min_confidence`` (rule confidence below, or a model's column);
2. Polymarket's effective decimal price (1 / (VWAP + fee)) beats the best sportsbook price on
   the same line (vacuous when no book offers that exact spread/total);
3. EV after fees and slippage >= ``min_ev`` (default 0.03 = +3% per dollar);
4. liquidity (USDC at or better than the break-even price) >= ``min_size_usdc``;
5. timing: the game starts at least ``min_minutes_to_start`` (30) minutes after the snapshot.
   Live games are out: books quote them with wide, clipped in-play prices (a 2% floor looks
   like a huge edge on a 0.4% Polymarket longshot), and in the last half hour before the
   start lines and books move on team news faster than an hourly comparator sees;
6. the consensus is not stale: when the game repriced on Polymarket within the hour (several
   of its markets moved together: news) and no book quote in the consensus postdates it, the
   books have not seen the news yet and the "edge" is their old price (``stale_consensus`` from
   features_latest; passes when it is null or absent).

``signal_id`` = sha1 of event id, market key, point, outcome, token id and the observation
hour: one row per edge and hour (re-runs of the hour upsert it). ``edge_id`` = the same without
the hour: the edge itself, however many hours it persists, and the alert dedupe key, so an
edge is alerted once, not once an hour.
"""

import hashlib
from datetime import datetime

import polars as pl

from edge_assets.schemas import UTC_TS

# rule_confidence parameters (documented defaults)
AGREEMENT_STD_ZERO = 0.05  # per-book fair-prob std at which agreement reaches 0
MIN_AGREEING_BOOKS = 2  # fewer books: agreement is unknown and scores 0
FRESH_AGE_ZERO_S = 600.0  # newest sportsbook quote age at which freshness reaches 0
MIN_MINUTES_TO_START = 30.0  # pre-match only: no signal on live games or in the last half hour
FULL_COVERAGE_BOOKS = 4  # books for full coverage credit
W_AGREEMENT, W_FRESHNESS, W_COVERAGE = 0.5, 0.3, 0.2

SIGNAL_COLUMNS: dict[str, pl.DataType] = {
    "signal_id": pl.String(),
    "edge_id": pl.String(),  # signal_id without the hour: the alert dedupe key
    "created_at": UTC_TS,  # = observed_at of the features row (hour partition of the signal)
    "observed_at": UTC_TS,
    "pm_market_id": pl.String(),
    "pm_token_id": pl.String(),
    "pm_outcome": pl.String(),
    "event_id": pl.String(),
    "market_key": pl.String(),
    "point": pl.Float64(),
    "outcome_name": pl.String(),
    "side": pl.String(),  # buy (the comparator only buys outcome shares)
    "pm_price": pl.Float64(),  # effective price: VWAP + fee per share
    "pm_decimal": pl.Float64(),
    "best_book": pl.String(),
    "best_book_decimal": pl.Float64(),
    "fair_prob": pl.Float64(),
    "sharp_prob": pl.Float64(),
    "model_prob": pl.Float64(),
    "model_name": pl.String(),
    "model_version": pl.String(),
    "confidence": pl.Float64(),
    "ev_after_costs": pl.Float64(),
    "stake": pl.Float64(),  # USDC the walk could spend (<= configured stake)
    "liquidity": pl.Float64(),  # USDC at or better than break-even
    "reasons": pl.String(),
    "alert_status": pl.String(),  # null until the alert dispatcher sets it
}
signal_columns = SIGNAL_COLUMNS  # the name other modules import

__all__ = [
    "CHECK_COLUMNS",
    "SIGNAL_COLUMNS",
    "edge_id",
    "merge_signals",
    "merge_signals_at_write",
    "passes_checks",
    "rule_confidence",
    "select_signals",
    "signal_checks",
    "signal_columns",
    "signal_id",
]


def rule_confidence(features: pl.DataFrame) -> pl.Series:
    """Confidence in [0, 1] from book agreement, quote freshness and coverage:

    ``0.5 * agreement + 0.3 * freshness + 0.2 * coverage`` where
    agreement = clip(1 - fair_std / 0.05, 0, 1) with at least 2 books, else 0: one book
    cannot agree with anyone, and its std of 0 used to score as perfect agreement;
    freshness = clip(1 - book_min_age_s / 600, 0, 1): how recently any book confirmed the
    price (every quote used is already younger than max_quote_age; books refresh every few
    minutes, so scoring the oldest one penalised every multi-book consensus);
    coverage = 0.5 * min(n_books / 4, 1) + 0.5 * [a fresh sharp quote exists].
    A row without any fresh quote (null fair_std/age) scores 0 on those parts.
    """
    multi = pl.col("n_books").fill_null(0) >= MIN_AGREEING_BOOKS
    agreement = (
        pl.when(multi).then((1.0 - pl.col("fair_std") / AGREEMENT_STD_ZERO).clip(0.0, 1.0)).fill_null(0.0)
    )
    freshness = (1.0 - pl.col("book_min_age_s") / FRESH_AGE_ZERO_S).clip(0.0, 1.0).fill_null(0.0)
    books = (pl.col("n_books").cast(pl.Float64).fill_null(0.0) / FULL_COVERAGE_BOOKS).clip(0.0, 1.0)
    sharp = (pl.col("n_sharp").fill_null(0) > 0).cast(pl.Float64)
    coverage = 0.5 * books + 0.5 * sharp
    expr = W_AGREEMENT * agreement + W_FRESHNESS * freshness + W_COVERAGE * coverage
    return features.select(expr.alias("confidence")).to_series()


def _fmt_point(point: float | None) -> str:
    return "" if point is None else repr(float(point))


def edge_id(event_id: str, market_key: str, point: float | None, outcome: str, token_id: str) -> str:
    """Deterministic id of one edge (token and line), whatever hour it is seen in."""
    key = "|".join([event_id, market_key, _fmt_point(point), outcome, token_id])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def signal_id(
    event_id: str, market_key: str, point: float | None, outcome: str, token_id: str, observed_at: datetime
) -> str:
    """Deterministic id of one edge in one UTC hour: same inputs within the hour -> same id."""
    hour = observed_at.replace(minute=0, second=0, microsecond=0)
    key = "|".join([event_id, market_key, _fmt_point(point), outcome, token_id, hour.strftime("%Y-%m-%dT%H")])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()


def _ids(df: pl.DataFrame) -> list[pl.Series]:
    """signal_id and edge_id for the (few) selected rows."""
    cols = ("event_id", "market_key", "point", "outcome_name", "pm_token_id", "observed_at")
    rows = df.select(cols).rows()
    return [
        pl.Series("signal_id", [signal_id(*row) for row in rows], dtype=pl.String),
        pl.Series("edge_id", [edge_id(*row[:5]) for row in rows], dtype=pl.String),
    ]


CHECK_COLUMNS = ("confidence_ok", "price_ok", "ev_ok", "liquidity_ok", "timing_ok", "consensus_ok", "failed")


def _checks(
    min_confidence: float, min_ev: float, min_size_usdc: float, min_minutes_to_start: float
) -> dict[str, tuple[pl.Expr, str, int]]:
    """Checks 1-5 as (passes, column explained on failure, its digits); nulls are handled by callers."""
    return {
        "confidence_ok": (pl.col("confidence") >= min_confidence, "confidence", 3),
        # no book offers this exact line (the fair value comes from moved lines): nothing to beat
        "price_ok": (
            pl.col("best_book_decimal").is_null() | (pl.col("pm_decimal") > pl.col("best_book_decimal")),
            "pm_decimal",
            4,
        ),
        "ev_ok": (pl.col("ev_after_costs") >= min_ev, "ev_after_costs", 4),
        "liquidity_ok": (pl.col("liquidity_usdc") >= min_size_usdc, "liquidity_usdc", 2),
        "timing_ok": (pl.col("minutes_to_start") >= min_minutes_to_start, "minutes_to_start", 1),
    }


def _consensus_ok(columns: list[str]) -> pl.Expr:
    """Check 6: passes when ``stale_consensus`` is null or absent."""
    stale = pl.col("stale_consensus") if "stale_consensus" in columns else pl.lit(None, pl.Boolean)
    return ~stale.fill_null(False)


def passes_checks(
    features: pl.DataFrame,
    confidence: pl.Series,
    *,
    min_confidence: float = 0.6,
    min_ev: float = 0.03,
    min_size_usdc: float = 25.0,
    min_minutes_to_start: float = MIN_MINUTES_TO_START,
) -> pl.Series:
    """One boolean per row: all six checks pass with ``confidence`` as check 1.

    The same checks as ``signal_checks`` without the explanations, so threshold tuning and
    evaluation judge millions of training rows exactly as the comparator would.
    """
    checks = _checks(min_confidence, min_ev, min_size_usdc, min_minutes_to_start)
    passes = [expr.fill_null(False) for expr, _, _ in checks.values()]
    return (
        features.with_columns(confidence=confidence.cast(pl.Float64))
        .select(pl.all_horizontal(*passes, _consensus_ok(features.columns)).alias("passes"))
        .to_series()
    )


def signal_checks(
    features: pl.DataFrame,
    *,
    min_confidence: float = 0.6,
    min_ev: float = 0.03,
    min_size_usdc: float = 25.0,
    confidence_col: str | None = None,
    min_minutes_to_start: float = MIN_MINUTES_TO_START,
) -> pl.DataFrame:
    """``features`` plus ``confidence``, one boolean per check (null inputs fail) and ``failed``:
    the failed checks with their values, ``""`` when all pass (used for signals and to explain misses)."""
    conf = features[confidence_col].cast(pl.Float64) if confidence_col else rule_confidence(features)
    df = features.with_columns(conf.alias("confidence"))
    checks = _checks(min_confidence, min_ev, min_size_usdc, min_minutes_to_start)
    df = df.with_columns([expr.fill_null(False).alias(name) for name, (expr, _, _) in checks.items()])
    df = df.with_columns(consensus_ok=_consensus_ok(df.columns))
    parts = [
        pl.when(~pl.col(name)).then(
            pl.lit(f"{col}=") + pl.col(col).round(digits).cast(pl.String).fill_null("null") + pl.lit(" ")
        )
        for name, (_, col, digits) in checks.items()
    ]
    news = (
        pl.col("pm_news_at").dt.strftime("%H:%M") if "pm_news_at" in df.columns else pl.lit(None, pl.String)
    ).fill_null("?")
    parts.append(pl.when(~pl.col("consensus_ok")).then(pl.lit("stale_consensus(news ") + news + pl.lit(")")))
    failed = pl.concat_str(parts, ignore_nulls=True).str.strip_chars()
    names = [*checks, "consensus_ok"]
    return df.with_columns(failed=pl.when(pl.all_horizontal(names)).then(pl.lit("")).otherwise(failed))


def select_signals(
    features: pl.DataFrame,
    *,
    min_confidence: float = 0.6,
    min_ev: float = 0.03,
    min_size_usdc: float = 25.0,
    confidence_col: str | None = None,
    model_name: str | None = None,
    model_version: str | None = None,
    model_prob_col: str | None = None,
    min_minutes_to_start: float = MIN_MINUTES_TO_START,
) -> pl.DataFrame:
    """Rows of ``features`` (FEATURES_LATEST_COLUMNS) passing the five checks, as signals.

    Output: SIGNAL_COLUMNS first, then every other input column (all inputs kept), plus
    ``confidence`` from ``confidence_col`` (e.g. a model's score) or ``rule_confidence``.
    ``reasons`` lists each check's value and threshold, e.g.
    ``confidence=0.820>=0.600; pm_decimal=2.1053>best_book=2.0500; ev=0.0460>=0.0300;
    liquidity_usdc=412.00>=25.00``.
    """
    if features.height == 0 or "ev_after_costs" not in features.columns:
        extra = {c: t for c, t in features.schema.items() if c not in SIGNAL_COLUMNS}
        return pl.DataFrame(schema={**SIGNAL_COLUMNS, **extra})
    df = signal_checks(
        features,
        min_confidence=min_confidence,
        min_ev=min_ev,
        min_size_usdc=min_size_usdc,
        confidence_col=confidence_col,
        min_minutes_to_start=min_minutes_to_start,
    )
    passed = df.filter(pl.col("failed") == "").drop(CHECK_COLUMNS)

    def num(col: str, digits: int) -> pl.Expr:
        return pl.col(col).round(digits).cast(pl.String).fill_null("null")

    reasons = pl.concat_str(
        [
            pl.lit("confidence="),
            num("confidence", 3),
            pl.lit(f">={min_confidence}; pm_decimal="),
            num("pm_decimal", 4),
            pl.lit(">best_book="),
            num("best_book_decimal", 4),
            pl.lit(" ("),
            pl.col("best_book").fill_null("none"),
            pl.lit("); ev="),
            num("ev_after_costs", 4),
            pl.lit(f">={min_ev}; liquidity_usdc="),
            num("liquidity_usdc", 2),
            pl.lit(f">={min_size_usdc}; minutes_to_start="),
            num("minutes_to_start", 1),
            pl.lit(f">={min_minutes_to_start}"),
        ]
    )
    model_prob = pl.col(model_prob_col).cast(pl.Float64) if model_prob_col else pl.lit(None, pl.Float64)
    out = passed.with_columns(
        *_ids(passed),
        created_at=pl.col("observed_at"),
        side=pl.lit("buy"),
        pm_price=pl.col("effective_price"),
        model_prob=model_prob,
        model_name=pl.lit(model_name, pl.String),
        model_version=pl.lit(model_version, pl.String),
        stake=pl.col("filled_usdc"),
        liquidity=pl.col("liquidity_usdc"),
        reasons=reasons,
        alert_status=pl.lit(None, pl.String),
    )
    core = [pl.col(c).cast(t) for c, t in SIGNAL_COLUMNS.items()]
    rest = [c for c in out.columns if c not in SIGNAL_COLUMNS]
    return out.select([*core, *rest])


def merge_signals(old: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """An hour's signals after a re-run: the stored rows (``old``) with this run's (``new``).

    A recomputed signal replaces its stored row and keeps the status its alert reached, except one
    already alerted (``sent``): it keeps the row that was sent, the price and time a user acted on and
    paper trading enters at. Signals no longer found stay: the hour's record of what was signalled.
    """
    if old.height == 0:
        return new
    old = old.select(new.columns) if set(new.columns) <= set(old.columns) else old
    status = pl.col("alert_status")
    sent = (
        old.filter(status == "sent")["signal_id"]
        if "alert_status" in old.columns
        else pl.Series([], dtype=pl.String)
    )
    merged = pl.concat(
        [old, new.filter(~pl.col("signal_id").is_in(sent.implode()))], how="diagonal_relaxed"
    ).unique(subset=["signal_id"], keep="last", maintain_order=True)
    if "alert_status" not in old.columns:
        return merged
    prior = old.filter(status.is_not_null()).unique("signal_id", keep="last")
    return merged.with_columns(
        alert_status=pl.coalesce(
            status,
            pl.col("signal_id").replace_strict(prior["signal_id"], prior["alert_status"], default=None),
        )
    )


def merge_signals_at_write(held: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """``merge_signals`` as the IO manager runs it (UPSERT_MERGE), over what the partition holds at
    write time: a comparator run and a poll run pricing one hour at once keep each other's rows."""
    merged = merge_signals(held, new)
    return merged.sort("created_at", maintain_order=True) if merged.height else merged

"""Market ↔ event matcher: every Polymarket token gets exactly one verdict in MARKET_MAPPINGS.

Pipeline (all joins, no loops over markets × events):
1. classify each Polymarket market (moneyline with team outcomes, soccer Yes/No win/draw,
   spread, game total) or mark it out of scope (wrong league, halves, F5, NRFI, team totals,
   props, futures, All-Star, unknown shapes);
2. resolve every team name it mentions through the league-scoped `AliasResolver` in one batch;
3. join to the distinct Odds API events on (sport_key, unordered canonical team pair) and keep
   the closest start within the tolerance; a runner-up within `ambiguity_margin` is a conflict;
4. explode to tokens, map each to the event's outcome name (oriented by the event's own
   home/away strings), market_key and point, and check the quotes hold that outcome (a spread or
   total whose exact line no book quotes still maps, at Polymarket's line, with a reason saying
   so: features_latest re-targets the books' nearest lines onto it);
5. flag one-to-one violations: two markets claiming the same (event, market, point, outcome).

Only rows with method exact|fuzzy are usable mappings; everything else says why in `reason`.
"""

from datetime import datetime, timedelta
from typing import TypedDict

import polars as pl

from edge_assets.mapping.aliases import AliasResolver
from edge_assets.mapping.leagues import THREE_WAY_SPORT_KEYS, sport_key_expr
from edge_assets.schemas import MARKET_MAPPINGS, UTC_TS

MATCHED_METHODS = ("exact", "fuzzy")

# Question shapes (case-insensitive).
WIN_RE = r"(?i)^\s*will\s+(.+?)\s+win(?:\s+on\s+\d{4}-\d{2}-\d{2})?\s*\?\s*$"
DRAW_RE = r"(?i)^\s*will\s+(.+?)\s+(?:vs\.?|v\.?)\s+(.+?)\s+end\s+in\s+a\s+draw\s*\?\s*$"
SPREAD_RE = r"(?i)^\s*spread:\s*(.+?)\s*\(\s*([+-]?\d+(?:\.\d+)?)\s*\)\s*$"
TOTAL_RE = r"(?i)^\s*(?:(.+?)\s+(?:vs\.?|v\.?|@)\s+(.+?)\s*:\s*)?o/u\s*(\d+(?:\.\d+)?)\s*$"
VS_RE = r"(?i)^(.+?)\s+(?:vs\.?|v\.?|@)\s+(.+?)\s*(?:\((?:game|gm)\s*\d+\))?\s*(?:[,?:].*)?$"
WHO_WILL_WIN_RE = r"(?i)^.*?who\s+will\s+win\s+"
# Doubleheader tag a title carries after the second team: "Red Sox (Game 2)", "Mets (Gm. 1)".
GAME_NO_RE = r"(?i)\s*\(\s*(?:game|gm)\.?\s*\d+\s*\)\s*$"

# Partial-game, prop and special markets that share an event with the full-game lines.
OOS_TEXT_RE = (
    r"(?i)(?:\b(?:1h|2h|1q|2q|3q|4q|1p|2p|3p|f5|nrfi|yrfi|mvp|btts|all[- ]star|to advance|"
    r"1st half|2nd half|first half|second half|halftime|half[- ]time|quarter|1st period|2nd period|"
    r"3rd period|1st 5 innings|first 5 innings|1st inning|first inning|player|exact score|"
    r"both teams to score|corners|champion|championship|series winner)\b)"
)
# A player stat (hr, pts, ...) marks a prop only before a player and a line or a second name: team
# codes share those letters (`ast` is Aston Villa: `epl-ast-eve-2026-01-18-ast`).
OOS_SLUG_RE = (
    r"(?i)-(?:f5|1h|2h|h1|h2|q1|q2|q3|q4|p1|p2|p3|nrfi|yrfi|btts|corners|"
    r"first-inning|all-star|allstar|mvp|anytime|team-total|tt)(?:-|$)"
    r"|-(?:hr|pts|reb|ast|sog)-[a-z][a-z-]*-(?:[a-z]|\d+pt\d+$)"
)
IN_SCOPE_SMT = ("moneyline", "spreads", "totals")


def _empty_mappings() -> pl.DataFrame:
    return pl.DataFrame(schema=MARKET_MAPPINGS)


def _distinct_events(odds: pl.DataFrame) -> pl.DataFrame:
    """One row per (snapshot, Odds API event) with its latest commence_time / home / away (they drift)."""
    return (
        odds.sort("observed_at", nulls_last=False)
        .group_by(SNAP, "event_id")
        .agg(
            pl.col("sport_key").last(),
            pl.col("home_team").last(),
            pl.col("away_team").last(),
            pl.col("commence_time").last(),
        )
    )


def _classify(pm: pl.DataFrame) -> pl.DataFrame:
    """Market-level kind, raw team names, line and out-of-scope reason."""
    q = pl.col("question").fill_null("")
    smt = pl.col("sports_market_type").str.to_lowercase()
    o0 = pl.col("outcomes").list.get(0, null_on_oob=True).str.to_lowercase().str.strip_chars()
    o1 = pl.col("outcomes").list.get(1, null_on_oob=True).str.to_lowercase().str.strip_chars()
    n_out = pl.col("outcomes").list.len().fill_null(0)
    n_tok = pl.col("token_ids").list.len().fill_null(0)
    yes_no = (n_out == 2) & (o0 == "yes") & (o1 == "no")
    over_under = (n_out == 2) & (o0 == "over") & (o1 == "under")
    # The event title counts too: an All-Star game's markets read "American League vs. National
    # League"; only the event says "All-Star Game". Game titles ("A vs. B") never hit OOS_TEXT_RE.
    text = pl.concat_str(
        [q, pl.col("group_item_title").fill_null(""), pl.col("event_title").fill_null("")], separator=" | "
    )
    slug = pl.concat_str([pl.col("slug").fill_null(""), pl.col("event_slug").fill_null("")], separator=" ")

    df = pm.with_columns(
        # The league column, when set, is authoritative; slugs are only a fallback.
        sport_key=pl.when(pl.col("league").is_not_null())
        .then(sport_key_expr(pl.col("league")))
        .otherwise(sport_key_expr(pl.col("event_slug"), pl.col("slug"))),
        _win=q.str.extract_groups(WIN_RE),
        _draw=q.str.extract_groups(DRAW_RE),
        _spread=q.str.extract_groups(SPREAD_RE),
        _total=q.str.extract_groups(TOTAL_RE),
        _title_vs=pl.col("event_title")
        .fill_null("")
        .str.replace(WHO_WILL_WIN_RE, "")
        .str.extract_groups(VS_RE),
        _q_vs=q.str.replace(WHO_WILL_WIN_RE, "").str.extract_groups(VS_RE),
        _oos_text=text.str.contains(OOS_TEXT_RE) | slug.str.contains(OOS_SLUG_RE),
        _yes_no=yes_no,
        _over_under=over_under,
        _smt=smt,
        _len_ok=(n_out == n_tok) & (n_out >= 2),
    )
    win_team = pl.col("_win").struct.field("1")
    draw_a, draw_b = pl.col("_draw").struct.field("1"), pl.col("_draw").struct.field("2")
    spread_team = pl.col("_spread").struct.field("1")
    spread_line = pl.col("_spread").struct.field("2").cast(pl.Float64, strict=False)
    total_a, total_b = pl.col("_total").struct.field("1"), pl.col("_total").struct.field("2")
    total_line = pl.col("_total").struct.field("3").cast(pl.Float64, strict=False)
    smt_c = pl.col("_smt")

    kind = (
        pl.when(pl.col("sport_key").is_null())
        .then(pl.lit("oos_league"))
        .when(smt_c.is_not_null() & ~smt_c.is_in(IN_SCOPE_SMT))
        .then(pl.lit("oos_type"))
        .when(pl.col("_oos_text"))
        .then(pl.lit("oos_partial"))
        .when(~pl.col("_len_ok"))
        .then(pl.lit("oos_shape"))
        .when(pl.col("_yes_no") & draw_a.is_not_null())
        .then(pl.lit("draw"))
        .when(pl.col("_yes_no") & win_team.is_not_null())
        .then(pl.lit("win"))
        .when(pl.col("_yes_no"))
        .then(pl.lit("oos_yes_no"))
        .when(pl.col("_over_under") | (smt_c == "totals"))
        .then(
            pl.when(pl.col("_over_under") & pl.col("_total").struct.field("3").is_not_null())
            .then(pl.lit("total"))
            .otherwise(pl.lit("oos_total"))
        )
        .when((smt_c == "spreads") | spread_team.is_not_null())
        .then(pl.lit("spread"))
        .when((n_out == 2) & (smt_c.is_null() | (smt_c == "moneyline")))
        .then(pl.lit("ml2"))
        .otherwise(pl.lit("oos_shape"))
    )
    oos_reason = (
        pl.when(pl.col("kind") == "oos_league")
        .then(pl.format("league '{}' is not in scope", pl.col("league").fill_null("<null>")))
        .when(pl.col("kind") == "oos_type")
        .then(pl.format("sports_market_type '{}' has no sportsbook counterpart", pl.col("_smt")))
        .when(pl.col("kind") == "oos_partial")
        .then(pl.lit("partial-game, prop or special market (half/period/F5/NRFI/player/All-Star/futures)"))
        .when(pl.col("kind") == "oos_yes_no")
        .then(pl.lit("Yes/No question is not a game outcome (future, prop or special)"))
        .when(pl.col("kind") == "oos_total")
        .then(pl.lit("totals market is not the full-game total (team or partial total)"))
        .when(pl.col("kind") == "oos_shape")
        .then(pl.lit("unrecognised market shape (outcomes/token_ids)"))
        .when((pl.col("kind") == "draw") & ~pl.col("sport_key").is_in(list(THREE_WAY_SPORT_KEYS)))
        .then(pl.lit("draw market in a league without a 3-way h2h"))
    )
    home, away = pl.col("home_team"), pl.col("away_team")
    title_a, title_b = pl.col("_title_vs").struct.field("1"), pl.col("_title_vs").struct.field("2")
    qvs_a, qvs_b = pl.col("_q_vs").struct.field("1"), pl.col("_q_vs").struct.field("2")
    out0 = pl.col("outcomes").list.get(0, null_on_oob=True)
    out1 = pl.col("outcomes").list.get(1, null_on_oob=True)
    has_ha = home.is_not_null() & away.is_not_null()
    pair_a = (
        pl.when(pl.col("kind").is_in(["ml2", "spread"]))
        .then(out0)
        .when(pl.col("kind") == "draw")
        .then(draw_a)
        .when((pl.col("kind") == "total") & total_a.is_not_null())
        .then(total_a)
        .when(has_ha)
        .then(home)
        .otherwise(pl.coalesce(title_a, qvs_a))
    )
    pair_b = (
        pl.when(pl.col("kind").is_in(["ml2", "spread"]))
        .then(out1)
        .when(pl.col("kind") == "draw")
        .then(draw_b)
        .when((pl.col("kind") == "total") & total_b.is_not_null())
        .then(total_b)
        .when(has_ha)
        .then(away)
        .otherwise(pl.coalesce(title_b, qvs_b))
    )
    line = (
        pl.when(pl.col("kind") == "spread")
        .then(pl.coalesce(spread_line, pl.col("line")))
        .when(pl.col("kind") == "total")
        .then(pl.coalesce(total_line, pl.col("line")))
    )
    return (
        df.with_columns(kind=kind)
        .with_columns(oos_reason=oos_reason)
        .with_columns(
            pair_a=_team_text(pair_a),
            pair_b=_team_text(pair_b),
            named_team=_team_text(
                pl.when(pl.col("kind") == "win")
                .then(win_team)
                .when(pl.col("kind") == "spread")
                .then(pl.coalesce(spread_team, out0))
            ),
            line_value=line.round(2),
        )
        .drop(
            "_win", "_draw", "_spread", "_total", "_title_vs", "_q_vs", "_oos_text", "_yes_no", "_over_under"
        )
    )


def _team_text(expr: pl.Expr) -> pl.Expr:
    """A team name as captured from free text, minus whitespace and a doubleheader "(Game N)" tag."""
    return expr.str.replace(GAME_NO_RE, "").str.strip_chars()


def _missing_name(col: str) -> pl.Expr:
    return (
        pl.when(pl.col(col).is_null())
        .then(pl.lit(f"no {col} found (needs home/away, an 'A vs. B' title or question)"))
        .otherwise(pl.format('"{}": not resolved', pl.col(col)))
    )


def _attach(df: pl.DataFrame, res: pl.DataFrame, col: str, prefix: str) -> pl.DataFrame:
    """Join resolution columns for name column `col` (scoped by sport_key) as `<prefix>_*`."""
    r = res.select(
        pl.col("name").alias(col),
        pl.col("league").alias("sport_key"),
        pl.col("canonical").alias(f"{prefix}_canon"),
        pl.col("confidence").alias(f"{prefix}_conf"),
        pl.col("method").alias(f"{prefix}_method"),
        pl.col("reason").alias(f"{prefix}_reason"),
    )
    return df.join(r, on=[col, "sport_key"], how="left", nulls_equal=False, maintain_order="left")


def match_markets(
    pm_markets: pl.DataFrame,
    odds: pl.DataFrame,
    resolver: AliasResolver,
    *,
    observed_at: datetime,
    tolerance: timedelta = timedelta(hours=6),
    ambiguity_margin: timedelta = timedelta(minutes=30),
) -> pl.DataFrame:
    """Map every Polymarket token (PM_MARKETS) onto The Odds API (ODDS_QUOTES) → MARKET_MAPPINGS."""
    at = pl.lit(observed_at).cast(UTC_TS).alias(SNAP)
    return match_snapshots(
        pm_markets.with_columns(at),
        odds.with_columns(at),
        resolver,
        tolerance=tolerance,
        ambiguity_margin=ambiguity_margin,
    )


# The snapshot a row belongs to (its observed_at in MARKET_MAPPINGS): every keyed step below groups and
# joins within it, so many snapshots are matched in one pass (match_snapshots) and names resolve once.
SNAP = "_snapshot_of"


def match_snapshots(
    pm_markets: pl.DataFrame,
    odds: pl.DataFrame,
    resolver: AliasResolver,
    *,
    tolerance: timedelta = timedelta(hours=6),
    ambiguity_margin: timedelta = timedelta(minutes=30),
) -> pl.DataFrame:
    """match_markets for every snapshot in the SNAP column of both frames at once, in snapshot order:
    each snapshot's rows equal match_markets(its markets, its odds, observed_at=snapshot)."""
    if pm_markets.height == 0:
        return _empty_mappings()
    pm = pm_markets.sort("observed_at", nulls_last=False, maintain_order=True).unique(
        [SNAP, "market_id"], keep="last", maintain_order=True
    )
    m = _classify(pm)

    # --- 1. resolve every name in one batch -------------------------------------------------
    in_scope = (
        pl.col("kind").is_in(["ml2", "spread", "total", "draw", "win"]) & pl.col("oos_reason").is_null()
    )
    m = m.with_columns(_in_scope=in_scope)
    scoped = m.filter(pl.col("_in_scope"))
    name_cols = ["pair_a", "pair_b", "named_team"]
    names = (
        pl.concat(
            [scoped.select(pl.col(c).alias("name"), "sport_key") for c in name_cols]
            + [
                scoped.filter(pl.col("kind").is_in(["ml2", "spread"]))
                .select(pl.col("outcomes").alias("name"), "sport_key")
                .explode("name")
            ]
        )
        .filter(pl.col("name").is_not_null())
        .unique()
    )
    res = resolver.resolve_many(names["name"], names["sport_key"])

    # --- 2. events and their canonical pairs --------------------------------------------------
    events = (
        _distinct_events(odds)
        if odds.height
        else pl.DataFrame(
            schema={
                SNAP: UTC_TS,
                "event_id": pl.String,
                "sport_key": pl.String,
                "home_team": pl.String,
                "away_team": pl.String,
                "commence_time": UTC_TS,
            }
        )
    )
    ev_names = pl.concat(
        [events.select(pl.col(c).alias("name"), "sport_key") for c in ("home_team", "away_team")]
    ).unique()
    ev_res = resolver.resolve_many(ev_names["name"], ev_names["sport_key"]).unique(["name", "league"])
    ev_canon = ev_res.select(name="name", sport_key="league", canon="canonical")
    events = (
        events.join(
            ev_canon.rename({"name": "home_team", "canon": "home_canon"}),
            on=["home_team", "sport_key"],
            how="left",
        )
        .join(
            ev_canon.rename({"name": "away_team", "canon": "away_canon"}),
            on=["away_team", "sport_key"],
            how="left",
        )
        .with_columns(
            home_canon=pl.coalesce("home_canon", "home_team"),
            away_canon=pl.coalesce("away_canon", "away_team"),
        )
        .with_columns(
            t1=pl.min_horizontal("home_canon", "away_canon"),
            t2=pl.max_horizontal("home_canon", "away_canon"),
        )
    )

    # --- 3. market-level team resolution and event join -------------------------------------
    res_u = res.unique(["name", "league"])
    for col, prefix in (("pair_a", "ra"), ("pair_b", "rb"), ("named_team", "rn")):
        m = _attach(m, res_u, col, prefix)
    need_named = pl.col("kind").is_in(["win", "spread"])
    names_ok = (
        (pl.col("ra_canon").is_not_null())
        & (pl.col("rb_canon").is_not_null())
        & (~need_named | pl.col("rn_canon").is_not_null())
    )
    pair_same = pl.col("ra_canon") == pl.col("rb_canon")
    m = m.with_columns(
        named_in_pair=(~need_named)
        | (pl.col("rn_canon") == pl.col("ra_canon"))
        | (pl.col("rn_canon") == pl.col("rb_canon")),
    )
    unresolved_reason = pl.concat_str(
        [
            pl.when(pl.col("ra_canon").is_null()).then(pl.coalesce("ra_reason", _missing_name("pair_a"))),
            pl.when(pl.col("rb_canon").is_null()).then(pl.coalesce("rb_reason", _missing_name("pair_b"))),
            pl.when(need_named & pl.col("rn_canon").is_null()).then(
                pl.coalesce("rn_reason", _missing_name("named_team"))
            ),
        ],
        separator="; ",
        ignore_nulls=True,
    )
    m = m.with_columns(
        pre_reason=pl.when(~pl.col("_in_scope"))
        .then(None)
        .when(~names_ok)
        .then(pl.concat_str(pl.lit("unresolved team names: "), unresolved_reason))
        .when(pair_same)
        .then(pl.format('both teams resolve to "{}"', pl.col("ra_canon")))
        .when(~pl.col("named_in_pair"))
        .then(
            pl.format(
                '"{}" is not one of the game\'s teams ({} vs {})',
                pl.col("named_team"),
                pl.col("ra_canon"),
                pl.col("rb_canon"),
            )
        )
        .when(pl.col("game_start_time").is_null())
        .then(pl.lit("market has no game_start_time"))
        .when(pl.col("line_value").is_null() & pl.col("kind").is_in(["spread", "total"]))
        .then(pl.lit("market has no line")),
        t1=pl.min_horizontal("ra_canon", "rb_canon"),
        t2=pl.max_horizontal("ra_canon", "rb_canon"),
        name_conf=pl.min_horizontal(
            "ra_conf", "rb_conf", pl.when(need_named).then(pl.col("rn_conf")).otherwise(None)
        ),
        any_fuzzy=pl.any_horizontal(
            pl.col("ra_method") == "fuzzy",
            pl.col("rb_method") == "fuzzy",
            need_named & (pl.col("rn_method") == "fuzzy"),
        ),
    )

    joinable = m.filter(pl.col("_in_scope") & pl.col("pre_reason").is_null()).select(
        SNAP, "market_id", "sport_key", "t1", "t2", "game_start_time"
    )
    cands = joinable.join(
        events.select(
            SNAP,
            "event_id",
            "sport_key",
            "t1",
            "t2",
            "commence_time",
            "home_team",
            "away_team",
            "home_canon",
            "away_canon",
        ),
        on=[SNAP, "sport_key", "t1", "t2"],
        how="inner",
    ).with_columns(delta=(pl.col("commence_time") - pl.col("game_start_time")).abs())
    nearest_any = cands.group_by(SNAP, "market_id").agg(
        pl.col("event_id").sort_by("delta", "event_id").first().alias("nearest_event"),
        pl.col("commence_time").sort_by("delta", "event_id").first().alias("nearest_time"),
    )
    within = cands.filter(pl.col("delta") <= tolerance).sort(SNAP, "market_id", "delta", "event_id")
    best = (
        within.group_by(SNAP, "market_id", maintain_order=True)
        .agg(
            pl.col("event_id").first().alias("odds_event_id"),
            pl.col("home_team").first().alias("ev_home"),
            pl.col("away_team").first().alias("ev_away"),
            pl.col("home_canon").first().alias("ev_home_canon"),
            pl.col("away_canon").first().alias("ev_away_canon"),
            pl.col("delta").first().alias("best_delta"),
            ((pl.col("delta") - pl.col("delta").first()) <= ambiguity_margin).sum().alias("n_close"),
            pl.format("{} ({})", pl.col("event_id"), pl.col("commence_time").dt.strftime("%Y-%m-%dT%H:%MZ"))
            .filter((pl.col("delta") - pl.col("delta").first()) <= ambiguity_margin)
            .alias("close_listing"),
        )
        .with_columns(pl.col("close_listing").list.join(", "))
    )
    m = m.join(best, on=[SNAP, "market_id"], how="left").join(nearest_any, on=[SNAP, "market_id"], how="left")
    tol_h = tolerance.total_seconds() / 3600
    market_reason = (
        pl.when(pl.col("pre_reason").is_not_null())
        .then(pl.col("pre_reason"))
        .when(pl.col("odds_event_id").is_null() & pl.col("nearest_event").is_not_null())
        .then(
            pl.format(
                "no Odds API event for {} vs {} within ±{}h of {} (nearest: {} at {})",
                pl.col("t1"),
                pl.col("t2"),
                pl.lit(f"{tol_h:g}"),
                pl.col("game_start_time").dt.strftime("%Y-%m-%dT%H:%MZ"),
                pl.col("nearest_event"),
                pl.col("nearest_time").dt.strftime("%Y-%m-%dT%H:%MZ"),
            )
        )
        .when(pl.col("odds_event_id").is_null())
        .then(
            pl.format(
                "no Odds API event for {} vs {} in {}",
                pl.col("t1"),
                pl.col("t2"),
                pl.col("sport_key"),
            )
        )
    )
    m = m.with_columns(
        market_status=pl.when(~pl.col("_in_scope"))
        .then(pl.lit("out_of_scope"))
        .when(market_reason.is_not_null())
        .then(pl.lit("unmatched"))
        .when(pl.col("n_close") > 1)
        .then(pl.lit("conflict"))
        .otherwise(pl.lit("ok")),
        market_reason=pl.when(~pl.col("_in_scope"))
        .then(pl.col("oos_reason"))
        .when(market_reason.is_not_null())
        .then(market_reason)
        .when(pl.col("n_close") > 1)
        .then(
            pl.format(
                "{} candidate events within {}m of each other: {}",
                pl.col("n_close"),
                pl.lit(f"{ambiguity_margin.total_seconds() / 60:g}"),
                pl.col("close_listing"),
            )
        ),
    )

    # --- 4. tokens ----------------------------------------------------------------------------
    t = (
        m.select(
            SNAP,
            "market_id",
            "sport_key",
            "kind",
            "outcomes",
            "token_ids",
            "line_value",
            "rn_canon",
            "odds_event_id",
            "ev_home",
            "ev_away",
            "ev_home_canon",
            "ev_away_canon",
            "market_status",
            "market_reason",
            "name_conf",
            "any_fuzzy",
            "_len_ok",
        )
        .with_columns(
            outcomes=pl.when(pl.col("_len_ok"))
            .then(pl.col("outcomes"))
            .otherwise(pl.col("token_ids").list.eval(pl.lit(None, pl.String))),
            idx=pl.int_ranges(0, pl.col("token_ids").list.len().fill_null(0)),
        )
        .filter(pl.col("token_ids").list.len().fill_null(0) > 0)
        .explode(["outcomes", "token_ids", "idx"])
        .rename({"outcomes": "pm_outcome", "token_ids": "pm_token_id"})
    )
    t = _attach(t, res_u, "pm_outcome", "ro")
    kind = pl.col("kind")
    is_yes = pl.col("pm_outcome").str.to_lowercase().str.strip_chars() == "yes"
    target_canon = (
        pl.when(kind.is_in(["ml2", "spread"]))
        .then(pl.col("ro_canon"))
        .when((kind == "win") & is_yes)
        .then(pl.col("rn_canon"))
    )
    t = t.with_columns(
        market_key=pl.when(kind.is_in(["ml2", "win", "draw"]))
        .then(pl.lit("h2h"))
        .when(kind == "spread")
        .then(pl.lit("spreads"))
        .when(kind == "total")
        .then(pl.lit("totals")),
        target_canon=target_canon,
        complement=kind.is_in(["win", "draw"]) & ~is_yes,
    ).with_columns(
        odds_outcome_name=pl.when(kind == "total")
        .then(pl.col("pm_outcome").str.strip_chars().str.to_titlecase())
        .when((kind == "draw") & is_yes)
        .then(pl.lit("Draw"))
        .when(pl.col("target_canon") == pl.col("ev_home_canon"))
        .then(pl.col("ev_home"))
        .when(pl.col("target_canon") == pl.col("ev_away_canon"))
        .then(pl.col("ev_away")),
        point=pl.when(kind == "total")
        .then(pl.col("line_value"))
        .when(kind == "spread")
        .then(
            pl.when(pl.col("ro_canon") == pl.col("rn_canon"))
            .then(pl.col("line_value"))
            .otherwise(-pl.col("line_value"))
        ),
    )
    # Quotes actually offered: (event, market_key, outcome, point).
    avail = (
        odds.select(SNAP, "event_id", "market_key", "outcome_name", point=pl.col("point").round(2))
        .unique()
        .with_columns(_avail=pl.lit(True))
    )
    avail_points = (
        odds.filter(pl.col("point").is_not_null())
        .group_by(SNAP, "event_id", "market_key")
        .agg(avail_points=pl.col("point").round(2).unique().sort().cast(pl.String).str.join(", "))
    )
    # The same outcome quoted at any line: a spread/total whose exact line no book quotes is still
    # that outcome (Polymarket's line is the contract); features_latest prices it by moving each
    # book's nearest line onto it (features.latest.retarget_lines).
    avail_any = (
        odds.filter(pl.col("point").is_not_null())
        .select(SNAP, "event_id", "market_key", "outcome_name")
        .unique()
        .with_columns(_avail_any=pl.lit(True))
    )
    t = (
        t.join(
            avail.rename({"event_id": "odds_event_id", "outcome_name": "odds_outcome_name"}),
            on=[SNAP, "odds_event_id", "market_key", "odds_outcome_name", "point"],
            how="left",
            nulls_equal=True,
        )
        .join(
            avail_any.rename({"event_id": "odds_event_id", "outcome_name": "odds_outcome_name"}),
            on=[SNAP, "odds_event_id", "market_key", "odds_outcome_name"],
            how="left",
        )
        .join(
            avail_points.rename({"event_id": "odds_event_id"}),
            on=[SNAP, "odds_event_id", "market_key"],
            how="left",
        )
    )
    ok = pl.col("market_status") == "ok"
    line_only = (
        pl.col("_avail").is_null()
        & pl.col("point").is_not_null()
        & pl.col("market_key").is_in(["spreads", "totals"])
        & pl.col("_avail_any").fill_null(False)
    )
    line_note = pl.format(
        "line {} not quoted by books (quoted points: {}); priced by re-targeting",
        pl.col("point"),
        pl.col("avail_points").fill_null("none"),
    )
    token_reason = (
        pl.when(pl.col("complement"))
        .then(pl.lit("complement side of a Yes/No outcome market: no single sportsbook outcome"))
        .when(pl.col("odds_outcome_name").is_null())
        .then(pl.format('outcome "{}" is not one of the event\'s teams', pl.col("pm_outcome")))
        .when(pl.col("_avail").is_null() & ~line_only)
        .then(
            pl.format(
                "event {} has no {} quote for {}{}",
                pl.col("odds_event_id"),
                pl.col("market_key"),
                pl.col("odds_outcome_name"),
                pl.when(pl.col("point").is_not_null())
                .then(
                    pl.format(
                        " at {} (quoted points: {})",
                        pl.col("point"),
                        pl.col("avail_points").fill_null("none"),
                    )
                )
                .otherwise(pl.lit("")),
            )
        )
    )
    t = t.with_columns(
        method=pl.when(~ok)
        .then(pl.col("market_status"))
        .when(pl.col("complement"))
        .then(pl.lit("out_of_scope"))
        .when(token_reason.is_not_null())
        .then(pl.lit("unmatched"))
        .when(pl.col("any_fuzzy") | (pl.col("ro_method") == "fuzzy"))
        .then(pl.lit("fuzzy"))
        .otherwise(pl.lit("exact")),
        reason=pl.when(~ok)
        .then(pl.col("market_reason"))
        .otherwise(pl.coalesce(token_reason, pl.when(line_only).then(line_note))),
        confidence=pl.when(ok & ~pl.col("complement") & token_reason.is_null())
        .then(pl.min_horizontal("name_conf", pl.when(kind.is_in(["ml2", "spread"])).then(pl.col("ro_conf"))))
        .otherwise(0.0),
    )

    # --- 5. one-to-one: two markets claiming the same outcome --------------------------------
    claim_key = [SNAP, "odds_event_id", "market_key", "point", "odds_outcome_name"]
    claims = (
        t.filter(pl.col("method").is_in(MATCHED_METHODS))
        .group_by(claim_key)
        .agg(pl.col("market_id").unique().sort().alias("claimants"))
        .filter(pl.col("claimants").list.len() > 1)
    )
    dup_markets = (
        claims.with_columns(listing=pl.col("claimants").list.join(", "))
        .explode("claimants", keep_nulls=False)
        .group_by(SNAP, pl.col("claimants").alias("market_id"))
        .agg(
            pl.format(
                "{} {} {} claimed by markets {}",
                pl.col("odds_event_id"),
                pl.col("market_key"),
                pl.col("odds_outcome_name"),
                pl.col("listing"),
            )
            .min()  # one market may claim several outcomes: the same one on every run
            .alias("dup_reason")
        )
    )
    t = t.join(dup_markets, on=[SNAP, "market_id"], how="left").with_columns(
        method=pl.when(pl.col("dup_reason").is_not_null() & pl.col("method").is_in(MATCHED_METHODS))
        .then(pl.lit("conflict"))
        .otherwise(pl.col("method")),
        reason=pl.when(pl.col("dup_reason").is_not_null() & pl.col("method").is_in(MATCHED_METHODS))
        .then(pl.concat_str(pl.lit("one-to-one violated: "), pl.col("dup_reason")))
        .otherwise(pl.col("reason")),
    )
    one_event = pl.col("method").is_in(MATCHED_METHODS) | (
        (pl.col("method") == "conflict") & (pl.col("market_status") == "ok")
    )
    out = t.with_columns(
        observed_at=pl.col(SNAP),
        pm_market_id=pl.col("market_id"),
        odds_event_id=pl.when(one_event | (pl.col("complement") & (pl.col("market_status") == "ok"))).then(
            pl.col("odds_event_id")
        ),
        odds_outcome_name=pl.when(one_event).then(pl.col("odds_outcome_name")),
        point=pl.when(pl.col("market_key").is_not_null()).then(pl.col("point")),
        confidence=pl.col("confidence").fill_null(0.0),
    ).sort(SNAP, "pm_market_id", "idx")
    return out.select([pl.col(c).cast(dt) for c, dt in MARKET_MAPPINGS.items()])


def match_hours(
    pm_markets: pl.DataFrame, odds: pl.DataFrame, resolver: AliasResolver, **kwargs: timedelta
) -> pl.DataFrame:
    """match_markets for every hour of a window in one pass: each hour's last PM_MARKETS poll against
    that hour's odds, observed at the poll (a single-run backfill holds many hours)."""
    if pm_markets.height == 0:
        return _empty_mappings()
    hour = pl.col("observed_at").dt.truncate("1h")
    polls = pm_markets.filter(pl.col("observed_at") == pl.col("observed_at").max().over(hour)).with_columns(
        pl.col("observed_at").alias(SNAP)
    )
    snaps = polls.group_by(hour.alias("_hour")).agg(pl.col(SNAP).first())
    hour_odds = (
        odds.with_columns(_hour=hour)
        .join(snaps, on="_hour", how="inner", maintain_order="left")
        .drop("_hour")
    )
    return match_snapshots(polls, hour_odds, resolver, **kwargs)


# Reason of a token whose event was found but whose market no book quotes at any line: book
# coverage (the books have not posted spreads yet, or dropped them), not a mapping failure.
NO_BOOK_QUOTE_RE = r"^event \S+ has no \S+ quote for "


class UnmatchedReport(TypedDict):
    tokens: int
    in_scope: int
    matched: int
    unmatched: int
    no_book_quote: int
    conflict: int
    after_start: int
    out_of_scope: int
    unmatched_share: float
    unresolved_names: dict[str, int]


def unmatched_report(mappings: pl.DataFrame, pm_markets: pl.DataFrame | None = None) -> UnmatchedReport:
    """How well the mapping did on what it can be judged by: pre-match, in-scope tokens.

    `unmatched` counts the mapping's own failures (names that do not resolve, no Odds API event,
    an outcome that is not one of the event's teams). Two kinds of unmatched tokens are counted
    apart because no alias can fix them: `no_book_quote` (the event is found, but no book quotes
    that market at any line) and, given `pm_markets` for the game starts, `after_start` (in-scope
    tokens of games already under way: books pull in-play lines and drop finished games).
    `unmatched_share` = unmatched / in_scope, both over pre-match tokens.
    """
    m = mappings
    if pm_markets is not None and pm_markets.height:
        key = ["observed_at", "pm_market_id"]
        starts = pm_markets.select("observed_at", "game_start_time", pm_market_id="market_id")
        m = m.join(starts.unique(key), on=key, how="left")
        started = (pl.col("game_start_time") <= pl.col("observed_at")).fill_null(False)
    else:
        started = pl.lit(False)
    in_scope = pl.col("method") != "out_of_scope"
    unmatched = pl.col("method") == "unmatched"
    no_quote = unmatched & pl.col("reason").str.contains(NO_BOOK_QUOTE_RE).fill_null(False)
    failed = unmatched & ~no_quote
    pre = ~started
    counts = m.select(
        tokens=pl.len(),
        in_scope=(pre & in_scope).sum(),
        matched=(pre & pl.col("method").is_in(MATCHED_METHODS)).sum(),
        unmatched=(pre & failed).sum(),
        no_book_quote=(pre & no_quote).sum(),
        conflict=(pre & (pl.col("method") == "conflict")).sum(),
        after_start=(started & in_scope).sum(),
        out_of_scope=(~in_scope).sum(),
    ).row(0, named=True)
    names = (
        m.filter(pre & failed)
        .select(pl.col("reason").str.extract_all(r'"([^"]+)" (?:not resolved|is ambiguous)').alias("n"))
        .explode("n")
        .drop_nulls()
        .select(pl.col("n").str.extract(r'^"(.+)"', 1))
        .group_by("n")
        .len()
        .sort(["len", "n"], descending=[True, False])
    )
    n = {k: int(v) for k, v in counts.items()}
    return UnmatchedReport(
        tokens=n["tokens"],
        in_scope=n["in_scope"],
        matched=n["matched"],
        unmatched=n["unmatched"],
        no_book_quote=n["no_book_quote"],
        conflict=n["conflict"],
        after_start=n["after_start"],
        out_of_scope=n["out_of_scope"],
        unmatched_share=(n["unmatched"] / n["in_scope"]) if n["in_scope"] else 0.0,
        unresolved_names=dict(names.iter_rows()),
    )


def evaluate(mappings: pl.DataFrame, truth: pl.DataFrame) -> tuple[float, float, pl.DataFrame]:
    """Precision / recall of the usable mappings against ground truth (e.g. from the simulator).

    `truth`: one row per token that SHOULD map: pm_token_id, odds_event_id, market_key,
    odds_outcome_name, point (null for h2h). Tokens absent from `truth` should not map.
    Precision = correct / mapped; recall = correct / len(truth). `misses` lists every token
    where the two disagree, with what was expected and what was produced.
    """
    key = ["odds_event_id", "market_key", "odds_outcome_name", "point"]
    got = mappings.filter(pl.col("method").is_in(MATCHED_METHODS)).select(
        "pm_token_id", *key, pl.col("point").round(2).alias("_p")
    )
    want = truth.select("pm_token_id", *key).with_columns(_p=pl.col("point").cast(pl.Float64).round(2))
    both = want.join(got, on="pm_token_id", how="full", suffix="_got", coalesce=True)
    correct = (
        (pl.col("odds_event_id") == pl.col("odds_event_id_got"))
        & (pl.col("market_key") == pl.col("market_key_got"))
        & (pl.col("odds_outcome_name") == pl.col("odds_outcome_name_got"))
        & (pl.col("_p").eq_missing(pl.col("_p_got")))
    ).fill_null(False)
    both = both.with_columns(_correct=correct)
    n_correct = int(both["_correct"].sum())
    precision = n_correct / got.height if got.height else 1.0
    recall = n_correct / want.height if want.height else 1.0
    info = mappings.select("pm_token_id", "pm_market_id", "method", "reason").unique("pm_token_id")
    misses = (
        both.filter(~pl.col("_correct"))
        .drop("_p", "_p_got", "_correct")
        .join(info, on="pm_token_id", how="left")
        .sort("pm_token_id")
    )
    return precision, recall, misses

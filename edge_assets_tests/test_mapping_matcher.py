"""Matcher on hand-built frames: every verdict checked against a hand-worked expectation."""

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest

from edge_assets import schemas
from edge_assets.mapping.aliases import AliasResolver
from edge_assets.mapping.matcher import evaluate, match_markets, unmatched_report

OBS = datetime(2026, 10, 9, 12, 0, tzinfo=UTC)
KICK = datetime(2026, 10, 10, 0, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def resolver() -> AliasResolver:
    return AliasResolver.from_csv()


def pm_row(market_id: str, question: str, outcomes: list[str], **kw: Any) -> dict[str, Any]:
    """A PM_MARKETS row with only what the matcher reads filled in."""
    row: dict[str, Any] = {c: None for c in schemas.PM_MARKETS}
    row.update(
        observed_at=OBS,
        market_id=market_id,
        question=question,
        slug=kw.pop("slug", f"nfl-tb-dal-2026-10-09-{market_id}"),
        league=kw.pop("league", "nfl"),
        outcomes=outcomes,
        token_ids=[f"{market_id}-t{i}" for i in range(len(outcomes))],
        game_start_time=kw.pop("start", KICK),
    )
    row.update(kw)
    return row


def pm_frame(*rows: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=schemas.PM_MARKETS)


def quotes(
    event_id: str,
    sport_key: str,
    home: str,
    away: str,
    commence: datetime,
    outcomes: list[tuple[str, str, float | None]],
) -> list[dict[str, Any]]:
    """ODDS_QUOTES rows of one event for one book: outcomes = [(market_key, name, point)]."""
    return [
        {
            "observed_at": OBS,
            "event_id": event_id,
            "sport_key": sport_key,
            "commence_time": commence,
            "home_team": home,
            "away_team": away,
            "bookmaker": "draftkings",
            "market_key": mk,
            "outcome_name": name,
            "point": point,
            "price_decimal": 1.9,
            "last_update": OBS,
        }
        for mk, name, point in outcomes
    ]


def odds_frame(*events: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([r for e in events for r in e], schema=schemas.ODDS_QUOTES)


NFL_FULL = [
    ("h2h", "Dallas Cowboys", None),
    ("h2h", "Tampa Bay Buccaneers", None),
    ("spreads", "Dallas Cowboys", -9.5),
    ("spreads", "Tampa Bay Buccaneers", 9.5),
    ("totals", "Over", 47.5),
    ("totals", "Under", 47.5),
]
TB_DAL = quotes("ev_tb_dal", "americanfootball_nfl", "Dallas Cowboys", "Tampa Bay Buccaneers", KICK, NFL_FULL)


def by_token(m: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["pm_token_id"]: r for r in m.iter_rows(named=True)}


def test_output_follows_contract_and_observed_at(resolver: AliasResolver) -> None:
    pm = pm_frame(
        pm_row("ml", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"], sports_market_type="moneyline")
    )
    m = match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS)
    assert m.schema == pl.Schema(schemas.MARKET_MAPPINGS)
    assert m["observed_at"].to_list() == [OBS, OBS]


def test_moneyline_maps_each_token_to_the_full_team_name(resolver: AliasResolver) -> None:
    pm = pm_frame(
        pm_row("ml", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"], sports_market_type="moneyline")
    )
    m = by_token(match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS))
    for tok, name in (("ml-t0", "Tampa Bay Buccaneers"), ("ml-t1", "Dallas Cowboys")):
        r = m[tok]
        assert (r["odds_event_id"], r["market_key"], r["odds_outcome_name"], r["point"]) == (
            "ev_tb_dal",
            "h2h",
            name,
            None,
        )
        assert (r["method"], r["confidence"], r["reason"], r["sport_key"]) == (
            "exact",
            1.0,
            None,
            "americanfootball_nfl",
        )
    assert m["ml-t0"]["pm_outcome"] == "Buccaneers"


def test_spreads_give_the_line_to_the_favoured_side_and_minus_line_to_the_other(
    resolver: AliasResolver,
) -> None:
    pm = pm_frame(
        pm_row(
            "sp", "Spread: Cowboys (-9.5)", ["Cowboys", "Buccaneers"], sports_market_type="spreads", line=-9.5
        )
    )
    m = by_token(match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS))
    assert (m["sp-t0"]["odds_outcome_name"], m["sp-t0"]["point"], m["sp-t0"]["market_key"]) == (
        "Dallas Cowboys",
        -9.5,
        "spreads",
    )
    assert (m["sp-t1"]["odds_outcome_name"], m["sp-t1"]["point"]) == ("Tampa Bay Buccaneers", 9.5)
    assert {r["method"] for r in m.values()} == {"exact"}


def test_spread_sign_follows_the_question_team_even_if_outcomes_are_reordered(
    resolver: AliasResolver,
) -> None:
    pm = pm_frame(
        pm_row("sp", "Spread: Cowboys (-9.5)", ["Buccaneers", "Cowboys"], sports_market_type="spreads")
    )
    m = by_token(match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS))
    assert (m["sp-t0"]["odds_outcome_name"], m["sp-t0"]["point"]) == ("Tampa Bay Buccaneers", 9.5)
    assert (m["sp-t1"]["odds_outcome_name"], m["sp-t1"]["point"]) == ("Dallas Cowboys", -9.5)


def test_spread_line_not_quoted_maps_at_polymarket_line_with_available_points(
    resolver: AliasResolver,
) -> None:
    """The outcome is quoted at another line: it maps at Polymarket's line (features re-target)."""
    pm = pm_frame(
        pm_row("sp", "Spread: Cowboys (-7.5)", ["Cowboys", "Buccaneers"], sports_market_type="spreads")
    )
    m = by_token(match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS))
    got = {k: (r["method"], r["odds_event_id"], r["odds_outcome_name"], r["point"]) for k, r in m.items()}
    assert got["sp-t0"] == ("exact", "ev_tb_dal", "Dallas Cowboys", -7.5)
    assert got["sp-t1"] == ("exact", "ev_tb_dal", "Tampa Bay Buccaneers", 7.5)
    assert m["sp-t0"]["reason"] == (
        "line -7.5 not quoted by books (quoted points: -9.5, 9.5); priced by re-targeting"
    )
    assert m["sp-t0"]["confidence"] == 1.0


def test_total_without_any_totals_quote_stays_unmatched(resolver: AliasResolver) -> None:
    """No book quotes the market for that outcome at any line: nothing to price it from."""
    pm = pm_frame(
        pm_row("tot", "Buccaneers vs. Cowboys: O/U 47.5", ["Over", "Under"], sports_market_type="totals")
    )
    no_totals = [q for q in TB_DAL if q["market_key"] != "totals"]
    m = by_token(match_markets(pm, odds_frame(no_totals), resolver, observed_at=OBS))
    assert m["tot-t0"]["method"] == "unmatched"
    assert m["tot-t0"]["reason"] == (
        "event ev_tb_dal has no totals quote for Over at 47.5 (quoted points: none)"
    )
    assert m["tot-t0"]["odds_event_id"] is None


def test_totals_map_over_under_with_point(resolver: AliasResolver) -> None:
    pm = pm_frame(
        pm_row("tot", "Buccaneers vs. Cowboys: O/U 47.5", ["Over", "Under"], sports_market_type="totals")
    )
    m = by_token(match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS))
    assert [(r["odds_outcome_name"], r["point"], r["market_key"], r["method"]) for r in m.values()] == [
        ("Over", 47.5, "totals", "exact"),
        ("Under", 47.5, "totals", "exact"),
    ]


EPL_KICK = datetime(2026, 10, 10, 14, 0, tzinfo=UTC)
MUN_TOT = quotes(
    "ev_mun_tot",
    "soccer_epl",
    "Manchester United",
    "Tottenham Hotspur",
    EPL_KICK,
    [("h2h", "Manchester United", None), ("h2h", "Tottenham Hotspur", None), ("h2h", "Draw", None)],
)


def epl_row(mid: str, question: str, **kw: Any) -> dict[str, Any]:
    return pm_row(
        mid,
        question,
        ["Yes", "No"],
        league="epl",
        slug=f"epl-mun-tot-2026-10-10-{mid}",
        sports_market_type="moneyline",
        start=EPL_KICK,
        **{"event_title": "Manchester United FC vs. Tottenham Hotspur FC", **kw},
    )


def test_soccer_three_way_yes_tokens_map_to_team_and_draw(resolver: AliasResolver) -> None:
    pm = pm_frame(
        epl_row("home", "Will Manchester United FC win on 2026-10-10?"),
        epl_row("draw", "Will Manchester United FC vs. Tottenham Hotspur FC end in a draw?"),
        epl_row("away", "Will Tottenham Hotspur FC win on 2026-10-10?"),
    )
    m = by_token(match_markets(pm, odds_frame(MUN_TOT), resolver, observed_at=OBS))
    yes = {
        k: (r["odds_event_id"], r["market_key"], r["odds_outcome_name"], r["method"]) for k, r in m.items()
    }
    assert yes["home-t0"] == ("ev_mun_tot", "h2h", "Manchester United", "exact")
    assert yes["draw-t0"] == ("ev_mun_tot", "h2h", "Draw", "exact")
    assert yes["away-t0"] == ("ev_mun_tot", "h2h", "Tottenham Hotspur", "exact")
    for no in ("home-t1", "draw-t1", "away-t1"):
        assert m[no]["method"] == "out_of_scope"
        assert m[no]["odds_outcome_name"] is None
        assert m[no]["odds_event_id"] == "ev_mun_tot"
        assert "complement" in m[no]["reason"]


def test_soccer_short_names_and_abbreviated_title(resolver: AliasResolver) -> None:
    pm = pm_frame(epl_row("home", "Will Man Utd win on 2026-10-10?", event_title="Man Utd vs. Spurs"))
    m = by_token(match_markets(pm, odds_frame(MUN_TOT), resolver, observed_at=OBS))
    assert m["home-t0"]["odds_outcome_name"] == "Manchester United"


def test_team_order_reversed_and_home_away_columns(resolver: AliasResolver) -> None:
    # Soccer title home-first, but here PM lists the away side first: the pair is unordered.
    pm = pm_frame(
        epl_row("draw", "Will Tottenham vs. Manchester United end in a draw?"),
        epl_row(
            "w", "Will Spurs win on 2026-10-10?", event_title=None, home_team="Spurs", away_team="Man United"
        ),
    )
    m = by_token(match_markets(pm, odds_frame(MUN_TOT), resolver, observed_at=OBS))
    assert (m["draw-t0"]["odds_outcome_name"], m["draw-t0"]["method"]) == ("Draw", "exact")
    assert (m["w-t0"]["odds_outcome_name"], m["w-t0"]["odds_event_id"]) == ("Tottenham Hotspur", "ev_mun_tot")


def test_start_time_drift_within_tolerance_is_matched_beyond_is_not(resolver: AliasResolver) -> None:
    drifted = quotes(
        "ev_late",
        "americanfootball_nfl",
        "Dallas Cowboys",
        "Tampa Bay Buccaneers",
        KICK + timedelta(hours=3, minutes=40),  # rain delay
        NFL_FULL,
    )
    pm = pm_frame(pm_row("ml", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"]))
    m = match_markets(pm, odds_frame(drifted), resolver, observed_at=OBS)
    assert m["odds_event_id"].to_list() == ["ev_late", "ev_late"]
    m2 = match_markets(pm, odds_frame(drifted), resolver, observed_at=OBS, tolerance=timedelta(hours=2))
    assert m2["method"].to_list() == ["unmatched", "unmatched"]
    assert m2["reason"][0] == (
        "no Odds API event for Dallas Cowboys vs Tampa Bay Buccaneers within ±2h of 2026-10-10T00:15Z "
        "(nearest: ev_late at 2026-10-10T03:55Z)"
    )


def test_doubleheader_resolved_by_closest_start(resolver: AliasResolver) -> None:
    g1 = datetime(2026, 8, 7, 17, 5, tzinfo=UTC)
    g2 = datetime(2026, 8, 7, 23, 10, tzinfo=UTC)
    h2h = [("h2h", "New York Yankees", None), ("h2h", "Boston Red Sox", None)]
    odds = odds_frame(
        quotes("ev_g1", "baseball_mlb", "New York Yankees", "Boston Red Sox", g1, h2h),
        quotes("ev_g2", "baseball_mlb", "New York Yankees", "Boston Red Sox", g2, h2h),
    )
    pm = pm_frame(
        pm_row(
            "a",
            "Red Sox vs. Yankees",
            ["Red Sox", "Yankees"],
            league="mlb",
            slug="mlb-bos-nyy-2026-08-07",
            start=g1 + timedelta(minutes=20),
        ),
        pm_row(
            "b",
            "Red Sox vs. Yankees (Game 2)",
            ["Boston Red Sox", "NY Yankees"],
            league="mlb",
            slug="mlb-bos-nyy-2026-08-07",
            start=g2 - timedelta(hours=1),
        ),
    )
    m = by_token(match_markets(pm, odds, resolver, observed_at=OBS))
    assert [m[t]["odds_event_id"] for t in ("a-t0", "a-t1", "b-t0", "b-t1")] == [
        "ev_g1",
        "ev_g1",
        "ev_g2",
        "ev_g2",
    ]
    assert m["b-t1"]["odds_outcome_name"] == "New York Yankees"


def test_two_candidate_events_within_margin_is_a_conflict(resolver: AliasResolver) -> None:
    h2h = [("h2h", "New York Yankees", None), ("h2h", "Boston Red Sox", None)]
    t0 = datetime(2026, 8, 7, 17, 0, tzinfo=UTC)
    odds = odds_frame(
        quotes("ev_x", "baseball_mlb", "New York Yankees", "Boston Red Sox", t0, h2h),
        quotes("ev_y", "baseball_mlb", "New York Yankees", "Boston Red Sox", t0 + timedelta(minutes=20), h2h),
    )
    pm = pm_frame(
        pm_row(
            "a", "Red Sox vs. Yankees", ["Red Sox", "Yankees"], league="mlb", start=t0 + timedelta(minutes=10)
        )
    )
    m = match_markets(pm, odds, resolver, observed_at=OBS)
    assert m["method"].to_list() == ["conflict", "conflict"]
    assert (
        m["reason"][0]
        == "2 candidate events within 30m of each other: ev_x (2026-08-07T17:00Z), ev_y (2026-08-07T17:20Z)"
    )
    assert m["odds_event_id"].to_list() == [None, None]


def test_two_markets_claiming_the_same_outcome_are_conflicts(resolver: AliasResolver) -> None:
    pm = pm_frame(
        pm_row("m1", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"]),
        pm_row("m2", "Tampa Bay Buccaneers vs. Dallas Cowboys", ["Tampa Bay Buccaneers", "Dallas Cowboys"]),
        pm_row("tot", "Buccaneers vs. Cowboys: O/U 47.5", ["Over", "Under"]),
    )
    m = by_token(match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS))
    assert [m[t]["method"] for t in ("m1-t0", "m1-t1", "m2-t0", "m2-t1")] == ["conflict"] * 4
    # each market claims both outcomes: the reason names the same one (the first by name) every run
    reason = "one-to-one violated: ev_tb_dal h2h Dallas Cowboys claimed by markets m1, m2"
    assert {m[t]["reason"] for t in ("m1-t0", "m1-t1", "m2-t0", "m2-t1")} == {reason}
    assert m["tot-t0"]["method"] == "exact"


def test_aston_villa_slug_code_is_not_an_assists_prop(resolver: AliasResolver) -> None:
    """Polymarket's code for Aston Villa is `ast`, also the assists stat of player props: its games
    map like any other, while an assists prop (player, line) stays out of scope."""
    kick = datetime(2026, 1, 18, 14, 0, tzinfo=UTC)
    villa = quotes(
        "ev_ast_eve",
        "soccer_epl",
        "Aston Villa",
        "Everton",
        kick,
        [
            ("h2h", "Aston Villa", None),
            ("h2h", "Everton", None),
            ("h2h", "Draw", None),
            ("totals", "Over", 2.5),
            ("totals", "Under", 2.5),
        ],
    )
    game = {"league": "epl", "start": kick, "event_slug": "epl-ast-eve-2026-01-18"}
    game["event_title"] = "Aston Villa FC vs. Everton FC"
    pm = pm_frame(
        pm_row(
            "win",
            "Will Aston Villa FC win on 2026-01-18?",
            ["Yes", "No"],
            slug="epl-ast-eve-2026-01-18-ast",
            sports_market_type="moneyline",
            **game,
        ),
        pm_row(
            "tot",
            "Aston Villa FC vs. Everton FC: O/U 2.5",
            ["Over", "Under"],
            slug="epl-ast-eve-2026-01-18-total-2pt5",
            sports_market_type="totals",
            **game,
        ),
        pm_row(
            "prop",
            "LeBron James: Assists O/U 7.5",
            ["Over", "Under"],
            league="nba",
            slug="nba-lal-dal-2026-04-05-ast-lebron-james-7pt5",
        ),
    )
    m = by_token(match_markets(pm, odds_frame(villa), resolver, observed_at=OBS))
    assert (m["win-t0"]["method"], m["win-t0"]["odds_outcome_name"]) == ("exact", "Aston Villa")
    assert (m["tot-t0"]["method"], m["tot-t0"]["odds_outcome_name"], m["tot-t0"]["point"]) == (
        "exact",
        "Over",
        2.5,
    )
    assert m["prop-t0"]["method"] == "out_of_scope"


def test_out_of_scope_markets_are_classified_not_mapped(resolver: AliasResolver) -> None:
    epl = {"league": "epl", "start": EPL_KICK, "slug": "epl-mun-tot-2026-10-10"}
    pm = pm_frame(
        pm_row(
            "team_total",
            "Manchester United vs. Tottenham: Manchester United O/U 1.5",
            ["Over", "Under"],
            sports_market_type="totals",
            **epl,
        ),
        pm_row(
            "half", "1H: Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"], sports_market_type="moneyline"
        ),
        pm_row(
            "half_total",
            "Buccaneers vs. Cowboys: 1st Half O/U 23.5",
            ["Over", "Under"],
            sports_market_type="totals",
        ),
        pm_row(
            "f5",
            "Red Sox vs. Yankees: 1st 5 Innings O/U 4.5",
            ["Over", "Under"],
            league="mlb",
            slug="mlb-bos-nyy-2026-08-07-f5-total-4pt5",
        ),
        pm_row(
            "nrfi",
            "Red Sox vs. Yankees: Run in the first inning?",
            ["Yes", "No"],
            league="mlb",
            slug="mlb-bos-nyy-2026-08-07-nrfi",
        ),
        pm_row(
            "prop",
            "Aaron Judge: Home Run?",
            ["Yes", "No"],
            league="mlb",
            slug="mlb-bos-nyy-2026-08-07-hr-judge-0pt5",
        ),
        pm_row("future", "Will Arsenal win the 2025–26 English Premier League?", ["Yes", "No"], **epl),
        pm_row(
            "allstar",
            "American League vs. National League",
            ["American League", "National League"],
            league="mlb",
            slug="mlb-all-star-2026-07-14",
        ),
        pm_row(
            "kbo", "Doosan Bears vs. LG Twins", ["Doosan Bears", "LG Twins"], league="kbo", slug="kbo-doo-lg"
        ),
        pm_row(
            "cs2",
            "Counter-Strike: FaZe vs illwill (BO3)",
            ["FaZe", "illwill"],
            league="cs2",
            sports_market_type="moneyline",
        ),
        pm_row(
            "handicap",
            "Map Handicap: FaZe (-1.5) vs illwill (+1.5)",
            ["FaZe", "illwill"],
            sports_market_type="map_handicap",
        ),
    )
    m = match_markets(pm, odds_frame(TB_DAL, MUN_TOT), resolver, observed_at=OBS)
    per_market = dict(m.group_by("pm_market_id").agg(pl.col("method").unique().first()).iter_rows())
    assert per_market == {k: "out_of_scope" for k in per_market}
    assert len(per_market) == 11
    reasons = dict(m.select("pm_market_id", "reason").unique().iter_rows())
    assert reasons["team_total"] == "totals market is not the full-game total (team or partial total)"
    assert reasons["kbo"] == "league 'kbo' is not in scope"
    assert reasons["handicap"] == "sports_market_type 'map_handicap' has no sportsbook counterpart"
    assert reasons["future"] == "Yes/No question is not a game outcome (future, prop or special)"
    assert m.filter(pl.col("odds_event_id").is_not_null()).height == 0


def test_unknown_team_is_unmatched_with_candidates_and_reported(resolver: AliasResolver) -> None:
    pm = pm_frame(
        pm_row("x", "Buccaneers vs. Cowboyz FC United", ["Buccaneers", "Cowboyz FC United"]),
        pm_row("la", "LA vs. Cowboys", ["LA", "Cowboys"]),
        pm_row("ok", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"]),
    )
    m = match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS)
    x = m.filter(pl.col("pm_market_id") == "x").row(0, named=True)
    assert x["method"] == "unmatched"
    assert x["reason"].startswith(
        'unresolved team names: "Cowboyz FC United" not resolved in americanfootball_nfl'
    )
    assert "closest: Dallas Cowboys (" in x["reason"]
    la = m.filter(pl.col("pm_market_id") == "la").row(0, named=True)
    assert la["reason"] == (
        'unresolved team names: "LA" is ambiguous in americanfootball_nfl: '
        "Los Angeles Chargers | Los Angeles Rams"
    )
    rep = unmatched_report(m)
    assert rep["tokens"] == 6 and rep["in_scope"] == 6 and rep["matched"] == 2 and rep["unmatched"] == 4
    assert rep["unmatched_share"] == pytest.approx(4 / 6)
    assert rep["unresolved_names"] == {"Cowboyz FC United": 2, "LA": 2}


def test_report_judges_the_mapping_on_pre_match_tokens_only(resolver: AliasResolver) -> None:
    """A market no book quotes and a game under way are not alias failures: counted apart."""
    pm = pm_frame(
        pm_row("ok", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"], sports_market_type="moneyline"),
        pm_row("tot", "Buccaneers vs. Cowboys: O/U 47.5", ["Over", "Under"], sports_market_type="totals"),
        pm_row("x", "Buccaneers vs. Cowboyz FC United", ["Buccaneers", "Cowboyz FC United"]),
        pm_row(
            "live",
            "Giants vs. Eagles",
            ["Giants", "Eagles"],
            slug="nfl-nyg-phi-2026-10-09",
            start=OBS - timedelta(hours=1),
        ),
    )
    no_totals = [q for q in TB_DAL if q["market_key"] != "totals"]
    m = match_markets(pm, odds_frame(no_totals), resolver, observed_at=OBS)
    reasons = dict(m.select("pm_token_id", "reason").iter_rows())
    assert reasons["live-t0"] == (
        "no Odds API event for New York Giants vs Philadelphia Eagles in americanfootball_nfl"
    )
    assert reasons["tot-t1"] == "event ev_tb_dal has no totals quote for Under at 47.5 (quoted points: none)"

    rep = unmatched_report(m, pm)
    assert {k: v for k, v in rep.items() if k != "unresolved_names"} == {
        "tokens": 8,
        "in_scope": 6,
        "matched": 2,
        "unmatched": 2,
        "no_book_quote": 2,
        "conflict": 0,
        "after_start": 2,
        "out_of_scope": 0,
        "unmatched_share": 2 / 6,
    }
    assert rep["unresolved_names"] == {"Cowboyz FC United": 2}
    # without the game starts, the started game's tokens count as failures
    blind = unmatched_report(m)
    assert (blind["in_scope"], blind["unmatched"], blind["after_start"]) == (8, 4, 0)


def test_fuzzy_match_is_labelled_with_confidence(resolver: AliasResolver) -> None:
    odds = odds_frame(
        quotes(
            "ev_nhl",
            "icehockey_nhl",
            "Montréal Canadiens",
            "St Louis Blues",
            KICK,
            [("h2h", "Montréal Canadiens", None), ("h2h", "St Louis Blues", None)],
        )
    )
    pm = pm_frame(
        pm_row(
            "h",
            "St. Louis Blues vs. Montreal Canadians",
            ["St. Louis Blues", "Montreal Canadians"],
            league="nhl",
        )
    )
    m = by_token(match_markets(pm, odds, resolver, observed_at=OBS))
    assert (m["h-t0"]["odds_outcome_name"], m["h-t0"]["method"]) == ("St Louis Blues", "fuzzy")
    assert (m["h-t1"]["odds_outcome_name"], m["h-t1"]["method"]) == ("Montréal Canadiens", "fuzzy")
    assert m["h-t1"]["confidence"] == pytest.approx(0.9444, abs=1e-4)


def test_latest_observation_wins_for_markets_and_events(resolver: AliasResolver) -> None:
    old = pm_row("ml", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"], start=KICK - timedelta(days=3))
    old["observed_at"] = OBS - timedelta(hours=1)
    new = pm_row("ml", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"])
    m = match_markets(pm_frame(new, old), odds_frame(TB_DAL), resolver, observed_at=OBS)
    assert m.height == 2 and m["method"].to_list() == ["exact", "exact"]


def test_evaluate_precision_recall_and_misses(resolver: AliasResolver) -> None:
    pm = pm_frame(
        pm_row("ml", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"]),
        pm_row("tot", "Buccaneers vs. Cowboys: O/U 47.5", ["Over", "Under"]),
    )
    m = match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS)
    truth = pl.DataFrame(
        {
            "pm_token_id": ["ml-t0", "ml-t1", "tot-t0", "tot-t1", "ghost"],
            "odds_event_id": ["ev_tb_dal"] * 4 + ["ev_other"],
            "market_key": ["h2h", "h2h", "totals", "totals", "h2h"],
            "odds_outcome_name": ["Tampa Bay Buccaneers", "Dallas Cowboys", "Over", "Under", "X"],
            "point": [None, None, 47.5, 44.5, None],  # tot-t1 wrong on purpose in the "truth"
        }
    )
    precision, recall, misses = evaluate(m, truth)
    assert precision == pytest.approx(3 / 4)
    assert recall == pytest.approx(3 / 5)
    assert sorted(misses["pm_token_id"].to_list()) == ["ghost", "tot-t1"]


def test_empty_inputs(resolver: AliasResolver) -> None:
    m = match_markets(pl.DataFrame(schema=schemas.PM_MARKETS), odds_frame(TB_DAL), resolver, observed_at=OBS)
    assert m.height == 0 and m.schema == pl.Schema(schemas.MARKET_MAPPINGS)
    pm = pm_frame(pm_row("ml", "Buccaneers vs. Cowboys", ["Buccaneers", "Cowboys"]))
    m = match_markets(pm, pl.DataFrame(schema=schemas.ODDS_QUOTES), resolver, observed_at=OBS)
    assert m["method"].to_list() == ["unmatched", "unmatched"]
    assert (
        m["reason"][0]
        == "no Odds API event for Dallas Cowboys vs Tampa Bay Buccaneers in americanfootball_nfl"
    )


def _real_nfl_quotes() -> pl.DataFrame:
    """Flatten the real 2025-09-10 NFL /odds recording into ODDS_QUOTES rows (prices irrelevant here)."""
    from edge_assets_tests.conftest import load_real

    events = load_real("oddsapi_v4_odds_americanfootball_nfl_us_american_2025-09-10.json")
    rows = [
        {
            "observed_at": OBS,
            "event_id": e["id"],
            "sport_key": e["sport_key"],
            "commence_time": datetime.fromisoformat(e["commence_time"].replace("Z", "+00:00")),
            "home_team": e["home_team"],
            "away_team": e["away_team"],
            "bookmaker": b["key"],
            "market_key": mk["key"],
            "outcome_name": o["name"],
            "point": o.get("point"),
            "price_decimal": 1.9,
            "last_update": OBS,
        }
        for e in events
        for b in e["bookmakers"]
        for mk in b["markets"]
        for o in mk["outcomes"]
    ]
    return pl.DataFrame(rows, schema=schemas.ODDS_QUOTES)


def test_real_odds_api_recording_with_polymarket_naming(resolver: AliasResolver) -> None:
    odds = _real_nfl_quotes()
    gb = "0c6e5d9821ce0d3e82f3e792879776a6"  # Packers (home) vs Commanders, commence 00:16Z (actual start)
    det = "1ee9ea2c8256bc6be5dd92e60f6c17de"  # Lions (home) vs Bears
    scheduled = datetime(2025, 9, 12, 0, 15, tzinfo=UTC)  # Polymarket's gameStartTime (8:15 pm ET)
    sunday = datetime(2025, 9, 14, 17, 0, tzinfo=UTC)
    kw = {"league": "nfl", "slug": "nfl-was-gb-2025-09-11"}
    pm = pm_frame(
        pm_row(
            "ml",
            "Commanders vs. Packers",
            ["Commanders", "Packers"],
            sports_market_type="moneyline",
            start=scheduled,
            **kw,
        ),
        pm_row(
            "sp",
            "Spread: Packers (-3.5)",
            ["Packers", "Commanders"],
            sports_market_type="spreads",
            line=-3.5,
            start=scheduled,
            **kw,
        ),
        pm_row(
            "sp25",
            "Spread: Packers (-2.5)",
            ["Packers", "Commanders"],
            sports_market_type="spreads",
            start=scheduled,
            **kw,
        ),
        pm_row(
            "ou",
            "Commanders vs. Packers: O/U 48",
            ["Over", "Under"],
            sports_market_type="totals",
            start=scheduled,
            **kw,
        ),
        pm_row(
            "lions",
            "Spread: Lions (-6)",
            ["Lions", "Bears"],
            sports_market_type="spreads",
            start=sunday,
            league="nfl",
            slug="nfl-chi-det-2025-09-14-spread-home-6pt0",
        ),
    )
    m = by_token(match_markets(pm, odds, resolver, observed_at=OBS))
    got = {
        k: (r["method"], r["odds_event_id"], r["market_key"], r["odds_outcome_name"], r["point"])
        for k, r in m.items()
    }
    assert got["ml-t0"] == ("exact", gb, "h2h", "Washington Commanders", None)
    assert got["ml-t1"] == ("exact", gb, "h2h", "Green Bay Packers", None)
    assert got["sp-t0"] == ("exact", gb, "spreads", "Green Bay Packers", -3.5)
    assert got["sp-t1"] == ("exact", gb, "spreads", "Washington Commanders", 3.5)
    assert got["ou-t0"] == ("exact", gb, "totals", "Over", 48.0)
    assert got["lions-t0"] == ("exact", det, "spreads", "Detroit Lions", -6.0)
    assert got["lions-t1"] == ("exact", det, "spreads", "Chicago Bears", 6.0)
    assert got["sp25-t0"] == ("exact", gb, "spreads", "Green Bay Packers", -2.5)
    assert m["sp25-t0"]["reason"] == (
        "line -2.5 not quoted by books (quoted points: -3.5, 3.5); priced by re-targeting"
    )


def test_win_market_without_opponent_or_with_foreign_team(resolver: AliasResolver) -> None:
    pm = pm_frame(
        epl_row("lone", "Will Arsenal win on 2026-10-10?", event_title=None),
        epl_row("alien", "Will Arsenal win on 2026-10-10?"),  # title says Man Utd vs Spurs
    )
    m = by_token(match_markets(pm, odds_frame(MUN_TOT), resolver, observed_at=OBS))
    assert m["lone-t0"]["method"] == "unmatched"
    assert m["lone-t0"]["reason"] == (
        "unresolved team names: no pair_a found (needs home/away, an 'A vs. B' title or question); "
        "no pair_b found (needs home/away, an 'A vs. B' title or question)"
    )
    assert m["alien-t0"]["reason"] == (
        '"Arsenal" is not one of the game\'s teams (Manchester United vs Tottenham Hotspur)'
    )


def test_doubleheader_tag_in_total_question_is_not_part_of_the_team(resolver: AliasResolver) -> None:
    """ "Rays vs. Rangers (Game 2): O/U 8.5" names the Rangers, not "Rangers (Game 2)"."""
    g1 = datetime(2026, 11, 21, 18, 5, tzinfo=UTC)
    g2 = datetime(2026, 11, 21, 23, 40, tzinfo=UTC)
    tot = [("totals", "Over", 8.5), ("totals", "Under", 8.5)]
    odds = odds_frame(
        quotes("ev_g1", "baseball_mlb", "Texas Rangers", "Tampa Bay Rays", g1, tot),
        quotes("ev_g2", "baseball_mlb", "Texas Rangers", "Tampa Bay Rays", g2, tot),
    )
    pm = pm_frame(
        pm_row(
            "t2",
            "Rays vs. Rangers (Game 2): O/U 8.5",
            ["Over", "Under"],
            league="mlb",
            sports_market_type="totals",
            line=8.5,
            start=g2,
        ),
        pm_row(
            "t1",
            "Tampa Bay Rays vs. Texas Rangers (Gm. 1): O/U 8.5",
            ["Over", "Under"],
            league="mlb",
            sports_market_type="totals",
            line=8.5,
            start=g1,
        ),
    )
    m = by_token(match_markets(pm, odds, resolver, observed_at=OBS))
    got = {t: (m[t]["method"], m[t]["odds_event_id"], m[t]["odds_outcome_name"]) for t in m}
    assert got == {
        "t1-t0": ("exact", "ev_g1", "Over"),
        "t1-t1": ("exact", "ev_g1", "Under"),
        "t2-t0": ("exact", "ev_g2", "Over"),
        "t2-t1": ("exact", "ev_g2", "Under"),
    }


def test_all_star_game_is_out_of_scope_from_its_event_title(resolver: AliasResolver) -> None:
    """Only the event says "All-Star": the market reads like any game and its slug gives no hint."""
    pm = pm_frame(
        pm_row(
            "asg",
            "American League vs. National League",
            ["American League", "National League"],
            league="mlb",
            slug="mlb-al-nl-2026-11-22",
            event_title="MLB All-Star Game: American League vs. National League",
            sports_market_type="moneyline",
        )
    )
    m = match_markets(pm, odds_frame(TB_DAL), resolver, observed_at=OBS)
    assert m["method"].to_list() == ["out_of_scope", "out_of_scope"]
    assert m["reason"][0].startswith("partial-game, prop or special market")

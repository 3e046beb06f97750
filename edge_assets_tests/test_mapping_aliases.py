"""Alias table, normaliser and league-scoped resolver on the names that trip people up."""

import polars as pl
import pytest

from edge_assets import schemas
from edge_assets.mapping.aliases import DEFAULT_ALIASES_CSV, AliasResolver
from edge_assets.mapping.leagues import PM_TO_SPORT_KEY, sport_key_expr, sport_key_for
from edge_assets.mapping.normalize import normalize_expr, normalize_name

NBA, NFL, NHL, MLB, EPL = (
    "basketball_nba",
    "americanfootball_nfl",
    "icehockey_nhl",
    "baseball_mlb",
    "soccer_epl",
)


@pytest.fixture(scope="module")
def resolver() -> AliasResolver:
    return AliasResolver.from_csv()


def canon(resolver: AliasResolver, name: str, league: str) -> str | None:
    return resolver.resolve(name, league).canonical


# --- the seed table -------------------------------------------------------------------------


def test_seed_table_shape_and_team_counts() -> None:
    table = pl.read_csv(DEFAULT_ALIASES_CSV, schema=schemas.TEAM_ALIASES)
    assert table.columns == list(schemas.TEAM_ALIASES)
    assert table.null_count().sum_horizontal().item() == 0
    teams = dict(table.group_by("league").agg(pl.col("canonical_name").n_unique()).iter_rows())
    # EPL: 20 current (2025-26) + 3 relegated kept for history; NHL: 32 + Arizona Coyotes (history).
    assert teams == {NBA: 30, NFL: 32, NHL: 33, MLB: 30, EPL: 23}
    assert table.filter(pl.col("alias") == pl.col("canonical_name")).height == 30 + 32 + 33 + 30 + 23
    assert table.is_duplicated().sum() == 0


def test_canonical_names_follow_the_odds_api_spelling(resolver: AliasResolver) -> None:
    nhl = resolver.canonical_names(NHL)
    assert {"St Louis Blues", "Montréal Canadiens", "Utah Mammoth"} <= set(nhl)
    assert "Utah Hockey Club" not in nhl
    assert "Athletics" in resolver.canonical_names(MLB)
    epl = set(resolver.canonical_names(EPL))
    assert {
        "Bournemouth",
        "Brighton and Hove Albion",
        "Wolverhampton Wanderers",
        "Leeds United",
        "Burnley",
        "Sunderland",
        "Leicester City",
        "Ipswich Town",
        "Southampton",
        "Nottingham Forest",
    } <= epl
    assert "Washington Commanders" in resolver.canonical_names(NFL)


def test_canonical_names_match_real_odds_api_recordings(resolver: AliasResolver) -> None:
    from edge_assets_tests.conftest import load_real

    for fname, league in (
        ("oddsapi_v4_odds_americanfootball_nfl_us_american_2025-09-10.json", NFL),
        ("oddsapi_v4_scores_icehockey_nhl_2024-03-21.json", NHL),
    ):
        events = load_real(fname)
        names = {e[k] for e in events for k in ("home_team", "away_team")}
        got = {n: resolver.resolve(n, league) for n in names}
        assert {n: (r.canonical, r.method) for n, r in got.items()} == {n: (n, "exact") for n in names}


# --- normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("St. Louis Blues", "st louis blues"),
        ("Saint Louis Blues", "st louis blues"),
        ("Montréal Canadiens", "montreal canadiens"),
        ("Brighton & Hove Albion FC", "brighton and hove albion"),
        ("AFC Bournemouth", "bournemouth"),
        ("Man Utd", "man united"),
        ("L.A. Clippers", "la clippers"),
        ("A's", "as"),
        ("  Nott'm   Forest ", "nottm forest"),
        ("Athletic Club", "athletic club"),
        ("", ""),
    ],
)
def test_normalize_scalar_and_expression_agree(raw: str, norm: str) -> None:
    assert normalize_name(raw) == norm
    assert pl.select(normalize_expr(pl.lit(raw))).item() == norm


def test_normalize_none() -> None:
    assert normalize_name(None) is None


# --- resolver -------------------------------------------------------------------------------


def test_la_teams(resolver: AliasResolver) -> None:
    assert canon(resolver, "LA Clippers", NBA) == "Los Angeles Clippers"
    assert canon(resolver, "Los Angeles Clippers", NBA) == "Los Angeles Clippers"
    assert canon(resolver, "lac", NBA) == "Los Angeles Clippers"
    assert canon(resolver, "Lakers", NBA) == "Los Angeles Lakers"
    assert canon(resolver, "LA Chargers", NFL) == "Los Angeles Chargers"
    assert canon(resolver, "LA Rams", NFL) == "Los Angeles Rams"
    assert canon(resolver, "lac", NFL) == "Los Angeles Chargers"
    for bare in ("LA", "L.A.", "Los Angeles"):
        r = resolver.resolve(bare, NBA)
        assert (r.canonical, r.method, r.candidates) == (
            None,
            "ambiguous",
            ("Los Angeles Clippers", "Los Angeles Lakers"),
        )
    assert resolver.resolve("LA", NFL).candidates == ("Los Angeles Chargers", "Los Angeles Rams")


def test_new_york_football(resolver: AliasResolver) -> None:
    assert canon(resolver, "New York Giants", NFL) == "New York Giants"
    assert canon(resolver, "NY Jets", NFL) == "New York Jets"
    assert canon(resolver, "Giants", NFL) == "New York Giants"
    assert canon(resolver, "Giants", MLB) == "San Francisco Giants"
    r = resolver.resolve("New York", NFL)
    assert r.method == "ambiguous" and r.reason == (
        '"New York" is ambiguous in americanfootball_nfl: New York Giants | New York Jets'
    )


def test_manchester_and_short_epl_names(resolver: AliasResolver) -> None:
    assert canon(resolver, "Man Utd", EPL) == "Manchester United"
    assert canon(resolver, "Manchester United FC", EPL) == "Manchester United"
    assert canon(resolver, "Man City", EPL) == "Manchester City"
    assert canon(resolver, "mci", EPL) == "Manchester City"
    assert resolver.resolve("Manchester", EPL).method == "ambiguous"
    assert canon(resolver, "Wolves", EPL) == "Wolverhampton Wanderers"
    assert canon(resolver, "Wolves", NBA) == "Minnesota Timberwolves"
    assert canon(resolver, "Forest", EPL) == "Nottingham Forest"
    assert canon(resolver, "Villa", EPL) == "Aston Villa"
    assert canon(resolver, "Brighton & Hove Albion FC", EPL) == "Brighton and Hove Albion"
    assert canon(resolver, "AFC Bournemouth", EPL) == "Bournemouth"


def test_league_scoped_nicknames(resolver: AliasResolver) -> None:
    assert canon(resolver, "Spurs", NBA) == "San Antonio Spurs"
    assert canon(resolver, "Spurs", EPL) == "Tottenham Hotspur"
    assert canon(resolver, "Rangers", NHL) == "New York Rangers"
    assert canon(resolver, "Rangers", MLB) == "Texas Rangers"
    assert canon(resolver, "Kings", NBA) == "Sacramento Kings"
    assert canon(resolver, "Kings", NHL) == "Los Angeles Kings"
    assert canon(resolver, "Panthers", NFL) == "Carolina Panthers"
    assert canon(resolver, "Panthers", NHL) == "Florida Panthers"
    assert canon(resolver, "Cardinals", NFL) == "Arizona Cardinals"
    assert canon(resolver, "Cardinals", MLB) == "St. Louis Cardinals"
    assert canon(resolver, "Spurs", NFL) is None


def test_st_louis_blues_and_accents(resolver: AliasResolver) -> None:
    for name in ("St. Louis Blues", "St Louis Blues", "Saint Louis Blues", "stl", "Blues"):
        assert canon(resolver, name, NHL) == "St Louis Blues"
    for name in ("Montreal Canadiens", "Montréal Canadiens", "MONTRÉAL", "Habs", "mtl"):
        assert canon(resolver, name, NHL) == "Montréal Canadiens"


def test_athletics_without_a_city(resolver: AliasResolver) -> None:
    for name in ("Athletics", "Oakland Athletics", "A's", "Sacramento Athletics", "oak", "ath"):
        r = resolver.resolve(name, MLB)
        assert (r.canonical, r.method, r.confidence) == ("Athletics", "exact", 1.0)


def test_utah_nhl_current_name(resolver: AliasResolver) -> None:
    for name in ("Utah Mammoth", "Utah Hockey Club", "Utah HC", "Utah", "Mammoth"):
        assert canon(resolver, name, NHL) == "Utah Mammoth"
    assert canon(resolver, "Utah", NBA) == "Utah Jazz"
    assert canon(resolver, "Arizona Coyotes", NHL) == "Arizona Coyotes"


def test_fuzzy_typos_resolve_with_confidence(resolver: AliasResolver) -> None:
    r = resolver.resolve("Montreal Canadians", NHL)
    assert (r.canonical, r.method) == ("Montréal Canadiens", "fuzzy")
    assert r.confidence == pytest.approx(0.9444, abs=1e-4)  # token_sort_ratio 94.44 (one letter of 18)
    assert resolver.resolve("Wolverhampton Wanderer", EPL).canonical == "Wolverhampton Wanderers"


def test_unknown_names_report_candidates_never_guess(resolver: AliasResolver) -> None:
    r = resolver.resolve("Boston Celtics", NHL)  # right city, wrong sport: must not become the Bruins
    assert (r.canonical, r.method, r.candidates[0]) == (None, "unresolved", "Boston Bruins")
    assert r.reason.startswith(
        '"Boston Celtics" not resolved in icehockey_nhl (no alias scores >= 85); closest: '
    )
    assert "Boston Bruins (" in r.reason
    r = resolver.resolve("Doosan Bears", MLB)
    assert r.canonical is None and len(r.candidates) == 3
    r = resolver.resolve("Bsn", NHL)  # a code that is not in the table: too short to fuzzy-guess
    assert r.canonical is None and "too short to fuzzy-match" in r.reason
    r = resolver.resolve("Celtics", "basketball_euroleague")
    assert (r.method, r.reason) == ("unknown_league", "league 'basketball_euroleague' has no alias table")


def test_fuzzy_runner_up_too_close_is_unresolved() -> None:
    table = pl.DataFrame(
        {
            "league": ["x", "x"],
            "canonical_name": ["Alpha Rovers", "Alpha Rangers"],
            "alias": ["Alpha Rovers", "Alpha Rangers"],
            "source": ["oddsapi", "oddsapi"],
        }
    )
    r = AliasResolver(table).resolve("Alpha Rovars", "x")
    # token_sort_ratio: Rovers 91.7 vs Rangers 80.0, a clear win at the default 5-point margin.
    assert (r.canonical, r.method) == ("Alpha Rovers", "fuzzy")
    r = AliasResolver(table, margin=12).resolve("Alpha Rovars", "x")
    assert r.canonical is None and "runner-up within 12 points" in r.reason


def test_resolve_many_keeps_order_and_length(resolver: AliasResolver) -> None:
    names = pl.Series(["Spurs", "Spurs", None, "LA", "Montreal Canadians", "Spurs"])
    leagues = pl.Series([NBA, EPL, EPL, NBA, NHL, NBA])
    out = resolver.resolve_many(names, leagues)
    assert out.height == 6
    assert out["canonical"].to_list() == [
        "San Antonio Spurs",
        "Tottenham Hotspur",
        None,
        None,
        "Montréal Canadiens",
        "San Antonio Spurs",
    ]
    assert out["method"].to_list() == ["exact", "exact", "unresolved", "ambiguous", "fuzzy", "exact"]
    assert out["name"].to_list() == names.to_list()
    with pytest.raises(ValueError, match="differ in length"):
        resolver.resolve_many(names, leagues.head(2))


def test_bad_table_is_rejected() -> None:
    with pytest.raises(ValueError, match="missing columns"):
        AliasResolver(pl.DataFrame({"league": ["x"]}))


# --- league map -----------------------------------------------------------------------------


def test_league_map() -> None:
    assert PM_TO_SPORT_KEY == {"nba": NBA, "nfl": NFL, "nhl": NHL, "mlb": MLB, "epl": EPL}
    assert sport_key_for("NBA") == NBA
    assert sport_key_for("nfl-tb-dal-2026-10-09") == NFL
    assert sport_key_for("epl-mun-tot-2026-10-10-draw") == EPL
    assert sport_key_for("premier-league") == EPL
    assert sport_key_for("kbo-doo-lg-2026-05-01") is None
    assert sport_key_for(None) is None
    df = pl.DataFrame({"league": [None, "nhl", "cs2"], "slug": ["mlb-laa-mia-2026-08-07", None, "cs2-x"]})
    got = df.select(sport_key_expr(pl.col("league"), pl.col("slug"))).to_series().to_list()
    assert got == [MLB, NHL, None]

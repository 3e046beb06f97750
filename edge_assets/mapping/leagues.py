"""League map: Polymarket league codes / slug prefixes / series / tags ↔ The Odds API sport_key.

Polymarket names a league by a short code (`nba`) that shows up as the slug prefix
(`nba-lal-dal-2026-04-05`), the `/sports` `sport` field, series slugs (`nba-2025`) and tag
slugs. The Odds API uses `sport_key` (`basketball_nba`). Only the leagues below are in scope;
anything else (KBO, tennis, esports, ...) is out of scope by design, even when team names
overlap.
"""

import polars as pl

# Polymarket code -> Odds API sport_key.
PM_TO_SPORT_KEY: dict[str, str] = {
    "nba": "basketball_nba",
    "nfl": "americanfootball_nfl",
    "nhl": "icehockey_nhl",
    "mlb": "baseball_mlb",
    "epl": "soccer_epl",
}

# Other spellings seen in series slugs, tag slugs/labels and free text.
PM_CODE_SYNONYMS: dict[str, str] = {
    "premier-league": "epl",
    "premier league": "epl",
    "english premier league": "epl",
    "english-premier-league": "epl",
    "premierleague": "epl",
    "basketball_nba": "nba",
    "americanfootball_nfl": "nfl",
    "icehockey_nhl": "nhl",
    "baseball_mlb": "mlb",
    "soccer_epl": "epl",
}

SPORT_KEY_TO_PM: dict[str, str] = {v: k for k, v in PM_TO_SPORT_KEY.items()}

# Leagues whose h2h market has a Draw outcome and whose titles list the home team first.
THREE_WAY_SPORT_KEYS: frozenset[str] = frozenset({"soccer_epl"})
HOME_FIRST_SPORT_KEYS: frozenset[str] = frozenset({"soccer_epl"})


def sport_key_for(code: str | None) -> str | None:
    """Odds API sport_key for a Polymarket league code, slug, series slug or tag; None when out of scope."""
    if code is None:
        return None
    c = code.strip().lower()
    if c in PM_TO_SPORT_KEY:
        return PM_TO_SPORT_KEY[c]
    if c in PM_CODE_SYNONYMS:
        return PM_TO_SPORT_KEY[PM_CODE_SYNONYMS[c]]
    # Slugs and series slugs: "nba-lal-dal-2026-04-05", "nba-2025", "epl-mun-tot-...".
    prefix = c.split("-", 1)[0]
    return PM_TO_SPORT_KEY.get(prefix)


def sport_key_expr(*candidates: pl.Expr) -> pl.Expr:
    """Vectorised `sport_key_for` over several columns, first non-null in-scope answer wins.

    Typical call: `sport_key_expr(pl.col("league"), pl.col("event_slug"), pl.col("slug"))`.
    """
    mapping = {**PM_TO_SPORT_KEY, **{k: PM_TO_SPORT_KEY[v] for k, v in PM_CODE_SYNONYMS.items()}}
    keys = list(mapping)
    values = [mapping[k] for k in keys]
    outs = []
    for cand in candidates:
        low = cand.str.strip_chars().str.to_lowercase()
        whole = low.replace_strict(keys, values, default=None, return_dtype=pl.String)
        prefix = low.str.split("-").list.first()
        by_prefix = prefix.replace_strict(
            list(PM_TO_SPORT_KEY), list(PM_TO_SPORT_KEY.values()), default=None, return_dtype=pl.String
        )
        outs.append(pl.coalesce(whole, by_prefix))
    return pl.coalesce(*outs)

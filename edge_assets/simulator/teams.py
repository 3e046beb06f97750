"""Leagues and real team names as each API spells them.

Why: the mapper must learn the real naming gaps (Polymarket mascots and slug abbreviations vs
Odds API full names with their quirks), so the simulator speaks both vocabularies.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Team:
    odds_name: str  # as The Odds API writes it ("St Louis Blues", "Montréal Canadiens")
    pm_name: str  # Polymarket short name / mascot ("Blues", "Canadiens") or club name for soccer
    abbr: str  # Polymarket slug abbreviation (lower case)
    pm_full: str  # Polymarket full name (used by MLB titles, soccer questions, event teams[])


@dataclass(frozen=True)
class League:
    code: str  # Polymarket league code / slug prefix
    sport_key: str  # Odds API sport key
    sport_title: str  # Odds API sport_title
    group: str
    description: str
    pm_sport_name: str
    pm_style: str  # "mascot" | "full" | "soccer"
    ordering: str  # Polymarket title order: "away" (away team first) or "home"
    tag_id: str
    series_id: str
    sport_id: int
    tz: str  # local zone used for kick-off times
    duration_min: int  # game length in minutes (start -> final)
    lead_days: tuple[int, int]  # listed this many days ahead (min, max)
    margin_sd: float  # sd of the final margin (points/goals/runs)
    total_mean: float
    total_sd: float
    has_draw: bool
    index: int


def _t(odds: str, pm: str, abbr: str, full: str | None = None) -> Team:
    return Team(odds_name=odds, pm_name=pm, abbr=abbr, pm_full=full or odds)


NBA = [
    _t("Atlanta Hawks", "Hawks", "atl"),
    _t("Boston Celtics", "Celtics", "bos"),
    _t("Brooklyn Nets", "Nets", "bkn"),
    _t("Charlotte Hornets", "Hornets", "cha"),
    _t("Chicago Bulls", "Bulls", "chi"),
    _t("Cleveland Cavaliers", "Cavaliers", "cle"),
    _t("Dallas Mavericks", "Mavericks", "dal"),
    _t("Denver Nuggets", "Nuggets", "den"),
    _t("Detroit Pistons", "Pistons", "det"),
    _t("Golden State Warriors", "Warriors", "gsw"),
    _t("Houston Rockets", "Rockets", "hou"),
    _t("Indiana Pacers", "Pacers", "ind"),
    _t("Los Angeles Clippers", "Clippers", "lac", "LA Clippers"),
    _t("Los Angeles Lakers", "Lakers", "lal"),
    _t("Memphis Grizzlies", "Grizzlies", "mem"),
    _t("Miami Heat", "Heat", "mia"),
    _t("Milwaukee Bucks", "Bucks", "mil"),
    _t("Minnesota Timberwolves", "Timberwolves", "min"),
    _t("New Orleans Pelicans", "Pelicans", "nop"),
    _t("New York Knicks", "Knicks", "nyk"),
    _t("Oklahoma City Thunder", "Thunder", "okc"),
    _t("Orlando Magic", "Magic", "orl"),
    _t("Philadelphia 76ers", "76ers", "phi"),
    _t("Phoenix Suns", "Suns", "phx"),
    _t("Portland Trail Blazers", "Trail Blazers", "por"),
    _t("Sacramento Kings", "Kings", "sac"),
    _t("San Antonio Spurs", "Spurs", "sas"),
    _t("Toronto Raptors", "Raptors", "tor"),
    _t("Utah Jazz", "Jazz", "uta"),
    _t("Washington Wizards", "Wizards", "was"),
]

NFL = [
    _t("Arizona Cardinals", "Cardinals", "ari"),
    _t("Atlanta Falcons", "Falcons", "atl"),
    _t("Baltimore Ravens", "Ravens", "bal"),
    _t("Buffalo Bills", "Bills", "buf"),
    _t("Carolina Panthers", "Panthers", "car"),
    _t("Chicago Bears", "Bears", "chi"),
    _t("Cincinnati Bengals", "Bengals", "cin"),
    _t("Cleveland Browns", "Browns", "cle"),
    _t("Dallas Cowboys", "Cowboys", "dal"),
    _t("Denver Broncos", "Broncos", "den"),
    _t("Detroit Lions", "Lions", "det"),
    _t("Green Bay Packers", "Packers", "gb"),
    _t("Houston Texans", "Texans", "hou"),
    _t("Indianapolis Colts", "Colts", "ind"),
    _t("Jacksonville Jaguars", "Jaguars", "jax"),
    _t("Kansas City Chiefs", "Chiefs", "kc"),
    _t("Las Vegas Raiders", "Raiders", "lv"),
    _t("Los Angeles Chargers", "Chargers", "lac"),
    _t("Los Angeles Rams", "Rams", "lar"),
    _t("Miami Dolphins", "Dolphins", "mia"),
    _t("Minnesota Vikings", "Vikings", "min"),
    _t("New England Patriots", "Patriots", "ne"),
    _t("New Orleans Saints", "Saints", "no"),
    _t("New York Giants", "Giants", "nyg"),
    _t("New York Jets", "Jets", "nyj"),
    _t("Philadelphia Eagles", "Eagles", "phi"),
    _t("Pittsburgh Steelers", "Steelers", "pit"),
    _t("San Francisco 49ers", "49ers", "sf"),
    _t("Seattle Seahawks", "Seahawks", "sea"),
    _t("Tampa Bay Buccaneers", "Buccaneers", "tb"),
    _t("Tennessee Titans", "Titans", "ten"),
    _t("Washington Commanders", "Commanders", "was"),
]

NHL = [
    _t("Anaheim Ducks", "Ducks", "ana"),
    _t("Boston Bruins", "Bruins", "bos"),
    _t("Buffalo Sabres", "Sabres", "buf"),
    _t("Calgary Flames", "Flames", "cgy"),
    _t("Carolina Hurricanes", "Hurricanes", "car"),
    _t("Chicago Blackhawks", "Blackhawks", "chi"),
    _t("Colorado Avalanche", "Avalanche", "col"),
    _t("Columbus Blue Jackets", "Blue Jackets", "cbj"),
    _t("Dallas Stars", "Stars", "dal"),
    _t("Detroit Red Wings", "Red Wings", "det"),
    _t("Edmonton Oilers", "Oilers", "edm"),
    _t("Florida Panthers", "Panthers", "fla"),
    _t("Los Angeles Kings", "Kings", "la"),
    _t("Minnesota Wild", "Wild", "min"),
    _t("Montréal Canadiens", "Canadiens", "mtl", "Montreal Canadiens"),
    _t("Nashville Predators", "Predators", "nsh"),
    _t("New Jersey Devils", "Devils", "nj"),
    _t("New York Islanders", "Islanders", "nyi"),
    _t("New York Rangers", "Rangers", "nyr"),
    _t("Ottawa Senators", "Senators", "ott"),
    _t("Philadelphia Flyers", "Flyers", "phi"),
    _t("Pittsburgh Penguins", "Penguins", "pit"),
    _t("San Jose Sharks", "Sharks", "sj"),
    _t("Seattle Kraken", "Kraken", "sea"),
    _t("St Louis Blues", "Blues", "stl", "St. Louis Blues"),
    _t("Tampa Bay Lightning", "Lightning", "tb"),
    _t("Toronto Maple Leafs", "Maple Leafs", "tor"),
    _t("Utah Mammoth", "Mammoth", "uta"),
    _t("Vancouver Canucks", "Canucks", "van"),
    _t("Vegas Golden Knights", "Golden Knights", "vgk"),
    _t("Washington Capitals", "Capitals", "wsh"),
    _t("Winnipeg Jets", "Jets", "wpg"),
]

MLB = [
    _t("Arizona Diamondbacks", "Diamondbacks", "ari"),
    _t("Athletics", "Athletics", "ath"),
    _t("Atlanta Braves", "Braves", "atl"),
    _t("Baltimore Orioles", "Orioles", "bal"),
    _t("Boston Red Sox", "Red Sox", "bos"),
    _t("Chicago Cubs", "Cubs", "chc"),
    _t("Chicago White Sox", "White Sox", "cws"),
    _t("Cincinnati Reds", "Reds", "cin"),
    _t("Cleveland Guardians", "Guardians", "cle"),
    _t("Colorado Rockies", "Rockies", "col"),
    _t("Detroit Tigers", "Tigers", "det"),
    _t("Houston Astros", "Astros", "hou"),
    _t("Kansas City Royals", "Royals", "kc"),
    _t("Los Angeles Angels", "Angels", "laa"),
    _t("Los Angeles Dodgers", "Dodgers", "lad"),
    _t("Miami Marlins", "Marlins", "mia"),
    _t("Milwaukee Brewers", "Brewers", "mil"),
    _t("Minnesota Twins", "Twins", "min"),
    _t("New York Mets", "Mets", "nym"),
    _t("New York Yankees", "Yankees", "nyy"),
    _t("Philadelphia Phillies", "Phillies", "phi"),
    _t("Pittsburgh Pirates", "Pirates", "pit"),
    _t("San Diego Padres", "Padres", "sd"),
    _t("San Francisco Giants", "Giants", "sf"),
    _t("Seattle Mariners", "Mariners", "sea"),
    _t("St. Louis Cardinals", "Cardinals", "stl"),
    _t("Tampa Bay Rays", "Rays", "tb"),
    _t("Texas Rangers", "Rangers", "tex"),
    _t("Toronto Blue Jays", "Blue Jays", "tor"),
    _t("Washington Nationals", "Nationals", "wsh"),
]

EPL = [
    _t("Arsenal", "Arsenal FC", "ars"),
    _t("Aston Villa", "Aston Villa FC", "avl"),
    _t("Bournemouth", "AFC Bournemouth", "bou"),
    _t("Brentford", "Brentford FC", "bre"),
    _t("Brighton and Hove Albion", "Brighton & Hove Albion FC", "bri"),
    _t("Burnley", "Burnley FC", "bur"),
    _t("Chelsea", "Chelsea FC", "che"),
    _t("Crystal Palace", "Crystal Palace FC", "cry"),
    _t("Everton", "Everton FC", "eve"),
    _t("Fulham", "Fulham FC", "ful"),
    _t("Leeds United", "Leeds United FC", "lee"),
    _t("Liverpool", "Liverpool FC", "liv"),
    _t("Manchester City", "Manchester City FC", "mci"),
    _t("Manchester United", "Manchester United FC", "mun"),
    _t("Newcastle United", "Newcastle United FC", "new"),
    _t("Nottingham Forest", "Nottingham Forest FC", "nfo"),
    _t("Sunderland", "Sunderland AFC", "sun"),
    _t("Tottenham Hotspur", "Tottenham Hotspur FC", "tot"),
    _t("West Ham United", "West Ham United FC", "whu"),
    _t("Wolverhampton Wanderers", "Wolverhampton Wanderers FC", "wol"),
]
# Soccer: pm_full is the Polymarket club name, pm_name the same (questions use it).
EPL = [Team(t.odds_name, t.pm_name, t.abbr, t.pm_name) for t in EPL]

LEAGUES: dict[str, League] = {
    "nba": League(
        "nba",
        "basketball_nba",
        "NBA",
        "Basketball",
        "US Basketball",
        "NBA",
        "mascot",
        "away",
        "745",
        "10345",
        1,
        "America/New_York",
        150,
        (1, 3),
        12.0,
        228.0,
        18.0,
        False,
        0,
    ),
    "nfl": League(
        "nfl",
        "americanfootball_nfl",
        "NFL",
        "American Football",
        "US Football",
        "NFL",
        "mascot",
        "away",
        "450",
        "10187",
        2,
        "America/New_York",
        200,
        (5, 7),
        13.5,
        45.0,
        10.0,
        False,
        1,
    ),
    "nhl": League(
        "nhl",
        "icehockey_nhl",
        "NHL",
        "Ice Hockey",
        "US Ice Hockey",
        "NHL",
        "mascot",
        "away",
        "899",
        "10346",
        3,
        "America/New_York",
        165,
        (1, 3),
        2.4,
        6.1,
        2.3,
        False,
        2,
    ),
    "mlb": League(
        "mlb",
        "baseball_mlb",
        "MLB",
        "Baseball",
        "Major League Baseball",
        "MLB",
        "full",
        "away",
        "100381",
        "3",
        4,
        "America/New_York",
        185,
        (1, 2),
        4.3,
        8.8,
        4.2,
        False,
        3,
    ),
    "epl": League(
        "epl",
        "soccer_epl",
        "EPL",
        "Soccer",
        "Premier League - England",
        "EPL",
        "soccer",
        "home",
        "82",
        "10188",
        5,
        "Europe/London",
        115,
        (4, 7),
        0.0,
        2.7,
        0.0,
        True,
        4,
    ),
}

TEAMS: dict[str, list[Team]] = {"nba": NBA, "nfl": NFL, "nhl": NHL, "mlb": MLB, "epl": EPL}

SPORT_KEY_TO_LEAGUE: dict[str, str] = {lg.sport_key: code for code, lg in LEAGUES.items()}


@dataclass(frozen=True)
class Book:
    key: str
    title: str
    region: str
    vig: float  # total overround on a two-way market
    lag_steps: int  # 5-minute steps the book lags the truth
    refresh_min: int  # minutes between refreshes
    noise: float  # sd of its logit error
    sharp: bool


BOOKS: list[Book] = [
    Book("pinnacle", "Pinnacle", "eu", 0.022, 0, 5, 0.03, True),
    Book("draftkings", "DraftKings", "us", 0.045, 1, 10, 0.07, False),
    Book("fanduel", "FanDuel", "us", 0.042, 1, 10, 0.07, False),
    Book("betmgm", "BetMGM", "us", 0.055, 2, 15, 0.09, False),
    Book("williamhill_us", "Caesars", "us", 0.05, 2, 15, 0.08, False),
    Book("betrivers", "BetRivers", "us", 0.065, 3, 20, 0.10, False),
    Book("bovada", "Bovada", "us", 0.06, 2, 15, 0.09, False),
    Book("betonlineag", "BetOnline.ag", "us", 0.04, 1, 10, 0.06, False),
    Book("lowvig", "LowVig.ag", "us", 0.025, 1, 10, 0.06, False),
    Book("mybookieag", "MyBookie.ag", "us", 0.08, 3, 30, 0.12, False),
    Book("fanatics", "Fanatics", "us2", 0.06, 2, 15, 0.09, False),
    Book("espnbet", "ESPN BET", "us2", 0.055, 2, 15, 0.09, False),
]
BOOK_INDEX: dict[str, int] = {b.key: i for i, b in enumerate(BOOKS)}
REGIONS: dict[str, list[str]] = {
    "us": [b.key for b in BOOKS if b.region == "us"],
    "us2": [b.key for b in BOOKS if b.region == "us2"],
    "eu": [b.key for b in BOOKS if b.region == "eu"],
    "uk": [],
    "au": [],
    "us_ex": [],
}

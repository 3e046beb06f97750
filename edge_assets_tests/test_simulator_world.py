"""The simulator's world model: determinism, naming, schedules, outcomes and injected edges."""

import json
import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from edge_assets.simulator import World
from edge_assets.simulator.oddsapi import iso
from edge_assets.simulator.teams import LEAGUES, TEAMS
from edge_assets.simulator.world import (
    ET,
    _dec,
    grid_index,
    pcg64_states,
    round_to,
    soccer_1x2,
    soccer_over,
    to_ts,
)

T = datetime(2026, 10, 15, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def world() -> World:
    return World(7)


def test_world_is_a_pure_function_of_seed(world: World) -> None:
    other = World(7)
    for lg in LEAGUES:
        a = [
            (g.odds_event_id, g.home.odds_name, g.away.odds_name, g.scheduled)
            for g in world.odds_games(lg, T)
        ]
        b = [
            (g.odds_event_id, g.home.odds_name, g.away.odds_name, g.scheduled)
            for g in other.odds_games(lg, T)
        ]
        assert a == b and a
    g = world.odds_games("nba", T)[0]
    q1 = world.book_quotes(world.detail(g), to_ts(T), ["pinnacle", "draftkings"], ["h2h", "totals"])
    q2 = other.book_quotes(
        other.detail(other.odds_games("nba", T)[0]), to_ts(T), ["pinnacle", "draftkings"], ["h2h", "totals"]
    )
    assert q1 == q2
    seed8 = [g.odds_event_id for g in World(8).odds_games("nba", T)]
    assert seed8 != [g.odds_event_id for g in world.odds_games("nba", T)]


def test_real_team_names_and_quirks() -> None:
    nhl = {t.odds_name: t for t in TEAMS["nhl"]}
    assert "Utah Mammoth" in nhl and nhl["Utah Mammoth"].pm_name == "Mammoth"
    assert "Montréal Canadiens" in nhl and "St Louis Blues" in nhl
    assert nhl["St Louis Blues"].abbr == "stl"
    mlb = {t.odds_name: t for t in TEAMS["mlb"]}
    assert "Athletics" in mlb and mlb["Athletics"].abbr == "ath"
    assert {t.odds_name for t in TEAMS["nba"]} >= {"Los Angeles Clippers", "Los Angeles Lakers"}
    assert [len(TEAMS[k]) for k in ("nba", "nfl", "nhl", "mlb", "epl")] == [30, 32, 32, 30, 20]


def test_games_per_day_and_listing_horizon(world: World) -> None:
    counts = {
        lg: [len(world.games_on(lg, (T + timedelta(days=i)).date())) for i in range(14)] for lg in LEAGUES
    }
    assert all(4 <= n <= 12 for n in counts["nba"])
    assert all(10 <= n <= 16 for n in counts["mlb"])
    assert sum(counts["nfl"]) == 2 * 15  # Thu 1 + Sun 13 + Mon 1 per week
    assert 18 <= sum(counts["epl"]) <= 30
    for lg in LEAGUES:
        for g in world.odds_games(lg, T):
            assert g.listed_at <= T < g.end
            assert g.scheduled - g.listed_at <= timedelta(days=LEAGUES[lg].lead_days[1] + 1)


def test_slug_uses_us_eastern_date_and_away_first(world: World) -> None:
    late = [
        g
        for d in range(7)
        for g in world.games_on("nba", (T + timedelta(days=d)).date())
        if g.scheduled.astimezone(ET).hour >= 20
    ]
    g = late[0]
    assert g.scheduled.date() != g.et_date  # next UTC day
    ml = world.detail(g).markets[0]
    assert ml.slug == f"nba-{g.away.abbr}-{g.home.abbr}-{g.et_date.isoformat()}"
    assert ml.question.rstrip() == f"{g.away.pm_name} vs. {g.home.pm_name}"
    assert ml.outcomes == (g.away.pm_name, g.home.pm_name)


def test_soccer_has_three_yes_no_markets_including_draw(world: World) -> None:
    g = world.odds_games("epl", T)[0]
    det = world.detail(g)
    ml = [m for m in det.markets if m.sports_market_type == "moneyline"]
    assert [m.kind for m in ml] == ["soccer_home", "soccer_draw", "soccer_away"]
    assert all(m.outcomes == ("Yes", "No") for m in ml)
    assert ml[1].question == f"Will {g.home.pm_full} vs. {g.away.pm_full} end in a draw?"
    assert ml[0].slug.endswith(f"-{g.home.abbr}") and ml[1].slug.endswith("-draw")
    assert ml[0].slug.startswith(f"epl-{g.home.abbr}-{g.away.abbr}-")  # home first for soccer
    k = np.array([grid_index(to_ts(T))])
    total = sum(float(world.true_prob(det, m, k)[0]) for m in ml)
    assert total == pytest.approx(1.0, abs=1e-9)


def test_scores_and_resolutions_follow_outcomes(world: World) -> None:
    days = [(T - timedelta(days=d)).date() for d in range(2, 9)]
    n_checked = 0
    for lg in LEAGUES:
        for d in days:
            for g in world.games_on(lg, d):
                det = world.detail(g)
                if not LEAGUES[lg].has_draw:
                    assert det.home_score != det.away_score
                ml = det.markets[0]
                y = world.resolved_outcome(det, ml)
                if lg == "epl":
                    assert y == int(det.home_score > det.away_score)
                else:
                    assert y == int(det.away_score > det.home_score)  # first outcome = away team
                end_k = np.array([det.ke + 5])
                assert float(world.true_prob(det, ml, end_k)[0]) == float(y)
                n_checked += 1
    assert n_checked > 200
    # calibration: pre-game favourites win about as often as priced
    ps, ys = [], []
    for d in [(T - timedelta(days=x)).date() for x in range(2, 40)]:
        for g in world.games_on("mlb", d):
            det = world.detail(g)
            ps.append(float(world.true_prob(det, det.markets[0], np.array([det.ks]))[0]))
            ys.append(world.resolved_outcome(det, det.markets[0]))
    assert abs(np.mean(ps) - np.mean(ys)) < 0.05


def test_doubleheaders_and_start_shifts_exist(world: World) -> None:
    games = [g for d in range(30) for g in world.games_on("mlb", (T - timedelta(days=d)).date())]
    dh = [g for g in games if g.doubleheader]
    assert dh and any(g.doubleheader == 2 for g in dh)
    g2 = next(g for g in dh if g.doubleheader == 2)
    g1 = next(g for g in dh if g.doubleheader == 1 and g.et_date == g2.et_date and g.home == g2.home)
    assert world.detail(g1).markets[0].slug + "-2" == world.detail(g2).markets[0].slug
    shifted = [g for g in games if g.commence_latest != g.scheduled]
    assert shifted
    g = shifted[0]
    assert g.shift_announce is not None
    assert world.commence_time(g, g.shift_announce - timedelta(seconds=1)) == g.scheduled
    assert world.commence_time(g, g.shift_announce) == g.commence_latest


def test_ground_truth_pairs(world: World) -> None:
    gt = world.ground_truth_pairs(T, T + timedelta(hours=1))
    assert gt.columns[:8] == [
        "pm_market_id",
        "pm_token_id",
        "pm_outcome",
        "pm_event_id",
        "pm_slug",
        "pm_kind",
        "odds_event_id",
        "sport_key",
    ]
    assert gt["pm_token_id"].n_unique() == gt.height
    scope = gt.filter(pl.col("in_scope"))
    assert set(scope["market_key"].unique()) == {"h2h", "spreads", "totals"}
    out = gt.filter(~pl.col("in_scope"))
    assert {"future", "team_total_home", "half_total", "f5_total", "prop", "nrfi"} <= set(
        out["pm_kind"].unique()
    )
    # a spread pair: the favourite carries the negative point
    sp = scope.filter(pl.col("market_key") == "spreads").row(0, named=True)
    assert sp["point"] < 0 and sp["pm_outcome"] != "Over"
    draw = scope.filter(pl.col("odds_outcome_name") == "Draw")
    assert draw.height > 0 and set(draw["pm_outcome"]) == {"Yes"}


def test_injected_edges_kinds_and_rate(world: World) -> None:
    e = world.injected_edges(T - timedelta(hours=24), T + timedelta(hours=24))
    kinds = dict(e.group_by("kind").len().iter_rows())
    assert set(kinds) == {"true_mispricing", "stale_book", "thin_book", "soft_outlier", "near_start"}
    assert 24 <= kinds["true_mispricing"] <= 150  # dozens in 48 h
    tm = e.filter(pl.col("kind") == "true_mispricing")
    assert (tm["true_prob"] - tm["pm_ask"]).min() >= 0.025
    assert tm["size_available"].min() >= 150
    row = tm.row(0, named=True)
    assert row["true_ev"] == pytest.approx(row["true_prob"] / row["pm_ask"] - 1)
    thin = e.filter(pl.col("kind") == "thin_book")
    assert thin["size_available"].max() < 5


def test_token_true_probs_match_the_injected_edges_truth(world: World) -> None:
    e = world.injected_edges(T - timedelta(hours=24), T + timedelta(hours=24)).head(40)
    rows = pl.DataFrame(
        {
            "pm_token_id": [*e["pm_token_id"], "not-a-token"],
            "observed_at": [*e["window_start"], T],
        }
    )
    got = world.token_true_probs(rows)
    assert got[:-1].tolist() == pytest.approx(e["true_prob"].to_list(), abs=1e-12)
    assert np.isnan(got[-1])
    assert ((got[:-1] > 0) & (got[:-1] < 1)).all()


def test_true_mispricing_is_in_the_book_then_gone(world: World) -> None:
    e = world.injected_edges(T - timedelta(hours=24), T + timedelta(hours=24))
    row = e.filter(pl.col("kind") == "true_mispricing").row(0, named=True)
    inside = world.pm_book(row["pm_token_id"], row["window_start"] + timedelta(minutes=1))
    assert inside is not None and inside.asks[-1] == (row["pm_ask"], row["size_available"])
    after = world.pm_book(row["pm_token_id"], row["window_end"] + timedelta(minutes=1))
    assert after is None or after.asks[-1][0] > row["pm_ask"]
    thin = e.filter(pl.col("kind") == "thin_book").row(0, named=True)
    b1 = world.pm_book(thin["pm_token_id"], thin["window_start"] + timedelta(seconds=30))
    b2 = world.pm_book(thin["pm_token_id"], thin["window_end"] + timedelta(seconds=30))
    assert b1 is not None and b1.asks[-1][1] < 5
    assert b2 is None or b2.asks[-1][1] != b1.asks[-1][1] or b2.asks[-1][0] != b1.asks[-1][0]


def test_stale_book_and_soft_outlier_footprints(world: World) -> None:
    e = world.injected_edges(T - timedelta(days=3), T + timedelta(days=3))
    st = e.filter(pl.col("kind") == "stale_book").row(0, named=True)
    g = next(
        g
        for lg in LEAGUES
        for g in world.odds_games(lg, st["window_start"])
        if g.odds_event_id == st["odds_event_id"]
    )
    det = world.detail(g)
    mid = st["window_start"] + (st["window_end"] - st["window_start"]) / 2
    quotes = world.book_quotes(det, to_ts(mid), ["pinnacle", "draftkings"], ["h2h"])
    for _, last, _ in quotes:
        assert last <= to_ts(st["window_start"])  # books have not updated since the news
    so = e.filter(pl.col("kind") == "soft_outlier").row(0, named=True)
    g = next(
        g
        for lg in LEAGUES
        for g in world.odds_games(lg, so["window_start"])
        if g.odds_event_id == so["odds_event_id"]
    )
    det = world.detail(g)
    t_in = to_ts(so["window_start"]) + 60
    name = so["odds_outcome_name"]

    def implied(book: str, t_s: int) -> float:
        q = world.book_quotes(det, t_s, [book], ["h2h"])
        return 1 / next(p for n, p, _ in q[0][2][0][2] if n == name)

    # the outlier book prices the outcome far above the sharp book inside the window
    assert implied(so["bookmaker"], t_in) - implied("pinnacle", t_in) > 0.05


def test_ninety_days_of_history_without_waiting(world: World) -> None:
    old = T - timedelta(days=90)
    games = world.odds_games(["icehockey", "nhl"][1], old)
    assert games
    det = world.detail(games[0])
    q = world.book_quotes(det, to_ts(old), ["pinnacle"], ["h2h"])
    assert q and q[0][2][0][0] == "h2h"
    assert json.dumps(q) == json.dumps(
        World(7).book_quotes(World(7).detail(games[0]), to_ts(old), ["pinnacle"], ["h2h"])
    )


# ---------------------------------------------------------------------------------------------- fast paths
# The scalar / memoized paths must give the very same floats as the reference array paths they
# replace in the hot loops (responses are compared byte for byte by bench/sim_backfill_pattern.py).


def test_scalar_noise_is_bit_identical_to_the_vector_noise() -> None:
    from edge_assets.simulator.world import hnorm, hnorm1, hunif, hunif1

    rng = np.random.default_rng(1)
    salts = [int(x) for x in rng.integers(0, 2**63, 400, dtype=np.int64)] + [2**64 - 1, 0, 0x5851F42D4C957F2D]
    idxs = [int(x) for x in rng.integers(-(2**40), 2**40, 400)] + [0, -1, 5_900_000]
    for salt, idx in zip(salts, idxs, strict=True):
        assert hunif1(salt, idx) == float(hunif(salt, np.array([idx]))[0])
        assert hnorm1(salt, idx) == float(hnorm(salt, np.array([idx]))[0])
    # salts wider than 64 bits are masked like np.uint64(salt & MASK)
    assert hnorm1(2**70 + 5, 3) == hnorm1(5, 3)


def test_scalar_probabilities_match_the_array_paths(world: World) -> None:
    for lg in LEAGUES:
        g = world.odds_games(lg, T)[0] if world.odds_games(lg, T) else None
        if g is None:
            continue
        det = world.detail(g)
        ks = [
            det.k0 - 5,
            det.k0,
            (det.k0 + det.ks) // 2,
            det.ks,
            det.ks + 1,
            (det.ks + det.ke) // 2,
            det.ke,
            det.ke + 9,
        ]
        for mk in det.markets:
            vec_p = world.pm_prob_first(det, mk, np.array(ks))
            vec_t = world.true_prob(det, mk, np.array(ks))
            for j, k in enumerate(ks):
                assert world.pm_mid1(det, mk, k) == float(world.pm_prob_first(det, mk, np.array([k]))[0])
                assert world.pm_mid1(det, mk, k) == float(vec_p[j])
                assert world.true_prob1(det, mk, k) == float(vec_t[j])
                assert world.pm_mid(det, mk, k) == world.pm_mid1(det, mk, k)  # memoized copy
    fut = world.futures("nba")[0]
    for k in (0, 5_000_000, 5_900_123):
        assert world.pm_mid1(None, fut, k) == float(world.pm_prob_first(None, fut, np.array([k]))[0])


def test_memoized_books_are_fresh_copies_and_bounded(world: World) -> None:
    from edge_assets.simulator.world import Memo

    g = world.odds_games("nba", T)[0]
    mk = world.detail(g).markets[0]
    fresh = World(7).pm_book(mk.token_ids[1], T)
    b1 = world.pm_book(mk.token_ids[1], T)
    assert b1 is not None and fresh is not None
    b1.bids.append((0.5, 1.0))  # a caller mutating its book must not leak into later answers
    a0 = world.pm_book(mk.token_ids[0], T)
    b2 = world.pm_book(mk.token_ids[1], T)
    assert b2 is not None and a0 is not None
    assert (b2.bids, b2.asks, b2.last_trade, b2.timestamp_ms) == (
        fresh.bids,
        fresh.asks,
        fresh.last_trade,
        fresh.timestamp_ms,
    )
    # the second token mirrors the first, exactly as the original double-reversal built it
    assert b2.bids == sorted([(round(1 - p, 4), s) for p, s in a0.asks[::-1]][::-1])
    assert b2.asks == sorted([(round(1 - p, 4), s) for p, s in a0.bids[::-1]][::-1], reverse=True)
    for h in range(World.BOOK_MEMO_INSTANTS + 4):
        world.pm_book(mk.token_ids[0], T + timedelta(hours=h))
    assert len(world._book_memo) == World.BOOK_MEMO_INSTANTS
    m = Memo(2)
    m.put("a", 1)
    m.put("b", 2)
    m.put("c", 3)  # full: forgets everything, keeps the new value
    assert dict(m) == {"c": 3}


def test_book_hash_is_sha1_of_the_json_levels(world: World) -> None:
    import hashlib

    from edge_assets.simulator.clob import book_json
    from edge_assets.simulator.gamma import num_str

    g = world.odds_games("mlb", T)[0] if world.odds_games("mlb", T) else world.odds_games("nba", T)[0]
    for mk in world.detail(g).markets[:4]:
        for tok in mk.token_ids:
            b = world.pm_book(tok, T)
            assert b is not None
            d = book_json(b)
            bids = [{"price": num_str(p), "size": num_str(s, 2)} for p, s in b.bids]
            asks = [{"price": num_str(p), "size": num_str(s, 2)} for p, s in b.asks]
            want = hashlib.sha1(json.dumps([b.token_id, bids, asks, b.timestamp_ms]).encode()).hexdigest()
            assert (d["hash"], d["bids"], d["asks"]) == (want, bids, asks)


def test_round_to_is_round_bit_for_bit_ties_signed_zeros_and_extremes_included() -> None:
    rng = random.Random(11)
    cases = [0.0, -0.0, 5e-324, 1e300, -1e300, math.inf, -math.inf, 0.125, 2.675, -2.675, 1.005, 0.00005]
    for _ in range(20_000):
        cases += [rng.uniform(-5, 5), rng.lognormvariate(4, 2), rng.uniform(-1e-3, 1e-3)]
        k = rng.randint(-(10**6), 10**6)
        cases += [(k + 0.5) / 100, (k + 0.5) / 10_000, (k + 0.5) / 100 + 1e-12]  # ties and near-ties
    for digits in (2, 4, 6):
        for x in cases:
            got, want = round_to(x, digits, 10.0**digits), round(x, digits)
            assert got == want and math.copysign(1, got) == math.copysign(1, want), (x, digits, got, want)
    assert math.isnan(round_to(math.nan, 2, 100.0))


def test_decimal_prices_and_iso_times_equal_their_reference_formulas() -> None:
    rng = random.Random(12)
    for q in [rng.uniform(-0.1, 1.3) for _ in range(50_000)] + [0.0, 1e-6, 1e-7, 0.5, 1.0, 1 / 1.01]:
        assert _dec(q) == max(round(1.0 / max(q, 1e-6), 2), 1.01), q
    assert math.isnan(_dec(math.nan))
    for ts in [rng.randint(-(10**9), 4 * 10**9) for _ in range(20_000)] + [0, 86_399, 86_400]:
        assert iso(ts) == datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), ts


def test_vectorized_seeding_is_numpys_pcg64_seeding_and_primed_books_are_the_same_books() -> None:
    rng = random.Random(13)
    seeds = [rng.getrandbits(64) for _ in range(5_000)] + [0, 1, 2**32 - 1, 2**32, 2**64 - 1]
    for seed, (state, inc) in zip(seeds, pcg64_states(seeds), strict=True):
        want = np.random.PCG64(seed).state["state"]
        assert (state, inc) == (want["state"], want["inc"]), seed
    primed, plain = World(7), World(7)
    t = datetime(2026, 11, 20, 18, 50, tzinfo=UTC)
    games = [g for lg in LEAGUES for g in primed.games_overlapping(lg, t, t + timedelta(days=1))]
    markets = [(primed.detail(g), mk) for g in games for mk in primed.detail(g).markets if t >= mk.created_at]
    assert len(markets) > 100
    primed.prime_books((mk for _, mk in markets), t)
    k = grid_index(to_ts(t))
    assert len(primed._primed[k]) == len(markets)
    for det, mk in markets:
        other = plain.detail(det.game)
        assert primed._book_at(det, mk, k) == plain._book_at(other, other.markets[mk.idx], k), mk.market_id
    assert not primed._primed[k]  # each primed generator was used once


def test_soccer_grids_over_all_books_at_once_are_the_per_book_floats() -> None:
    """`book_quotes` prices every book of a soccer game in one numpy pass; each float must be what
    the one-book call gives (the simulator's responses are byte-identical across versions)."""
    rng = np.random.default_rng(3)
    mbs = np.concatenate([rng.normal(0.0, 1.2, 4_000), [0.0, -3.0, 3.0, 40.0, -40.0]])
    tbs = np.concatenate([rng.uniform(0.5, 5.0, 4_000), [0.1, 0.3, 2.5, 60.0, 1.0]])
    home, draw, away = soccer_1x2(mbs, tbs)
    over = soccer_over(tbs, 2.5)
    for j, (mb, tb) in enumerate(zip(mbs.tolist(), tbs.tolist(), strict=True)):
        one = [float(x) for x in soccer_1x2(np.array(mb), np.array(tb))]
        assert one == [float(home[j]), float(draw[j]), float(away[j])], (mb, tb)
        assert float(soccer_over(np.array(tb), 2.5)) == float(over[j]), tb

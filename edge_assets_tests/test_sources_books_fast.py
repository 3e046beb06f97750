"""CLOB /books fast path: raw bodies → polars frame equals the pydantic-model path, drift raises.

The reference is always the model path (`ClobClient.books` models + `book_to_frame`), on the
real recordings, on real simulator responses for a whole catalogue, and on hand-built wire
oddities; drift cases check the exact MalformedResponse text and that the models reject them too.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pydantic
import pytest
from polars.testing import assert_frame_equal

from edge_assets import schemas
from edge_assets.sources import normalize as N
from edge_assets.sources.http import MalformedResponse, RawExchange, RetryPolicy
from edge_assets.sources.polymarket import _BOOKS, ClobClient, GammaClient

AT = datetime(2026, 11, 19, 18, 50, tzinfo=UTC)  # one backfill hour (:50, as bench/sim_backfill_pattern)
OBS = datetime(2026, 8, 16, 12, tzinfo=UTC)
REAL_BOOKS = (
    "polymarket_clob_book_2024-10-13.json",
    "polymarket_clob_book_neg_risk_empty_asks_2026-08-03.json",
)


def model_frame(bodies: list[bytes], at: datetime) -> pl.DataFrame:
    """What `ClobClient.books` + `book_to_frame` give for these bodies (get_model's validation)."""
    return N.book_to_frame([b for body in bodies for b in _BOOKS.validate_json(body)], at)


def book(token: str = "t1", **fields: Any) -> dict[str, Any]:
    """A /books element as the CLOB sends it (bids ascending, asks descending: best last)."""
    return {
        "market": "0xm",
        "asset_id": token,
        "timestamp": "1785734468581",
        "hash": "h" + token,
        "bids": [{"price": "0.4", "size": "10"}, {"price": "0.41", "size": "5"}],
        "asks": [{"price": "0.45", "size": "7"}, {"price": "0.43", "size": "3"}],
        "min_order_size": "5",
        "tick_size": "0.01",
        "neg_risk": False,
        "last_trade_price": "0.42",
        **fields,
    }


def body(*books: dict[str, Any]) -> bytes:
    return json.dumps(list(books)).encode()


def without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


# --------------------------------------------------------------------------- real recordings


@pytest.mark.parametrize(("name", "rows"), [(REAL_BOOKS[0], 12), (REAL_BOOKS[1], 2)])
def test_real_recording_fast_path_equals_model_path(real_dir: Path, name: str, rows: int) -> None:
    raw = b"[" + (real_dir / name).read_bytes() + b"]"  # one /book object as a /books body
    fast = N.book_bodies_to_frame([raw], OBS)
    assert fast.height == rows
    assert_frame_equal(fast, model_frame([raw], OBS))


def test_real_recordings_together_in_two_bodies(real_dir: Path) -> None:
    a, b = ((real_dir / n).read_bytes() for n in REAL_BOOKS)
    bodies = [b"[" + a + b"," + b + b"]", b"[]", b"[" + b + b"]"]  # the neg-risk book twice, kept apart
    fast = N.book_bodies_to_frame(bodies, OBS)
    assert fast["token_id"].unique(maintain_order=True).len() == 2 and fast.height == 12 + 2 + 2
    assert_frame_equal(fast, model_frame(bodies, OBS))


# --------------------------------------------------------------------------- simulator


@pytest.fixture(scope="module")
def app() -> Any:
    from edge_assets.simulator import SimulatorApp, World

    return SimulatorApp(World(7), clock=lambda: AT, rate_limit_per_s=None)


@pytest.fixture(scope="module")
def tokens(app: Any) -> list[str]:
    """Every token of the open Gamma catalogue at AT (the backfill asks for the in-scope subset)."""
    gamma = GammaClient("http://sim/gamma", transport=app.transport(), rate_per_s=None)
    markets = N.gamma_events_to_frame(gamma.events(closed=False, tag_id=1), observed_at=AT)
    return (
        markets.select(pl.col("token_ids").explode())
        .unique()
        .drop_nulls()
        .sort("token_ids")["token_ids"]
        .to_list()
    )


def clob_client(app: Any, hook: Any = None, **kw: Any) -> ClobClient:
    return ClobClient("http://sim/clob", transport=app.transport(), on_response=hook, rate_per_s=None, **kw)


def test_simulator_catalogue_fast_path_equals_model_path(app: Any, tokens: list[str]) -> None:
    clob = clob_client(app)
    bodies = clob.books_bodies(tokens)
    assert len(tokens) > 1000 and len(bodies) == -(-len(tokens) // ClobClient.BOOKS_BATCH)
    fast = N.book_bodies_to_frame(bodies, AT)
    assert_frame_equal(fast, N.book_to_frame(clob.books(tokens), AT))
    assert fast.height > 10 * len(tokens)
    assert set(fast["tick_size"].unique()) == {0.01, 0.001}  # both tick regimes present


def test_simulator_small_batches_equal_one_batch(app: Any, tokens: list[str]) -> None:
    clob = clob_client(app)
    some = tokens[::9]
    many = clob.books_bodies(some, batch_size=7)
    assert len(many) == -(-len(some) // 7)
    fast = N.book_bodies_to_frame(many, AT)
    assert_frame_equal(fast, model_frame(many, AT))
    assert_frame_equal(fast, N.book_bodies_to_frame(clob.books_bodies(some), AT))  # batching is invisible


# --------------------------------------------------------------------------- wire oddities both paths accept


def test_wire_oddities_match_the_model_path() -> None:
    bodies = [
        body(
            book("t1"),
            # JSON numbers where the CLOB sends strings; timestamp as a number
            book(
                "t2",
                bids=[{"price": 0.3, "size": 12}],
                asks=[{"price": 0.35, "size": 1.5}],
                timestamp=1785734468581,
            ),
            # whitespace, underscores and exponents go through the model's Decimal validator
            book("t3", bids=[{"price": " 0.2 ", "size": "1_000"}], asks=[{"price": "0.3", "size": "2e3"}]),
            # both sides empty → one row with null side/level; hash/tick/min size absent or blank
            without(without(book("t4", bids=[], asks=[], tick_size=""), "hash"), "min_order_size"),
            without(book("t5", timestamp="2026-08-03T05:21:08.581Z"), "asks"),  # ISO time, no asks key
            book("t6", timestamp="1785734468", bids=[]),  # epoch seconds, asks only
            book("t7", timestamp="2026-08-03 05:21:08+00", extra={"x": [1]}),  # Gamma-style time, extra field
        ),
        b"[]",
        # best not last (an out-of-order wire) and extra level fields: best is by price, not position
        body(
            book(
                "t8",
                bids=[{"price": "0.41", "size": "5", "n": 1}, {"price": "0.4", "size": "10"}],
                asks=[
                    {"price": "0.43", "size": "3"},
                    {"price": "0.47", "size": "1"},
                    {"price": "0.44", "size": "2"},
                ],
            )
        ),
    ]
    fast = N.book_bodies_to_frame(bodies, OBS)
    assert_frame_equal(fast, model_frame(bodies, OBS))
    empty = fast.filter(pl.col("token_id") == "t4").row(0, named=True)
    assert (empty["side"], empty["level"], empty["best_bid"], empty["mid"]) == (None, None, None, None)
    t8 = fast.filter(pl.col("token_id") == "t8")
    assert t8.filter(pl.col("side") == "ask")["price"].to_list() == [0.43, 0.44, 0.47]
    assert (t8["best_bid"][0], t8["best_ask"][0], t8["mid"][0], t8["spread"][0]) == (0.41, 0.43, 0.42, 0.02)
    assert t8["depth_1c"][0] == 5.0 and t8["depth_5c"][0] == 6.0


def test_no_books_is_the_empty_contract_frame() -> None:
    empty = schemas.empty(schemas.PM_ORDER_BOOK_SNAPSHOTS)
    assert_frame_equal(N.book_bodies_to_frame([], OBS), empty)
    assert_frame_equal(N.book_bodies_to_frame([b"[]", b" [ ]\n"], OBS), empty)


# --------------------------------------------------------------------------- drift


def _renamed(d: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {(new if k == old else k): v for k, v in d.items()}


DRIFT = {
    "not_json": (
        b"<html>bad gateway</html>",
        "body is not valid JSON (Expecting value: line 1 column 1 (char 0)); "
        "starts with '<html>bad gateway</html>'",
    ),
    "truncated": (
        b'[{"market": "0xm", "asset_id"',
        "body is not valid JSON (Expecting ':' delimiter: line 1 column 30 (char 29)); "
        'starts with \'[{"market": "0xm", "asset_id"\'',
    ),
    "object_not_array": (
        b'{"error": "Invalid payload"}',
        'body is a JSON object, not an array of books; starts with \'{"error": "Invalid payload"}\'',
    ),
    "null_body": (b"null", "body is a JSON null, not an array of books; starts with 'null'"),
    "asset_id_renamed": (
        body(book("t1"), _renamed(book("t2"), "asset_id", "token_id")),
        "field 'asset_id' missing in 1 of 2 books",
    ),
    "market_missing": (
        body(book("t1"), without(book("t2"), "market")),
        "field 'market' missing in 1 of 2 books",
    ),
    "timestamp_missing": (
        body(without(book("t1"), "timestamp"), without(book("t2"), "timestamp")),
        "field 'timestamp' missing in 2 of 2 books",
    ),
    "timestamp_garbage": (
        body(book("t1"), book("t2", timestamp="yesterday")),
        "field 'timestamp' not a timestamp in 1 of 2 books (e.g. 'yesterday')",
    ),
    "price_not_numeric": (
        body(book("t1"), book("t2", asks=[{"price": "0.45x", "size": "7"}])),
        "field 'asks[].price' not a number in 1 of 3 levels (e.g. '0.45x')",
    ),
    "size_nan": (
        body(book("t1", bids=[{"price": "0.4", "size": "NaN"}]), book("t2")),
        "field 'bids[].size' not a number in 1 of 3 levels (e.g. 'NaN')",
    ),
    "price_renamed": (
        body(book("t1", bids=[{"px": "0.4", "size": "10"}])),
        "field 'bids[].price' missing in 1 of 1 levels",
    ),
    "tick_size_not_numeric": (
        body(book("t1", tick_size="one cent")),
        "field 'tick_size' not a number in 1 of 1 books (e.g. 'one cent')",
    ),
    "several_at_once": (
        body(without(book("t1"), "asset_id"), book("t2", asks=[{"price": "", "size": "1"}])),
        "field 'asset_id' missing in 1 of 2 books; "
        "field 'asks[].price' not a number in 1 of 3 levels (e.g. '')",
    ),
}


@pytest.mark.parametrize(("raw", "detail"), list(DRIFT.values()), ids=list(DRIFT))
def test_drift_raises_malformed_naming_books(raw: bytes, detail: str) -> None:
    with pytest.raises(MalformedResponse) as info:
        N.book_bodies_to_frame([raw], OBS)
    assert (info.value.source, info.value.endpoint, info.value.detail) == ("clob", "/books", detail)
    assert str(info.value) == f"clob /books: malformed response: {detail}"
    with pytest.raises(pydantic.ValidationError):  # the wire model rejects the same body
        _BOOKS.validate_json(raw)


def test_array_of_non_books_is_a_schema_mismatch() -> None:
    with pytest.raises(
        MalformedResponse,
        match=r"^clob /books: malformed response: body does not match the book wire schema \(.+\); "
        r"starts with '\[\"t1\", \"t2\"\]'$",
    ):
        N.book_bodies_to_frame([b'["t1", "t2"]'], OBS)


# --------------------------------------------------------------------------- client: raw hook, retries


def test_books_bodies_sends_what_books_sends_and_hooks_every_raw_body(app: Any, tokens: list[str]) -> None:
    seen: list[RawExchange] = []
    clob = clob_client(app, seen.append)
    some = tokens[:250]
    bodies = clob.books_bodies(some, batch_size=100)
    fast_seen, seen[:] = list(seen), []
    clob.books(some, batch_size=100)
    assert [e.body for e in fast_seen] == bodies  # stored exactly as returned
    assert [len(json.loads(e.request_body or b"")) for e in fast_seen] == [100, 100, 50]

    def sent(e: RawExchange) -> tuple:
        return (e.source, e.endpoint, e.url_path, e.method, e.params, e.request_body, e.status, e.body)

    assert [sent(e) for e in fast_seen] == [sent(e) for e in seen]
    assert {(e.source, e.endpoint, e.method, e.status) for e in fast_seen} == {
        ("clob", "/books", "POST", 200)
    }


def test_books_bodies_retries_and_keeps_a_malformed_body_raw(app: Any, tokens: list[str]) -> None:
    from edge_assets.simulator import FaultConfig

    seen: list[RawExchange] = []
    sleeps: list[float] = []
    clob = clob_client(app, seen.append, sleep=sleeps.append, retry=RetryPolicy(max_attempts=3))
    app.faults = FaultConfig(fail_next=1, malformed_next=1, paths=("/clob/books",))
    try:
        bodies = clob.books_bodies(tokens[:5])
    finally:
        app.faults = FaultConfig()
    assert [e.status for e in seen] == [503, 200] and len(sleeps) == 1
    assert bodies == [seen[-1].body] and bodies[0].startswith(b'{"data": [')
    with pytest.raises(MalformedResponse, match=r"^clob /books: malformed response: body is not valid JSON"):
        N.book_bodies_to_frame(bodies, AT)

"""The live connector against the replay server, publishing through the real Kafka broker.

The replay server plays a real recording with the venue's protocol and keeps the venue's true
book; the deltas read back from Kafka must rebuild that book, verify every venue checksum, and
survive a removed frame, a dropped connection, a silent connection and SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from streams.codec import TopicCodecs
from streams.config import Settings
from streams.connectors.exceptions import ConnectorError
from streams.connectors.session import (
    Connector,
    ConnectorConfig,
    ConnectorCounters,
    DeadLetterSink,
    backoff_delay,
)
from streams.core.types import BookDelta
from streams.fake_exchange.faults import Faults
from streams.fake_exchange.server import ReplayConfig, ReplayServer
from streams.sources.recording import RECV, read_recording
from streams.transport import DeltaPublisher, TopicSpec, create_topics, read_topic, topic_specs
from streams.venues.bitfinex import bitfinex_checksum
from streams.venues.exceptions import UnknownVenueError
from streams.venues.kraken import kraken_checksum
from streams.venues.okx import okx_checksum
from tests.connectors.helpers import apply_levels, recording
from tests.fixtures import hyperliquid

REPO = Path(__file__).resolve().parents[2]

VENUES = {
    # venue: (recording, venue symbols, depth the venue keeps, checksum over text levels)
    "BINANCE": ("BINANCE.ws.1.0", ("NKNUSDT", "BLZETH", "LRCBTC", "RUNEEUR"), None, None),
    "KRAKEN": (
        "KRAKEN.ws.50.0",
        ("WAVES/EUR", "XMR/USD", "KSM/XBT", "GRT/ETH", "SC/EUR",
         "ETH/CHF", "OCEAN/XBT", "OMG/USD", "XBT/CHF", "ADA/XBT"),
        1000,
        lambda bids, asks: kraken_checksum(bids, asks),
    ),
    "OKX": (
        "OKX.ws.1.0",
        ("BTC-USDT", "BTC-USD-220527", "UNI-USD-SWAP"),
        None,
        lambda bids, asks: okx_checksum(bids, asks),
    ),
    "KRAKEN_FUTURES": (
        "KRAKEN_FUTURES.ws.1.0",
        ("PI_ETHUSD", "FI_XBTUSD_210924", "PI_LTCUSD", "FI_XBTUSD_210730", "FI_ETHUSD_211231",
         "FI_ETHUSD_210730", "PI_XRPUSD", "FI_BCHUSD_210924", "FI_XRPUSD_210924",
         "FI_BCHUSD_210730"),
        None,
        None,
    ),
    "DERIBIT": (
        "DERIBIT.ws.1.0",
        ("BTC-24SEP21-8000-P", "BTC-30JUL21-24000-P", "ETH-30JUL21-2800-C", "BTC-31DEC21-34000-P",
         "BTC-24SEP21-34000-P", "BTC-24JUN22-15000-C", "ETH-27AUG21-4000-P", "ETH-23JUL21-2300-C",
         "BTC-31DEC21-300000-C", "BTC-25MAR22-30000-C"),
        None,
        None,
    ),
    "BYBIT": ("BYBIT.jsonl.zst", ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT"), 200, None),
    "KUCOIN": (
        "KUCOIN.ws.1.0",
        ("BCHSV-USDT", "SNX-BTC", "CAPP-BTC", "ANKR-BTC", "FET-BTC", "DAPPT-BTC", "NRG-BTC",
         "COV-BTC", "EQZ-BTC"),
        None,
        None,
    ),
    "HUOBI": (
        "HUOBI.ws.44.0",
        ("trioeth", "borusdt", "omgbtc", "xvgeth", "yfihusd", "zeneth", "dogeeth", "fil3susdt",
         "propyeth", "nesteth"),
        None,
        None,
    ),
    "CRYPTO.COM": (
        "CRYPTO.COM.jsonl.zst",
        ("MATIC_USDT", "HNT_USDT", "LPT_USDC", "GRT_CRO", "HOT_USDT", "BAND_USDT", "SUSHI_USDT",
         "RGT_USDC", "FLOW_CRO", "ONE_USDT"),
        None,
        None,
    ),
    "HYPERLIQUID": (str(hyperliquid.FIXTURE), ("BTC",), None, None),
    "BITMEX": ("BITMEX.ws.1.0", ("XRPU21", "UNIUSDT", "XBTUSD", "ADAUSDT", "SOLUSDT", "TRXU21",
               "EOSUSDT", "TRXUSDT", "BCHUSD", "MATICUSDT"), None, None),
    "COINBASE": ("COINBASE.jsonl.zst", ("BTC-USD", "ETH-USD"), None, None),
    "BITFINEX": (
        "BITFINEX.ws.11.0",  # the dialect adds the `cs` frames the connector asks for
        ("tTESTBTC:TESTUSD", "tDOGUSD", "tODEUSD", "tIOTETH", "tMNABTC"),
        None,
        lambda bids, asks: bitfinex_checksum(bids, asks),
    ),
    "BITSTAMP": (
        "BITSTAMP.ws.1.0",
        ("sgbeur", "ethusd", "xrpeur", "bateur", "usdteur", "usdtusd", "xlmgbp", "adaeur",
         "batbtc", "galaeur"),
        None,
        None,
    ),
    "GEMINI": (
        "GEMINI.ws.1.0",
        ("BTCGBP", "LINKETH", "FILUSD", "ZECLTC", "BATBTC", "ETHEUR", "LTCETH", "GRTUSD",
         "ANKRUSD", "ALCXUSD"),
        None,
        None,
    ),
}  # fmt: skip


# -- running one connector against one replay -------------------------------------------------
async def _start_server(
    venue: str, faults: Faults, interval_s: float, book_frames: int | None = None
) -> ReplayServer:
    config = ReplayConfig(
        venue=venue,
        recording=recording(VENUES[venue][0]),
        frame_interval_s=interval_s,
        faults=faults,
        book_frames=book_frames,
    )
    return await ReplayServer(config).start()


def _connector(server: ReplayServer, settings: Settings, stale_after_s: float) -> Connector:
    venue = server.config.venue
    config = ConnectorConfig(
        venue=venue,
        symbols=VENUES[venue][1],
        url_override=server.websocket_url + "/ws",
        rest_override=server.rest_url,
        stale_after_s=stale_after_s,
        backoff_initial_s=0.05,
        backoff_max_s=0.5,
    )
    publisher = DeltaPublisher(settings, TopicCodecs.register(settings))
    return Connector(config, publisher, DeadLetterSink(settings, venue), rng=random.Random(7))


def _create_topics(settings: Settings) -> None:
    # Record timestamps are the recordings' 2021 event times: keep them beyond time retention.
    specs = [
        TopicSpec(spec.name, 3, {**spec.config, "retention.ms": "-1"})
        for spec in topic_specs(settings.topics)
    ]
    create_topics(settings, specs)


async def _run_replay(
    settings: Settings,
    venue: str,
    faults: Faults | None = None,
    *,
    interval_s: float = 0.001,
    stale_after_s: float = 30.0,
    until: Callable[[ConnectorCounters], bool] = lambda _: True,
    book_frames: int | None = None,
) -> tuple[ReplayServer, Connector]:
    """Replay the recording (or its first book frames), wait until the connector has caught up
    and synced, stop it."""
    _create_topics(settings)
    server = await _start_server(venue, faults or Faults(), interval_s, book_frames)
    connector = _connector(server, settings, stale_after_s)
    task = asyncio.create_task(connector.run())
    try:
        await asyncio.wait_for(server.done.wait(), timeout=120)
        for _ in range(2400):  # a bounded wait, not a timing assertion
            if task.done():
                break
            caught_up = connector.counters.messages >= server.messages_sent
            if caught_up and connector.synced and until(connector.counters):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"connector never caught up: {connector.counters}")
    finally:
        connector.stop()
        await task  # flushes the producer; raises on a delivery error
        await server.stop()
    return server, connector


def _read_back(settings: Settings, published: int) -> list[BookDelta]:
    """Every delta in the topic, which must be exactly what the connector published."""
    codecs = TopicCodecs.register(settings)
    deltas = [
        codecs.decode_keyed_delta(message.key(), message.value())
        for message in read_topic(settings, settings.topics.book_deltas)
    ]
    assert len(deltas) == published
    return deltas


# -- rebuilding books from what Kafka holds ----------------------------------------------------
def _venue_sizes(delta: BookDelta, side: str) -> tuple[float, ...]:
    """The venue's own sizes of a published delta (published sizes are base units)."""
    prices, sizes = getattr(delta, f"{side}_prices"), getattr(delta, f"{side}_sizes")
    spec = delta.spec
    if spec is None or spec.identity:
        return tuple(sizes)
    if spec.kind == "inverse":  # whole contracts (OKX; BitMEX up to 1e8: keep 6 decimals)
        return tuple(
            round(s * p / spec.contract_size, 6) for p, s in zip(prices, sizes, strict=True)
        )
    return tuple(round(s / spec.contract_size, 9) for s in sizes)


class Books:
    """Bids/asks per venue symbol from published deltas, truncated like the venue's own book."""

    def __init__(self, depth: int | None) -> None:
        self.depth = depth
        self.bids: dict[str, dict[float, float]] = {}
        self.asks: dict[str, dict[float, float]] = {}

    def apply(self, delta: BookDelta) -> None:
        key = delta.venue_symbol
        if delta.is_snapshot:
            self.bids[key], self.asks[key] = {}, {}
        apply_levels(self.bids[key], delta.bid_prices, _venue_sizes(delta, "bid"))
        apply_levels(self.asks[key], delta.ask_prices, _venue_sizes(delta, "ask"))
        if self.depth is not None:
            self.bids[key] = dict(self.top(self.bids[key], True, self.depth))
            self.asks[key] = dict(self.top(self.asks[key], False, self.depth))

    @staticmethod
    def top(side: dict[float, float], descending: bool, count: int) -> list[tuple[float, float]]:
        return sorted(side.items(), reverse=descending)[:count]


def _assert_books_match_the_venue(
    deltas: Sequence[BookDelta], server: ReplayServer, depth: int | None = None
) -> None:
    books = Books(VENUES[server.config.venue][2])
    for delta in deltas:
        books.apply(delta)
    truth = server.truth()
    assert sorted(books.bids) == sorted(truth)
    for symbol, book in truth.items():
        bids, asks = book.floats()
        count = depth or max(len(bids), len(asks), 1)
        assert Books.top(books.bids[symbol], True, count) == Books.top(bids, True, count), symbol
        assert Books.top(books.asks[symbol], False, count) == Books.top(asks, False, count), symbol


def _book_levels(message: object) -> list[tuple[str, str, list[list[str]]]]:
    """(symbol, side, levels) of one Kraken or OKX book frame."""
    if isinstance(message, list) and str(message[-2]).startswith("book"):
        return [
            (message[-1], side[0], levels)
            for body in message[1:-2]
            for side, levels in body.items()
            if side in ("a", "b", "as", "bs")
        ]
    if isinstance(message, dict) and message.get("arg", {}).get("channel") == "books":
        return [
            (message["arg"]["instId"], side[0], body.get(side, []))
            for body in message.get("data", [])
            for side in ("asks", "bids")
        ]
    return []


def _text_of(name: str) -> dict[tuple[str, str, float], str]:
    """Each (symbol, role, value) -> the text the venue wrote (checksums cover the text)."""
    texts: dict[tuple[str, str, float], str] = {}
    for event in read_recording(recording(name)):
        if event.kind != RECV or not isinstance(event.data, str):
            continue
        for symbol, _, levels in _book_levels(json.loads(event.data)):
            for level in levels:
                for role, text in (("price", level[0]), ("size", level[1])):
                    previous = texts.setdefault((symbol, role, float(text)), text)
                    assert previous == text, f"{symbol}: {text} and {previous} are one value"
    return texts


def _verify_checksums(venue: str, deltas: Sequence[BookDelta]) -> int:
    """Rebuild from the published deltas and check every checksum they carry; return the count."""
    name, _, depth, checksum = VENUES[venue]
    assert checksum is not None
    texts = _text_of(name)
    books = Books(depth)
    verified = 0
    for delta in deltas:
        books.apply(delta)
        if delta.checksum is None:
            continue
        key = delta.venue_symbol
        bids, asks = (
            [(texts[key, "price", p], texts[key, "size", s]) for p, s in Books.top(side, best, 25)]
            for side, best in ((books.bids[key], True), (books.asks[key], False))
        )
        assert checksum(bids, asks) == delta.checksum, f"{key} at sequence {delta.sequence}"
        verified += 1
    return verified


def _snapshots(deltas: Sequence[BookDelta], symbol: str) -> int:
    return sum(1 for delta in deltas if delta.is_snapshot and delta.venue_symbol == symbol)


# -- end to end through Kafka ------------------------------------------------------------------
@pytest.mark.integration
async def test_binance_deltas_in_kafka_rebuild_the_venue_book(kafka_settings: Settings) -> None:
    server, connector = await _run_replay(kafka_settings, "BINANCE")

    deltas = _read_back(kafka_settings, connector.counters.published)
    assert connector.counters.snapshots_published == 4
    assert (connector.counters.gaps, connector.counters.resyncs) == (0, 0)
    _assert_books_match_the_venue(deltas, server)
    last: dict[str, int | None] = {}
    for delta in deltas:  # per-instrument order survives partitioning by key
        if not delta.is_snapshot:
            assert delta.prev_sequence == last[delta.instrument]
        last[delta.instrument] = delta.sequence


@pytest.mark.integration
@pytest.mark.parametrize(("venue", "updates"), [("KRAKEN", 4269), ("OKX", 290)])
async def test_every_published_update_matches_the_venue_checksum(
    kafka_settings: Settings, venue: str, updates: int
) -> None:
    server, connector = await _run_replay(kafka_settings, venue)

    deltas = _read_back(kafka_settings, connector.counters.published)
    assert _verify_checksums(venue, deltas) == updates
    assert connector.counters.checksums_verified == updates
    if venue == "OKX":  # published in base units, with the contract spec they were converted by
        kinds = {d.venue_symbol: d.spec.kind if d.spec else None for d in deltas}
        assert kinds == {"BTC-USDT": "spot", "BTC-USD-220527": "inverse", "UNI-USD-SWAP": "inverse"}
    assert connector.counters.checksum_failures == 0
    _assert_books_match_the_venue(deltas, server)


@pytest.mark.integration
async def test_binance_removed_frame_is_a_gap_resynced_from_a_rest_snapshot(
    kafka_settings: Settings,
) -> None:
    faults = Faults(remove_at=88)

    server, connector = await _run_replay(kafka_settings, "BINANCE", faults)

    symbol = server.fired["remove"]
    deltas = _read_back(kafka_settings, connector.counters.published)
    assert (connector.counters.gaps, connector.counters.resyncs) == (1, 1)
    assert connector.counters.snapshot_requests == 5
    assert _snapshots(deltas, symbol) == 2
    _assert_books_match_the_venue(deltas, server, depth=500)


@pytest.mark.integration
@pytest.mark.parametrize("venue", ["KRAKEN", "OKX"])
@pytest.mark.parametrize("fault", ["remove_at", "corrupt_checksum_at"])
async def test_checksum_mismatch_resubscribes_for_a_fresh_snapshot(
    kafka_settings: Settings, venue: str, fault: str
) -> None:
    faults = Faults(**{fault: 100})

    server, connector = await _run_replay(kafka_settings, venue, faults)

    (symbol,) = server.fired.values()
    deltas = _read_back(kafka_settings, connector.counters.published)
    assert (connector.counters.checksum_failures, connector.counters.resyncs) == (1, 1)
    assert _snapshots(deltas, symbol) == 2
    assert _verify_checksums(venue, deltas) == connector.counters.checksums_verified
    _assert_books_match_the_venue(deltas, server)


@pytest.mark.integration
@pytest.mark.parametrize("venue", ["BINANCE", "KRAKEN"])
async def test_dropped_connection_reconnects_and_resyncs_every_book(
    kafka_settings: Settings, venue: str
) -> None:
    faults = Faults(drop_at=88)

    server, connector = await _run_replay(kafka_settings, venue, faults, interval_s=0.005)

    deltas = _read_back(kafka_settings, connector.counters.published)
    symbols = VENUES[venue][1]
    assert server.connections_opened == 2
    assert connector.counters.reconnects == 1
    assert connector.counters.resyncs == len(symbols)
    assert all(_snapshots(deltas, symbol) == 2 for symbol in symbols)
    _assert_books_match_the_venue(deltas, server, depth=500)


@pytest.mark.integration
async def test_silent_connection_trips_the_watchdog_and_resyncs(kafka_settings: Settings) -> None:
    faults = Faults(silent_at=40)  # a 0.5 s watchdog reconnected for good on a loaded machine

    server, connector = await _run_replay(
        kafka_settings, "BINANCE", faults, interval_s=0.02, stale_after_s=3.0,
        until=lambda counters: counters.stale_connections >= 1,
    )  # fmt: skip

    deltas = _read_back(kafka_settings, connector.counters.published)
    assert connector.counters.stale_connections >= 1
    assert connector.counters.reconnects >= 1
    assert server.connections_opened >= 2
    assert all(_snapshots(deltas, symbol) >= 2 for symbol in VENUES["BINANCE"][1])
    _assert_books_match_the_venue(deltas, server, depth=500)


@pytest.mark.integration
async def test_sigterm_flushes_every_produced_delta(kafka_settings: Settings) -> None:
    _create_topics(kafka_settings)
    server = await _start_server("BINANCE", Faults(), interval_s=0.05)
    environment = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers or "",
        "SCHEMA_REGISTRY_URL": "mock://sigterm",
        "STREAMS_TOPIC_DEAD_LETTER": kafka_settings.topics.dead_letter,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "streams.cli", "connect", "BINANCE",
        "--symbols", ",".join(VENUES["BINANCE"][1]),
        "--topic", kafka_settings.topics.book_deltas,
        "--url-override", server.websocket_url + "/stream",
        "--rest-override", server.rest_url,
        cwd=REPO, env=environment, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(1200):  # until the connector has received a good part of the feed
            if server.book_frames >= 80 or process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        stopped_mid_stream = not server.done.is_set()  # judged when the signal goes, not after
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
        await server.stop()

    text = stderr.decode()
    assert process.returncode == 0, text
    summary = re.search(r"connect BINANCE: .*?\bpublished=(\d+)", text)
    assert summary is not None, text
    published = int(summary.group(1))
    assert stopped_mid_stream, "the recording ended before the connector was stopped"
    assert published > 4, text
    _read_back(kafka_settings, published)


# -- the pure parts of the shell ---------------------------------------------------------------
@pytest.mark.unit
def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    rng = random.Random(1)

    delays = [[backoff_delay(attempt, 0.5, 8.0, rng) for _ in range(400)] for attempt in range(8)]

    for attempt, samples in enumerate(delays):
        ceiling = min(8.0, 0.5 * 2**attempt)
        assert all(0.0 <= delay <= ceiling for delay in samples)
        assert max(samples) > 0.9 * ceiling  # full jitter reaches the ceiling
        assert min(samples) < 0.1 * ceiling  # ... and the floor
    assert max(delays[7]) <= 8.0


@pytest.mark.unit
def test_connections_respect_the_venue_subscription_limit() -> None:
    symbols = tuple(f"S{index}USDT" for index in range(450))
    config = ConnectorConfig(venue="BINANCE_FUTURES", symbols=symbols)

    connector = Connector(config, sink=None, rejects=None)  # type: ignore[arg-type]

    assert [len(connection.symbols) for connection in connector.connections] == [200, 200, 50]
    assert sum((c.symbols for c in connector.connections), ()) == symbols


@pytest.mark.unit
@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"venue": "NOPE", "symbols": ("A",)}, UnknownVenueError),
        ({"venue": "KRAKEN", "symbols": ()}, ConnectorError),
        ({"venue": "KRAKEN", "symbols": ("XBT/USD",), "stale_after_s": 0}, ConnectorError),
    ],
)
def test_bad_connector_config_is_refused(fields: dict, error: type[Exception]) -> None:
    with pytest.raises(error):
        ConnectorConfig(**fields)


@pytest.mark.unit
def test_replay_server_rest_snapshot_is_the_recorded_book_before_the_feed() -> None:
    server = ReplayServer(ReplayConfig(venue="BINANCE", recording=recording("BINANCE.ws.1.0")))

    status, body = server.dialect.rest("/api/v3/depth", {"symbol": "NKNUSDT", "limit": "5"})

    snapshot = json.loads(body)
    assert status == 200
    assert snapshot["lastUpdateId"] == 499869752
    assert len(snapshot["bids"]) == len(snapshot["asks"]) == 5
    assert snapshot["bids"][0][0] == "0.35210000"

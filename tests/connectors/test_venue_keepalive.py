"""What keeps a venue's socket open, live through the real broker and pure in the venue modules:
Huobi's and Crypto.com's heartbeats answered with their ids, KuCoin's token and client pings."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections import deque
from typing import Any

import pytest

from streams.config import Settings
from streams.connectors import keepalive
from streams.connectors.rest import rest_url, socket_url
from streams.fake_exchange.cryptocom import CryptoCom
from streams.fake_exchange.huobi import Huobi
from streams.fake_exchange.kucoin import PING_INTERVAL_MS, Kucoin
from streams.sources.recording import RECV, read_recording_set
from streams.venues.cryptocom import CryptoComParser
from streams.venues.huobi import HuobiParser
from streams.venues.kucoin import BULLET_URL, KucoinParser
from tests.connectors.helpers import recording
from tests.connectors.test_session import (
    VENUES,
    _assert_books_match_the_venue,
    _read_back,
    _run_replay,
)


def _recorded_heartbeats(venue: str) -> int:
    """Heartbeats in the venue's recording, read without the dialect under test."""
    count = 0
    for event in read_recording_set(recording(VENUES[venue][0])):
        if event.kind != RECV:
            continue
        data = event.data
        message = json.loads(gzip.decompress(data) if isinstance(data, bytes) else data)
        if "ping" in message or message.get("method") == "public/heartbeat":
            count += 1
    return count


@pytest.mark.integration
@pytest.mark.parametrize("venue", ["HUOBI", "CRYPTO.COM"])
async def test_every_venue_heartbeat_is_answered_with_its_id(
    kafka_settings: Settings, venue: str
) -> None:
    expected = _recorded_heartbeats(venue)

    server, connector = await _run_replay(
        kafka_settings, venue, until=lambda counters: counters.replies >= expected
    )

    dialect = server.dialect
    assert isinstance(dialect, Huobi | CryptoCom)
    assert expected >= 1
    assert connector.counters.replies == dialect.heartbeats == expected
    # the connector closed after its last answer, and the venue reads in order: all arrived
    assert (dialect.answered, dialect.wrong_answers) == (expected, 0)
    assert connector.counters.reconnects == 0
    _assert_books_match_the_venue(_read_back(kafka_settings, connector.counters.published), server)


@pytest.mark.integration
async def test_kucoin_connects_with_a_token_and_pings_at_the_interval_it_was_given(
    kafka_settings: Settings,
) -> None:
    server, connector = await _run_replay(
        kafka_settings, "KUCOIN", book_frames=400, until=lambda counters: counters.pings >= 2
    )

    dialect = server.dialect
    assert isinstance(dialect, Kucoin)
    assert (dialect.tokens_issued, server.connections_opened) == (1, 1)
    assert connector.counters.reconnects == 0
    assert connector.counters.pings >= 2
    assert dialect.pings == connector.counters.pings
    assert connector.counters.gaps == 0
    _assert_books_match_the_venue(_read_back(kafka_settings, connector.counters.published), server)


# -- the pure parts: what to answer, where to connect ------------------------------------------
@pytest.mark.unit
def test_heartbeats_come_back_as_the_frame_replies() -> None:
    ping = gzip.compress(b'{"ping": 1618678073643}')
    beat = '{"id": 1637709519420, "method": "public/heartbeat"}'

    huobi = HuobiParser().parse(ping, 0)
    cryptocom = CryptoComParser().parse(beat, 0)

    assert (huobi.updates, huobi.replies) == ((), ('{"pong": 1618678073643}',))
    assert cryptocom.updates == ()
    assert [json.loads(reply) for reply in cryptocom.replies] == [
        {"id": 1637709519420, "method": "public/respond-heartbeat"}
    ]


@pytest.mark.unit
def test_kucoin_socket_address_comes_from_the_token_response() -> None:
    _, body = Kucoin([]).rest("/api/v1/bullet-public", {})
    parser = KucoinParser()

    address = parser.socket_address(body, "c7")

    assert parser.token_url == BULLET_URL
    assert address.url == "wss://ws-api-spot.kucoin.com/?token=fake-exchange-token&connectId=c7"
    assert address.ping_interval_s == PING_INTERVAL_MS / 1000
    assert json.loads(parser.ping_message(3)) == {"id": "3", "type": "ping"}


@pytest.mark.unit
def test_overrides_move_requests_to_the_test_venue_keeping_what_identifies_them() -> None:
    token = "wss://ws-api-spot.kucoin.com/?token=T&connectId=c1"

    assert socket_url(token, "ws://127.0.0.1:9/ws") == "ws://127.0.0.1:9/ws?token=T&connectId=c1"
    assert socket_url(token, None) == token
    assert rest_url(BULLET_URL, "http://127.0.0.1:9") == "http://127.0.0.1:9/api/v1/bullet-public"


class _LateSocket:
    """A socket whose first wait never wakes (the frame lands as the deadline fires)."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = deque(frames)
        self.waits = 0

    async def receive(self) -> Any:
        self.waits += 1
        if self.waits == 1 or not self.frames:
            await asyncio.Event().wait()
        return self.frames.popleft()


@pytest.mark.unit
@pytest.mark.parametrize(("frames", "expected"), [(["late frame"], "late frame"), ([], None)])
async def test_only_a_socket_with_nothing_waiting_is_stale(
    frames: list[str], expected: str | None
) -> None:
    socket = _LateSocket(frames)

    message = await keepalive.receive(socket, 0.01)  # type: ignore[arg-type]

    assert message == expected

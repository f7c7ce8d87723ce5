"""Small builders for core tests."""

from __future__ import annotations

from streams.core.types import BookDelta, SourcePosition


def delta(
    bids: list[tuple[float, float]] = (),  # type: ignore[assignment]
    asks: list[tuple[float, float]] = (),  # type: ignore[assignment]
    *,
    t: int = 1_000_000,
    snapshot: bool = False,
    seq: int | None = None,
    prev: int | None = None,
    symbol: str = "BTC-USDT",
) -> BookDelta:
    return BookDelta(
        exchange="TEST",
        symbol=symbol,
        venue_symbol=symbol.replace("-", ""),
        event_time=t,
        receive_time=t + 5,
        is_snapshot=snapshot,
        bid_prices=tuple(p for p, _ in bids),
        bid_sizes=tuple(q for _, q in bids),
        ask_prices=tuple(p for p, _ in asks),
        ask_sizes=tuple(q for _, q in asks),
        sequence=seq,
        prev_sequence=prev,
    )


def at(offset: int) -> SourcePosition:
    return SourcePosition("book-deltas", 0, offset)

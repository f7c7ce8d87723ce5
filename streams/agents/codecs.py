"""Faust codecs for our topics: Avro in the Confluent wire format, as plain dict records.

`register_faust_codecs(settings)` makes `value_serializer="streams-imbalance"` (and
`streams-book-delta`, `streams-suggestion`) usable on any Faust topic or agent, so a downstream
Faust app reads and writes our topics as typed records. The product's own worker consumes raw
bytes and decodes whole batches in its compute child process, so decoding stays off the event
loop; it uses the same `RecordCodec` underneath.
"""

from __future__ import annotations

from typing import Any

from faust.serializers import codecs

from streams.codec import RecordCodec, TopicCodecs
from streams.config import Settings

__all__ = ["WireFormatCodec", "register_faust_codecs"]


class WireFormatCodec(codecs.Codec):
    """A Faust codec around one `RecordCodec` (schema id fixed by registration)."""

    def __init__(self, record_codec: RecordCodec, **kwargs: Any) -> None:
        self.record_codec = record_codec
        super().__init__(**kwargs)

    def _dumps(self, obj: Any) -> bytes:
        return self.record_codec.encode(obj)

    def _loads(self, s: bytes) -> Any:
        return self.record_codec.decode(s)


def register_faust_codecs(
    settings: Settings, topic_codecs: TopicCodecs | None = None
) -> dict[str, WireFormatCodec]:
    """Register one codec per topic value schema with Faust; return them by name."""
    topic_codecs = topic_codecs or TopicCodecs.register(settings)
    registered = {
        "streams-book-delta": WireFormatCodec(topic_codecs.book_delta),
        "streams-imbalance": WireFormatCodec(topic_codecs.imbalance),
        "streams-suggestion": WireFormatCodec(topic_codecs.suggestion),
    }
    for name, codec in registered.items():
        codecs.register(name, codec)
    return registered

"""Venue connectors: the websocket/REST session that keeps books in sync and publishes deltas.

The venue dialects it speaks (parsers, capabilities, synchronizer) are pure and live in
`streams.venues`; this package holds what opens sockets and fetches instrument metadata.
"""

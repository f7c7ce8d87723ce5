"""Venue dialects, pure: per-venue parsers, the capability table and the book synchronizer.

Nothing in this package opens a socket or reads a clock: the connectors' websocket/REST session
and the raw file reader both carry out what the parsers and the synchronizer decide.
"""

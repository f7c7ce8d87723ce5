"""Venue connectors: pure per-venue parsers, the capability table and the book synchronizer.

Nothing in this package opens a socket; the shared websocket/REST shell carries out what the
parsers and the synchronizer decide.
"""

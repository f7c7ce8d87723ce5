"""Replay the input topic through the core and compare with what the live topics hold."""

"""The project's base error; each area derives its own in its `exceptions.py`."""

__all__ = ["StreamsError"]


class StreamsError(Exception):
    """Base of every error this project raises on purpose."""

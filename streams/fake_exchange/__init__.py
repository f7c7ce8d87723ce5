"""A fake exchange: a real recording played back as the venue, on 127.0.0.1, with faults.

Test and demo infrastructure, not product: it trusts its recording. `server` serves the websocket
and REST endpoints and walks the feed; one module per venue family says how that venue frames its
book channel (`dialect` is their common shape, `book` the venue's true book in the venue's own
text); `faults` decides when a one-shot fault fires. `streams fake-exchange` runs it.
"""

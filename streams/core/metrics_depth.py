"""Depth bands of one book side: quote notional within 10, 25, 50 and 100 bps of the mid.

Definitions: docs/metrics.md. Two paths with the same additions in the same order: C-speed
`bisect` and `sum` for pure Python, typed loops once compiled (`NATIVE`).
"""

from __future__ import annotations

from bisect import bisect_right

from streams.core.book import NATIVE
from streams.core.config import DEPTH_BANDS_BPS

__all__ = ["ASK_FACTORS", "BID_FACTORS", "band_depths", "band_depths_sliced", "band_depths_walk"]

# Band bounds are mid * factor: the same products, in the same order, as -mid * (1 - bps * 1e-4)
# (bid keys are negated prices) and mid * (1 + bps * 1e-4).
BID_FACTORS = tuple(1.0 - b * 1e-4 for b in DEPTH_BANDS_BPS)
ASK_FACTORS = tuple(1.0 + b * 1e-4 for b in DEPTH_BANDS_BPS)


def band_depths(
    keys: list[float], notionals: list[float], count: int, mid: float, factors: tuple[float, ...]
) -> tuple[list[float], int]:
    """Depth (quote notional) inside each band, and the last level index the result depends on.

    `keys` ascending as stored (bids negated, with `mid` negated too); a level is inside a band
    when its key <= mid * factor.
    """
    if NATIVE:
        return band_depths_walk(keys, notionals, count, mid, factors)
    return band_depths_sliced(keys, notionals, count, mid, factors)


def band_depths_sliced(
    keys: list[float], notionals: list[float], count: int, mid: float, factors: tuple[float, ...]
) -> tuple[list[float], int]:
    """The pure-Python path: C-speed `bisect` and `sum` over the levels inside the widest band.

    Once every scanned level is inside, wider bands add nothing.
    """
    depths = []
    total = 0.0
    start = 0
    for factor in factors:
        if start == count:
            depths.append(total)
            continue
        end = bisect_right(keys, mid * factor, start, count)
        if end > start:
            # the whole list needs no copy; the same floats summed in the same order
            total += (
                sum(notionals)
                if start == 0 and end == len(notionals)
                else sum(notionals[start:end])
            )
        depths.append(total)
        start = end
    return depths, start


def band_depths_walk(
    keys: list[float], notionals: list[float], count: int, mid: float, factors: tuple[float, ...]
) -> tuple[list[float], int]:
    """The compiled path: typed searches and sums, with the additions of the sliced path, in order.

    Each band's part is summed from 0.0 and then added to the running total, as `sum` of a slice
    does; an empty part adds +0.0, which leaves the (non-negative) total as it is.
    """
    depths: list[float] = []
    total = 0.0
    start = 0
    for factor in factors:
        # bisect_right(keys, bound, start, count), then the part from 0.0
        end, high, bound = start, count, mid * factor
        while end < high:
            middle = (end + high) >> 1
            if bound < keys[middle]:
                high = middle
            else:
                end = middle + 1
        part = 0.0
        for i in range(start, end):
            part += notionals[i]
        total += part
        depths.append(total)
        start = end
    return depths, start

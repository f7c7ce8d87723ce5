"""Order-flow imbalance of one record: OFI and multi-level OFI against the previous record, and
their sums over event-time windows (`ofi_1s`, `ofi_10s`). Definitions: docs/metrics.md.
"""

from __future__ import annotations

import math
from operator import neg

from streams.core.metrics_state import OFI_WINDOWS_US, MetricState

__all__ = ["add_to_windows", "order_flows"]

_INF = math.inf


def _padded(values: list[float], length: int, fill: float) -> list[float]:
    missing = length - len(values)
    return values + [fill] * missing if missing > 0 else values


def order_flows(
    state: MetricState, levels: int, bk: list[float], bs: list[float], ak: list[float],
    asz: list[float], bid_from: int, ask_from: int,
) -> tuple[float | None, list[float] | None]:  # fmt: skip
    """OFI and multi-level OFI against the previous record; remember this record's top levels."""
    previous = state.previous
    if previous is not None and bid_from >= levels and ask_from >= levels:
        # Both tops unchanged: every level's term is x - x - y + y, which is +0.0 exactly.
        return 0.0, [0.0] * levels
    if previous is not None and bid_from >= levels:
        top_bp, top_bq = previous[0], previous[1]
    else:
        top_bp = _padded(list(map(neg, bk[:levels])), levels, 0.0)
        top_bq = _padded(bs[:levels], levels, 0.0)
    if previous is not None and ask_from >= levels:
        top_ap, top_aq = previous[2], previous[3]
    else:
        top_ap = _padded(ak[:levels], levels, _INF)
        top_aq = _padded(asz[:levels], levels, 0.0)
    state.previous = (top_bp, top_bq, top_ap, top_aq)
    if previous is None:
        return None, None
    pbp_, pbq_, pap_, paq_ = previous
    mlofi: list[float] = []
    for k in range(levels):
        bp = top_bp[k]
        pbp = pbp_[k]
        ap = top_ap[k]
        pap = pap_[k]
        mlofi.append(
            (top_bq[k] if bp >= pbp else 0.0)
            - (pbq_[k] if bp <= pbp else 0.0)
            - (top_aq[k] if ap <= pap else 0.0)
            + (paq_[k] if ap >= pap else 0.0)
        )
    return mlofi[0], mlofi


def add_to_windows(state: MetricState, event_time: int, flow: float) -> list[float]:
    """Add `flow` to each OFI window and drop what fell out of it; the running sums.

    A window whose only entry is the new one is re-anchored to it, so the sums never drift.
    """
    times, values, heads, window_sums = (
        state.flow_times, state.flow_values, state.flow_heads, state.ofi_sums
    )  # fmt: skip
    times.append(event_time)
    values.append(flow)
    last = len(times) - 1
    for w in range(len(heads)):
        head = heads[w]
        total = window_sums[w] + flow
        horizon = event_time - OFI_WINDOWS_US[w]
        while times[head] <= horizon:
            total -= values[head]
            head += 1
        heads[w] = head
        window_sums[w] = total if head < last else flow
    dropped = heads[-1]  # the longest window's start: nothing before it is in any window
    if dropped > 256 and 2 * dropped > last:
        del times[:dropped]
        del values[:dropped]
        for w in range(len(heads)):
            heads[w] -= dropped
    return window_sums

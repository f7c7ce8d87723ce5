"""The breaker's six rules, in their fixed order: the one list of them.

Adding a rule is one class (a `Rule` of `breaker_rule.py`, in the liquidity or the price rules)
and one entry here. Sources and rationale: docs/breaker.md.
"""

from __future__ import annotations

from streams.core.breaker_config import BreakerConfig
from streams.core.breaker_liquidity_rules import CostRule, DepthRule, ImbalanceRule, SpreadRule
from streams.core.breaker_price_rules import BandRule, VelocityRule
from streams.core.breaker_rule import Rule

__all__ = ["make_rules"]


def make_rules(config: BreakerConfig) -> tuple[Rule, ...]:
    """The rules in their fixed order (the order of a suggestion's reasons)."""
    return (
        ImbalanceRule(config),
        SpreadRule(config),
        DepthRule(config),
        CostRule(config),
        BandRule(config),
        VelocityRule(config),
    )

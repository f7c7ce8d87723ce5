"""Liquidity-imbalance and circuit-breaker stream processing on Apache Kafka."""

__version__ = "0.1.0"

"""Sinks: persist the `imbalance` and `circuit-breaker-suggestions` topics (Parquet, PostgreSQL)."""

"""Pure, deterministic core: no I/O, no clock, no Kafka (a test enforces this)."""

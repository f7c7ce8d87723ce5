"""Deterministic market simulator and stress scenarios for the circuit breaker."""

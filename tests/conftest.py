"""Test configuration: area fixtures live in `tests/fixtures/*.py` and load as plugins."""

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.workers", "tests.fixtures.postgres"]

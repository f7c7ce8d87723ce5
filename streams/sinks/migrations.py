"""Versioned PostgreSQL migrations: fixed SQL, applied once each, recorded in schema_migrations.

A migration never changes after it shipped; a new version is appended instead. The column types
follow `streams.sinks.tables.pg_columns` (derived from the Avro contracts); a test compares the
migrated tables with it, so the two cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

__all__ = ["MIGRATIONS", "Migration", "applied_versions", "migrate"]

_LOCK_ID = 0x5354_5245_414D_5331  # pg_advisory_xact_lock key: one migrator at a time


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


_V1_TABLES = """
CREATE TABLE imbalance (
    record_id          text PRIMARY KEY,
    exchange           text NOT NULL,
    symbol             text NOT NULL,
    event_time         timestamptz NOT NULL,
    receive_time       timestamptz NOT NULL,
    source_topic       text NOT NULL,
    source_partition   integer NOT NULL,
    source_offset      bigint NOT NULL,
    config_hash        text NOT NULL,
    best_bid           double precision NOT NULL,
    best_bid_size      double precision NOT NULL,
    best_ask           double precision NOT NULL,
    best_ask_size      double precision NOT NULL,
    mid                double precision NOT NULL,
    spread_bps         double precision NOT NULL,
    weighted_mid       double precision NOT NULL,
    queue_imbalance    double precision NOT NULL,
    depth_imbalance_5  double precision NOT NULL,
    depth_imbalance_10 double precision NOT NULL,
    ofi                double precision,
    mlofi              double precision[],
    ofi_1s             double precision NOT NULL,
    ofi_10s            double precision NOT NULL,
    depth_bid_10bps    double precision NOT NULL,
    depth_ask_10bps    double precision NOT NULL,
    depth_bid_25bps    double precision NOT NULL,
    depth_ask_25bps    double precision NOT NULL,
    depth_bid_50bps    double precision NOT NULL,
    depth_ask_50bps    double precision NOT NULL,
    depth_bid_100bps   double precision NOT NULL,
    depth_ask_100bps   double precision NOT NULL,
    cost_to_trade      jsonb NOT NULL,
    spread_z           double precision,
    depth_z            double precision,
    bid_levels         integer NOT NULL,
    ask_levels         integer NOT NULL
);
CREATE INDEX imbalance_instrument_time ON imbalance (exchange, symbol, event_time);

CREATE TABLE suggestions (
    suggestion_id        text PRIMARY KEY,
    exchange             text NOT NULL,
    symbol               text NOT NULL,
    event_time           timestamptz NOT NULL,
    action               text NOT NULL,
    state                text NOT NULL,
    previous_state       text NOT NULL,
    severity             integer NOT NULL,
    suggested_duration_s double precision,
    reasons              jsonb NOT NULL,
    metrics              jsonb NOT NULL,
    source_topic         text NOT NULL,
    source_partition     integer NOT NULL,
    source_offset        bigint NOT NULL,
    config_hash          text NOT NULL
);
CREATE INDEX suggestions_instrument_time ON suggestions (exchange, symbol, event_time);
"""

# Imbalance schema version 2: what the sizes and notionals of a record are in.
_V2_CONTRACT_SPEC = """
ALTER TABLE imbalance
    ADD COLUMN instrument_kind text,
    ADD COLUMN base_currency   text,
    ADD COLUMN quote_currency  text;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "imbalance and suggestions tables", _V1_TABLES),
    Migration(2, "imbalance: instrument kind, base and quote currency", _V2_CONTRACT_SPEC),
)


def applied_versions(connection: psycopg.Connection) -> list[int]:
    rows = connection.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    return [row[0] for row in rows]


def migrate(connection: psycopg.Connection) -> list[int]:
    """Apply the missing migrations in one transaction; return the versions applied now."""
    applied_now = []
    with connection.transaction():
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = set(applied_versions(connection))
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            connection.execute(migration.sql.encode())
            connection.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied_now.append(migration.version)
    return applied_now

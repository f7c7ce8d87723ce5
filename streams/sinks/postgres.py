"""PostgreSQL sink: COPY into a staging table, then INSERT ... ON CONFLICT DO NOTHING.

Rows are keyed by `record_id` / `suggestion_id` (built from the input coordinates), so writing a
batch again after a crash or an outage adds nothing. A batch is one transaction: after COMMIT it
is durable and the runner commits the Kafka offsets. A server that is down or restarting raises
`SinkUnavailableError` and the runner retries the same batch; the connection is re-opened (and
migrations re-checked) on the next attempt.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from streams.config import Secret
from streams.sinks.base import PartitionBatch
from streams.sinks.exceptions import SinkConfigurationError, SinkError, SinkUnavailableError
from streams.sinks.migrations import migrate
from streams.sinks.tables import TABLES, PgColumn, Table, pg_columns

__all__ = ["PostgresWriter", "redact_dsn"]

log = logging.getLogger(__name__)


def redact_dsn(dsn: str) -> str:
    """The DSN with its password masked, for logs and error messages."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable DSN>"
    if params.get("password"):
        params["password"] = "********"  # noqa: S105 (the mask, not a password)
    return make_conninfo("", **params)


def _json_safe(value: Any) -> Any:
    """NaN and infinities as the strings PostgreSQL casts back (`'NaN'::float8`), not bad JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


def _dump_json(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(_json_safe(value), allow_nan=False, separators=(",", ":"))


class _TableStatements:
    """The staging table and the two statements of one table."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.columns: tuple[PgColumn, ...] = pg_columns(table)
        self.json_indexes = [i for i, c in enumerate(self.columns) if c.kind == "json"]
        staging = sql.Identifier(f"staging_{table.name}")
        names = sql.SQL(", ").join(sql.Identifier(c.name) for c in self.columns)
        self.create_staging = sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} ({}) ON COMMIT DELETE ROWS"
        ).format(
            staging,
            sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.staging_type))
                for c in self.columns
            ),
        )
        self.copy = sql.SQL("COPY {} ({}) FROM STDIN").format(staging, names)
        self.insert = sql.SQL(
            "INSERT INTO {} ({}) SELECT {} FROM {} ON CONFLICT DO NOTHING"
        ).format(
            sql.Identifier(table.name),
            names,
            sql.SQL(", ").join(sql.SQL(c.select_expression()) for c in self.columns),
            staging,
        )

    def values(self, row: dict[str, Any]) -> list[Any]:
        values = [row.get(column.name) for column in self.columns]
        for index in self.json_indexes:
            values[index] = _dump_json(values[index])
        return values


class PostgresWriter:
    """Write batches into PostgreSQL (tables created by `streams.sinks.migrations`)."""

    name = "postgres"

    def __init__(self, dsn: Secret, *, connect_timeout_s: int = 10) -> None:
        if not dsn.reveal().strip():
            raise SinkConfigurationError("no PostgreSQL DSN: pass --dsn or set POSTGRES_DSN")
        self._dsn = dsn
        self.redacted_dsn = redact_dsn(dsn.reveal())
        self._connect_timeout_s = connect_timeout_s
        self._connection: psycopg.Connection | None = None
        self._statements = {table.name: _TableStatements(table) for table in TABLES}

    def recover(self, table: Table, topic: str, partition: int, start_offset: int) -> int:
        return start_offset - 1  # the primary keys make any redelivery harmless

    def write(self, batches: Sequence[PartitionBatch]) -> None:
        by_table: dict[str, list[dict[str, Any]]] = {}
        for batch in batches:
            by_table.setdefault(batch.table.name, []).extend(batch.rows)
        if not any(by_table.values()):
            return
        try:
            connection = self._connect()
            with connection.transaction(), connection.cursor() as cursor:
                for name, rows in sorted(by_table.items()):
                    self._write_rows(cursor, self._statements[name], rows)
        except (psycopg.OperationalError, psycopg.InterfaceError) as error:
            self._disconnect()
            raise SinkUnavailableError(f"PostgreSQL at {self.redacted_dsn}: {error}") from error
        except psycopg.Error as error:
            self._disconnect()
            raise SinkError(
                f"PostgreSQL at {self.redacted_dsn} refused a batch: {error}"
            ) from error

    @staticmethod
    def _write_rows(cursor: psycopg.Cursor, statements: _TableStatements, rows: list[Any]) -> None:
        if not rows:
            return
        cursor.execute(statements.create_staging)
        with cursor.copy(statements.copy) as copy:
            for row in rows:
                copy.write_row(statements.values(row))
        cursor.execute(statements.insert)

    def _connect(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            connection = psycopg.connect(
                self._dsn.reveal(), autocommit=True, connect_timeout=self._connect_timeout_s
            )
            applied = migrate(connection)
            if applied:
                log.info("PostgreSQL %s: applied migrations %s", self.redacted_dsn, applied)
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None

    def connect(self) -> None:
        """Connect and migrate now (at start-up), so configuration errors show at once."""
        try:
            self._connect()
        except psycopg.OperationalError as error:
            raise SinkUnavailableError(f"PostgreSQL at {self.redacted_dsn}: {error}") from error

    def close(self) -> None:
        self._disconnect()

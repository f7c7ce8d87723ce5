"""The two tables a sink writes and their columns, derived from the Avro contracts.

The Avro schema is the single source of truth: Arrow types (Parquet) and PostgreSQL column types
are computed from it here, never retyped by hand. The PostgreSQL migrations are fixed SQL (a
migration must not change after it ran); a test compares the migrated tables with `pg_columns`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import pyarrow as pa

from streams.codec import load_schema
from streams.core.exceptions import InvalidDeltaError
from streams.core.types import MAX_TIME_US, MIN_TIME_US, check_id
from streams.sinks.exceptions import SinkError

__all__ = [
    "IMBALANCE",
    "SUGGESTIONS",
    "TABLES",
    "PgColumn",
    "Table",
    "arrow_schema",
    "pg_columns",
    "unstorable",
]

PARTITION_COLUMNS = ("exchange", "symbol")  # hive directories in Parquet, not file columns


@dataclass(frozen=True, slots=True)
class Table:
    """One persisted table: its name in both sinks, id column and Avro contract."""

    name: str
    id_field: str
    schema_name: str  # key of streams.codec.SCHEMA_FILES

    def avro(self) -> dict[str, Any]:
        return load_schema(self.schema_name)


IMBALANCE = Table(name="imbalance", id_field="record_id", schema_name="imbalance")
SUGGESTIONS = Table(name="suggestions", id_field="suggestion_id", schema_name="suggestion")
TABLES = (IMBALANCE, SUGGESTIONS)


def unstorable(table: Table, row: dict[str, Any]) -> str | None:
    """Why a decoded row cannot be stored by every sink, or None.

    Avro carries any long and any text, but a Parquet date partition and a PostgreSQL timestamp
    hold only years 1970..9999 (`MAX_TIME_US`), an id becomes a directory name, and PostgreSQL
    text and jsonb refuse NUL characters. The runner dead-letters such a row instead of failing
    its batch.
    """
    for name in (table.id_field, "exchange", "symbol"):
        if not row.get(name):
            return f"has an empty {name}"
    for name in ("exchange", "symbol"):
        try:
            check_id(name, row[name])
        except InvalidDeltaError as error:
            return str(error)
    for name in _timestamp_fields(table):
        value = row.get(name)
        if value is not None and not MIN_TIME_US <= value <= MAX_TIME_US:
            return f"has {name} {value} outside 1970 to 9999-12-30"
    for name, value in row.items():
        if not isinstance(value, (int, float)) and value is not None and _has_nul(value):
            return f"has a NUL character in {name}"
    return None


@cache
def _timestamp_fields(table: Table) -> tuple[str, ...]:
    return tuple(
        field["name"]
        for field in table.avro()["fields"]
        if _split_nullable(field["type"])[0] == {"type": "long", "logicalType": "timestamp-micros"}
    )


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(item) for item in value)
    return False


_ARROW_PRIMITIVES = {
    "string": pa.string(),
    "int": pa.int32(),
    "long": pa.int64(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "bytes": pa.binary(),
}


def _split_nullable(avro_type: Any) -> tuple[Any, bool]:
    if isinstance(avro_type, list):
        branches = [branch for branch in avro_type if branch != "null"]
        if len(branches) != 1:
            raise SinkError(f"union {avro_type} is not a nullable single type")
        return branches[0], len(branches) < len(avro_type)
    return avro_type, False


def _arrow_type(avro_type: Any, named: dict[str, pa.DataType]) -> pa.DataType:
    avro_type, _ = _split_nullable(avro_type)
    if isinstance(avro_type, str):
        if avro_type in _ARROW_PRIMITIVES:
            return _ARROW_PRIMITIVES[avro_type]
        return named[avro_type]  # a named type defined earlier in the schema
    kind = avro_type["type"]
    result: pa.DataType
    if avro_type.get("logicalType") == "timestamp-micros":
        result = pa.timestamp("us", tz="UTC")
    elif kind == "enum":
        result = pa.string()
    elif kind == "array":
        result = pa.list_(_arrow_type(avro_type["items"], named))
    elif kind == "map":
        result = pa.map_(pa.string(), _arrow_type(avro_type["values"], named))
    elif kind == "record":
        result = pa.struct(_arrow_fields(avro_type["fields"], named))
    else:
        result = _arrow_type(kind, named)
    if kind in ("enum", "record"):
        named[avro_type["name"]] = result
    return result


def _arrow_fields(fields: list[dict[str, Any]], named: dict[str, pa.DataType]) -> list[pa.Field]:
    return [
        pa.field(f["name"], _arrow_type(f["type"], named), nullable=_split_nullable(f["type"])[1])
        for f in fields
    ]


def arrow_schema(table: Table, *, without: tuple[str, ...] = PARTITION_COLUMNS) -> pa.Schema:
    """The Arrow schema of a table's Parquet files (partition columns live in directory names)."""
    fields = _arrow_fields(table.avro()["fields"], {})
    return pa.schema([field for field in fields if field.name not in without])


@dataclass(frozen=True, slots=True)
class PgColumn:
    """A PostgreSQL column, how it is staged for COPY and how the staged value is converted."""

    name: str
    pg_type: str  # as `format_type` prints it
    nullable: bool
    staging_type: str  # the column type in the COPY staging table
    kind: str  # "plain", "timestamp" (epoch µs staged as bigint) or "json" (staged as text)

    def select_expression(self) -> str:
        if self.kind == "timestamp":
            # Exact: `n * interval '1 microsecond'` multiplies in float8, which rounds every time
            # after 2255 (2**53 µs); whole days and the remainder are both exact, and `timestamp`
            # (no zone) arithmetic ignores the session's time zone and its DST.
            day = 86_400_000_000
            return (
                f"(timestamp 'epoch' + ({self.name} / {day}) * interval '1 day'"
                f" + ({self.name} % {day}) * interval '1 microsecond') AT TIME ZONE 'UTC'"
            )
        if self.kind == "json":
            return f"{self.name}::jsonb"
        return self.name


_PG_PRIMITIVES = {
    "string": "text",
    "int": "integer",
    "long": "bigint",
    "double": "double precision",
    "float": "real",
    "boolean": "boolean",
    "bytes": "bytea",
}


def _pg_column(field: dict[str, Any], named: dict[str, str]) -> PgColumn:
    avro_type, nullable = _split_nullable(field["type"])
    name = field["name"]
    if isinstance(avro_type, str):
        # a primitive, or a named enum/record defined earlier in the schema
        avro_type = {"type": named.get(avro_type, avro_type), "name": avro_type}
    kind = avro_type["type"]
    if kind in ("enum", "record"):
        named[avro_type["name"]] = kind
    if avro_type.get("logicalType") == "timestamp-micros":
        return PgColumn(name, "timestamp with time zone", nullable, "bigint", "timestamp")
    if kind == "enum":
        return PgColumn(name, "text", nullable, "text", "plain")
    items = avro_type.get("items")
    if kind == "array" and isinstance(items, str) and items in _PG_PRIMITIVES:
        pg_type = _PG_PRIMITIVES[items] + "[]"
        return PgColumn(name, pg_type, nullable, pg_type, "plain")
    if kind in ("array", "map", "record"):
        return PgColumn(name, "jsonb", nullable, "text", "json")  # nested evidence
    if kind in _PG_PRIMITIVES:
        return PgColumn(name, _PG_PRIMITIVES[kind], nullable, _PG_PRIMITIVES[kind], "plain")
    raise SinkError(f"field {name}: no PostgreSQL type for Avro {avro_type}")


def pg_columns(table: Table) -> tuple[PgColumn, ...]:
    """The PostgreSQL columns of a table, in Avro field order."""
    named: dict[str, str] = {}
    return tuple(_pg_column(field, named) for field in table.avro()["fields"])

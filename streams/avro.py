"""The Avro binary encoding of the project's schemas, compiled with mypyc (setup.py).

fastavro's schemaless reader and writer look the schema up again for every field of every record;
here a schema is turned once into typed nodes and the compiled walk spends its time on the bytes.
It writes exactly the bytes fastavro writes and reads what fastavro reads when the writer schema
is the reader's (tests/test_avro.py: every record of the recordings, and generated ones).
`streams.codec` keeps fastavro for everything else (schema resolution, types not used here, and
any input this module refuses, so errors keep fastavro's words).
"""

from __future__ import annotations

import struct
from typing import Any, Final

__all__ = ["NATIVE", "Node", "Unsupported", "compile_schema", "decode", "encode"]

NATIVE: Final = not __file__.endswith(".py")  # compiled by mypyc (setup.py)

NULL: Final = 0
BOOLEAN: Final = 1
LONG: Final = 2  # int and long: the same zig-zag varint
FLOAT: Final = 3
DOUBLE: Final = 4
STRING: Final = 5
BYTES: Final = 6
ENUM: Final = 7
ARRAY: Final = 8
MAP: Final = 9
UNION: Final = 10
RECORD: Final = 11

_PRIMITIVES: Final = {
    "null": NULL, "boolean": BOOLEAN, "int": LONG, "long": LONG, "float": FLOAT,
    "double": DOUBLE, "string": STRING, "bytes": BYTES,
}  # fmt: skip
_DOUBLE: Final = struct.Struct("<d")
_FLOAT: Final = struct.Struct("<f")


class Unsupported(ValueError):
    """A schema or a value this module leaves to fastavro."""


class Node:
    """One schema node: its kind, and what the kind needs (children, field names, symbols)."""

    def __init__(self, kind: int) -> None:
        self.kind = kind
        self.children: list[Node] = []  # array items, map values, union branches, record fields
        self.names: list[str] = []  # record field names
        self.defaults: list[Any] = []  # record field defaults (None when absent)
        self.symbols: list[str] = []  # enum symbols
        self.index: dict[str, int] = {}  # enum symbol -> index


def compile_schema(schema: Any) -> Node:
    """The node tree of a parsed `.avsc` (JSON) schema; `Unsupported` for types not handled."""
    return _compile(schema, {}, "")


def _compile(schema: Any, named: dict[str, Node], namespace: str) -> Node:  # noqa: C901 (one branch per form)
    if isinstance(schema, str):
        kind = _PRIMITIVES.get(schema)
        if kind is not None:
            return Node(kind)
        full = schema if "." in schema or not namespace else f"{namespace}.{schema}"
        if full not in named:
            raise Unsupported(f"unknown named type {schema}")
        return named[full]
    if isinstance(schema, list):
        union = Node(UNION)
        union.children = [_compile(branch, named, namespace) for branch in schema]
        if sum(1 for c in union.children if c.kind in (RECORD, MAP)) > 1:
            raise Unsupported("a union of several record or map types")
        return union
    if not isinstance(schema, dict):
        raise Unsupported(f"schema node {schema!r}")
    kind_name = schema["type"]
    if kind_name in ("record", "enum"):
        name = str(schema["name"])
        namespace = str(schema.get("namespace", namespace)) if "." not in name else ""
        node = Node(RECORD if kind_name == "record" else ENUM)
        named[f"{namespace}.{name}" if namespace else name] = node
        if kind_name == "enum":
            node.symbols = [str(s) for s in schema["symbols"]]
            node.index = {s: i for i, s in enumerate(node.symbols)}
        for field in schema.get("fields", ()):
            node.names.append(str(field["name"]))
            node.defaults.append(field.get("default"))
            node.children.append(_compile(field["type"], named, namespace))
        return node
    if kind_name in ("array", "map"):
        node = Node(ARRAY if kind_name == "array" else MAP)
        node.children = [
            _compile(schema["items" if kind_name == "array" else "values"], named, namespace)
        ]
        return node
    if isinstance(kind_name, str) and kind_name in _PRIMITIVES:
        return Node(_PRIMITIVES[kind_name])  # a primitive with attributes (logicalType)
    raise Unsupported(f"schema type {kind_name!r}")


# -- writing ------------------------------------------------------------------------------------
def encode(node: Node, header: bytes, datum: Any) -> bytes:
    """`header` followed by the binary encoding of `datum`."""
    out = bytearray(header)
    _write(node, datum, out)
    return bytes(out)


def _write_long(out: bytearray, value: int) -> None:
    n = (value << 1) ^ (value >> 63)
    if n < 0 or n >= 1 << 64:
        raise Unsupported(f"{value} does not fit a long")
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _write(node: Node, datum: Any, out: bytearray) -> None:  # noqa: C901 (one branch per type)
    kind = node.kind
    if kind == RECORD:
        children = node.children
        defaults = node.defaults
        for i, name in enumerate(node.names):
            _write(children[i], datum.get(name, defaults[i]), out)
    elif kind == DOUBLE:
        out += _DOUBLE.pack(datum)
    elif kind == LONG:
        if not isinstance(datum, int):
            raise Unsupported(f"{datum!r} is not an int")
        _write_long(out, datum)
    elif kind == UNION:
        index = _branch(node, datum)
        _write_long(out, index)
        _write(node.children[index], datum, out)
    elif kind == STRING:
        data = datum.encode("utf-8")
        _write_long(out, len(data))
        out += data
    elif kind == ARRAY:
        _write_array(node.children[0], datum, out)
    elif kind == MAP:
        if datum:
            _write_long(out, len(datum))
            for key, value in datum.items():
                _write(_STRING_NODE, key, out)
                _write(node.children[0], value, out)
        out.append(0)
    elif kind == BOOLEAN:
        out.append(1 if datum else 0)
    elif kind == ENUM:
        _write_long(out, node.index[datum])
    elif kind == FLOAT:
        out += _FLOAT.pack(datum)
    elif kind == BYTES:
        _write_long(out, len(datum))
        out += datum
    elif kind != NULL:
        raise Unsupported(f"node kind {kind}")


def _write_array(items: Node, datum: Any, out: bytearray) -> None:
    count = len(datum)
    if count:
        _write_long(out, count)
        if items.kind == DOUBLE:
            out += struct.pack(f"<{count}d", *datum)
        else:
            for item in datum:
                _write(items, item, out)
    out.append(0)


def _branch(union: Node, datum: Any) -> int:
    """The branch fastavro writes `datum` as: the first one it fits."""
    for index, branch in enumerate(union.children):
        if _fits(branch, datum):
            return index
    raise Unsupported(f"{datum!r} fits no branch of the union")


def _fits(node: Node, datum: Any) -> bool:
    kind = node.kind
    if kind == NULL:
        return datum is None
    if isinstance(datum, bool):
        return kind == BOOLEAN
    if kind == LONG:
        return isinstance(datum, int)
    if kind in (DOUBLE, FLOAT):
        return isinstance(datum, (int, float))
    if kind == STRING:
        return isinstance(datum, str)
    if kind == ENUM:
        return isinstance(datum, str) and datum in node.index
    if kind == ARRAY:
        return isinstance(datum, (list, tuple))
    if kind in (MAP, RECORD):
        return isinstance(datum, dict)
    return kind == BYTES and isinstance(datum, bytes)


_STRING_NODE: Final = Node(STRING)


# -- reading ------------------------------------------------------------------------------------
class _Reader:
    def __init__(self, data: bytes, position: int) -> None:
        self.data = data
        self.position = position

    def long(self) -> int:
        data = self.data
        position = self.position
        byte = data[position]
        position += 1
        n = byte & 0x7F
        shift = 7
        while byte & 0x80:
            byte = data[position]
            position += 1
            n |= (byte & 0x7F) << shift
            shift += 7
        self.position = position
        return (n >> 1) ^ -(n & 1)

    def take(self, size: int) -> bytes:
        start = self.position
        end = start + size
        if size < 0 or end > len(self.data):
            raise Unsupported("truncated")
        self.position = end
        return self.data[start:end]


def decode(node: Node, data: bytes, position: int) -> Any:
    """The datum encoded in `data` from `position` on (trailing bytes are ignored, as fastavro)."""
    return _read(node, _Reader(data, position))


def _read(node: Node, reader: _Reader) -> Any:  # noqa: C901 (one branch per type)
    kind = node.kind
    if kind == RECORD:
        children = node.children
        return {name: _read(children[i], reader) for i, name in enumerate(node.names)}
    if kind == DOUBLE:
        return _DOUBLE.unpack(reader.take(8))[0]
    if kind == LONG:
        return reader.long()
    if kind == UNION:
        index = reader.long()
        if index < 0 or index >= len(node.children):
            raise Unsupported(f"union branch {index}")
        return _read(node.children[index], reader)
    if kind == STRING:
        return reader.take(reader.long()).decode("utf-8")
    if kind == ARRAY:
        return _read_array(node.children[0], reader)
    if kind == MAP:
        result: dict[str, Any] = {}
        count = _block(reader)
        while count:
            for _ in range(count):
                key = reader.take(reader.long()).decode("utf-8")
                result[key] = _read(node.children[0], reader)
            count = _block(reader)
        return result
    if kind == BOOLEAN:
        byte = reader.take(1)[0]
        if byte > 1:
            raise Unsupported(f"boolean byte {byte}")
        return byte == 1
    if kind == ENUM:
        index = reader.long()
        if index < 0 or index >= len(node.symbols):
            raise Unsupported(f"enum index {index}")
        return node.symbols[index]
    if kind == FLOAT:
        return _FLOAT.unpack(reader.take(4))[0]
    if kind == BYTES:
        return reader.take(reader.long())
    if kind == NULL:
        return None
    raise Unsupported(f"node kind {kind}")


def _read_array(items: Node, reader: _Reader) -> list[Any]:
    result: list[Any] = []
    count = _block(reader)
    while count:
        if items.kind == DOUBLE:
            result.extend(struct.unpack(f"<{count}d", reader.take(8 * count)))
        else:
            result.extend([_read(items, reader) for _ in range(count)])
        count = _block(reader)
    return result


def _block(reader: _Reader) -> int:
    """The item count of the next block (a negative count is followed by the block's size)."""
    count = reader.long()
    if count < 0:
        reader.long()
        count = -count
    return count
